"""A long run's Log opens on its newest events and loads earlier ones when scrolled to the top
(issue 10: reading and wrapping 50,000 lines on every selection change held the UI for seconds
under a flood)."""

from __future__ import annotations

import asyncio
import time

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


async def test_a_flooded_log_is_flushed_five_times_a_second_and_waits_for_keys(repo):
    """Issue 10: more lines per flush than the Log has rows repaint it whole; then it is flushed
    at most five times a second, and never in the frame that answers a key press."""
    from kanban_agents.tui.feed import FLOOD_FLUSH_SECONDS, INPUT_FIRST_SECONDS

    project = _project(repo)
    _long_run(project)
    with ScriptedServer([]) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            app.board.select_card_id("sub")
            await pilot.press("2")
            await until(pilot, lambda: "line 04999" in app.panel.log_text(), what="history")
            flushes: list[int] = []
            append = app.panel.log_append
            app.panel.log_append = lambda lines: (flushes.append(len(lines)), append(lines))
            start = asyncio.get_running_loop().time()
            n = EVENTS
            while asyncio.get_running_loop().time() - start < 1.0:  # more than a Log a flush
                for _ in range(100):
                    app.feed.on_event(LogLine("sub", 1, text=f"line {n:05d}", stream="stdout"))
                    n += 1
                await asyncio.sleep(0.01)
            await pilot.pause()
            assert 1 <= len(flushes) <= 1 / FLOOD_FLUSH_SECONDS + 2, flushes
            assert f"line {n - 1:05d}" in app.panel.log_text() or app.feed._buffer

            flushes.clear()
            pressed_after = time.monotonic()
            await pilot.press("2")  # a key: the Log waits until its frame is out
            assert app.last_input >= pressed_after
            app.last_input = time.monotonic()  # as if just pressed (the press took a while)
            app.feed.on_event(LogLine("sub", 1, text="after the key", stream="stdout"))
            app.feed.flush()
            assert flushes == []
            await asyncio.sleep(INPUT_FIRST_SECONDS)
            await until(pilot, lambda: "after the key" in app.panel.log_text(), what="flushed")


async def test_log_lines_are_rendered_once_not_on_every_frame():
    """Textual's Log keeps rendered lines only while text is selected: a Log following a
    flooding agent rendered every visible row on every flush. QuietLog renders a line once."""
    from textual.widgets import Log

    from tests.tui.test_panel_log_and_badges import PanelApp

    async with PanelApp().run_test(size=(100, 30)) as pilot:
        panel = pilot.app.query_one("#panel")
        panel.show_tab("tab-log")
        panel.log_reset("run 1", [f"line {n} value={n * 7} path=/a/b.py" for n in range(200)])
        await pilot.pause()
        renders = 0
        original = Log._render_line_strip

        def counting(self, y, rich_style):
            nonlocal renders
            renders += 1
            return original(self, y, rich_style)

        Log._render_line_strip = counting
        try:
            log = panel.query_one("#run-log")
            log.refresh()
            await pilot.pause()
            assert renders == 0
            log.scroll_to(y=log.scroll_y - 3, animate=False, immediate=True)
            await pilot.pause()
            assert 0 < renders <= 3 + 1  # only the rows that came into view
        finally:
            Log._render_line_strip = original
