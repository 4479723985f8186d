"""Time from launching the board app in a real terminal to the first frame that shows cards.

Run:
    . .venv/bin/activate
    python bench/tui_startup.py                      # 100, 1,000 and 5,000 cards, 5 runs each
    python bench/tui_startup.py --sizes 1000 --runs 3

How: for each run a private tmux server starts ``<venv python> -m kanban_agents <board>`` in a
160x45 pane (TERM=xterm-256color); the script then polls ``tmux capture-pane -p`` as fast as it
can until the title tag of the first card of the first column (lowest ``order`` in ``todo``,
e.g. ``C00387``) is on screen inside a card box (``│ C00387 ``; the side panel's copy of the
title does not count), and records the time since the ``new-session`` call. It also notes when
anything at all was first painted. For each board it also times, in-process, what the app does
before its first paint (imports, ``BoardStore.open``, building the column models). The floor is a minimal Textual app (a Static
"READY", written into the temp dir) launched the same way. One warm-up launch per case is not
counted. The package is byte-compiled first, as an install does. Goal: 1,000 cards < 0.8 s
(median). A capture-pane call costs a few ms, so every time
is late by up to one poll: that cost is measured and reported too. Polling flat out also takes
CPU the app could use on a small machine; compare with ``--poll-interval 0.02``.

Boards are generated into a temp dir and removed afterwards; every tmux server is killed.
Results go to ``bench/out/tui_startup.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tmuxutil
from benchutil import ms, print_table, summarize, verdict, write_json
from gen_board import generate_board
from tmuxutil import Tmux, call_overhead

GOALS = {1000: 0.8}
APP_COMMAND = "{python} -m kanban_agents {board}"
TIMEOUT = 30.0

FLOOR_APP = """\
from textual.app import App, ComposeResult
from textual.widgets import Static


class Ready(App):
    def compose(self) -> ComposeResult:
        yield Static("READY")


Ready().run()
"""

# Runs in a fresh interpreter; prints the phases the app goes through before its first
# refresh_board returns (seconds). Textual's own mount/layout/paint comes after these.
SPLIT_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import textual.app, textual.widgets
t1 = time.perf_counter()
from kanban_agents.tui.app import KanbanApp
from kanban_agents.core.board import BoardStore
t2 = time.perf_counter()
store = BoardStore.open(sys.argv[1])
t3 = time.perf_counter()
app = KanbanApp(store, watch=False)
app.build_columns()
t4 = time.perf_counter()
app.build_columns()
t5 = time.perf_counter()
print(json.dumps({"import_textual": t1 - t0, "import_app": t2 - t1, "open_store": t3 - t2,
                  "build_columns_cold": t4 - t3, "build_columns_warm": t5 - t4}))
"""


def split_phases(board: Path, runs: int) -> dict[str, dict]:
    argv = [sys.executable, "-c", SPLIT_CHILD, str(board)]
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)  # warm-up
    rows = [json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
            for _ in range(runs)]  # fmt: skip
    return {key: summarize([r[key] for r in rows]) for key in rows[0]}


def launch(command: str, marker: str, width: int, height: int) -> dict:
    """One launch: seconds to the first non-blank screen and to ``marker`` on screen."""
    with Tmux(command, width, height) as tmux:
        start = tmux.start()
        painted = None

        def seen(screen: str) -> bool:
            nonlocal painted
            if painted is None and screen.strip():
                painted = time.perf_counter() - start
            return marker in screen

        elapsed, screen, polls = tmux.wait_until(seen, start, TIMEOUT)
    if elapsed is None:
        raise SystemExit(
            f"{marker!r} did not appear within {TIMEOUT:.0f} s; last screen:\n{screen}"
        )
    return {"elapsed": elapsed, "first_paint": painted, "polls": polls}


def measure(command: str, marker: str, runs: int, width: int, height: int) -> dict:
    launch(command, marker, width, height)  # warm-up: .pyc, page cache
    launches = []
    for _ in range(runs):
        launches.append(launch(command, marker, width, height))
        time.sleep(0.2)  # let the killed app exit before the next one starts
    return {
        "shown": summarize([r["elapsed"] for r in launches]),
        "first_paint": summarize([r["first_paint"] for r in launches if r["first_paint"]]),
        "polls": [r["polls"] for r in launches],
    }


