"""The conflict radar on 10 active branches of a 5,000-file repository: full and incremental scans.

Run:
    . .venv/bin/activate
    python bench/radar.py                          # 10 branches, 5,000 files, 5 runs each
    python bench/radar.py --runs 9 --profile       # also cProfile one scan of each kind

Goals: a full scan (``ConflictRadar(repo).scan(branches)``, a fresh radar each time, so nothing
is cached) < 1 s; an incremental scan (``scan(branches, changed={card})`` on a warm radar, after
one worktree's file changed) < 200 ms. Medians of ``--runs`` runs.

Setup: ten worktrees made with ``git.ensure_worktree``, branches ``kanban/r00`` .. ``r09``. Each
edits three files of its own (some branches commit their work, the rest leave it uncommitted, as
a running agent does; some add a new file too), and some share a file:

- r00 and r01 change the same line of one file: a conflict;
- r02 and r03 likewise, in another file: a conflict;
- r04 and r05 change lines far apart in one file: a shared path that merges cleanly;
- after the worktrees exist, ``main`` moves on: it changes the line r06 changes (a conflict
  with the base) and a line far from r07's edit in r07's file (merges cleanly).

So the expected conflicts are exactly (r00, r01), (r02, r03) and (r06, base); every scan is
checked against them. The incremental scans change a file of r09 (no shared paths) and of r00
(its pair's merge is recomputed). The git processes each scan starts are counted and timed.

The repository is generated into a temp dir (``run_startup.generate_repo``) and removed
afterwards. Results go to ``bench/out/radar.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from benchutil import ms, print_table, summarize, verdict, write_json
from run_startup import GitTimer, RepoInfo, generate_repo, git

from kanban_agents.core import git as kgit
from kanban_agents.core.radar import BASE, Branch, ConflictRadar, RadarReport

GOAL_FULL = 1.0
GOAL_INCREMENTAL = 0.200
CARDS = [f"r{i:02d}" for i in range(10)]
EXPECTED = {("r00", "r01"), ("r02", "r03"), ("r06", BASE)}
MIN_LINES = 80  # files edited are at least this long, so "far apart" lines merge cleanly


def set_line(path: Path, number: int, text: str) -> None:
    """Replace line ``number`` (1-based) of ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[number - 1] = text + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def build_branches(info: RepoInfo, seed: int) -> tuple[list[Branch], dict[str, list[str]]]:
    """The ten worktrees and their edits, then the base's own moves; see the module docstring."""
    repo = info.root
    rng = random.Random(seed)
    long_files = [p for p in info.files if info.lines[p] >= MIN_LINES and p.endswith(".py")]
    picked = rng.sample(long_files, 5 + 3 * len(CARDS))
    shared = dict(zip("ABCDE", picked[:5], strict=True))
    own = {card: picked[5 + 3 * i : 8 + 3 * i] for i, card in enumerate(CARDS)}
    edits: dict[str, list[tuple[str, int]]] = {card: [] for card in CARDS}
    for a, b, name, line_a, line_b in (("r00", "r01", "A", 5, 5), ("r02", "r03", "B", 12, 12),
                                       ("r04", "r05", "C", 3, 70)):  # fmt: skip
        edits[a].append((shared[name], line_a))
        edits[b].append((shared[name], line_b))
    edits["r06"].append((shared["D"], 7))
    edits["r07"].append((shared["E"], 4))

    worktrees = repo.parent / f"{repo.name}-worktrees"
    branches, touched = [], {}
    for i, card in enumerate(CARDS):
        path = worktrees / card
        kgit.ensure_worktree(repo, path, f"kanban/{card}", "main")
        for file in own[card]:
            edits[card].append((file, rng.randint(2, MIN_LINES)))
        for file, line in edits[card]:
            set_line(path / file, line, f"# edited by {card} (line {line})")
        if i % 3 == 1:  # some agents add files too
            (path / "notes").mkdir(exist_ok=True)
            (path / "notes" / f"{card}.md").write_text(f"# notes of {card}\n", encoding="utf-8")
        if i % 2 == 0:  # half the branches have committed their work
            git(path, "add", "-A")
            git(path, "commit", "-q", "-m", f"work of {card}")
        branches.append(Branch(card, path, "main"))
        touched[card] = [f for f, _ in edits[card]]
    # The base moves on after the branches forked.
    set_line(repo / shared["D"], 7, "# changed on main (line 7)")
    set_line(repo / shared["E"], MIN_LINES - 2, f"# changed on main (line {MIN_LINES - 2})")
    git(repo, "commit", "-q", "-am", "main moves on")
    return branches, touched


