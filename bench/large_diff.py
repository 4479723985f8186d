"""The Diff tab on a 20,000-line change, in a real terminal (tmux): open it, and scroll it.

Run:
    . .venv/bin/activate
    python bench/large_diff.py                    # 20,000 changed lines, 3 opens, 60 page-downs
    python bench/large_diff.py --lines 50000 --opens 5

Goal: the Diff tab of a 20,000-line change is painted in under 300 ms, and scrolling it has no
stall (worst frame).

The app starts on the empty To Do column: ``l l`` selects ``small`` in Review first.

Setup (a temp dir, removed afterwards): a git repository with 40 Python files, a board with two
cards in Review: ``small`` (one changed line) and ``big``, whose worktree (branch ``kanban/big``,
made with ``git worktree add`` as a run does) changes ``--lines`` lines over 40 files (each
under ``[review] fold_lines``, so all of them are drawn, highlighted as Python) plus a 5,000-line
``package-lock.json`` (folded). No agent runs: the cards sit in Review.

Measured in a 180x50 tmux pane, from ``send-keys`` to ``capture-pane`` showing the result:

* ``open (cold)``: on the Diff tab with ``small`` selected, ``j`` selects ``big``: the session
  computes its diff (``git diff`` in the worktree, folding, ``render_diff``) off the UI thread
  and the tab paints it. Until the file list of ``big`` is on screen.
* ``open (tab)``: with ``big`` selected and its diff computed, ``1`` (Card tab) then ``3``
  (Diff tab): until the file list shows again. What a reviewer waits for when opening the tab.
* ``page down``: ``enter`` puts the focus in the diff, then ``pgdn`` ``--pages`` times; each
  until the screen (with colours) differs from the one before. The worst is the stall to look
  for: each page draws ~45 rows never drawn before (highlighted on first draw).

In-process, for where the time goes: ``session.diff`` (git + folding) and ``render_diff``
alone, median of 3. Every time includes a ``send-keys`` call and is late by up to one
``capture-pane`` call (both measured). Results go to ``bench/out/large_diff.json``.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, verdict, write_json
from tmuxutil import Tmux, call_overhead

GOAL_OPEN = 0.300
FILES = 40
WIDTH, HEIGHT = 180, 50
TIMEOUT = 30.0


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def python_lines(module: int, count: int, salt: str) -> str:
    out = []
    for i in range(count // 4):
        out += [f"def {salt}_handler_{module}_{i}(request, limit={i % 50}):",
                f"    items = [x for x in request.items if x.size < limit]  # {salt} {i}",
                f"    return {{'module': {module}, 'count': len(items), 'name': \"{salt}-{i}\"}}",
                ""]  # fmt: skip
    return "\n".join(out) + "\n"


def make_project(root: Path, lines: int) -> Path:
    repo = root / "repo"
    (repo / "src").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main", str(repo))
    for cmd in (("user.name", "Bench"), ("user.email", "bench@example.com")):
        git(repo, "config", *cmd)
    for m in range(FILES):
        (repo / "src" / f"mod{m:02d}.py").write_text(python_lines(m, 80, "base"))
    board = repo / "board"
    board.mkdir()
    for card_id, order in (("small", 1), ("big", 2)):
        (board / f"{card_id}.md").write_text(
            f"---\ntitle: {card_id.upper()} diff\nstatus: review\norder: {order}\n---\n\n"
            f"## Task\n\nA {card_id} change.\n"
        )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    trees = root / "repo-worktrees"
    for card_id in ("small", "big"):
        git(repo, "worktree", "add", "-q", "-b", f"kanban/{card_id}", str(trees / card_id), "main")
    (trees / "small" / "src" / "mod00.py").write_text(python_lines(0, 80, "base") + "X = 1\n")
    per_file = lines // FILES
    for m in range(FILES):
        path = trees / "big" / "src" / f"mod{m:02d}.py"
        path.write_text(python_lines(m, 80, "base") + python_lines(m, per_file, "new"))
    lock = "".join(f'    "dep-{i}": {{"version": "1.{i}.0"}},\n' for i in range(5000))
    (trees / "big" / "package-lock.json").write_text("{\n" + lock + "}\n")
    for card_id in ("small", "big"):
        git(trees / card_id, "add", "-A")
        git(trees / card_id, "commit", "-qm", f"{card_id} work")
    return board


def in_process(board: Path) -> dict:
    from kanban_agents.core.session import BoardSession
    from kanban_agents.tui.diff_view import render_diff

    session = BoardSession.open(board)
    diffs, renders, changed = [], [], 0
    for _ in range(3):
        start = time.perf_counter()
        view = session.diff("big")
        diffs.append(time.perf_counter() - start)
        start = time.perf_counter()
        lines = render_diff(view.diff)
        renders.append(time.perf_counter() - start)
        changed = view.diff.added + view.diff.deleted
        rows = len(lines.rows)
    folded = [f.path for f in view.diff.files if getattr(f, "folded", None) or f.skipped]
    return {"diff": summarize(diffs), "render": summarize(renders), "changed_lines": changed,
            "rows": rows, "folded": folded}  # fmt: skip


def wait_change(tmux: Tmux, before: str, start: float) -> float | None:
    elapsed, _, _ = tmux.wait_until(lambda s: s != before, start, TIMEOUT, escapes=True)
    return elapsed


def settle(tmux: Tmux, quiet: float = 0.3, limit: float = 10.0) -> str:
    deadline = time.perf_counter() + limit
    screen, since = tmux.capture(True), time.perf_counter()
    while time.perf_counter() < deadline:
        time.sleep(0.02)
        now = tmux.capture(True)
        if now != screen:
            screen, since = now, time.perf_counter()
        elif time.perf_counter() - since >= quiet:
            break
    return screen


def press(tmux: Tmux, key: str, done) -> float | None:
    start = time.perf_counter()
    tmux.send_keys(key)
    elapsed, _, _ = tmux.wait_until(done, start, TIMEOUT)
    return elapsed


def measure_app(board: Path, opens: int, pages: int, lines: int) -> dict:
    command = f"{shlex.quote(sys.executable)} -m kanban_agents {shlex.quote(str(board))}"
    big_list = "src/mod20.py"  # in big's file list only
    summary = f"{FILES + 1} files changed"
    cold, tab, page = [], [], []
    with Tmux(command, WIDTH, HEIGHT) as tmux:
        start = tmux.start()
        shown, screen, _ = tmux.wait_until(lambda s: "SMALL diff" in s, start, 60)
        if shown is None:
            raise SystemExit(f"the app showed no cards:\n{screen}")
        overhead = call_overhead(tmux, 20)
        settle(tmux)
        tmux.send_keys("l", "l")  # the Review column: small is selected
        settle(tmux)
        tmux.send_keys("3")
        tmux.wait_until(lambda s: "1 file changed" in s, time.perf_counter(), TIMEOUT)
        settle(tmux)
        for _ in range(opens):
            cold.append(press(tmux, "j", lambda s: summary in s and big_list in s))
            settle(tmux)
            tmux.send_keys("k")
            tmux.wait_until(lambda s: "1 file changed" in s, time.perf_counter(), TIMEOUT)
            settle(tmux)
        tmux.send_keys("j")
        tmux.wait_until(lambda s: summary in s, time.perf_counter(), TIMEOUT)
        settle(tmux)
        for _ in range(opens):
            tmux.send_keys("1")
            tmux.wait_until(lambda s: summary not in s, time.perf_counter(), TIMEOUT)
            settle(tmux)
            tab.append(press(tmux, "3", lambda s: summary in s and big_list in s))
            settle(tmux)
        tmux.send_keys("enter")
        screen = settle(tmux)
        for _ in range(pages):
            start = time.perf_counter()
            tmux.send_keys("PageDown")
            page.append(wait_change(tmux, screen, start))
            screen = settle(tmux, quiet=0.05)
        last = tmux.capture()
    return {"open_cold": summarize([t for t in cold if t is not None]),
            "open_tab": summarize([t for t in tab if t is not None]),
            "page_down": summarize([t for t in page if t is not None]),
            "misses": sum(t is None for t in cold + tab + page),
            "last_screen_has_code": "new_handler_" in last,
            "overhead": overhead}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--pages", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="large-diff-") as tmp:
        board = make_project(Path(tmp), args.lines)
        process = in_process(board)
        app = measure_app(board, args.opens, args.pages, args.lines)
    print(f"{process['changed_lines']:,} changed lines, {process['rows']:,} diff rows; folded: "
          f"{', '.join(process['folded']) or 'none'}")  # fmt: skip
    rows = [
        ("session.diff (git + folding)", ms(process["diff"]["median"]), "", ""),
        ("render_diff", ms(process["render"]["median"]), "", ""),
        ("open (cold): j to painted", ms(app["open_cold"]["median"]), ms(app["open_cold"]["max"]),
         verdict(app["open_cold"]["max"], GOAL_OPEN)),
        ("open (tab): 3 to painted", ms(app["open_tab"]["median"]), ms(app["open_tab"]["max"]),
         verdict(app["open_tab"]["max"], GOAL_OPEN)),
        ("page down (each)", ms(app["page_down"]["median"]), ms(app["page_down"]["max"]), ""),
        ("capture-pane call", ms(app["overhead"]["capture_pane"]["median"]), "", ""),
    ]  # fmt: skip
    print_table(("step", "median", "worst", f"goal {ms(GOAL_OPEN)}"), rows)
    if app["misses"]:
        print(f"{app['misses']} presses showed nothing within {TIMEOUT:g} s")
    path = write_json("large_diff", {"lines": args.lines, "in_process": process, "app": app})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
