"""Writes that never clobber a file someone else changed: a real compare-and-swap on Linux.

Checking a file's digest and then renaming a temp file over it leaves a window in which an
editor's save (or an append) lands and is silently replaced. Here the new file is swapped in
with ``renameat2(RENAME_EXCHANGE)``, which moves whatever the path held at that instant to the
temp name, and that is what gets checked:

1. write the new bytes to a temp file (fsynced) in a scratch directory on the same disk;
2. exchange it with the card path: the card now has the new bytes, the temp name the old inode;
3. wait until nobody has the old inode open for writing (a read lease can only be taken when
   no descriptor is open for writing, so an append that opened the file before the swap has
   finished; readers are not waited for), then read it: if it is what the caller read, delete
   it, done; if a writer keeps it open past ``_SETTLE_WAIT``, it goes back as in step 4;
4. otherwise someone changed the card between the read and the swap: exchange back, so their
   file is at the card path again, and report a conflict. Whatever comes back from the card
   path must be our own bytes; if someone managed to edit even that in the microseconds it was
   there, it is kept in the recovery directory rather than deleted.

While the new file sits at the card path before it is confirmed, it carries a write lease, so an
appender that opens it waits (the kernel holds its ``open``) until the swap is confirmed or
undone. Leases are best effort: a file system or owner that refuses them still gets steps 1-4.

A temp file's name carries the digests of the expected old content and of the new content, so
one left behind by a killed writer tells what it is: either of those is deleted, anything else
is an edit the killed writer swapped out, which is put back at the card path when the card still
holds the killed writer's bytes, or kept in the recovery directory. Scratch files live where git
does not look (the repository's git dir, or an ignored directory in the board).

Elsewhere (no ``renameat2``) the check-then-replace fallback is used, with its window.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import hashlib
import os
import secrets
import signal
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

SCRATCH_SUFFIX = ".tmp"
_PARTIAL_SUFFIX = ".part"
_NONE = "none"
_GIVE = "give"  # the "old" field of an edit being given back (digests are hex: no clash)
# The card's name in a scratch name, up to this many bytes (the rest of the name takes ~75);
# a longer one is "~" and a digest of it ("~" starts no card file name: is_card_file_name).
_TARGET_BYTES = 150
_HASHED = "~"
_DIGEST_CHARS = 16
# Seconds to wait for a writer that has a swapped-out file open to close it: what it writes
# later through that descriptor lands in the swapped-out file, so judging the file before is how
# such a write was lost (the wait was 5 s, then it was read anyway). Long, because a writer can be
# held up (a loaded disk, a stopped process) between its open and its write; but below the time
# after which the kernel breaks our own lease on the new file (``lease-break-time``, 45 s by
# default), or an opener kept waiting on it would go ahead before we are done. Readers (``less``,
# ``cat``) are not waited for. The crash clean-up waits less: it looks again at the next open.
_SETTLE_WAIT = 30.0
_CLEANUP_SETTLE_WAIT = 1.0
_STALE_AGE = 3600.0  # a scratch file this old is stale even if its writer's pid lives (reused)

# fcntl numbers from <linux/fcntl.h>; Python's fcntl module has no names for them.
_F_SETLEASE = 1024
_F_SETSIG = 10
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def digest_of(data: bytes) -> str:
    """The content digest cards are compared by (the same as ``card.digest_of``)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ChangedOnDisk(Exception):
    """The file was not what the caller read: nothing was written. ``recovered`` names a file
    in the recovery directory holding an edit that could not be put back (rare; see above)."""

    def __init__(
        self,
        path: Path,
        *,
        deleted: bool = False,
        recovered: Path | None = None,
        still_written: bool = False,
    ):
        what = "was deleted" if deleted else "changed"
        super().__init__(f"{path.name} {what} on disk since it was read")
        self.path = path
        self.deleted = deleted
        self.recovered = recovered
        self.still_written = still_written  # someone kept it open for writing: try later


class AlreadyExists(Exception):
    pass


