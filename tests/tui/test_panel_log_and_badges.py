"""The side panel's Log tab wraps long lines instead of cutting them at the edge; estimated
token counts are marked as such on the card."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from kanban_agents.tui.panel import SidePanel


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield SidePanel(id="panel")


async def test_long_log_lines_wrap_at_the_panel_width_and_again_on_resize():
    long_line = "! model server answered 500: " + " ".join(f"word{i}" for i in range(60))
    async with PanelApp().run_test(size=(100, 30)) as pilot:
        panel = pilot.app.query_one(SidePanel)
        panel.show_tab("tab-log")
        await pilot.pause()
        panel.log_reset("run 1", ["◆ running", long_line])
        await pilot.pause()
        log = panel.query_one("#run-log")
        width = log.size.width

        rows = list(log.lines)
        assert len(rows) > 2 and all(len(row) <= width for row in rows)
        assert rows[0] == "◆ running" and rows[1].startswith("! model server answered 500:")
        assert "".join(row.removeprefix("  ") for row in rows[1:]) == long_line

        await pilot.resize_terminal(160, 30)
        await pilot.pause()
        wider = panel.query_one("#run-log").size.width
        assert wider > width
        rows_after = list(log.lines)
        assert len(rows_after) < len(rows) and all(len(row) <= wider for row in rows_after)
        assert "".join(row.removeprefix("  ") for row in rows_after[1:]) == long_line


def test_estimated_token_counts_are_marked():
    from kanban_agents.tui.card import CardView, format_tokens

    assert format_tokens(2400) == "2.4k"
    assert format_tokens(2400, estimated=True) == "~2.4k"
    view = CardView(id="c", title="t", state="running", steps=3, tokens=2400, tokens_estimated=True)
    assert "~2400 tokens (estimated)" in view.detail


async def test_a_run_without_sandbox_says_so_on_its_card(repo):
    """Issue 11: a card whose agent's commands ran unconfined carries a badge saying it (and its
    tooltip says what it means); a confined run's card does not."""
    from kanban_agents.core.agent.scripted_server import ScriptedServer
    from tests.e2e.test_review_flow import make_app, run_to_review, turns
    from tests.helpers import screen_text
    from tests.tui.test_panels_and_dialogs import _project

    project = _project(repo)
    (project / "board" / "kanban.toml").write_text('[sandbox]\nmode = "off"\n')
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            await pilot.pause()
            assert "⚠ unconfined" in screen_text(app)
    # what a later start of the app reads from the run's records says the same
    with ScriptedServer([]) as idle:
        reopened = make_app(project, idle)
        async with reopened.run_test(size=(180, 45)) as pilot:
            await pilot.pause()
            assert "⚠ unconfined" in screen_text(reopened)


async def test_a_confined_run_has_no_unconfined_badge(repo):
    from kanban_agents.core.agent.scripted_server import ScriptedServer
    from kanban_agents.core.sandbox import probe
    from tests.e2e.test_review_flow import make_app, run_to_review, turns, until
    from tests.helpers import screen_text
    from tests.tui.test_panels_and_dialogs import _project

    if not probe().works:
        pytest.skip("bwrap cannot start here: " + probe().error)
    project = _project(repo)
    (project / "board" / "kanban.toml").write_text('[sandbox]\nmode = "bwrap"\n')
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            await until(pilot, lambda: "✔ review" in screen_text(app), what="review badge")
            assert "unconfined" not in screen_text(app)


def test_the_unconfined_badge_explains_itself():
    from kanban_agents.tui.card import CardView

    view = CardView(id="c", title="t", state="running", unconfined=True)
    assert "no sandbox" in view.detail
