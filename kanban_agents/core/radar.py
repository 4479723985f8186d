"""The conflict radar: would the active cards' branches conflict with each other or with base?

Each worktree is snapshotted as a commit (uncommitted work included, no ref moved), and only
pairs whose changed paths intersect are merged with ``git merge-tree`` (textual conflicts need a
shared path), so ten active cards cost ten snapshots and a handful of merges. Results are cached
by snapshot, so when one branch changes only its own pairs are recomputed.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import git
from .scope import ScopeReport

BASE = "(base)"
WORKERS = 4


@dataclass(frozen=True)
class Branch:
    card_id: str
    worktree: Path
    base: str


@dataclass(frozen=True)
class Conflict:
    card: str
    other: str  # another card id, or BASE
    files: tuple[str, ...]

    def describe(self) -> str:
        who = "the base branch" if self.other == BASE else self.other
        return f"would conflict with {who} in {', '.join(self.files)}"


@dataclass
class RadarReport:
    conflicts: list[Conflict] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # card -> why it could not be checked
    changed: dict[str, set[str]] = field(default_factory=dict)  # card -> paths its branch touches
    behind: dict[str, int] = field(default_factory=dict)  # card -> commits its base moved on by
    scope: dict[str, ScopeReport] = field(default_factory=dict)  # card -> files it did not ask for

    def shows_differently(self, other: RadarReport) -> bool:
        """What a card shows from the report differs (conflicts, stale bases, scope)."""
        return (self.conflicts, self.behind, self.scope) != (
            other.conflicts,
            other.behind,
            other.scope,
        )

    def for_card(self, card_id: str) -> list[Conflict]:
        found = []
        for c in self.conflicts:
            if c.card == card_id:
                found.append(c)
            elif c.other == card_id:
                found.append(Conflict(card_id, c.card, c.files))
        return found


@dataclass
class _Snapshot:
    commit: str
    paths: set[str]
    fork: str  # where the card's branch left its base


class ConflictRadar:
    def __init__(self, repo: Path):
        self.repo = repo
        self._snapshots: dict[str, _Snapshot] = {}
        self._merges: dict[
            tuple[str, str], tuple[str, ...]
        ] = {}  # (commit, commit) -> conflicting files
        self._base_paths: dict[tuple[str, str], set[str]] = {}  # (base tip, merge base) -> paths
        self._behind_counts: dict[tuple[str, str], int] = {}  # (fork, base tip) -> commits
        self._lock = threading.Lock()

    def scan(self, branches: list[Branch], changed: set[str] | None = None) -> RadarReport:
        """Recompute. ``changed``: cards whose worktree changed (None: all of them; an empty set
        rechecks only the base branches). One scan at
        a time: a scan whose caller gave up may still be running in its thread."""
        with self._lock:
            return self._scan(branches, changed)

    def _scan(self, branches: list[Branch], changed: set[str] | None) -> RadarReport:
        report = RadarReport()
        live = {b.card_id for b in branches}
        for card_id in list(self._snapshots):
            if card_id not in live:
                del self._snapshots[card_id]
        stale = [b for b in branches
                 if changed is None or b.card_id in changed or b.card_id not in self._snapshots]  # fmt: skip
        # Snapshots are git processes doing file I/O: a few at a time use both cores.
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for branch, result in zip(stale, pool.map(self._snapshot, stale), strict=True):
                if isinstance(result, str):
                    report.errors[branch.card_id] = result
                    self._snapshots.pop(branch.card_id, None)
                else:
                    self._snapshots[branch.card_id] = result
            snapshots = {
                b.card_id: self._snapshots[b.card_id]
                for b in branches
                if b.card_id in self._snapshots
            }
            report.changed = {card: snap.paths for card, snap in snapshots.items()}
            pairs = [(a, b) for a, b in itertools.combinations(sorted(snapshots), 2)
                     if snapshots[a].paths & snapshots[b].paths]  # fmt: skip
            tips = {base: self._tip(base) for base in {b.base for b in branches}}
            against_base = []
            for branch in branches:
                snap = snapshots.get(branch.card_id)
                tip = tips.get(branch.base)
                if snap is None or tip is None:
                    continue
                try:
                    if tip != snap.fork:  # the base moved on since the branch left it
                        report.behind[branch.card_id] = self._behind(snap.fork, tip)
                    if snap.paths & self._base_changes(tip, snap):
                        against_base.append((branch.card_id, tip, snap.commit))
                except git.GitError as exc:
                    report.errors[branch.card_id] = str(exc)
            checks = [(snapshots[a].commit, snapshots[b].commit) for a, b in pairs]
            checks += [(tip, commit) for _, tip, commit in against_base]
            results = list(pool.map(lambda pair: self._conflicts(*pair), checks))
        for (a, b), files in zip(pairs, results, strict=False):
            if files:
                report.conflicts.append(Conflict(a, b, files))
        for (card_id, _, _), files in zip(against_base, results[len(pairs) :], strict=True):
            if files:
                report.conflicts.append(Conflict(card_id, BASE, files))
        return report

    def _snapshot(self, branch: Branch) -> _Snapshot | str:
        try:
            commit = git.snapshot_commit(branch.worktree)
            fork = git.merge_base(self.repo, branch.base, commit)
            return _Snapshot(commit, git.tree_changes(self.repo, fork, commit), fork)
        except (git.GitError, OSError) as exc:
            return str(exc)

    def _tip(self, base: str) -> str | None:
        try:
            return git.rev_parse(self.repo, base)
        except git.GitError:
            return None

    def _conflicts(self, first: str, second: str) -> tuple[str, ...]:
        key = (first, second) if first <= second else (second, first)
        if key not in self._merges:
            check = git.merge_check(self.repo, first, second)
            self._merges[key] = () if check.clean else tuple(check.conflicts)
        return self._merges[key]

    def _behind(self, fork: str, tip: str) -> int:
        key = (fork, tip)
        if key not in self._behind_counts:
            self._behind_counts[key] = git.commits_between(self.repo, fork, tip)
        return self._behind_counts[key]

    def _base_changes(self, tip: str, snap: _Snapshot) -> set[str]:
        """Paths the base branch changed since the card's branch forked from it."""
        key = (tip, snap.fork)
        if key not in self._base_paths:
            self._base_paths[key] = (
                git.tree_changes(self.repo, snap.fork, tip) if tip != snap.fork else set()
            )
        return self._base_paths[key]


