"""Keyboard use of the board: every move lands on disk through the core."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from kanban_agents.core.board import BoardStore
from kanban_agents.tui.board import CardList
from kanban_agents.tui.dialogs import ChoiceDialog, HelpScreen, PromptDialog
from tests.helpers import screen_text


def status_on_disk(board: Path, card_id: str) -> str:
    return BoardStore.open(board).get(card_id).status


def order_on_disk(board: Path, column: str) -> list[str]:
    return [c.id for c in BoardStore.open(board).column_cards(column)]


async def settle(pilot, app):
    """Let pending writes finish (the file watcher worker runs forever, so it is not awaited)."""
    await pilot.pause()
    writes = [w for w in app.workers if w.group == "writes"]
    if writes:  # an empty list would mean "all workers"
        await app.workers.wait_for_complete(writes)
    await pilot.pause()


async def test_move_right_and_left_writes_status(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.board.selected_card_id == "broken"  # error cards come first in their column
        await pilot.press("j")
        assert app.board.selected_card_id == "add-login-rate-limit"
        await pilot.press("L")
        await settle(pilot, app)
        assert status_on_disk(sample_board, "add-login-rate-limit") == "in-progress"
        assert (
            app.board.selected_card_id == "add-login-rate-limit"
        )  # the selection follows the card
        assert app.board.selected_column.id == "in-progress"
        await pilot.press("shift+right")
        await settle(pilot, app)
        assert status_on_disk(sample_board, "add-login-rate-limit") == "review"
        await pilot.press("H")
        await settle(pilot, app)
        assert status_on_disk(sample_board, "add-login-rate-limit") == "in-progress"


async def test_reorder_within_column(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("j", "j")
        assert app.board.selected_card_id == "fix-reset-token"
        await pilot.press("K")
        await settle(pilot, app)
        assert order_on_disk(sample_board, "todo") == [
            "fix-reset-token",
            "add-login-rate-limit",
            "improve-auth",
        ]
        await pilot.press("J", "J")
        await settle(pilot, app)
        assert order_on_disk(sample_board, "todo") == [
            "add-login-rate-limit",
            "improve-auth",
            "fix-reset-token",
        ]


async def test_navigation_keeps_place_and_stops_at_the_ends(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("j", "j", "l")
        assert app.board.selected_card_id == "export-csv"
        await pilot.press("h")
        assert app.board.selected_card_id == "fix-reset-token"
        await pilot.press("left")  # no wrapping around to the last column
        assert app.board.selected_column.id == "todo"
        assert app.board.selected_card_id == "fix-reset-token"


async def test_error_card_cannot_be_moved(sample_board, make_test_app):
    app = make_test_app(sample_board)
    before = (sample_board / "broken.md").read_bytes()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("L")
        await settle(pilot, app)
        assert any("cannot be read" in n.message for n in app._notifications)
    assert (sample_board / "broken.md").read_bytes() == before


async def test_new_card_prompt_creates_file_in_first_column(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("l", "n")
        assert isinstance(app.screen, PromptDialog)
        await pilot.press(*"Write the docs", "enter")
        await settle(pilot, app)
        assert (sample_board / "write-the-docs.md").exists()
        assert status_on_disk(sample_board, "write-the-docs") == "todo"
        assert app.board.selected_card_id == "write-the-docs"


async def test_archive_with_confirmation(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("j", "d")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("escape")
        assert (sample_board / "add-login-rate-limit.md").exists()
        await pilot.press("d")
        await pilot.click("#choice-archive")
        await settle(pilot, app)
        assert not (sample_board / "add-login-rate-limit.md").exists()
        assert (sample_board / ".archive" / "add-login-rate-limit.md").exists()
        assert "add-login-rate-limit" not in [v.id for m in app.board.models for v in m.cards]


async def test_filter_by_label_and_text(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("slash", *"#auth")
        await pilot.pause()
        shown = [v.id for m in app.board.models for v in m.cards]
        assert shown == ["add-login-rate-limit", "fix-reset-token"]  # label, not the word
        await pilot.press("enter")
        assert app.board.has_focus
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert len([v for m in app.board.models for v in m.cards]) == 7


async def test_help_lists_every_binding(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(app.screen.help_table())
        text = console.export_text()
        for key in ("H L", "K J", "n", "e", "d", "/", "enter", "p", "?", "q"):
            assert key in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_panel_shows_selected_card(sample_board, make_test_app):
    app = make_test_app(sample_board, show_panel=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("j")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "Add login rate limiting" in text and "src/auth.py" in text
        await pilot.press("p")
        assert app.panel.has_class("-hidden")
        await pilot.press("enter")
        assert not app.panel.has_class("-hidden")


async def test_command_palette_has_card_commands(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Card: move to next column" in titles and "Card: new" in titles


async def test_columns_scroll_independently_with_many_cards(tmp_path, make_test_app):
    board = tmp_path / "board"
    board.mkdir()
    for i in range(300):
        (board / f"c{i:03d}.md").write_text(f"---\ntitle: Card {i}\norder: {i}\n---\nbody\n")
    app = make_test_app(board)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("end")
        todo = app.query_one("#cards-todo", CardList)
        assert app.board.selected_card_id == "c299"
        assert todo.scroll_offset.y > 1000
        assert app.query_one("#cards-done", CardList).scroll_offset.y == 0


async def test_hovering_a_card_explains_its_badges(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        todo = app.query_one("#cards-todo", CardList)
        improve = [v.id for v in todo.views].index("improve-auth")
        await pilot.hover("#cards-todo", offset=(4, improve * 5 + 2))
        assert "not yet operating instructions" in todo.tooltip
        assert "no tests" in todo.tooltip
        await pilot.hover("#cards-todo", offset=(4, 2))  # the malformed card
        assert "cannot be read" in todo.tooltip and "press e" in todo.tooltip.lower()


async def test_radar_notices_leave_out_merged_cards(sample_board, make_test_app):
    """A radar finding shows on both cards once (one ⚡ in the panel); once one of the two is
    done (merged, maybe from the CLI) neither card names the pair any more."""
    from kanban_agents.core.radar import BASE, Conflict, RadarReport

    app = make_test_app(sample_board, show_panel=True)
    async with app.run_test(size=(160, 40)) as pilot:
        app.radar_report = RadarReport(
            conflicts=[
                Conflict("export-csv", "dark-mode", ("src/report.py",)),
                Conflict("export-csv", BASE, ("src/report.py",)),
            ]
        )
        app.refresh_board()

        def notices(card_id):
            return next(v for m in app.board.models for v in m.cards if v.id == card_id).notices

        assert notices("dark-mode") == ("would conflict with export-csv in src/report.py",)
        assert len(notices("export-csv")) == 2
        app.board.select_card_id("dark-mode")
        for _ in range(100):  # the panel follows the selection a frame later
            await pilot.pause(0.05)
            text = screen_text(app)
            if "would conflict with export-csv" in text:
                break
        assert "⚡ would conflict with export-csv" in text and "⚡ ⚡" not in text

        await pilot.press("L")  # dark-mode: review -> done
        await settle(pilot, app)
        for _ in range(100):
            if notices("dark-mode") == ():
                break
            await pilot.pause(0.05)
        assert notices("dark-mode") == ()
        assert notices("export-csv") == ("would conflict with the base branch in src/report.py",)


async def test_moving_the_selection_repaints_only_the_two_cards(sample_board, make_test_app):
    """j/k on a busy board: the column is not repainted whole, only the card the selection
    leaves and the one it reaches; and the hidden Card tab asks for no layout pass (a full
    repaint of the screen) when it shows the new card."""
    from textual.geometry import Region
    from textual.screen import Screen

    from kanban_agents.tui.board import CARD_HEIGHT

    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        await pilot.pause(0.1)
        todo = next(c for c in app.query(CardList) if c.column_id == "todo")
        asked: list[tuple] = []
        refresh = todo.refresh
        todo.refresh = lambda *regions, **kw: asked.append(regions) or refresh(*regions, **kw)
        layouts: list[int] = []
        refresh_layout = Screen._refresh_layout
        Screen._refresh_layout = lambda self, *a, **kw: (
            layouts.append(1) or refresh_layout(self, *a, **kw)
        )
        try:
            await pilot.press("j")
            await pilot.pause(0.1)
        finally:
            Screen._refresh_layout = refresh_layout
        assert app.board.selected_card_id == "fix-reset-token"
        width = max(todo.virtual_size.width, todo.size.width)
        assert asked == [
            (Region(0, CARD_HEIGHT, width, CARD_HEIGHT),),
            (Region(0, 2 * CARD_HEIGHT, width, CARD_HEIGHT),),
        ]
        assert layouts == []
