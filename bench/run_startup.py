"""Time from moving a card to in-progress to the agent's first model request, against a bare
``git worktree add`` of the same repository.

Run:
    . .venv/bin/activate
    python bench/run_startup.py                    # 5,000-file repo, 7 measured pairs
    python bench/run_startup.py --files 5000 --runs 11
    python bench/run_startup.py --profile          # also cProfile the event loop thread

Goal: the card's start costs at most 1.3x a bare ``git worktree add -b BR PATH main`` (ratio of
medians). The disk's speed swings absolute times a lot (FACTS.md: 0.3 s to 4 s for the same
add), so both are measured in the same run, alternating: a bare add, then a card run, N times,
each with fresh branch and path names, worktrees removed between runs. One warm-up pair goes
first and is reported apart (it pays the GitPython and openai imports).

A card run: a board inside the repo, one new card in todo, a ``RunManager`` (no TUI) whose
environment points ``OPENAI_BASE_URL`` at a ``ScriptedServer``; the responder notes
``time.perf_counter()`` when the first request arrives and answers ``finish``. The clock starts
just before ``store.move(card, "in-progress")`` (in a thread, as the TUI does it) and stops at
that first request. The run's events (queued, preparing, worktree created, running) and the
model factory call are timestamped on the same clock, and every git process the manager starts
is timed, to say where the time beyond the bare add goes.

The repository is generated into a temp dir (``generate_repo``, also used by the other git bench
scripts) and removed afterwards. Results go to ``bench/out/run_startup.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import re
import statistics
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchutil import ms, print_table, summarize, write_json

from kanban_agents.core import git as kgit
from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import LogLine, RunFinished, StateChanged
from kanban_agents.core.runs import RunManager

GOAL_RATIO = 1.3
RUN_TIMEOUT = 120.0

# --- a realistic repository ----------------------------------------------------------------

TOP_DIRS = (("src", 0.45), ("tests", 0.20), ("docs", 0.12), ("scripts", 0.05),
            ("config", 0.06), ("assets", 0.07), ("tools", 0.05))  # fmt: skip
DIR_WORDS = ("core", "api", "models", "views", "utils", "auth", "billing", "search", "jobs",
             "storage", "metrics", "mail", "users", "admin", "web", "cli", "plugins", "db",
             "cache", "events", "export", "importers", "reports", "flags", "i18n", "schemas",
             "handlers", "widgets", "internal", "legacy")  # fmt: skip
EXTENSIONS = {
    "src": (".py", ".py", ".py", ".pyi", ".txt"),
    "tests": (".py",),
    "docs": (".md", ".md", ".rst"),
    "scripts": (".sh", ".py"),
    "config": (".toml", ".yaml", ".json"),
    "assets": (".json", ".csv", ".txt"),
    "tools": (".py", ".md"),
}
CODE_WORDS = ("value", "items", "request", "user", "total", "cache", "index", "result", "name",
              "count", "limit", "offset", "record", "payload", "token", "status")  # fmt: skip


@dataclass
class RepoInfo:
    root: Path
    files: list[str] = field(default_factory=list)  # paths relative to root, as committed
    lines: dict[str, int] = field(default_factory=dict)  # path -> number of lines


def git(cwd: Path, *args: str) -> str:
    """Plain git (not the app's wrapper): for setting up and for the bare baseline."""
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    ).stdout


