"""Issue 17, friction: `E` edits a card's title, labels, priority and column in a form without
leaving the board; `O` orders a column by priority; a done card dragged into the agent column asks
before a new run starts."""

from __future__ import annotations

from pathlib import Path

from kanban_agents.core.card import parse_card, priority_rank
from kanban_agents.tui.card_form import CardForm, parse_labels
from kanban_agents.tui.dialogs import ChoiceDialog
from tests.helpers import screen_text
from tests.tui.conftest import card


def _fields(path: Path) -> dict:
    return parse_card(path, path.read_bytes()).meta


async def test_edit_form_changes_only_the_edited_lines(sample_board, make_test_app):
    path = sample_board / "add-login-rate-limit.md"
    before = path.read_text()
    path.write_text(before.replace("tests: pytest -q\n", "tests: pytest -q\nowner: ana  # keep\n"))
    before = path.read_text()
    app = make_test_app(sample_board)
    async with app.run_test(size=(160, 45)) as pilot:
        app.board.select_card_id("add-login-rate-limit")
        await pilot.press("E")
        await pilot.pause()
        assert isinstance(app.screen, CardForm)
        assert "ctrl+s saves" in screen_text(app) and "escape cancels" in screen_text(app)
        title = app.screen.query_one("#form-title")
        title.value = "Rate-limit logins"
        app.screen.query_one("#form-labels").value = "auth, security #api"
        app.screen.query_one("#form-priority").value = "P0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, CardForm)
    after = path.read_text()
    meta = _fields(path)
    assert meta["title"] == "Rate-limit logins"
    assert meta["labels"] == ["auth", "security", "api"]
    assert meta["priority"] == "P0"
    assert "owner: ana  # keep\n" in after  # an unknown key and its comment, byte for byte
    assert after.split("---", 2)[2] == before.split("---", 2)[2]  # the body too
    changed = [
        line for line in after.splitlines() if line not in before.splitlines()
    ]  # only the three edited keys' lines
    assert len(changed) == 3, changed


async def test_edit_form_moves_the_card_and_removes_an_emptied_priority(
    sample_board, make_test_app
):
    app = make_test_app(sample_board)
    async with app.run_test(size=(160, 45)) as pilot:
        app.board.select_card_id("add-login-rate-limit")
        await pilot.press("E")
        await pilot.pause()
        app.screen.query_one("#form-priority").value = ""
        app.screen.query_one("#form-status").value = "review"
        await pilot.press("ctrl+s")
        for _ in range(40):
            await pilot.pause(0.05)
            if _fields(sample_board / "add-login-rate-limit.md").get("status") == "review":
                break
    meta = _fields(sample_board / "add-login-rate-limit.md")
    assert meta["status"] == "review" and "priority" not in meta


async def test_edit_form_never_overwrites_an_edit_made_on_disk_meanwhile(
    sample_board, make_test_app
):
    path = sample_board / "add-login-rate-limit.md"
    app = make_test_app(sample_board, watch=False)  # the store has not seen the outside edit
    async with app.run_test(size=(160, 45)) as pilot:
        app.board.select_card_id("add-login-rate-limit")
        await pilot.press("E")
        await pilot.pause()
        outside = path.read_text().replace("priority: P1", "priority: P3")
        path.write_text(outside)
        app.screen.query_one("#form-title").value = "Mine"
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert any(n.title == "Card changed on disk" for n in app._notifications)
    assert path.read_text() == outside  # theirs kept, nothing of the form written


async def test_escape_leaves_the_card_untouched(sample_board, make_test_app):
    path = sample_board / "add-login-rate-limit.md"
    before = path.read_text()
    app = make_test_app(sample_board)
    async with app.run_test(size=(160, 45)) as pilot:
        app.board.select_card_id("add-login-rate-limit")
        await pilot.press("E")
        await pilot.pause()
        app.screen.query_one("#form-title").value = "Something else"
        await pilot.press("escape")
        await pilot.pause()
    assert path.read_text() == before


def test_labels_and_priorities_are_read_as_people_write_them():
    assert parse_labels("ui, bug  #docs ui") == ["ui", "bug", "docs"]
    ranked = sorted(["low", None, "P2", "high", "p0", "3", "someday", "P1"], key=priority_rank)
    assert ranked == ["p0", "P1", "P2", "3", "high", "low", "someday", None]


async def test_sort_orders_the_column_by_priority_writing_only_order_lines(tmp_path, make_test_app):
    board = tmp_path / "board"
    board.mkdir()
    for name, order, priority in [("a", 1000, "P2"), ("b", 2000, None), ("c", 3000, "P0"),
                                  ("d", 4000, "P1"), ("e", 5000, "P1")]:  # fmt: skip
        extra = f"priority: {priority}\n" if priority else ""
        (board / f"{name}.md").write_text(card(f"Card {name}", "todo", order, extra))
    before = {p.name: p.read_text() for p in board.glob("*.md")}
    app = make_test_app(board)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("O")
        for _ in range(60):  # the writes run off the UI thread
            await pilot.pause(0.05)
            if any("sorted by priority" in n.message for n in app._notifications):
                break
        await pilot.pause(0.2)
        assert any("sorted by priority" in n.message for n in app._notifications)
        assert [v.id for v in app.board.models[0].cards] == ["c", "d", "e", "a", "b"]
    for path in board.glob("*.md"):
        old, new = before[path.name].splitlines(), path.read_text().splitlines()
        assert [i for i, (x, y) in enumerate(zip(old, new, strict=True)) if x != y] in ([], [3])
    assert [_fields(board / f"{n}.md")["order"] for n in "cdeab"] == sorted(
        _fields(board / f"{n}.md")["order"] for n in "cdeab"
    )


async def test_sort_is_in_the_command_palette(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"sort by priority")
        await pilot.pause(0.3)
        assert "Column: sort by priority" in screen_text(app)


async def test_dragging_a_done_card_into_the_agent_column_asks_first(repo):
    from kanban_agents.core.agent.scripted_server import ScriptedServer
    from tests.e2e.test_review_flow import make_app, turns
    from tests.helpers import git
    from tests.tui.test_panels_and_dialogs import _project

    project = _project(repo)
    path = project / "board" / "sub.md"
    path.write_text(path.read_text().replace("status: todo", "status: done"))
    git(project, "commit", "-qam", "sub is done")
    before = path.read_text()
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(200, 45)) as pilot:
            await pilot.pause()
            await pilot.mouse_down("#cards-done", offset=(4, 1))
            await pilot.hover("#cards-in-progress", offset=(4, 1))
            await pilot.mouse_up("#cards-in-progress", offset=(4, 1))
            await pilot.pause()
            assert isinstance(app.screen, ChoiceDialog)
            assert "sub is done" in screen_text(app)
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert path.read_text() == before  # nothing moved, no agent started
            assert app.board.column_of("sub") == "done"
            assert "kanban/sub" not in git(project, "branch", "--list")
            await pilot.mouse_down("#cards-done", offset=(4, 1))
            await pilot.hover("#cards-in-progress", offset=(4, 1))
            await pilot.mouse_up("#cards-in-progress", offset=(4, 1))
            await pilot.pause()
            await pilot.click("#choice-run")
            for _ in range(100):
                await pilot.pause(0.05)
                if (
                    "status: in-progress" in path.read_text()
                    or "status: review" in path.read_text()
                ):
                    break
            await app.session.stop()
    assert "status: done" not in path.read_text()
