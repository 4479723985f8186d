"""Edits an outside writer (an agent through MCP, a script) may make to a card: front-matter keys
and body in one minimal-diff write, and a note to the reviewer appended under one heading.

The board's own bookkeeping keys (``run``, ``branch``, ``worktree``, ``merged``) stay the board's:
an agent that set ``run.state`` could fake a finished run. The column and position change only
through a move (``status``/``order`` together, with the neighbours in view).
"""

from __future__ import annotations

import re
import time
from typing import Any

from .board import BoardError, BoardStore
from .card import Card, CardParseError
from .frontmatter_edit import DELETE, FrontMatterEditError, set_body, set_keys

BOARD_KEYS = frozenset({"run", "branch", "worktree", "merged"})
MOVE_KEYS = frozenset({"status", "order"})
REVIEWER_NOTES = "## Notes for the reviewer"
_HEADING = re.compile(r"^## ", re.M)


def update_card(
    store: BoardStore,
    card_id: str,
    changes: dict[str, Any] | None = None,
    body: str | None = None,
    *,
    expect: Card | None = None,
) -> Card:
    """Set front-matter keys (a value of None removes the key) and/or replace the body, in one
    compare-and-swap write that changes only those lines."""
    changes = dict(changes or {})
    refused = sorted(set(changes) & (BOARD_KEYS | MOVE_KEYS))
    if refused:
        moving = set(refused) & MOVE_KEYS
        why = (
            "the column and position change with a move (move_card / 'kanban-agents move')"
            if moving
            else "the board keeps these itself"
        )
        raise BoardError(f"{card_id}: cannot set {', '.join(refused)}: {why}")
    if not changes and body is None:
        raise BoardError(f"{card_id}: nothing to change (give front-matter keys or a body)")
    card = store.get(card_id) if expect is None else expect
    text = card.text
    try:
        if changes:
            text = set_keys(text, {k: (DELETE if v is None else v) for k, v in changes.items()})
        if body is not None:
            text = set_body(text, body)
    except (FrontMatterEditError, CardParseError) as exc:
        raise BoardError(f"{card_id}: cannot edit front matter: {exc}") from None
    return store.rewrite(card_id, text, expect=card)


def add_reviewer_note(store: BoardStore, card_id: str, note: str, author: str = "agent") -> Card:
    """Append ``note`` as one dated bullet under ``## Notes for the reviewer`` at the end of
    that section (made at the end of the body when the card has none). Nothing else moves."""
    note = " ".join(note.split())
    if not note:
        raise BoardError(f"{card_id}: the note is empty")
    card = store.get(card_id)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    line = f"- {stamp} ({author}): {note}\n"
    return store.update_body(card_id, with_note(card.body, line), expect=card)


def with_note(body: str, line: str) -> str:
    start = body.find(REVIEWER_NOTES + "\n")
    if start < 0 and body.endswith(REVIEWER_NOTES):
        body, start = body + "\n", len(body) - len(REVIEWER_NOTES)
    if start < 0:
        gap = "" if body.endswith("\n\n") or not body else ("\n" if body.endswith("\n") else "\n\n")
        return f"{body}{gap}{REVIEWER_NOTES}\n\n{line}"
    section_start = start + len(REVIEWER_NOTES) + 1
    following = _HEADING.search(body, section_start)
    end = following.start() if following else len(body)
    section = body[section_start:end].rstrip("\n")
    section = f"{section}\n{line}" if section.strip() else f"\n{line}"
    tail = body[end:]
    return body[:section_start] + section + ("\n" + tail if tail else "")
