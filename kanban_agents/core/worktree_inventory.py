"""Every worktree the board made, what it costs on disk, and the cleanup (``gc``).

A worktree is the board's when its branch carries ``[worktrees] branch_prefix`` or it lives
under the board's worktree root (the warm pool's spares are detached there). An *orphan* is one
whose card is gone or done: ``gc`` removes those, but never one with uncommitted changes (unless
forced) and never a branch with commits its base lacks without saying so.

Everything here is blocking (git, walking directories): callers run it off the event loop.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from . import git
from .board import BoardStore
from .paths import worktree_root
from .records import RunRecords
from .worktree_pool import POOL_DIR_NAME


class Orphan(StrEnum):
    NO = ""
    CARD_GONE = "card gone"
    CARD_DONE = "card done"
    SPARE_EXTRA = "spare beyond [worktrees] pool"


@dataclass(frozen=True)
class WorktreeEntry:
    path: Path
    card_id: str | None  # None for a spare of the warm pool
    branch: str | None
    column: str  # the card's column; "" when the card is gone
    run_state: str  # its last run's state; "" when it never ran
    disk_bytes: int | None  # None when not measured
    age_seconds: float  # since the worktree was last touched (its files or its index)
    orphan: Orphan
    stale: bool  # untouched for [worktrees] stale_days, or its directory is gone
    dirty: bool  # uncommitted changes (the agent's side files left out)
    spare: bool = False
    missing: bool = False  # git still lists it, its directory is gone

    @property
    def state(self) -> str:
        if self.spare:
            return "spare"
        return self.run_state or self.column or "gone"

    def as_json(self) -> dict:
        return {
            "path": str(self.path),
            "card": self.card_id,
            "branch": self.branch,
            "state": self.state,
            "column": self.column,
            "run_state": self.run_state,
            "disk_bytes": self.disk_bytes,
            "age_seconds": round(self.age_seconds),
            "orphan": self.orphan.value or None,
            "stale": self.stale,
            "dirty": self.dirty,
            "spare": self.spare,
        }


@dataclass
class GcReport:
    removed: list[WorktreeEntry] = field(default_factory=list)
    kept: list[tuple[WorktreeEntry, str]] = field(default_factory=list)  # (entry, why)
    notes: list[str] = field(default_factory=list)  # branches kept, branches deleted
    freed_bytes: int = 0
    dry_run: bool = False


def disk_usage(path: Path) -> int:
    """Bytes ``path`` takes on disk (allocated blocks), links not followed, hard links once.
    ``du`` does the walk where there is one: a Python walk of a 100,000-file checkout holds the
    GIL long enough to stall the board's UI thread."""
    du = shutil.which("du")
    if du is not None:
        done = subprocess.run([du, "-s", "-B1", "--", os.fspath(path)], capture_output=True,
                              text=True, check=False)  # fmt: skip
        # du exits 1 when a file vanished during the walk (an agent at work): its sum stands.
        first = done.stdout.split("\t", 1)[0].strip()
        if first.isdigit():
            return int(first)
    return _walked_size(path)


