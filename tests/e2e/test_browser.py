"""``kanban-agents serve`` in a real browser: headless Debian chromium loads the page, the board
appears, a card dragged with the mouse to another column moves, and its file says so on disk.

Set ``SCREENSHOT_DIR`` to keep the PNG (``screenshots/board-in-browser.png`` in the repository
comes from this test)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests import browser
from tests.core.test_serve import serving
from tests.helpers import git

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing())),
]

CARDS = {
    "add-version-flag": ("Add a version flag", "todo", "P1", "--version prints the version"),
    "write-the-changelog": ("Write the changelog", "todo", "P2", "CHANGELOG.md lists 0.1"),
    "fix-login-redirect": ("Fix the login redirect", "review", "P1", "the redirect test passes"),
}


@pytest.fixture
def project(repo: Path) -> Path:
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("")
    for order, (card_id, (title, status, priority, done)) in enumerate(CARDS.items()):
        (board / f"{card_id}.md").write_text(
            f"---\ntitle: {title}\nstatus: {status}\norder: {(order + 1) * 1000}\n"
            f"priority: {priority}\nfiles: [src/]\nconstraints: [no new dependency]\n"
            f"tests: [make test]\n---\n\n## Task\n\n{title}.\n\n## Done when\n\n{done}.\n"
        )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "board")
    return repo


def test_the_board_in_a_browser_drag_a_card_and_the_file_changes(project, tmp_path):
    card_file = project / "board" / "write-the-changelog.md"
    with serving(project / "board") as url:
        chromium = browser.Browser()
        try:
            chromium.open(url)
            screen = chromium.wait_for(
                "To Do", "Review", "Write the changelog", "Add a version flag"
            )
            start = screen.pixel(*screen.find("Write the changelog"))
            col, row = screen.find("Done")
            end = screen.pixel(col + 2, row + 4)  # in the Done column, below its header
            chromium.drag(start, end)
            deadline = time.monotonic() + 15
            while "status: done" not in card_file.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "status: done" in card_file.read_text(), chromium.screen().text
            chromium.wait_for_match(r"Done\s+1\b")  # the board shows it too
            chromium.wait_for_match(r"status\s+done")  # and so does the card's panel
            chromium.move_to(screen.pixel(col, screen.rows - 4))  # no tooltip in the picture
            time.sleep(1.0)  # the canvas catches up with the terminal's buffer
            png = tmp_path / "board-in-browser.png"
            chromium.save_png(png)
        finally:
            chromium.close()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SCREENSHOT_DIR"):
        shutil.copy(png, Path(os.environ["SCREENSHOT_DIR"]) / png.name)
    # only the moved card's own lines changed
    text = card_file.read_text()
    assert text.startswith("---\ntitle: Write the changelog\nstatus: done\norder: ")
    assert text.endswith("## Done when\n\nCHANGELOG.md lists 0.1.\n")