def _directories(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """About ``count`` distinct (top, directory) pairs, 1 to 4 levels deep."""
    tops, weights = zip(*TOP_DIRS, strict=True)
    found: dict[str, str] = {}
    while len(found) < count:
        top = rng.choices(tops, weights)[0]
        depth = rng.choice((0, 1, 1, 2, 2, 2, 3))
        parts = [top, *rng.sample(DIR_WORDS, depth)]
        found.setdefault("/".join(parts), top)
    return [(top, directory) for directory, top in found.items()]


def _file_text(rng: random.Random, path: str, number: int) -> str:
    """Small text of 10 to 120 lines; every line is distinct within and across files."""
    n = rng.randint(10, 120)
    suffix = Path(path).suffix
    if suffix in (".py", ".pyi"):
        lines = [f'"""Module {number}: {path}."""', ""]
        while len(lines) < n:
            word = rng.choice(CODE_WORDS)
            lines += [f"def {word}_{number}_{len(lines)}({word}):",
                      f"    return {word} + {rng.randint(0, 10**6)}", ""]  # fmt: skip
    elif suffix in (".md", ".rst", ".txt"):
        lines = [f"# {path}", ""]
        while len(lines) < n:
            words = " ".join(rng.choice(CODE_WORDS) for _ in range(rng.randint(5, 12)))
            lines.append(f"{words} ({number}.{len(lines)})")
    else:
        lines = [f"# generated {number}"]
        while len(lines) < n:
            lines.append(f"key_{number}_{len(lines)} = {rng.randint(0, 10**6)}")
    return "\n".join(lines[:n]) + "\n"


def generate_repo(root: Path, files: int = 5000, seed: int = 0) -> RepoInfo:
    """A committed git repository at ``root`` (branch ``main``) of ``files`` small text files
    in a nested tree (about 20 files a directory), deterministic for a seed."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    info = RepoInfo(root.resolve())
    directories = _directories(rng, max(1, files // 20))
    weights = [rng.paretovariate(1.5) for _ in directories]  # some directories are crowded
    used: set[str] = set()
    for number in range(files):
        top, directory = rng.choices(directories, weights)[0]
        while True:
            stem = f"{rng.choice(CODE_WORDS)}_{rng.randint(0, 9999):04d}"
            path = f"{directory}/{stem}{rng.choice(EXTENSIONS[top])}"
            if path not in used:
                break
        used.add(path)
        text = _file_text(rng, path, number)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        info.files.append(path)
        info.lines[path] = text.count("\n")
    (root / ".gitignore").write_text("__pycache__/\n*.pyc\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Bench Author")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"{files} generated files")
    return info


# --- instruments ---------------------------------------------------------------------------


class GitTimer:
    """Times every git process the app starts (wraps ``kanban_agents.core.git._git``)."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float, str]] = []  # (start, end, subcommand)
        self._original = kgit._git

    def __enter__(self) -> GitTimer:
        original = self._original

        def timed(cwd, *args, **kwargs):
            start = time.perf_counter()
            try:
                return original(cwd, *args, **kwargs)
            finally:
                self.calls.append((start, time.perf_counter(), kgit._subcommand(args)))

        kgit._git = timed
        return self

    def __exit__(self, *exc: object) -> None:
        kgit._git = self._original

    def between(self, start: float, end: float) -> list[tuple[float, float, str]]:
        return [c for c in self.calls if start <= c[0] < end]


class FirstRequests:
    """The scripted model: notes when each card's first request arrives, answers ``finish``."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        self._lock = threading.Lock()

    def __call__(self, request: dict) -> Reply:
        now = time.perf_counter()
        card = card_of(request)
        with self._lock:
            new = card not in self.first
            if new:
                self.first[card] = now
            waiter = self.waiters.get(card)
        if new and waiter is not None:
            loop, event = waiter
            loop.call_soon_threadsafe(event.set)
        return Reply(tool_calls=[ToolCallSpec("finish", {"summary": "Nothing to do."})])

    async def wait(self, card: str, timeout: float) -> float:
        event = asyncio.Event()
        with self._lock:
            self.waiters[card] = (asyncio.get_running_loop(), event)
            if card in self.first:
                event.set()
        await asyncio.wait_for(event.wait(), timeout)
        return self.first[card]


def card_of(request: dict) -> str:
    """The card id in the first user message (``# Card <id>: <title>``)."""
    for message in request.get("messages", []):
        if message.get("role") == "user":
            found = re.match(r"# Card (\S+):", message.get("content") or "")
            if found:
                return found.group(1)
    return "?"


class Marks:
    """perf_counter timestamps of one card's run events, taken as the manager emits them."""

    def __init__(self) -> None:
        self.by_card: dict[str, dict[str, float]] = defaultdict(dict)

    def __call__(self, event) -> None:
        now = time.perf_counter()
        marks = self.by_card[event.card_id]
        if isinstance(event, StateChanged):
            marks.setdefault(event.state, now)
        elif isinstance(event, LogLine) and event.stream == "git" and "worktree" in event.text:
            marks.setdefault("worktree_ready", now)
        elif isinstance(event, RunFinished):
            marks.setdefault("finished", now)


# --- one pair: a bare add, then a card run ---------------------------------------------------


def bare_add(repo: Path, worktrees: Path, name: str) -> float:
    path = worktrees / name
    start = time.perf_counter()
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-b", f"bare/{name}", str(path),
                    "main"], check=True, capture_output=True)  # fmt: skip
    elapsed = time.perf_counter() - start
    git(repo, "worktree", "remove", "--force", str(path))
    git(repo, "branch", "-D", f"bare/{name}")
    return elapsed