@dataclass(frozen=True)
class Places:
    """Where a board's scratch files and recovered edits go (same disk as the board)."""

    scratch: Path
    recovered: Path

    @classmethod
    def for_board(cls, board: Path, state: Path | None) -> Places:
        """The repository's git dir; for a board outside git the user's cache dir; and when
        neither is on the board's disk (a swap cannot cross disks), an ignored dir in it."""
        board = Path(board)
        if state is not None and _same_disk(board, state):
            return cls(state / "scratch", state / "recovered")
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        if state is None and not cache.startswith("~"):
            key = hashlib.sha1(str(board.resolve()).encode()).hexdigest()[:16]
            base = Path(cache) / "kanban-agents" / f"board-{key}"
            if _same_disk(board, base):
                return cls(base / "scratch", base / "recovered")
        hidden = board / ".kanban-agents"
        return cls(hidden / "scratch", hidden / "recovered")

    def ensure(self) -> None:
        if not self.scratch.is_dir():
            self.scratch.mkdir(parents=True, exist_ok=True)
            parent = self.scratch.parent
            if parent.name == ".kanban-agents":
                ignore = parent / ".gitignore"
                if not ignore.exists():
                    ignore.write_text("*\n", encoding="utf-8")


def _same_disk(a: Path, b: Path) -> bool:
    probe = b
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    try:
        return os.stat(a).st_dev == os.stat(probe).st_dev
    except OSError:
        return False


# ---------------------------------------------------------------------------- primitives

_libc = None


def _renameat2():
    global _libc
    if _libc is None:
        if not sys.platform.startswith("linux"):
            _libc = False
        else:
            try:
                lib = ctypes.CDLL(None, use_errno=True)
                func = lib.renameat2
                func.argtypes = [
                    ctypes.c_int,
                    ctypes.c_char_p,
                    ctypes.c_int,
                    ctypes.c_char_p,
                    ctypes.c_uint,
                ]
                func.restype = ctypes.c_int
                _libc = func
            except (OSError, AttributeError):
                _libc = False
    return _libc or None


def exchange_supported() -> bool:
    return _renameat2() is not None


def _exchange(a: Path, b: Path) -> None:
    """Atomically swap the files at two paths; raises OSError (ENOENT when one is missing)."""
    func = _renameat2()
    if func is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(b))


_HELD, _REFUSED, _BUSY = "held", "refused", "busy"


def _take_lease(fd: int, wait: float, kind: int = fcntl.F_WRLCK) -> str:
    """Hold a lease on ``fd`` and say ``_HELD``. A write lease is granted only while no other
    descriptor has the file open, and makes later openers wait until it is released; a read
    lease only while nobody has it open for writing, and makes later writers wait. ``_BUSY``
    when that did not happen within ``wait`` seconds, ``_REFUSED`` when the system refuses
    leases (another file system, another owner)."""
    if not sys.platform.startswith("linux"):
        return _REFUSED
    # A lease break is signalled to the holder, SIGIO by default, which would kill us; SIGURG
    # is ignored by default and used by nothing here.
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETSIG, signal.SIGURG)
    deadline = time.monotonic() + wait
    pause = 0.0001  # short: while we wait, a half-done write is on show
    while True:
        try:
            fcntl.fcntl(fd, _F_SETLEASE, kind)
            return _HELD
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EBUSY):
                return _REFUSED  # EINVAL (file system), EACCES (not the owner), ...
        if time.monotonic() >= deadline:
            return _BUSY
        time.sleep(pause)
        pause = min(pause * 1.5, 0.01)


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


