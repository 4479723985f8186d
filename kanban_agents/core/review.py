"""The review gate: every slice passes it before it lands. Merge (after a dry run), send back to
the same agent with feedback, discard, or run the card's tests again.

Used the same way by the TUI and the CLI. Each operation either completes or changes nothing
and says why (``ReviewError``, ``MergeRefused``); it never loses a user's local work. An
operation cut short half-way (a kill, a git step that failed) is finished by running it again:
a merge records its progress in the card's run state (``extra["merge"]``) before each step that
changes something, and every cleanup step is fine to repeat.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from . import git
from .board import BoardError, BoardStore
from .card import Card
from .events import CANCELLED, DISCARDED, FAILED, INTERRUPTED, MERGED, REVIEW
from .frontmatter_edit import DELETE
from .paths import repo_root, worktree_root
from .process import CommandResult, run_command
from .records import RunState, run_records
from .scope import ScopeReport, check_scope
from .worktree_slots import slot_environment, slot_table

REVIEW_NOTES_HEADING = "## Review notes"
MERGE_PROGRESS = "merge"  # the key of a merge's progress in RunState.extra
# The key of the changes a run made to git's own files (config, hooks, info/), kept until a
# merge accepts them (``runs/git_guard.py`` records them).
GIT_CHANGES = "git_changes"
# A run that stopped with work in its worktree: the agent can continue it with review notes.
SEND_BACK_STATES = (REVIEW, FAILED, CANCELLED, INTERRUPTED)


class ReviewError(Exception):
    """The operation cannot be done; nothing changed. The message says what to do."""


class GitChangesNotAccepted(ReviewError):
    """The card's run changed git's own files (config, hooks, info/): the merge waits until the
    user has seen them and accepts (``accept_git_changes``). ``changes`` lists them."""

    def __init__(self, card_id: str, changes: list[str]):
        super().__init__(
            f"{card_id}'s agent changed git's own files, which decide what git runs in your "
            f"checkout: {'; '.join(changes)}. Check them (undo what you do not want), then merge "
            f"with 'kanban-agents merge {card_id} --accept-git-changes' (in the board app, "
            "confirm in the merge dialog)"
        )
        self.changes = changes


class OutOfScopeNotConfirmed(ReviewError):
    """A merge would land changes outside the card's scope (or to its protected tests) that
    the user has not confirmed. Nothing was changed."""

    def __init__(self, report: ScopeReport):
        self.report = report
        super().__init__(
            f"{report.card_id}'s work {'; and '.join(report.lines())}. Check the diff; "
            f"merge anyway with 'kanban-agents merge {report.card_id} --allow-out-of-scope' "
            "(in the board app, confirm in the merge dialog), or send it back"
        )


class MergeRefused(ReviewError):
    """The dry run found conflicts; ``files`` names them, ``feedback`` is ready to send back."""

    def __init__(self, message: str, files: list[str], feedback: str):
        super().__init__(message)
        self.files = files
        self.feedback = feedback


@dataclass(frozen=True)
class CardBranch:
    card: Card
    repo: Path
    branch: str
    base: str
    worktree: Path | None  # None when the worktree is gone (e.g. removed by hand)


@dataclass(frozen=True)
class MergeOutcome:
    card_id: str
    commit: str
    base: str
    strategy: str
    removed_worktree: bool
    deleted_branch: bool
    already_merged: bool = False  # an earlier merge finished it all; nothing was done now


class MergeStep(StrEnum):
    COMMITTED = "committed"  # the merge commit is built; the base may not have moved yet
    LANDED = "landed"  # the base has the merge commit; cleanup and the card may be left to do
    DONE = "done"


@dataclass
class MergeProgress:
    """How far a merge got, saved before each step that changes something."""

    step: MergeStep
    branch: str
    base: str
    strategy: str
    commit: str
    previous: str  # the base's tip before the merge

    @classmethod
    def from_state(cls, state: RunState | None) -> MergeProgress | None:
        data = state.extra.get(MERGE_PROGRESS) if state else None
        try:
            return cls(**{**data, "step": MergeStep(data["step"])})
        except (TypeError, KeyError, ValueError):
            return None


class Reviewer:
    def __init__(self, store: BoardStore):
        self.store = store
        self.repo = repo_root(store.root)
        self.records = run_records(store)

    @property
    def settings(self):
        return self.store.settings

    def _card(self, card_id: str) -> Card:
        try:
            return self.store.get(card_id)
        except BoardError as exc:
            raise ReviewError(str(exc)) from None

    def card_branch(self, card_id: str) -> CardBranch:
        """Where the card's work lives: branch, worktree and the base it will merge into."""
        card = self._card(card_id)
        if self.repo is None:
            raise ReviewError("the board is not inside a git repository")
        state = self.records.load_state(card.id)
        branch = (state.branch if state and state.branch else None) or card.branch
        if not branch:
            branch = self.settings.worktrees.branch_prefix + card.id
        if not git.branch_exists(self.repo, branch) and self._landed_merge(card.id) is None:
            raise ReviewError(
                f"{card.id} has no branch {branch!r}: its agent has not worked on it yet"
            )
        base = (state.base if state and state.base else "") or self.settings.worktrees.base_branch
        base = base or git.current_branch(self.repo) or "HEAD"
        worktree = git.checked_out_in(self.repo, branch)
        return CardBranch(card, self.repo, branch, base, worktree)

    # ------------------------------------------------------------------ merge

    def check_merge(self, card_id: str) -> git.MergeCheck:
        """The dry run: would the card's branch (with its uncommitted work) merge cleanly?"""
        where = self.card_branch(card_id)
        landed = self._landed_merge(card_id)
        if landed is not None:
            return git.MergeCheck(
                True, None, [], f"'{landed.branch}' is already merged into '{landed.base}'"
            )
        tip = git.snapshot_commit(where.worktree) if where.worktree is not None else where.branch
        return git.merge_check(where.repo, where.base, tip)

    def merge(
        self,
        card_id: str,
        strategy: str | None = None,
        *,
        accept_git_changes: bool = False,
        allow_out_of_scope: bool = False,
    ) -> MergeOutcome:
        """Merge the card's branch into its base, then clean up and move the card to done.

        Run again after an interruption, it finishes what is missing (a merge that landed is
        not made twice); on a card already merged it changes nothing (``already_merged``).
        A run that changed git's own files is merged only with ``accept_git_changes``
        (``GitChangesNotAccepted`` otherwise); one that changed files outside the card's scope or
        its protected tests only with ``allow_out_of_scope`` (``OutOfScopeNotConfirmed``).
        """
        card = self._card(card_id)
        progress = MergeProgress.from_state(self.records.load_state(card.id))
        in_done = self.store.status_of(card) == self.settings.board.done_column
        if in_done and (progress is None or progress.step is MergeStep.DONE):
            commit = progress.commit if progress else str(card.meta.get("merged") or "")
            if commit:
                base = progress.base if progress else ""
                strategy = progress.strategy if progress else ""
                return MergeOutcome(card.id, commit, base, strategy, False, False, True)
        landed = self._landed_merge(card.id)
        if landed is not None:
            return self._finish_merge(card, landed)
        return self._merge(card_id, strategy, accept_git_changes, allow_out_of_scope)

    def git_changes(self, card_id: str) -> list[str]:
        """Changes the card's runs made to git's own files that no merge has accepted yet."""
        state = self.records.load_state(card_id)
        return list(state.extra.get(GIT_CHANGES) or []) if state is not None else []

    def scope(self, card_id: str) -> ScopeReport:
        """What the card's work (uncommitted included) changes outside its ``files`` and in its
        protected tests, against its base."""
        where = self.card_branch(card_id)
        try:
            tip = git.snapshot_commit(where.worktree) if where.worktree else where.branch
            changed = git.changed_paths(where.repo, where.base, tip)
        except git.GitError as exc:
            raise ReviewError(str(exc)) from None
        return check_scope(where.card, changed)

    def _merge(
        self,
        card_id: str,
        strategy: str | None,
        accept_git_changes: bool,
        allow_out_of_scope: bool = False,
    ) -> MergeOutcome:
        where = self.card_branch(card_id)
        card = where.card
        review_column = self.settings.board.review_column
        if self.store.status_of(card) != review_column:
            raise ReviewError(
                f"{card.id} is in {self.store.status_of(card)}: only cards in {review_column} can be merged"
            )
        git_changes = self.git_changes(card.id)
        if git_changes and not accept_git_changes:
            raise GitChangesNotAccepted(card.id, git_changes)
        if not allow_out_of_scope:
            report = self.scope(card.id)
            if report.flagged:
                raise OutOfScopeNotConfirmed(report)
        base = self._target_branch(where)
        strategy = strategy or self.settings.review.merge_strategy
        allow_deletion = card.meta.get("allow_mass_deletion") is True
        try:
            if where.worktree is not None and git.dirty_paths(where.worktree):
                git.commit_all(
                    where.worktree,
                    f"Review edits: {card.title}\n\nCard: {card.id}\n",
                    allow_mass_deletion=allow_deletion,
                    branch=where.branch,
                )
            check = git.merge_check(where.repo, base, where.branch)
        except git.GitError as exc:
            raise ReviewError(str(exc)) from None
        if not check.clean:
            raise MergeRefused(
                f"merging {where.branch} into {base} would conflict in {', '.join(check.conflicts)}; "
                "nothing was changed",
                check.conflicts,
                conflict_feedback(base, check.conflicts),
            )
        state = self.records.load_state(card.id)
        summary = (state.summary if state else "").strip()
        subject = f"Merge {where.branch}: {card.title}" if strategy == "merge" else card.title
        message = (
            f"{subject}\n\n{summary}\n\nCard: {card.id}\n"
            if summary
            else f"{subject}\n\nCard: {card.id}\n"
        )

        def committed(commit: str, previous: str) -> None:
            progress = MergeProgress(
                MergeStep.COMMITTED, where.branch, base, strategy, commit, previous
            )
            self._save_progress(card.id, progress)

        try:
            result = git.merge_card_branch(
                where.repo,
                base,
                where.branch,
                strategy=strategy,
                message=message,
                worktree=where.worktree,
                allow_mass_deletion=allow_deletion,
                on_commit=committed,
                run_hooks=self.settings.review.run_hooks,
            )
        except git.MergeConflict as exc:
            raise MergeRefused(str(exc), exc.files, conflict_feedback(base, exc.files)) from None
        except git.GitError as exc:
            raise ReviewError(str(exc)) from None
        if git_changes:  # accepted, and merged: later merges need not ask again
            self.records.update_state(card.id, lambda state: state.extra.pop(GIT_CHANGES, None))
        progress = MergeProgress(
            MergeStep.LANDED, where.branch, base, strategy, result.commit, result.previous
        )
        return self._finish_merge(card, progress)

    def _finish_merge(self, card: Card, progress: MergeProgress) -> MergeOutcome:
        """Everything after the base moved, each step fine to repeat: record, clean up, done."""
        assert self.repo is not None
        self._record(
            card.id,
            MERGED,
            f"merged into {progress.base} ({progress.strategy})",
            commit=progress.commit,
            progress=progress,
        )
        settings = self.settings.review
        worktree = git.checked_out_in(self.repo, progress.branch)
        try:
            if settings.remove_worktree and worktree is not None and worktree != self.repo:
                self._remove_or_pool(worktree)
                worktree = None
            if settings.delete_branch and worktree is None:
                git.delete_branch(self.repo, progress.branch)
        except git.GitError as exc:
            raise ReviewError(
                f"{card.id} is merged into {progress.base} ({progress.commit[:12]}), but the "
                f"cleanup failed: {exc}. Once that is fixed, merge {card.id} again to finish"
            ) from None
        removed = worktree is None
        deleted = not git.branch_exists(self.repo, progress.branch)
        changes = {
            "status": self.settings.board.done_column,
            "merged": progress.commit[:12],
            "run": _run_mapping(self.records.load_state(card.id)),
        }
        if removed:
            changes["worktree"] = DELETE
        if deleted:
            changes["branch"] = DELETE
        self._update_card(card.id, changes)
        self.records.forget_messages(card.id)
        progress.step = MergeStep.DONE
        self._save_progress(card.id, progress)
        return MergeOutcome(
            card.id, progress.commit, progress.base, progress.strategy, removed, deleted
        )

    def _landed_merge(self, card_id: str) -> MergeProgress | None:
        """A merge of this card that moved its base but did not finish, if there is one."""
        progress = MergeProgress.from_state(self.records.load_state(card_id))
        if progress is None or progress.step is MergeStep.DONE or self.repo is None:
            return None
        if progress.step is MergeStep.COMMITTED:
            # Killed around moving the base: it landed if the base has the commit now.
            if not git.branch_exists(self.repo, progress.base):
                return None
            tip = git.rev_parse(self.repo, f"refs/heads/{progress.base}")
            if not git.is_ancestor(self.repo, progress.commit, tip):
                return None  # it did not land: a new merge starts over (nothing was changed)
            progress.step = MergeStep.LANDED
        return progress

    def _target_branch(self, where: CardBranch) -> str:
        """The branch to merge into: the recorded base, else the branch checked out now."""
        if git.branch_exists(where.repo, where.base):
            return where.base
        configured = self.settings.worktrees.base_branch
        if configured and where.base == configured:
            raise ReviewError(
                f"the base branch '{configured}' (worktrees.base_branch) does not exist"
            )
        # The run started on a detached HEAD, so its base is a commit, not a branch.
        current = git.current_branch(where.repo)
        if current is None:
            suggestion = next(
                (b for b in ("main", "master") if git.branch_exists(where.repo, b)), "<branch>"
            )
            raise ReviewError(
                f"HEAD is detached in {where.repo}, so there is no branch to merge "
                f"{where.branch} into: switch to one (e.g. 'git switch {suggestion}') and merge "
                "again"
            )
        return current

    def _save_progress(self, card_id: str, progress: MergeProgress) -> None:
        def save(state: RunState) -> None:
            state.extra[MERGE_PROGRESS] = {**asdict(progress), "step": str(progress.step)}

        self.records.update_state(card_id, save)

    # ------------------------------------------------------------------ send back

    def send_back(self, card_id: str, feedback: str) -> Card:
        """Append the feedback to the card under '## Review notes' (so review rounds are in git
        with the card) and move it back to the agent column, where the same agent continues."""
        feedback = feedback.strip()
        if not feedback:
            raise ReviewError(
                "nothing to send back: write notes (-m) or comment on lines of the diff first"
            )
        card = self._card(card_id)
        refusal = send_back_refusal(card.id, self.records.load_state(card.id))
        if refusal is not None:
            raise ReviewError(refusal)

        def add_feedback(state: RunState) -> None:
            # The same notes still pending: a send back cut short (or repeated) is finished, not
            # made a second round.
            if state.extra.get("pending_feedback") != feedback or not state.review_round:
                state.review_round += 1
                state.extra["pending_feedback"] = feedback
            state.extra.pop(MERGE_PROGRESS, None)  # a merge left half-done is not finished later

        state = self.records.update_state(card.id, add_feedback)
        try:
            if f"\n### Round {state.review_round} (" not in card.body:
                body = append_review_notes(card.body, feedback, state.review_round)
                card = self.store.update_body(card.id, body, expect=card)
            if self.store.status_of(card) == self.settings.board.agent_column:
                return card
            return self.store.move(card.id, self.settings.board.agent_column, expect=card)
        except BoardError as exc:
            raise ReviewError(str(exc)) from None

    # ------------------------------------------------------------------ discard

    def discard(self, card_id: str) -> Card:
        """Remove the card's worktree and branch; the card goes back to the first column."""
        card = self._card(card_id)
        if self.repo is not None:
            state = self.records.load_state(card.id)
            branch = (state.branch if state and state.branch else None) or card.branch
            branch = branch or self.settings.worktrees.branch_prefix + card.id
            worktree = git.checked_out_in(self.repo, branch)
            if worktree is not None and worktree.resolve() == self.repo.resolve():
                raise ReviewError(
                    f"{branch} is checked out in the main checkout; switch branches first"
                )
            try:
                if worktree is not None:
                    self._remove_or_pool(worktree)
                git.delete_branch(self.repo, branch)
            except git.GitError as exc:
                raise ReviewError(f"{exc}; once that is fixed, discard {card.id} again") from None
            self._record(card.id, DISCARDED, "worktree and branch removed", forget_merge=True)
            self.records.forget_messages(card.id)
        changes = {
            "status": self.settings.first_column,
            "run": DELETE,
            "branch": DELETE,
            "worktree": DELETE,
        }
        return self._update_card(card.id, changes)

    def _remove_or_pool(self, worktree: Path) -> None:
        """A card's worktree is done with: back to the warm pool when it is below
        ``[worktrees] pool``, else removed."""
        from .worktree_pool import WarmPool

        assert self.repo is not None
        settings = self.settings.worktrees
        pool = WarmPool(self.repo, worktree_root(self.repo, self.settings), settings.pool,
                        settings.base_branch)  # fmt: skip
        if not pool.give_back(worktree):
            git.remove_worktree(self.repo, worktree)

    # ------------------------------------------------------------------ tests

    async def run_tests(self, card_id: str, on_lines=None) -> CommandResult | None:
        """The card's acceptance tests in its worktree, now. None when the card has no tests."""
        where = self.card_branch(card_id)
        if where.worktree is None:
            raise ReviewError(f"{card_id} has no worktree (it was removed); nothing to test")
        if not where.card.tests:
            return None
        outputs, last = [], None
        settings = self.settings.worktrees
        slot = slot_table(self.records).slot_for(
            where.worktree, settings.port_base, settings.port_stride
        )
        env = {**os.environ, **slot_environment(where.card.id, where.worktree, slot,
                                                settings.port_base, settings.port_stride)}  # fmt: skip
        for command in where.card.tests:
            last = await run_command(
                command,
                cwd=where.worktree,
                env=env,
                timeout=self.settings.runs.test_timeout,
                output_cap=self.settings.runs.output_cap,
                on_lines=on_lines,
            )
            outputs.append(f"$ {command}\n{last.output}")
            if not last.ok:
                break
        assert last is not None
        return CommandResult(last.exit_code, "\n".join(outputs), last.timed_out, last.elapsed)

    # ------------------------------------------------------------------ helpers

    def _record(
        self,
        card_id: str,
        state_name: str,
        reason: str,
        commit: str | None = None,
        progress: MergeProgress | None = None,
        forget_merge: bool = False,
    ) -> None:
        def record(state: RunState) -> None:
            if state.state != state_name or state.reason != reason:  # a rerun keeps the first time
                state.state, state.reason, state.finished = state_name, reason, time.time()
            if commit:
                state.commit = commit
            if progress is not None:
                state.extra[MERGE_PROGRESS] = {**asdict(progress), "step": str(progress.step)}
            if forget_merge:
                state.extra.pop(MERGE_PROGRESS, None)
            state.extra.pop("pending_feedback", None)

        self.records.update_state(card_id, record)

    def _update_card(self, card_id: str, changes: dict) -> Card:
        try:
            return self.store.update_retrying(card_id, changes)
        except BoardError as exc:
            raise ReviewError(
                f"the git work is done, but the card could not be updated: {exc}"
            ) from None


