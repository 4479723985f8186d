"""The review gate: every slice passes it before it lands. Merge (after a dry run), send back to
the same agent with feedback, discard, or run the card's tests again.

Used the same way by the TUI and the CLI. Each operation either completes or changes nothing
and says why (``ReviewError``, ``MergeRefused``); it never loses a user's local work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import git
from .board import BoardError, BoardStore
from .card import Card
from .events import MERGED
from .frontmatter_edit import DELETE
from .paths import repo_root, state_dir
from .process import CommandResult, run_command
from .records import RunRecords, RunState

REVIEW_NOTES_HEADING = "## Review notes"


class ReviewError(Exception):
    """The operation cannot be done; nothing changed. The message says what to do."""


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


class Reviewer:
    def __init__(self, store: BoardStore):
        self.store = store
        self.repo = repo_root(store.root)
        state = state_dir(store.root)
        self.records = RunRecords((state or store.root / ".kanban-agents") / "runs")

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
        if not git.branch_exists(self.repo, branch):
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
        tip = git.snapshot_commit(where.worktree) if where.worktree is not None else where.branch
        return git.merge_check(where.repo, where.base, tip)

    def merge(self, card_id: str, strategy: str | None = None) -> MergeOutcome:
        where = self.card_branch(card_id)
        card = where.card
        review_column = self.settings.board.review_column
        if self.store.status_of(card) != review_column:
            raise ReviewError(
                f"{card.id} is in {self.store.status_of(card)}: only cards in {review_column} can be merged"
            )
        strategy = strategy or self.settings.review.merge_strategy
        if where.worktree is not None and git.dirty_paths(where.worktree):
            git.commit_all(where.worktree, f"Review edits: {card.title}\n\nCard: {card.id}\n")
        check = git.merge_check(where.repo, where.base, where.branch)
        if not check.clean:
            raise MergeRefused(
                f"merging {where.branch} into {where.base} would conflict in {', '.join(check.conflicts)}; "
                "nothing was changed",
                check.conflicts,
                conflict_feedback(where.base, check.conflicts),
            )
        state = self.records.load_state(card.id)
        summary = (state.summary if state else "").strip()
        subject = f"Merge {where.branch}: {card.title}" if strategy == "merge" else card.title
        message = (
            f"{subject}\n\n{summary}\n\nCard: {card.id}\n"
            if summary
            else f"{subject}\n\nCard: {card.id}\n"
        )
        try:
            result = git.merge_card_branch(
                where.repo,
                where.base,
                where.branch,
                strategy=strategy,
                message=message,
                worktree=where.worktree,
            )
        except git.MergeConflict as exc:
            raise MergeRefused(
                str(exc), exc.files, conflict_feedback(where.base, exc.files)
            ) from None
        except git.GitError as exc:
            raise ReviewError(str(exc)) from None
        removed = deleted = False
        if self.settings.review.remove_worktree and where.worktree is not None:
            git.remove_worktree(where.repo, where.worktree)
            removed = True
        if (
            self.settings.review.delete_branch
            and git.checked_out_in(where.repo, where.branch) is None
        ):
            git.delete_branch(where.repo, where.branch)
            deleted = True
        self._record(
            card.id, MERGED, f"merged into {where.base} ({strategy})", commit=result.commit
        )
        changes = {
            "status": self.settings.board.done_column,
            "merged": result.commit[:12],
            "run": _run_mapping(self.records.load_state(card.id)),
        }
        if removed:
            changes["worktree"] = DELETE
        if deleted:
            changes["branch"] = DELETE
        self._update_card(card.id, changes)
        self.records.forget_messages(card.id)
        return MergeOutcome(card.id, result.commit, where.base, strategy, removed, deleted)

    # ------------------------------------------------------------------ send back

    def send_back(self, card_id: str, feedback: str) -> Card:
        """Append the feedback to the card under '## Review notes' (so review rounds are in git
        with the card) and move it back to the agent column, where the same agent continues."""
        feedback = feedback.strip()
        if not feedback:
            raise ReviewError("feedback is empty: say what the agent should change")
        card = self._card(card_id)
        state = self.records.load_state(card.id) or RunState(card.id)
        state.review_round += 1
        state.extra["pending_feedback"] = feedback
        self.records.save_state(state)
        body = append_review_notes(card.body, feedback, state.review_round)
        try:
            card = self.store.update_body(card.id, body, expect=card)
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
            if worktree is not None:
                git.remove_worktree(self.repo, worktree)
            if git.branch_exists(self.repo, branch):
                git.delete_branch(self.repo, branch)
            self._record(card.id, "discarded", "worktree and branch removed")
            self.records.forget_messages(card.id)
        changes = {
            "status": self.settings.first_column,
            "run": DELETE,
            "branch": DELETE,
            "worktree": DELETE,
        }
        return self._update_card(card.id, changes)

    # ------------------------------------------------------------------ tests

    async def run_tests(self, card_id: str, on_lines=None) -> CommandResult | None:
        """The card's acceptance tests in its worktree, now. None when the card has no tests."""
        where = self.card_branch(card_id)
        if where.worktree is None:
            raise ReviewError(f"{card_id} has no worktree (it was removed); nothing to test")
        if not where.card.tests:
            return None
        outputs, last = [], None
        for command in where.card.tests:
            last = await run_command(
                command,
                cwd=where.worktree,
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
        self, card_id: str, state_name: str, reason: str, commit: str | None = None
    ) -> None:
        state = self.records.load_state(card_id) or RunState(card_id)
        state.state, state.reason, state.finished = state_name, reason, time.time()
        if commit:
            state.commit = commit
        state.extra.pop("pending_feedback", None)
        self.records.save_state(state)

    def _update_card(self, card_id: str, changes: dict) -> Card:
        try:
            return self.store.update_retrying(card_id, changes)
        except BoardError as exc:
            raise ReviewError(
                f"the git work is done, but the card could not be updated: {exc}"
            ) from None


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
        return {"state": MERGED}
    mapping: dict = {"state": state.state, "n": state.run}
    if state.tokens:
        mapping["tokens"] = state.tokens
    return mapping
