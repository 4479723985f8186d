"""Telling that an agent needs the user: a command agent whose output has stood still for
``runs.idle_seconds`` at a prompt-like line (it waits for an answer nobody will type), or a
built-in agent whose model requests keep failing. Either way an ``AgentBlocked`` event says why;
the board notifies, the ``on_blocked`` hook runs."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

# A last line that asks for something: "(y/n)", "[Y/n]", "(yes/no)", "Continue?", "Password:",
# a bare "> " prompt.
PROMPT_LIKE = re.compile(
    r"\((y/n|yes/no)\)|\[(y/n|yes/no)\]|\(y\)es/\(n\)o|\?\s*(\[[^\]]*\])?\s*:?\s*$|:\s*$|^\s*>\s*$",
    re.IGNORECASE,
)
RETRIES_BEFORE_BLOCKED = 3  # failed model requests in a row


def prompt_like(line: str) -> bool:
    return bool(line.strip()) and PROMPT_LIKE.search(line.rstrip()) is not None


class IdleWatch:
    """Follows a command agent's output (``lines``, ``partial``) and calls ``on_blocked`` once
    when it has not changed for ``idle_seconds`` and its last line is prompt-like; again only
    after the output moved on."""

    def __init__(
        self,
        idle_seconds: float,
        on_blocked: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.idle_seconds = idle_seconds
        self.on_blocked = on_blocked
        self.clock = clock
        self.last_line = ""
        self.pending = ""  # the unfinished last line (a question has no newline yet)
        self.changed = clock()
        self.reported = False

    def lines(self, lines: list[str]) -> None:
        shown = [line for line in lines if line.strip()]
        if shown:
            self.last_line = shown[-1]
        self.pending = ""  # the unfinished line, if any, ended with these
        self._moved()

    def partial(self, text: str) -> None:
        if text != self.pending:
            self.pending = text
            self._moved()

    def _moved(self) -> None:
        self.changed = self.clock()
        self.reported = False

    def check(self) -> None:
        line = self.pending if self.pending.strip() else self.last_line
        idle = self.clock() - self.changed
        if not self.reported and idle >= self.idle_seconds and prompt_like(line):
            self.reported = True
            self.on_blocked(
                f"no output for {idle:.0f}s, and its last line looks like a question: "
                f"{line.strip()[:120]!r}"
            )

    async def watch(self) -> None:
        """Checks until cancelled (the agent's command ended)."""
        step = min(max(self.idle_seconds / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(step)
            self.check()


class RetryStreak:
    """Counts failed model requests since the last good turn; at ``threshold`` in a row the
    agent is reported blocked (once per streak)."""

    def __init__(self, on_blocked: Callable[[str], None], threshold: int = RETRIES_BEFORE_BLOCKED):
        self.on_blocked = on_blocked
        self.threshold = threshold
        self.failures = 0
        self.last = ""

    def failed(self, why: str) -> None:
        self.failures += 1
        self.last = why
        if self.failures == self.threshold:
            self.on_blocked(f"the model server failed {self.failures} times in a row: {why}")

    def succeeded(self) -> None:
        self.failures = 0
