"""The real CLI in a real terminal: tmux runs ``python -m kanban_agents BOARD``, we read the pane
and type keys, and check what lands on disk and what the screen shows."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from kanban_agents.core.board import BoardStore

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

WIDTH, HEIGHT = 120, 30
COLUMN_WIDTH = WIDTH // 4  # no side panel below 140 columns: four equal columns
LIMIT = 30.0  # seconds: a ceiling for each wait (cold start of Python + Textual), not a speed test


class Tmux:
    """One private tmux server on its own socket, so the test never touches the user's."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"kanban-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.config = workdir / "tmux.conf"
        self.config.write_text("set -g default-terminal xterm-256color\n")
        self.socket_path: Path | None = None

    def run(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, "-f", str(self.config), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def start(self, *args: str) -> None:
        self.run("new-session", "-d", "-s", "app", *args)
        # tmux leaves its socket file behind when the server exits: note it to remove it
        self.socket_path = Path(self.run("display-message", "-p", "#{socket_path}").strip())

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)


def wait_for(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def column_of(screen: str, text: str) -> int | None:
    """The board column (0-based) where ``text`` starts on screen, or None if it is not shown."""
    for line in screen.splitlines():
        x = line.find(text)
        if x >= 0:
            return x // COLUMN_WIDTH
    return None


def status_on_disk(board: Path, card_id: str) -> str | None:
    return BoardStore.open(board).get(card_id).status


def read_exit_status(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def test_keys_in_a_real_terminal_move_a_card(sample_board: Path, tmp_path: Path):
    tmux = Tmux(tmp_path)
    exit_file = tmp_path / "exit-status"
    # A shell waits for the app and writes its exit status (tmux itself does not always reap
    # a pane's process promptly). COLUMNS/LINES would override the pane's size: unset them.
    script = '"$0" -m kanban_agents "$1"; echo $? > "$2"'
    command = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES", "TERM=xterm-256color",
                          "sh", "-c", script, sys.executable, str(sample_board), str(exit_file)])  # fmt: skip
    try:
        tmux.start("-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(tmp_path),
                   "-e", "TERM=xterm-256color", command)  # fmt: skip
        assert wait_for(lambda: "Add login rate limiting" in tmux.screen()), tmux.screen()
        screen = tmux.screen()
        for title in ("To Do", "In Progress", "Review", "Done"):
            assert title in screen, screen
        assert column_of(screen, "Add login rate limiting") == 0
        assert column_of(screen, "Export the report as CSV") == 1

        tmux.run("send-keys", "-t", "app", "j")
        tmux.run("send-keys", "-t", "app", "L")
        assert wait_for(
            lambda: status_on_disk(sample_board, "add-login-rate-limit") == "in-progress"
        )
        assert wait_for(lambda: column_of(tmux.screen(), "Add login rate limiting") == 1), (
            tmux.screen()
        )
        assert "add-login-rate-limit" in [
            c.id for c in BoardStore.open(sample_board).column_cards("in-progress")
        ]

        tmux.run("send-keys", "-t", "app", "q")
        # The move started the card's agent: if it is still queued or running, quitting asks
        # first, with Cancel focused (a destructive choice); choose Quit.
        asks = "Quit and stop the agents?"

        def quit_asks() -> bool:
            if read_exit_status(exit_file) != "":
                return False  # quit at once (the app and its pane are gone)
            try:
                return asks in tmux.screen()
            except subprocess.CalledProcessError:
                return False

        if wait_for(lambda: quit_asks() or read_exit_status(exit_file) != "") and quit_asks():
            tmux.run("send-keys", "-t", "app", "Left")
            tmux.run("send-keys", "-t", "app", "Enter")
        assert wait_for(lambda: read_exit_status(exit_file) != ""), tmux.screen()
        assert read_exit_status(exit_file) == "0"
    finally:
        tmux.kill()
