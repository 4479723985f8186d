"""How fast an agent reaches the board: a card written with the CLI from a git worktree, until the
open board (a ``BoardSession`` with the file watcher) hears of it; and ``kanban-agents mcp``:
start-up to a first answer, then ``list_cards`` and ``create_card`` round trips over stdio.

Run:
    . .venv/bin/activate
    python bench/agent_access.py                # 5 CLI cards, 20 list_cards, 10 create_card

Goal: the CLI card on the open board within 1 s (the issue's figure), counted from the CLI's
start (its Python start-up included) and from its exit (the watcher's share). A throwaway repository with a 20-card board in a temp dir; results go to
``bench/out/agent_access.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, verdict, write_json

from kanban_agents.core.session import BoardChanged, BoardSession, watch_board

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.0


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, cards: int) -> tuple[Path, Path]:
    repo = root / "repo"
    (repo / "board").mkdir(parents=True)
    (repo / "board" / "kanban.toml").write_text("")
    for i in range(cards):
        (repo / "board" / f"card-{i}.md").write_text(f"---\ntitle: Card {i}\nstatus: todo\n---\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "board")
    worktree = root / "wt"
    git(repo, "worktree", "add", "-q", "-b", "kanban/x", str(worktree))
    return repo, worktree


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "KANBAN_AGENTS_BOARD"} | {
        "PYTHONPATH": str(ROOT)
    }


async def cli_to_board(repo: Path, worktree: Path, n: int) -> list[float]:
    session = BoardSession.open(repo / "board", agents=False)
    seen: dict[str, float] = {}
    session.subscribe(
        lambda e: (
            isinstance(e, BoardChanged) and seen.setdefault(e.change.card_id, time.monotonic())
        )
    )
    stop = asyncio.Event()

    async def watch():
        async for _ in watch_board(session.store, stop_event=stop):
            pass

    task = asyncio.ensure_future(watch())
    await asyncio.sleep(0.3)
    samples, after_exit = [], []
    for i in range(n):
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kanban_agents", "new", f"Follow-up {i}", cwd=worktree,
            env=env(), stdout=subprocess.DEVNULL,
        )  # fmt: skip
        await proc.wait()
        exited = time.monotonic()
        card_id = f"follow-up-{i}"
        while card_id not in seen and time.monotonic() - started < 10:
            await asyncio.sleep(0.005)
        samples.append(seen.get(card_id, float("inf")) - started)
        after_exit.append(seen.get(card_id, float("inf")) - exited)
    stop.set()
    await task
    return samples, after_exit


async def mcp_round_trips(repo: Path, lists: int, creates: int) -> dict[str, list[float]]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "kanban_agents", "mcp"], env=env(), cwd=str(repo)
    )
    started = time.monotonic()
    out: dict[str, list[float]] = {"start": [], "list_cards": [], "create_card": []}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        out["start"].append(time.monotonic() - started)
        for _ in range(lists):
            t = time.monotonic()
            await client.call_tool("list_cards", {})
            out["list_cards"].append(time.monotonic() - t)
        for i in range(creates):
            t = time.monotonic()
            await client.call_tool("create_card", {"title": f"From MCP {i}"})
            out["create_card"].append(time.monotonic() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", type=int, default=5)
    parser.add_argument("--lists", type=int, default=20)
    parser.add_argument("--creates", type=int, default=10)
    parser.add_argument("--cards", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo, worktree = make_repo(Path(tmp), args.cards)
        cli, after_exit = asyncio.run(cli_to_board(repo, worktree, args.cli))
        mcp = asyncio.run(mcp_round_trips(repo, args.lists, args.creates))
    results = {
        "cli_new_to_open_board": summarize(cli),
        "cli_exit_to_open_board": summarize(after_exit),
    } | {f"mcp_{name}": summarize(samples) for name, samples in mcp.items()}
    rows = [[name, r["n"], ms(r["median"]), ms(r["max"])] for name, r in results.items()]
    print_table(["what", "n", "median", "max"], rows)
    print(
        "CLI card on the open board within 1 s of the command's end: "
        f"{verdict(results['cli_exit_to_open_board']['max'], GOAL)}; of its start: "
        f"{verdict(results['cli_new_to_open_board']['max'], GOAL)} (Python start-up included; "
        "a negative figure: the board had it before the CLI process was gone)"
    )
    write_json("agent_access", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
