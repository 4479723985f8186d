"""A cache of parsed cards, so opening a big board does not re-read and re-parse every file.

An entry is trusted only when the file's inode, size, mtime and ctime are exactly those recorded
(any write changes ctime, which no tool can set back), and only if that ctime was at least a
second older than the cache when it was written, so a file changed in the same instant as the
cache is never trusted (git's "racy" rule). Anything else is read and parsed as usual.

The cache lives under the repository's git dir (``kanban-agents/cache/``), or in
``$XDG_CACHE_HOME/kanban-agents`` for a board outside git; never in the board itself.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from pathlib import Path
from typing import Any

from .lint import MEMO, LintFinding
from .safe_write import write_atomic

# 3: front matter whose aliases expand too far is an error now; a version 2 cache may hold
# such a card as parsed.
VERSION = 3
RACY_NS = 1_000_000_000

Stat = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns


def stat_key(st: os.stat_result) -> Stat:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def user_cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(os.path.expanduser("~"), ".cache"))
    return Path(base) / "kanban-agents" if base and not base.startswith("~") else None


class CardCache:
    def __init__(self, state: Path | None, board: Path):
        name = hashlib.sha1(str(board).encode()).hexdigest()[:16]
        # In the repository's git dir when there is one; else in the user's cache dir.
        directory = state / "cache" if state is not None else user_cache_dir()
        self.path = directory / f"cards-{name}.pickle" if directory is not None else None
        self.entries: dict[str, tuple[Stat, str, dict[str, Any], int, tuple]] = {}
        self.dirty = False

    def load(self) -> None:
        if self.path is None:
            return
        try:
            with open(self.path, "rb") as handle:
                version, entries = pickle.load(handle)
        except (
            OSError,
            EOFError,
            pickle.PickleError,
            ValueError,
            TypeError,
            AttributeError,
            ImportError,
        ):
            return
        if version == VERSION and isinstance(entries, dict):
            self.entries = entries

    def get(self, name: str, stat: Stat) -> tuple[str, dict[str, Any], int] | None:
        """(digest, meta, body offset) when the file is unchanged since it was cached."""
        entry = self.entries.get(name)
        if entry is None or entry[0] != stat:
            return None
        _, digest, meta, body_offset, lint = entry
        if digest not in MEMO:
            MEMO[digest] = tuple(LintFinding(*f) for f in lint)
        return digest, meta, body_offset

    def put(
        self, name: str, stat: Stat, digest: str, meta: dict[str, Any], body_offset: int
    ) -> None:
        lint = MEMO.get(digest)
        self.entries[name] = (stat, digest, meta, body_offset,
                              tuple((f.code, f.message, f.severity) for f in lint) if lint else ())  # fmt: skip
        self.dirty = True

    def keep_only(self, names: set[str]) -> None:
        gone = set(self.entries) - names
        for name in gone:
            del self.entries[name]
        self.dirty = self.dirty or bool(gone)

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        now = time.time_ns()
        trusted = {name: e for name, e in self.entries.items() if e[0][3] < now - RACY_NS}
        data = pickle.dumps((VERSION, trusted), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, data)
            self.dirty = False
        except OSError:
            pass  # a cache that cannot be saved is rebuilt next time
