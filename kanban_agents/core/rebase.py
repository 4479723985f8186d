"""Stale bases: bring a card's branch up to its base's current tip, then test it again.

A card in progress or in review whose base branch moved on (``base +N`` on the card) is
rebased onto the new tip only when that is conflict-free: a dry run (``git merge-tree``)
comes first, and a rebase that still stops on a conflict is aborted. Either way a conflict
changes nothing and names the files, ready to send back to the agent. Uncommitted work in the
card's worktree is first committed as the agent's work (a rebase needs a clean worktree).

Like a merge, a rebase records its progress in the card's run state (``extra["rebase"]``)
before each step that changes something, so run again after an interruption it finishes
what is missing: a rebase that landed is not made twice, its tests still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum

from . import git
from .events import ACTIVE_STATES
from .process import CommandResult
from .records import RunState
from .review import MergeRefused, Reviewer, ReviewError, conflict_feedback

REBASE_PROGRESS = "rebase"  # the key of a rebase's progress in RunState.extra
# The last rebase that stopped on one of the branch's commits although the branch as a whole
# merges cleanly (a later commit undid what conflicts): kept so ``send-back --conflict`` can
# send that conflict back, for as long as neither the branch nor its base has moved.
REBASE_CONFLICT = "rebase_conflict"


class RebaseStep(StrEnum):
    STARTED = "started"  # the branch may be moving: ``previous`` is where it was
    REBASED = "rebased"  # the branch is on the new base; its tests are still to run
    DONE = "done"


@dataclass
class RebaseProgress:
    step: RebaseStep
    branch: str
    base: str
    onto: str  # the base's tip the branch goes onto
    previous: str  # the branch's tip before the rebase
    commit: str = ""  # the branch's tip after it

    @classmethod
    def from_state(cls, state: RunState | None) -> RebaseProgress | None:
        data = state.extra.get(REBASE_PROGRESS) if state else None
        try:
            return cls(**{**data, "step": RebaseStep(data["step"])})
        except (TypeError, KeyError, ValueError):
            return None


@dataclass(frozen=True)
class RebaseOutcome:
    card_id: str
    branch: str
    base: str
    previous: str  # the branch's tip before
    commit: str  # and after (the same when it was already on the base's tip)
    picked_up: int  # commits of the base the branch did not have before
    committed_work: str | None  # the commit of uncommitted work made first, if any
    tests: CommandResult | None  # the card's tests on the rebased branch; None: it names none

    @property
    def already_current(self) -> bool:
        return self.previous == self.commit

    @property
    def tests_ok(self) -> bool:
        return self.tests is None or self.tests.ok


class CardRebase:
    """Rebase a card's branch onto its base's tip; used the same way by the TUI and the CLI."""

    def __init__(self, reviewer: Reviewer):
        self.reviewer = reviewer
        self.records = reviewer.records

    async def rebase(
        self, card_id: str, on_lines: Callable[[list[str]], None] | None = None
    ) -> RebaseOutcome:
        import asyncio

        moved = await asyncio.to_thread(self.move_branch, card_id)
        if moved.already_current:
            return moved
        tests = await self.reviewer.run_tests(card_id, on_lines=on_lines)

        def done(state: RunState) -> None:
            progress = RebaseProgress.from_state(state)
            if progress is not None:
                progress.step = RebaseStep.DONE
                state.extra[REBASE_PROGRESS] = _saved(progress)

        self.records.update_state(card_id, done)
        return RebaseOutcome(**{**asdict(moved), "tests": tests})

    def move_branch(self, card_id: str) -> RebaseOutcome:
        """Everything but the tests: check, commit pending work, dry run, rebase. Blocking."""
        where = self.reviewer.card_branch(card_id)
        card, settings = where.card, self.reviewer.settings
        state = self.records.load_state(card.id)
        if state is not None and state.state in ACTIVE_STATES:
            raise ReviewError(f"{card.id}'s agent is {state.state} now: rebase it once it stops")
        columns = (settings.board.agent_column, settings.board.review_column)
        status = self.reviewer.store.status_of(card)
        if status not in columns:
            raise ReviewError(
                f"{card.id} is in {status}: only cards in {' or '.join(columns)} are rebased"
            )
        if where.worktree is None:
            raise ReviewError(f"{card.id} has no worktree (it was removed): nothing to rebase")
        progress = RebaseProgress.from_state(state)
        if progress is not None and progress.step is RebaseStep.REBASED:
            # Cut short after the branch moved: only the tests are left to run.
            return RebaseOutcome(
                card.id, progress.branch, progress.base, progress.previous, progress.commit,
                _count(where.repo, progress.previous, progress.onto), None, None,
            )  # fmt: skip
        try:
            if progress is not None and progress.step is RebaseStep.STARTED:
                git.abort_rebase(where.worktree)  # a killed rebase: start over from where it was
            if not git.branch_exists(where.repo, where.base):
                raise ReviewError(f"{card.id}'s base branch '{where.base}' does not exist")
            onto = git.rev_parse(where.repo, f"refs/heads/{where.base}")
            committed = None
            if git.dirty_paths(where.worktree):
                committed = git.commit_all(
                    where.worktree,
                    f"{card.title} (uncommitted work, before a rebase)\n\nCard: {card.id}\n",
                    allow_mass_deletion=card.meta.get("allow_mass_deletion") is True,
                    branch=where.branch,
                )
            tip = git.rev_parse(where.repo, f"refs/heads/{where.branch}")
            if git.is_ancestor(where.repo, onto, tip):
                return RebaseOutcome(
                    card.id, where.branch, where.base, tip, tip, 0, committed, None
                )
            check = git.merge_check(where.repo, onto, tip)  # the dry run
            if not check.clean:
                raise _conflict(where.branch, where.base, check.conflicts)
            started = RebaseProgress(RebaseStep.STARTED, where.branch, where.base, onto, tip)
            self._save(card.id, started)
            try:
                new = git.rebase_branch(where.worktree, where.branch, where.base, onto)
            except git.MergeConflict as exc:  # clean as a merge, not commit by commit
                conflict = RebaseConflict(where.base, onto, tip, exc.files, exc.commit)
                self._forget(card.id, conflict)
                raise conflict.refusal(where.branch) from None
        except git.GitError as exc:
            raise ReviewError(str(exc)) from None
        started.step, started.commit = RebaseStep.REBASED, new
        self._save(card.id, started)
        picked_up = _count(where.repo, tip, onto)
        return RebaseOutcome(
            card.id, where.branch, where.base, tip, new, picked_up, committed, None
        )  # fmt: skip

    def _save(self, card_id: str, progress: RebaseProgress) -> None:
        self.records.update_state(
            card_id, lambda state: state.extra.__setitem__(REBASE_PROGRESS, _saved(progress))
        )

    def _forget(self, card_id: str, conflict: RebaseConflict | None = None) -> None:
        def forget(state: RunState) -> None:
            state.extra.pop(REBASE_PROGRESS, None)
            if conflict is not None:
                state.extra[REBASE_CONFLICT] = asdict(conflict)

        self.records.update_state(card_id, forget)


@dataclass(frozen=True)
class RebaseConflict:
    """A rebase that stopped on ``commit`` ("abc1234 subject") of the branch, whose tip was
    ``tip``, going onto ``onto`` (``base``'s tip), though the branch as a whole merges cleanly."""

    base: str
    onto: str
    tip: str
    files: list[str]
    commit: str

    def refusal(self, branch: str) -> MergeRefused:
        at = f"its commit {self.commit}" if self.commit else "one of its commits"
        refused = MergeRefused(
            f"rebasing {branch} onto {self.base} stops at {at}, which conflicts in "
            f"{', '.join(self.files)} (the branch as a whole merges cleanly); the rebase was "
            "aborted, nothing was changed",
            self.files,
            self.feedback(),
        )
        refused.base = self.base
        return refused

    def feedback(self) -> str:
        """Review notes that send the card back with this conflict."""
        at = f"your commit {self.commit}" if self.commit else "one of your commits"
        listed = "\n".join(f"- {f}" for f in self.files)
        return (
            f"Rebasing your branch onto {self.base} stops at {at}: it conflicts with "
            f"{self.base}'s changes in:\n{listed}\n\nYour branch as a whole merges cleanly (a "
            f"later commit of yours undoes what conflicts), so merge the latest {self.base} into "
            f"your worktree instead (run `git merge {self.base}`), make sure the tests pass, then "
            "call finish again. This merge commit is the one commit you may make yourself."
        )


def current_rebase_conflict(reviewer: Reviewer, card_id: str) -> RebaseConflict | None:
    """The conflict the card's last rebase stopped on, while it still holds: neither the
    branch nor its base moved since. Blocking (git)."""
    state = reviewer.records.load_state(card_id)
    data = state.extra.get(REBASE_CONFLICT) if state else None
    try:
        conflict = RebaseConflict(**data)
    except TypeError:
        return None
    where = reviewer.card_branch(card_id)
    try:
        tip = git.rev_parse(where.repo, f"refs/heads/{where.branch}")
        onto = git.rev_parse(where.repo, f"refs/heads/{conflict.base}")
    except git.GitError:
        return None
    if (tip, onto) != (conflict.tip, conflict.onto):
        return None
    if where.worktree is not None and git.dirty_paths(where.worktree):
        return None  # uncommitted work since: a rebase would commit it first, and may pass
    return conflict


def _saved(progress: RebaseProgress) -> dict:
    return {**asdict(progress), "step": str(progress.step)}


def _count(repo, old: str, new: str) -> int:
    try:
        return git.commits_between(repo, old, new)
    except git.GitError:
        return 0


def _conflict(branch: str, base: str, files: list[str]) -> MergeRefused:
    refused = MergeRefused(
        f"rebasing {branch} onto {base} would conflict in {', '.join(files)}; nothing was changed",
        files,
        conflict_feedback(base, files),
    )
    refused.base = base  # the session's MergeConflict carries it to the send-back offer
    return refused


# --- [review] rebase_before_review: a run's last step before review ------------------------


async def rebase_before_review(space, session, emit) -> str | None:
    """The run's tests passed: rebase its branch (``space``) onto its base's current tip when
    that is conflict-free, and run the tests again (``session.run_tests``) before review.

    A conflict leaves the branch as it is, with a notice (the review shows the same conflict
    and can send it back); tests that fail on the new base fail the run, which says so.
    Returns the rebased branch's tip; None when it did not move.
    """
    import asyncio

    from .agent.session import last_line
    from .events import LogLine, Notice
    from .runs.errors import RunError

    def move() -> tuple[int, list[str]]:
        """(commits picked up, conflicting files); (0, []) when there is nothing to do."""
        if not git.branch_exists(space.path, space.base):
            return 0, []  # the run started on a detached HEAD: no branch to follow
        onto = git.rev_parse(space.path, f"refs/heads/{space.base}")
        tip = git.rev_parse(space.path, "HEAD")
        if git.is_ancestor(space.path, onto, tip):
            return 0, []
        check = git.merge_check(space.path, onto, tip)
        if not check.clean:
            return 0, check.conflicts
        try:
            git.rebase_branch(space.path, space.branch, space.base, onto)
        except git.MergeConflict as exc:
            return 0, exc.files
        return git.commits_between(space.path, tip, onto), []

    picked_up, conflicts = await asyncio.to_thread(move)
    if picked_up:
        tip = await asyncio.to_thread(git.rev_parse, space.path, "HEAD")
    if conflicts:
        emit(
            Notice,
            text=f"{space.base} moved on and rebasing onto it would conflict in "
            f"{', '.join(conflicts)}: the branch stays on its old base (send it back with the "
            "conflict from the review)",
            level="warning",
        )
        return None
    if not picked_up:
        emit(LogLine, text=f"already on the tip of {space.base}: no rebase needed", stream="git")
        return None
    emit(
        LogLine,
        text=f"rebased onto {space.base} ({picked_up} new commit{'s' * (picked_up != 1)}); "
        "running the tests again",
        stream="git",
    )
    tests = await session.run_tests(session.record.attempt + 1)
    if not tests.passed:
        raise RunError(
            f"the tests passed, but fail after rebasing onto {space.base} ({picked_up} new "
            f"commits): {last_line(tests.output)}"
        )
    return tip
