"""SVG snapshots of the board as a user sees it. Update with ``pytest --snapshot-update`` and look
at the SVGs (or PNGs from ``rsvg-convert``) before accepting them.

Stable by construction: the clock is pinned by ``make_test_app``, the watcher is off, the top
bar shows the last two components of the board path (the tmp dir is named after the test), and
every wait is for something to appear on screen, never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.helpers import screen_text

POLL = 0.05
LIMIT = 3.0
SETTLE_LIMIT = 15.0


def run_before(*keys: str, shows: str | None = None, theme: str | None = None
               ) -> Callable[..., Awaitable[None]]:  # fmt: skip
    """Press ``keys``, then wait until ``shows`` is on screen (the panel draws its markdown a
    moment after the selection changes)."""

    async def before(pilot) -> None:
        app = pilot.app
        await pilot.pause()
        if theme is not None:
            # switch after a first paint, as a user does from the palette: cards drawn in the
            # old theme must be redrawn in the new one
            assert "Add login rate" in screen_text(app)
            app.theme = theme
        await pilot.press(*keys)
        if shows is not None:
            for _ in range(int(LIMIT / POLL)):
                if shows in screen_text(app):
                    break
                await pilot.pause(POLL)
            assert shows in screen_text(app), f"{shows!r} never showed"
        await body_settled(pilot)

    return before


async def body_settled(pilot) -> None:
    """Wait until the side panel shows the card's body as markdown: Rich's Markdown is loaded
    in a thread after the first frame (plain text shows until then), later on a loaded CI."""
    panel = getattr(pilot.app, "panel", None)
    if panel is None or not panel.display:
        return
    for _ in range(int(SETTLE_LIMIT / POLL)):
        if panel.body_settled:
            break
        await pilot.pause(POLL)
    assert panel.body_settled, "the card body was never rendered as markdown"
    await pilot.pause()


def test_board_80x24(sample_board, make_test_app, snap_compare):
    app = make_test_app(sample_board, watch=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before("j"))


def test_board_200x50_with_panel(sample_board, make_test_app, snap_compare):
    app = make_test_app(sample_board, watch=False, show_panel=True)
    assert snap_compare(
        app, terminal_size=(200, 50), run_before=run_before("j", shows="Keep the public API.")
    )


def test_panel_card_tab(sample_board, make_test_app, snap_compare):
    app = make_test_app(sample_board, watch=False, show_panel=True)
    assert snap_compare(
        app,
        terminal_size=(140, 36),
        run_before=run_before("l", "enter", shows="In this worktree, export the report as csv."),
    )


def test_help_screen(sample_board, make_test_app, snap_compare):
    app = make_test_app(sample_board, watch=False)
    assert snap_compare(app, terminal_size=(100, 40), run_before=run_before("question_mark"))


def test_light_theme(sample_board, make_test_app, snap_compare):
    app = make_test_app(sample_board, watch=False, show_panel=True)
    before = run_before("j", "j", shows="Keep the public API.", theme="textual-light")
    assert snap_compare(app, terminal_size=(160, 40), run_before=before)


def test_error_card_selected(sample_board, make_test_app, snap_compare):
    app = make_test_app(sample_board, watch=False, show_panel=True)
    assert snap_compare(
        app, terminal_size=(160, 40), run_before=run_before(shows="Cannot read this card")
    )


def test_long_column_scrolled(tmp_path, make_test_app, snap_compare):
    """A column longer than the screen, scrolled to its selection: the scrollbars and the cut
    cards at the edges (card lists and their scrollbars skip Textual's line pipeline)."""
    from tests.tui.conftest import card

    board = tmp_path / "board"
    board.mkdir()
    for n in range(14):
        (board / f"task-{n:02}.md").write_text(
            card(f"Task number {n}", "todo", n * 10, "files: [a.py]\nconstraints: c\ntests: t\n")
        )
    (board / "other.md").write_text(card("In progress one", "in-progress", 1))
    app = make_test_app(board, watch=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before(*"jjjjjjjjj", "L"))


def test_empty_board(tmp_path, make_test_app, snap_compare):
    """A board with no cards says what to do, in the board area."""
    board = tmp_path / "board"
    board.mkdir()
    app = make_test_app(board, watch=False)
    assert snap_compare(app, terminal_size=(100, 24))
