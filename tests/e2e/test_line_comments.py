"""Line comments in the board app, through the scripted model: comment on diff lines with the
keyboard and the mouse, see them inline and as ``✎ N`` on the card, send the card back, and the
agent's next request carries each ``path:line`` comment. Large diffs: lock files start folded."""

from __future__ import annotations

from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.tui.dialogs import TextDialog
from kanban_agents.tui.diff_view import DiffView
from tests.core.test_runs import finish
from tests.e2e.test_review_flow import make_app, project, run_to_review, turns, until  # noqa: F401
from tests.helpers import screen_text


def row_of(view: DiffView, text: str) -> int:
    return next(i for i in range(len(view.diff.rows)) if view.diff.row_text(i).plain == text)


def card_badges(app) -> str:
    view = next(v for m in app.board.models for v in m.cards if v.id == "sub")
    return f"✎ {view.comments}" if view.comments else ""


async def open_diff(pilot, app) -> DiffView:
    await pilot.press("3")
    await until(pilot, lambda: "+def sub(a, b):" in app.panel.diff_text(), what="diff in panel")
    await pilot.press("enter")  # into the diff's lines
    view = app.query_one(DiffView)
    assert view.has_focus
    return view


async def comment(pilot, app, text: str) -> None:
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, TextDialog), what="comment dialog")
    assert "ctrl+s saves" in screen_text(app)  # the dialog says its keys
    await pilot.press(*text)
    await pilot.press("ctrl+s")


async def test_comment_lines_then_send_back_reaches_the_model(project):  # noqa: F811
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            view = await open_diff(pilot, app)
            selected = app.board.selected_card_id
            target = row_of(view, "+def sub(a, b):")
            for _ in range(target):
                await pilot.press("j")  # the Diff tab's cursor, not the board's selection
            assert view.cursor == target and app.board.selected_card_id == selected
            await comment(pilot, app, "Add a docstring.")
            await until(pilot, lambda: "✎ Add a docstring." in app.panel.diff_text(),
                        what="comment inline")  # fmt: skip
            text = app.panel.diff_text().splitlines()
            assert text[text.index("+def sub(a, b):") + 1].strip() == "✎ Add a docstring."
            await until(pilot, lambda: card_badges(app) == "✎ 1", what="✎ 1 on the card")
            await until(pilot, lambda: "✎ 1" in screen_text(app), what="✎ 1 on screen")

            # the mouse puts the cursor on a line; a second comment, then edit the first
            second = row_of(view, "+    return a - b")
            await pilot.click(DiffView, offset=(3, second - view.scroll_offset.y))
            assert view.cursor == second
            await comment(pilot, app, "Subtract the other way round.")
            await until(pilot, lambda: card_badges(app) == "✎ 2", what="✎ 2")
            await pilot.press("k", "k")  # back on the def line (over its comment row)
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, TextDialog), what="edit dialog")
            assert "Edit the comment on calc.py:5" in screen_text(app)
            await pilot.press("end", *" Please.", "ctrl+s")
            await until(pilot, lambda: "✎ Add a docstring. Please." in app.panel.diff_text(),
                        what="edited comment")  # fmt: skip

            # a third, removed again with delete
            await pilot.press("k")
            await comment(pilot, app, "Not this one.")
            await until(pilot, lambda: card_badges(app) == "✎ 3", what="✎ 3")
            await pilot.press("delete")
            await until(pilot, lambda: card_badges(app) == "✎ 2", what="back to ✎ 2")
            assert "Not this one." not in app.panel.diff_text()

            server.add(finish("Added a docstring."))
            await pilot.press("b")
            await until(pilot, lambda: isinstance(app.screen, TextDialog), what="send back dialog")
            assert "with 2 line comments" in screen_text(app)
            await pilot.press("ctrl+s")  # no notes of its own: the comments are enough
            await until(pilot, lambda: len(server.requests) >= 3, what="second round")
            asked = server.requests[2]["messages"][-1]["content"]
            await until(pilot, lambda: card_badges(app) == "", what="the badge goes")
            app.session.runs.cancel("sub")
            await pilot.pause(0.2)
    assert "calc.py:5\n> +def sub(a, b):\nAdd a docstring. Please." in asked
    assert "calc.py:6\n> +    return a - b\nSubtract the other way round." in asked


async def test_lock_files_start_folded_and_enter_unfolds(project):  # noqa: F811
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            worktree = app.session.worktree_of("sub")
            lock = "".join(f'  "dep{i}": "1.0.{i}",\n' for i in range(400))
            (worktree / "package-lock.json").write_text("{\n" + lock + "}\n")
            (worktree / "zeta.py").write_text("Z = 1\n")
            app.feed.refresh_diff(immediate=True)
            view = await open_diff(pilot, app)
            await until(pilot, lambda: "package-lock.json" in app.panel.diff_text(), what="lock")
            text = app.panel.diff_text()
            assert "▸ folded: collapsed (package-lock.json), +402 -0  enter unfolds" in text
            assert '"dep7"' not in text  # folded: counts only
            await pilot.press("right_square_bracket")  # first file: calc.py
            assert view.diff.file_rows[view.cursor] == "calc.py"
            await pilot.press("right_square_bracket")
            assert view.diff.file_rows[view.cursor] == "package-lock.json"
            top = view.scroll_offset.y  # the file's header shows (at the top when it can)
            assert top <= view.cursor < top + view.scrollable_content_region.height
            await pilot.press("enter")
            assert '+  "dep7": "1.0.7",' in app.panel.diff_text()
            await pilot.press("right_square_bracket", "left_square_bracket")
            assert view.diff.file_rows[view.cursor] == "package-lock.json"
            await pilot.press("enter")  # folded again
            assert '"dep7"' not in app.panel.diff_text()
            app.session.runs.cancel("sub")
            await pilot.pause(0.1)
