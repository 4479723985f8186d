"""10 agents flooding their logs while the user moves the selection, in a real terminal (tmux).

Run:
    . .venv/bin/activate
    python bench/log_flood.py                          # 10 agents x 2,000 lines/s, 30 presses
    python bench/log_flood.py --agents 5 --rate 500 --presses 10

Goal: with 10 agents emitting 2,000 log lines/s each, a key press is still reflected on screen in
under 100 ms (median) and the Log tab keeps up with the selected card's output.

Setup (in a temp dir, removed afterwards): a git repository with a board of 12 cards (``C00001``
... ``C00012``, all in To Do); cards 1-10 use a command agent, a small Python script written
into the temp dir (outside the repository) that prints ``--rate`` lines per second (a batch every
5 ms, flushed) for ``--flood-seconds``, then exits 0; their ``tests: "true"`` passes.
``kanban.toml`` sets ``[runs] concurrency`` to the number of agents. Each line reads
``~C00001 #0001234 @<unix time>``: the card, the line's number and when it was printed. Each
agent also writes its pid and start time to a file, so the count it has printed by any moment is
known.

Phases, one app (``{python} -m kanban_agents <board>`` in a 200x50 pane, so the side panel
shows; TERM=xterm-256color; a private ``tmux -L`` server):

1. Baseline, no agents: press ``2`` (Log tab), then ``j``/``k`` alternately ``--presses`` times
   between the first two To Do cards. Each time is ``send-keys`` -> the target card's border
   drawn in the selected style (``capture-pane -e``: the selected card's border has its own
   colour/bold; the style is taken from the card selected at launch). Between presses the script
   waits for a still screen.
2. The cards 1-10 are moved to In Progress from outside, one ``kanban-agents --board B move``
   per card (the app's watcher starts the runs). The script waits until every run's
   ``.git/kanban-agents/runs/<card>/state.json`` says ``running``; the selection follows card 1
   into In Progress and the Log tab streams its output.
3. Keep-up, ``--sample-seconds``: every 0.2 s a capture; the newest line of the selected card
   on screen gives (a) lines behind = what the agent has printed by then (rate x time since its
   start) minus the line's number, as seconds, and (b) age = now minus the time in the line.
4. Key latency under flood: ``j``/``k`` alternately between cards 1 and 2 (both running), timed
   as in 1. After each press the script keeps polling until the Log tab shows the new card's
   lines ("log switch": the app reads the run's history from its JSONL, then streams), then
   waits ``--gap`` seconds (the screen never stands still now) and checks, with two captures
   0.25 s apart, that the Log tab still advances.
5. Keep-up again, after the presses.

CPU: utime+stime of the app process from ``/proc/<pid>/stat`` over each phase, as % of one core;
also its children that ended (git, tests), the tmux server, the agent scripts, and the whole
machine from ``/proc/stat`` (2 cores: 200% is everything; other work on a shared machine shows
as "rest" and slows the app). Polling ``capture-pane`` costs CPU too: ``--poll-interval``
(default 5 ms) sleeps between polls; every time is late by up to one poll plus one
``capture-pane`` call (both measured). The agents print for ``--flood-seconds`` (default 90 s,
so that they outlast the measurement). Results go to ``bench/out/log_flood.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import tmuxutil
from benchutil import ms, print_table, summarize, verdict, write_json
from tmuxutil import Tmux, call_overhead

from kanban_agents.config import UISettings

GOAL = 0.100
APP_COMMAND = "{python} -m kanban_agents {board}"
WIDTH, HEIGHT = 200, 50
TIMEOUT = 10.0
FOLLOW_CHECK = 0.25  # seconds between the two captures that tell whether the log advances
CARDS = 12
CARD_TAG = re.compile(r"│ C\d{5} ")
LOG_LINE = re.compile(r"~(C\d{5}) #(\d{7}) @(\d+\.\d+)")
BORDER = re.compile(r"╭─ ([a-z0-9][a-z0-9-]*)")
ESCAPE = re.compile(r"\x1b\[([0-9;:?]*)([A-Za-z])")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

FLOOD_SCRIPT = """\
import json, os, sys, time

card_id, rate, seconds, info_dir = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
tag = card_id[:6].upper()
start = time.time()
with open(os.path.join(info_dir, card_id + ".json"), "w") as handle:
    json.dump({"pid": os.getpid(), "start": start, "rate": rate}, handle)
