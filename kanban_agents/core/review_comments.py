"""Line comments of a review: a reviewer's note on one line of a card's diff, kept with the card's
run records until it is sent back to the agent with the card.

A comment names the line as ``path:line`` (the line number on the new side of the diff, the way
an editor numbers the file the agent will edit) and quotes that diff line, so the agent and the
reviewer read the same thing even after the file moved on. Comments live in ``comments.json``
beside the card's ``state.json`` (``.git/kanban-agents/runs/<card>/``), written atomically under a
lock, so quitting the app, a crash or a second process loses none.

Their life: ``pending`` until a send back carries them (``sent``, with the review round); once the
agent's next run has ended, a sent comment whose quoted line is gone from its place (or anywhere
near it) is ``outdated``: shown as such, never dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from .safe_write import write_atomic

COMMENTS_FILE = "comments.json"
# How far (in lines) a quoted line may have moved and still count as the same line: an agent that
# adds a docstring above it has not made a comment on it outdated.
NEAR_LINES = 20
_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


class CommentStatus(StrEnum):
    PENDING = "pending"  # written, not yet sent to the agent
    SENT = "sent"  # went back to the agent with a review round
    OUTDATED = "outdated"  # the line it quotes is gone after the agent's next round


@dataclass(frozen=True)
class ReviewComment:
    id: int  # unique within the card, never reused
    path: str
    line: int  # on the new side of the diff
    quote: str  # the diff line as shown, with its mark: "+    return a - b"
    text: str
    created: float
    status: CommentStatus = CommentStatus.PENDING
    run: int = 0  # the run whose diff it was written on
    round: int = 0  # the review round that carried it (sent and outdated comments)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def quoted_code(self) -> str:
        """The quoted line without its diff mark."""
        return self.quote[1:] if self.quote[:1] in ("+", "-", " ") else self.quote

    def as_dict(self) -> dict:
        return {**asdict(self), "status": str(self.status)}

    @classmethod
    def from_dict(cls, data: dict) -> ReviewComment | None:
        try:
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            return cls(**{**known, "status": CommentStatus(known.get("status", "pending"))})
        except (TypeError, ValueError):
            return None


class CommentError(Exception):
    """The comment cannot be written; nothing changed. The message says what to do."""


@dataclass
class _File:
    next_id: int = 1
    comments: list[ReviewComment] = field(default_factory=list)


class ReviewComments:
    """The line comments of every card of a board, under its run records directory."""

    def __init__(self, runs_root: Path):
        self.runs_root = runs_root  # .../kanban-agents/runs (RunRecords.root)

    def path(self, card_id: str) -> Path:
        return self.runs_root / card_id / COMMENTS_FILE

    # ------------------------------------------------------------------ reads

    def list(self, card_id: str) -> list[ReviewComment]:
        """The card's comments, by file and line."""
        return sorted(self._read(card_id).comments, key=lambda c: (c.path, c.line, c.id))

    def pending(self, card_id: str) -> list[ReviewComment]:
        return [c for c in self.list(card_id) if c.status is CommentStatus.PENDING]

    def pending_counts(self) -> dict[str, int]:
        """Pending comments per card, for the cards' ``✎ N`` badge (one small read per card
        that has comments at all)."""
        counts = {}
        if not self.runs_root.is_dir():
            return counts
        for path in self.runs_root.glob(f"*/{COMMENTS_FILE}"):
            card_id = path.parent.name
            count = len(self.pending(card_id))
            if count:
                counts[card_id] = count
        return counts

    # ------------------------------------------------------------------ writes

    def add(
        self, card_id: str, path: str, line: int, quote: str, text: str, *, run: int = 0
    ) -> ReviewComment:
        """A new pending comment; a pending comment already on that line gets the text instead
        (one comment per line, as the Diff tab shows them)."""
        text = _checked_text(text)
        with self._changing(card_id) as data:
            for index, old in enumerate(data.comments):
                if old.path == path and old.line == line and old.status is CommentStatus.PENDING:
                    data.comments[index] = replace(old, text=text, quote=quote)
                    return data.comments[index]
            comment = ReviewComment(data.next_id, path, line, quote, text, time.time(), run=run)
            data.next_id += 1
            data.comments.append(comment)
            return comment

    def edit(self, card_id: str, comment_id: int, text: str) -> ReviewComment:
        text = _checked_text(text)
        with self._changing(card_id) as data:
            index = _index(data, card_id, comment_id)
            data.comments[index] = replace(data.comments[index], text=text)
            return data.comments[index]

    def remove(self, card_id: str, comment_id: int) -> ReviewComment:
        with self._changing(card_id) as data:
            return data.comments.pop(_index(data, card_id, comment_id))

    def mark_sent(self, card_id: str, ids: list[int], round_number: int) -> None:
        wanted = set(ids)
        with self._changing(card_id) as data:
            data.comments = [
                replace(c, status=CommentStatus.SENT, round=round_number)
                if c.id in wanted and c.status is CommentStatus.PENDING
                else c
                for c in data.comments
            ]

    def retire_pending(self, card_id: str) -> None:
        """Pending comments of work that was merged or discarded: outdated, kept."""
        if not self.path(card_id).exists():
            return
        with self._changing(card_id) as data:
            data.comments = [
                replace(c, status=CommentStatus.OUTDATED)
                if c.status is CommentStatus.PENDING
                else c
                for c in data.comments
            ]

    def mark_outdated(
        self, card_id: str, since_run: int, line_text: Callable[[str], list[str] | None]
    ) -> list[ReviewComment]:
        """Sent comments written on a run before ``since_run`` whose quoted line is no longer at
        (or near) its place: marked outdated, and returned. ``line_text(path)`` gives the file's
        lines as the agent left them (None: the file is gone)."""
        candidates = [
            c
            for c in self._read(card_id).comments
            if c.status is CommentStatus.SENT and c.run < since_run
        ]
        if not candidates:
            return []
        files: dict[str, list[str] | None] = {}
        gone = []
        for comment in candidates:
            if comment.path not in files:
                files[comment.path] = line_text(comment.path)
            if not quote_is_near(files[comment.path], comment):
                gone.append(comment.id)
        if not gone:
            return []
        outdated = []
        with self._changing(card_id) as data:
            for index, c in enumerate(data.comments):
                if c.id in gone and c.status is CommentStatus.SENT:
                    data.comments[index] = replace(c, status=CommentStatus.OUTDATED)
                    outdated.append(data.comments[index])
        return outdated

    # ------------------------------------------------------------------ storage

    def _read(self, card_id: str) -> _File:
        try:
            raw = json.loads(self.path(card_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _File()
        except (OSError, ValueError) as exc:
            raise CommentError(
                f"{self.path(card_id)} cannot be read ({exc}): fix or remove it; "
                "the comments in it are lost otherwise"
            ) from None
        comments = [ReviewComment.from_dict(c) for c in raw.get("comments", [])]
        kept = [c for c in comments if c is not None]
        return _File(int(raw.get("next_id") or len(kept) + 1), kept)

    @contextlib.contextmanager
    def _changing(self, card_id: str) -> Iterator[_File]:
        """Read, let the caller change, write atomically: all under the card's comments lock,
        so two writers (the app, a CLI command) never lose each other's comments."""
        directory = self.runs_root / card_id
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "comments.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self._read(card_id)
            yield data
            payload = {"next_id": data.next_id, "comments": [c.as_dict() for c in data.comments]}
            text = json.dumps(payload, indent=1, ensure_ascii=False)
            write_atomic(self.path(card_id), text.encode())
        finally:
            os.close(fd)


def _checked_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise CommentError("the comment is empty: say what the agent should change on that line")
    return text


def _index(data: _File, card_id: str, comment_id: int) -> int:
    for index, comment in enumerate(data.comments):
        if comment.id == comment_id:
            return index
    raise CommentError(
        f"{card_id} has no comment {comment_id} ('kanban-agents comments {card_id}' lists them)"
    )


# ---------------------------------------------------------------------------- diff lines


def new_side_lines(patch: str) -> dict[int, str]:
    """The lines of one file's unified diff that exist on the new side (added and unchanged), by
    their line number there: ``{5: "+def sub(a, b):", 6: " ..."}``."""
    lines: dict[int, str] = {}
    number = None
    for line in patch.splitlines():
        header = _HUNK_HEADER.match(line)
        if header:
            number = int(header.group(1))
            continue
        if number is None or line.startswith(("\\", "diff --git", "index ", "--- ", "+++ ")):
            continue
        if line.startswith("-"):
            continue
        if line.startswith(("+", " ")) or line == "":
            lines[number] = line or " "
            number += 1
    return lines


def quote_is_near(lines: list[str] | None, comment: ReviewComment) -> bool:
    """Whether the comment's quoted line is still in the file at its line or near it."""
    if lines is None:
        return False
    wanted = comment.quoted_code.rstrip()
    first = max(0, comment.line - 1 - NEAR_LINES)
    return any(line.rstrip() == wanted for line in lines[first : comment.line + NEAR_LINES])


def format_comments(comments: list[ReviewComment]) -> str:
    """The comments as a review round carries them, to the card and to the agent alike:

    calc.py:5
    > +def sub(a, b):
    Add a docstring.
    """
    blocks = [f"{c.where}\n> {c.quote}\n{c.text}" for c in comments]
    return "Line comments:\n\n" + "\n\n".join(blocks) if blocks else ""


def with_comments(feedback: str, comments: list[ReviewComment]) -> str:
    """A review round's notes: the reviewer's text, then the line comments."""
    parts = [part for part in (feedback.strip(), format_comments(comments)) if part]
    return "\n\n".join(parts)
