"""Planning actions of the board: tighten a vague card (T), split a large one (S), and the
dependency graph (g). The model is asked off the UI thread; nothing is written until the user
accepts in the screen that shows the proposal."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from textual import work

from ..core.session import BoardError


class PlanningActions:
    """Mixed into ``KanbanApp``."""

    def action_tighten(self) -> None:
        card = self._selected_card_or_warn()
        if card is not None:
            self.notify(f"Asking the model to tighten {card.id}…", timeout=3)
            self._tighten_flow(card.id)

    @work(group="planning", exclusive=True, exit_on_error=False)
    async def _tighten_flow(self, card_id: str) -> None:
        from ..core.planning import PlanningError  # (loads git: not at start-up)
        from .planning import TightenScreen

        card = self.store.get(card_id)
        try:
            proposal = await self.session.propose_tighten(card_id)
        except PlanningError as exc:
            self.notify(str(exc), title="Tighten failed", severity="error", timeout=8)
            return
        decision = await self.push_screen_wait(TightenScreen(card, proposal))
        if not decision:
            self.notify("Rejected: the card is unchanged.", timeout=2)
            return
        if decision.startswith("edit:"):
            proposal = replace(proposal, body=decision[len("edit:") :])
        try:
            await asyncio.to_thread(self.session.apply_proposal, proposal, card)
        except BoardError as exc:
            self.notify(str(exc), title="Not written", severity="error")
            return
        self.notify(f"{card.id} rewritten as operating instructions.", timeout=3)

    def action_split(self) -> None:
        card = self._selected_card_or_warn()
        if card is not None:
            self.notify(f"Asking the model how to split {card.id}…", timeout=3)
            self._split_flow(card.id)

    @work(group="planning", exclusive=True, exit_on_error=False)
    async def _split_flow(self, card_id: str) -> None:
        from ..core.planning import PlanningError
        from .planning import SplitScreen

        card = self.store.get(card_id)
        try:
            proposal = await self.session.propose_split(card_id)
        except PlanningError as exc:
            self.notify(str(exc), title="Split failed", severity="error", timeout=8)
            return
        accepted = await self.push_screen_wait(SplitScreen(card, proposal))
        if not accepted:
            self.notify("No cards created.", timeout=2)
            return
        try:
            created = await asyncio.to_thread(self.session.apply_proposal, proposal, card, accepted)
        except BoardError as exc:
            self.notify(str(exc), title="Split failed", severity="error")
            return
        self.notify(f"Created {len(created)} cards: {', '.join(c.id for c in created)}", timeout=5)

    def action_graph(self) -> None:
        from .graph import GraphScreen

        self.push_screen(GraphScreen(*self.session.graph()))
