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
        # Shared files per pair of card versions: the queue is looked at after every start,
        # end and board change, and comparing every pair again each time grew as q² per look
        # (150 queued cards took seconds).
        self._shared: dict[frozenset[tuple[str, str]], list[str]] = {}
        # Card versions (id, digest) already compared with every queued and running card: a
        # card is compared once when it joins, not on every look at the queue.
        self._compared: set[tuple[str, str]] = set()

    def __contains__(self, card_id: object) -> bool:
        return card_id in self.queue

    def add(self, card_id: str) -> None:
        self.queue.append(card_id)
        # Compared afresh with whoever is queued or running now (some may have come meanwhile).
        self._compared = {v for v in self._compared if v[0] != card_id}

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
        notices = self._overlap_notices(entry, running)
        hold = (
            [
                other_id
                for other_id in running
                if other_id != entry.id
                and isinstance(other := self.store.entry(other_id), Card)
                and self._shared_files(entry, other)
            ]
            if settings.runs.hold_on_overlap and entry.files
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

    def _shared_files(self, card: Card, other: Card) -> list[str]:
        key = frozenset(((card.id, card.digest), (other.id, other.digest)))
        shared = self._shared.get(key)
        if shared is None:
            if len(self._shared) > 100_000:
                self._shared.clear()
            shared = self._shared[key] = files_overlap(card.files, other.files)
        return shared

    def _overlap_notices(self, card: Card, running: Collection[str]) -> list[tuple[str, str]]:
        """Notices for the active cards whose declared files overlap this card's, the first time
        this version of the card is looked at (both cards of a pair get one, once)."""
        notices: list[tuple[str, str]] = []
        version = (card.id, card.digest)
        if not card.files or version in self._compared:
            return notices
        self._compared.add(version)
        for other_id in [*running, *self.queue]:
            other = self.store.entry(other_id)
            if other_id == card.id or not isinstance(other, Card):
                continue
            shared = self._shared_files(card, other)
            pair = frozenset((card.id, other_id))
            if shared and pair not in self._warned_overlaps:
                self._warned_overlaps.add(pair)
                text = "files overlap: {} also touches " + ", ".join(shared)
                for mine, theirs in ((card.id, other_id), (other_id, card.id)):
                    notices.append((mine, text.format(theirs)))
        return notices
