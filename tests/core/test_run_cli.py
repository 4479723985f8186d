"""`kanban-agents run/status/log` as real processes, and recovery after kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import LogLine, RunFinished
from kanban_agents.core.runs import RunManager
from kanban_agents.core.watch import watch_board
from tests.core.test_process import alive, read_pid
from tests.core.test_runs import Harness, edit_sub, finish, make_card
from tests.helpers import git


def cli_env(server: ScriptedServer) -> dict[str, str]:
    return {
        **os.environ,
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "sk-cli-secret-987654",
    }


def kanban(
    project: Path, server: ScriptedServer, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kanban_agents", "--board", str(project / "board"), *args],
        capture_output=True,
        text=True,
        env=cli_env(server),
        timeout=timeout,
    )


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    board = repo / "board"
    board.mkdir()
    make_card(board, "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def test_run_wait_streams_the_log_and_exits_0_in_review(project):
    with ScriptedServer([edit_sub(), finish("Added sub.")]) as server:
        proc = kanban(project, server, "run", "sub", "--wait")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert (
        "▶ edit_file(" in out
        and "✔ tests passed" in out
        and out.strip().endswith("sub: review (tests passed)")
    )
    assert BoardStore.open(project / "board").get("sub").status == "review"
    # status and log read the records back
    with ScriptedServer([]) as server:
        status = json.loads(kanban(project, server, "status", "--json").stdout)
        log = kanban(project, server, "log", "sub").stdout
    [row] = status["runs"]
    assert (
        row["card"] == "sub"
        and row["state"] == "review"
        and row["live"] is False
        and row["branch"] == "kanban/sub"
    )
    assert "✔ tests passed" in log and "sk-cli-secret" not in log


def test_run_wait_exits_1_on_failure(project):
    with ScriptedServer([edit_sub("b - a"), finish(), finish(), finish()]) as server:
        proc = kanban(project, server, "run", "sub", "--wait")
    assert proc.returncode == 1
    assert "sub: failed (tests still failing" in proc.stdout


def test_run_without_wait_runs_in_the_background(project):
    with ScriptedServer([edit_sub(), finish()]) as server:
        proc = kanban(project, server, "run", "sub")
        assert proc.returncode == 0 and "in the background (pid" in proc.stdout
        follow = kanban(project, server, "log", "sub", "--follow", timeout=60)
    assert follow.returncode == 0 and "run 1 ended: review" in follow.stdout


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_kill_9_mid_run_then_recovery_and_resume(project):
    with ScriptedServer([edit_sub(), Reply(text="thinking hard", delay=60)]) as server:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kanban_agents",
                "--board",
                str(project / "board"),
                "run",
                "sub",
                "--wait",
            ],
            env=cli_env(server),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            await asyncio.to_thread(_wait_for, lambda: len(server.requests) >= 2)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    card = BoardStore.open(project / "board").get("sub")
    assert card.run["state"] == "running"  # what the dead process left behind
    # Following a run whose process is gone ends with a clear word instead of waiting forever.
    with ScriptedServer([]) as server:
        follow = await asyncio.to_thread(kanban, project, server, "log", "sub", "--follow")
    assert follow.returncode == 1, follow.stdout + follow.stderr
    assert "stopped without an outcome" in follow.stdout and "▶ edit_file(" in follow.stdout
    with ScriptedServer([finish("Finished after the crash.")]) as server:
        h = Harness(project, server)
        await h.runs.start()  # recovery happens here
        status = h.runs.status["sub"]
        assert status.state == "interrupted" and "stopped" in status.reason
        assert BoardStore.open(project / "board").get("sub").run["state"] == "interrupted"
        log = list(h.runs.records.read_events("sub", 1))
        assert any(e.kind == "tool_call" for e in log)  # the log of the dead run is kept
        h.runs.request("sub")  # resume
        status = await h.wait("sub")
        await h.runs.stop()
        resumed = server.requests[0]["messages"]
    assert status.state == "review" and status.run == 2
    assert "continue where you left off" in resumed[-1]["content"]
    assert any("edit_file" in json.dumps(m) for m in resumed)  # the conversation survived the crash
    assert "def sub" in git(project, "show", "kanban/sub:calc.py")


async def test_second_host_does_not_run_the_same_card(project):
    with ScriptedServer([edit_sub(), Reply(text="slow", delay=3), finish()]) as server:
        first = Harness(project, server)
        await first.runs.start()
        await first.start_card("sub")
        await asyncio.to_thread(_wait_for, lambda: len(server.requests) >= 1)
        second = RunManager(BoardStore.open(project / "board"), environ=cli_env(server))
        await second.start(auto_start=False)
        second.request("sub")
        await asyncio.sleep(0.3)
        assert second.status["sub"].reason.startswith("in another process")
        assert not second.is_active("sub")
        await second.stop()
        first.runs.cancel("sub")
        await first.wait("sub")
        await first.runs.stop()


async def test_run_wait_quiet_while_the_board_app_hosts_the_agents(project):
    """With a host (the board app) running, `run --wait` moves the card and follows the host's
    run: --quiet prints only the outcome line."""
    with ScriptedServer([edit_sub(), finish("Added sub.")]) as server:
        host = Harness(project, server)
        await host.runs.start(host=True)
        stop = asyncio.Event()

        async def watch() -> None:  # what the board app does: file changes reach its store
            async for _ in watch_board(host.store, stop_event=stop):
                pass

        watcher = asyncio.create_task(watch())
        try:
            proc = await asyncio.to_thread(kanban, project, server, "run", "sub", "--wait", "-q")
        finally:
            stop.set()
            await watcher
            await host.runs.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("moved sub to in-progress; the board app (pid")
    assert lines[1:] == ["sub: review (tests passed)"]


def start_run_wait(project: Path, server: ScriptedServer) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kanban_agents", "--board", str(project / "board"), "run", "sub",
         "--wait"],
        env=cli_env(server),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def sleeping_agent(pids: Path) -> list[Reply]:
    """An agent that edits, then runs a command that starts a `setsid` escapee and sleeps."""
    command = (
        f"setsid sleep 301 >/dev/null 2>&1 & echo $! > {pids / 'escapee'}; "
        f"echo $$ > {pids / 'sleep'}; exec sleep 300"
    )
    return [edit_sub(), Reply(tool_calls=[ToolCallSpec("run", {"command": command})])]


@pytest.fixture
def pids(tmp_path):
    """Where the agent's commands write their pids; whatever is left is killed at the end."""
    directory = tmp_path / "pids"
    directory.mkdir()
    yield directory
    for path in directory.iterdir():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(path.read_text()), signal.SIGKILL)


