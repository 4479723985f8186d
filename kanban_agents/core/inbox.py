"""A card's inbox: what the reviewer says to its agent while it works (``i`` in the board,
``kanban-agents say``), kept in the card's run records so any process can write to it and the
process hosting the run reads it: ``runs/<card-id>/inbox.jsonl``.

Both files are append-only JSON lines, written under the card's ``inbox.lock`` with one
``write`` each, so a message is never half-written nor lost between two writers:

- ``inbox.jsonl``: every message sent (``id``, ``text``, ``sent``);
- ``delivered.jsonl``: the ids the agent has been given (``id``, ``run``, ``delivered``).

Pending = sent minus delivered. The built-in agent adds the pending messages to its
conversation, saves the conversation, then marks them delivered; a crash between the two is
settled when the conversation is resumed (the message text carries its id), so a message is
given once and never lost. A command agent cannot take input mid-run: its messages stay pending
and go with the review notes of its next run. A queued card's messages wait for its start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

INBOX_FILE = "inbox.jsonl"
DELIVERED_FILE = "delivered.jsonl"
SENDER = "reviewer"


@dataclass(frozen=True)
class InboxMessage:
    id: str
    text: str
    sent: float

    def as_user_message(self) -> dict:
        """The conversation message the built-in agent gets: marked as the reviewer's, with the
        id that lets a resumed conversation tell it was already given."""
        return {"role": "user", "content": f"{message_tag(self.id)}\n{self.text.strip()}"}


def message_tag(message_id: str) -> str:
    return f"[Message from the reviewer while you work (id {message_id})]"


class Inbox:
    def __init__(self, card_dir: Path):
        self.card_dir = card_dir

    def send(self, text: str) -> InboxMessage:
        message = InboxMessage(f"m-{uuid.uuid4().hex[:12]}", text, time.time())
        record = {"id": message.id, "text": message.text, "sent": message.sent, "from": SENDER}
        self._append(INBOX_FILE, [record])
        return message

    def pending(self) -> list[InboxMessage]:
        """Messages not yet given to an agent, oldest first."""
        delivered = {row.get("id") for row in self._read(DELIVERED_FILE)}
        return [
            InboxMessage(str(row["id"]), str(row.get("text", "")), float(row.get("sent") or 0))
            for row in self._read(INBOX_FILE)
            if row.get("id") and row["id"] not in delivered
        ]

    def mark_delivered(self, ids: Iterable[str], run: int) -> None:
        now = time.time()
        rows = [{"id": i, "run": run, "delivered": now} for i in ids]
        if rows:
            self._append(DELIVERED_FILE, rows)

    def settle(self, conversation: list[dict], run: int) -> None:
        """Mark delivered the pending messages a saved conversation already holds (the host
        stopped between saving the conversation and marking them)."""
        texts = [m.get("content") for m in conversation if m.get("role") == "user"]
        given = [
            message.id
            for message in self.pending()
            if any(isinstance(t, str) and message_tag(message.id) in t for t in texts)
        ]
        self.mark_delivered(given, run)

    # ------------------------------------------------------------------ files

    def _append(self, name: str, rows: list[dict]) -> None:
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
        with self._locked():
            fd = os.open(self.card_dir / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def _read(self, name: str) -> list[dict]:
        try:
            with self._locked():
                lines = (self.card_dir / name).read_bytes().splitlines()
        except FileNotFoundError:
            return []
        rows = []
        for line in lines:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                row = json.loads(line)
                if isinstance(row, dict):
                    rows.append(row)
        return rows

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.card_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.card_dir / "inbox.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
