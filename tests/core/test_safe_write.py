"""The board's writes are a real compare-and-swap: an edit landing at any instant of a move
is never overwritten, and a writer killed half-way leaves nothing behind that git sees."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kanban_agents.core import safe_write
from kanban_agents.core.board import BoardStore, CardConflict
from kanban_agents.core.safe_write import Places, digest_of
from tests.helpers import git, write_card

pytestmark = pytest.mark.skipif(
    not safe_write.exchange_supported(), reason="renameat2(RENAME_EXCHANGE) needs Linux"
)

CARD = "---\ntitle: A\nstatus: todo\norder: 1000\n---\n\nDo A.\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "board").mkdir()
    write_card(root / "board", "a", CARD)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "cards")
    return root


@pytest.fixture
def store(repo: Path) -> BoardStore:
    return BoardStore.open(repo / "board")


def editor_save(path: Path, text: str) -> None:
    """What vim/VS Code do: write a temp file beside it, rename it over the card."""
    tmp = path.with_name(f".{path.name}.swp~")
    tmp.write_text(text)
    os.replace(tmp, path)


def swap_after(action):
    """Make the next exchange run ``action`` first: an edit that lands after the store read
    the card and checked it, right before the new file goes in (the window that lost edits)."""
    real = safe_write._exchange
    calls = []

    def exchange(a, b):
        if not calls:
            calls.append(1)
            action()
        return real(a, b)

    return exchange


def git_status(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--ignored")


def test_editor_save_in_the_window_is_kept(store, repo, monkeypatch):
    path = repo / "board" / "a.md"
    theirs = CARD.replace("Do A.", "Do A, edited in an editor.")
    monkeypatch.setattr(safe_write, "_exchange", swap_after(lambda: editor_save(path, theirs)))
    with pytest.raises(CardConflict):
        store.move("a", "done")
    assert path.read_text() == theirs
    assert store.get("a").text == theirs  # reloaded
    assert not git_status(repo).replace(" M board/a.md\n", "")  # no scratch file anywhere git sees


def test_append_in_the_window_is_kept(store, repo, monkeypatch):
    path = repo / "board" / "a.md"

    def append():
        with open(path, "a") as handle:
            handle.write("appended\n")

    monkeypatch.setattr(safe_write, "_exchange", swap_after(append))
    with pytest.raises(CardConflict):
        store.move("a", "done")
    assert path.read_text() == CARD + "appended\n"


def move_with_a_late_append(store, path: Path, monkeypatch, delay: float) -> None:
    """Move the card while a writer that opened it before the swap appends ``delay`` s after."""
    handle = open(path, "a")  # noqa: SIM115 - held open across the swap on purpose

    def write_late():
        time.sleep(delay)
        handle.write("late append\n")
        handle.close()

    writer = threading.Thread(target=write_late)
    monkeypatch.setattr(safe_write, "_exchange", swap_after(writer.start))
    with pytest.raises(CardConflict):
        store.move("a", "done")
    writer.join()


def test_append_through_a_descriptor_opened_before_the_swap_is_kept(store, repo, monkeypatch):
    """A writer that opened the card before the swap and writes after it: its bytes land in the
    swapped-out file, so the store waits until it is closed before judging it."""
    path = repo / "board" / "a.md"
    move_with_a_late_append(store, path, monkeypatch, delay=0.3)
    assert path.read_text() == CARD + "late append\n"


def test_a_writer_that_keeps_the_card_open_past_the_wait_gets_its_file_back(
    store, repo, monkeypatch
):
    """A writer can be held up between its open and its write (a loaded disk, a stopped
    process). Its file is never judged before the write lands: past the wait it goes back to
    the card path, where the late write then lands."""
    monkeypatch.setattr(safe_write, "_SETTLE_WAIT", 0.2)
    path = repo / "board" / "a.md"
    move_with_a_late_append(store, path, monkeypatch, delay=1.0)
    assert path.read_text() == CARD + "late append\n"


def test_ctrl_c_while_waiting_for_a_writer_puts_the_card_back(store, repo, monkeypatch):
    """Interrupted while it waits to judge the swapped-out card, the write is undone on the
    way out: the card path holds what it held, nothing is left in the scratch dir."""
    path = repo / "board" / "a.md"
    real = safe_write._take_lease

    def interrupted(fd, wait, kind=safe_write.fcntl.F_WRLCK):
        if kind == safe_write.fcntl.F_RDLCK and wait > 0:
            raise KeyboardInterrupt
        return real(fd, wait, kind)

    monkeypatch.setattr(safe_write, "_take_lease", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.move("a", "done")
    assert path.read_text() == CARD
    assert not any(store.places.scratch.iterdir())


def test_a_reader_keeping_the_card_open_does_not_hold_up_a_move(store, repo, monkeypatch):
    """``less board/a.md`` in another terminal: only writers are waited for."""
    monkeypatch.setattr(safe_write, "_SETTLE_WAIT", 1e6)
    path = repo / "board" / "a.md"
    with open(path) as reader:
        mover = threading.Thread(target=store.move, args=("a", "done"), daemon=True)
        mover.start()
        mover.join(timeout=30)
        assert not mover.is_alive()
        assert reader.read() == CARD
    assert "status: done" in path.read_text()


def test_delete_in_the_window_is_a_conflict(store, repo, monkeypatch):
    path = repo / "board" / "a.md"
    monkeypatch.setattr(safe_write, "_exchange", swap_after(path.unlink))
    with pytest.raises(CardConflict, match="deleted"):
        store.move("a", "done")
    assert not path.exists()


def test_an_unchanged_card_is_written(store, repo):
    store.move("a", "done")
    assert "status: done" in (repo / "board" / "a.md").read_text()
    assert git_status(repo) == " M board/a.md\n"


def test_delete_and_archive_put_back_an_edit_that_lands_first(store, repo, monkeypatch):
    path = repo / "board" / "a.md"
    theirs = CARD + "edited\n"
    real_rename = os.rename

    def rename(a, b, *args, **kwargs):
        if Path(a) == path:
            editor_save(path, theirs)
        return real_rename(a, b, *args, **kwargs)

    monkeypatch.setattr(safe_write.os, "rename", rename)
    for action in (store.delete, store.archive):
        with pytest.raises(CardConflict):
            action("a")
        assert path.read_text() == theirs
        theirs += "again\n"


def test_stale_scratch_files_are_cleaned_and_swapped_out_edits_restored(repo):
    board = repo / "board"
    path = board / "a.md"
    places = Places.for_board(board, repo / ".git" / "kanban-agents")
    places.ensure()
    ours = CARD.replace("todo", "done").encode()
    theirs = (CARD + "an edit the killed writer swapped out\n").encode()
    dead = _dead_pid()
    # Killed after the swap: the card holds the killed writer's bytes, the scratch file theirs.
    path.write_bytes(ours)
    name = safe_write._ScratchName.make(path, digest_of(CARD.encode()), ours)
    stranded = places.scratch / str(dataclasses.replace(name, pid=dead))
    stranded.write_bytes(theirs)
    # Killed before the swap: just our own new bytes, to be removed.
    leftover = places.scratch / f"b.md.{dead}.0badc0de.{'0' * 16}.{digest_of(b'x')[:16]}.1.tmp"
    leftover.write_bytes(b"x")
    # The temp names of earlier versions, in the board itself.
    old_style = board / f".a.md.{dead}.deadbeef.tmp"
    old_style.write_bytes(ours)

    store = BoardStore.open(board)

    assert path.read_bytes() == theirs
    assert not any(places.scratch.iterdir())
    assert not old_style.exists()
    assert store.cleanup_notes and "put back" in store.cleanup_notes[0]


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs but the closing of descriptors."""