def _walked_size(path: Path) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [os.fspath(path)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                if info.st_nlink > 1:
                    key = (info.st_dev, info.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += info.st_blocks * 512
    return total


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


def parse_age(text: str) -> float:
    """``7d``, ``12h``, ``30m``, ``2w`` (a bare number is days) as seconds; ValueError else."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an age: write it like 7d, 12h, 30m or 2w")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def _admin_dir(worktree: Path) -> Path | None:
    """The worktree's own directory under the main ``.git/worktrees`` (its index lives there)."""
    dot_git = worktree / ".git"
    try:
        text = dot_git.read_text(encoding="utf-8")
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    admin = Path(text.removeprefix("gitdir:").strip())
    return admin if admin.is_absolute() else (worktree / admin).resolve()


def last_touched(worktree: Path) -> float:
    times = []
    for candidate in (worktree, _admin_dir(worktree)):
        if candidate is None:
            continue
        for path in (candidate, candidate / "index", candidate / "HEAD"):
            try:
                times.append(path.stat().st_mtime)
            except OSError:
                pass
    return max(times, default=0.0)


class WorktreeInventory:
    """The board's worktrees (``list``), and removing the ones nobody needs (``gc``)."""

    def __init__(self, repo: Path, store: BoardStore, records: RunRecords,
                 clock: Callable[[], float] = time.time):  # fmt: skip
        self.repo = repo
        self.store = store
        self.records = records
        self.clock = clock

    @property
    def settings(self):
        return self.store.settings

    @property
    def root(self) -> Path:
        return worktree_root(self.repo, self.settings)

    def ours(self) -> list[git.WorktreeInfo]:
        prefix = self.settings.worktrees.branch_prefix
        root = self.root.resolve()
        main = self.repo.resolve()
        found = []
        for info in git.list_worktrees(self.repo):
            path = info.path.resolve()
            if path == main:
                continue
            if (info.branch and info.branch.startswith(prefix)) or path.is_relative_to(root):
                found.append(info)
        return found

    def list(self, *, measure: bool = True) -> list[WorktreeEntry]:
        entries = [self._entry(info, measure) for info in self.ours()]
        # Spares beyond the pool's size (it was made smaller) are the cleanup's too.
        spares = [n for n, entry in enumerate(entries) if entry.spare]
        for n in spares[self.settings.worktrees.pool :]:
            entries[n] = replace(entries[n], orphan=Orphan.SPARE_EXTRA)
        return entries

    def _entry(self, info: git.WorktreeInfo, measure: bool) -> WorktreeEntry:
        prefix = self.settings.worktrees.branch_prefix
        spare_dir = (self.root / POOL_DIR_NAME).resolve()
        spare = info.path.resolve().is_relative_to(spare_dir) and not info.branch
        card_id: str | None = None
        if info.branch and info.branch.startswith(prefix):
            card_id = info.branch[len(prefix) :]
        elif not spare:
            card_id = info.path.name
        card = self.store.cards.get(card_id) if card_id else None
        column = self.store.status_of(card) if card is not None else ""
        state = self.records.load_state(card_id) if card_id else None
        run_state = str(state.state) if state is not None and state.state else ""
        orphan = Orphan.NO
        if not spare:
            if card is None:
                orphan = Orphan.CARD_GONE
            elif column == self.settings.board.done_column:
                orphan = Orphan.CARD_DONE
        missing = not info.path.is_dir()
        touched = 0.0 if missing else last_touched(info.path)
        age = max(0.0, self.clock() - touched) if touched else 0.0
        stale_after = self.settings.worktrees.stale_days * 86400
        active = card_id is not None and self.records.lock(card_id).holder() is not None
        stale = missing or info.prunable or (not active and not spare and age > stale_after)
        dirty = False
        if not missing:
            try:
                dirty = bool(git.dirty_paths(info.path))
            except git.GitError:
                dirty = True  # cannot tell: treat as holding work
        size = None
        if measure and not missing:
            size = disk_usage(info.path)
            admin = _admin_dir(info.path)
            if admin is not None:
                size += disk_usage(admin)
        return WorktreeEntry(info.path, card_id, info.branch, column, run_state, size, age,
                             orphan, stale, dirty, spare, missing)  # fmt: skip

    def total_bytes(self) -> int:
        return sum(entry.disk_bytes or 0 for entry in self.list(measure=True))

    # ------------------------------------------------------------------ gc

    def gc(self, *, dry_run: bool = False, older_than: float | None = None,
           force: bool = False) -> GcReport:  # fmt: skip
        """Remove orphans (card gone or done) older than ``older_than`` seconds; prune git's
        worktree metadata; say what was freed and what was kept, and why."""
        report = GcReport(dry_run=dry_run)
        for entry in self.list(measure=True):
            why = self._keep_reason(entry, older_than, force)
            if why:
                if entry.orphan or entry.missing:
                    report.kept.append((entry, why))
                continue
            report.removed.append(entry)
            report.freed_bytes += entry.disk_bytes or 0
            if not dry_run and not entry.missing:
                git.remove_worktree(self.repo, entry.path)
                if entry.spare:
                    entry.path.with_name(entry.path.name + ".ready").unlink(missing_ok=True)
            self._branch_after_removal(entry, report, dry_run)
        if not dry_run:
            git.prune_worktrees(self.repo)
        return report

    def _keep_reason(self, entry: WorktreeEntry, older_than: float | None, force: bool) -> str:
        if entry.missing:
            return ""  # git still lists it: prune forgets it
        if not entry.orphan:
            return "in use"
        if entry.card_id and self.records.lock(entry.card_id).holder() is not None:
            return "its agent is running"
        if older_than is not None and entry.age_seconds < older_than:
            return f"touched {_age_text(entry.age_seconds)} ago (--older-than)"
        if entry.dirty and not force:
            return "it has uncommitted changes (--force removes them)"
        return ""

    def _branch_after_removal(self, entry: WorktreeEntry, report: GcReport, dry_run: bool):
        branch = entry.branch
        if not branch or not git.branch_exists(self.repo, branch):
            return
        base = self._base_of(entry.card_id)
        ahead = git.unmerged_commits(self.repo, branch, base) if base else 0
        if ahead:
            report.notes.append(
                f"kept branch {branch}: {ahead} commit(s) not in {base} "
                f"(delete it with 'git branch -D {branch}')"
            )
            return
        if not dry_run:
            git.delete_branch(self.repo, branch)
        report.notes.append(f"{'would delete' if dry_run else 'deleted'} branch {branch} "
                            f"(merged into {base})")  # fmt: skip

    def _base_of(self, card_id: str | None) -> str:
        state = self.records.load_state(card_id) if card_id else None
        base = (state.base if state and state.base else "") or self.settings.worktrees.base_branch
        return base or git.current_branch(self.repo) or ""


def _age_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def age_text(seconds: float) -> str:
    return _age_text(seconds)
