"""A card's start on a big repository with a warm pool, against a bare ``git worktree add``.

Run:
    python bench/worktree_pool.py                      # 100,000 files, 5 measured rounds
    python bench/worktree_pool.py --files 20000 --runs 3

Each round, on the same generated repository and in one run (the disk's speed swings absolute
times a lot, FACTS.md):

1. bare: ``git worktree add -b BR PATH main`` (what a start costs without a pool, at least);
2. pool: a card moved to in-progress with ``[worktrees] pool = 1``, the clock running from just
   before ``store.move`` to the scripted model server receiving the first request (the same
   probe as ``run_startup.py``);
3. no pool: the same card start with ``pool = 0`` (the app's usual path), for context.

The pool is refilled between starts, outside the clock: that is its point (it fills in the
background after each start); no measurement runs beside a refill. The sandbox is off (its
probe is the same for all three and is measured in ``sandbox_overhead.py``). Worktrees and branches are removed between rounds.

Goal (issue 14): the pool start under 0.3 s and at least 10x faster than the bare add. The
repository is ``run_startup.generate_repo`` (small text files in a nested tree); results go to
``bench/out/worktree_pool.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, write_json
from run_startup import FirstRequests, generate_repo, git

from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.runs import RunManager
from kanban_agents.core.worktree_pool import WarmPool

GOAL_SECONDS = 0.3
GOAL_SPEEDUP = 10.0
RUN_TIMEOUT = 600.0


def disk_bytes(path: Path) -> int:
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total


def bare_add(repo: Path, worktrees: Path, name: str) -> float:
    import subprocess

    path = worktrees / name
    start = time.perf_counter()
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", "-b", f"bare/{name}",
                    str(path), "main"], check=True, capture_output=True)  # fmt: skip
    elapsed = time.perf_counter() - start
    git(repo, "worktree", "remove", "--force", str(path))
    git(repo, "branch", "-D", f"bare/{name}")
    return elapsed


class Starter:
    """A RunManager over the repository's board, its model a scripted server."""

    def __init__(self, repo: Path, server: ScriptedServer, responder: FirstRequests):
        self.repo = repo
        self.store = BoardStore.open(repo / "board")
        self.responder = responder
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bench-not-a-secret",
               "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}  # fmt: skip
        self.runs = RunManager(self.store, environ=env)
        self.log: dict[str, list[str]] = {}
        self.runs.subscribe(
            lambda e: self.log.setdefault(e.card_id, []).append(getattr(e, "text", ""))
        )

    def set_pool(self, size: int) -> None:
        (self.repo / "board" / "kanban.toml").write_text(
            f'[worktrees]\npool = {size}\n[sandbox]\nmode = "off"\n', encoding="utf-8"
        )
        self.store.reload_settings()

    async def start(self, card_id: str) -> float:
        self.store.create(f"Probe {card_id}", status="todo", card_id=card_id,
                          body="\n## Task\n\nCall finish at once.\n")  # fmt: skip
        begin = time.perf_counter()
        await asyncio.to_thread(self.store.move, card_id, "in-progress")
        first = await self.responder.wait(card_id, RUN_TIMEOUT)
        status = await asyncio.wait_for(self.runs.wait(card_id), RUN_TIMEOUT)
        if status is None or status.state != "review":
            raise SystemExit(
                f"{card_id} ended {status and status.state}: {status and status.reason}"
            )
        space = self.runs.workspace_for(self.store.get(card_id))
        git(self.repo, "worktree", "remove", "--force", str(space.path))
        git(self.repo, "branch", "-D", space.branch)
        return first - begin


async def measure(args: argparse.Namespace, tmp: Path) -> dict:
    started = time.perf_counter()
    info = generate_repo(tmp / "repo", args.files, args.seed)
    repo = info.root
    generated = time.perf_counter() - started
    checkout_bytes = disk_bytes(repo) - disk_bytes(repo / ".git")
    (repo / "board").mkdir()
    (repo / "board" / "kanban.toml").write_text("", encoding="utf-8")
    git(repo, "add", "board")
    git(repo, "commit", "-qm", "board")
    worktrees = repo.parent / "repo-worktrees"
    pool = WarmPool(repo, worktrees, 1)
    print(f"repository: {args.files:,} files, {checkout_bytes / 1e6:.0f} MB checkout "
          f"(generated in {generated:.0f} s)", flush=True)  # fmt: skip

    responder = FirstRequests()
    rows, bare_times, pool_times, plain_times, took_spare = [], [], [], [], 0
    with ScriptedServer(responder) as server:
        starter = Starter(repo, server, responder)
        starter.set_pool(1)
        await starter.runs.start()
        for n in range(args.runs + 1):  # round 0 warms up (imports, caches)
            fill = time.perf_counter()
            while len(pool.ready()) < 1:  # the background refill, outside the clock
                await asyncio.sleep(0.05)
            fill = time.perf_counter() - fill
            bare = bare_add(repo, worktrees, f"b{n}")
            pooled = await starter.start(f"pool-{n}")
            took_spare += any("warm pool" in line for line in starter.log.get(f"pool-{n}", []))
            while len(pool.ready()) < 1:  # the refill this start began: not beside the next
                await asyncio.sleep(0.05)
            starter.set_pool(0)
            plain = await starter.start(f"plain-{n}")
            starter.set_pool(1)
            starter.runs.workspaces.pool_changed()
            label = "warm-up" if n == 0 else str(n)
            rows.append((label, ms(bare), ms(pooled), ms(plain), f"{bare / pooled:.1f}x",
                         f"{fill:.1f} s"))  # fmt: skip
            print(*rows[-1], flush=True)
            if n:
                bare_times.append(bare)
                pool_times.append(pooled)
                plain_times.append(plain)
        await starter.runs.stop()

    print()
    print_table(("round", "bare add ms", "pool start ms", "no-pool start ms", "bare/pool",
                 "pool refill wait"), rows)  # fmt: skip
    bare_median, pool_median = statistics.median(bare_times), statistics.median(pool_times)
    speedup = bare_median / pool_median
    print(f"\nmedians: bare add {ms(bare_median)} ms, pool start {ms(pool_median)} ms, "
          f"no-pool start {ms(statistics.median(plain_times))} ms; speed-up {speedup:.1f}x")  # fmt: skip
    print(f"goal: pool start < {GOAL_SECONDS * 1000:.0f} ms and >= {GOAL_SPEEDUP:.0f}x: "
          f"{'met' if pool_median < GOAL_SECONDS and speedup >= GOAL_SPEEDUP else 'NOT met'}"
          f" (spares taken in {took_spare} of {args.runs + 1} pool starts)")  # fmt: skip
    return {
        "files": args.files,
        "checkout_bytes": checkout_bytes,
        "bare_add": summarize(bare_times),
        "pool_start": summarize(pool_times),
        "no_pool_start": summarize(plain_times),
        "speedup_of_medians": speedup,
        "spares_taken": took_spare,
        "goal_met": pool_median < GOAL_SECONDS and speedup >= GOAL_SPEEDUP,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kanban-pool-bench-"))
    try:
        result = asyncio.run(measure(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_json("worktree_pool", result)


if __name__ == "__main__":
    main()
