"""Drive a program in a real terminal: a private tmux server per run, polled with capture-pane.

Not a benchmark itself; used by ``tui_startup.py`` and ``tui_keypress.py``. Every server gets
its own socket name (``tmux -L``) and no user config (``-f /dev/null``), and is killed on exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from itertools import count
from typing import Any

from benchutil import summarize

_serial = count(1)
TERM = "xterm-256color"
POLL_INTERVAL = 0.0  # seconds to sleep between polls; 0 polls as fast as possible


class TmuxError(RuntimeError):
    pass


class Tmux:
    """One tmux server with one session running ``command``."""

    def __init__(self, command: str, width: int = 160, height: int = 45) -> None:
        if shutil.which("tmux") is None:
            raise TmuxError("tmux is not installed")
        self.command = command
        self.width = width
        self.height = height
        self.socket = f"kbench-{os.getpid()}-{next(_serial)}"
        self.env = {**os.environ, "TERM": TERM}
        self.started: float | None = None
        self.socket_path: str | None = None

    def _argv(self, *args: str) -> list[str]:
        return ["tmux", "-f", "/dev/null", "-L", self.socket, *args]

    def start(self) -> float:
        """Start the server and the program; returns the perf_counter taken just before."""
        argv = self._argv("new-session", "-d", "-s", "bench", "-x", str(self.width),
                          "-y", str(self.height), "-e", f"TERM={TERM}", self.command)  # fmt: skip
        self.started = time.perf_counter()
        subprocess.run(argv, env=self.env, check=True, stdout=subprocess.DEVNULL)
        return self.started

    def capture(self, escapes: bool = False) -> str:
        """The visible screen as text; with ``escapes``, with colour/attribute sequences too
        (so a change of highlight shows)."""
        flags = ("-p", "-e") if escapes else ("-p",)
        result = subprocess.run(self._argv("capture-pane", *flags, "-t", "bench"),
                                capture_output=True, text=True, env=self.env)  # fmt: skip
        if result.returncode != 0:
            raise TmuxError(f"capture-pane failed (did the program exit?): {result.stderr.strip()}")
        return result.stdout

    def send_keys(self, *keys: str) -> None:
        subprocess.run(self._argv("send-keys", "-t", "bench", *keys), env=self.env, check=True)

    def kill(self) -> None:
        if self.started is not None and self.socket_path is None:
            result = subprocess.run(self._argv("display-message", "-p", "#{socket_path}"),
                                    env=self.env, capture_output=True, text=True)  # fmt: skip
            self.socket_path = result.stdout.strip() or None
        subprocess.run(self._argv("kill-server"), env=self.env, capture_output=True)
        if self.socket_path:  # tmux 3.3 leaves the socket file behind
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()

    def wait_until(self, predicate: Callable[[str], bool], start: float, timeout: float,
                   escapes: bool = False) -> tuple[float | None, str, int]:  # fmt: skip
        """Poll capture-pane as fast as possible until ``predicate(screen)``.

        Returns (seconds since ``start`` when the screen matched or None on timeout, the last
        screen, number of polls)."""
        polls = 0
        screen = ""
        while True:
            screen = self.capture(escapes)
            now = time.perf_counter()
            polls += 1
            if predicate(screen):
                return now - start, screen, polls
            if now - start > timeout:
                return None, screen, polls
            if POLL_INTERVAL:
                time.sleep(POLL_INTERVAL)


def call_overhead(tmux: Tmux, calls: int = 50) -> dict[str, dict]:
    """What one capture-pane call (and one no-op send-keys round trip) costs, in seconds."""
    capture = []
    for _ in range(calls):
        start = time.perf_counter()
        tmux.capture()
        capture.append(time.perf_counter() - start)
    display = []
    for _ in range(calls):
        start = time.perf_counter()
        subprocess.run(tmux._argv("display-message", "-p", "x"), env=tmux.env, capture_output=True)
        display.append(time.perf_counter() - start)
    return {"capture_pane": summarize(capture), "tmux_command": summarize(display)}