@dataclass(frozen=True)
class _ScratchName:
    """A scratch file's name says what it is, so one left by a killed writer can be judged:
    ``<card>.<pid>.<token>.<old>.<new>.<new length>.tmp``, where ``old`` is the digest the card
    was expected to have (``none`` for a new card, ``give...`` for an edit being given back) and
    ``new`` the digest of the bytes being written. A card name too long to fit in a file name
    with all that (255 bytes) stands as ``~`` and a digest of it (``target_path`` finds it)."""

    target: str
    pid: int
    token: str
    old: str
    new: str
    new_length: int

    @classmethod
    def make(cls, target: Path, old_digest: str | None, data: bytes | None) -> _ScratchName:
        new = digest_of(data)[:_DIGEST_CHARS] if data is not None else _NONE
        old = (old_digest or _NONE)[:_DIGEST_CHARS]
        length = len(data) if data is not None else 0
        name = target.name
        if len(name.encode()) > _TARGET_BYTES:
            name = _hashed_name(name)
        return cls(name, os.getpid(), secrets.token_hex(4), old, new, length)

    def target_path(self, board: Path) -> Path:
        """The card this scratch file belongs to (by a digest of its name, when that was long;
        a card gone since keeps that digest as its name)."""
        if self.target.startswith(_HASHED):
            with contextlib.suppress(FileNotFoundError), os.scandir(board) as entries:
                for entry in entries:
                    if _hashed_name(entry.name) == self.target:
                        return Path(entry.path)
        return board / self.target

    def __str__(self) -> str:
        return (
            f"{self.target}.{self.pid}.{self.token}.{self.old}.{self.new}."
            f"{self.new_length}{SCRATCH_SUFFIX}"
        )

    @classmethod
    def parse(cls, name: str) -> _ScratchName | None:
        if not name.endswith(SCRATCH_SUFFIX):
            return None
        parts = name[: -len(SCRATCH_SUFFIX)].rsplit(".", 5)
        if len(parts) != 6 or not parts[1].isdigit() or not parts[5].isdigit():
            return None
        target, pid, token, old, new, length = parts
        return cls(target, int(pid), token, old, new, int(length))


def _write_scratch(
    places: Places, target: Path, data: bytes, old_digest: str | None
) -> tuple[Path, int]:
    places.ensure()
    scratch = places.scratch / str(_ScratchName.make(target, old_digest, data))
    # Written under a ".part" name and renamed when complete: a file cut short by a kill is
    # never mistaken for someone's edit by the cleanup.
    partial = scratch.with_name(scratch.name + _PARTIAL_SUFFIX)
    fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, os.stat(target).st_mode & 0o7777)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.rename(partial, scratch)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return scratch, fd


def _hashed_name(name: str) -> str:
    return _HASHED + hashlib.blake2b(name.encode(), digest_size=8).hexdigest()


def _keep(places: Places, target: Path, data: bytes) -> Path:
    """Save someone's edit that cannot go back to ``target`` where the user will find it."""
    places.recovered.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem = target.stem.encode()[:_TARGET_BYTES].decode(errors="ignore")  # a name fits 255 bytes
    path = places.recovered / f"{stem}.{stamp}.{secrets.token_hex(3)}{target.suffix}"
    with open(path, "xb") as handle:
        handle.write(data)
    return path


class _StillWritten(Exception):
    """Someone kept the file open for writing longer than ``_SETTLE_WAIT``: what it holds is
    not final (more may come through that descriptor)."""


def _settle_wait() -> float:
    """``_SETTLE_WAIT``, cut to well within the kernel's ``lease-break-time``."""
    limit = _lease_break_time()
    return _SETTLE_WAIT if limit is None else min(_SETTLE_WAIT, limit * 2 / 3)


@functools.cache
def _lease_break_time() -> float | None:
    try:
        return float(Path("/proc/sys/fs/lease-break-time").read_text())
    except (OSError, ValueError):
        return None


