"""The headless CLI as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import git


def cli(cwd: Path, *args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "kanban_agents", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if check_rc is not None:
        assert proc.returncode == check_rc, (proc.stdout, proc.stderr)
    return proc


def test_init_new_move_list_show_lint(tmp_path):
    out = cli(tmp_path, "init").stdout
    assert "created board/kanban.toml" in out and "add-version-flag.md" in out
    cli(tmp_path, "new", "Fix the login bug", "--priority", "P1", "-l", "auth")
    cli(tmp_path, "move", "fix-the", "review", "--position", "0")
    data = json.loads(cli(tmp_path, "list", "--json").stdout)
    by_id = {c["id"]: c for c in data["cards"]}
    assert by_id["fix-the-login-bug"]["status"] == "review"
    assert by_id["fix-the-login-bug"]["labels"] == ["auth"]
    assert by_id["add-version-flag"]["lint"] == []
    assert [c["count"] for c in data["columns"]] == [1, 0, 1, 0]
    text = cli(tmp_path, "list").stdout
    assert "Review (1)" in text and "fix-the-login-bug" in text
    show = cli(tmp_path, "show", "fix-the-login-bug")
    assert show.stdout.startswith("---\ntitle: Fix the login bug\n")
    lint = cli(tmp_path, "lint", "--json")
    findings = {
        c["id"]: [f["code"] for f in c["findings"]] for c in json.loads(lint.stdout)["cards"]
    }
    assert findings["add-version-flag"] == []
    assert "no-tests" in findings["fix-the-login-bug"]


def test_init_twice_keeps_files(tmp_path):
    cli(tmp_path, "init", "b")
    (tmp_path / "b" / "kanban.toml").write_text("# mine\n")
    assert "nothing changed" in cli(tmp_path, "init", "b").stdout
    assert (tmp_path / "b" / "kanban.toml").read_text() == "# mine\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (("list",), "no board here"),
        (("--board", "nowhere", "list"), "does not exist"),
        (("move",), "arguments are required"),
        (("frobnicate", "x"), "unknown command"),
    ],
)
def test_user_errors_are_one_line_exit_1(tmp_path, args, message):
    proc = cli(tmp_path, *args, check_rc=1)
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_errors_on_a_real_board(tmp_path):
    cli(tmp_path, "init")
    (tmp_path / "board" / "broken.md").write_text("---\ntitle: [oops\n---\n")
    for args, message in [
        (("move", "nope", "done"), "no card 'nope'"),
        (("move", "add-version-flag", "doing"), "unknown column 'doing'"),
        (("show", "broken"), "broken.md:2: invalid YAML"),
        (("new", "  "), "needs a title"),
        (("move", "add-version-flag", "done", "--position", "x"), "invalid int"),
    ]:
        proc = cli(tmp_path, *args, check_rc=1)
        assert message in proc.stderr, (args, proc.stderr)
    listing = cli(tmp_path, "list").stdout
    assert "Errors (1)" in listing and "broken.md:2" in listing
    assert cli(tmp_path, "lint", check_rc=1).returncode == 1  # an unreadable card fails lint


def test_bad_kanban_toml_is_reported(tmp_path):
    cli(tmp_path, "init")
    (tmp_path / "board" / "kanban.toml").write_text("[runs]\nconcurrency = 0\n")
    assert "concurrency must be at least 1" in cli(tmp_path, "list", check_rc=1).stderr


def test_board_found_from_repo_subdirectory(repo):
    cli(repo, "init")
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    assert "add-version-flag" in cli(sub, "list").stdout
    git(repo, "status")


def test_board_found_from_env_and_cwd_with_kanban_toml(tmp_path, monkeypatch):
    cli(tmp_path, "init", "elsewhere")
    assert "add-version-flag" in cli(tmp_path / "elsewhere", "list").stdout
    monkeypatch.setenv("KANBAN_AGENTS_BOARD", str(tmp_path / "elsewhere"))
    assert "add-version-flag" in cli(tmp_path, "list").stdout


# --------------------------------------------------------------------------- graph


def graph_board(tmp_path: Path) -> Path:
    """setup -> api (estimate 3) -> docs, docs also on a missing card; x and y wait on each
    other; plus init's example card."""
    cli(tmp_path, "init")
    cards = {
        "setup": "title: Set up",
        "api": "title: Build the API\ndepends_on: [setup]\nestimate: 3",
        "docs": "title: Write the docs\ndepends_on: [api, ghost]",
        "x": "title: X\ndepends_on: [y]",
        "y": "title: Y\ndepends_on: [x]",
    }
    for card_id, front in cards.items():
        (tmp_path / "board" / f"{card_id}.md").write_text(f"---\n{front}\n---\nDo it.\n")
    return tmp_path


