"""Key-to-screen latency of the board app in a real terminal (tmux), on big boards.

Run:
    . .venv/bin/activate
    python bench/tui_keypress.py                       # 1,000 and 5,000 cards, 20 presses each
    python bench/tui_keypress.py --sizes 1000 --presses 10

Goal: < 50 ms (median) from ``tmux send-keys`` to the screen showing the result.

Two measurements per board size, each in a fresh tmux server:

* ``L`` / ``H`` (move the selected card to the next / previous column), 160x45 pane: the app
  starts with the first card of To Do selected; after ``L`` the script polls ``capture-pane``
  until that card's title tag (``C00387``) shows inside the In Progress column, whose x-range
  comes from the column header line; after ``H`` until it is back inside To Do. Presses
  alternate L, H, L, ...; between presses the script waits for the move to reach the card file,
  then ``--pause`` seconds (the app refreshes the whole board after a write without changing
  the screen, and a key pressed meanwhile would wait for it), then for a still screen.
* ``j`` (selection down), 120x45 pane (the side panel hides below 140 columns): time until the
  screen differs at all from the one before the key. Moving the selection may only recolour
  two card borders, so this compares ``capture-pane -e`` output (with colour sequences).

Every time includes the ``send-keys`` call itself and is late by up to one ``capture-pane``
call; both costs are measured and reported. Polling flat out also takes CPU the app could use on
a small machine; compare with ``--poll-interval 0.005``. Boards are generated into a temp dir and removed
afterwards; every tmux server is killed. Results go to ``bench/out/tui_keypress.json``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

import tmuxutil
from benchutil import ms, print_table, summarize, verdict, write_json
from gen_board import BoardInfo, generate_board
from tmuxutil import Tmux, call_overhead

GOAL = 0.050
APP_COMMAND = "{python} -m kanban_agents {board}"
TIMEOUT = 10.0
COLUMN_TITLES = ("To Do", "In Progress", "Review", "Done")
CARD_TAG = re.compile(r"│ C\d{5} ")


def column_ranges(screen: str) -> dict[str, tuple[int, int]]:
    """x-range [start, end) of each column, from the header line (titles are padded by 1)."""
    for line in screen.splitlines():
        if all(title in line for title in COLUMN_TITLES):
            starts = [line.index(title) - 1 for title in COLUMN_TITLES]
            ends = [*starts[1:], starts[-1] + (starts[-1] - starts[-2])]
            return {t: (s, e) for t, s, e in zip(COLUMN_TITLES, starts, ends, strict=True)}
    raise ValueError("no column header line on screen:\n" + screen)


def shown_in(screen: str, text: str, x_range: tuple[int, int]) -> bool:
    low, high = x_range
    for line in screen.splitlines():
        at = line.find(text)
        while at != -1:
            if low <= at < high:
                return True
            at = line.find(text, at + 1)
    return False


def settle(tmux: Tmux, quiet: float = 0.25, limit: float = 5.0, escapes: bool = False) -> str:
    """Wait until the screen has not changed for ``quiet`` seconds; return it."""
    deadline = time.perf_counter() + limit
    screen = tmux.capture(escapes)
    stable_since = time.perf_counter()
    while time.perf_counter() < deadline:
        time.sleep(0.02)
        now_screen = tmux.capture(escapes)
        if now_screen != screen:
            screen, stable_since = now_screen, time.perf_counter()
        elif time.perf_counter() - stable_since >= quiet:
            break
    return screen


def app_command(template: str, board: Path) -> str:
    return template.format(python=shlex.quote(sys.executable), board=shlex.quote(str(board)))


def open_app(info: BoardInfo, width: int, height: int, template: str) -> tuple[Tmux, str]:
    """Start the app and wait until cards are drawn (any card's title tag) and the screen is
    still. Earlier runs may have moved cards, so no particular card is expected."""
    tmux = Tmux(app_command(template, info.root), width, height)
    start = tmux.start()
    shown, screen, _ = tmux.wait_until(lambda s: CARD_TAG.search(s) is not None, start, 60)
    if shown is None:
        tmux.kill()
        raise SystemExit(f"the app showed no cards; last screen:\n{screen}")
    return tmux, settle(tmux)


def press_and_wait(tmux: Tmux, key: str, done, escapes: bool = False) -> tuple[float | None, int]:
    start = time.perf_counter()
    tmux.send_keys(key)
    elapsed, _, polls = tmux.wait_until(done, start, TIMEOUT, escapes)
    return elapsed, polls


def wait_for_file(path: Path, text: str, timeout: float = 5.0) -> bool:
    """Wait until the app has written ``text`` into the card file (the move reached disk)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if text in path.read_text(encoding="utf-8"):
            return True
        time.sleep(0.01)
    return False


def measure_moves(info: BoardInfo, presses: int, width: int, height: int, template: str,
                  pause: float) -> dict:  # fmt: skip
    tmux, screen = open_app(info, width, height, template)
    with tmux:
        ranges = column_ranges(screen)
        tag = info.first_card.title.split()[0] + " "
        if not shown_in(screen, tag, ranges["To Do"]):
            raise SystemExit(f"{tag!r} is not in To Do at start:\n{screen}")
        samples: dict[str, list[float]] = {"L": [], "H": []}
        polls, misses = [], 0
        for i in range(presses):
            key, column, status = (
                ("L", "In Progress", "in-progress") if i % 2 == 0 else ("H", "To Do", "todo")
            )
            elapsed, n = press_and_wait(tmux, key, lambda s, c=column: shown_in(s, tag, ranges[c]))
            if elapsed is None:
                misses += 1
            else:
                samples[key].append(elapsed)
                polls.append(n)
            # The write and the full refresh that follows it may still be running and leave the
            # screen unchanged: wait for the file, then give the app time to go idle.
            wait_for_file(info.first_card.path, f"status: {status}\n")
            time.sleep(pause)
            settle(tmux)
    both = samples["L"] + samples["H"]
    return {"all": summarize(both), "L": summarize(samples["L"]), "H": summarize(samples["H"]),
            "timeouts": misses, "polls": polls, "columns": ranges}  # fmt: skip


def measure_down(info: BoardInfo, presses: int, width: int, height: int, template: str) -> dict:
    tmux, _ = open_app(info, width, height, template)
    with tmux:
        screen = settle(tmux, escapes=True)
        samples, polls, misses = [], [], 0
        for _ in range(presses):
            before = screen
            elapsed, n = press_and_wait(tmux, "j", lambda s, b=before: s != b, escapes=True)
            if elapsed is None:
                misses += 1
            else:
                samples.append(elapsed)
                polls.append(n)
            screen = settle(tmux, escapes=True)
    return {"all": summarize(samples), "timeouts": misses, "polls": polls}


def main() -> None:
    parser = argparse.ArgumentParser(description="Key-to-screen latency of the TUI under tmux.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pause", type=float, default=1.0,
                        help="seconds to let the app go idle after a move reached disk")  # fmt: skip
    parser.add_argument("--poll-interval", type=float, default=0.0,
                        help="sleep between capture-pane polls (default 0: as fast as possible; "
                        "each poll costs CPU the app may need on a small machine)")  # fmt: skip
    parser.add_argument("--app-command", default=APP_COMMAND, metavar="TEMPLATE",
                        help="how to launch the app, with {python} and {board} "
                        "(default: %(default)s); e.g. a wrapper script to try a change")  # fmt: skip
    args = parser.parse_args()
    tmuxutil.POLL_INTERVAL = args.poll_interval

    results: dict = {"presses": args.presses, "goal": GOAL, "app_command": args.app_command,
                     "poll_interval": args.poll_interval, "cases": {}}  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="kanban-bench-") as tmp:
        python = shlex.quote(sys.executable)
        with Tmux(f"{python} -c 'import time; time.sleep(60)'", 160, 45) as idle:
            idle.start()
            time.sleep(0.3)
            overhead = call_overhead(idle)
        results["poll_overhead"] = overhead

        for size in args.sizes:
            info = generate_board(Path(tmp) / f"board-{size}", size, seed=args.seed)
            print(f"measuring L/H and j on {size:,} cards ...", flush=True)
            moves = measure_moves(info, args.presses, 160, 45, args.app_command, args.pause)
            down = measure_down(info, args.presses, 120, 45, args.app_command)
            results["cases"][str(size)] = {"move_L_H": moves, "select_down_j": down}
            for label, data, key in ((f"L/H move, {size:,} cards, 160x45", moves, "all"),
                                     ("  of which L", moves, "L"), ("  of which H", moves, "H"),
                                     (f"j down, {size:,} cards, 120x45", down, "all")):  # fmt: skip
                s = data[key]
                goal = f"< {GOAL * 1000:.0f} {verdict(s['median'], GOAL)}" if key == "all" else ""
                rows.append([label, s["n"], ms(s["median"]), ms(s["p90"]), ms(s["min"]),
                             ms(s["max"]), data["timeouts"] if key == "all" else "", goal])  # fmt: skip

    cap, cmd = overhead["capture_pane"], overhead["tmux_command"]
    print("\nsend-keys -> result on screen (tmux capture-pane polling), ms")
    print_table(["case", "n", "median", "p90", "min", "max", "timeouts", "goal"], rows)
    print(f"overhead: one capture-pane call median {ms(cap['median'])} ms (max {ms(cap['max'])}); "
          f"one tmux command (~send-keys) median {ms(cmd['median'])} ms. Each time above includes "
          "one send-keys call and is late by up to one capture-pane call.")  # fmt: skip
    print(f"\nwrote {write_json('tui_keypress', results)}")


if __name__ == "__main__":
    main()
