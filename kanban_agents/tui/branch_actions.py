"""Actions on a card's branch as a whole: ``R`` rebases it onto its base's current tip (then
runs its tests, in the Tests tab), ``P`` pushes it and opens a pull request. The session does
the work off the UI thread; this mixin asks, shows progress and reports."""

from __future__ import annotations

import asyncio
from functools import partial

from rich.text import Text
from textual import work

from ..core.session import ActionFailed, MergeConflict
from .dialogs import ChoiceDialog


class BranchActions:
    """Mixed into ``KanbanApp``; uses its session, panel and the review mixin's conflict offer."""

    def action_rebase(self) -> None:
        """R: rebase the card's branch onto its base's tip when conflict-free, then test it."""
        card = self._selected_card_or_warn()
        if card is not None:
            self.action_show_tab("tab-tests")
            self._rebase_flow(card.id)

    @work(group="review", exclusive=True, exit_on_error=False)
    async def _rebase_flow(self, card_id: str) -> None:
        self.panel.tests_show(Text(f"rebasing {card_id} onto its base…", style="bold"), "")
        try:
            outcome = await self.session.rebase(card_id, on_lines=self.panel.tests_append)
        except MergeConflict as exc:
            self.panel.tests_show(Text(str(exc), style="red"), "")
            await self._offer_conflict_send_back(
                card_id, exc.base, exc.files, exc.feedback, doing="Rebasing onto"
            )
            return
        except ActionFailed as exc:
            self.panel.tests_show(Text(str(exc), style="red"), "")
            self.notify(str(exc), title="Cannot rebase", severity="error")
            return
        self.refresh_board()
        if outcome.already_current:
            self.panel.tests_show(Text(f"{card_id} is already on the tip of {outcome.base}."), "")
            self.notify(f"{card_id} is already on the tip of {outcome.base}.", timeout=4)
            return
        commits = f"{outcome.picked_up} new commit{'s' * (outcome.picked_up != 1)}"
        done = f"Rebased {card_id} onto {outcome.base} ({commits})"
        tests = outcome.tests
        if tests is None:
            self.panel.tests_show(Text(f"{done}; the card names no tests."), "")
            self.notify(f"{done}; it names no tests.", title="Rebased", timeout=5)
        elif tests.ok:
            verdict = Text.assemble(f"{done}: tests ", ("passed", "bold green"))
            self.panel.tests_show(verdict, tests.output)
            self.notify(f"{done}; its tests pass.", title="Rebased", timeout=5)
        else:
            verdict = Text.assemble(f"{done}: tests ", ("failed", "bold red"))
            self.panel.tests_show(verdict, tests.output)
            self.notify(
                f"{done}, but its tests fail now: send it back (b) with what to fix.",
                title="Rebased, tests fail",
                severity="warning",
                timeout=10,
            )

    def action_pull_request(self) -> None:
        """P: push the card's branch to the remote and open a pull request (after a yes)."""
        card = self._selected_card_or_warn()
        if card is not None:
            self._pull_request_flow(card.id)

    @work(group="review", exclusive=True, exit_on_error=False)
    async def _pull_request_flow(self, card_id: str) -> None:
        remote = self.settings.review.remote
        message = Text.assemble(
            f"Push {card_id}'s branch (that branch only) to '{remote}' and open a pull request "
            "with gh?\n\n",
            ("Title: the card's title; body: its task, the agent's summary and the last test "
             "result. The card moves to done once the pull request is merged.", "dim"),
        )  # fmt: skip
        choice = await self.push_screen_wait(
            ChoiceDialog(
                "Pull request",
                message,
                [("open", "Open pull request", "primary"), ("draft", "Open as draft", "default")],
            )
        )
        if choice not in ("open", "draft"):
            return
        try:
            outcome = await asyncio.to_thread(
                partial(self.session.open_pull_request, card_id, draft=choice == "draft")
            )
        except ActionFailed as exc:
            self.notify(str(exc), title="No pull request", severity="error", timeout=10)
            return
        self.refresh_board()
        pushed = f"Pushed {outcome.branch} to {outcome.remote}."
        if outcome.url is None:
            self.notify(
                f"{pushed} {outcome.missing}", title="Pushed", severity="warning", timeout=10
            )
        elif outcome.existing:
            self.notify(f"{pushed} Its pull request: {outcome.url}", title="Pull request updated")
        else:
            self.notify(f"{pushed} {outcome.url}", title="Pull request opened", timeout=8)
