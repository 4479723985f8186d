"""Modules the app needs soon after its first frame, imported in a thread meanwhile.

Imported on the UI loop, each stopped it for 150 ms or more in the first two seconds: the file
watcher's anyio backend and Rich's Markdown (with pygments) for the Card tab. A key pressed then
waited for them (600 ms for the first j/k). Imported in a thread, they share the interpreter with
the loop instead of stopping it; what needs them starts once they are in
(``KanbanApp._start_background``). The agents' modules are not here: the agents start at once,
and two threads importing modules that import each other can deadlock.
"""

from __future__ import annotations

import importlib

MODULES = (
    "rich.markdown",  # the Card tab's body (and rich.syntax, pygments)
    "anyio._backends._asyncio",  # the file watcher (watchfiles' awatch)
    "watchfiles",
)


def import_modules(modules: tuple[str, ...] = MODULES) -> list[str]:
    """Import ``modules``; the names that failed (each is imported again, and fails with its
    own error, where it is used)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # reported where the module is really used
            failed.append(name)
    return failed
