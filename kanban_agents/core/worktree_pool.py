"""The warm pool: ``[worktrees] pool = N`` spare worktrees of the base branch, checked out ahead
of time, so a card starts without waiting for a checkout of the whole repository.

A spare lives at ``<worktree root>/.pool/spare-<id>`` on a detached HEAD. Next to it, the marker
``spare-<id>.ready`` says its checkout finished clean; a spare without one was cut short (a crash,
a kill) and is rebuilt, never handed out. Taking a spare renames its marker first (one process
wins), checks it is still clean, then ``checkout -B kanban/<card> <base tip>`` (only the files
that differ are written) and moves it to the card's place.

A spare is checked clean when it enters the pool (made, or found ready by a fill: given back
by a merge or discard, made by another process or an earlier board), in the background: a ``TreeWatch`` is set on its files and its git dir (index, HEAD)
first, then ``git status`` runs. Taking it then asks the watch whether anything changed since
(one ``read``) instead of statting the whole checkout on the card's start path; a spare with no
watch (made by another process) or whose watch saw anything is checked with ``git status`` again,
and a dirty one is thrown away, never handed out. A merged or discarded card's
worktree comes back (reset, cleaned, its ignored files kept only where ``.worktreeinclude``
says) while the pool is below N.

Blocking (git): callers run it off the event loop.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
import uuid
from pathlib import Path

from . import git
from .tree_watch import TreeWatch
from .worktree_files import kept_ignored_files

POOL_DIR_NAME = ".pool"  # under the worktree root
READY = ".ready"
TAKEN = ".taken"
TAKE_GRACE_SECONDS = 60.0


class WarmPool:
    def __init__(self, repo: Path, root: Path, size: int, base_branch: str = "",
                 registry_lock: threading.Lock | None = None):  # fmt: skip
        self.repo = repo
        # git's worktree registry (add, prune) is changed one at a time: the card starts'
        # lock (``git.ensure_worktree``); checkouts run outside it.
        self._registry_lock = registry_lock or threading.Lock()
        self.dir = root / POOL_DIR_NAME
        self.size = size
        self.base_branch = base_branch
        self._fill_lock = threading.Lock()
        # spare -> the watch set before it was last checked clean (this process's spares), and
        # its HEAD commit then
        self._watches: dict[Path, tuple[TreeWatch, str | None]] = {}
        self._watches_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        # git cannot move a worktree with submodules: such repositories start the usual way.
        return self.size > 0 and not git.has_submodules(self.repo)

    def base(self) -> str:
        return self.base_branch or git.current_branch(self.repo) or "HEAD"

    def ready(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(
            marker.with_suffix("")
            for marker in self.dir.glob(f"spare-*{READY}")
            if marker.with_suffix("").is_dir()
        )

    # ------------------------------------------------------------------ fill and repair

    def fill(self) -> int:
        """Make spares until N are ready (one filler at a time); how many were made."""
        if not self.enabled:
            return 0
        if not self._fill_lock.acquire(blocking=False):
            return 0  # another thread fills already
        try:
            self.repair()
            ready = self.ready()
            for spare in ready:  # found here (another process, an earlier board): checked
                if not self._watched(spare):
                    self._check_in(spare)
            self._forget_watches(keep=set(ready))
            made = 0
            commit = git.rev_parse(self.repo, self.base())
            while len(self.ready()) < self.size:
                self._make_spare(commit)
                made += 1
            return made
        finally:
            self._fill_lock.release()

    def _make_spare(self, commit: str) -> Path:
        spare = self.dir / f"spare-{uuid.uuid4().hex[:10]}"
        with self._registry_lock:
            git.add_detached_worktree(self.repo, spare, commit, checkout=False)
        git.finish_checkout(spare)  # the slow part, beside card starts
        if not self._watch_and_check(spare):
            # Every spare would be: making more would never end (line-ending attributes or a
            # filter that rewrite files on checkout).
            self._discard(spare)
            raise git.GitError(
                f"a fresh checkout of {commit[:12]} is not clean (git status lists changes in it "
                "at once, often .gitattributes line endings or a missing filter): cards start "
                "without the warm pool until `git status` is clean after a checkout"
            )
        spare.with_name(spare.name + READY).write_text(commit + "\n", encoding="utf-8")
        return spare

    # ------------------------------------------------------------------ the clean check

    def _watch_and_check(self, spare: Path) -> bool:
        """Watch the spare, then check it clean (in that order: a change after the check is
        seen by the watch); kept for ``take`` when clean. Whether it is clean."""
        watch = TreeWatch.start([spare, *_own_git_dir(spare)])
        try:
            clean = not git.dirty_paths(spare)
            head = git.head_commit(spare)
        except git.GitError:
            clean = False
        if watch is not None:
            if clean:
                with self._watches_lock:
                    old = self._watches.pop(spare, None)
                    self._watches[spare] = (watch, head)
                if old is not None:
                    old[0].close()
            else:
                watch.close()
        return clean

    def _check_in(self, spare: Path) -> None:
        """A ready spare this process did not check: checked now, thrown away when dirty."""
        if self._watch_and_check(spare):
            return
        taken = spare.with_name(spare.name + TAKEN)
        try:  # like a take, so a process taking it meanwhile and this one never both use it
            spare.with_name(spare.name + READY).rename(taken)
        except FileNotFoundError:
            return
        self._discard(spare)

    def _forget_watches(self, keep: set[Path]) -> None:
        """Close the watches of spares no longer ready here (taken by another process)."""
        with self._watches_lock:
            gone = [self._watches.pop(p) for p in list(self._watches) if p not in keep]
        for watch, _head in gone:
            watch.close()

    def _watched(self, spare: Path) -> bool:
        with self._watches_lock:
            return spare in self._watches

    def _untouched(self, spare: Path) -> tuple[bool, str | None]:
        """(still clean, its HEAD commit when known for sure): clean when its watch saw nothing
        since it was checked clean (HEAD as it was then), or (no watch, or something changed)
        when ``git status`` finds nothing."""
        with self._watches_lock:
            checked = self._watches.pop(spare, None)
        if checked is not None:
            watch, head = checked
            try:
                if not watch.changed():
                    return True, head
            finally:
                watch.close()
        return not git.dirty_paths(spare), None

    def repair(self) -> list[Path]:
        """Remove spares a crash left half-made (no ready marker) and markers without a spare;
        the spares removed."""
        if not self.dir.is_dir():
            return []
        removed = []
        for marker in [*self.dir.glob(f"*{READY}"), *self.dir.glob(f"*{TAKEN}")]:
            if not marker.with_suffix("").is_dir():
                marker.unlink(missing_ok=True)
        for spare in sorted(p for p in self.dir.iterdir() if p.is_dir()):
            if spare.with_name(spare.name + READY).exists():
                continue
            if spare.with_name(spare.name + TAKEN).exists() and self._being_taken(spare):
                continue
            self._discard(spare)
            removed.append(spare)
        with self._registry_lock:
            git.prune_worktrees(self.repo)
        return removed

    @staticmethod
    def _being_taken(spare: Path) -> bool:
        """Taken moments ago (by any process): leave it; a taken marker older than a minute was
        left by a crash."""
        try:
            age = time.time() - spare.with_name(spare.name + TAKEN).stat().st_mtime
        except OSError:
            return False
        return age < TAKE_GRACE_SECONDS

    def _discard(self, spare: Path) -> None:
        with self._watches_lock:
            checked = self._watches.pop(spare, None)
        if checked is not None:
            checked[0].close()
        with contextlib.suppress(git.GitError):
            git.remove_worktree(self.repo, spare)
        shutil.rmtree(spare, ignore_errors=True)
        spare.with_name(spare.name + TAKEN).unlink(missing_ok=True)

    # ------------------------------------------------------------------ take and give back

    def take(self, target: Path, branch: str, start: str) -> Path | None:
        """A spare made into ``branch`` at ``start`` (a commit id) and moved to ``target``; None
        when no clean spare is ready (the caller creates the worktree the usual way)."""
        if not self.enabled:
            return None
        for spare in self.ready():
            marker = spare.with_name(spare.name + READY)
            taken = spare.with_name(spare.name + TAKEN)
            try:
                marker.rename(taken)  # atomic: another process taking it gets FileNotFoundError
            except FileNotFoundError:
                continue
            taken.touch()  # the repair of another process leaves it alone for a while
            try:
                clean, head = self._untouched(spare)
                if not clean:  # never hand out a spare someone wrote into
                    self._discard(spare)
                    continue
                git.switch_to_new_branch(spare, branch, start, known_head=head)
                target.parent.mkdir(parents=True, exist_ok=True)
                git.move_worktree(self.repo, spare, target)
                taken.unlink(missing_ok=True)
                return target
            except git.GitError:
                self._discard(spare)
                with contextlib.suppress(git.GitError):
                    git.delete_branch(self.repo, branch)
                return None
        return None

    def give_back(self, worktree: Path) -> bool:
        """A card's worktree goes back to the pool when it is below N: detached at the base
        tip, reset, cleaned (ignored files kept only where ``.worktreeinclude`` says). False
        when the pool is full or off (the caller removes the worktree)."""
        if not self.enabled or len(self.ready()) >= self.size:
            return False
        keep = kept_ignored_files(self.repo, worktree)
        commit = git.rev_parse(self.repo, self.base())
        git.reset_to_detached(worktree, commit, keep)
        spare = self.dir / f"spare-{uuid.uuid4().hex[:10]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        git.move_worktree(self.repo, worktree, spare)
        # Checked clean by the board's next fill (``pool_changed`` follows a merge or discard),
        # or by ``git status`` when taken before that.
        spare.with_name(spare.name + READY).write_text(commit + "\n", encoding="utf-8")
        return True


def _own_git_dir(worktree: Path) -> list[Path]:
    """The linked worktree's own git dir (its index and HEAD), read from its ``.git`` file."""
    try:
        pointer = (worktree / ".git").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if not pointer.startswith("gitdir:"):
        return []
    gitdir = Path(pointer[len("gitdir:") :].strip())
    return [gitdir if gitdir.is_absolute() else worktree / gitdir]
