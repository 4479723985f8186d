"""Board changes as an async iterator, over ``watchfiles.awatch``.

watchfiles groups changes for up to ``debounce`` ms (default 1.6 s) and yields once nothing new
arrived for ``step`` ms, so a short step is what keeps latency low. Temp, hidden and swap files are
filtered out; a file caught half-written is re-read until it parses (or the retries run out, and
then it shows as an error card); the store's own writes do not come back as changes because the
store already holds their content.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, awatch

from ..config import CONFIG_FILE, ConfigError
from .board import BoardChange, BoardStore
from .card import CardError, is_card_file_name

REREAD_DELAYS = (0.02, 0.05, 0.1)


@dataclass(frozen=True)
class SettingsReloaded:
    error: str | None = None


def _interesting(change: Change, path: str) -> bool:
    name = Path(path).name
    return name == CONFIG_FILE or is_card_file_name(name)


async def watch_board(
    store: BoardStore,
    *,
    step_ms: int = 10,
    debounce_ms: int = 150,
    stop_event: asyncio.Event | None = None,
) -> AsyncIterator[list[BoardChange | SettingsReloaded]]:
    """Yield batches of changes to ``store``'s directory; the store is already updated."""
    async for raw in awatch(
        store.root,
        watch_filter=_interesting,
        step=step_ms,
        debounce=debounce_ms,
        recursive=False,
        stop_event=stop_event,
    ):
        paths = sorted({Path(p) for _, p in raw})
        batch: list[BoardChange | SettingsReloaded] = []
        if any(p.name == CONFIG_FILE for p in paths):
            try:
                await asyncio.to_thread(store.reload_settings)
                batch.append(SettingsReloaded())
            except ConfigError as exc:
                batch.append(SettingsReloaded(str(exc)))
            if batch:
                yield batch
            continue
        for path in paths:
            change = await _refresh_until_parsed(store, path)
            if change is not None:
                batch.append(change)
        if batch:
            yield batch


async def _refresh_until_parsed(store: BoardStore, path: Path) -> BoardChange | None:
    change = store.refresh_path(path)
    for delay in REREAD_DELAYS:
        if change is None or not isinstance(change.entry, CardError):
            return change
        # An editor that writes in place can be caught mid-write: give it a moment.
        await asyncio.sleep(delay)
        again = store.refresh_path(path)
        if again is not None:
            change = again
        elif not isinstance(store.entry(change.card_id), CardError):
            return change
    return change