async def kill_9_while_the_agent_sleeps(project: Path, pids: Path) -> list[int]:
    """Start `run sub --wait`, kill -9 it while its agent's `run` tool sleeps; the pids left."""
    # The recovery of unconfined commands (their marks outlive the host): under the sandbox its
    # private /tmp would hide the pid files, and the pids in them would be its namespace's own.
    (project / "board" / "kanban.toml").write_text('[sandbox]\nmode = "off"\n')
    with ScriptedServer(sleeping_agent(pids)) as server:
        proc = start_run_wait(project, server)
        try:
            sleeping = await asyncio.to_thread(read_pid, pids / "sleep", 30)
            escapee = await asyncio.to_thread(read_pid, pids / "escapee", 5)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return [sleeping, escapee]


async def test_kill_9_reads_interrupted_at_once_and_the_next_start_ends_leftovers(project, pids):
    left = await kill_9_while_the_agent_sleeps(project, pids)
    assert all(alive(pid) for pid in left)  # the host died; what its agent started did not
    with ScriptedServer([]) as server:
        status = json.loads(kanban(project, server, "status", "--json").stdout)
        listed = json.loads(kanban(project, server, "list", "--json").stdout)
        text = kanban(project, server, "list").stdout
    [row] = status["runs"]
    assert row["state"] == "interrupted" and row["live"] is False
    assert "stopped" in row["reason"]
    [card] = [c for c in listed["cards"] if c["id"] == "sub"]
    assert card["run"]["state"] == "interrupted"
    assert "[interrupted]" in text
    # The next start ends what the interrupted run left running, says so in that run's log,
    # and the resumed run reaches review.
    with ScriptedServer([finish("Finished after the crash.")]) as server:
        resumed = await asyncio.to_thread(kanban, project, server, "run", "sub", "--wait")
        log = kanban(project, server, "log", "sub", "--run", "1").stdout
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not any(alive(pid) for pid in left)
    line = next(line for line in log.splitlines() if "ended processes" in line)
    assert all(f"pid {pid} (sleep 30" in line for pid in left), line


