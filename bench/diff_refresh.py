"""Diff tab refresh on a big repository: ``git.worktree_diff`` and ``render_diff``.

Run:
    . .venv/bin/activate
    python bench/diff_refresh.py                       # 5,000 files, 50 and 1 changed, 10 runs
    python bench/diff_refresh.py --files 20000 --runs 5

Goal: a worktree of a 5,000-file repository with 50 changed files refreshes its Diff tab in
under 150 ms (median): ``worktree_diff(worktree, "main")`` plus ``render_diff(diff)``, what the
panel's diff worker does (``feed.PanelFeed._compute_diff``).

Setup (a temp dir, removed afterwards): a repository of ``--files`` files in nested directories
(``src/pkgNN/modNN/...``; Python mostly, some TypeScript, Markdown and JSON; 20-120 lines each),
committed on ``main``. Two worktrees made with ``git.ensure_worktree`` (as a run does):

* ``50 changed``: 30 files modified (a line changed in the middle, three lines added at the
  end), 10 new untracked files, 10 deleted;
* ``1 changed``: one file modified the same way.

Each case times ``worktree_diff`` alone, ``render_diff`` alone (on that diff), and the two
together: the first call (reported apart: it pays for imports, lexers and any per-worktree
state, such as seeding a scratch index), then ``--runs`` calls: median, min, max. One more call with
``git`` subprocesses timed by subcommand shows where the diff's time goes, and one more
``render_diff`` call is split into lexer guessing, pygments highlighting and the rest;
``--profile`` adds a cProfile of ``render_diff``. The worktree's real index is read before and
after (bytes and mtime): the diff must leave it untouched. Also counted: tracked files whose mtime falls in the
index's second, which git re-reads when it adds from a copy of the index ("racily clean"; how
many depends on where a second boundary fell during the checkout, so a fresh-copy ``git add``
varies from run to run).

Disk speed on shared machines varies a lot: compare cases within one run, not across runs.
Results go to ``bench/out/diff_refresh.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchutil import ms, print_table, summarize, verdict, write_json
from rich.syntax import Syntax

from kanban_agents.core import git
from kanban_agents.tui.diff_view import highlight_hunk, render_diff

GOAL = 0.150
WORDS = ("user", "order", "cache", "token", "session", "invoice", "report", "queue", "item",
         "price", "limit", "retry", "config", "event", "record", "batch", "index", "payload")  # fmt: skip


# ---------------------------------------------------------------------------- the repository


def _name(rng: random.Random) -> str:
    return "_".join(rng.sample(WORDS, 2))


def python_file(rng: random.Random, lines: int) -> str:
    out = ['"""Generated module for the diff benchmark."""', "", "import json", "import os", ""]
    while len(out) < lines:
        name, arg = _name(rng), rng.choice(WORDS)
        out += [
            "",
            f"def {name}({arg}, limit={rng.randint(1, 99)}):",
            f'    """Return the {arg} {rng.choice(WORDS)} for {rng.choice(WORDS)}."""',
            f"    if not {arg}:",
            "        return None",
            f"    data = {{'{arg}': {arg}, 'limit': limit, 'env': os.environ.get('{name.upper()}')}}",
            "    return json.dumps(data)",
        ]
    return "\n".join(out[:lines]) + "\n"


def typescript_file(rng: random.Random, lines: int) -> str:
    out = ["// Generated module for the diff benchmark.", ""]
    while len(out) < lines:
        name, arg = _name(rng), rng.choice(WORDS)
        out += [
            "",
            f"export function {name}({arg}: string, limit = {rng.randint(1, 99)}): string {{",
            f"  const data = {{ {arg}, limit, at: Date.now() }};",
            f"  if (!{arg}) {{ return ''; }}",
            "  return JSON.stringify(data);",
            "}",
        ]
    return "\n".join(out[:lines]) + "\n"


def markdown_file(rng: random.Random, lines: int) -> str:
    out = [f"# The {rng.choice(WORDS)} module", ""]
    while len(out) < lines:
        out += [f"- **{_name(rng)}**: keeps the {rng.choice(WORDS)} of each {rng.choice(WORDS)}."]
    return "\n".join(out[:lines]) + "\n"


def json_file(rng: random.Random, lines: int) -> str:
    body = [f'  "{_name(rng)}_{i}": {rng.randint(0, 9999)},' for i in range(max(lines - 2, 1))]
    body[-1] = body[-1].rstrip(",")
    return "{\n" + "\n".join(body) + "\n}\n"


KINDS = ((".py", python_file, 0.7), (".ts", typescript_file, 0.15),
         (".md", markdown_file, 0.1), (".json", json_file, 0.05))  # fmt: skip


def file_text(rng: random.Random, suffix: str) -> str:
    make = next(k[1] for k in KINDS if k[0] == suffix)
    return make(rng, rng.randint(20, 120))


def make_repo(root: Path, files: int, seed: int) -> list[str]:
    """A committed repository of ``files`` files; returns their paths."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    paths = []
    per_package = 10 * 25  # 10 modules of 25 files
    for i in range(files):
        package, module, n = i // per_package, (i % per_package) // 25, i % 25
        suffix = rng.choices([k[0] for k in KINDS], weights=[k[2] for k in KINDS])[0]
        path = f"src/pkg{package:02d}/mod{module:02d}/{rng.choice(WORDS)}_{n:02d}{suffix}"
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file_text(rng, suffix), encoding="utf-8")
        paths.append(path)
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "bench"],
                 ["config", "user.email", "bench@localhost"], ["add", "-A"],
                 ["commit", "-q", "-m", "5k files"]):  # fmt: skip
        subprocess.run(["git", "-C", str(root), *args], check=True)
    return paths