printed = 0
while True:
    now = time.time()
    if now - start >= seconds:
        break
    due = int((now - start) * rate)
    if due > printed:
        sys.stdout.write("".join(f"~{tag} #{i:07d} @{now:.3f}\\n" for i in range(printed + 1, due + 1)))
        sys.stdout.flush()
        printed = due
    time.sleep(0.005)
print(f"{tag} done: {printed} lines", flush=True)
"""


# ---------------------------------------------------------------------------- the board


def card_id(index: int) -> str:
    return f"c{index:05d}-flood-card-{index}"


def make_board(tmp: Path, agents: int, rate: float, seconds: float) -> tuple[Path, Path, Path]:
    """(repo, board, info dir): a committed repo with the board and the flood agent."""
    script = tmp / "flood_agent.py"
    script.write_text(FLOOD_SCRIPT, encoding="utf-8")
    info_dir = tmp / "agent-info"
    info_dir.mkdir()
    repo = tmp / "repo"
    board = repo / "board"
    board.mkdir(parents=True)
    command = [sys.executable, str(script), "{card_id}", f"{rate:g}", f"{seconds:g}", str(info_dir)]
    (board / "kanban.toml").write_text(
        # The agents' script and info dir live in the temp dir, which a sandbox hides (a private
        # /tmp): this measures the UI under a flood, not the sandbox.
        f'[runs]\nconcurrency = {agents}\n\n[sandbox]\nmode = "off"\n\n'
        f"[agents.flood]\ncommand = {json.dumps(command)}\n",
        encoding="utf-8",
    )
    for i in range(1, CARDS + 1):
        extra = 'agent: flood\ntests: "true"\n' if i <= agents else "priority: P2\n"
        text = (f"---\ntitle: C{i:05d} Flood card {i}\nstatus: todo\norder: {i * 1000}\n{extra}"
                f"---\n\nPrint log lines as fast as asked (card {i}).\n")  # fmt: skip
        (board / f"{card_id(i)}.md").write_text(text, encoding="utf-8")
    (repo / "README.md").write_text("log flood bench\n", encoding="utf-8")
    for args in (["init", "-q", "-b", "main"], ["config", "user.name", "bench"],
                 ["config", "user.email", "bench@localhost"], ["add", "-A"],
                 ["commit", "-q", "-m", "board"]):  # fmt: skip
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    return repo, board, info_dir


def run_states(repo: Path) -> dict[str, str]:
    states = {}
    for path in (repo / ".git" / "kanban-agents" / "runs").glob("*/state.json"):
        with contextlib.suppress(OSError, ValueError):
            states[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))["state"]
    return states


def agent_info(info_dir: Path) -> dict[str, dict]:
    info = {}
    for path in info_dir.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            info[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return info


# ---------------------------------------------------------------------------- reading the screen


def border_styles(screen: str) -> dict[str, tuple]:
    """Each visible card's id -> the style of its top-left border corner (colour and attributes).

    ``capture-pane -e`` only emits a sequence where the style changes, even across lines, so the
    SGR state is tracked through the whole screen."""
    fg: str | None = None
    attrs: set[str] = set()
    styles: dict[str, tuple] = {}
    for line in screen.split("\n"):
        plain: list[str] = []
        marks: list[tuple] = []  # style at each plain character
        pos = 0
        for match in ESCAPE.finditer(line):
            text = line[pos : match.start()]
            plain.append(text)
            marks.extend([(fg, frozenset(attrs))] * len(text))
            pos = match.end()
            if match.group(2) != "m":
                continue
            params = match.group(1).replace(":", ";").split(";")
            i = 0
            while i < len(params):
                p = params[i]
                if p in ("", "0"):
                    fg, attrs = None, set()
                elif p in ("38", "48"):
                    width = 3 if i + 1 < len(params) and params[i + 1] == "5" else 5
                    if p == "38":
                        fg = ";".join(params[i : i + width])
                    i += width - 1
                elif p == "39":
                    fg = None
                elif p.isdigit() and (30 <= int(p) <= 37 or 90 <= int(p) <= 97):
                    fg = p
                elif p.isdigit() and 1 <= int(p) <= 9:
                    attrs.add(p)
                elif p in ("22", "23", "24", "25", "27", "28", "29"):
                    attrs -= {"1", "2"} if p == "22" else {p[1]}
                i += 1
        text = line[pos:]
        plain.append(text)
        marks.extend([(fg, frozenset(attrs))] * len(text))
        for match in BORDER.finditer("".join(plain)):
            styles[match.group(1)] = marks[match.start()]
    return styles


def selected_card(screen: str) -> tuple[str, tuple]:
    """The one card whose border style no other visible card shares, and that style."""
    styles = border_styles(screen)
    counts: dict[tuple, int] = {}
    for style in styles.values():
        counts[style] = counts.get(style, 0) + 1
    unique = [card for card, style in styles.items() if counts[style] == 1]
    if len(unique) != 1 or len(styles) < 3:
        raise SystemExit(f"cannot tell the selected card (styles {styles}); screen:\n{screen}")
    return unique[0], styles[unique[0]]


def is_selected(card: str, style: tuple) -> Callable[[str], bool]:
    return lambda screen: border_styles(screen).get(card) == style


def newest_line(screen: str, tag: str) -> tuple[int, float] | None:
    """(number, print time) of the selected card's newest log line on screen."""
    found = [(int(n), float(t)) for c, n, t in LOG_LINE.findall(screen) if c == tag]
    return max(found) if found else None