def _settled_bytes(path: Path, *, wait: float | None = None, or_as_is: bool = False) -> bytes:
    """Read a file once nobody has it open for writing: no write is half-way through, and
    none can come through a descriptor opened earlier. Raises ``_StillWritten`` when a writer
    keeps it open longer than ``wait`` (default ``_settle_wait()``), unless ``or_as_is`` (then
    it is read as it is)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        wait = _settle_wait() if wait is None else wait
        if _take_lease(fd, wait, fcntl.F_RDLCK) == _BUSY and not or_as_is:
            raise _StillWritten(path)
        return _read_all(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- the writes


class _Descriptor:
    """An fd closed exactly once, however the write ends (a number closed twice could by then
    belong to another thread's file)."""

    def __init__(self, fd: int):
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def replace_if_unchanged(path: Path, data: bytes, expected: str, places: Places) -> None:
    """Put ``data`` at ``path`` if the file there still has digest ``expected``; else raise
    ``ChangedOnDisk`` and leave the file as it is."""
    path = Path(path)
    if not exchange_supported():
        _replace_checked_fallback(path, data, expected, places)
        return
    _check_before(path, expected)  # the common conflict, found without touching the card
    scratch, fd = _write_scratch(places, path, data, expected)
    ours = _Descriptor(fd)
    try:
        # Anyone opening the new file waits until it is confirmed (or given their content).
        leased = _take_lease(fd, 0.0) == _HELD
        try:
            _exchange(scratch, path)
        except OSError as exc:
            os.unlink(scratch)
            if exc.errno == errno.ENOENT:
                raise ChangedOnDisk(path, deleted=True) from None
            if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EXDEV):
                _replace_checked_fallback(path, data, expected, places)
                return
            raise
        # ``scratch`` now names what the card path held at the instant of the swap.
        if os.path.islink(scratch):  # the card was replaced by a link: put it back untouched
            _exchange(scratch, path)
            os.unlink(scratch)
            raise ChangedOnDisk(path)
        try:
            old = _settled_bytes(scratch)
        except _StillWritten:
            # A writer still has their file open: it must go back to the card path, where
            # what that writer writes next belongs (a copy of it would miss those writes).
            _undo_exchange(path, scratch, data, ours, places, still_written=True)
        except BaseException:
            # Interrupted (Ctrl-C) while waiting: their file goes back before we go, or our
            # unconfirmed bytes would stand at the card path until the next open.
            with contextlib.suppress(Exception):
                _undo_exchange(path, scratch, data, ours, places, wait=0.0)
            raise
        if digest_of(old) == expected:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)
            return
        if leased:
            _give_back_in_place(path, scratch, old, data, fd, places)
        _undo_exchange(path, scratch, data, ours, places)
    finally:
        ours.close()  # releases the lease: waiting openers go on with the confirmed file


def _check_before(path: Path, expected: str) -> None:
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        raise ChangedOnDisk(path, deleted=True) from None
    if digest_of(current) != expected:
        raise ChangedOnDisk(path)


def _give_back_in_place(
    path: Path, scratch: Path, theirs: bytes, ours: bytes, fd: int, places: Places
) -> None:
    """Their edit was swapped out, and our file has been at the card path under our lease, so
    nobody has read or written it (openers wait). Rather than swapping back, which opens a second
    window in which a waiting opener gets our file and bases an edit on it, our file takes their
    content: the waiting openers then see exactly what they would have seen without us.

    Rewriting in place is not atomic, so the intent is written down first (the swapped-out file
    is renamed to a ``give`` name): if we are killed half-way, the next cleanup finishes it.
    When their content is the shorter, the name also carries the digest of our bytes past its
    end, so the cleanup can tell whether those were cut off yet (what follows their content is
    then an append made after the kill, to keep) or are still there (to drop)."""
    name = _ScratchName.parse(scratch.name)
    assert name is not None
    tail = ours[len(theirs) :]
    give = _GIVE + (digest_of(tail)[: _DIGEST_CHARS - len(_GIVE)] if tail else "")
    giving = scratch.with_name(
        str(_ScratchName(name.target, name.pid, name.token, give, name.new, name.new_length))
    )
    os.rename(scratch, giving)
    view, offset = memoryview(theirs), 0
    while offset < len(theirs):
        offset += os.pwrite(fd, view[offset:], offset)
    if len(theirs) < len(ours):
        os.ftruncate(fd, len(theirs))
    os.fsync(fd)
    os.unlink(giving)
    # If someone renamed a new file over the card meanwhile, that newer file stands, as it
    # would have without us (they read the card before our swap: openers of ours still wait).
    raise ChangedOnDisk(path)