def compile_package() -> None:
    """Byte-compile kanban_agents, as ``pip install`` does: Textual's bytecode came with its
    install, and where PYTHONDONTWRITEBYTECODE is set (it is on the machine this was written
    on) an editable checkout would otherwise be compiled from source at every launch."""
    import compileall

    import kanban_agents

    compileall.compile_dir(Path(kanban_agents.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description="Launch-to-cards-on-screen time of the TUI.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=45)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--poll-interval", type=float, default=0.0,
                        help="sleep between capture-pane polls (default 0: as fast as possible; "
                        "each poll costs CPU the app may need on a small machine)")  # fmt: skip
    parser.add_argument("--app-command", default=APP_COMMAND, metavar="TEMPLATE",
                        help="how to launch the app, with {python} and {board} "
                        "(default: %(default)s); e.g. a wrapper script to try a change")  # fmt: skip
    args = parser.parse_args()
    tmuxutil.POLL_INTERVAL = args.poll_interval
    compile_package()

    python = shlex.quote(sys.executable)
    results: dict = {"runs": args.runs, "terminal": [args.width, args.height],
                     "app_command": args.app_command, "poll_interval": args.poll_interval,
                     "cases": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="kanban-bench-") as tmp:
        floor_app = Path(tmp) / "floor_app.py"
        floor_app.write_text(FLOOR_APP, encoding="utf-8")
        cases = [
            ("floor: minimal Textual app", f"{python} {shlex.quote(str(floor_app))}", "READY", None)
        ]
        for size in args.sizes:
            info = generate_board(Path(tmp) / f"board-{size}", size, seed=args.seed)
            # "│ C00387 ": the title line inside a card box. The side panel shows the same title
            # (after "▏ "), and can be painted before the board's columns are.
            marker = "│ " + info.first_card.title.split()[0] + " "
            command = args.app_command.format(python=python, board=shlex.quote(str(info.root)))
            cases.append((f"kanban-agents, {size:,} cards", command, marker, size))
            results.setdefault("split", {})[str(size)] = split_phases(info.root, args.runs)

        with Tmux(f"{python} -c 'import time; time.sleep(60)'", args.width, args.height) as idle:
            idle.start()
            time.sleep(0.3)
            overhead = call_overhead(idle)
        results["poll_overhead"] = overhead

        floor_median = None
        rows = []
        for label, command, marker, size in cases:
            print(f"measuring {label} ...", flush=True)
            data = measure(command, marker, args.runs, args.width, args.height)
            shown = data["shown"]
            floor_median = floor_median or shown["median"]
            goal = GOALS.get(size) if size else None
            data.update({"cards": size, "marker": marker, "goal": goal,
                         "ratio_to_floor": shown["median"] / floor_median})  # fmt: skip
            results["cases"][label] = data
            rows.append([label, ms(data["first_paint"]["median"]), ms(shown["median"]),
                         ms(shown["min"]), ms(shown["max"]), f"{data['ratio_to_floor']:.2f}x",
                         f"< {goal * 1000:.0f} {verdict(shown['median'], goal)}" if goal else ""])  # fmt: skip

    cap = overhead["capture_pane"]
    print(f"\nlaunch -> first card on screen, {args.width}x{args.height} tmux pane, "
          f"{args.runs} runs after 1 warm-up, ms")  # fmt: skip
    print_table(["case", "1st paint", "median", "min", "max", "x floor", "goal"], rows)
    print(f"one capture-pane call: median {ms(cap['median'])} ms (min {ms(cap['min'])}, "
          f"max {ms(cap['max'])}); times are late by up to one call")  # fmt: skip
    split = results.get("split", {})
    if split:
        phases = list(next(iter(split.values())))
        print("\nin-process split before the first paint (fresh interpreter per run), median ms")
        print_table(["phase", *(f"{int(n):,} cards" for n in split)],
                    [[p, *(ms(split[n][p]["median"]) for n in split)] for p in phases])  # fmt: skip
    print(f"\nwrote {write_json('tui_startup', results)}")


if __name__ == "__main__":
    main()