def tag_of(card: str) -> str:
    return card[:6].upper()


# ---------------------------------------------------------------------------- CPU


def proc_ticks(pid: int, children: bool = False) -> int | None:
    """utime+stime of ``pid`` (fields 14, 15 of /proc/<pid>/stat), or with ``children`` the
    cutime+cstime of its children that have exited and been waited for (fields 16, 17)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    first = 13 if children else 11
    return int(fields[first]) + int(fields[first + 1])


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU of some processes over a phase, as % of one core."""

    def __init__(self, pids: Callable[[], dict[str, list[int]]], children_of: int):
        self.pids = pids
        self.children_of = children_of
        self.start: tuple[float, dict[str, int], tuple[int, int]] | None = None

    def _sample(self) -> tuple[float, dict[str, int], tuple[int, int]]:
        groups = {name: sum(proc_ticks(p) or 0 for p in pids) for name, pids in self.pids().items()}
        groups["app_children"] = proc_ticks(self.children_of, children=True) or 0
        return time.perf_counter(), groups, machine_ticks()

    def begin(self) -> None:
        self.start = self._sample()

    def end(self) -> dict[str, float]:
        assert self.start is not None
        t0, g0, (busy0, total0) = self.start
        t1, g1, (busy1, total1) = self._sample()
        wall = t1 - t0
        result = {name: 100.0 * (g1[name] - g0.get(name, 0)) / CLOCK_TICKS / wall for name in g1}
        cpus = os.cpu_count() or 1
        result["machine"] = 100.0 * cpus * (busy1 - busy0) / max(total1 - total0, 1)
        result["seconds"] = wall
        return result


def pane_pid(tmux: Tmux) -> tuple[int, int]:
    """(the app's pid, the tmux server's pid). The pane's shell may have exec'd the command."""
    out = subprocess.run(tmux._argv("display-message", "-p", "#{pane_pid} #{pid}"),
                         env=tmux.env, capture_output=True, text=True, check=True)  # fmt: skip
    pid, server = (int(v) for v in out.stdout.split())
    comm = Path(f"/proc/{pid}/comm").read_text().strip()
    if comm in ("sh", "bash", "dash"):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            pid = int(children[0])
    return pid, server


# ---------------------------------------------------------------------------- measuring


def settle(tmux: Tmux, quiet: float = 0.25, limit: float = 5.0) -> str:
    """Wait until the screen (with colours) has not changed for ``quiet`` seconds; return it."""
    deadline = time.perf_counter() + limit
    screen = tmux.capture(True)
    stable_since = time.perf_counter()
    while time.perf_counter() < deadline:
        time.sleep(0.02)
        now_screen = tmux.capture(True)
        if now_screen != screen:
            screen, stable_since = now_screen, time.perf_counter()
        elif time.perf_counter() - stable_since >= quiet:
            break
    return screen


def next_in_column(screen: str, card: str) -> str:
    """The card drawn right below ``card`` in its column."""
    rows: dict[str, tuple[int, int]] = {}
    for y, line in enumerate(ESCAPE.sub("", screen).split("\n")):
        for match in BORDER.finditer(line):
            rows[match.group(1)] = (y, match.start())
    y0, x0 = rows[card]
    below = sorted((y, c) for c, (y, x) in rows.items() if x == x0 and y > y0)
    if not below:
        raise SystemExit(f"no card below {card} on screen:\n{screen}")
    return below[0][1]