@pytest.mark.parametrize(
    ("theirs_is", "step"),
    [
        *(("shorter", step) for step in ("pwrite", "ftruncate", "fsync", "unlink")),
        *(("longer", step) for step in ("pwrite", "fsync", "unlink")),  # nothing to truncate
    ],
)
def test_a_give_back_killed_at_any_step_keeps_the_edit_and_what_came_after(
    store, repo, monkeypatch, step, theirs_is
):
    """An editor save lands in the window, so the mover gives it back into its own file at the
    card path; it is killed before ``step``. Someone appends to the card before the next open:
    after the clean-up the card is their edit plus that append, nothing of the mover's bytes."""
    board = repo / "board"
    path = board / "a.md"
    if theirs_is == "shorter":  # shorter than the moved card: the give-back has to truncate
        theirs = CARD.replace("Do A.", "A")
    else:
        theirs = CARD.replace("Do A.", "Do A, and much more, saved in an editor.")
    monkeypatch.setattr(safe_write, "_exchange", swap_after(lambda: editor_save(path, theirs)))
    real = getattr(safe_write.os, step)
    giving = []

    def killed(*args, **kwargs):
        names = [safe_write._ScratchName.parse(p.name) for p in store.places.scratch.iterdir()]
        if any(name and name.old.startswith("give") for name in names):
            giving.extend(store.places.scratch.iterdir())
            raise _Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(safe_write.os, step, killed)
    with pytest.raises(_Killed):
        store.move("a", "in-progress")
    monkeypatch.undo()
    # The dead writer's scratch file, renamed to a pid that is gone.
    [left] = giving
    name = safe_write._ScratchName.parse(left.name)
    left.rename(left.with_name(str(dataclasses.replace(name, pid=_dead_pid()))))
    with open(path, "a") as handle:  # the lease died with the writer: an appender goes on
        handle.write("appended after the kill\n")

    BoardStore.open(board)

    assert path.read_text() == theirs + "appended after the kill\n"
    assert not any(store.places.scratch.iterdir())


