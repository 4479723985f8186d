"""The selection and the keys that act on it are exact: a key acts on the card the user chose and
sees selected, moves typed ahead all land in order, the selection follows cards that arrive,
disappear or are filtered, and nothing wraps around the ends of the board."""

from __future__ import annotations

from pathlib import Path

from kanban_agents.core.board import BoardStore
from kanban_agents.tui.dialogs import ChoiceDialog
from tests.helpers import screen_text
from tests.tui.conftest import card
from tests.tui.test_live_reload import eventually, shown_ids, watching

SIZE = (120, 30)


def status_on_disk(board: Path, card_id: str) -> str:
    return BoardStore.open(board).get(card_id).status


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


async def settle(pilot, app) -> None:
    """Let pending writes finish (the file watcher worker runs forever, so it is not awaited)."""
    for _ in range(50):
        await pilot.pause()
        writes = [w for w in app.workers if w.group == "writes" and w.is_running]
        if not writes:
            break
        await app.workers.wait_for_complete(writes)
    await pilot.pause()


# ------------------------------------------------------------------ moves typed ahead (defect 4)


async def test_moves_typed_ahead_all_land_in_order(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j")
        assert app.board.selected_card_id == "add-login-rate-limit"
        # todo -> in-progress -> review -> done, typed ahead: three keys read in one go, before
        # the first write has started (the same actions the keys run, in one turn of the loop)
        for _ in range(3):
            app.action_move_card(1)
        await settle(pilot, app)
        assert status_on_disk(sample_board, "add-login-rate-limit") == "done"
        assert not [m for m in notices(app) if "changed on disk" in m], notices(app)
        assert app.board.selected_card_id == "add-login-rate-limit"
        assert app.board.selected_column.id == "done"
        await pilot.press("H", "H")  # and as keys
        await settle(pilot, app)
        assert status_on_disk(sample_board, "add-login-rate-limit") == "in-progress"
        assert not [m for m in notices(app) if "changed on disk" in m], notices(app)


async def test_the_apps_own_write_before_a_move_is_not_an_outside_change(
    sample_board, make_test_app
):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j")
        # The key's action, then (before its write starts) the app's own write of the run state,
        # as the run manager does when a card enters the agent column: one turn of the loop.
        app.action_move_card(1)
        app.store.update_retrying("add-login-rate-limit", {"run": {"state": "queued"}})
        app.action_move_card(1)
        await settle(pilot, app)
        assert not [m for m in notices(app) if "changed on disk" in m], notices(app)
        moved = BoardStore.open(sample_board).get("add-login-rate-limit")
        assert moved.status == "review"
        assert moved.run.get("state") == "queued"


# ------------------------------------------------------------------ no wrap, and r on done (defect 3)


async def test_columns_do_not_wrap_around_the_ends(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        assert app.board.selected_column.id == "todo"
        await pilot.press("l", "l", "l", "l", "l")
        assert app.board.selected_column.id == "done"
        await pilot.press("right")
        assert app.board.selected_column.id == "done"


async def test_run_on_a_done_card_asks_first(sample_board, make_test_app):
    app = make_test_app(sample_board, agents=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "l", "l")
        assert app.board.selected_card_id == "setup-ci"
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        assert "setup-ci is done" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot, app)
        assert status_on_disk(sample_board, "setup-ci") == "done"  # nothing started
        await pilot.press("r")
        await pilot.pause()
        await pilot.click("#choice-run")
        await settle(pilot, app)
        assert status_on_disk(sample_board, "setup-ci") == "in-progress"


# ------------------------------------------------------------------ selection follows the data


async def test_an_empty_board_says_what_to_do_and_selects_cards_that_arrive(
    tmp_path, make_test_app
):
    board = tmp_path / "board"
    board.mkdir()
    app = make_test_app(board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "press n to add a card" in screen_text(app)
        await watching(pilot, app, board)
        (board / "write-docs.md").write_text(card("Write the user guide", "in-progress", 500))
        assert await eventually(pilot, lambda: shown_ids(app, "in-progress") == ["write-docs"])
        assert "press n to add a card" not in screen_text(app)
        await pilot.press("j")
        assert app.board.selected_card_id == "write-docs"
        await pilot.press("end")
        assert app.board.selected_card_id == "write-docs"
        await pilot.press("L")
        await settle(pilot, app)
        assert status_on_disk(board, "write-docs") == "review"


async def test_a_selected_card_deleted_outside_leaves_nothing_selected(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await watching(pilot, app, sample_board)
        await pilot.press("j")
        assert app.board.selected_card_id == "add-login-rate-limit"
        (sample_board / "add-login-rate-limit.md").unlink()
        assert await eventually(pilot, lambda: "add-login-rate-limit" not in shown_ids(app, "todo"))
        await pilot.pause()
        assert app.board.selected_card_id is None
        assert any("add-login-rate-limit" in m and "removed" in m for m in notices(app))
        await pilot.press("L", "r")
        await settle(pilot, app)
        board = BoardStore.open(sample_board)
        assert [c.id for c in board.column_cards("todo")] == ["fix-reset-token", "improve-auth"]
        assert [c.id for c in board.column_cards("in-progress")] == ["export-csv"]
        await pilot.press("j")  # the user selects again: keys act on that card
        assert app.board.selected_card_id is not None


async def test_escape_clears_a_kept_filter_and_the_one_card_left_is_selected(
    sample_board, make_test_app
):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"report", "enter")
        await pilot.pause()
        assert [v.id for m in app.board.models for v in m.cards] == ["export-csv"]
        assert app.board.selected_card_id == "export-csv"
        await pilot.press("escape")
        await pilot.pause()
        assert app.filter_text == ""
        assert len([v for m in app.board.models for v in m.cards]) == 7
        assert "filter:" not in screen_text(app)
        assert app.board.selected_card_id == "export-csv"
