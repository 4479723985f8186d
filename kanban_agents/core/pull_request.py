"""Pull requests instead of a local merge: push a card's branch and open a PR with ``gh``.

``open`` pushes the card's branch (that one ref, nothing else) to ``[review] remote`` and runs
``gh pr create`` (title: the card's title; body: its task, the agent's summary and the last
test result). The PR's URL goes in the card's front matter (``pr:``), and the card moves to
done once the PR is merged: ``check`` asks ``gh pr view --json state`` (the app rarely, and
``kanban-agents status`` each time). Without ``gh`` the push still happens and the user is told
what is missing; without the remote nothing happens and the message says how to add one.

GitHub is not reachable from the tests: they use a local bare repository as the remote and a
stand-in ``gh`` on ``PATH``; a user with the real ``gh`` gets the real thing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from enum import StrEnum

from . import git
from .board import BoardError
from .card import Card
from .events import ACTIVE_STATES, MERGED, TestsFinished
from .records import RunState
from .review import REVIEW_NOTES_HEADING, Reviewer, ReviewError

PR_KEY = "pr"  # the card's front-matter key holding its pull request's URL
GH_TIMEOUT = 60  # seconds for one gh call (it talks to GitHub)


class PrState(StrEnum):
    OPEN = "OPEN"
    MERGED = "MERGED"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class PrOutcome:
    card_id: str
    branch: str
    remote: str
    url: str | None  # None: pushed, but no pull request was opened (``missing`` says why)
    missing: str | None = None  # what is missing to open one (gh), in words
    existing: bool = False  # the card already had this pull request: only the push was new
    committed_work: str | None = None  # uncommitted work committed before the push


@dataclass(frozen=True)
class PrCheck:
    card_id: str
    url: str
    state: PrState | None  # None when it could not be asked (``error`` says why)
    moved_to_done: bool = False
    error: str | None = None


class PullRequests:
    def __init__(self, reviewer: Reviewer):
        self.reviewer = reviewer
        self.store = reviewer.store
        self.records = reviewer.records

    @property
    def settings(self):
        return self.store.settings

    # ------------------------------------------------------------------ open

    def open(self, card_id: str, draft: bool = False) -> PrOutcome:
        """Push the card's branch, then open its pull request (unless it has one). Blocking."""
        where = self.reviewer.card_branch(card_id)
        card = where.card
        state = self.records.load_state(card.id)
        if state is not None and state.state in ACTIVE_STATES:
            raise ReviewError(
                f"{card.id}'s agent is {state.state} now: open its pull request once it stops"
            )
        if not git.branch_exists(where.repo, where.branch):
            raise ReviewError(f"{card.id}'s branch {where.branch!r} is gone (merged already?)")
        remote = self.settings.review.remote
        try:
            if git.remote_url(where.repo, remote) is None:
                raise ReviewError(
                    f"this repository has no git remote '{remote}' to push {where.branch} to: "
                    f"add it ('git remote add {remote} URL') or name another in kanban.toml "
                    "([review] remote)"
                )
            committed = None
            if where.worktree is not None and git.dirty_paths(where.worktree):
                committed = git.commit_all(
                    where.worktree,
                    f"Review edits: {card.title}\n\nCard: {card.id}\n",
                    allow_mass_deletion=card.meta.get("allow_mass_deletion") is True,
                    branch=where.branch,
                )
            git.push_branch(where.repo, remote, where.branch)
        except git.GitError as exc:
            raise ReviewError(str(exc)) from None
        known = str(card.meta.get(PR_KEY) or "")
        if known:  # the push updated it; one card, one pull request
            return PrOutcome(card.id, where.branch, remote, known, None, True, committed)
        gh = shutil.which("gh")
        if gh is None:
            return PrOutcome(
                card.id, where.branch, remote, None,
                "gh (GitHub CLI) is not installed, so no pull request was opened: install it "
                "from https://cli.github.com and run this again, or open one for the pushed "
                "branch on your forge", False, committed,
            )  # fmt: skip
        args = ["pr", "create", "--title", card.title, "--body", self.body(card), "--head",
                where.branch, "--base", where.base]  # fmt: skip
        if draft:
            args.append("--draft")
        try:
            output = self._gh(gh, args, where.repo)
        except ReviewError as exc:
            raise ReviewError(f"pushed {where.branch} to {remote}, but {exc}") from None
        url = next(
            (w for w in reversed(output.split()) if w.startswith(("https://", "http://"))), ""
        )
        if not url:
            raise ReviewError(
                f"pushed {where.branch} to {remote}, but gh pr create printed no pull request "
                f"URL: {output.strip()[:300] or '(nothing)'}"
            )
        self._update_card(card.id, {PR_KEY: url})
        self.records.update_state(card.id, lambda s: s.extra.__setitem__(PR_KEY, url))
        return PrOutcome(card.id, where.branch, remote, url, None, False, committed)

    def body(self, card: Card) -> str:
        """The PR's body: the card's task, the agent's summary and the last test result."""
        task = card.body.split(f"\n{REVIEW_NOTES_HEADING}", 1)[0].strip()
        state = self.records.load_state(card.id)
        summary = (state.summary if state is not None else "").strip()
        parts = [task or card.title]
        if summary:
            parts.append(f"## Agent's summary\n\n{summary}")
        parts.append(f"## Tests\n\n{self._test_result(card)}")
        parts.append(f"Card: `{card.id}` (kanban-agents)")
        return "\n\n".join(parts) + "\n"

    def _test_result(self, card: Card) -> str:
        if not card.tests:
            return "The card names no tests."
        commands = "\n".join(f"    {command}" for command in card.tests)
        tests = self._last_tests(card.id)
        if tests is None:
            return f"Not run yet:\n\n{commands}"
        verdict = "passed" if tests.passed else f"failed (exit {tests.exit_code})"
        return f"{verdict} (run {tests.run}, attempt {tests.attempt}):\n\n{commands}"

    def _last_tests(self, card_id: str) -> TestsFinished | None:
        run = self.records.next_run_number(card_id) - 1
        found = None
        if run >= 1:
            for event in self.records.read_events(card_id, run):
                if isinstance(event, TestsFinished):
                    found = event
        return found

    # ------------------------------------------------------------------ merged yet?

    def check(self, card_id: str) -> PrCheck:
        """Ask gh about the card's pull request; a merged one moves the card to done."""
        try:
            card = self.store.get(card_id)
        except BoardError as exc:
            raise ReviewError(str(exc)) from None
        url = str(card.meta.get(PR_KEY) or "")
        if not url:
            raise ReviewError(f"{card.id} has no pull request ('pr:' in its front matter)")
        gh = shutil.which("gh")
        if gh is None:
            return PrCheck(card.id, url, None, error="gh (GitHub CLI) is not installed")
        try:
            output = self._gh(gh, ["pr", "view", url, "--json", "state"], self.reviewer.repo)
            state = PrState(str(json.loads(output)["state"]).upper())
        except ReviewError as exc:
            return PrCheck(card.id, url, None, error=str(exc))
        except (ValueError, KeyError, TypeError):
            return PrCheck(card.id, url, None, error=f"gh pr view said: {output.strip()[:200]}")
        done = self.settings.board.done_column
        if state is not PrState.MERGED or self.store.status_of(card) == done:
            return PrCheck(card.id, url, state)
        try:
            self.store.move(card.id, done)
        except BoardError as exc:
            raise ReviewError(f"{card.id}'s pull request is merged, but {exc}") from None

        def merged(run: RunState) -> None:
            run.state, run.reason = MERGED, f"its pull request was merged: {url}"
            run.finished = time.time()

        self.records.update_state(card.id, merged)
        return PrCheck(card.id, url, state, moved_to_done=True)

    def open_requests(self) -> list[str]:
        """Cards with a pull request that are not done yet: the ones worth asking about."""
        done = self.settings.board.done_column
        return [
            card.id
            for card in self.store.cards.values()
            if card.meta.get(PR_KEY) and self.store.status_of(card) != done
        ]

    def check_all(self) -> list[PrCheck]:
        return [self.check(card_id) for card_id in self.open_requests()]

    # ------------------------------------------------------------------ helpers

    def _gh(self, gh: str, args: list[str], cwd) -> str:
        try:
            proc = subprocess.run(
                [gh, *args],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=GH_TIMEOUT,
                env={**os.environ, "GH_PROMPT_DISABLED": "1", "GIT_TERMINAL_PROMPT": "0"},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReviewError(f"gh {args[0]} {args[1]} failed: {exc}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise ReviewError(
                f"gh {args[0]} {args[1]} failed: {detail[-1] if detail else proc.returncode}"
            )
        return proc.stdout

    def _update_card(self, card_id: str, changes: dict) -> Card:
        try:
            return self.store.update_retrying(card_id, changes)
        except BoardError as exc:
            raise ReviewError(f"the card could not be updated: {exc}") from None
