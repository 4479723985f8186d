"""What a new worktree gets: the ignored files `.worktreeinclude` names (copied, never linked),
`copy_files`, submodules, the setup commands as a step of the run, and a stable slot with its
KANBAN_* variables. Real git, the real openai client against the scripted server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.events import LogLine, StateChanged
from tests.core.test_runs import CALC, Harness, edit_sub, finish, make_card
from tests.helpers import git

PY = sys.executable


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text(CALC)
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("")
    make_card(board, "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def setup_lines(h: Harness, card_id: str = "sub") -> list[str]:
    return [
        line for e in h.of(LogLine, card_id) if e.stream == "setup" for line in e.text.split("\n")
    ]


async def run_to_review(project: Path, *turns, cards=("sub",)) -> Harness:
    with ScriptedServer(list(turns) or [edit_sub(), finish()] * len(cards)) as server:
        h = Harness(project, server)
        await h.runs.start()
        for card_id in cards:
            await h.start_card(card_id)
            status = await h.wait(card_id)
            assert status.state == "review", status.reason
        await h.runs.stop()
    return h


async def test_worktreeinclude_brings_only_the_ignored_files_it_names(project):
    (project / ".gitignore").write_text(".env\n*.local\nnode_modules/\nsecret.key\nnotes.txt\n")
    (project / ".worktreeinclude").write_text(".env\nconfig/*.local\n# comment\nuntracked.txt\n")
    (project / "config").mkdir()
    (project / ".env").write_text("DATABASE=dev\n")
    (project / "config" / "db.local").write_text("local db\n")
    (project / "node_modules").mkdir()
    (project / "node_modules" / "x.js").write_text("big\n")
    (project / "secret.key").write_text("do not copy\n")
    (project / "untracked.txt").write_text("untracked but not ignored: not ours to copy\n")
    git(project, "add", ".gitignore", ".worktreeinclude")
    git(project, "commit", "-qm", "ignore rules")
    h = await run_to_review(project)
    worktree = project.parent / "repo-worktrees" / "sub"
    assert (worktree / ".env").read_text() == "DATABASE=dev\n"
    assert (worktree / "config" / "db.local").read_text() == "local db\n"
    assert not (worktree / ".env").is_symlink()
    for absent in ("node_modules", "secret.key", "untracked.txt"):
        assert not (worktree / absent).exists(), absent
    assert {"copied .env", "copied config/db.local"} <= set(setup_lines(h))
    # a copy, not a link: writing in the worktree leaves the user's file as it was
    (worktree / ".env").write_text("DATABASE=agent\n")
    assert (project / ".env").read_text() == "DATABASE=dev\n"


async def test_setup_is_a_step_with_the_slot_environment_and_a_failure_is_failed_setup(project):
    (project / "board" / "kanban.toml").write_text(
        "[worktrees]\nport_base = 41000\nport_stride = 7\n"
        'setup = ["echo card=$KANBAN_CARD slot=$KANBAN_SLOT port=$KANBAN_PORT '
        'wt=$KANBAN_WORKTREE"]\n'
    )
    make_card(project / "board", "other")
    # the agent's own commands see them too
    show_env = Reply(tool_calls=[ToolCallSpec("run", {"command": "echo agent-port=$KANBAN_PORT"})])
    h = await run_to_review(project, show_env, edit_sub(), finish(), edit_sub(), finish(),
                            cards=("sub", "other"))  # fmt: skip
    root = project.parent / "repo-worktrees"
    assert f"card=sub slot=1 port=41007 wt={root / 'sub'}" in setup_lines(h, "sub")
    assert f"card=other slot=2 port=41014 wt={root / 'other'}" in setup_lines(h, "other")
    assert any("agent-port=41007" in str(e) for e in h.events)
    reasons = [e.reason for e in h.of(StateChanged, "sub")]
    assert "running setup" in reasons  # a visible step before the agent's first turn
    assert reasons.index("running setup") < reasons.index("agent builtin")

    # a failing setup ends the run as failed: setup, with its output
    (project / "board" / "kanban.toml").write_text(
        '[worktrees]\nsetup = ["echo no such tool >&2; exit 3"]\n'
    )
    make_card(project / "board", "third")
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("third")
        status = await h.wait("third")
        await h.runs.stop()
        assert server.requests == []  # the agent never had a turn
    assert status.state == "failed" and status.reason.startswith("setup: ")
    assert "exited 3" in status.reason and "no such tool" in status.reason


async def test_slot_is_stable_and_setup_runs_again_from_the_cli(project):
    (project / "board" / "kanban.toml").write_text(
        '[worktrees]\nport_base = 42000\nsetup = ["echo port=$KANBAN_PORT > .port"]\n'
    )
    (project / ".gitignore").write_text(".port\n")
    git(project, "add", ".gitignore")
    git(project, "commit", "-qm", "ignore")
    await run_to_review(project)
    worktree = project.parent / "repo-worktrees" / "sub"
    assert (worktree / ".port").read_text() == "port=42010\n"
    (worktree / ".port").unlink()
    proc = subprocess.run(
        [PY, "-m", "kanban_agents", "--board", str(project / "board"), "setup", "sub"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "$ echo port=$KANBAN_PORT > .port" in proc.stdout and "sub: setup done" in proc.stdout
    assert (worktree / ".port").read_text() == "port=42010\n"  # the same slot, the same port


def test_setup_of_a_card_without_worktree_is_one_clear_line(project):
    proc = subprocess.run(
        [PY, "-m", "kanban_agents", "--board", str(project / "board"), "setup", "sub"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "sub has no worktree yet" in proc.stderr


def _free_port_with_a_free_neighbour(step: int = 10) -> int:
    """A port free now whose neighbour ``step`` above is free too (fixed numbers collided with
    whatever else this machine was doing)."""
    import socket

    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port - step < 1024 or port + step > 65535:
            continue
        try:
            with socket.socket() as neighbour:
                neighbour.bind(("127.0.0.1", port + step))
        except OSError:
            continue
        return port
    raise AssertionError("no two free ports found")


async def test_a_busy_port_is_skipped_for_a_new_slot(project):
    import socket

    busy_port = _free_port_with_a_free_neighbour()
    base = busy_port - 10  # slot 1's port is busy: the new slot takes slot 2's
    (project / "board" / "kanban.toml").write_text(
        f'[worktrees]\nport_base = {base}\nsetup = ["echo port=$KANBAN_PORT"]\n'
    )
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", busy_port))
        busy.listen()
        h = await run_to_review(project)
    assert f"port={busy_port + 10}" in setup_lines(h)


async def test_submodules_are_initialised_in_new_worktrees(project, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q", "-b", "main")
    (library / "lib.txt").write_text("from the submodule\n")
    git(library, "add", "-A")
    git(library, "commit", "-qm", "library")
    # git refuses file:// submodules by default (CVE-2022-39253); this test's HOME allows it
    git(project, "config", "--global", "protocol.file.allow", "always")
    git(project, "submodule", "add", "-q", str(library), "vendor/library")
    git(project, "commit", "-qm", "add a submodule")
    h = await run_to_review(project)
    worktree = project.parent / "repo-worktrees" / "sub"
    assert (worktree / "vendor" / "library" / "lib.txt").read_text() == "from the submodule\n"
    assert "$ git submodule update --init --recursive" in setup_lines(h)


async def test_submodules_off_leaves_them_empty(project, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q", "-b", "main")
    (library / "lib.txt").write_text("x\n")
    git(library, "add", "-A")
    git(library, "commit", "-qm", "library")
    git(project, "config", "--global", "protocol.file.allow", "always")
    git(project, "submodule", "add", "-q", str(library), "vendor/library")
    (project / "board" / "kanban.toml").write_text("[worktrees]\nsubmodules = false\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "add a submodule")
    await run_to_review(project)
    assert not (
        project.parent / "repo-worktrees" / "sub" / "vendor" / "library" / "lib.txt"
    ).exists()