def modify(path: Path, rng: random.Random) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    middle = len(lines) // 2
    lines[middle] = lines[middle] + "  # changed by the agent"
    lines += [
        "",
        "# added by the agent",
        f"AGENT_{rng.choice(WORDS).upper()} = {rng.randint(1, 9)}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def change_files(worktree: Path, paths: list[str], modified: int, added: int, deleted: int,
                 seed: int) -> dict[str, list[str]]:  # fmt: skip
    rng = random.Random(seed)
    chosen = rng.sample(paths, modified + deleted)
    changes: dict[str, list[str]] = {"modified": chosen[:modified], "deleted": chosen[modified:],
                                     "added": []}  # fmt: skip
    for path in changes["modified"]:
        modify(worktree / path, rng)
    for path in changes["deleted"]:
        (worktree / path).unlink()
    for i in range(added):
        suffix = rng.choices([k[0] for k in KINDS], weights=[k[2] for k in KINDS])[0]
        path = f"src/new_feature/part{i // 5}/{rng.choice(WORDS)}_{i:02d}{suffix}"
        (worktree / path).parent.mkdir(parents=True, exist_ok=True)
        (worktree / path).write_text(file_text(rng, suffix), encoding="utf-8")
        changes["added"].append(path)
    return changes


def real_index(worktree: Path) -> Path:
    out = subprocess.run(["git", "-C", str(worktree), "rev-parse", "--git-path", "index"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    path = Path(out.stdout.strip())
    return path if path.is_absolute() else worktree / path


# ---------------------------------------------------------------------------- timing


def timed(fn, runs: int) -> tuple[float, list[float], object]:
    """(the first call, ``runs`` more calls, the last result). The first call is not in the
    samples: it pays for imports, lexers, the page cache and any per-worktree state."""
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return first, samples, result


def git_breakdown(worktree: Path, base: str) -> dict[str, float]:
    """One ``worktree_diff`` call, with every git subprocess timed by subcommand (seconds)."""
    spent: dict[str, float] = defaultdict(float)
    original = git._git

    def timing(cwd, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(cwd, *args, **kwargs)
        finally:
            words = [a for a in args if not a.startswith("-")]
            spent[f"git {words[0] if words else '?'}"] += time.perf_counter() - start

    git._git = timing
    try:
        start = time.perf_counter()
        git.worktree_diff(worktree, base)
        total = time.perf_counter() - start
    finally:
        git._git = original
    spent["python (parse, copy index, temp dir)"] = total - sum(spent.values())
    spent["total"] = total
    return dict(spent)


def render_breakdown(diff: git.WorktreeDiff) -> dict[str, float]:
    """One ``render_diff`` call, split into lexer guessing, pygments highlighting (rich's
    ``Syntax.highlight``) and the rest (re-styling spans, splitting lines, Text objects)."""
    spent = {"Syntax.guess_lexer": 0.0, "Syntax.highlight": 0.0}
    guess, highlight = Syntax.guess_lexer, Syntax.highlight

    def timed_guess(path, code=None):
        start = time.perf_counter()
        try:
            return guess(path, code)
        finally:
            spent["Syntax.guess_lexer"] += time.perf_counter() - start

    def timed_highlight(self, code, line_range=None):
        start = time.perf_counter()
        try:
            return highlight(self, code, line_range)
        finally:
            spent["Syntax.highlight"] += time.perf_counter() - start

    Syntax.guess_lexer, Syntax.highlight = staticmethod(timed_guess), timed_highlight
    try:
        start = time.perf_counter()
        render_diff(diff)
        total = time.perf_counter() - start
    finally:
        Syntax.guess_lexer, Syntax.highlight = staticmethod(guess), highlight
    spent["the rest (spans, split, Text)"] = total - sum(spent.values())
    spent["total"] = total
    return spent


def render_profile(diff: git.WorktreeDiff, top: int = 12) -> str:
    profile = cProfile.Profile()
    profile.enable()
    render_diff(diff)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def racy_files(worktree: Path, index: Path) -> int:
    """Tracked files whose mtime falls in the index file's second (or later). git treats them as
    "racily clean" and re-reads them whenever it adds from a copy of this index (every call, if
    the copy is made anew each time; the real index is never rewritten, so they stay racy)."""
    out = subprocess.run(["git", "-C", str(worktree), "ls-files", "-z"], capture_output=True,
                         check=True)  # fmt: skip
    second = index.stat().st_mtime_ns // 10**9
    count = 0
    for name in out.stdout.split(b"\0"):
        path = worktree / name.decode()
        if name and path.exists() and path.stat().st_mtime_ns // 10**9 >= second:
            count += 1
    return count


SCREEN_ROWS = 50  # the Diff tab at 200x50


def first_screen(rows):
    """Highlight the hunks that show on the first screen, as DiffView does when it draws it."""
    for hunk in rows.hunks:
        if hunk.start < SCREEN_ROWS:
            rows.rows[hunk.start : hunk.end] = highlight_hunk(hunk)
    return rows


def highlight_all(rows):
    for hunk in rows.hunks:
        rows.rows[hunk.start : hunk.end] = highlight_hunk(hunk)
    return rows


def measure(worktree: Path, base: str, runs: int, profile: bool) -> dict:
    index = real_index(worktree)
    before = (index.read_bytes(), index.stat().st_mtime_ns)
    racy = racy_files(worktree, index)
    diff_first, diff_samples, diff = timed(lambda: git.worktree_diff(worktree, base), runs)
    assert isinstance(diff, git.WorktreeDiff)
    # What the Diff tab does: the rows, then the hunks on its first screen are highlighted
    # (the rest are highlighted when they scroll into view).
    render_first, render_samples, lines = timed(lambda: first_screen(render_diff(diff)), runs)
    both_first, both_samples, _ = timed(
        lambda: first_screen(render_diff(git.worktree_diff(worktree, base))), runs
    )
    full_first, full_samples, _ = timed(lambda: highlight_all(render_diff(diff)), runs)
    breakdown = git_breakdown(worktree, base)
    rendering = render_breakdown(diff)
    after = (index.read_bytes(), index.stat().st_mtime_ns)
    result = {
        "worktree_diff": {**summarize(diff_samples), "first": diff_first},
        "render_diff": {**summarize(render_samples), "first": render_first},
        "render_everything_highlighted": {**summarize(full_samples), "first": full_first},
        "together": {**summarize(both_samples), "first": both_first},
        "files": len(diff.files),
        "statuses": {s: sum(f.status == s for f in diff.files) for s in "AMDR"},
        "added_lines": diff.added,
        "deleted_lines": diff.deleted,
        "rendered_lines": len(lines.rows),  # type: ignore[union-attr]
        "git_breakdown": breakdown,
        "render_breakdown": rendering,
        "index_untouched": before == after,
        "index_bytes": len(before[0]),
        "racy_files": racy,
    }
    if profile:
        result["render_profile"] = render_profile(diff)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Diff tab refresh time on a big repository.")
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile render_diff too")
    args = parser.parse_args()
    if args.files < 100:
        parser.error("--files must be at least 100 (50 of them change)")

    results: dict = {"files": args.files, "runs": args.runs, "goal": GOAL, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="kanban-diff-") as tmp:
        repo = Path(tmp) / "repo"
        start = time.perf_counter()
        paths = make_repo(repo, args.files, args.seed)
        print(f"repository of {len(paths):,} files in {time.perf_counter() - start:.1f} s",
              flush=True)  # fmt: skip
        cases = (("50 changed", (30, 10, 10)), ("1 changed", (1, 0, 0)))
        for n, (label, (modified, added, deleted)) in enumerate(cases):
            start = time.perf_counter()
            worktree = Path(tmp) / "worktrees" / f"case{n}"
            git.ensure_worktree(repo, worktree, f"kanban/case{n}", "main")
            results.setdefault("worktree_add", []).append(time.perf_counter() - start)
            changes = change_files(worktree, paths, modified, added, deleted, args.seed + n)
            print(f"{label}: {len(changes['modified'])} modified, {len(changes['added'])} new "
                  f"(untracked), {len(changes['deleted'])} deleted; timing ...", flush=True)  # fmt: skip
            results["cases"][label] = measure(worktree, "main", args.runs, args.profile)

    rows = []
    for label, case in results["cases"].items():
        for part in ("worktree_diff", "render_diff", "together"):
            s = case[part]
            goal = f"< {GOAL * 1000:.0f} {verdict(s['median'], GOAL)}" if part == "together" else ""
            rows.append([f"{label}: {part}", ms(s["first"]), s["n"], ms(s["median"]),
                         ms(s["min"]), ms(s["max"]), goal])  # fmt: skip
    print(f"\nDiff refresh, {args.files:,}-file repository, ms (first: the first call on the "
          "worktree, not in the n calls)")  # fmt: skip
    print_table(["case", "first", "n", "median", "min", "max", "goal"], rows)

    rows = []
    for label, case in results["cases"].items():
        st = case["statuses"]
        rows.append([label, case["files"], f"A{st['A']} M{st['M']} D{st['D']} R{st['R']}",
                     f"+{case['added_lines']} -{case['deleted_lines']}", case["rendered_lines"],
                     case["racy_files"],
                     "yes" if case["index_untouched"] else "NO (changed!)"])  # fmt: skip
    print("\nWhat was diffed (racy: tracked files in the index's mtime second, which git re-reads "
          "when it adds from a copy of that index)")  # fmt: skip
    print_table(["case", "files", "status", "lines", "rendered", "racy", "real index untouched"],
                rows)  # fmt: skip

    print("\nOne worktree_diff call, by git subprocess, ms")
    names = list(dict.fromkeys(k for c in results["cases"].values() for k in c["git_breakdown"]))
    rows = [[name, *(ms(c["git_breakdown"].get(name)) for c in results["cases"].values())]
            for name in names]  # fmt: skip
    print_table(["step", *results["cases"]], rows)

    print("\nOne render_diff call, ms")
    names = list(results["cases"]["50 changed"]["render_breakdown"])
    rows = [[name, *(ms(c["render_breakdown"][name]) for c in results["cases"].values())]
            for name in names]  # fmt: skip
    print_table(["step", *results["cases"]], rows)
    if args.profile:
        for label, case in results["cases"].items():
            print(f"\nrender_diff profile, {label}:\n{case['render_profile']}")
    print(f"\nwrote {write_json('diff_refresh', results)}")


if __name__ == "__main__":
    main()
