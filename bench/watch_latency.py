"""Latency from an external write of a card file to the change coming out of ``watch_board``.

Run:
    . .venv/bin/activate
    python bench/watch_latency.py                  # 1,000-card board, 50 edits
    python bench/watch_latency.py --cards 5000 --edits 100

Goal: median < 100 ms from the write to the watcher yielding a ``BoardChange`` for that card.
Half the edits are a plain ``write_text``, half an atomic save (``<name>.md.tmp`` then
``os.replace``, as editors do). The script also checks own-write suppression: a write made by
``store.move(...)`` must yield NO change (the store already holds that content).

The board is generated into a temp dir and removed afterwards. Results go to
``bench/out/watch_latency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, verdict, write_json
from gen_board import COLUMNS, generate_board

from kanban_agents.core.board import BoardChange, BoardStore
from kanban_agents.core.card import Card
from kanban_agents.core.watch import watch_board

GOAL_MEDIAN = 0.100
TIMEOUT = 5.0


class Watcher:
    """Runs ``watch_board`` in a task and timestamps every change it yields."""

    def __init__(self, store: BoardStore) -> None:
        self.store = store
        self.queue: asyncio.Queue[tuple[float, BoardChange]] = asyncio.Queue()
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Watcher:
        self.task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        assert self.task is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.task, 5)

    async def _run(self) -> None:
        async for batch in watch_board(self.store, stop_event=self.stop):
            now = time.perf_counter()
            for item in batch:
                if isinstance(item, BoardChange):
                    self.queue.put_nowait((now, item))

    def drain(self) -> list[BoardChange]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait()[1])
        return items

    async def wait_for(self, card_id: str, timeout: float) -> tuple[float, BoardChange] | None:
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            try:
                seen, change = await asyncio.wait_for(self.queue.get(), left)
            except TimeoutError:
                return None
            if change.card_id == card_id:
                return seen, change
        return None

    async def collect(self, seconds: float) -> list[BoardChange]:
        await asyncio.sleep(seconds)
        return self.drain()


def write_plain(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


async def ready(watcher: Watcher, store: BoardStore, probe: Card) -> None:
    """Wait until the watcher reports changes: rewrite a probe card until one comes back."""
    for attempt in range(50):
        write_plain(probe.path, probe.text + f"\n<!-- warm-up {attempt} -->\n")
        if await watcher.wait_for(probe.id, 0.2) is not None:
            await asyncio.sleep(0.2)
            watcher.drain()
            return
    raise SystemExit("the watcher never reported a change")


async def run(args: argparse.Namespace, board: Path) -> dict:
    store = BoardStore.open(board)
    rng = random.Random(args.seed)
    ids = sorted(store.cards)
    targets = rng.sample(ids[1:], args.edits)
    by_kind: dict[str, list[float]] = {"plain": [], "atomic": []}
    rows: list[dict] = []
    async with Watcher(store) as watcher:
        await ready(watcher, store, store.get(ids[0]))
        for i, card_id in enumerate(targets):
            kind = "atomic" if i % 2 else "plain"
            card = store.get(card_id)
            text = card.text + f"\nEdited externally, round {i}.\n"
            start = time.perf_counter()
            (write_atomic if kind == "atomic" else write_plain)(card.path, text)
            got = await watcher.wait_for(card_id, TIMEOUT)
            latency = None if got is None else got[0] - start
            fresh = got is not None and isinstance(got[1].entry, Card) and got[1].entry.text == text
            rows.append({"card": card_id, "kind": kind, "latency": latency, "content_ok": fresh})
            if latency is not None:
                by_kind[kind].append(latency)
            await asyncio.sleep(args.gap)  # let this batch settle before the next edit
            watcher.drain()

        # Own writes: store.move rewrites the file atomically; nothing should come back.
        own = []
        for i, card_id in enumerate(
            rng.sample([c for c in ids if c not in targets], args.own_writes)
        ):
            current = store.status_of(store.get(card_id))
            target = COLUMNS[(COLUMNS.index(current) + 1 + i) % len(COLUMNS)]
            moved = await asyncio.to_thread(store.move, card_id, target)
            echoed = [c for c in await watcher.collect(args.own_wait) if c.card_id == card_id]
            own.append({"card": card_id, "to": target, "written": store.status_of(moved) == target,
                        "echoed_changes": len(echoed)})  # fmt: skip

    latencies = [r["latency"] for r in rows if r["latency"] is not None]
    return {
        "cards": len(ids),
        "edits": args.edits,
        "timeouts": sum(1 for r in rows if r["latency"] is None),
        "content_mismatches": sum(
            1 for r in rows if r["latency"] is not None and not r["content_ok"]
        ),
        "all": summarize(latencies),
        "plain": summarize(by_kind["plain"]),
        "atomic": summarize(by_kind["atomic"]),
        "goal_median": GOAL_MEDIAN,
        "rows": rows,
        "own_writes": own,
        "own_writes_echoed": sum(o["echoed_changes"] for o in own),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Latency of watch_board for external edits.")
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--own-writes", type=int, default=5, help="store.move calls to check")
    parser.add_argument("--own-wait", type=float, default=1.0,
                        help="seconds to wait for an (unwanted) echo of each own write")  # fmt: skip
    parser.add_argument("--gap", type=float, default=0.05, help="pause between edits (s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kanban-bench-") as tmp:
        board = Path(tmp) / "board"
        generate_board(board, args.cards, seed=args.seed)
        results = asyncio.run(run(args, board))

    print(
        f"\nwatch_board latency, external write -> change yielded ({results['cards']:,} cards), ms"
    )
    table = []
    for kind in ("all", "plain", "atomic"):
        s = results[kind]
        table.append([kind, s["n"], ms(s["median"]), ms(s["p90"]), ms(s["min"]), ms(s["max"]),
                      f"< {GOAL_MEDIAN * 1000:.0f} {verdict(s['median'], GOAL_MEDIAN)}" if kind == "all" else ""])  # fmt: skip
    print_table(["writes", "n", "median", "p90", "min", "max", "goal (median)"], table)
    print(f"timeouts (> {TIMEOUT:.0f} s): {results['timeouts']}; "
          f"changes whose content did not match the write: {results['content_mismatches']}")  # fmt: skip
    own = results["own_writes"]
    ok = sum(1 for o in own if o["written"] and not o["echoed_changes"])
    print(f"own writes (store.move): {ok}/{len(own)} written and not echoed; "
          f"echoed changes: {results['own_writes_echoed']} (want 0)")  # fmt: skip
    print(f"\nwrote {write_json('watch_latency', results)}")


if __name__ == "__main__":
    main()
