"""A long run's Log opens on its newest events and loads earlier ones when scrolled to the top
(issue 10: reading and wrapping 50,000 lines on every selection change held the UI for seconds
under a flood)."""

from __future__ import annotations

from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import LogLine
from kanban_agents.core.records import run_records
from kanban_agents.tui.feed import EARLIER_MARK, HISTORY_FIRST
from tests.e2e.test_review_flow import make_app, until
from tests.tui.test_panels_and_dialogs import _project

EVENTS = 5_000


def _long_run(project) -> None:
    records = run_records(BoardStore.open(project / "board"))
    for n in range(EVENTS):
        records.append(LogLine("sub", 1, text=f"line {n:05d}", stream="stdout", t=1000.0 + n))
    records.close_all()

    def failed(state) -> None:
        state.run, state.state, state.reason = 1, "failed", "tests failed"

    records.update_state("sub", failed)


async def test_the_log_opens_on_the_newest_events_and_loads_earlier_ones_on_scroll(repo):
    project = _project(repo)
    _long_run(project)
    with ScriptedServer([]) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            app.board.select_card_id("sub")
            await pilot.press("2")
            await until(pilot, lambda: "line 04999" in app.panel.log_text(), what="newest line")
            text = app.panel.log_text()
            assert text.splitlines()[0] == EARLIER_MARK
            assert f"line {EVENTS - HISTORY_FIRST:05d}" in text
            assert f"line {EVENTS - HISTORY_FIRST - 1:05d}" not in text
            log = app.panel.query_one("#run-log")
            log.scroll_to(y=5, animate=False, immediate=True)
            await pilot.pause()
            first_seen = log.lines[int(log.scroll_y)]
            log.scroll_home(animate=False, immediate=True)  # the user scrolls to the top
            await until(pilot, lambda: "line 00000" in app.panel.log_text(), what="all history")
            assert EARLIER_MARK not in app.panel.log_text()  # all of it is there now
            assert len(app.panel.log_text().splitlines()) == EVENTS
            # what was at the top of the view is still on screen, far below the new top row
            top = int(log.scroll_y)
            assert top > 3000 and first_seen in log.lines[top : top + log.size.height]
