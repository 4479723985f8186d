"""Admission: which queued run starts now, and why the others wait.

A queued card starts when it is still in the agent column, every card it ``depends_on`` is done,
no running card's declared ``files`` overlap its own (with ``runs.hold_on_overlap``) and an agent
slot is free. Decisions only: the manager starts the runs and tells the cards.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum

from ..board import BoardStore
from ..card import Card
from ..overlap import files_overlap


class Verdict(Enum):
    START = "start"
    WAIT = "wait"
    DROP = "drop"  # the card left the agent column (or is gone): it leaves the queue unannounced


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""  # why it waits
    # Files-overlap notices to show, once per pair of cards: (card id, text).
    notices: list[tuple[str, str]] = field(default_factory=list)


class Admission:
    def __init__(self, store: BoardStore):
        self.store = store
        self.queue: list[str] = []  # card ids, in the order they were asked for
        self._warned_overlaps: set[frozenset[str]] = set()

    def __contains__(self, card_id: object) -> bool:
        return card_id in self.queue

    def add(self, card_id: str) -> None:
        self.queue.append(card_id)

    def remove(self, card_id: str) -> None:
        self.queue.remove(card_id)

    def decide(self, card_id: str, running: Collection[str]) -> Decision:
        """What to do with the queued ``card_id`` while ``running`` run."""
        settings = self.store.settings
        entry = self.store.entry(card_id)
        if (
            not isinstance(entry, Card)
            or self.store.status_of(entry) != settings.board.agent_column
        ):
            return Decision(Verdict.DROP)
        cards = self.store.cards
        done_column = settings.board.done_column
        waiting = [
            d
            for d in entry.depends_on
            if d not in cards or self.store.status_of(cards[d]) != done_column
        ]
        overlaps, notices = self._overlaps(entry, running)
        hold = (
            [other for other, _ in overlaps if other in running]
            if settings.runs.hold_on_overlap
            else []
        )
        if waiting:
            reason = "waits on " + ", ".join(waiting) + " (not done)"
        elif hold:
            reason = "files overlap with running " + ", ".join(hold)
        elif len(running) >= settings.runs.concurrency:
            reason = f"all {settings.runs.concurrency} agent slots busy"
        else:
            return Decision(Verdict.START, notices=notices)
        return Decision(Verdict.WAIT, reason, notices)

    def _overlaps(
        self, card: Card, running: Collection[str]
    ) -> tuple[list[tuple[str, list[str]]], list[tuple[str, str]]]:
        """Active cards whose declared files overlap this card's, and the notices not yet given
        (both cards of a pair get one, once)."""
        found: list[tuple[str, list[str]]] = []
        notices: list[tuple[str, str]] = []
        if not card.files:
            return found, notices
        for other_id in [*running, *self.queue]:
            other = self.store.entry(other_id)
            if other_id == card.id or not isinstance(other, Card):
                continue
            shared = files_overlap(card.files, other.files)
            if shared:
                found.append((other_id, shared))
                pair = frozenset((card.id, other_id))
                if pair not in self._warned_overlaps:
                    self._warned_overlaps.add(pair)
                    text = "files overlap: {} also touches " + ", ".join(shared)
                    for mine, theirs in ((card.id, other_id), (other_id, card.id)):
                        notices.append((mine, text.format(theirs)))
        return found, notices