def _undo_exchange(
    path: Path,
    scratch: Path,
    data: bytes,
    ours: _Descriptor,
    places: Places,
    *,
    still_written: bool = False,
    wait: float | None = None,
) -> NoReturn:
    """Swap their file back and raise. What comes back from the card path should be our
    bytes (or a file someone renamed over ours); anything else is an edit made in the moment,
    kept, never lost."""
    try:
        _exchange(scratch, path)
    except FileNotFoundError:
        # The card was deleted after our swap (taking our bytes with it): the deletion stands,
        # and the edit it followed is kept for the user.
        recovered = _keep(places, path, scratch.read_bytes())
        os.unlink(scratch)
        raise ChangedOnDisk(path, deleted=True, recovered=recovered) from None
    # Someone may have written to what comes back while it was at the card path: let them
    # finish, then look. Our own descriptor goes first, or the wait would wait for it (and a
    # writer waiting on our file's lease for theirs would wait for us in turn).
    ours.close()
    back = _settled_bytes(scratch, wait=wait, or_as_is=True)
    recovered = _keep(places, path, back) if back != data else None
    os.unlink(scratch)
    raise ChangedOnDisk(path, recovered=recovered, still_written=still_written)


def _replace_checked_fallback(path: Path, data: bytes, expected: str, places: Places) -> None:
    _check_before(path, expected)
    scratch, fd = _write_scratch(places, path, data, expected)
    os.close(fd)
    try:
        os.replace(scratch, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
        raise


def create_new(path: Path, data: bytes, places: Places) -> None:
    """Write a new file at ``path``; raise ``AlreadyExists`` if the name is taken meanwhile."""
    path = Path(path)
    scratch, fd = _write_scratch(places, path, data, None)
    os.close(fd)
    try:
        os.link(scratch, path)  # fails if the name appeared meanwhile: never clobber
    except FileExistsError:
        raise AlreadyExists(path.name) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)


def remove_if_unchanged(
    path: Path, expected: str, places: Places, *, move_to: Path | None = None
) -> None:
    """Delete ``path`` (or move it to ``move_to``) if it still has digest ``expected``.

    The file is first renamed to a scratch name (atomic), then checked; an edit that landed
    first is put back (if the name is still free; else kept in the recovery directory)."""
    path = Path(path)
    places.ensure()
    scratch = places.scratch / str(_ScratchName.make(path, expected, None))
    try:
        os.rename(path, scratch)
    except FileNotFoundError:
        raise ChangedOnDisk(path, deleted=True) from None
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        current = path.read_bytes()
        if digest_of(current) != expected:
            raise ChangedOnDisk(path) from None
        if move_to is None:
            path.unlink()
        else:
            os.replace(path, move_to)
        return
    try:
        taken: bytes | None = _settled_bytes(scratch)
    except _StillWritten:
        taken = None  # not final: it goes back, like any change
    if taken is None or digest_of(taken) != expected:
        try:
            os.link(scratch, path)
            os.unlink(scratch)
            raise ChangedOnDisk(path)
        except FileExistsError:
            if taken is None:  # what the writer that kept it open has written so far
                taken = _settled_bytes(scratch, wait=0.0, or_as_is=True)
            recovered = _keep(places, path, taken)
            os.unlink(scratch)
            raise ChangedOnDisk(path, recovered=recovered) from None
    if move_to is None:
        os.unlink(scratch)
    else:
        os.replace(scratch, move_to)


