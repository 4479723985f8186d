"""Twenty cards through the whole run lifecycle at concurrency 10, with scripted agents.

Run:
    . .venv/bin/activate
    python bench/many_agents.py                    # 20 cards, concurrency 10, 3 runs
    python bench/many_agents.py --cards 40 --model-delay 0 --runs 5

Goal: every card reaches review. None lost (each card is in the review column, its run ended
``review`` and its branch holds the file its agent wrote) and none stuck (all runs end within
``--timeout``); the script exits non-zero otherwise. It also reports the wall clock from the
first move to the last run ending, the peak number of runs at once (from the run events:
admitted = preparing/running/testing, working = past the worktree, running/testing), and the
process's memory: ``ru_maxrss`` and ``VmRSS`` from ``/proc/self/status`` sampled every 10 ms,
baseline (after setup, just before the first move) against peak.

Setup: a generated repository of ~200 files (``run_startup.generate_repo``) with a board whose
``kanban.toml`` sets ``[runs] concurrency``; each card's ``tests:`` is ``true``. The scripted
model answers every card twice: a ``write_file`` of ``agent-output/<card>.txt``, then ``finish``,
each after ``--model-delay`` seconds (a stand-in for the model's latency). The cards are moved to
in-progress one after another, from a thread, as the TUI does.

Each run is a fresh interpreter (``ru_maxrss`` is a high-water mark for the whole process), with
its own temp dir, removed afterwards. Results go to ``bench/out/many_agents.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchutil import print_table, write_json
from run_startup import GitTimer, card_of, generate_repo, git

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import RunFinished, StateChanged
from kanban_agents.core.runs import RunManager

ADMITTED = ("preparing", "running", "testing")  # holding one of the agent slots
WORKING = ("running", "testing")  # past the worktree: the agent (or its tests) at work

OPENAI_RSS_CHILD = r"""
import json
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss()
import kanban_agents.core.runs, kanban_agents.core.board
middle = rss()
import openai
print(json.dumps({"app_core_kb": middle - before, "openai_kb": rss() - middle}))
"""


def vm_rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


class RssSampler(threading.Thread):
    """Samples VmRSS every ``interval`` seconds until stopped; keeps the peak."""

    def __init__(self, interval: float = 0.01) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, vm_rss_kb())
            self.samples += 1
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


class ScriptedAgents:
    """Per card: write ``agent-output/<card>.txt``, then ``finish``."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __call__(self, request: dict) -> Reply:
        card = card_of(request)
        turns = sum(1 for m in request["messages"] if m.get("role") == "assistant")
        if turns == 0:
            call = ToolCallSpec("write_file", {"path": f"agent-output/{card}.txt",
                                               "content": content_for(card)})  # fmt: skip
        else:
            call = ToolCallSpec("finish", {"summary": f"Wrote agent-output/{card}.txt."})
        return Reply(tool_calls=[call], delay=self.delay)


def content_for(card: str) -> str:
    return f"written by the agent of {card}\n"


class Tracker:
    """Follows the run events: concurrency over time, and when every card's run has ended."""

    def __init__(self, cards: list[str]) -> None:
        self.waiting = set(cards)
        self.admitted: set[str] = set()
        self.working: set[str] = set()
        self.peak_admitted = self.peak_working = 0
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.final: dict[str, str] = {}
        self.all_done = asyncio.Event()

    def __call__(self, event) -> None:
        now = time.perf_counter()
        card = event.card_id
        if isinstance(event, StateChanged):
            if event.state in ADMITTED:
                self.admitted.add(card)
                self.started.setdefault(card, now)
            if event.state in WORKING:
                self.working.add(card)
        elif isinstance(event, RunFinished):
            self.admitted.discard(card)
            self.working.discard(card)
            self.finished[card] = now
            self.final[card] = event.state
            self.waiting.discard(card)
            if not self.waiting:
                self.all_done.set()
        self.peak_admitted = max(self.peak_admitted, len(self.admitted))
        self.peak_working = max(self.peak_working, len(self.working))


