"""Stress: card moves racing an outside writer, with the mover killed -9 at random points.

An outside writer process edits one card as fast as it can, alternating an editor-style save
(write a temp file, rename it over the card) and an in-place append; every edit adds a unique
marker line. A mover process re-reads the card and moves it between two columns in a loop (each
move is a compare-and-swap that must refuse to overwrite an edit it has not seen), and is killed
with SIGKILL at random moments and started again (a new store, which cleans up after the killed
one). A reader process checks the card's front matter stays whole. At the end every marker the
writer wrote must still be in the card.

Prints moves, conflicts, kills, edits, lost edits (markers gone), recovered edits (markers only
in the recovery directory) and corrupted files/reads.

    python bench/stress_writes.py --seconds 60
    python bench/stress_writes.py --seconds 8 --no-kill --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CARD = (
    "---\ntitle: Stress\nstatus: todo\norder: 1000\nowner: someone  # unknown key\n---\n\nBody.\n"
)


def run_writer(path: Path, stop_file: Path, out: Path) -> None:
    """Edit until ``stop_file`` appears; then write how many edits were made."""
    n = 0
    rng = random.Random(os.getpid())
    while not stop_file.exists():
        n += 1
        marker = f"edit-{n}\n"
        if n % 2:
            text = path.read_text(encoding="utf-8")
            tmp = path.with_name(f".{path.name}.{n}.swp")
            tmp.write_text(text + marker, encoding="utf-8")
            os.replace(tmp, path)
        else:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(marker)
        if rng.random() < 0.5:
            time.sleep(rng.random() * 0.002)
    out.write_text(str(n))


def run_mover(board: Path, counts: Path) -> None:
    from kanban_agents.core.board import BoardStore, CardConflict

    store = BoardStore.open(board)
    path = board / "stress.md"
    columns = ["todo", "done"]
    with open(counts, "a", buffering=1) as log:
        for note in store.cleanup_notes:
            log.write(f"r {note}\n")
        log.write("s\n")  # started: the killer waits for this
        i = 0
        while True:
            i += 1
            store.refresh_path(path)
            try:
                store.move("stress", columns[i % 2])
                log.write("m\n")
            except CardConflict:
                log.write("c\n")


def run_reader(path: Path, stop_file: Path, out: Path) -> None:
    reads = bad = 0
    while not stop_file.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            bad += 1
            continue
        reads += 1
        if not (text.startswith("---\ntitle: Stress\n") and "\n---\n\nBody.\n" in text):
            bad += 1
    out.write_text(json.dumps({"reads": reads, "bad": bad}))


def _count_starts(counts: Path) -> int:
    try:
        return counts.read_text().count("s\n")
    except FileNotFoundError:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", type=Path, help="an existing board dir (default: a temp repo)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--no-kill", action="store_true", help="never kill the mover")
    parser.add_argument("--json", action="store_true", help="print the counts as one JSON line")
    parser.add_argument("--role", choices=["writer", "mover", "reader"], help=argparse.SUPPRESS)
    parser.add_argument("--args", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "writer":
        run_writer(Path(args.args[0]), Path(args.args[1]), Path(args.args[2]))
        return 0
    if args.role == "mover":
        run_mover(Path(args.args[0]), Path(args.args[1]))
        return 0
    if args.role == "reader":
        run_reader(Path(args.args[0]), Path(args.args[1]), Path(args.args[2]))
        return 0

    work = Path(tempfile.mkdtemp(prefix="stress-writes-"))
    if args.board is None:
        repo = work / "repo"
        repo.mkdir()
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
        board = repo / "board"
        board.mkdir()
    else:
        board = args.board.resolve()
    path = board / "stress.md"
    path.write_text(CARD, encoding="utf-8")
    stop, counts = work / "stop", work / "counts"
    me = [sys.executable, __file__]
    writer = subprocess.Popen(
        [*me, "--role", "writer", "--args", str(path), str(stop), str(work / "edits")]
    )
    reader = subprocess.Popen(
        [*me, "--role", "reader", "--args", str(path), str(stop), str(work / "reads")]
    )

    def start_mover() -> subprocess.Popen:
        return subprocess.Popen([*me, "--role", "mover", "--args", str(board), str(counts)])

    rng = random.Random(1)
    kills = 0
    started = 0
    mover = start_mover()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        if args.no_kill:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            continue
        while _count_starts(counts) == started and mover.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))  # anywhere in a move: read, swap, check, undo
        mover.send_signal(signal.SIGKILL)
        mover.wait()
        kills += 1
        started = _count_starts(counts)
        mover = start_mover()
    mover.send_signal(signal.SIGKILL)
    mover.wait()
    kills += 0 if args.no_kill else 1
    stop.write_text("stop")
    writer.wait(timeout=30)
    reader.wait(timeout=30)

    # What a user would do next: open the board (which cleans up after the killed mover).
    from kanban_agents.core.board import BoardStore

    store = BoardStore.open(board)
    edits = int((work / "edits").read_text())
    final = path.read_text(encoding="utf-8")
    present = {line for line in final.splitlines() if line.startswith("edit-")}
    recovered_text = ""
    if store.places.recovered.is_dir():
        for kept in store.places.recovered.iterdir():
            recovered_text += kept.read_text(encoding="utf-8", errors="replace")
    kept_lines = {line for line in recovered_text.splitlines() if line.startswith("edit-")}
    missing = [f"edit-{n}" for n in range(1, edits + 1) if f"edit-{n}" not in present]
    lines = counts.read_text().splitlines() if counts.exists() else []
    reads = json.loads((work / "reads").read_text())
    corrupted = reads["bad"] + (0 if final.startswith("---\ntitle: Stress\n") else 1)
    stray = [p.name for p in board.iterdir() if p.name != "stress.md"]
    result = {
        "seconds": args.seconds,
        "moves": lines.count("m"),
        "conflicts": lines.count("c"),
        "kills": kills,
        "edits": edits,
        "lost": sum(1 for m in missing if m not in kept_lines),
        "recovered": sum(1 for m in missing if m in kept_lines),
        "restored_after_kill": sum(
            1 for line in lines if line.startswith("r ") and "put back" in line
        ),
        "kept_after_kill": sum(  # kept only (a put-back edit's note names its copy too)
            1
            for line in lines
            if line.startswith("r ") and "kept in" in line and "put back" not in line
        ),
        "corrupted": corrupted,
        "reads": reads["reads"],
        "stray_files_in_board": len(stray),
        "scratch_left": len(list(store.places.scratch.glob("*")))
        if store.places.scratch.is_dir()
        else 0,
    }
    if os.environ.get("STRESS_KEEP"):
        print(f"work dir: {work}", file=sys.stderr)
        lost = [m for m in missing if m not in kept_lines]
        print(f"lost markers: {lost[:40]}", file=sys.stderr)
        card_lines = final.splitlines()
        for marker in lost[:5]:  # where the edit before it sits in the card, and what follows
            before = f"edit-{int(marker.split('-')[1]) - 1}"
            at = card_lines.index(before) if before in card_lines else -1
            print(f"{marker}: around {before} {card_lines[at - 3 : at + 6]}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    ok = result["lost"] == 0 and result["corrupted"] == 0 and not stray
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
