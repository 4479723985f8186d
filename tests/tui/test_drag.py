"""Mouse drags move cards: what lands on disk, and what the user sees while dragging.

Geometry: each CardList starts at its row 0 with one card every CARD_HEIGHT rows. A drop on
the upper half of a card lands before it, on the lower half after it. In the sample board the
To Do column lists the unreadable ``broken`` card first (rows 0-4), then
add-login-rate-limit (5-9), fix-reset-token (10-14) and improve-auth (15-19).
"""

from __future__ import annotations

from pathlib import Path

from kanban_agents.core.board import BoardStore
from kanban_agents.tui.board import CardList
from kanban_agents.tui.card import CARD_HEIGHT
from tests.helpers import screen_text

SIZE = (120, 30)
X = 4  # a column inside every card


def row(index: int, offset: int = 1) -> int:
    """A row inside the card at ``index``: ``offset`` 1 is its upper half, 3 its lower half."""
    return index * CARD_HEIGHT + offset


def cards_on_disk(board: Path, column: str) -> list[str]:
    return [c.id for c in BoardStore.open(board).column_cards(column)]


def snapshot_files(board: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(board.glob("*.md"))}


async def settle(pilot, app) -> None:
    """Let pending writes finish (the file watcher worker runs forever, so it is not awaited)."""
    await pilot.pause()
    writes = [w for w in app.workers if w.group == "writes"]
    if writes:  # an empty list would mean "all workers"
        await app.workers.wait_for_complete(writes)
    await pilot.pause()


async def drag(pilot, source: str, source_row: int, target: str, target_row: int) -> None:
    await pilot.pause()  # the columns are mounted on mount: let layout give them a region
    await pilot.mouse_down(source, offset=(X, source_row))
    await pilot.hover(target, offset=(X, target_row))
    await pilot.mouse_up(target, offset=(X, target_row))
    await settle(pilot, pilot.app)


