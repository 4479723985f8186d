"""Render the app on a board and save screenshots for the README and docs.

    python scripts/screenshots.py [--board DIR] [--out DIR]

Writes board.svg (160x45, side panel shown, the first column's first card selected), board-80x24.svg (no panel)
and card-form.svg (the E form) into ``--out``; then, unless ``--no-agents``, agents-running.svg (the demo repository with agents at work and the
Log tab open), review-diff.svg (a card in review with its Diff tab), review-comments.svg (a line comment in
it) and review-folded.svg (a lock file folded). With ``rsvg-convert`` on PATH, a PNG beside each SVG.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

from kanban_agents.core.board import BoardError, BoardStore
from kanban_agents.tui.app import KanbanApp

REPO = Path(__file__).resolve().parent.parent
SHOTS = [
    # (file stem, terminal size, show the side panel)
    ("board", (160, 45), True),
    ("board-80x24", (80, 24), False),
]


async def save_svg(board: Path, path: Path, size: tuple[int, int], show_panel: bool) -> None:
    app = KanbanApp(BoardStore.open(board), watch=False, show_panel=show_panel, agents=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        column = next((m for m in app.board.models if m.cards), None)
        if column is not None:  # its first readable card: an unreadable one makes a poor picture
            first = next((v for v in column.cards if not v.is_error), column.cards[0])
            app.board.select_card_id(first.id)
        await pilot.pause(0.2)  # the panel draws the card's markdown a moment after selection
        await pilot.wait_for_scheduled_animations()
        app.save_screenshot(path.name, str(path.parent))


async def until(pilot, condition, timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise RuntimeError("the demo did not get there in time")


async def save_agent_shots(out: Path) -> list[Path]:
    """The demo repository, worked by the scripted demo model: agents running, then a review."""
    import os
    import tempfile

    from kanban_agents.core.runs import RunManager
    from kanban_agents.demo import create_demo_repo, demo_environment, start_demo_server

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        board = create_demo_repo(Path(tmp) / "textstats")
        server = start_demo_server()
        try:
            store = BoardStore.open(board)
            runs = RunManager(store, environ={**os.environ, **demo_environment(server)})
            app = KanbanApp(store, runs=runs, watch=False, show_panel=True)
            async with app.run_test(size=(180, 48)) as pilot:
                await pilot.pause(0.3)
                for card_id in ("add-line-count", "add-char-count", "improve-the-code"):
                    await asyncio.to_thread(store.move, card_id, "in-progress")
                await until(
                    pilot, lambda: sum(s.state == "running" for s in runs.status.values()) >= 2
                )
                app.board.select_card_id("add-line-count")
                await pilot.press("2")
                await until(pilot, lambda: "edit_file" in app.panel.log_text())
                await pilot.pause(0.3)
                running = out / "agents-running.svg"
                app.save_screenshot(running.name, str(running.parent))
                await until(pilot, lambda: store.get("add-line-count").status == "review")
                app.board.select_card_id("add-line-count")
                await pilot.press("3")
                await until(pilot, lambda: "+def line_count" in app.panel.diff_text())
                await pilot.pause(0.3)
                review = out / "review-diff.svg"
                app.save_screenshot(review.name, str(review.parent))
                extra = await save_review_shots(app, pilot, out)
                await runs.stop()
        finally:
            server.stop()
    return [running, review, *extra]


async def save_review_shots(app: KanbanApp, pilot, out: Path) -> list[Path]:
    """The Diff tab of the card in review: a line comment under its line, then a lock file
    folded (written into the card's worktree as an agent's install would)."""
    from kanban_agents.tui.dialogs import TextDialog
    from kanban_agents.tui.diff_view import DiffView

    await pilot.press("w", "enter")  # a wide panel; the focus in the diff's lines
    view = app.query_one(DiffView)
    rows = view.diff
    target = next(
        i for i in range(len(rows.rows)) if rows.row_text(i).plain.startswith("+def line_count")
    )
    view.move_cursor(target)
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, TextDialog))
    await pilot.press(*"Count a last line without a newline too, and test it.", "ctrl+s")
    await until(pilot, lambda: "✎ Count a last line" in app.panel.diff_text())
    await pilot.pause(0.3)
    comments = out / "review-comments.svg"
    app.save_screenshot(comments.name, str(comments.parent))
    worktree = app.session.worktree_of("add-line-count")
    packages = "".join(
        f'    "node_modules/dep-{i}": {{"version": "1.{i}.0"}},\n' for i in range(1200)
    )
    (worktree / "package-lock.json").write_text('{\n  "packages": {\n' + packages + "  }\n}\n")
    app.feed.refresh_diff(immediate=True)
    await until(pilot, lambda: "▸ folded: collapsed (package-lock.json)" in app.panel.diff_text())
    view.move_cursor(0)
    await pilot.press("right_square_bracket")
    await pilot.pause(0.3)
    folded = out / "review-folded.svg"
    app.save_screenshot(folded.name, str(folded.parent))
    return [comments, folded]


async def save_form_svg(board: Path, path: Path) -> None:
    """The E form on the board's first card (nothing is saved: escape would leave it as it is)."""
    app = KanbanApp(BoardStore.open(board), watch=False, show_panel=True, agents=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        column = next((m for m in app.board.models if m.cards), None)
        if column is not None:
            app.board.select_card_id(next(v for v in column.cards if not v.is_error).id)
        await pilot.press("E")
        await pilot.pause(0.3)
        app.save_screenshot(path.name, str(path.parent))


def to_png(svg: Path) -> Path:
    """Convert with rsvg-convert. Textual writes spaces as runs of &#160;, which librsvg drops
    at the start of a text run unless whitespace is preserved: so convert a preserving copy."""
    png = svg.with_suffix(".png")
    text = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
    subprocess.run(["rsvg-convert", "-o", str(png)], input=text.encode("utf-8"), check=True)
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", type=Path, default=REPO / "board", help="board directory")
    parser.add_argument("--out", type=Path, default=REPO / "screenshots", help="output directory")
    parser.add_argument("--no-agents", action="store_true", help="skip the demo-agent screenshots")
    args = parser.parse_args(argv)

    try:
        store = BoardStore.open(args.board)
    except BoardError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    if not store.cards and not store.errors:
        print(f"screenshots: {args.board} has no cards; nothing to show", file=sys.stderr)
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    convert = shutil.which("rsvg-convert") is not None
    for stem, size, show_panel in SHOTS:
        svg = args.out / f"{stem}.svg"
        asyncio.run(save_svg(args.board, svg, size, show_panel))
        print(svg)
        if convert:
            print(to_png(svg))
    form = args.out / "card-form.svg"
    asyncio.run(save_form_svg(args.board, form))
    print(form)
    if convert:
        print(to_png(form))
    if not args.no_agents:
        for svg in asyncio.run(save_agent_shots(args.out)):
            print(svg)
            if convert:
                print(to_png(svg))
    if not convert:
        print("rsvg-convert not found: SVGs only (Debian: apt-get install librsvg2-bin)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