def send_back_refusal(card_id: str, state: RunState | None) -> str | None:
    """Why the card cannot go back to its agent with review notes now; None when it can."""
    phase = state.state if state is not None else None
    if phase in SEND_BACK_STATES:
        return None
    if phase is None:
        return f"{card_id}'s agent never ran, so there is no work to send back: run it first"
    if phase == MERGED:
        return f"{card_id} is merged: there is no work left to send back"
    if phase == DISCARDED:
        return f"{card_id}'s work was discarded: run its agent again instead of sending it back"
    return (
        f"{card_id}'s agent is {phase} now: send it back once it stops "
        "(in review, failed, cancelled or interrupted)"
    )


def append_review_notes(body: str, feedback: str, round_number: int) -> str:
    """The body with a new review round appended under the '## Review notes' heading."""
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    entry = f"### Round {round_number} ({date})\n\n{feedback.strip()}\n"
    text = body.rstrip("\n")
    if REVIEW_NOTES_HEADING not in text:
        text += f"\n\n{REVIEW_NOTES_HEADING}"
    return f"{text}\n\n{entry}"


def conflict_feedback(base: str, files: list[str]) -> str:
    listed = "\n".join(f"- {f}" for f in files)
    return (
        f"Merging your branch into {base} conflicts: {base} changed the same lines meanwhile in:\n{listed}\n\n"
        f"Merge the latest {base} into your worktree (run `git merge {base}`), resolve the conflicts in those "
        "files keeping both intents, make sure the tests pass, then call finish again. This merge commit is the "
        "one commit you may make yourself."
    )


def _run_mapping(state: RunState | None) -> dict:
    if state is None:
        return {"state": str(MERGED)}
    mapping: dict = {"state": str(state.state), "n": state.run}  # plain strings for YAML
    if state.tokens:
        mapping["tokens"] = state.tokens
    return mapping