def write_cards(board: Path, count: int) -> list[str]:
    ids = [f"c{i:02d}" for i in range(1, count + 1)]
    for card in ids:
        (board / f"{card}.md").write_text(
            f'---\ntitle: Scripted agent card {card}\nstatus: todo\ntests: "true"\n---\n\n'
            f"## Task\n\nWrite agent-output/{card}.txt.\n",
            encoding="utf-8",
        )
    return ids


async def one_run(args: argparse.Namespace, tmp: Path) -> dict:
    """One measured run (in this interpreter); raises SystemExit when a card is lost or stuck."""
    sampler = RssSampler()
    sampler.start()
    repo = generate_repo(tmp / "repo", args.files, args.seed).root
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text(f"[runs]\nconcurrency = {args.concurrency}\n",
                                       encoding="utf-8")  # fmt: skip
    ids = write_cards(board, args.cards)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "board")

    tracker = Tracker(ids)
    with ScriptedServer(ScriptedAgents(args.model_delay)) as server, GitTimer() as timer:
        store = BoardStore.open(board)
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bench-not-a-secret",
               "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}  # fmt: skip
        runs = RunManager(store, environ=env)
        runs.subscribe(tracker)
        await runs.start()
        baseline = vm_rss_kb()
        sampler.peak = baseline  # the peak of the run, not of the setup
        start = time.perf_counter()
        for card in ids:
            await asyncio.to_thread(store.move, card, "in-progress")
        try:
            await asyncio.wait_for(tracker.all_done.wait(), args.timeout)
        except TimeoutError:
            stuck = {c: f"{s.state} ({s.reason})" for c, s in sorted(runs.status.items())
                     if c in tracker.waiting}  # fmt: skip
            await runs.stop()
            raise SystemExit(f"STUCK: {len(stuck)} card(s) not finished after {args.timeout:g} s: "
                             f"{stuck}") from None  # fmt: skip
        wall = max(tracker.finished.values()) - start
        await runs.flush_writes()
        states = {c: s.state for c, s in runs.status.items()}
        reasons = {c: s.reason for c, s in runs.status.items()}
        await runs.stop()
        requests = len(server.requests)
    sampler.stop()
    end = vm_rss_kb()

    by_state: dict[str, int] = {}
    for card in ids:
        by_state[states.get(card) or "none"] = by_state.get(states.get(card) or "none", 0) + 1
    columns = {c.id: len(c.cards) for c in BoardStore.open(board).columns()}
    problems = [
        f"{c}: run ended {states.get(c)} ({reasons.get(c)})"
        for c in ids
        if states.get(c) != "review"
    ]
    if columns.get("review", 0) != args.cards:
        problems.append(f"the board's columns hold {columns}, not {args.cards} in review")
    for card in ids:
        shown = subprocess.run(["git", "-C", str(repo), "show", f"kanban/{card}:agent-output/{card}.txt"],
                               capture_output=True, text=True)  # fmt: skip
        if shown.stdout != content_for(card):
            problems.append(f"{card}: its branch lacks agent-output/{card}.txt")
    if problems:
        raise SystemExit("LOST: " + "; ".join(problems))
    durations = [tracker.finished[c] - tracker.started[c] for c in ids]
    git_seconds: dict[str, float] = {}
    for begin, end, command in timer.calls:
        git_seconds[command] = git_seconds.get(command, 0.0) + end - begin
    return {
        "cards": args.cards,
        "concurrency": args.concurrency,
        "wall": wall,
        "states": by_state,
        "columns": columns,
        "model_requests": requests,
        "peak_admitted": tracker.peak_admitted,
        "peak_working": tracker.peak_working,
        "card_run_median": statistics.median(durations),
        "card_run_max": max(durations),
        "rss_baseline_kb": baseline,
        "rss_peak_kb": sampler.peak,
        "rss_end_kb": end,
        "rss_samples": sampler.samples,
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # KiB on Linux
        "git_processes": len(timer.calls),
        "git_seconds": git_seconds,  # by subcommand; 'worktree add' runs one at a time
    }


