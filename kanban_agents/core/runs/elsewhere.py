"""Runs hosted by another process, followed through their records.

A view that hosts no agents (a browser tab of ``kanban-agents serve``, ``kanban-agents
--no-host``) still shows the board's runs live: their states and badges, and the Log of a running
card. The process that runs them writes every event to the run's JSONL as it happens; this reads
what was added since the last look, a few times a second, off the event loop, and publishes it
as if it happened here (``RunManager.emit(record=False)``: nothing is written twice).

Which runs: the latest run of each card in the agent column (a card entering it starts one in
the host) and of each card shown active, followed until its ``RunFinished``. A run already under
way when following starts, or already ended when its card is first looked at, is read from its
end (a view loads a run's history itself when the card is selected); a run that starts later is
read from its first line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..events import ACTIVE_STATES, Event, RunFinished

if TYPE_CHECKING:
    from .manager import RunManager

POLL_SECONDS = 0.25


@dataclass
class _Followed:
    run: int
    offset: int
    finished: bool = False


class RunsElsewhere:
    def __init__(self, runs: RunManager):
        self.runs = runs
        self._followed: dict[str, _Followed] = {}
        self._first_look = True

    async def follow(self) -> None:
        """Publish the events other processes write, until cancelled."""
        while True:
            try:
                events = await asyncio.to_thread(self.read_new, self.candidates())
            except Exception as exc:  # a board being rewritten under us: say so once, go on
                self.runs._report(exc, "following the runs of another process")
                events = []
            for event in events:
                if event.card_id not in self.runs._tasks:  # hosted here after all: already shown
                    self.runs.emit(event, record=False)
            await asyncio.sleep(POLL_SECONDS)

    def candidates(self) -> set[str]:
        """The cards whose runs to look at (on the event loop: the board and statuses change
        there): those in the agent column and those shown active, none run here."""
        store = self.runs.store
        agent_column = store.settings.board.agent_column
        found = {card.id for card in store.column_cards(agent_column)}
        found |= {c for c, s in self.runs.status.items() if s.state in ACTIVE_STATES}
        return found - set(self.runs._tasks)

    def read_new(self, candidates: set[str]) -> list[Event]:
        """What the other processes wrote to the followed runs since the last call. Blocking."""
        records = self.runs.records
        candidates = candidates | {c for c, f in self._followed.items() if not f.finished}
        events: list[Event] = []
        for card_id in sorted(candidates):
            latest = records.next_run_number(card_id) - 1
            if latest < 1:
                continue
            followed = self._followed.get(card_id)
            if followed is not None and latest > followed.run and not followed.finished:
                events += self._read(card_id, followed)  # the end of the previous run first
            if followed is None:
                followed = self._followed[card_id] = self._first_sight(card_id, latest)
            elif latest > followed.run:  # a run that started since: all of it
                followed = self._followed[card_id] = _Followed(latest, 0)
            if not followed.finished:
                events += self._read(card_id, followed)
        self._first_look = False
        return events

    def _first_sight(self, card_id: str, latest: int) -> _Followed:
        """Where to start on a card seen for the first time. A run that ended before (its record
        says so), or that was under way when following began, is read from its end: its past is
        the view's history, not news (an old ``RunFinished`` read again would announce it
        again). Any other run is starting now: from its first line."""
        records = self.runs.records
        state = records.load_state(card_id)
        ended = state is not None and state.run == latest and state.state not in ACTIVE_STATES
        if not (ended or self._first_look):
            return _Followed(latest, 0)
        return _Followed(latest, self._size(records.log_path(card_id, latest)), finished=ended)

    def _read(self, card_id: str, followed: _Followed) -> list[Event]:
        events, followed.offset = self.runs.records.read_from(
            card_id, followed.run, followed.offset
        )
        if any(isinstance(e, RunFinished) for e in events):
            followed.finished = True
        return events

    @staticmethod
    def _size(path) -> int:
        with contextlib.suppress(OSError):
            return os.path.getsize(path)
        return 0