def test_graph_draws_the_picture_without_colour_when_piped(tmp_path):
    out = cli(graph_board(tmp_path), "graph").stdout
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0] == "ready now: 2 (add-version-flag, setup)"
    assert "longest chain: 5 (estimate units): setup → api → docs" in out
    assert "⚠ dependency cycle: x → y → x" in out
    assert "⚠ unknown dependency: docs depends on api, ghost" not in out  # api is a real card
    assert "⚠ unknown dependency: docs depends on ghost, which no card is" in out
    for box in ("┏━ setup ", "┏━ api ", "┏━ docs ", "╭─ x ", "╭─ y ", "╭─ add-version-flag "):
        assert box in out, box
    assert "▶┃" in out  # an arrow into a card on the critical path
    assert "? ghost  after api" in out
    # the picture is not cut at 80 columns when piped
    assert max(len(line) for line in lines) > 80


def test_graph_in_a_terminal_is_coloured(tmp_path):
    import os
    import pty

    graph_board(tmp_path)
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kanban_agents", "graph"],
        cwd=tmp_path,
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "60"},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    out = b"".join(chunks).decode()
    assert "\x1b[" in out
    assert "┏━ setup " in out
    # a picture wider than the terminal is printed whole (the terminal wraps, nothing is cut)
    assert "Write the docs" in out


def test_graph_plain_is_the_text_summary(tmp_path):
    out = cli(graph_board(tmp_path), "graph", "--plain").stdout
    assert out == (
        "ready now (2): add-version-flag, setup\n"
        "critical path (5): setup -> api -> docs\n"
        "useful parallelism: 1.6 (total work 8 / longest chain 5)\n"
        "  api waits on setup\n"
        "  docs waits on api, ghost\n"
        "  x waits on y\n"
        "  y waits on x\n"
        "  cycle: x -> y -> x\n"
    )


def test_graph_json(tmp_path):
    data = json.loads(cli(graph_board(tmp_path), "graph", "--json").stdout)
    assert data["ready"] == ["add-version-flag", "setup"]
    assert data["critical_path"] == ["setup", "api", "docs"]
    assert data["critical_length"] == 5
    assert data["total_work"] == 8
    assert data["parallelism"] == 1.6
    assert data["blocked"] == {"api": ["setup"], "docs": ["api", "ghost"], "x": ["y"], "y": ["x"]}
    assert data["cycles"] == [["x", "y"]]
    assert data["unknown"] == {"docs": ["ghost"]}
    assert ["setup", "api"] in data["edges"]
    assert set(data["layers"]) == {"add-version-flag", "setup", "api", "docs", "x", "y"}


def test_graph_plain_and_json_are_exclusive(tmp_path):
    proc = cli(graph_board(tmp_path), "graph", "--plain", "--json", check_rc=1)
    assert "not allowed with" in proc.stderr


def test_graph_with_every_card_done(tmp_path):
    cli(tmp_path, "init")
    cli(tmp_path, "move", "add-version-flag", "done")
    out = cli(tmp_path, "graph").stdout
    assert "ready now: 0" in out
    assert "Every card is done: nothing waits on anything." in out


# --------------------------------------------------------------------------- the command table


def readme_commands() -> list[str]:
    """The command names in the README's "Command line" table, in its order."""
    import re

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    names = []
    for row in section.splitlines():
        if row.startswith("| `"):
            cell = row.split("|")[1]
            names += [m for m in re.findall(r"`([a-z-]+)", cell) if m not in names]
    return names


def test_help_lists_each_command_once_as_the_readme_does():
    proc = subprocess.run(
        [sys.executable, "-m", "kanban_agents", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    listed = [
        line.split()[0]
        for line in proc.stdout.split("COMMAND\n", 1)[1].split("\n\n", 1)[0].splitlines()
        if line.startswith("    ") and not line.startswith("     ")
    ]
    assert len(listed) == len(set(listed)) == 29
    assert sorted(listed) == sorted(readme_commands())


def test_every_command_has_a_handler():
    from kanban_agents import cli as cli_module

    for spec in cli_module.COMMANDS:
        assert callable(cli_module.handler(spec)), spec.name


def test_run_outside_a_git_repository_says_so_in_one_line(tmp_path):
    """Agents need a git repository: `run` says that and what to do, not a later error."""
    cli(tmp_path, "init")
    cli(tmp_path, "new", "Try it")
    for args in (("run", "try-it"), ("run", "try-it", "--wait")):
        proc = cli(tmp_path, *args, check_rc=1)
        [line] = proc.stderr.splitlines()
        assert "not inside a git repository" in line and "git init" in line, line