async def test_a_live_manager_notices_a_killed_host_and_ends_what_it_left(project, pids):
    """What the board app sees when the `run --wait` running a card is killed."""
    with ScriptedServer([]) as server:
        board = Harness(project, server)
        # Already in the agent column: the board leaves it to `run --wait` (a move would make
        # both managers race for the card's lock).
        board.store.move("sub", "in-progress")
        await board.runs.start(auto_start=False)
        stop = asyncio.Event()

        async def watch() -> None:
            async for _ in watch_board(board.store, stop_event=stop):
                pass

        watcher = asyncio.create_task(watch())
        try:
            left = await kill_9_while_the_agent_sleeps(project, pids)
            await asyncio.to_thread(
                _wait_for, lambda: board.of(RunFinished, "sub") and not alive(left[0]), 10
            )
        finally:
            stop.set()
            await watcher
            await board.runs.stop()
    [finished] = board.of(RunFinished, "sub")
    assert finished.state == "interrupted" and board.runs.status["sub"].state == "interrupted"
    assert not any(alive(pid) for pid in left)
    assert any("ended processes" in e.text for e in board.of(LogLine, "sub"))
    card = BoardStore.open(project / "board").get("sub")
    assert card.run["state"] == "interrupted"


def test_background_log_holds_no_api_key(project):
    key = cli_env(ScriptedServer([]))["OPENAI_API_KEY"]
    chatty = Reply(text=f"I will not print {key} anywhere.")
    with ScriptedServer([chatty, edit_sub(), finish()]) as server:
        proc = kanban(project, server, "run", "sub")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        follow = kanban(project, server, "log", "sub", "--follow", timeout=60)
    assert "run 1 ended: review" in follow.stdout
    background = (
        project / ".git" / "kanban-agents" / "runs" / "sub" / "background.log"
    ).read_text()
    assert "I will not print" in background  # the run's output is there ...
    assert key not in background  # ... without the key


def test_status_shows_a_run_record_with_no_state_yet(project):
    """Issue 17, defect 1: a queued card sent back with `b` has a record (its review round) but
    no run state yet; `status` crashed formatting None."""
    from kanban_agents.core.records import run_records

    records = run_records(BoardStore.open(project / "board"))
    records.update_state("sub", lambda state: setattr(state, "review_round", 1))
    with ScriptedServer([]) as server:
        text = kanban(project, server, "status")
        as_json = kanban(project, server, "status", "--json")
    assert text.returncode == 0, text.stderr
    assert " ".join(text.stdout.split()) == "sub (not started)", text.stdout
    assert as_json.returncode == 0, as_json.stderr
    [row] = json.loads(as_json.stdout)["runs"]
    assert row["card"] == "sub" and row["state"] is None and row["run"] == 0
    assert row["live"] is False and row["column"] == "todo"


def test_status_marks_estimated_token_counts(project):
    """A server that reports no usage: the counts are our estimate, and `status` says so (~)."""
    from kanban_agents.core.agent.scripted_server import Dialect

    with ScriptedServer(
        [edit_sub(), finish("Added sub.")], dialect=Dialect(streams_usage=False)
    ) as server:
        assert kanban(project, server, "run", "sub", "--wait", "-q").returncode == 0
        status = kanban(project, server, "status")
        data = json.loads(kanban(project, server, "status", "--json").stdout)
    assert status.returncode == 0 and " ~" in status.stdout and "tok" in status.stdout
    row = data["runs"][0]
    assert row["tokens"] > 0 and row["tokens_estimated"] is True


def test_run_on_a_done_card_refuses_without_force(project):
    """Issue 17, defect 3: running an agent on a merged card starts a new branch from the base;
    the CLI asks for --force instead of doing it at once."""
    card = project / "board" / "sub.md"
    card.write_text(card.read_text().replace("status: todo", "status: done"))
    with ScriptedServer([edit_sub(), finish()]) as server:
        refused = kanban(project, server, "run", "sub", "--wait")
        assert refused.returncode == 1 and refused.stdout == ""
        [line] = refused.stderr.splitlines()
        assert "sub is done" in line and "--force" in line
        assert "status: done" in card.read_text()  # nothing moved, no branch made
        assert "kanban/sub" not in git(project, "branch", "--list")
        forced = kanban(project, server, "run", "sub", "--wait", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert BoardStore.open(project / "board").get("sub").status == "review"


def test_status_says_when_a_run_was_unconfined(project):
    """Issue 11: a run whose commands had no sandbox says so in `status`, not only in --json."""
    (project / "board" / "kanban.toml").write_text('[sandbox]\nmode = "off"\n')
    with ScriptedServer([edit_sub(), finish("Added sub.")]) as server:
        assert kanban(project, server, "run", "sub", "--wait", "-q").returncode == 0
        status = kanban(project, server, "status")
        data = json.loads(kanban(project, server, "status", "--json").stdout)
    assert status.returncode == 0 and "UNCONFINED" in status.stdout, status.stdout
    assert data["runs"][0]["sandbox"] == "off"