def test_a_put_back_edit_survives_an_editor_saving_over_it(repo, monkeypatch):
    """After a crash the card shows the killed writer's bytes; an editor that read them saves
    right after the clean-up put the swapped-out edit back. The edit is still kept."""
    board = repo / "board"
    path = board / "a.md"
    places = Places.for_board(board, repo / ".git" / "kanban-agents")
    places.ensure()
    ours = CARD.replace("todo", "done").encode()
    theirs = (CARD + "the edit the killed writer swapped out\n").encode()
    path.write_bytes(ours)
    name = safe_write._ScratchName.make(path, digest_of(CARD.encode()), ours)
    (places.scratch / str(dataclasses.replace(name, pid=_dead_pid()))).write_bytes(theirs)
    read_before = path.read_text()
    real = safe_write._exchange
    saves = []

    def exchange_then_editor_saves(a, b):
        real(a, b)
        if not saves:
            saves.append(1)
            editor_save(path, read_before + "saved from what the editor read\n")

    monkeypatch.setattr(safe_write, "_exchange", exchange_then_editor_saves)
    store = BoardStore.open(board)

    assert "saved from what the editor read" in path.read_text()  # the editor's save stands
    [copy] = places.recovered.iterdir()
    assert copy.read_bytes() == theirs
    assert str(copy) in store.cleanup_notes[0]


def test_a_card_with_a_name_of_250_bytes_moves_and_is_put_back_after_a_crash(repo):
    """The scratch name holds the card's name; one too long to fit beside the digests (a
    file name is at most 255 bytes) stands as a digest of it, found again after a crash."""
    board = repo / "board"
    card_id = "é" * 120 + "-long"  # 245 bytes, 125 characters: a name an editor can save
    path = write_card(board, card_id, CARD)
    assert len(path.name.encode()) == 248
    store = BoardStore.open(board)
    store.move(card_id, "done")
    assert "status: done" in path.read_text()
    # A writer killed after its swap: the card holds its bytes, the scratch file an edit.
    places = store.places
    ours = path.read_bytes()
    theirs = ours + b"typed while the move was killed\n"
    name = safe_write._ScratchName.make(path, digest_of(b"what it read"), ours)
    (places.scratch / str(dataclasses.replace(name, pid=_dead_pid()))).write_bytes(theirs)
    store = BoardStore.open(board)
    assert path.read_bytes() == theirs
    assert "put back" in store.cleanup_notes[0]


def test_scratch_of_a_live_writer_is_left_alone(repo):
    board = repo / "board"
    places = Places.for_board(board, repo / ".git" / "kanban-agents")
    places.ensure()
    live = places.scratch / f"a.md.{os.getpid()}.0badc0de.{'0' * 16}.{'1' * 16}.5.tmp"
    live.write_bytes(b"being written")
    BoardStore.open(board)
    assert live.exists()


def test_a_live_writers_swapped_out_file_is_not_stale_for_its_old_mtime(repo):
    """A swap moves the card to the scratch dir with the card's mtime, which may be days old:
    another process opening the board must still leave the live writer's file alone."""
    board = repo / "board"
    places = Places.for_board(board, repo / ".git" / "kanban-agents")
    places.ensure()
    live = places.scratch / f"a.md.{os.getpid()}.0badc0de.{'0' * 16}.{'1' * 16}.5.tmp"
    live.write_bytes(b"the card as it was, being judged by its live writer")
    week_ago = time.time() - 7 * 24 * 3600
    os.utime(live, (week_ago, week_ago))
    BoardStore.open(board)
    assert live.exists()


