"""How long `kanban-agents --board DIR list --json` takes as a fresh process.

Run:
    . .venv/bin/activate
    python bench/list_speed.py                 # boards of 1,000 and 10,000 cards, 5 runs each
    python bench/list_speed.py --sizes 1000 --runs 3

Goal: 1,000 cards in < 0.3 s and 10,000 cards in < 2 s of wall clock, start to exit, stdout to
/dev/null. The floor is `python -c pass` with the same interpreter, timed the same way. For the
largest board the script also splits the time inside one process (in a fresh interpreter each
run, so imports are cold): importing ``kanban_agents.cli``, ``BoardStore.open``, building the
JSON data (``card_json``, which lints each card) and serialising it.

Each size is timed twice: as it is used day to day (the card cache from the previous run is
valid) and as a first run after a clone (an empty cache: ``XDG_CACHE_HOME`` points at a new
empty directory for every run, since the generated boards live outside git).

Boards are generated into a temp dir (``gen_board.py``) and removed afterwards. Results go to
``bench/out/list_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, verdict, write_json
from gen_board import generate_board

GOALS = {1000: 0.3, 10_000: 2.0}

# Runs in a fresh interpreter; prints one JSON object of phase timings (seconds).
SPLIT_CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
import kanban_agents.cli
from kanban_agents.cli_board import card_json, error_json
t1 = time.perf_counter()
from kanban_agents.core.board import BoardStore
t2 = time.perf_counter()
store = BoardStore.open(sys.argv[1])
t3 = time.perf_counter()
columns = store.columns()
data = {
    "board": str(store.root),
    "columns": [{"id": c.id, "title": c.title, "wip": c.wip, "count": len(c.cards)} for c in columns],
    "cards": [card_json(store, card) for c in columns for card in c.cards],
    "errors": [error_json(e) for e in store.errors],
}
t4 = time.perf_counter()
with open(os.devnull, "w") as out:
    json.dump(data, out, indent=2, ensure_ascii=False)
t5 = time.perf_counter()
print(json.dumps({"import_cli": t1 - t0, "import_board": t2 - t1, "open": t3 - t2,
                  "build_json": t4 - t3, "dump_json": t5 - t4, "total": t5 - t0,
                  "cards": len(data["cards"])}))
"""


def time_process(argv: list[str], runs: int, warmup: int = 1, cold: bool = False) -> list[float]:
    """``cold``: every run starts with an empty card cache (a first run after a clone)."""

    def env() -> dict[str, str] | None:
        return {**os.environ, "XDG_CACHE_HOME": tempfile.mkdtemp()} if cold else None

    for _ in range(warmup):
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=env())
    samples = []
    for _ in range(runs):
        run_env = env()
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=run_env)
        samples.append(time.perf_counter() - start)
    return samples


def split_phases(board: Path, runs: int) -> dict[str, dict]:
    argv = [sys.executable, "-c", SPLIT_CHILD, str(board)]
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)  # warm-up (page cache, .pyc)
    rows = [json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
            for _ in range(runs)]  # fmt: skip
    return {key: summarize([r[key] for r in rows]) for key in rows[0] if key != "cards"}


def main() -> None:
    parser = argparse.ArgumentParser(description="Wall clock of 'kanban-agents list --json'.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    exe = Path(sys.executable).parent / "kanban-agents"
    if not exe.exists():
        sys.exit(f"{exe} not found: run with the project's venv python")
    results: dict = {"runs": args.runs, "sizes": {}}
    floor = summarize(time_process([sys.executable, "-c", "pass"], args.runs))
    results["floor_python_c_pass"] = floor
    rows = [
        [
            "python -c pass (floor)",
            "-",
            ms(floor["median"]),
            ms(floor["min"]),
            ms(floor["max"]),
            "-",
            "",
        ]
    ]

    with tempfile.TemporaryDirectory(prefix="kanban-bench-") as tmp:
        for size in args.sizes:
            board = Path(tmp) / f"board-{size}"
            generate_board(board, size, seed=args.seed)
            argv = [str(exe), "--board", str(board), "list", "--json"]
            stats = summarize(time_process(argv, args.runs))
            cold = summarize(time_process(argv, args.runs, cold=True))
            goal = GOALS.get(size)
            stats["goal"] = goal
            stats["ratio_to_floor"] = stats["median"] / floor["median"]
            results["sizes"][str(size)] = stats
            rows.append([f"list --json, {size:,} cards", size, ms(stats["median"]), ms(stats["min"]),
                         ms(stats["max"]), f"{stats['ratio_to_floor']:.1f}x",
                         f"< {goal * 1000:.0f} ms {verdict(stats['median'], goal)}" if goal else ""])  # fmt: skip
            results["sizes"][str(size)]["no_cache"] = cold
            rows.append(["  same, no card cache yet", size, ms(cold["median"]), ms(cold["min"]),
                         ms(cold["max"]), f"{cold['median'] / floor['median']:.1f}x",
                         f"< {goal * 1000:.0f} ms {verdict(cold['median'], goal)}" if goal else ""])  # fmt: skip
        largest = max(args.sizes)
        phases = split_phases(Path(tmp) / f"board-{largest}", args.runs)
        results["split"] = {"cards": largest, "phases": phases}

    print(f"\nkanban-agents list --json as a fresh process ({args.runs} runs after 1 warm-up), ms")
    print_table(["case", "cards", "median", "min", "max", "x floor", "goal"], rows)
    print(f"\nin-process split, {largest:,} cards (fresh interpreter per run), ms")
    print_table(["phase", "median", "min", "max"],
                [[k, ms(v["median"]), ms(v["min"]), ms(v["max"])] for k, v in phases.items()])  # fmt: skip
    print(f"\nwrote {write_json('list_speed', results)}")


if __name__ == "__main__":
    main()
