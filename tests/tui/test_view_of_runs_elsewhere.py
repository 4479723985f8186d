"""The board app opened with ``--no-host`` (each tab of ``kanban-agents serve``): a card dragged to
In Progress runs in the process that hosts the agents, and this app shows it live: the Log of
the running card (each line once), its state, and the review when it ends."""

from __future__ import annotations

import asyncio

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import LogLine, RunFinished
from kanban_agents.core.records import run_records
from kanban_agents.core.watch import watch_board
from kanban_agents.tui.app import KanbanApp
from tests.core.test_runs import Harness, edit_sub, finish
from tests.e2e.test_review_flow import drag_to_in_progress, until
from tests.helpers import screen_text
from tests.tui.conftest import FIXED_NOW
from tests.tui.test_panels_and_dialogs import _project


async def test_a_no_host_app_shows_the_run_of_the_hosting_process_live(repo):
    project = _project(repo)
    replies = [edit_sub(), Reply(text="Checking the edit.", delay=1.5), finish("Added sub.")]
    with ScriptedServer(replies) as server:
        host = Harness(project, server)  # the serving process's agents
        await host.runs.start(host=True)
        stop = asyncio.Event()

        async def watch() -> None:
            async for _ in watch_board(host.store, stop_event=stop):
                pass

        watcher = asyncio.create_task(watch())
        app = KanbanApp(
            BoardStore.open(project / "board"), clock=lambda: FIXED_NOW, show_panel=True,
            host_agents=False,
        )  # fmt: skip
        try:
            async with app.run_test(size=(180, 45)) as pilot:
                await pilot.pause(0.3)
                await drag_to_in_progress(pilot)
                await pilot.press("2")  # the Log tab
                await until(pilot, lambda: "I'll add sub." in app.panel.log_text(), what="log")
                await until(pilot, lambda: "running" in screen_text(app), what="running on screen")
                await until(
                    pilot, lambda: "Checking the edit." in app.panel.log_text(), what="live log"
                )
                await until(pilot, lambda: "✔ review" in screen_text(app), what="review badge")
                await until(pilot, lambda: "tests passed" in app.panel.log_text(), what="the end")
                log = app.panel.log_text()
                assert log.count("I'll add sub.") == 1 and log.count("Checking the edit.") == 1
                assert not app.session.runs._tasks  # nothing ran in the app
        finally:
            stop.set()
            await watcher
            await host.runs.stop()
    assert [e.state for e in host.of(RunFinished, "sub")] == ["review"]  # the host ran it


async def test_a_line_the_history_showed_is_not_shown_again_when_followed(repo):
    """Lines of a run in another process arrive a moment after they are written: the Log's
    history, read meanwhile, may hold them already."""
    project = _project(repo)
    records = run_records(BoardStore.open(project / "board"))
    first = LogLine("sub", 1, text="line one", stream="stdout", t=1000.0)
    records.append(first)
    records.append(LogLine("sub", 1, text="line two", stream="stdout", t=1001.0))
    records.close_all()

    def failed(state) -> None:
        state.run, state.state, state.reason = 1, "failed", "tests failed"

    records.update_state("sub", failed)
    app = KanbanApp(
        BoardStore.open(project / "board"), clock=lambda: FIXED_NOW, show_panel=True,
        host_agents=False,
    )  # fmt: skip
    async with app.run_test(size=(180, 45)) as pilot:
        await pilot.pause(0.3)
        app.board.select_card_id("sub")
        await pilot.press("2")
        await until(pilot, lambda: "line two" in app.panel.log_text(), what="history")
        app.feed.on_event(first)  # as a follower of the run's records delivers it, late
        app.feed.on_event(LogLine("sub", 1, text="line three", stream="stdout", t=1002.0))
        await until(pilot, lambda: "line three" in app.panel.log_text(), what="a new line")
        assert app.panel.log_text().count("line one") == 1