def press_series(tmux: Tmux, presses: int, first: str, second: str, style: tuple, *,
                 flooding: bool, gap: float, info_dir: Path) -> dict:  # fmt: skip
    """j/k alternately between ``first`` (selected now) and ``second`` (right below it)."""
    samples, switches, switch_lags, misses, polls, stuck = [], [], [], 0, [], []
    for i in range(presses):
        key, target = ("j", second) if i % 2 == 0 else ("k", first)
        start = time.perf_counter()
        tmux.send_keys(key)
        elapsed, screen, n = tmux.wait_until(is_selected(target, style), start, TIMEOUT, True)
        if elapsed is None:
            misses += 1
            print(f"  press {i + 1} ({key}): no selection change within {TIMEOUT:g} s", flush=True)
        else:
            samples.append(elapsed)
            polls.append(n)
        if flooding:
            tag = tag_of(target)
            shown, screen, _ = tmux.wait_until(lambda s, t=tag: newest_line(s, t) is not None,
                                               start, TIMEOUT)  # fmt: skip
            line = newest_line(screen, tag) if shown is not None else None
            if shown is not None:
                switches.append(shown)
                info = agent_info(info_dir).get(target)
                if line and info:
                    switch_lags.append(lag_of(line, info, time.time())[0])
            time.sleep(gap)
            # Does the Log tab still follow the new card's output ``gap`` s after the switch?
            # (The first frame after a switch may show older lines, then jump to the end.)
            before = newest_line(tmux.capture(), tag)
            time.sleep(FOLLOW_CHECK)
            after = newest_line(tmux.capture(), tag)
            if before is None or after is None or after[0] <= before[0]:
                stuck.append(i + 1)
        else:
            settle(tmux)
    result = {"keys": summarize(samples), "timeouts": misses, "polls": polls}
    if flooding:
        result["log_switch"] = summarize(switches)
        result["lag_at_switch"] = summarize(switch_lags)
        result["not_following"] = stuck  # presses after which the log did not advance
    return result


def lag_of(line: tuple[int, float], info: dict, now: float) -> tuple[float, float]:
    """(seconds behind what the agent has printed by ``now``, age of the line's print time)."""
    printed = (now - info["start"]) * info["rate"]
    return max(0.0, (printed - line[0]) / info["rate"]), now - line[1]


def keep_up(tmux: Tmux, card: str, seconds: float, info_dir: Path) -> dict:
    tag, info = tag_of(card), agent_info(info_dir)[card]
    behind, ages, shown, missing = [], [], [], 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        screen = tmux.capture()
        now = time.time()
        line = newest_line(screen, tag)
        if line is None:
            missing += 1
        else:
            lag, age = lag_of(line, info, now)
            behind.append(lag)
            ages.append(age)
            shown.append(line[0])
        time.sleep(0.2)
    advancing = sum(1 for a, b in itertools.pairwise(shown) if b > a)
    return {"behind": summarize(behind), "age": summarize(ages), "captures": len(shown),
            "without_lines": missing, "advancing": advancing,
            "first_shown": shown[0] if shown else None,
            "printed_at_end": int((time.time() - info["start"]) * info["rate"]),
            "last_shown": shown[-1] if shown else None}  # fmt: skip


def app_command(template: str, board: Path) -> str:
    return template.format(python=shlex.quote(sys.executable), board=shlex.quote(str(board)))


