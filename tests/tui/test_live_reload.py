"""Edits made outside the app (an editor, git, another tool) show up on the running board, and
a move over a change the app has not seen yet is refused instead of clobbering it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kanban_agents.core.board import BoardStore
from tests.helpers import screen_text
from tests.tui.conftest import card

SIZE = (120, 30)
POLL = 0.05
LIMIT = 3.0  # seconds: a ceiling for the poll, never a speed assertion


async def eventually(pilot, predicate: Callable[[], bool]) -> bool:
    """Poll the running app until ``predicate`` holds or the limit passes."""
    for _ in range(int(LIMIT / POLL)):
        if predicate():
            return True
        await pilot.pause(POLL)
    return predicate()


def shown_ids(app, column: str) -> list[str]:
    model = next(m for m in app.board.models if m.id == column)
    return [v.id for v in model.cards]


async def watching(pilot, app, board: Path) -> None:
    """Wait until the file watcher sees changes: the worker starts after mount, and a change
    made before awatch is listening would be missed. A probe card is written (again, with new
    content, until it shows) and then removed."""
    probe = board / "zz-watch-probe.md"
    for attempt in range(int(LIMIT / 0.5)):
        probe.write_text(card(f"Watch probe {attempt}", "done", 99_000))
        for _ in range(10):
            await pilot.pause(POLL)
            if "zz-watch-probe" in shown_ids(app, "done"):
                break
        else:
            continue
        break
    assert "zz-watch-probe" in shown_ids(app, "done"), "the file watcher never saw the probe"
    probe.unlink()
    assert await eventually(pilot, lambda: "zz-watch-probe" not in shown_ids(app, "done"))


async def settle(pilot, app) -> None:
    await pilot.pause()
    writes = [w for w in app.workers if w.group == "writes"]
    if writes:  # an empty list would mean "all workers"
        await app.workers.wait_for_complete(writes)
    await pilot.pause()


async def test_external_title_edit_shows_on_screen(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await watching(pilot, app, sample_board)
        path = sample_board / "export-csv.md"
        path.write_text(path.read_text().replace("Export the report as CSV", "Export as TSV"))
        assert await eventually(pilot, lambda: "Export as TSV" in screen_text(app))
        assert "Export the report as CSV" not in screen_text(app)


async def test_external_status_change_moves_the_card(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await watching(pilot, app, sample_board)
        path = sample_board / "dark-mode.md"
        path.write_text(path.read_text().replace("status: review", "status: done"))
        assert await eventually(pilot, lambda: "dark-mode" in shown_ids(app, "done"))
        assert shown_ids(app, "review") == []
        header = str(app.query_one("#header-review").render())
        assert "Review" in header and "0" in header


async def test_new_and_deleted_files_appear_and_disappear(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await watching(pilot, app, sample_board)
        (sample_board / "write-docs.md").write_text(
            card("Write the user guide", "in-progress", 500)
        )
        assert await eventually(pilot, lambda: "Write the user guide" in screen_text(app))
        assert shown_ids(app, "in-progress") == ["write-docs", "export-csv"]
        assert "7 cards" in screen_text(app)

        (sample_board / "setup-ci.md").unlink()
        assert await eventually(pilot, lambda: "Set up CI" not in screen_text(app))
        assert shown_ids(app, "done") == []
        assert "6 cards" in screen_text(app)


async def test_selection_stays_on_the_same_card_when_another_changes(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await watching(pilot, app, sample_board)
        await pilot.press("j", "j")
        assert app.board.selected_card_id == "fix-reset-token"
        # a card above it leaves the column, another arrives above it: its index changes twice
        path = sample_board / "add-login-rate-limit.md"
        path.write_text(path.read_text().replace("status: todo", "status: review"))
        (sample_board / "aaa-first.md").write_text(card("A new first card", "todo", 10))
        assert await eventually(
            pilot,
            lambda: (
                shown_ids(app, "todo") == ["broken", "aaa-first", "fix-reset-token", "improve-auth"]
            ),
        )
        assert app.board.selected_card_id == "fix-reset-token"
        assert app.board.selected_column.id == "todo"


async def test_malformed_file_becomes_an_error_card(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=SIZE) as pilot:
        await watching(pilot, app, sample_board)
        assert "1 unreadable" in screen_text(app)
        (sample_board / "dark-mode.md").write_text("---\ntitle: Dark mode\nstatus: [review\n---\n")
        assert await eventually(pilot, lambda: "2 unreadable" in screen_text(app))
        error = next(v for m in app.board.models for v in m.cards if v.id == "dark-mode")
        assert error.is_error
        assert "invalid YAML" in error.error
        assert error.error.endswith(BoardStore.open(sample_board).entry("dark-mode").message)
        text = screen_text(app)
        assert "⚠ dark-mode.md" in text
        assert "Dark mode for the settings" not in text


async def test_move_over_an_unseen_external_edit_is_refused(sample_board, make_test_app):
    app = make_test_app(sample_board, watch=False)  # the app cannot see the edit coming
    path = sample_board / "add-login-rate-limit.md"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j")
        assert app.board.selected_card_id == "add-login-rate-limit"
        edited = path.read_text().replace("Add login rate limiting", "Rate limit the login form")
        path.write_text(edited)
        await pilot.press("L")
        await settle(pilot, app)
        messages = [n.message for n in app._notifications]
        assert any("changed on disk" in m and "Nothing was lost" in m for m in messages), messages
        # the board shows the file as it is now, back in its own column
        assert await eventually(pilot, lambda: "Rate limit the login form" in screen_text(app))
        assert "add-login-rate-limit" in shown_ids(app, "todo")
        assert "add-login-rate-limit" not in shown_ids(app, "in-progress")
        # and a second try, on the card as now seen, goes through
        assert app.board.selected_card_id == "add-login-rate-limit"
        await pilot.press("L")
        await settle(pilot, app)
        assert BoardStore.open(sample_board).get("add-login-rate-limit").status == "in-progress"
    assert "title: Rate limit the login form" in path.read_text()


async def test_refused_move_leaves_the_edit_intact_on_disk(sample_board, make_test_app):
    app = make_test_app(sample_board, watch=False)
    path = sample_board / "export-csv.md"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        assert app.board.selected_card_id == "export-csv"
        edited = path.read_text() + "\nA note added in another editor.\n"
        path.write_text(edited)
        await pilot.press("H")
        await settle(pilot, app)
        assert any("changed on disk" in n.message for n in app._notifications)
    assert path.read_text() == edited
    assert BoardStore.open(sample_board).get("export-csv").status == "in-progress"
