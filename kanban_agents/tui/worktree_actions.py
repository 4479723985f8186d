"""Worktree actions of the board: the worktrees' disk use in the top bar (measured in the
background, shown when above ``[worktrees] warn_gb``), the cleanup (W, the palette's
"Worktrees: clean up", the same as ``kanban-agents gc``) and setup again (u)."""

from __future__ import annotations

from rich.text import Text
from textual import work

from ..core import session  # session.format_size loads the worktree inventory when first used
from ..core.session import ActionFailed

DISK_CHECK_SECONDS = 60.0  # how often the disk use is measured again (walking is not free)
GIB = 1024**3


class WorktreeActions:
    """Mixed into ``KanbanApp``."""

    worktree_bytes: int | None = None  # the last measurement

    def start_worktree_watch(self) -> None:
        if self.session.agents_on and self.session.in_git_repo:
            self.measure_worktrees()
            self.set_interval(DISK_CHECK_SECONDS, self.measure_worktrees)

    @work(group="worktree-disk", exclusive=True, exit_on_error=False)
    async def measure_worktrees(self) -> None:
        self.worktree_bytes = await self.session.worktree_disk_use(max_age=DISK_CHECK_SECONDS / 2)
        self._update_topbar()

    def worktree_topbar(self) -> Text | None:
        """``· worktrees 12.3 GB (W cleans up)`` when over ``warn_gb``; None otherwise."""
        used = self.worktree_bytes
        if used is None or used <= self.settings.worktrees.warn_gb * GIB:
            return None
        return Text(f"  · worktrees {session.format_size(used)} (W cleans up)", "bold yellow")

    # ------------------------------------------------------------------ W: clean up

    def action_clean_worktrees(self) -> None:
        if not self.session.agents_on or not self.session.in_git_repo:
            self.notify("No worktrees here: the board is not in a git repository.", timeout=3)
            return
        self._clean_worktrees_flow()

    @work(group="worktree-gc", exclusive=True, exit_on_error=False)
    async def _clean_worktrees_flow(self) -> None:
        import asyncio

        from .dialogs import ChoiceDialog

        try:
            plan = await asyncio.to_thread(lambda: self.session.gc_worktrees(dry_run=True))
        except ActionFailed as exc:
            self.notify(str(exc), title="Cleanup failed", severity="error")
            return
        kept = [f"{entry.card_id}: {why}" for entry, why in plan.kept]
        if not plan.removed:
            self.notify(
                "No orphaned worktrees (card gone or done)."
                + (f" Kept: {'; '.join(kept)}" if kept else ""),
                title="Worktrees",
                timeout=6,
            )
            return
        names = ", ".join(entry.card_id or "spare" for entry in plan.removed[:8])
        message = (
            f"Remove {len(plan.removed)} worktree(s) of done or deleted cards ({names}), "
            f"freeing {session.format_size(plan.freed_bytes)}?"
        )
        if kept:
            message += f"\nKept: {'; '.join(kept)}"
        choice = await self.push_screen_wait(
            ChoiceDialog("Clean up worktrees?", message, [("gc", "Remove", "error")])
        )
        if choice != "gc":
            return
        try:
            report = await asyncio.to_thread(self.session.gc_worktrees)
        except ActionFailed as exc:
            self.notify(str(exc), title="Cleanup failed", severity="error")
            return
        notes = "".join(f"\n{note}" for note in report.notes if note.startswith("kept"))
        self.notify(
            f"Removed {len(report.removed)} worktree(s), freed {session.format_size(report.freed_bytes)}."
            + notes,
            title="Worktrees cleaned up",
            timeout=8,
        )
        self.worktree_bytes = None
        self.measure_worktrees()

    # ------------------------------------------------------------------ u: setup again

    def action_rerun_setup(self) -> None:
        card = self._selected_card_or_warn()
        if card is None:
            return
        if not self.session.agents_on:
            self.notify("Agents are off in this session.", severity="warning", timeout=3)
            return
        self.notify(f"Running setup again in {card.id}'s worktree (Log tab)…", timeout=3)
        self._setup_flow(card.id)

    @work(group="setup", exclusive=False, exit_on_error=False)
    async def _setup_flow(self, card_id: str) -> None:
        try:
            await self.session.rerun_setup(card_id)
        except ActionFailed as exc:
            self.notify(str(exc), title="Setup failed", severity="error", timeout=10)
            return
        self.notify(f"{card_id}: setup done.", timeout=3)