# Phases of a card run, in order: (name, from mark, to mark).
PHASES = (
    ("move: card write + listener -> queued", "move", "queued"),
    ("queued -> preparing (task, run lock)", "queued", "preparing"),
    ("preparing -> worktree ready", "preparing", "worktree_ready"),
    ("worktree ready -> running (state writes)", "worktree_ready", "running"),
    ("running -> model object made", "running", "model_start"),
    ("model object (OpenAIModel init)", "model_start", "model_made"),
    ("model made -> first request (prompt, HTTP)", "model_made", "first_request"),
)


class CardRunner:
    def __init__(self, repo: Path, server: ScriptedServer, responder: FirstRequests) -> None:
        self.repo = repo
        self.store = BoardStore.open(repo / "board")
        self.responder = responder
        self.marks = Marks()
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bench-not-a-secret",
               "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}  # fmt: skip
        self.runs = RunManager(self.store, environ=env, model_factory=self.model_factory)
        self.runs.subscribe(self.marks)
        self.current = ""

    def model_factory(self, profile, environ, on_retry):
        marks = self.marks.by_card[self.current]
        marks["model_start"] = time.perf_counter()
        from kanban_agents.core.agent.model import OpenAIModel  # as the default factory does

        model = OpenAIModel(profile, environ, on_retry=on_retry)
        marks["model_made"] = time.perf_counter()
        return model

    async def run(self, card_id: str) -> dict[str, float]:
        self.store.create(f"Start-up probe {card_id}", status="todo", card_id=card_id,
                          body="\n## Task\n\nCall finish at once.\n")  # fmt: skip
        self.current = card_id
        marks = self.marks.by_card[card_id]
        marks["move"] = time.perf_counter()
        await asyncio.to_thread(self.store.move, card_id, "in-progress")
        marks["first_request"] = await self.responder.wait(card_id, RUN_TIMEOUT)
        status = await asyncio.wait_for(self.runs.wait(card_id), RUN_TIMEOUT)
        if status is None or status.state != "review":
            raise SystemExit(f"card {card_id} ended {status and status.state}: "
                             f"{status and status.reason}")  # fmt: skip
        space = self.runs.workspace_for(self.store.get(card_id))
        git(self.repo, "worktree", "remove", "--force", str(space.path))
        git(self.repo, "branch", "-D", space.branch)
        return dict(marks)


def phase_times(marks: dict[str, float]) -> dict[str, float]:
    return {name: marks[b] - marks[a] for name, a, b in PHASES}


def git_split(timer: GitTimer, marks: dict[str, float]) -> dict[str, float]:
    """Seconds of git processes between the move and the first request, by subcommand."""
    split: dict[str, float] = defaultdict(float)
    for start, end, command in timer.between(marks["move"], marks["first_request"]):
        split[command] += end - start
    return dict(split)


