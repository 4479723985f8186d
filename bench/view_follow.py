"""How soon a view that hosts no agents (a tab of ``kanban-agents serve``) shows a line a run in
another process wrote: from the event's write to the run's JSONL until the view's session
publishes it (``runs/elsewhere.py`` reads the records a few times a second).

Run:
    . .venv/bin/activate
    python bench/view_follow.py            # 40 lines, one every 0.1 s

A throwaway repository with one card in the agent column whose run "runs" here (its lock held,
its events appended as the host would); results go to ``bench/out/view_follow.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, write_json

from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import RUNNING, LogLine, StateChanged
from kanban_agents.core.records import RunState, run_records
from kanban_agents.core.session import BoardSession

GOAL = 0.5  # seconds: a line on screen within half a second reads as live


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "board").mkdir(parents=True)
    (repo / "board" / "kanban.toml").write_text("")
    (repo / "board" / "sub.md").write_text("---\ntitle: Sub\nstatus: in-progress\n---\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "board"],
        cwd=repo, check=True,
    )  # fmt: skip
    return repo


async def follow(repo: Path, lines: int, every: float) -> list[float]:
    records = run_records(BoardStore.open(repo / "board"))
    lock = records.lock("sub")
    assert lock.acquire()  # the "host" holds the card's run
    records.save_state(RunState("sub", run=1, state=RUNNING, pid=0, started=time.time()))
    records.append(StateChanged("sub", 1, state=RUNNING))
    view = BoardSession.open(repo / "board")
    arrived: dict[str, float] = {}
    view.subscribe(lambda e: isinstance(e, LogLine) and arrived.setdefault(e.text, time.time()))
    await view.start(watch_only=True)
    await asyncio.sleep(1.0)
    written: dict[str, float] = {}
    try:
        for n in range(lines):
            text = f"line {n}"
            event = LogLine("sub", 1, text=text, stream="stdout")
            await asyncio.to_thread(records.append, event)
            written[text] = event.t
            await asyncio.sleep(every)
        await asyncio.sleep(1.0)
    finally:
        await view.stop()
        records.close_all()
        lock.release()
    missing = [t for t in written if t not in arrived]
    assert not missing, f"never shown: {missing}"
    return [arrived[t] - written[t] for t in written]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--every", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(follow(make_repo(Path(tmp)), args.lines, args.every))
    stats = summarize(samples)
    print_table(
        ["measure", "n", "median", "p90", "max"],
        [["line written -> view shows it", stats["n"], ms(stats["median"]), ms(stats["p90"]),
          ms(stats["max"])]],
    )  # fmt: skip
    print(f"goal: under {GOAL * 1000:.0f} ms: {'met' if stats['max'] < GOAL else 'NOT met'}")
    write_json("view_follow", {"goal_s": GOAL, "line_to_view": stats})


if __name__ == "__main__":
    main()