async def test_drag_to_another_column_changes_status_and_position(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        # add-login-rate-limit onto the upper half of dark-mode: it goes first in Review
        await drag(pilot, "#cards-todo", row(1), "#cards-review", row(0, 1))
        assert cards_on_disk(sample_board, "review") == ["add-login-rate-limit", "dark-mode"]
        assert BoardStore.open(sample_board).get("add-login-rate-limit").status == "review"
        assert "add-login-rate-limit" not in cards_on_disk(sample_board, "todo")
        assert app.board.selected_card_id == "add-login-rate-limit"
        assert app.board.selected_column.id == "review"

        # fix-reset-token (now second in To Do) below the last Review card: it goes last
        await drag(pilot, "#cards-todo", row(1), "#cards-review", row(3))
        assert cards_on_disk(sample_board, "review") == [
            "add-login-rate-limit",
            "dark-mode",
            "fix-reset-token",
        ]
        text = screen_text(app)
        assert "Fix password reset token" in text


async def test_drag_between_two_cards(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        # export-csv onto the lower half of add-login-rate-limit: between it and fix-reset-token
        await drag(pilot, "#cards-in-progress", row(0), "#cards-todo", row(1, 3))
        assert cards_on_disk(sample_board, "todo") == [
            "add-login-rate-limit",
            "export-csv",
            "fix-reset-token",
            "improve-auth",
        ]
        assert cards_on_disk(sample_board, "in-progress") == []
        shown = [v.id for v in app.board.models[0].cards]
        assert shown == ["broken", "add-login-rate-limit", "export-csv", "fix-reset-token",
                         "improve-auth"]  # fmt: skip


async def test_drag_within_a_column_reorders(sample_board, make_test_app):
    app = make_test_app(sample_board)
    before = (sample_board / "add-login-rate-limit.md").read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        # improve-auth up onto the upper half of fix-reset-token
        await drag(pilot, "#cards-todo", row(3), "#cards-todo", row(2, 1))
        assert cards_on_disk(sample_board, "todo") == [
            "add-login-rate-limit",
            "improve-auth",
            "fix-reset-token",
        ]
        assert BoardStore.open(sample_board).get("improve-auth").status == "todo"
        # then add-login-rate-limit down to the very bottom
        await drag(pilot, "#cards-todo", row(1), "#cards-todo", row(3, 4))
        assert cards_on_disk(sample_board, "todo") == [
            "improve-auth",
            "fix-reset-token",
            "add-login-rate-limit",
        ]
    # only the moved card's order line changed
    after = (sample_board / "add-login-rate-limit.md").read_text()
    changed = set(before.decode().splitlines()) ^ set(after.splitlines())
    assert {line.split(":")[0] for line in changed} == {"order"}


async def test_drop_indicator_shows_while_hovering_and_goes_after_release(
    sample_board, make_test_app
):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        review = app.query_one("#cards-review", CardList)
        todo = app.query_one("#cards-todo", CardList)
        assert "drop here" not in screen_text(app)

        await pilot.mouse_down("#cards-todo", offset=(X, row(1)))
        await pilot.hover("#cards-review", offset=(X, row(0, 3)))
        await pilot.pause()
        assert app.board.dragging
        assert review.drop_index == 1  # after dark-mode
        assert todo.drop_index is None
        assert "drop here" in screen_text(app)
        assert review.parent.has_class("-drop-target")

        # moving on to another column moves the indicator with the pointer
        await pilot.hover("#cards-done", offset=(X, row(0, 1)))
        await pilot.pause()
        assert review.drop_index is None
        assert app.query_one("#cards-done", CardList).drop_index == 0
        assert screen_text(app).count("drop here") == 1

        await pilot.mouse_up("#cards-done", offset=(X, row(0, 1)))
        await settle(pilot, app)
        assert not app.board.dragging
        assert all(cards.drop_index is None for cards in app.query(CardList))
        assert not any(view.has_class("-drop-target") for view in app.board.column_views)
        assert "drop here" not in screen_text(app)
        assert cards_on_disk(sample_board, "done") == ["add-login-rate-limit", "setup-ci"]


async def test_click_without_moving_selects_and_changes_nothing(sample_board, make_test_app):
    app = make_test_app(sample_board)
    before = snapshot_files(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.board.selected_card_id == "broken"
        await pilot.click("#cards-review", offset=(X, row(0)))
        await settle(pilot, app)
        assert app.board.selected_card_id == "dark-mode"
        assert app.board.selected_column.id == "review"
        await pilot.click("#cards-todo", offset=(X, row(2, 3)))
        await settle(pilot, app)
        assert app.board.selected_card_id == "fix-reset-token"
        assert "drop here" not in screen_text(app)
    assert snapshot_files(sample_board) == before


async def test_drop_on_a_column_header_puts_the_card_first(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await drag(pilot, "#cards-done", row(0), "#header-in-progress", 0)
        assert cards_on_disk(sample_board, "in-progress") == ["setup-ci", "export-csv"]
        # To Do lists the unreadable card first; the dropped card still goes first of the
        # cards that have an order, not to the end
        await drag(pilot, "#cards-review", row(0), "#header-todo", 0)
        assert cards_on_disk(sample_board, "todo") == [
            "dark-mode",
            "add-login-rate-limit",
            "fix-reset-token",
            "improve-auth",
        ]


async def test_drop_above_the_error_card_puts_the_card_first(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await drag(pilot, "#cards-todo", row(3), "#cards-todo", row(0, 1))
        assert cards_on_disk(sample_board, "todo") == [
            "improve-auth",
            "add-login-rate-limit",
            "fix-reset-token",
        ]


async def test_dragging_the_error_card_moves_nothing_and_says_why(sample_board, make_test_app):
    app = make_test_app(sample_board)
    before = snapshot_files(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await drag(pilot, "#cards-todo", row(0), "#cards-review", row(0, 1))
        messages = [n.message for n in app._notifications]
        assert any("broken.md cannot be read" in m for m in messages), messages
        await pilot.pause(0.05)
        assert "broken" in [v.id for v in app.board.models[0].cards]
        assert "broken" not in [v.id for v in app.board.models[2].cards]
    assert snapshot_files(sample_board) == before


async def test_drop_outside_the_board_moves_nothing(sample_board, make_test_app):
    app = make_test_app(sample_board)
    before = snapshot_files(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await drag(pilot, "#cards-todo", row(1), "#topbar", 0)
        assert "drop here" not in screen_text(app)
        assert [v.id for v in app.board.models[0].cards][1] == "add-login-rate-limit"
    assert snapshot_files(sample_board) == before


async def test_move_up_key_on_the_first_card_below_the_error_card_keeps_its_place(
    sample_board, make_test_app
):
    # The keyboard shares the drop's rule: the unreadable card listed above has no order, so
    # "up" from the first real card is the top already, not a trip to the bottom.
    app = make_test_app(sample_board)
    before = snapshot_files(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "K")
        await settle(pilot, app)
        assert app.board.selected_card_id == "add-login-rate-limit"
        assert [v.id for v in app.board.models[0].cards][:2] == ["broken", "add-login-rate-limit"]
    assert snapshot_files(sample_board) == before
    assert cards_on_disk(sample_board, "todo")[0] == "add-login-rate-limit"
