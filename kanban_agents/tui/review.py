"""Agent and review actions of the board: run/resume, cancel, merge, send back, discard, run the
tests, and a shell or editor in the card's worktree. The work is done by the session off the UI
thread; this mixin asks, confirms and reports."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from functools import partial

from rich.text import Text
from textual import work

from ..core.card import Card
from ..core.session import ActionFailed, BoardError, MergeConflict, conflict_feedback
from .dialogs import ChoiceDialog, TextDialog
from .keys import LIVE
from .panel import SidePanel


class ReviewActions:
    """Mixed into ``KanbanApp``; uses its session, board and panel."""

    # ------------------------------------------------------------------ agents

    def action_run_agent(self) -> None:
        """r: start the card's agent (moving the card to the agent column), or resume it."""
        card = self._selected_card_or_warn()
        if card is None or not self._agents_on():
            return
        warning = self.session.rerun_warning(card.id)
        if warning is None:
            self._run_agent(card)
            return

        def chosen(choice: str | None) -> None:
            fresh = self.store.entry(card.id)  # as it is now, after the dialog
            if choice == "run" and isinstance(fresh, Card):
                self._run_agent(fresh)

        self.push_screen(
            ChoiceDialog(
                "Run the agent again?",
                f"{warning}. Run it anyway?",
                [("run", "Run again", "warning")],
            ),
            chosen,
        )

    def _run_agent(self, card: Card) -> None:
        agent_column = self.settings.board.agent_column
        if self.store.status_of(card) != agent_column:
            # entering the column starts the run; r has asked already about a done card
            self.request_move(card, agent_column, None, asked=True)
            return
        try:
            self.notify(self.session.run(card.id), timeout=3)
        except ActionFailed as exc:  # the agents run in another process (serve)
            self.notify(str(exc), severity="warning", timeout=8)

    def action_cancel_agent(self) -> None:
        """c: stop the card's agent; the worktree and the card stay where they are."""
        card = self._selected_card_or_warn()
        if card is None or not self._agents_on():
            return
        try:
            cancelled = self.session.cancel(card.id, "cancelled by you")
        except ActionFailed as exc:  # the agents run in another process (serve)
            self.notify(str(exc), severity="warning", timeout=8)
            return
        if not cancelled:
            self.notify(f"{card.id} has no queued or running agent.", severity="warning", timeout=3)

    def action_say_to_agent(self) -> None:
        """i: an input line in the side panel; what is typed goes to the card's agent."""
        card = self._selected_card_or_warn()
        if card is None or not self._agents_on():
            return
        status = self.session.status(card.id)
        if status is None or status.state not in LIVE:
            self.notify(
                f"{card.id}'s agent is not running: press b to send the card back with notes, "
                "or r to run it.",
                severity="warning",
                timeout=4,
            )
            return
        self.panel.remove_class("-hidden")
        self.panel.show_tab("tab-log")
        self.panel.open_message_line(card.id)

    async def on_side_panel_message_typed(self, message: SidePanel.MessageTyped) -> None:
        try:
            sent = await asyncio.to_thread(self.session.say, message.card_id, message.text)
        except (ActionFailed, BoardError) as exc:
            self.notify(str(exc), title="Message not sent", severity="error")
            return
        self.notify(sent.explanation, title="Message to the agent", timeout=6)

    def _agents_on(self) -> bool:
        if not self.session.agents_on:
            self.notify("Agents are off in this session.", severity="warning")
            return False
        return True

    # ------------------------------------------------------------------ review gate

    def _review_card_or_warn(self):
        card = self._selected_card_or_warn()
        if card is None:
            return None
        review = self.settings.board.review_column
        if self.store.status_of(card) != review:
            title = self.settings.column(review).title if self.settings.column(review) else review
            self.notify(
                f"{card.id} is not in {title}: only cards in review can be merged.",
                severity="warning",
            )
            return None
        return card

    def action_merge(self) -> None:
        """m: dry-run the merge; if clean, confirm and merge; if not, offer to send it back."""
        card = self._review_card_or_warn()
        if card is not None:
            self._merge_flow(card.id)

    @work(group="review", exclusive=True, exit_on_error=False)
    async def _merge_flow(self, card_id: str) -> None:
        try:
            where, check = await asyncio.to_thread(self.session.check_merge, card_id)
        except ActionFailed as exc:
            self.notify(str(exc), title="Cannot merge", severity="error")
            return
        if not check.clean:
            await self._offer_conflict_send_back(card_id, where.base, check.conflicts)
            return
        strategy = self.settings.review.merge_strategy
        others = self.session.conflicts_with_cards(card_id)
        radar = "".join(
            f"\nNote: it {c.describe()}; that card will need to merge after it." for c in others
        )
        message = Text.assemble(
            ("Dry run: no conflicts. ", "bold green"),
            f"Merge {where.branch} into {where.base} ({strategy})?\n\n",
            (
                "Then the card moves to done and its worktree and branch are removed "
                "(see [review] in kanban.toml).",
                "dim",
            ),
            (radar, "yellow"),
        )
        # The agent changed git's own files (hooks, config): merging is accepting them.
        git_changes = await asyncio.to_thread(self.session.git_changes, card_id)
        if git_changes:
            message.append(
                "\n\nThe agent changed git's own files, which decide what git runs in your "
                "checkout:\n" + "\n".join(f"  {change}" for change in git_changes),
                "bold red",
            )
        label = "Accept the git changes and merge" if git_changes else "Merge"
        # Files the card did not ask for: merging them takes a deliberate yes (Cancel has the
        # focus, so a stray enter merges nothing).
        try:
            scope = await asyncio.to_thread(self.session.scope, card_id)
        except ActionFailed as exc:
            self.notify(str(exc), title="Cannot merge", severity="error")
            return
        if scope.flagged:
            message.append(
                "\n\n" + "\n".join(f"Its work {line}." for line in scope.lines()), "bold red"
            )
            label = "Merge them too"
        variant = "error" if scope.flagged else "primary"
        choice = await self.push_screen_wait(
            ChoiceDialog("Merge", message, [("merge", label, variant)])
        )
        if choice != "merge":
            return
        try:
            outcome = await asyncio.to_thread(
                partial(
                    self.session.merge,
                    card_id,
                    accept_git_changes=bool(git_changes),
                    allow_out_of_scope=scope.flagged,
                )
            )
        except MergeConflict as exc:
            await self._offer_conflict_send_back(card_id, where.base, exc.files)
            return
        except ActionFailed as exc:
            self.notify(str(exc), title="Merge refused", severity="error", timeout=10)
            return
        self.notify(
            f"Merged {card_id} into {outcome.base}: {outcome.commit[:10]}",
            title="Merged",
            timeout=5,
        )
        self.refresh_board()

    async def _offer_conflict_send_back(
        self,
        card_id: str,
        base: str,
        files: list[str],
        feedback: str = "",
        doing: str = "Merging into",
    ) -> None:
        """``feedback``: the review notes to send (default: the merge conflict's)."""
        message = Text.assemble(
            (f"{doing} {base} would conflict in:\n", "bold red"),
            "\n".join(f"  {f}" for f in files),
            (
                "\n\nNothing was changed. Send the card back to its agent with the conflict as "
                "feedback?",
                "",
            ),
        )
        choice = await self.push_screen_wait(
            ChoiceDialog(
                "Merge conflict", message, [("send", "Send back with the conflict", "warning")]
            )
        )
        if choice == "send":
            await self._send_back(card_id, feedback or conflict_feedback(base, files))

    def action_send_back(self) -> None:
        """b: write review notes; the card goes back to its agent, which continues in its worktree."""
        card = self._selected_card_or_warn()
        if card is None:
            return
        refusal = self.session.send_back_refusal(card.id)
        if refusal is not None:  # say so before asking for notes that could not be used
            self.notify(refusal, title="Cannot send back", severity="warning")
            return

        comments = self.comment_counts.get(card.id, 0)

        async def sent(feedback: str | None) -> None:
            if feedback or (feedback is not None and comments):
                await self._send_back(card.id, feedback)

        with_comments = f" with {comments} line comment{'s' * (comments != 1)}" if comments else ""
        self.push_screen(
            TextDialog(
                f"Send {card.id} back{with_comments}: what should the agent change?",
                hint="Appended to the card under '## Review notes'"
                + (", the line comments after your notes (these may be empty)" if comments else "")
                + ". ctrl+s sends, escape cancels.",
                allow_empty=bool(comments),
            ),
            sent,
        )

    async def _send_back(self, card_id: str, feedback: str) -> None:
        try:
            await asyncio.to_thread(self.session.send_back, card_id, feedback)
        except (ActionFailed, BoardError) as exc:
            self.notify(str(exc), title="Send back failed", severity="error")
            return
        self.notify(f"{card_id} went back to its agent with your notes.", timeout=4)
        self.load_comment_counts()  # its comments are sent now
        self.refresh_board()

    def action_discard(self) -> None:
        """x: delete the card's worktree and branch (after confirmation); the card goes to the first column."""
        card = self._selected_card_or_warn()
        if card is None:
            return

        async def chosen(choice: str | None) -> None:
            if choice != "discard":
                return
            try:
                await self.session.discard(card.id)
            except (ActionFailed, BoardError) as exc:
                self.notify(str(exc), title="Discard failed", severity="error")
                return
            self.notify(f"Discarded the work of {card.id}.", timeout=4)
            self.refresh_board()
            self.feed.reload()  # the Log shows the discard now, not the run as it was

        message = Text.assemble(
            (card.title, "bold"),
            "\n\nThe card's worktree and branch are deleted, with every "
            "change in them. The card goes back to the first column.",
        )
        self.push_screen(
            ChoiceDialog("Discard this card's work?", message, [("discard", "Discard", "error")]),
            chosen,
        )

    def action_run_tests(self) -> None:
        """t: run the card's tests in its worktree now; output in the Tests tab."""
        card = self._selected_card_or_warn()
        if card is not None:
            self.action_show_tab("tab-tests")
            self._tests_flow(card.id)

    @work(group="tests", exclusive=True, exit_on_error=False)
    async def _tests_flow(self, card_id: str) -> None:
        self.panel.tests_show(Text(f"running the tests of {card_id}…", style="bold"), "")
        try:
            result = await self.session.test(card_id, on_lines=self.panel.tests_append)
        except ActionFailed as exc:
            self.panel.tests_show(Text(str(exc), style="red"), "")
            return
        if result is None:
            self.panel.tests_show(
                Text(f"{card_id} names no tests (add 'tests:' to its front matter).", style="dim"),
                "",
            )
            return
        verdict = ("passed", "bold green") if result.ok else ("failed", "bold red")
        self.panel.tests_show(
            Text.assemble("tests ", verdict, (f"  ({result.elapsed:.1f}s)", "dim")), result.output
        )

    # ------------------------------------------------------------------ worktree shell and editor

    def action_shell(self) -> None:
        """s: a shell in the card's worktree (the board is suspended until you exit it)."""
        self._in_worktree(lambda path: [os.environ.get("SHELL") or "/bin/sh"], "shell")

    def action_open_worktree(self) -> None:
        """o: your editor on the card's worktree."""
        editor = (
            self.settings.ui.editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        )
        self._in_worktree(lambda path: [*shlex.split(editor), str(path)], "editor")

    def _in_worktree(self, argv_for, what: str) -> None:
        card = self._selected_card_or_warn()
        if card is None:
            return
        try:
            where = self.session.card_branch(card.id)
        except ActionFailed as exc:
            self.notify(str(exc), severity="warning")
            return
        if where.worktree is None:
            self.notify(f"{card.id} has no worktree.", severity="warning")
            return
        try:
            with self.suspend():
                subprocess.call(argv_for(where.worktree), cwd=where.worktree)
        except Exception as exc:  # SuspendNotSupported in headless runs, a missing program...
            self.notify(f"Could not open the {what}: {exc}", severity="error")
            return
        self.feed.refresh_diff(immediate=True)
