"""Background failures, shown instead of lost.

A worker that raises, or a run-event subscriber that raises, becomes one notification saying what
stopped and what the user can do about it; the traceback goes to
``<git dir>/kanban-agents/logs/app.log`` (the UI never shows a traceback). The same failure
repeating is shown and logged once per ``REPEAT_QUIET_SECONDS``: a subscriber that breaks on every
log line must not bury the board in notifications.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.session import app_log_path, write_failure_log

REPEAT_QUIET_SECONDS = 30.0


@dataclass(frozen=True)
class Failure:
    title: str  # what stopped
    way_out: str  # what the user can do


# Keyed by worker group: every group the app runs a worker in.
WORKER_FAILURES: dict[str, Failure] = {
    "runs-start": Failure(
        "Agents did not start",
        "Cards moved to the agent column will not run until you restart the app.",
    ),
    "radar": Failure(
        "Conflict radar failed",
        "Conflict warnings may be out of date; it tries again on the next change.",
    ),
    "writes": Failure(
        "Move not saved",
        "The board shows the files as they are on disk; try the move again.",
    ),
    "review": Failure("Review action failed", "Check the card, then press the key again."),
    "tests": Failure("Tests did not run", "Press t to try again."),
    "planning": Failure("Planning failed", "The card is unchanged; press T or S to try again."),
    "log-history": Failure("Run log not loaded", "Select another card and back to load it again."),
    "diff": Failure("Diff not shown", "It is computed again on the agent's next edit."),
    "comments": Failure("Comment not saved", "Press a on the line to write it again."),
    "comment-counts": Failure(
        "Comment counts not loaded", "Cards show ✎ once their Diff tab has been opened."
    ),
    "diff-watch": Failure(
        "Diff stopped following the worktree", "Select another card and back to follow it again."
    ),
    "worktree-disk": Failure(
        "Worktree disk use not measured",
        "The top bar may not warn about disk use; it measures again in a minute.",
    ),
    "worktree-gc": Failure("Worktree cleanup failed", "Run 'kanban-agents gc' to see why."),
    "setup": Failure("Setup did not run", "Press u to try again."),
    "warm-up": Failure(
        "The app did not finish starting",
        "Live reload or the agents may be off: restart the app (the log file says why).",
    ),
    "watch": Failure(
        "Live reload is off",
        "Changes made outside the app will not show until you restart the app.",
    ),
}
UNKNOWN_WORKER = Failure(
    "A background task failed", "The board goes on; restart the app if something looks stale."
)
SUBSCRIBER = Failure(
    "Agent events not shown",
    "Cards and the panel may show stale agent states; restart the app.",
)


def _shown_path(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


class FailureReporter:
    """Turns a failure into a notification and an entry in app.log."""

    def __init__(
        self,
        board_dir: Path,
        notify: Callable[..., object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.board_dir = board_dir
        self.log_path = app_log_path(board_dir)
        self._notify = notify
        self._clock = clock
        self._last_shown: dict[tuple[str, str, str], float] = {}

    def report(self, failure: Failure, error: BaseException, where: str) -> bool:
        """Log and show ``error``; False when the same failure was shown moments ago."""
        key = (failure.title, type(error).__name__, str(error))
        now = self._clock()
        last = self._last_shown.get(key)
        if last is not None and now - last < REPEAT_QUIET_SECONDS:
            return False
        self._last_shown[key] = now
        logged = self.log(f"{failure.title} ({where})", error)
        details = f" Details: {_shown_path(logged)}" if logged is not None else ""
        self._notify(
            f"{describe(error)}. {failure.way_out}{details}",
            title=failure.title,
            severity="error",
            timeout=20,
        )
        return True

    def log(self, what: str, error: BaseException) -> Path | None:
        """Append ``error``'s traceback to app.log; the path, or None if there is none."""
        return write_failure_log(self.board_dir, what, error)

    def show(self, what: str, error: str, way_out: str, logged: Path | None) -> bool:
        """Show a failure the session reported (already logged); quiet when it repeats."""
        key = (what, error, "")
        now = self._clock()
        last = self._last_shown.get(key)
        if last is not None and now - last < REPEAT_QUIET_SECONDS:
            return False
        self._last_shown[key] = now
        details = f" Details: {_shown_path(logged)}" if logged is not None else ""
        self._notify(f"{error}. {way_out.rstrip('.')}.{details}", title=f"{what} failed".capitalize(),
                     severity="error", timeout=20)  # fmt: skip
        return True
