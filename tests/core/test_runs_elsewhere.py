"""A session that hosts no agents (a browser tab of ``serve``) shows the runs of the process that
hosts them live, from their records, and never runs a card itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import pytest

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import (
    FAILED,
    RUNNING,
    AssistantMessage,
    RunFinished,
    StateChanged,
    ToolFinished,
)
from kanban_agents.core.records import run_records
from kanban_agents.core.session import ActionFailed, BoardSession
from kanban_agents.core.watch import watch_board
from tests.core.test_runs import Harness, edit_sub, finish, project  # noqa: F401 - fixture


@contextlib.asynccontextmanager
async def watching(*stores):
    """What the board app and ``serve`` do: file changes reach their stores."""
    stop = asyncio.Event()

    async def watch(store) -> None:
        async for _ in watch_board(store, stop_event=stop):
            pass

    tasks = [asyncio.create_task(watch(store)) for store in stores]
    await asyncio.sleep(0.2)  # the watchers are up before anything moves
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_a_watch_only_session_shows_a_run_hosted_elsewhere_and_runs_nothing(project):  # noqa: F811
    replies = [edit_sub(), Reply(text="Checking the edit.", delay=1.0), finish("Added sub.")]
    with ScriptedServer(replies) as server:
        host = Harness(project, server)
        await host.runs.start(host=True)
        viewer = BoardSession.open(project / "board")
        seen = []
        viewer.subscribe(seen.append)
        await viewer.start(watch_only=True)
        try:
            async with watching(host.store, viewer.store):
                await asyncio.to_thread(viewer.move, "sub", "in-progress")  # a move in a tab
                await until(lambda: any(isinstance(e, RunFinished) for e in seen))
                await asyncio.sleep(0.5)  # and nothing twice
                # while it ran, the view said so, and showed what the agent did
                assert viewer.runs.status["sub"].run == 1
        finally:
            await viewer.stop()
            await host.runs.stop()
    assert [e.state for e in host.of(RunFinished, "sub")] == ["review"]
    states = [e.state for e in seen if isinstance(e, StateChanged) and e.card_id == "sub"]
    assert "running" in states
    assert any(isinstance(e, ToolFinished) and e.name == "edit_file" for e in seen)
    assert any(isinstance(e, AssistantMessage) and "Checking" in e.text for e in seen)
    finished = [e for e in seen if isinstance(e, RunFinished)]
    assert [e.state for e in finished] == ["review"]  # once: read from the records, not twice
    assert viewer.status("sub").state == "review"
    assert not viewer.active_cards()  # quitting a view stops nothing
    assert os.getpid() == host.runs.records.load_state("sub").pid  # the host's run (same pid here)


async def test_a_watch_only_session_neither_starts_nor_stops_agents(project):  # noqa: F811
    with ScriptedServer([]) as server:
        viewer = BoardSession.open(project / "board")
        await viewer.start(watch_only=True)
        try:
            async with watching(viewer.store):
                await asyncio.to_thread(viewer.move, "sub", "in-progress")
                await asyncio.sleep(1.0)
            assert server.requests == []  # nobody hosts: the card waits for a host
            assert not viewer.runs.is_active("sub")
            assert viewer.runs.records.load_state("sub") is None
            with pytest.raises(ActionFailed, match="nothing runs this board's agents now"):
                viewer.run("sub")
        finally:
            await viewer.stop()


async def test_r_in_a_view_asks_the_host_to_start_a_card_already_in_the_agent_column(project):  # noqa: F811
    replies = [Reply(text="Taking my time.", delay=30), edit_sub(), finish("Added sub.")]
    with ScriptedServer(replies) as server:
        host = Harness(project, server)
        await host.runs.start(host=True)
        viewer = BoardSession.open(project / "board")
        seen = []
        viewer.subscribe(seen.append)
        await viewer.start(watch_only=True)
        try:
            async with watching(host.store, viewer.store):
                await asyncio.to_thread(viewer.move, "sub", "in-progress")
                await until(lambda: len(server.requests) == 1)
                assert "already queued or running" in viewer.run("sub")
                host.runs.cancel("sub")  # c in the host: the card stays in the agent column
                await until(lambda: any(isinstance(e, RunFinished) for e in seen))
                assert viewer.store.get("sub").status == "in-progress"
                said = viewer.run("sub")  # r in the view
                assert (
                    said
                    == f"sub: asked the process running the agents (pid {os.getpid()}) to start it."
                )
                await until(lambda: [e.run for e in seen if isinstance(e, RunFinished)] == [1, 2])
        finally:
            await viewer.stop()
            await host.runs.stop()
    assert [e.state for e in seen if isinstance(e, RunFinished)] == ["cancelled", "review"]
    assert viewer.runs.records.load_state("sub").run == 2


async def test_a_run_that_ended_before_is_not_announced_again_when_its_card_comes_back(project):  # noqa: F811
    records = run_records(BoardStore.open(project / "board"))
    records.append(StateChanged("sub", 1, state=RUNNING))
    records.append(RunFinished("sub", 1, state=FAILED, reason="tests failed"))
    records.close_all()

    def failed(state) -> None:
        state.run, state.state, state.reason = 1, FAILED, "tests failed"

    records.update_state("sub", failed)
    viewer = BoardSession.open(project / "board")
    seen = []
    viewer.subscribe(seen.append)
    await viewer.start(watch_only=True)
    try:
        async with watching(viewer.store):
            await asyncio.to_thread(viewer.move, "sub", "in-progress")  # back to be run again
            await asyncio.sleep(1.0)
    finally:
        await viewer.stop()
    assert not [e for e in seen if isinstance(e, RunFinished | StateChanged)]


async def test_a_view_leaves_the_worktree_of_a_run_elsewhere_alone(project):  # noqa: F811
    """c and discard in a view cannot reach the host's agent: they say how, and touch nothing."""
    with ScriptedServer([Reply(text="Taking my time.", delay=30)]) as server:
        host = Harness(project, server)
        await host.runs.start(host=True)
        viewer = BoardSession.open(project / "board")
        await viewer.start(watch_only=True)
        try:
            async with watching(host.store, viewer.store):
                await asyncio.to_thread(viewer.move, "sub", "in-progress")
                await until(lambda: viewer.is_live("sub") and len(server.requests) == 1)
                with pytest.raises(ActionFailed, match="move the card out of in-progress to stop"):
                    viewer.cancel("sub")
                with pytest.raises(ActionFailed, match="to stop it, then discard"):
                    await viewer.discard("sub")
                assert host.runs.status["sub"].state == "running"
                assert viewer.worktree_of("sub").is_dir()
        finally:
            await viewer.stop()
            await host.runs.stop()
