"""A stable slot number per worktree, and the environment it gives the worktree's commands.

Parallel dev servers and test databases clash when every worktree uses the same port and name:
each worktree gets a slot (recorded next to the run records, so it stays the same across runs
and restarts) and its commands see ``KANBAN_SLOT`` and ``KANBAN_PORT`` (``port_base + slot *
port_stride``; a new slot skips ports something already listens on).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

MAX_SLOTS = 1000


def port_of(slot: int, port_base: int, port_stride: int) -> int:
    return port_base + slot * port_stride


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` (127.0.0.1 nor all interfaces) and it can be bound."""
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


class SlotTable:
    """Slots by worktree path, in one JSON file guarded by a lock file (any process)."""

    def __init__(self, path: Path):
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, int]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                table = json.loads(self.path.read_text(encoding="utf-8"))
                table = {str(k): int(v) for k, v in table.items()}
            except (OSError, ValueError, TypeError, AttributeError):
                table = {}
            before = dict(table)
            yield table
            if table != before:
                temporary = self.path.with_suffix(".tmp")
                temporary.write_text(json.dumps(table, indent=1, sort_keys=True), encoding="utf-8")
                os.replace(temporary, self.path)

    def slot_for(self, worktree: Path, port_base: int, port_stride: int) -> int:
        """The worktree's slot: the one it has, else the lowest one no other worktree holds
        whose port is free now."""
        key = str(Path(worktree).resolve())
        with self._locked() as table:
            if key in table:
                return table[key]
            # Worktrees deleted since (gc, a merge) give their slots back.
            for other in [k for k in table if not Path(k).exists()]:
                del table[other]
            taken = set(table.values())
            for slot in range(1, MAX_SLOTS):
                if slot not in taken and port_is_free(port_of(slot, port_base, port_stride)):
                    table[key] = slot
                    return slot
        raise RuntimeError(f"no free slot: {MAX_SLOTS} worktrees hold one, or their ports are busy")

    def slots(self) -> dict[str, int]:
        with self._locked() as table:
            return dict(table)


def slot_environment(card_id: str, worktree: Path, slot: int, port_base: int,
                     port_stride: int) -> dict[str, str]:  # fmt: skip
    return {
        "KANBAN_CARD": card_id,
        "KANBAN_WORKTREE": str(worktree),
        "KANBAN_SLOT": str(slot),
        "KANBAN_PORT": str(port_of(slot, port_base, port_stride)),
    }


def slot_table(records) -> SlotTable:
    """The slots of a board's worktrees, next to its run records (``RunRecords``)."""
    return SlotTable(Path(records.root).parent / "slots.json")
