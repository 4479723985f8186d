"""Talking to a card's agent while it works: the message goes to the card's inbox (run records,
so the run's host gets it whichever process that is), and the sender is told when the agent
will read it: before its next model turn (built-in agent), when it starts (queued card), or
with the review notes of its next run (a command agent cannot take input mid-run)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..config import ConfigError
from .card import Card
from .events import ACTIVE_STATES, QUEUED
from .records import RunRecords


class Delivery(StrEnum):
    NEXT_TURN = "next_turn"  # a built-in agent runs: before its next model turn
    AT_START = "at_start"  # the card is queued or about to start: when its agent starts
    NEXT_RUN = "next_run"  # a command agent, or no run: when it is sent back or run again


@dataclass(frozen=True)
class SentMessage:
    card_id: str
    message_id: str
    delivery: Delivery
    explanation: str  # the sentence a view shows


class EmptyMessage(ValueError):
    pass


def say(
    card: Card, text: str, records: RunRecords, settings, state: str | None, in_agent_column: bool
) -> SentMessage:
    """Queue ``text`` for ``card``'s agent; ``state``: its run's state as seen now."""
    if not text.strip():
        raise EmptyMessage("the message is empty: write what the agent should know")
    try:
        profile = settings.agent_profile(card.agent)
        command_agent = profile.kind == "command"
        name = profile.name
    except ConfigError:
        command_agent, name = False, card.agent or "?"
    message = records.inbox(card.id).send(text)
    running = state in ACTIVE_STATES and state != QUEUED
    if command_agent:
        delivery = Delivery.NEXT_RUN
        why = (
            f"{card.id}: message kept. Its agent ({name}) is a command agent and cannot take "
            "input while it runs: it gets the message with the review notes when the card is "
            "sent back or run again."
        )
    elif running:
        delivery = Delivery.NEXT_TURN
        why = f"{card.id}: message sent; the agent reads it before its next model turn."
    elif state == QUEUED or in_agent_column:
        delivery = Delivery.AT_START
        why = f"{card.id}: message kept; the agent gets it when it starts."
    else:
        delivery = Delivery.NEXT_RUN
        why = (
            f"{card.id}: its agent is not running; it gets the message when the card is sent "
            "back or run again."
        )
    return SentMessage(card.id, message.id, delivery, why)
