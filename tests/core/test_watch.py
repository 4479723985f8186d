"""The board watcher: external edits arrive quickly, own writes do not echo, temp files ignored."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from kanban_agents.core.board import BoardStore
from kanban_agents.core.card import CardError
from kanban_agents.core.watch import SettingsReloaded, watch_board
from tests.helpers import write_card


class Watcher:
    def __init__(self, store: BoardStore):
        self.store = store
        self.batches: list[list] = []
        self.stop = asyncio.Event()
        self.arrived = asyncio.Event()

    async def run(self):
        async for batch in watch_board(self.store, stop_event=self.stop):
            self.batches.append((time.perf_counter(), batch))
            self.arrived.set()

    async def next(self, timeout: float = 3.0):
        await asyncio.wait_for(self.arrived.wait(), timeout)
        self.arrived.clear()
        return self.batches[-1]


@pytest.fixture
async def watcher(board_dir: Path):
    write_card(board_dir, "a", "---\ntitle: A\nstatus: todo\n---\nbody\n")
    store = BoardStore.open(board_dir)
    w = Watcher(store)
    task = asyncio.create_task(w.run())
    await asyncio.sleep(0.2)  # let the watcher start
    yield w
    w.stop.set()
    await asyncio.wait_for(task, 5)


async def test_external_edit_arrives_and_updates_store(watcher, board_dir):
    (board_dir / "a.md").write_text("---\ntitle: A edited\nstatus: review\n---\nbody\n")
    _, batch = await watcher.next()
    [change] = batch
    assert change.card_id == "a" and change.kind == "modified"
    assert watcher.store.get("a").status == "review"


async def test_new_and_deleted_files(watcher, board_dir):
    write_card(board_dir, "b", "---\ntitle: B\n---\n")
    _, batch = await watcher.next()
    assert [(c.card_id, c.kind) for c in batch] == [("b", "added")]
    (board_dir / "b.md").unlink()
    _, batch = await watcher.next()
    assert [(c.card_id, c.kind) for c in batch] == [("b", "deleted")]


async def test_own_writes_are_not_echoed(watcher, board_dir):
    watcher.store.move("a", "done")
    watcher.store.create("New card")
    await asyncio.sleep(0.5)
    assert watcher.batches == []


async def test_temp_and_hidden_files_are_filtered(watcher, board_dir):
    for name in (".a.md.swp", "a.md~", ".hidden.md", "x.md.tmp", "4913"):
        (board_dir / name).write_text("junk")
    await asyncio.sleep(0.5)
    assert watcher.batches == []


async def test_atomic_save_by_editor_is_one_change(watcher, board_dir):
    tmp = board_dir / "a.md.tmp"
    tmp.write_text("---\ntitle: A saved\n---\n")
    os.replace(tmp, board_dir / "a.md")
    _, batch = await watcher.next()
    assert [(c.card_id, c.kind) for c in batch] == [("a", "modified")]


async def test_half_written_file_is_reread_until_it_parses(watcher, board_dir):
    path = board_dir / "a.md"
    with open(path, "w") as handle:
        handle.write("---\ntitle: partial")
        handle.flush()
        await asyncio.sleep(0.05)
        handle.write("\nstatus: review\n---\nbody\n")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        entry = watcher.store.entry("a")
        if not isinstance(entry, CardError) and entry.status == "review":
            break
        await asyncio.sleep(0.05)
    assert watcher.store.get("a").status == "review"


async def test_config_change_reloads_settings(watcher, board_dir):
    (board_dir / "kanban.toml").write_text(
        '[board]\ncolumns = ["todo", "doing", "in-progress", "review", "done"]\n'
    )
    _, batch = await watcher.next()
    assert isinstance(batch[0], SettingsReloaded) and batch[0].error is None
    assert watcher.store.settings.column_ids[1] == "doing"
