"""Issue 17, friction: at 90 columns with the side panel open, every column header still shows its
count and WIP limit (the title is cut first, with an ellipsis)."""

from __future__ import annotations

from kanban_agents.tui.board import ColumnModel, header_text


async def test_wip_counts_show_at_90_columns_with_the_panel(sample_board, make_test_app):
    (sample_board / "kanban.toml").write_text(
        '[board]\ncolumns = [{ id = "todo", title = "To Do" }, '
        '{ id = "in-progress", title = "In Progress", wip = 3 }, '
        '{ id = "review", title = "Review" }, { id = "done", title = "Done" }]\n'
    )
    app = make_test_app(sample_board, show_panel=True)
    async with app.run_test(size=(90, 30)) as pilot:
        if not app.panel.display:
            await pilot.press("p")
        await pilot.pause()
        headers = {h.id: str(h.render()) for h in app.query("ColumnHeader")}
        assert "1/3" in headers["header-in-progress"], headers
        assert all(len(str(h.render())) <= h.size.width - 2 for h in app.query("ColumnHeader"))


def test_a_narrow_header_cuts_the_title_not_the_count():
    from kanban_agents.tui.card import CardView

    cards = [CardView(id=f"c{i}", title="t") for i in range(4)]
    model = ColumnModel("in-progress", "In Progress", 3, cards, 4)
    assert str(header_text(model)) == "In Progress  4/3  over WIP"
    narrow = str(header_text(model, 10))
    assert narrow.endswith("4/3 !") and narrow.startswith("In…") and len(narrow) <= 10
    assert str(header_text(model, 40)) == "In Progress  4/3  over WIP"


async def test_toasts_leave_the_log_readable_while_the_panel_shows(sample_board, make_test_app):
    """Issue 17, friction: toasts at the bottom right covered the newest Log lines."""
    app = make_test_app(sample_board, show_panel=True)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        app.notify("Something happened that you should know about.", timeout=30)
        await pilot.pause(0.3)
        [toast] = app.query("Toast")
        assert toast.region.right <= app.panel.region.x, (toast.region, app.panel.region)
        await pilot.press("p")  # panel hidden: the usual corner, bottom right
        app.notify("Another thing.", timeout=30)
        await pilot.pause(0.3)
        assert max(t.region.right for t in app.query("Toast")) > 150