def write_atomic(path: Path, data: bytes, *, keep_mode: bool = False) -> None:
    """Replace a file that has no other writer to race (records, caches, a file in an agent's
    own worktree): temp file + ``os.replace``, so a reader or a crash sees the old or the new
    content, never half of it. Card files go through ``replace_if_unchanged`` instead.

    ``keep_mode``: the new file gets the replaced file's permission bits (an edited script stays
    executable); otherwise, and for a new file, the umask decides as for any file an editor makes.
    """
    path = Path(path)
    mode: int | None = None
    if keep_mode:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            pass
    # The name is cut so the temp file's name fits NAME_MAX (255) whatever the target's length.
    tmp = path.with_name(f".{path.name[:100]}.{os.getpid()}.{secrets.token_hex(4)}{SCRATCH_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------- after a crash


@dataclass(frozen=True)
class Cleanup:
    removed: int
    restored: list[tuple[Path, Path]]  # (card, the copy of the edit kept in the recovery dir)
    recovered: list[Path]


def clean_scratch(places: Places, board: Path, *, now: float | None = None) -> Cleanup:
    """Deal with scratch files whose writer is gone (killed mid-write)."""
    removed, restored, recovered = 0, [], []
    try:
        entries = list(os.scandir(places.scratch))
    except FileNotFoundError:
        return Cleanup(0, [], [])
    now = time.time() if now is None else now
    for entry in entries:
        partial = entry.name.endswith(_PARTIAL_SUFFIX)
        name = _ScratchName.parse(entry.name.removesuffix(_PARTIAL_SUFFIX))
        if name is None:
            continue
        try:
            # ctime: a swap keeps the card's old mtime on the swapped-out file, not its ctime
            age = now - entry.stat(follow_symlinks=False).st_ctime
        except FileNotFoundError:
            continue
        if pid_alive(name.pid) and age < _STALE_AGE:
            continue
        scratch = Path(entry.path)
        if partial:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)  # cut short before it was ever swapped in
            removed += 1
            continue
        try:
            # A writer that opened the card before the killed writer's swap may still be
            # writing into this file: wait until nobody has it open for writing.
            theirs = _settled_bytes(scratch, wait=_CLEANUP_SETTLE_WAIT)
        except (FileNotFoundError, _StillWritten):
            continue  # gone, or still being written into: the next open looks again
        if not name.old.startswith(_GIVE) and digest_of(theirs)[:_DIGEST_CHARS] in (
            name.old,
            name.new,
        ):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)  # the expected old content, or the killed writer's own bytes
            removed += 1
            continue
        # An edit the killed writer swapped out (or was giving back): it belongs at the card.
        target = name.target_path(board)
        try:
            outcome = _put_back(target, theirs, name, places)
        except _StillWritten:
            continue  # someone keeps the card open for writing: the next open looks again
        if outcome is True:
            # A copy stays too: an editor that read the card while it showed the killed
            # writer's bytes can still save over the put-back edit (seen in the stress bench).
            restored.append((target, _keep(places, target, theirs)))
        elif outcome is not None:
            recovered.append(outcome)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
    return Cleanup(removed, restored, recovered)


def _put_back(
    target: Path, theirs: bytes, name: _ScratchName, places: Places
) -> bool | Path | None:
    """Put a swapped-out edit back at ``target``, keeping what was added on top of the killed
    writer's bytes since (an append that went on while it lay dead). True when put back, None
    when the card already has it, else the recovery file it was kept in. Raises
    ``_StillWritten`` when someone keeps the card open for writing (try again later)."""
    for _attempt in range(100):  # the card may be being edited right now: re-read and retry
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            return _keep(places, target, theirs)
        if current == theirs:
            return None
        ours_length = name.new_length
        if name.old.startswith(_GIVE) and current.startswith(theirs):
            repaired = theirs + current[_end_of_ours(theirs, current, name) :]  # half given back
        elif digest_of(current[:ours_length])[:_DIGEST_CHARS] == name.new:
            repaired = theirs + current[ours_length:]  # our bytes, and maybe appends after them
        else:
            return _keep(places, target, theirs)  # the card was replaced since: that stands
        if repaired == current:
            return None  # a give-back that had got as far as cutting the card: it is there
        try:
            replace_if_unchanged(target, repaired, digest_of(current), places)
        except ChangedOnDisk as exc:
            if exc.still_written:
                raise _StillWritten(target) from None
            time.sleep(0.001)
            continue
        return True
    return _keep(places, target, theirs)


def _end_of_ours(theirs: bytes, current: bytes, name: _ScratchName) -> int:
    """Where a half-done give-back's own bytes end in ``current`` (which starts with their
    content): past their content only when our longer tail is still there, uncut."""
    ours_length, tail = name.new_length, name.old[len(_GIVE) :]
    if ours_length <= len(theirs):
        return len(theirs)
    if not tail:  # named by an earlier version, which did not record the tail
        return ours_length
    left = current[len(theirs) : ours_length]
    return ours_length if digest_of(left).startswith(tail) else len(theirs)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (ours counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
