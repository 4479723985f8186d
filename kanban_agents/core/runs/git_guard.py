"""What a run must not change in git outside its own branch, checked from outside the agent.

An agent whose commands run unconfined (no sandbox, or a sandbox that lets it write the shared
git dir) can get around the review gate with git itself: move ``main`` to its commit
(``git update-ref``), make a tag, check out another branch in the user's checkout, or plant a
hook or ``core.fsmonitor`` that runs in the user's checkout later. ``GitGuard`` takes a snapshot
of the refs and of git's control files when the agent starts, and the run manager compares:

- refs, after every command the agent runs and before the run's commit: a tag created or moved,
  or a branch other than the card's own (other cards' branches move with their own runs) or HEAD
  of the main checkout that now points at work of this run (a commit made in its worktree since
  the snapshot), fails the run, saying how to put it back. The user keeps working meanwhile:
  their commits, new branches and checkouts in the main checkout carry none of the run's commits
  and pass. Nothing is restored automatically: resetting a branch could drop a commit the user
  made on top. A base branch moved by kanban-agents' own merge of another card is expected.
- control files (``.git/config``, ``.git/hooks/``, ``.git/info/``, the worktree's config), when
  the agent is done: changes do not fail the run; they are recorded on it (``extra["git_changes"]``),
  shown as a warning, and the merge waits until the user accepts them (``merge
  --accept-git-changes``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import git
from ..review import GIT_CHANGES
from .errors import RunError

__all__ = ["GIT_CHANGES", "GitGuard"]


@dataclass
class GitGuard:
    repo: Path
    worktree: Path
    branch: str
    branch_prefix: str
    # (ref, new value) pairs kanban-agents itself made meanwhile (merges of other cards)
    expected_moves: Callable[[], Iterable[tuple[str, str]]] = lambda: ()
    refs: dict[str, str] = field(default_factory=dict)
    controls: dict[str, str] = field(default_factory=dict)

    def snapshot(self) -> GitGuard:
        """Blocking (git): call off the event loop, before the agent starts."""
        self.refs = git.ref_snapshot(self.repo)
        self.controls = git.control_files(self.worktree)
        return self

    def check_refs(self) -> None:
        """``RunError`` naming each ref the agent changed and how to restore it."""
        now = git.ref_snapshot(self.repo)
        expected = set(self.expected_moves())
        problems = []
        for name in sorted(set(self.refs) | set(now)):
            old, new = self.refs.get(name), now.get(name)
            if old == new or self._its_own(name) or (name, new) in expected:
                continue
            if not name.startswith("refs/tags/") and not self._carries_run_work(new, now):
                continue  # the user at work in their checkout: a commit, a branch, a switch
            problems.append(self._describe(name, old, new))
        if problems:
            raise RunError(
                "the review gate was bypassed: "
                + "; ".join(problems)
                + ". The run is stopped and nothing is merged"
            )

    def _carries_run_work(self, value: str | None, now: dict[str, str]) -> bool:
        """Does this ref value (``now``: the refs as just read) point at (or past) a commit this
        run made on its branch?"""
        if not value:
            return False
        if value.startswith("ref: "):  # HEAD switched to a branch: the run's own is the agent's
            branch = value.removeprefix("ref: ")
            if branch == f"refs/heads/{self.branch}":
                return True
            value = now.get(branch) or ""
            if not value:
                return False
        known = [v for k, v in self.refs.items() if k != "HEAD" and v]
        try:  # the worktree's HEAD: its branch, or a commit the agent detached onto
            tip = git.rev_parse(self.worktree, "HEAD")
            return git.carries_new_work(self.repo, value, tip, known)
        except git.GitError:
            return True  # cannot tell: refuse, as before

    def control_changes(self) -> list[str]:
        """Changes to git's control files since the snapshot, one line each."""
        return git.control_file_changes(self.controls, git.control_files(self.worktree))

    def _its_own(self, name: str) -> bool:
        # Other cards' branches move with their own runs (and are deleted by their merges).
        return name.startswith(f"refs/heads/{self.branch_prefix}") or name == (
            f"refs/heads/{self.branch}"
        )

    def _describe(self, name: str, old: str | None, new: str | None) -> str:
        if name == "HEAD":
            was = (old or "").removeprefix("ref: ")
            restore = (
                f"git symbolic-ref HEAD {was}"
                if (old or "").startswith("ref: ")
                else f"git update-ref --no-deref HEAD {was}"
            )
            now = (new or "").removeprefix("ref: ")
            return (
                f"the agent changed HEAD of {self.repo} from {was} to {now}: restore it there "
                f"with `{restore}`"
            )
        if old is None:
            return f"the agent created {name} (at {new}): delete it with `git update-ref -d {name}`"
        if new is None:
            return f"the agent deleted {name}: restore it with `git update-ref {name} {old}`"
        return (
            f"the agent moved {name}: {old[:12]} -> {new[:12]}; restore it with "
            f"`git update-ref {name} {old}`"
        )