def test_a_put_back_waits_for_a_writer_that_keeps_the_card_open(repo, monkeypatch):
    """The clean-up does not judge the card while someone has it open for writing: it leaves
    the swapped-out edit for the next open, which puts it back with the writer's bytes."""
    monkeypatch.setattr(safe_write, "_SETTLE_WAIT", 0.2)
    board = repo / "board"
    path = board / "a.md"
    places = Places.for_board(board, repo / ".git" / "kanban-agents")
    places.ensure()
    ours = CARD.replace("todo", "done").encode()
    theirs = (CARD + "the edit the killed writer swapped out\n").encode()
    path.write_bytes(ours)
    name = safe_write._ScratchName.make(path, digest_of(CARD.encode()), ours)
    stranded = places.scratch / str(dataclasses.replace(name, pid=_dead_pid()))
    stranded.write_bytes(theirs)
    with open(path, "a") as writer:
        BoardStore.open(board)
        assert stranded.exists()  # left for later, not judged
        writer.write("written while the card was held open\n")
    BoardStore.open(board)
    assert path.read_bytes() == theirs + b"written while the card was held open\n"
    assert not stranded.exists()


def test_scratch_files_live_where_git_does_not_look(store, repo):
    places = store.places
    assert places.scratch.is_relative_to(repo / ".git")
    store.move("a", "done")
    assert git_status(repo) == " M board/a.md\n"


@pytest.mark.slow
def test_no_edit_is_lost_to_moves_racing_an_outside_writer(tmp_path):
    """A writer process makes editor saves and appends as fast as it can while the store moves
    the card back and forth; every edit carries a marker that must survive."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    board = root / "board"
    board.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).parents[2] / "bench" / "stress_writes.py"),
            "--board",
            str(board),
            "--seconds",
            "8",
            "--no-kill",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "STRESS_KEEP": "1"},  # on failure: the lost markers and the card
    )
    assert result.returncode == 0, result.stdout + result.stderr
    import json

    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["edits"] > 1000 and counts["moves"] > 100, counts
    assert counts["conflicts"] > 0, counts  # the races really happened
    assert counts["lost"] == 0 and counts["corrupted"] == 0, counts


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_the_cli_says_what_it_put_back_after_a_crash(repo):
    board = repo / "board"
    path = board / "a.md"
    places = Places.for_board(board, repo / ".git" / "kanban-agents")
    places.ensure()
    ours = CARD.replace("todo", "done").encode()
    theirs = (CARD + "typed while the move was killed\n").encode()
    path.write_bytes(ours)
    name = safe_write._ScratchName.make(path, digest_of(CARD.encode()), ours)
    (places.scratch / str(dataclasses.replace(name, pid=_dead_pid()))).write_bytes(theirs)
    proc = subprocess.run(
        [sys.executable, "-m", "kanban_agents", "list"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "a.md: an edit swapped out by a killed writer was put back" in proc.stderr
    assert path.read_bytes() == theirs


# --- write_atomic: the one temp-file-and-rename for files without a compare-and-swap ---------


def test_write_atomic_keeps_the_mode_only_when_asked(tmp_path: Path):
    script = tmp_path / "run.sh"
    script.write_bytes(b"old\n")
    script.chmod(0o755)
    safe_write.write_atomic(script, b"new\n", keep_mode=True)
    assert script.read_bytes() == b"new\n" and script.stat().st_mode & 0o777 == 0o755
    safe_write.write_atomic(script, b"newer\n")
    assert script.stat().st_mode & 0o777 == 0o666 & ~_umask()
    fresh = tmp_path / "fresh.txt"
    safe_write.write_atomic(fresh, b"x", keep_mode=True)  # nothing to keep: the umask decides
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.txt", "run.sh"]


def test_write_atomic_takes_the_longest_file_name(tmp_path: Path):
    target = tmp_path / ("n" * 255)  # the temp file's name must still fit in NAME_MAX
    safe_write.write_atomic(target, b"data")
    assert target.read_bytes() == b"data" and len(list(tmp_path.iterdir())) == 1


def test_write_atomic_failure_leaves_the_old_file_and_no_temp(tmp_path: Path):
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    (tmp_path / "blocker").mkdir()
    with pytest.raises(IsADirectoryError):
        safe_write.write_atomic(tmp_path / "blocker", b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "state.json"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