def run(args: argparse.Namespace, tmp: Path) -> dict:
    repo, board, info_dir = make_board(tmp, args.agents, args.rate, args.flood_seconds)
    agents = [card_id(i) for i in range(1, args.agents + 1)]
    results: dict = {}
    # The app's own temp files (a command agent's prompt file) stay inside the bench's temp dir,
    # even when the app is killed at the end.
    app_tmp = tmp / "app-tmp"
    app_tmp.mkdir()
    command = f"TMPDIR={shlex.quote(str(app_tmp))} {app_command(args.app_command, board)}"
    tmux = Tmux(command, WIDTH, HEIGHT)
    try:
        start = tmux.start()
        shown, screen, _ = tmux.wait_until(lambda s: CARD_TAG.search(s) is not None, start, 60)
        if shown is None:
            raise SystemExit(f"the app showed no cards; last screen:\n{screen}")
        app_pid, server_pid = pane_pid(tmux)

        def pids() -> dict[str, list[int]]:
            flood = [i["pid"] for i in agent_info(info_dir).values()]
            return {"app": [app_pid], "tmux_server": [server_pid], "agents": flood}

        cpu = CpuMeter(pids, children_of=app_pid)
        tmux.send_keys("2")
        screen = settle(tmux)
        first, style = selected_card(screen)
        second = next_in_column(screen, first)
        print(f"baseline: {args.presses} j/k presses between {first} and {second}, no agents",
              flush=True)  # fmt: skip
        cpu.begin()
        results["baseline"] = press_series(tmux, args.presses, first, second, style,
                                           flooding=False, gap=0, info_dir=info_dir)  # fmt: skip
        results["baseline"]["cpu"] = cpu.end()

        print(f"moving {len(agents)} cards to In Progress ...", flush=True)
        moved_at = time.perf_counter()
        for card in agents:
            subprocess.run([sys.executable, "-m", "kanban_agents", "--board", str(board), "move",
                            card, "in-progress"], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            states = run_states(repo)
            if sum(states.get(c) == "running" for c in agents) == len(agents) and len(
                agent_info(info_dir)
            ) == len(agents):
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"not all agents running after 60 s: {run_states(repo)}")
        results["all_running_after"] = time.perf_counter() - moved_at
        print(f"all {len(agents)} running {results['all_running_after']:.1f} s after the first "
              "move", flush=True)  # fmt: skip
        time.sleep(1.0)
        screen = tmux.capture(True)
        first, style = selected_card(screen)
        if first not in agents:
            raise SystemExit(f"the selection is on {first}, not on a running card:\n{screen}")
        second = next_in_column(screen, first)

        print(f"keep-up: {args.sample_seconds:g} s on {first}'s log", flush=True)
        cpu.begin()
        results["keep_up_before"] = keep_up(tmux, first, args.sample_seconds, info_dir)
        results["keep_up_before"]["cpu"] = cpu.end()

        print(f"flood: {args.presses} j/k presses between {first} and {second}", flush=True)
        cpu.begin()
        results["flood"] = press_series(tmux, args.presses, first, second, style, flooding=True,
                                        gap=args.gap, info_dir=info_dir)  # fmt: skip
        results["flood"]["cpu"] = cpu.end()

        selected, _ = selected_card(tmux.capture(True))
        print(f"keep-up again: {args.sample_seconds:g} s on {selected}'s log", flush=True)
        cpu.begin()
        results["keep_up_after"] = keep_up(tmux, selected, args.sample_seconds, info_dir)
        results["keep_up_after"]["cpu"] = cpu.end()
        states = run_states(repo)
        results["still_running_at_end"] = sum(states.get(c) == "running" for c in agents)
        results["last_screen"] = tmux.capture()
    finally:
        tmux.kill()
        for info in agent_info(info_dir).values():  # only the agent processes this run started
            with contextlib.suppress(OSError):
                os.kill(info["pid"], signal.SIGTERM)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="Key latency and log keep-up under a log flood.")
    parser.add_argument("--agents", type=int, default=10, help="flooding agents (at most 10)")
    parser.add_argument("--rate", type=float, default=2000, help="lines per second per agent")
    parser.add_argument("--flood-seconds", type=float, default=90,
                        help="how long each agent prints (must outlast the measurement)")  # fmt: skip
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--gap", type=float, default=0.3,
                        help="seconds between flood presses, after the log switched")  # fmt: skip
    parser.add_argument("--poll-interval", type=float, default=0.005,
                        help="sleep between capture-pane polls (0: flat out; each poll takes "
                        "CPU from the app on a small machine)")  # fmt: skip
    parser.add_argument("--app-command", default=APP_COMMAND, metavar="TEMPLATE",
                        help="how to launch the app, with {python} and {board} "
                        "(default: %(default)s)")  # fmt: skip
    args = parser.parse_args()
    args.agents = max(1, min(args.agents, 10))
    tmuxutil.POLL_INTERVAL = args.poll_interval

    results: dict = {"goal": GOAL, "agents": args.agents, "rate": args.rate,
                     "flood_seconds": args.flood_seconds, "presses": args.presses,
                     "gap": args.gap, "poll_interval": args.poll_interval,
                     "app_command": args.app_command, "size": [WIDTH, HEIGHT],
                     "log_max_lines": UISettings().log_max_lines}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="kanban-flood-") as tmp:
        python = shlex.quote(sys.executable)
        with Tmux(f"{python} -c 'import time; time.sleep(60)'", WIDTH, HEIGHT) as idle:
            idle.start()
            time.sleep(0.3)
            results["poll_overhead"] = call_overhead(idle)
        results.update(run(args, Path(tmp)))

    base, flood = results["baseline"], results["flood"]
    rows = []
    for label, data, key in (("j/k, no agents", base, "keys"),
                             (f"j/k, {args.agents} agents x {args.rate:,.0f} lines/s", flood, "keys"),
                             ("  log switch (press -> new card's lines)", flood, "log_switch")):  # fmt: skip
        s = data[key]
        goal = f"< {GOAL * 1000:.0f} {verdict(s['median'], GOAL)}" if key == "keys" else ""
        rows.append([label, s["n"], ms(s["median"]), ms(s["p90"]), ms(s["min"]), ms(s["max"]),
                     data["timeouts"] if key == "keys" else "", goal])  # fmt: skip
    print(f"\nsend-keys -> result on screen, {WIDTH}x{HEIGHT}, ms")
    print_table(["case", "n", "median", "p90", "min", "max", "timeouts", "goal"], rows)

    rows = []
    for label, key in (
        ("before the presses", "keep_up_before"),
        ("after the presses", "keep_up_after"),
    ):
        k = results[key]
        rows.append([label, k["captures"], ms(k["behind"]["median"]), ms(k["behind"]["max"]),
                     ms(k["age"]["median"]), ms(k["age"]["max"]), k["advancing"],
                     k["without_lines"]])  # fmt: skip
    lag = flood["lag_at_switch"]
    print(
        "\nLog tab keep-up: newest line of the selected card on screen vs what its agent printed, ms"
    )
    print_table(["window", "captures", "behind med", "behind max", "age med", "age max",
                 "advanced", "no lines"], rows)  # fmt: skip
    print(
        f"right after a log switch: behind median {ms(lag['median'])} ms, max {ms(lag['max'])} ms; "
        f"log not advancing between {args.gap:g} and {args.gap + FOLLOW_CHECK:g} s after the "
        f"switch: {len(flood['not_following'])} of "
        f"{args.presses} presses {flood['not_following'] or ''}"
    )

    stalled = [k for k in ("keep_up_before", "keep_up_after") if results[k]["advancing"] == 0]
    for key in stalled:
        k = results[key]
        print(f"NOTE: during '{key}' the Log tab did not advance at all (stuck at line "
              f"{k['last_shown']}, {k['printed_at_end']:,} printed by then; the Log keeps "
              f"{results['log_max_lines']:,} lines): look at Log.write_lines at max_lines.")  # fmt: skip

    rows = []
    for label, data in (("baseline presses", base), ("keep-up before", results["keep_up_before"]),
                        ("flood presses", flood), ("keep-up after", results["keep_up_after"])):  # fmt: skip
        c = data["cpu"]
        rest = c["machine"] - c["app"] - c["app_children"] - c["agents"] - c["tmux_server"]
        rows.append([label, f"{c['seconds']:.1f}", f"{c['app']:.0f}", f"{c['app_children']:.0f}",
                     f"{c['agents']:.0f}", f"{c['tmux_server']:.0f}", f"{rest:.0f}",
                     f"{c['machine']:.0f}"])  # fmt: skip
    print(f"\nCPU, % of one core ({os.cpu_count()} cores; app children = its git and test "
          "commands that ended; rest = the bench's polling and anything else on the machine)")  # fmt: skip
    print_table(["phase", "s", "app", "app children", "agents", "tmux", "rest", "machine"], rows)
    cap, cmd = results["poll_overhead"]["capture_pane"], results["poll_overhead"]["tmux_command"]
    print(f"all {args.agents} agents running {results['all_running_after']:.1f} s after the first "
          f"move; still running at the end: {results['still_running_at_end']}. One capture-pane "
          f"call median {ms(cap['median'])} ms, one tmux command {ms(cmd['median'])} ms.")  # fmt: skip
    print(f"\nwrote {write_json('log_flood', results)}")


if __name__ == "__main__":
    main()
