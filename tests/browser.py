"""A real browser for tests: Debian's headless chromium under selenium (chromium-driver), with the
terminal's text read from xterm.js's own buffer and the mouse moved over its cells.

textual-serve draws with xterm.js on a canvas (WebGL, else 2D), so the text is not in the DOM.
A script run before the page's own catches the ``Terminal`` as textual.js stores it
(``this.terminal = new Terminal(...)``), through a one-shot setter on ``Object.prototype``.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer) window.__kanbanTerminal = value;
  },
});
"""

SCREEN_TEXT = """
const t = window.__kanbanTerminal;
if (!t) return null;
const buffer = t.buffer.active, lines = [];
for (let y = 0; y < t.rows; y++) {
  const line = buffer.getLine(buffer.viewportY + y);
  lines.push(line ? line.translateToString(true) : '');
}
const box = document.querySelector('.xterm-screen').getBoundingClientRect();
return {lines, cols: t.cols, rows: t.rows, left: box.left, top: box.top,
        width: box.width, height: box.height};
"""


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not any(shutil.which(name) for name in CHROMIUM):
        return "no chromium (Debian: apt-get install chromium chromium-driver)"
    if not shutil.which(DRIVER):
        return "no chromedriver (Debian: apt-get install chromium-driver)"
    return None


@dataclass(frozen=True)
class Screen:
    lines: list[str]
    cols: int
    rows: int
    left: float
    top: float
    width: float
    height: float

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def find(self, text: str) -> tuple[int, int]:
        """(column, row) of the first cell of ``text`` on the screen."""
        for row, line in enumerate(self.lines):
            col = line.find(text)
            if col >= 0:
                return col, row
        raise AssertionError(f"{text!r} is not on the screen:\n{self.text}")

    def pixel(self, col: float, row: float) -> tuple[int, int]:
        """The viewport pixel at the middle of a cell."""
        return (
            int(self.left + (col + 0.5) * self.width / self.cols),
            int(self.top + (row + 0.5) * self.height / self.rows),
        )


class Browser:
    def __init__(self, width: int = 1400, height: int = 900):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        for flag in (
            "--headless=new",
            "--no-sandbox",  # root in a container
            "--disable-dev-shm-usage",
            f"--window-size={width},{height}",
        ):
            options.add_argument(flag)
        options.binary_location = next(shutil.which(n) for n in CHROMIUM if shutil.which(n))
        self.driver = webdriver.Chrome(service=Service(shutil.which(DRIVER)), options=options)
        self.driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": CATCH_TERMINAL}
        )

    def open(self, url: str) -> None:
        self.driver.get(url)

    def screen(self) -> Screen | None:
        data = self.driver.execute_script(SCREEN_TEXT)
        return Screen(**data) if data else None

    def wait_for(self, *texts: str, timeout: float = 30) -> Screen:
        deadline = time.monotonic() + timeout
        screen = None
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen is not None and all(t in screen.text for t in texts):
                return screen
            time.sleep(0.2)
        shown = screen.text if screen else "(no terminal)"
        raise AssertionError(f"{texts} did not appear in {timeout}s; the screen:\n{shown}")

    def wait_for_match(self, pattern: str, timeout: float = 15) -> Screen:
        deadline = time.monotonic() + timeout
        screen = None
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen is not None and re.search(pattern, screen.text):
                return screen
            time.sleep(0.2)
        shown = screen.text if screen else "(no terminal)"
        raise AssertionError(f"{pattern!r} did not appear in {timeout}s; the screen:\n{shown}")

    def move_to(self, point: tuple[int, int]) -> None:
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        actions = ActionBuilder(self.driver, duration=30)
        actions.pointer_action.move_to_location(*point)
        actions.perform()

    def drag(self, start: tuple[int, int], end: tuple[int, int], steps: int = 8) -> None:
        """Press the left button at ``start``, move in steps, release at ``end`` (pixels)."""
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        actions = ActionBuilder(self.driver, duration=50)
        pointer = actions.pointer_action
        # Paced like a person's drag: rest on the card, press, wait, move, rest, release. Sent
        # back to back, the drop was lost about one run in six on a loaded machine.
        pointer.move_to_location(*start).pause(0.2).pointer_down().pause(0.2)
        for i in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * i // steps
            y = start[1] + (end[1] - start[1]) * i // steps
            pointer.move_to_location(x, y)
        pointer.pause(0.2).pointer_up()
        actions.perform()

    def save_png(self, path) -> None:
        self.driver.save_screenshot(str(path))

    def close(self) -> None:
        self.driver.quit()
