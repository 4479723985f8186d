"""The side panel's Log tab wraps long lines instead of cutting them at the edge; estimated
token counts are marked as such on the card."""

from __future__ import annotations

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
