"""``[hooks]`` of kanban.toml: a shell command run when a card reaches review, fails, is blocked
or is merged, with the card in its environment (``KANBAN_CARD``, ``KANBAN_TITLE``,
``KANBAN_STATE``, ``KANBAN_WORKTREE``, ``KANBAN_REASON``, ``KANBAN_HOOK``), for the user to wire
a chat message, ntfy or a sound.

A hook runs in a thread of its own, in its own process group, so a slow one never holds up the
board; one that fails or outlives ``hooks.timeout`` (its whole group is then killed) is reported
through ``report`` (the card's log and the board). The threads are not daemons: a command that
ends (``run --wait``, ``merge``) waits for its hooks, at most their timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Hook(StrEnum):
    ON_REVIEW = "on_review"
    ON_FAILED = "on_failed"
    ON_BLOCKED = "on_blocked"
    ON_MERGED = "on_merged"


@dataclass(frozen=True)
class HookCall:
    hook: Hook
    card_id: str
    title: str
    state: str
    worktree: str
    reason: str = ""
    run: int = 0

    def environment(self) -> dict[str, str]:
        return {
            "KANBAN_HOOK": str(self.hook),
            "KANBAN_CARD": self.card_id,
            "KANBAN_TITLE": self.title,
            "KANBAN_STATE": self.state,
            "KANBAN_WORKTREE": self.worktree,
            "KANBAN_REASON": self.reason,
            "KANBAN_RUN": str(self.run),
        }


Report = Callable[[HookCall, str], None]  # the call, what went wrong


class HookRunner:
    def __init__(
        self,
        settings,
        cwd: Path,
        report: Report,
        environ: Mapping[str, str] | None = None,
    ):
        self.settings = settings  # HookSettings
        self.cwd = cwd
        self.report = report
        self.environ = environ
        self.threads: list[threading.Thread] = []

    def command(self, hook: Hook) -> str:
        return str(getattr(self.settings, hook.value, "") or "")

    def fire(self, call: HookCall) -> threading.Thread | None:
        """Start the hook's command in the background; None when no command is set."""
        command = self.command(call.hook)
        if not command.strip():
            return None
        thread = threading.Thread(
            target=self._run, args=(command, call), name=f"hook-{call.hook}-{call.card_id}"
        )
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def wait(self, timeout: float | None = None) -> None:
        for thread in list(self.threads):
            thread.join(timeout)

    def _run(self, command: str, call: HookCall) -> None:
        timeout = self.settings.timeout
        env = {**(os.environ if self.environ is None else self.environ), **call.environment()}
        try:
            proc = subprocess.Popen(
                command, shell=True, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            self.report(call, f"hook {call.hook} could not start ({command!r}): {exc}")
            return
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            self.report(
                call,
                f"hook {call.hook} ({command!r}) ran longer than hooks.timeout = {timeout:g}s "
                "and was stopped",
            )
            return
        if proc.returncode != 0:
            lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
            last = f": {lines[-1][:200]}" if lines else ""
            self.report(
                call, f"hook {call.hook} ({command!r}) failed, exit {proc.returncode}{last}"
            )