async def measure(args: argparse.Namespace, tmp: Path) -> dict:
    started = time.perf_counter()
    repo_info = generate_repo(tmp / "repo", args.files, args.seed)
    repo = repo_info.root
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("# bench board: defaults\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "board")
    print(f"generated {len(repo_info.files):,} files in {time.perf_counter() - started:.1f} s")
    worktrees = repo.parent / f"{repo.name}-worktrees"  # where the manager puts card worktrees
    worktrees.mkdir()

    responder = FirstRequests()
    profiler = cProfile.Profile() if args.profile else None
    with ScriptedServer(responder) as server, GitTimer() as timer:
        runner = CardRunner(repo, server, responder)
        await runner.runs.start()
        bare: list[float] = []
        card: list[float] = []
        runs: list[dict] = []
        warm: dict = {}
        try:
            for i in range(args.warmup + args.runs):
                measured = i >= args.warmup
                b = await asyncio.to_thread(bare_add, repo, worktrees, f"b{i:03d}")
                if profiler is not None and measured:
                    profiler.enable()
                marks = await runner.run(f"s{i:03d}")
                if profiler is not None and measured:
                    profiler.disable()
                c = marks["first_request"] - marks["move"]
                row = {"bare": b, "card": c, "phases": phase_times(marks),
                       "git": git_split(timer, marks)}  # fmt: skip
                print(f"  {'run' if measured else 'warm-up'} {i + 1}: bare add {ms(b)} ms, "
                      f"card {ms(c)} ms ({c / b:.2f}x)")  # fmt: skip
                if measured:
                    bare.append(b)
                    card.append(c)
                    runs.append(row)
                else:
                    warm = row
        finally:
            await runner.runs.stop()
    profile_text = ""
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        profile_text = out.getvalue()
    return {"files": len(repo_info.files), "bare": bare, "card": card, "runs": runs,
            "warmup": warm, "profile": profile_text}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Card move -> first model request vs git worktree add.")  # fmt: skip
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the loop thread")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kanban-bench-") as tmp:
        data = asyncio.run(measure(args, Path(tmp)))

    bare, card = summarize(data["bare"]), summarize(data["card"])
    ratio = card["median"] / bare["median"]
    phases = {name: summarize([r["phases"][name] for r in data["runs"]]) for name, _, _ in PHASES}
    commands = sorted({k for r in data["runs"] for k in r["git"]})
    git_time = {k: summarize([r["git"].get(k, 0.0) for r in data["runs"]]) for k in commands}
    extra = card["median"] - bare["median"]
    # What the app adds around the one process that does the same work as the bare add: this
    # part does not swing with the disk.
    overhead = summarize([r["card"] - r["git"].get("worktree add", 0.0) for r in data["runs"]])
    results = {
        "files": data["files"],
        "runs": args.runs,
        "goal_ratio": GOAL_RATIO,
        "bare_worktree_add": bare,
        "card_move_to_first_request": card,
        "ratio_of_medians": ratio,
        "per_run_ratios": [c / b for c, b in zip(data["card"], data["bare"], strict=True)],
        "phases": phases,
        "git_processes": git_time,
        "card_minus_its_worktree_add": overhead,
        "warmup": data["warmup"],
    }

    print(f"\ncard start vs bare worktree add, {data['files']:,}-file repo, {args.runs} "
          f"alternating pairs after {args.warmup} warm-up, ms")  # fmt: skip
    print_table(
        ["case", "median", "min", "max"],
        [["git worktree add -b BR PATH main", ms(bare["median"]), ms(bare["min"]), ms(bare["max"])],
         ["move -> first model request", ms(card["median"]), ms(card["min"]), ms(card["max"])]],
    )  # fmt: skip
    verdict = "ok" if ratio <= GOAL_RATIO else "MISS"
    print(f"ratio of medians: {ratio:.2f}x (goal <= {GOAL_RATIO}x: {verdict}); "
          f"per-pair ratios median {statistics.median(results['per_run_ratios']):.2f}x")  # fmt: skip

    print("\nwhere a card run's time goes (medians), ms")
    print_table(["phase", "median", "min", "max"],
                [[k, ms(v["median"]), ms(v["min"]), ms(v["max"])] for k, v in phases.items()])  # fmt: skip
    print(f"extra over the bare add (median card - median bare): {ms(extra)} ms; "
          f"card run minus its own 'git worktree add' process: {ms(overhead['median'])} ms "
          f"median ({ms(overhead['min'])}-{ms(overhead['max'])})")  # fmt: skip

    print("\ngit processes started between the move and the first request (per run), ms")
    print_table(["git subcommand", "median", "min", "max"],
                [[k, ms(v["median"]), ms(v["min"]), ms(v["max"])] for k, v in git_time.items()])  # fmt: skip
    if data["warmup"]:
        w = data["warmup"]
        print(f"\nwarm-up pair (cold imports): bare {ms(w['bare'])} ms, card {ms(w['card'])} ms; "
              + ", ".join(f"{k} {ms(v)}" for k, v in w["phases"].items() if v > 0.05))  # fmt: skip
    if data["profile"]:
        print("\ncProfile of the event-loop thread over the measured card runs (cumulative):")
        print(data["profile"])
    print(f"\nwrote {write_json('run_startup', results)}")


if __name__ == "__main__":
    main()
