"""Card actions that need a form or touch a whole column: ``E`` edits a card's title, labels,
priority and column in place; ``O`` orders the selected column by priority. The session writes;
this mixin asks and reports."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work

from ..core.board import BoardError, CardConflict
from ..core.card import Card

if TYPE_CHECKING:
    from .card_form import CardEdit


class CardActions:
    """Mixed into ``KanbanApp``; uses its session, store, settings and board."""

    def action_edit_form(self) -> None:
        from .card_form import CardForm  # Textual's Select: not needed for the first frame

        card = self._selected_card_or_warn()
        if card is None:
            return
        columns = [
            (c.title or c.id.replace("_", " ").title(), c.id) for c in self.settings.board.columns
        ]

        def done(edit: CardEdit | None) -> None:
            if edit is not None:
                self._save_card_edit(card, edit)

        self.push_screen(
            CardForm(card.id, card.title, card.labels, card.priority,
                     self.store.status_of(card), columns),
            done,
        )  # fmt: skip

    def _save_card_edit(self, seen: Card, edit: CardEdit) -> None:
        """Title, labels and priority are written against the card the form showed (an edit on
        disk since is refused, never overwritten); a new column is a move like ``L``/a drag, with
        its questions (a done card into the agent column) and its queue."""
        try:
            card = self.session.edit(
                seen.id, title=edit.title, labels=edit.labels, priority=edit.priority, expect=seen
            )
        except CardConflict as exc:
            self.notify(f"{str(exc).rstrip('.')}. Nothing was written; your edit was: "
                        f"{edit.title!r} {edit.labels} {edit.priority!r}. Press E to edit again.",
                        title="Card changed on disk", severity="warning", timeout=12)  # fmt: skip
            return
        except BoardError as exc:
            self.notify(str(exc), title="Edit failed", severity="error")
            return
        if edit.status != self.store.status_of(card):
            self.request_move(card, edit.status, None)

    def action_sort_by_priority(self) -> None:
        column = self.board.selected_column
        if column is None:
            self.notify("Select a column first (h / l).", severity="warning", timeout=3)
            return
        self._sort_column(column.id, column.title)

    @work(group="writes", exit_on_error=False)
    async def _sort_column(self, column_id: str, title: str) -> None:
        """One write per card whose place changes: off the UI thread (a long column is many)."""
        try:
            changed = await asyncio.to_thread(self.session.sort_by_priority, column_id)
        except (CardConflict, BoardError) as exc:
            self.notify(f"{exc}. The column was not fully sorted; press O again.",
                        title="Sort stopped", severity="warning")  # fmt: skip
            return
        if changed:
            self.notify(f"{title}: sorted by priority ({len(changed)} cards reordered).", timeout=3)
        else:
            self.notify(f"{title} is already in priority order.", timeout=3)