def append_line(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")


def worktree_of(branches: list[Branch], card: str) -> Path:
    return next(b.worktree for b in branches if b.card_id == card)


def found_pairs(report: RadarReport) -> set[tuple[str, str]]:
    return {(c.card, c.other) for c in report.conflicts}


def check(report: RadarReport, what: str) -> None:
    if report.errors:
        raise SystemExit(f"{what}: radar errors {report.errors}")
    got = found_pairs(report)
    if got != EXPECTED:
        raise SystemExit(f"{what}: expected conflicts {sorted(EXPECTED)}, got {sorted(got)}")


def git_counts(timer: GitTimer, start: int) -> tuple[Counter, dict[str, float]]:
    counts: Counter = Counter()
    seconds: dict[str, float] = defaultdict(float)
    for begin, end, command in timer.calls[start:]:
        counts[command] += 1
        seconds[command] += end - begin
    return counts, dict(seconds)


def profile_text(profiler: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def measure(args: argparse.Namespace, tmp: Path) -> dict:
    started = time.perf_counter()
    info = generate_repo(tmp / "repo", args.files, args.seed)
    branches, touched = build_branches(info, args.seed)
    repo = info.root
    print(f"generated {len(info.files):,} files and {len(branches)} worktrees in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip

    results: dict = {"files": len(info.files), "branches": len(branches), "touched": touched}
    with GitTimer() as timer:
        check(ConflictRadar(repo).scan(branches), "warm-up scan")  # page cache, GitPython import

        full, full_git = [], []
        for n in range(args.runs):
            mark = len(timer.calls)
            start = time.perf_counter()
            report = ConflictRadar(repo).scan(branches)
            full.append(time.perf_counter() - start)
            full_git.append(git_counts(timer, mark))
            check(report, f"full scan {n + 1}")
        results["full"] = summarize(full)
        results["conflicts"] = sorted(f"{c.card}<->{c.other}: {', '.join(c.files)}"
                                      for c in report.conflicts)  # fmt: skip

        radar = ConflictRadar(repo)
        check(radar.scan(branches), "warm radar")
        incremental: dict[str, list[float]] = {}
        incremental_git = {}
        for card in ("r09", "r00"):
            file = worktree_of(branches, card) / touched[card][-1]
            samples = []
            for n in range(args.runs):
                append_line(file, f"# {card} keeps working ({n})")
                mark = len(timer.calls)
                start = time.perf_counter()
                report = radar.scan(branches, changed={card})
                samples.append(time.perf_counter() - start)
                incremental_git[card] = git_counts(timer, mark)
                check(report, f"incremental scan of {card}, run {n + 1}")
            incremental[card] = samples
        results["incremental"] = {card: summarize(s) for card, s in incremental.items()}

        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(ConflictRadar(repo).scan, branches)
            results["profile_full"] = profile_text(profiler)
            append_line(worktree_of(branches, "r00") / touched["r00"][-1], "# profiled")
            profiler = cProfile.Profile()
            profiler.runcall(radar.scan, branches, changed={"r00"})
            results["profile_incremental"] = profile_text(profiler)

    counts, seconds = full_git[-1]
    results["git_full"] = {k: {"count": counts[k], "seconds": seconds[k]} for k in counts}
    results["git_incremental"] = {
        card: {k: {"count": c[k], "seconds": s[k]} for k in c}
        for card, (c, s) in incremental_git.items()
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="Conflict radar: full and incremental scans.")
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile one scan of each kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kanban-bench-") as tmp:
        results = measure(args, Path(tmp))

    full, inc = results["full"], results["incremental"]
    print(f"\nconflict radar, {results['branches']} branches, {results['files']:,}-file repo, "
          f"{args.runs} runs each, ms")  # fmt: skip
    rows = [["full scan (fresh radar)", ms(full["median"]), ms(full["min"]), ms(full["max"]),
             f"< {GOAL_FULL * 1000:.0f} {verdict(full['median'], GOAL_FULL)}"]]  # fmt: skip
    for card, label in (("r09", "incremental, r09 changed (disjoint)"),
                        ("r00", "incremental, r00 changed (in a conflict)")):  # fmt: skip
        s = inc[card]
        rows.append([label, ms(s["median"]), ms(s["min"]), ms(s["max"]),
                     f"< {GOAL_INCREMENTAL * 1000:.0f} {verdict(s['median'], GOAL_INCREMENTAL)}"])  # fmt: skip
    print_table(["scan", "median", "min", "max", "goal"], rows)
    print(f"conflicts found: {len(results['conflicts'])}, the expected pairs "
          f"{sorted(EXPECTED)} in every scan")  # fmt: skip
    for line in results["conflicts"]:
        print(f"  {line}")

    print("\ngit processes per scan (last run of each kind): count / total ms")
    commands = sorted(set(results["git_full"]).union(*results["git_incremental"].values()))
    columns = [results["git_full"], results["git_incremental"]["r09"],
               results["git_incremental"]["r00"]]  # fmt: skip
    rows = [[k, *(f"{c[k]['count']} / {ms(c[k]['seconds'])}" if k in c else "-" for c in columns)]
            for k in commands]  # fmt: skip
    rows.append(["total", *(f"{sum(v['count'] for v in c.values())} / "
                            f"{ms(sum(v['seconds'] for v in c.values()))}" for c in columns)])  # fmt: skip
    print_table(["git subcommand", "full", "incr r09", "incr r00"], rows)
    for key in ("profile_full", "profile_incremental"):
        if key in results:
            print(f"\ncProfile, {key.removeprefix('profile_')} scan (cumulative):")
            print(results[key])
    print(f"\nwrote {write_json('radar', results)}")


if __name__ == "__main__":
    main()
