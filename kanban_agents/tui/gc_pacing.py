"""Python's full garbage collection, run when the user is not typing.

A board with agents at work holds a couple of hundred thousand long-lived objects (mostly the
rendered lines Textual keeps), and a full (generation 2) collection scans all of them: 40-300 ms
with the UI loop stopped, a dozen times a minute under ten flooding agents, which was most of
the slow key presses. Young garbage is still collected as usual (generations 0 and 1: short and
frequent); the full collection is taken off Python's automatic schedule and run here, once the
user has been idle for a moment, and at the latest every ``LONGEST_GAP`` seconds so that
garbage which lived long is still freed; only when one is due, as Python would count it (an idle
board allocating nothing is never scanned).

What survives a full collection is frozen (``gc.freeze``): it has lived long and will mostly live
on, and the next full collections scan only what came after. A scan of everything found nothing
to free under a flood (after the fixes in ``textual_internals``) and still took 110-170 ms; the
frozen objects are thawed and scanned again only when the user is idle, at most every
``THAW_SECONDS`` (or after ``LONGEST_THAW`` of typing), so that a cycle among them is freed too.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

IDLE_SECONDS = 1.0  # no key press or click for this long
CHECK_SECONDS = 2.0  # how often the app asks
LONGEST_GAP = 30.0  # a full collection at least this often, idle or not
NEVER = 1_000_000  # Python's third threshold: a full collection every million young ones
DUE_AFTER = 10  # middle-generation collections since the last full one (Python's own default)
THAW_SECONDS = 120.0  # an idle full collection scans the frozen objects too, at most this often
LONGEST_THAW = 600.0  # and one does, idle or not, at least this often


class IdleCollector:
    def __init__(
        self, last_input: Callable[[], float], clock: Callable[[], float] = time.monotonic
    ):
        self._last_input = last_input
        self._clock = clock
        self._last_full = clock()
        self._last_thaw = clock()
        self._froze = False
        self._thresholds: tuple[int, int, int] | None = None
        self.collections = 0
        self.thaws = 0

    def start(self) -> None:
        """Take full collections off Python's schedule (``stop`` puts them back)."""
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            young, middle, _ = self._thresholds
            gc.set_threshold(young, middle, NEVER)

    def stop(self) -> None:
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        if self._froze:  # what this app froze is scanned again by Python's own collections
            gc.unfreeze()
            self._froze = False

    def tick(self) -> bool:
        """Run a full collection if the user is idle (or the last one is long ago)."""
        if gc.get_count()[2] < DUE_AFTER:  # little has lived long since the last one: not due
            return False
        now = self._clock()
        idle = now - self._last_input() >= IDLE_SECONDS
        if not idle and now - self._last_full < LONGEST_GAP:
            return False
        if idle and now - self._last_full < CHECK_SECONDS:
            return False
        since_thaw = now - self._last_thaw
        if (idle and since_thaw >= THAW_SECONDS) or since_thaw >= LONGEST_THAW:
            gc.unfreeze()
            self._last_thaw = now
            self.thaws += 1
        gc.collect(2)
        gc.freeze()  # what survived is long-lived: the next full collection skips it
        self._froze = True
        self._last_full = self._clock()
        self.collections += 1
        return True
