"""``kanban-agents serve`` hosts the board's agents itself: a card moved to In Progress (by a tab,
the CLI, an editor) runs in the serving process, a tab closing stops nothing, and stopping serve
leaves the run interrupted and resumable. Real processes: serve, its tab's app (opened over the
websocket, as a browser does), the CLI, and the scripted model server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.records import run_records
from tests.core.test_run_cli import cli_env, kanban, project  # noqa: F401 - fixture
from tests.core.test_runs import edit_sub
from tests.core.test_serve import ROOT, free_port

aiohttp = pytest.importorskip("aiohttp", reason="textual-serve runs on aiohttp")


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children") as handle:
                    children = [int(c) for c in handle.read().split()]
                found += children
                todo += children
    return found


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for(predicate, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start_serve(board: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**env, "PYTHONPATH": str(ROOT)}
    env.pop("KANBAN_AGENTS_BOARD", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kanban_agents", "--board", str(board), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "serving the board" in line, line + proc.stderr.read()
    return proc, port


async def test_serve_runs_the_card_a_tab_closing_stops_nothing_and_stop_interrupts(project):  # noqa: F811
    board = project / "board"
    records = run_records(BoardStore.open(board))
    with ScriptedServer([edit_sub(), Reply(text="Thinking it over.", delay=120)]) as server:
        serve, port = await asyncio.to_thread(start_serve, board, cli_env(server))
        try:
            async with aiohttp.ClientSession() as client:
                await asyncio.to_thread(wait_for, lambda: _listening(port), 20, "serve to listen")
                ws = await client.ws_connect(f"http://127.0.0.1:{port}/ws?width=120&height=40")
                await ws.send_json(["stdin", ""])
                await asyncio.wait_for(ws.receive(), 30)  # the tab's app draws
                tabs = [p for p in descendants(serve.pid) if "--no-host" in command_line(p)]
                assert tabs, "the tab's app runs without hosting agents"

                moved = await asyncio.to_thread(
                    kanban, project, server, "move", "sub", "in-progress"
                )
                assert moved.returncode == 0, moved.stderr
                assert "'kanban-agents serve' (pid" in moved.stdout  # who starts its agent

                def running_in_serve() -> bool:
                    state = records.load_state("sub")
                    return (
                        state is not None and state.state == "running" and len(server.requests) >= 2
                    )

                await asyncio.to_thread(wait_for, running_in_serve, 60, "the run in serve")
                assert records.load_state("sub").pid == serve.pid
                assert records.lock("sub").holder() == serve.pid
                await ws.close()  # the tab closes
            await asyncio.to_thread(
                wait_for, lambda: not any(_alive(p) for p in tabs), 20, "the tab's app to end"
            )
            await asyncio.sleep(1.0)
            state = records.load_state("sub")
            assert (state.state, state.pid) == ("running", serve.pid)  # the agent works on
            assert records.lock("sub").holder() == serve.pid
        finally:
            serve.send_signal(signal.SIGTERM)
            out, err = await asyncio.to_thread(serve.communicate, timeout=60)
    assert serve.returncode == 0, err
    state = records.load_state("sub")
    assert state.state == "interrupted" and "serve was stopped" in state.reason
    assert records.lock("sub").holder() is None
    card = BoardStore.open(board).get("sub")
    assert card.run["state"] == "interrupted"
    assert "kanban-agents: sub: run 1 running" in out
    assert "kanban-agents: sub: run 1 interrupted (kanban-agents serve was stopped)" in out


def test_serve_refuses_a_board_whose_agents_another_process_runs(project):  # noqa: F811
    """The board app (or a second serve) holds the board's host lock: two hosts would race."""
    from kanban_agents.core.host import FileLock, host_lock_path

    lock = FileLock(host_lock_path(project / "board"))
    assert lock.acquire()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "kanban_agents", "--board", str(project / "board"), "serve",
             "--port", str(free_port())],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    finally:
        lock.release()
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == (
        f"kanban-agents: another process (pid {os.getpid()}) runs this board's agents, the "
        "board app maybe: quit it first (serve runs them)"
    )


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False
