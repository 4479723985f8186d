"""What the sandbox adds to each command an agent runs: bwrap against local, in one run.

Run:
    . .venv/bin/activate
    python bench/sandbox_overhead.py              # 41 alternating pairs per command
    python bench/sandbox_overhead.py --runs 101

Two commands, each run through both runtimes of ``core/runs/workspace.py`` the way a run starts
them (``runtime.run`` in a real git worktree, below the reaper): ``true``, and the demo repo's
card tests (``python3 -m unittest -q test_textstats``). Pairs alternate (local, bwrap, local, ...)
so a busy disk or CPU hits both alike; the figure is the median of bwrap minus the median of local.
Goal: under 20 ms per command. Results go to ``bench/out/sandbox_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, write_json

from kanban_agents.config import SandboxSettings
from kanban_agents.core.runs.workspace import LocalRuntime
from kanban_agents.core.sandbox import SandboxRuntime, probe
from kanban_agents.demo import create_demo_repo

GOAL_MS = 20.0
COMMANDS = {"true": "true", "card tests": "python3 -m unittest -q test_textstats"}


async def timed(runtime, command: str, worktree: Path) -> float:
    started = time.perf_counter()
    result = await runtime.run(command, cwd=worktree, timeout=60, output_cap=10_000)
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"{command!r} failed under {type(runtime).__name__}: {result.output}")
    return elapsed


async def measure(runs: int) -> dict:
    found = probe()
    if not found.works:
        raise SystemExit(f"bwrap cannot run here: {found.error}")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "demo"
        create_demo_repo(repo)
        worktree = Path(tmp) / "demo-worktrees" / "card"
        subprocess.run(
            ["git", "worktree", "add", "-q", "-b", "kanban/card", str(worktree)],
            cwd=repo,
            check=True,
        )
        settings = SandboxSettings(mode="bwrap", network="off")
        runtimes = {"local": LocalRuntime(), "bwrap": SandboxRuntime(lambda _cwd: settings)}
        results = {}
        for name, command in COMMANDS.items():
            samples: dict[str, list[float]] = {"local": [], "bwrap": []}
            for runtime in runtimes.values():  # warm-up, not counted
                await timed(runtime, command, worktree)
            for _ in range(runs):
                for runtime_name, runtime in runtimes.items():
                    samples[runtime_name].append(await timed(runtime, command, worktree))
            local, bwrap = summarize(samples["local"]), summarize(samples["bwrap"])
            results[name] = {
                "command": command,
                "local": local,
                "bwrap": bwrap,
                "added_median": bwrap["median"] - local["median"],
            }
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=41)
    args = parser.parse_args()
    results = asyncio.run(measure(args.runs))
    rows = [
        [name, ms(r["local"]["median"]), ms(r["bwrap"]["median"]), ms(r["added_median"]),
         "yes" if r["added_median"] * 1000 < GOAL_MS else "NO"]
        for name, r in results.items()
    ]  # fmt: skip
    print(f"median ms per command, {args.runs} alternating pairs (python {sys.version.split()[0]})")
    print_table(["command", "local", "bwrap", "added", f"< {GOAL_MS:g} ms"], rows)
    write_json("sandbox_overhead", {"runs": args.runs, "goal_ms": GOAL_MS, "results": results})


if __name__ == "__main__":
    main()
