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
