"""Which process hosts the agents of a board.

Runs live as asyncio tasks in one process (the board app, or ``kanban-agents run --wait``). Each
host holds an advisory lock, so other processes can tell whether someone will pick up a card that
was moved to the agent column, and a second host never runs the same card twice (see
``RunLock``). Locks die with their process, which is what makes crash recovery reliable.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from .paths import state_dir


class FileLock:
    """An exclusive ``flock`` on a file that also records the holder's pid."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> int | None:
        """The pid holding the lock, or None when nobody does (checked, not guessed)."""
        if self._fd is not None:
            return os.getpid()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                data = os.read(fd, 32).decode(errors="replace").strip()
                return int(data) if data.isdigit() else -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


def host_lock_path(board_dir: Path) -> Path | None:
    state = state_dir(board_dir)
    return None if state is None else state / "host.lock"


def board_host_pid(board_dir: Path) -> int | None:
    path = host_lock_path(board_dir)
    return None if path is None else FileLock(path).holder()