def active_branches(store, records) -> list[Branch]:
    """Cards with a live worktree that are not done yet: the branches worth comparing."""
    from .card import Card

    settings = store.settings
    branches = []
    for state in records.all_states():
        card = store.entry(state.card_id)
        if not isinstance(card, Card) or store.status_of(card) == settings.board.done_column:
            continue
        worktree = Path(state.worktree) if state.worktree else None
        if worktree is None or not worktree.is_dir() or not state.base:
            continue
        branches.append(Branch(card.id, worktree, state.base))
    return branches


def declared_overlaps(store) -> list[tuple[str, str, list[str]]]:
    """Cards in the agent column whose declared ``files`` overlap, before any code exists."""
    from .overlap import files_overlap

    cards = store.column_cards(store.settings.board.agent_column)
    found = []
    for a, b in itertools.combinations(cards, 2):
        shared = files_overlap(a.files, b.files)
        if shared:
            found.append((a.id, b.id, shared))
    return found


def board_radar(
    store, radar: ConflictRadar | None = None
) -> tuple[RadarReport, list[tuple[str, str, list[str]]]]:
    from .paths import repo_root, state_dir
    from .records import run_records

    repo = repo_root(store.root)
    if repo is None or state_dir(store.root) is None:
        return RadarReport(), declared_overlaps(store)
    radar = radar or ConflictRadar(repo)
    return radar.scan(active_branches(store, run_records(store))), declared_overlaps(store)