def child(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="kanban-bench-") as tmp:
        result = asyncio.run(one_run(args, Path(tmp)))
    print(json.dumps(result))


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Many scripted agents through the full lifecycle.")  # fmt: skip
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--files", type=int, default=200, help="files in the generated repo")
    parser.add_argument("--model-delay", type=float, default=0.2,
                        help="seconds the scripted model takes per answer")  # fmt: skip
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before 'stuck'")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    argv = [sys.executable, __file__, "--child", "--cards", str(args.cards),
            "--concurrency", str(args.concurrency), "--files", str(args.files),
            "--model-delay", str(args.model_delay), "--seed", str(args.seed),
            "--timeout", str(args.timeout)]  # fmt: skip
    runs = []
    for n in range(args.runs):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"run {n + 1} FAILED (exit {done.returncode})")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = runs[-1]
        print(f"  run {n + 1}: {r['states']} in {r['wall']:.2f} s, peak {r['peak_admitted']} "
              f"admitted / {r['peak_working']} working, VmRSS {mb(r['rss_baseline_kb'])} -> "
              f"{mb(r['rss_peak_kb'])} MB")  # fmt: skip
    imports = json.loads(subprocess.run([sys.executable, "-c", OPENAI_RSS_CHILD], check=True,
                                        capture_output=True, text=True).stdout)  # fmt: skip

    print(f"\n{args.cards} cards, concurrency {args.concurrency}, {args.files}-file repo, "
          f"scripted model {args.model_delay:g} s per answer, {args.runs} runs (fresh process each)")  # fmt: skip
    rows = []
    for n, r in enumerate(runs, 1):
        others = sum(v for k, v in r["states"].items() if k != "review")
        rows.append([n, f"{r['wall']:.2f}", r["states"].get("review", 0), others,
                     r["peak_admitted"], r["peak_working"], f"{r['card_run_median']:.2f}",
                     mb(r["rss_baseline_kb"]), mb(r["rss_peak_kb"]),
                     mb(r["rss_peak_kb"] - r["rss_baseline_kb"]), mb(r["ru_maxrss_kb"])])  # fmt: skip
    med = statistics.median
    rows.append(["median", f"{med(r['wall'] for r in runs):.2f}", "", "",
                 med(r["peak_admitted"] for r in runs), med(r["peak_working"] for r in runs),
                 f"{med(r['card_run_median'] for r in runs):.2f}",
                 mb(med(r["rss_baseline_kb"] for r in runs)), mb(med(r["rss_peak_kb"] for r in runs)),
                 mb(med(r["rss_peak_kb"] - r["rss_baseline_kb"] for r in runs)),
                 mb(med(r["ru_maxrss_kb"] for r in runs))])  # fmt: skip
    print_table(["run", "wall s", "review", "other", "peak admitted", "peak working",
                 "card run s", "RSS base MB", "RSS peak MB", "growth MB", "ru_maxrss MB"], rows)  # fmt: skip
    floor = 2 * args.model_delay * -(-args.cards // args.concurrency)
    print(f"all {args.cards} cards reached review in every run (none lost, none stuck). "
          f"Model-delay floor of the wall time: {floor:.1f} s.")  # fmt: skip
    commands = sorted({k for r in runs for k in r["git_seconds"]},
                      key=lambda k: -med(r["git_seconds"].get(k, 0.0) for r in runs))  # fmt: skip
    print(f"\ngit processes per run: median {med(r['git_processes'] for r in runs):.0f}; "
          "seconds in git by subcommand (summed over threads), median of runs:")  # fmt: skip
    print_table(["git subcommand", "seconds", "share of wall"],
                [[k, f"{med(r['git_seconds'].get(k, 0.0) for r in runs):.2f}",
                  f"{med(r['git_seconds'].get(k, 0.0) / r['wall'] for r in runs):.0%}"]
                 for k in commands[:8]])  # fmt: skip
    print(f"for scale: importing the app's run core adds {mb(imports['app_core_kb'])} MB of RSS "
          f"and importing openai {mb(imports['openai_kb'])} MB (fresh interpreter)")  # fmt: skip
    results = {"cards": args.cards, "concurrency": args.concurrency, "files": args.files,
               "model_delay": args.model_delay, "runs": runs, "import_rss_kb": imports,
               "wall_median": med(r["wall"] for r in runs)}  # fmt: skip
    print(f"\nwrote {write_json('many_agents', results)}")


if __name__ == "__main__":
    main()
