"""BoardStore: the cards of one board directory, grouped by column, with safe writes.

Files are the truth. Every write is atomic and a real compare-and-swap (``safe_write``): it is
refused when the file changed on disk since it was read, even by an editor's save landing in the
same instant; the store reloads it and raises ``CardConflict`` instead of clobbering the edit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from .card import (
    CARD_SUFFIX,
    Card,
    CardError,
    CardParseError,
    card_id_for,
    digest_of,
    is_card_file_name,
    parse_card,
    parse_meta,
    slugify,
)
from .card_cache import CardCache, stat_key
from .frontmatter_edit import DELETE, FrontMatterEditError, render_card, set_body, set_keys
from .lint import lint_card
from .paths import state_dir
from .safe_write import (
    AlreadyExists,
    ChangedOnDisk,
    Places,
    clean_scratch,
    create_new,
    pid_alive,
    remove_if_unchanged,
    replace_if_unchanged,
)

log = logging.getLogger(__name__)
ORDER_STEP = 1000
_OLD_TEMP = re.compile(r"\A\..+\.md\.(\d+)\.[0-9a-f]{8}\.tmp\Z")


class BoardError(Exception):
    """A user-facing problem with a board operation; the message is one plain line."""


class CardNotFound(BoardError):
    pass


class CardConflict(BoardError):
    """The file changed on disk since it was read; the store has reloaded it. ``recovered``
    names a file holding an edit that could not be put back in place (kept, never lost)."""

    def __init__(self, card_id: str, message: str, recovered: Path | None = None):
        super().__init__(message)
        self.card_id = card_id
        self.recovered = recovered


@dataclass(frozen=True)
class BoardChange:
    """One file's change as seen by the store: ``entry`` is None when the file is gone."""

    card_id: str  # "*" for "reloaded"
    kind: str  # "added" | "modified" | "deleted" | "reloaded"
    entry: Card | CardError | None


@dataclass(frozen=True)
class Column:
    id: str
    title: str
    wip: int | None
    cards: list[Card]
    errors: list[CardError]

    @property
    def over_wip(self) -> bool:
        return self.wip is not None and len(self.cards) > self.wip


# Front-matter keys the app keeps up to date while an agent works: not worth a commit each.
_BOOKKEEPING_KEYS = frozenset({"run", "branch", "worktree"})


def _what_changed(card: Card, changes: dict[str, Any]) -> str | None:
    """A commit message's words for an update (None: bookkeeping only)."""
    status = changes.get("status")
    if isinstance(status, str) and status != card.status:
        merged = changes.get("merged")
        return f"merged as {merged}, moved to {status}" if merged else f"moved to {status}"
    keys = set(changes) - _BOOKKEEPING_KEYS
    if not keys:
        return None
    return "reordered" if keys == {"order"} else "set " + ", ".join(sorted(keys))


class BoardStore:
    def __init__(self, root: Path, settings: Settings | None = None):
        self.root = Path(root).resolve()
        self.settings = settings if settings is not None else load_settings(self.root)
        self._cards: dict[str, Card] = {}
        self._errors: dict[str, CardError] = {}
        self._lock = threading.RLock()
        self._listeners: list[Callable[[BoardChange], None]] = []
        self.version = 0  # bumped on every change, so views can tell they are stale
        self._outside_changes: dict[str, int] = {}  # per card: changes read from disk, not written
        self._places: Places | None = None
        self.cleanup_notes: list[str] = []  # what load() found left behind by a killed writer

    def add_listener(self, listener: Callable[[BoardChange], None]) -> None:
        """Call ``listener`` after every change, the store's own writes and changes seen on
        disk alike. It may be called from any thread and must not block."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[BoardChange], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def outside_changes(self, card_id: str) -> int:
        """How many changes to the card were read from disk (an editor, git, another process)
        rather than written by this store. A view compares it before and after to know whether
        what changed under the user was the app's own bookkeeping or someone else's edit."""
        return self._outside_changes.get(card_id, 0)

    def _changed_outside(self, card_id: str, kind: str) -> BoardChange:
        self._outside_changes[card_id] = self._outside_changes.get(card_id, 0) + 1
        return self._changed(card_id, kind)

    def _changed(self, card_id: str, kind: str) -> BoardChange:
        self.version += 1
        change = BoardChange(card_id, kind, self.entry(card_id) if kind != "reloaded" else None)
        for listener in list(self._listeners):
            listener(change)
        return change

    @classmethod
    def open(cls, root: Path | str, settings: Settings | None = None) -> BoardStore:
        store = cls(Path(root), settings)
        store.load()
        return store

    # ----------------------------------------------------------------- reading

    def load(self) -> None:
        """Read every card file. Bad files become error entries; nothing is ever written."""
        if not self.root.is_dir():
            raise BoardError(f"board directory {self.root} does not exist")
        self._clean_after_crash()
        cache = CardCache(state_dir(self.root), self.root)
        cache.load()
        entries: list[Card | CardError] = []
        names: set[str] = set()
        with os.scandir(self.root) as scan:
            found = sorted((e.name, e) for e in scan if is_card_file_name(e.name))
        for name, dir_entry in found:
            path = self.root / name
            try:
                if dir_entry.is_symlink():
                    entries.append(_link_error(path))
                    continue
                if not dir_entry.is_file():
                    continue
                stat = stat_key(dir_entry.stat())
            except OSError:
                continue
            names.add(name)
            cached = cache.get(name, stat)
            if cached is not None:
                digest, meta, body_offset = cached
                entry = self._validated(Card(card_id_for(path), path, meta, body_offset, digest))
            else:
                entry = self._read(path)
                if isinstance(entry, Card):
                    lint_card(entry)  # computed now, so the cache can keep it
                    cache.put(name, stat, entry.digest, entry.meta, entry.body_offset)
            if entry is not None:
                entries.append(entry)
        cache.keep_only(names)
        cache.save()
        with self._lock:
            self._cards = {}
            self._errors = {}
            for entry in entries:
                self._store_entry(entry)
            self._mark_duplicates()
            self._changed("*", "reloaded")

    def _read(self, path: Path) -> Card | CardError | None:
        try:
            with open(path, "rb", opener=_no_follow) as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            if path.is_symlink():
                return _link_error(path)
            return CardError(card_id_for(path), path, f"cannot read: {exc.strerror}")
        return self._parse(path, data)

    def _parse(self, path: Path, data: bytes) -> Card | CardError:
        try:
            card = parse_card(path, data)
        except CardParseError as exc:
            text = data.decode("utf-8", "replace")
            return CardError(
                card_id_for(path),
                path,
                exc.message,
                exc.line,
                digest_of(data),
                text,
                _salvage_meta(text),
            )
        return self._validated(card)

    def _validated(self, card: Card) -> Card | CardError:
        status = card.status
        if status is not None and status not in self.settings.column_ids:
            columns = ", ".join(self.settings.column_ids)
            return CardError(
                card.id,
                card.path,
                f"unknown status {status!r} (columns: {columns})",
                _line_of_key(card.text, "status"),
                card.digest,
                card.text,
                card.meta,
            )
        return card

    def _store_entry(self, entry: Card | CardError) -> None:
        if isinstance(entry, Card):
            self._errors.pop(entry.id, None)
            self._cards[entry.id] = entry
        else:
            self._cards.pop(entry.id, None)
            self._errors[entry.id] = entry

    def _mark_duplicates(self) -> None:
        """Ids differing only by case collide on macOS/Windows and in lookups: flag the later."""
        seen: dict[str, str] = {}
        for card_id in sorted(self._cards):
            folded = card_id.casefold()
            if folded in seen:
                card = self._cards.pop(card_id)
                message = f"duplicate id: differs only by case from {seen[folded]}{CARD_SUFFIX}"
                self._errors[card_id] = CardError(
                    card_id, card.path, message, None, card.digest, card.text, card.meta
                )
            else:
                seen[folded] = card_id

    # Reads take no lock: they copy or look up with single dict operations, which are atomic,
    # so the UI never waits for a write (and its fsync) on another thread.

    @property
    def cards(self) -> dict[str, Card]:
        return dict(self._cards)

    @property
    def errors(self) -> list[CardError]:
        errors = dict(self._errors)
        return [errors[k] for k in sorted(errors)]

    def entry(self, card_id: str) -> Card | CardError | None:
        return self._cards.get(card_id) or self._errors.get(card_id)

    def get(self, card_id: str) -> Card:
        card = self._cards.get(card_id)
        if card is not None:
            return card
        error = self._errors.get(card_id)
        if error is not None:
            raise BoardError(f"{card_id} cannot be used: {error.describe()}")
        raise CardNotFound(f"no card {card_id!r}")

    def find(self, query: str) -> Card:
        """Resolve what a user typed: an id, a file name, a unique id prefix or a unique title."""
        query = query.strip()
        name = Path(query).name
        if name.endswith(CARD_SUFFIX):
            query = name[: -len(CARD_SUFFIX)]
        with self._lock:
            if query in self._cards:
                return self._cards[query]
            if query in self._errors:
                raise BoardError(f"{query} cannot be used: {self._errors[query].describe()}")
            lowered = query.casefold()
            for pool in (
                [c for c in self._cards.values() if c.id.casefold() == lowered],
                [c for c in self._cards.values() if c.id.casefold().startswith(lowered)],
                [c for c in self._cards.values() if c.title.casefold() == lowered],
            ):
                if len(pool) == 1:
                    return pool[0]
                if len(pool) > 1:
                    ids = ", ".join(sorted(c.id for c in pool)[:5])
                    raise BoardError(f"{query!r} matches several cards: {ids}")
        raise CardNotFound(f"no card {query!r} (see 'kanban-agents list')")

    def status_of(self, card: Card) -> str:
        status = card.status
        return status if status is not None else self.settings.first_column

    def column_cards(self, column_id: str) -> list[Card]:
        cards = [c for c in list(self._cards.values()) if self.status_of(c) == column_id]
        return sorted(cards, key=sort_key)

    def columns(self) -> list[Column]:
        grouped: dict[str, list[Card]] = {c.id: [] for c in self.settings.board.columns}
        errors: dict[str, list[CardError]] = {c.id: [] for c in self.settings.board.columns}
        first = self.settings.first_column
        for card in list(self._cards.values()):
            grouped.get(self.status_of(card), grouped[first]).append(card)
        for error in list(self._errors.values()):
            errors[error.status if error.status in errors else first].append(error)
        return [
            Column(
                c.id,
                c.title,
                c.wip,
                sorted(grouped[c.id], key=sort_key),
                sorted(errors[c.id], key=lambda e: e.id),
            )
            for c in self.settings.board.columns
        ]

    # ----------------------------------------------------------------- writing

    def create(
        self,
        title: str,
        status: str | None = None,
        meta: dict[str, Any] | None = None,
        body: str | None = None,
        card_id: str | None = None,
    ) -> Card:
        title = title.strip()
        if not title:
            raise BoardError("a card needs a title")
        status = status or self.settings.first_column
        self._check_column(status)
        fields: dict[str, Any] = {"title": title, "status": status}
        with self._lock:
            column = self.column_cards(status)
            last = max((c.order for c in column if c.order is not None), default=0)
            fields["order"] = _tidy(last + ORDER_STEP)
            for key, value in (meta or {}).items():
                if key not in ("title", "status"):
                    fields[key] = value
            if body is None:
                body = "\n## Task\n\n\n## Done when\n\n"
            base = slugify(card_id or title)
            candidate, n = base, 2
            while self._taken(candidate):
                candidate, n = f"{base}-{n}", n + 1
            path = self.root / f"{candidate}{CARD_SUFFIX}"
            data = render_card(fields, body).encode("utf-8")
            try:
                create_new(path, data, self.places)
            except AlreadyExists:
                raise CardConflict(candidate, f"{path.name} appeared on disk meanwhile") from None
            entry = self._parse(path, data)
            self._store_entry(entry)
            self._changed(entry.id, "added")
            self._commit_own_write(entry.id, "new card", path)
        if isinstance(entry, CardError):
            raise BoardError(entry.describe())
        return entry

    def _taken(self, card_id: str) -> bool:
        folded = card_id.casefold()
        if any(k.casefold() == folded for k in (*self._cards, *self._errors)):
            return True
        return (self.root / f"{card_id}{CARD_SUFFIX}").exists()

    def update(self, card_id: str, changes: dict[str, Any], *, expect: Card | None = None) -> Card:
        """Set (or with ``DELETE`` remove) front-matter keys, changing only their own lines.

        ``expect`` is the card as the caller last saw it; if the file has moved on since, the
        update is refused with ``CardConflict``. Without it, the store's copy is the reference.
        """
        with self._lock:
            card = self._expected(card_id, expect)
            if "status" in changes and changes["status"] is not DELETE:
                self._check_column(str(changes["status"]))
            try:
                text = set_keys(card.text, changes)
            except (FrontMatterEditError, CardParseError) as exc:
                raise BoardError(f"{card_id}: cannot edit front matter: {exc}") from None
            entry = self._write_card(card, text)
            self._commit_own_write(card_id, _what_changed(card, changes), card.path)
            return entry

    def update_body(self, card_id: str, body: str, *, expect: Card | None = None) -> Card:
        """Replace the body; the front matter stays byte-for-byte."""
        with self._lock:
            card = self._expected(card_id, expect)
            entry = self._write_card(card, set_body(card.text, body))
            self._commit_own_write(card_id, "text edited", card.path)
            return entry

    def rewrite(self, card_id: str, text: str, *, expect: Card | None = None) -> Card:
        """Replace the whole file with ``text`` (built from the card's own text by the caller,
        e.g. with ``set_keys`` and ``set_body``, so untouched lines stay as they were)."""
        with self._lock:
            card = self._expected(card_id, expect)
            entry = self._write_card(card, text)
            self._commit_own_write(card_id, "rewritten", card.path)
            return entry

    def update_retrying(self, card_id: str, changes: dict[str, Any], attempts: int = 3) -> Card:
        """For the app's own bookkeeping keys (``run``, ``branch``...): a concurrent edit of other
        lines is no reason to fail, so the same key edit is re-applied on the fresh file."""
        for attempt in range(attempts):
            try:
                return self.update(card_id, changes)
            except CardConflict:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def move(
        self, card_id: str, column: str, position: int | None = None, *, expect: Card | None = None
    ) -> Card:
        """Move a card to ``column`` at ``position`` (0-based; None = end).

        Only the moved card's ``status``/``order`` lines change, unless there is no room between
        the neighbours' ``order`` values; then the column is renumbered first.
        """
        self._check_column(column)
        with self._lock:
            card = self._expected(card_id, expect)
            others = [c for c in self.column_cards(column) if c.id != card_id]
            if position is None or position > len(others):
                position = len(others)
            position = max(0, position)
            changes: dict[str, Any] = {}
            if card.status != column:
                changes["status"] = column
            if not _keeps_position(card, others, position):
                order = _order_between(others, position)
                if order is None:
                    self._renumber(others)
                    others = [c for c in self.column_cards(column) if c.id != card_id]
                    order = _order_between(others, position)
                    assert order is not None
                changes["order"] = order
            if not changes:
                return card
            return self.update(card_id, changes)

    def _expected(self, card_id: str, expect: Card | None) -> Card:
        card = self.get(card_id)
        if expect is not None and expect.digest != card.digest:
            raise CardConflict(
                card_id, f"{card_id} changed on disk since you looked at it; reloaded"
            )
        return card

    def sort_column(self, column: str, key) -> list[str]:
        """Order the column's cards by ``key`` (stable: equal keys keep their order), writing only
        the ``order`` lines that change. Returns the ids of the cards it rewrote."""
        self._check_column(column)
        with self._lock:
            cards = self.column_cards(column)
            wanted = sorted(cards, key=key)
            if [c.id for c in wanted] == [c.id for c in cards]:
                return []
            changed = [c.id for i, c in enumerate(wanted) if c.order != (i + 1) * ORDER_STEP]
            self._renumber(wanted)
            return changed

    def _renumber(self, cards: list[Card]) -> None:
        for index, card in enumerate(cards):
            wanted = (index + 1) * ORDER_STEP
            if card.order != wanted:
                self.update(card.id, {"order": wanted})

    def archive(self, card_id: str) -> Path:
        """Move the card file into the archive directory (hidden, so it leaves the board)."""
        with self._lock:
            card = self.get(card_id)
            archive = self.root / self.settings.board.archive_dir
            archive.mkdir(exist_ok=True)
            target = archive / card.path.name
            n = 2
            while target.exists():
                target = archive / f"{card.id}-{n}{CARD_SUFFIX}"
                n += 1
            with self._swap_conflicts(card):
                remove_if_unchanged(card.path, card.digest, self.places, move_to=target)
            self._cards.pop(card_id, None)
            self._changed(card_id, "deleted")
            self._commit_own_write(card_id, "archived", card.path, target)
            return target

    def delete(self, card_id: str) -> None:
        with self._lock:
            card = self.get(card_id)
            with self._swap_conflicts(card):
                remove_if_unchanged(card.path, card.digest, self.places)
            self._cards.pop(card_id, None)
            self._changed(card_id, "deleted")
            self._commit_own_write(card_id, "deleted", card.path)

    def _commit_own_write(self, card_id: str, what: str | None, *paths: Path) -> None:
        """``[board] auto_commit``: commit the card file(s) this store just wrote, saying
        ``what`` changed (None: bookkeeping, which rides along with the card's next commit).
        A failed commit fails nothing: the file is written, left uncommitted, and logged."""
        if what is None or not self.settings.board.auto_commit:
            return
        from . import git
        from .paths import repo_root

        root = repo_root(self.root)
        if root is None:
            return
        try:
            git.commit_paths(root, paths, f"Card {card_id}: {what}")
        except (git.GitError, OSError) as exc:
            log.warning("auto_commit of %s failed: %s", card_id, exc)

    def _check_column(self, column: str) -> None:
        if column not in self.settings.column_ids:
            columns = ", ".join(self.settings.column_ids)
            raise BoardError(f"unknown column {column!r} (columns: {columns})")

    @contextlib.contextmanager
    def _swap_conflicts(self, card: Card):
        """Turn a refused compare-and-swap into ``CardConflict``, with the store reloaded."""
        try:
            yield
        except ChangedOnDisk as exc:
            self.refresh_path(card.path)
            if exc.deleted:
                message = f"{card.id} was deleted on disk; nothing written"
            else:
                message = f"{card.id} changed on disk since it was read; reloaded, nothing written"
            if exc.recovered is not None:
                message += f" (an edit made in the same instant is kept in {exc.recovered})"
            raise CardConflict(card.id, message, exc.recovered) from None

    def _write_card(self, card: Card, text: str) -> Card:
        data = text.encode("utf-8")
        if data == card.text.encode("utf-8"):
            self._check_unchanged(card)
            return card
        with self._swap_conflicts(card):
            replace_if_unchanged(card.path, data, card.digest, self.places)
        entry = self._parse(card.path, data)
        self._store_entry(entry)
        self._changed(entry.id, "modified")
        if isinstance(entry, CardError):
            raise BoardError(entry.describe())
        return entry

    def _check_unchanged(self, card: Card) -> None:
        try:
            current = card.path.read_bytes()
        except FileNotFoundError:
            self.refresh_path(card.path)
            raise CardConflict(card.id, f"{card.id} was deleted on disk; nothing written") from None
        if digest_of(current) != card.digest:
            self.refresh_path(card.path)
            raise CardConflict(
                card.id, f"{card.id} changed on disk since it was read; reloaded, nothing written"
            )

    @property
    def places(self) -> Places:
        """Where this board's scratch files and recovered edits live (git never sees them)."""
        if self._places is None:
            self._places = Places.for_board(self.root, state_dir(self.root))
        return self._places

    def _clean_after_crash(self) -> None:
        """Scratch files of a killed writer: removed, or put back/kept if they hold an edit."""
        result = clean_scratch(self.places, self.root)
        notes = [
            f"{card.name}: an edit swapped out by a killed writer was put back (a copy is kept"
            f" in {copy})"
            for card, copy in result.restored
        ]
        notes += [f"an edit left by a killed writer is kept in {p}" for p in result.recovered]
        # Temp files of earlier versions sat in the board itself (".<card>.md.<pid>.<hex>.tmp").
        with os.scandir(self.root) as scan:
            for entry in scan:
                match = _OLD_TEMP.match(entry.name)
                if match and not pid_alive(int(match.group(1))):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
        self.cleanup_notes = notes

    # ----------------------------------------------------------------- external changes

    def refresh_path(self, path: Path) -> BoardChange | None:
        """Re-read one file after a change on disk. Returns None when nothing changed from the
        store's point of view, which is how the store's own writes are not echoed back."""
        path = Path(path)
        if path.parent.resolve() != self.root or not is_card_file_name(path.name):
            return None
        card_id = card_id_for(path)
        link = False
        # Read under the lock: a read started before the store's own write and compared after
        # it would take the older file for someone else's change (and undo the write in memory).
        with self._lock:
            try:
                with open(path, "rb", opener=_no_follow) as handle:
                    data: bytes | None = handle.read()
            except FileNotFoundError:
                data = None
            except OSError:
                if not path.is_symlink():
                    return None
                data, link = b"", True
            known = self._cards.get(card_id) or self._errors.get(card_id)
            if data is None:
                if known is None:
                    return None
                self._cards.pop(card_id, None)
                self._errors.pop(card_id, None)
                return self._changed_outside(card_id, "deleted")
            if link:
                if isinstance(known, CardError) and known.message == _LINK_MESSAGE:
                    return None
                self._store_entry(_link_error(path))
                return self._changed_outside(card_id, "modified" if known is not None else "added")
            if known is not None and known.digest == digest_of(data):
                return None
            self._store_entry(self._parse(path, data))
            self._mark_duplicates()
            return self._changed_outside(card_id, "modified" if known is not None else "added")

    def reload_settings(self) -> None:
        self.settings = load_settings(self.root)
        self.load()


_LINK_MESSAGE = (
    "is a symbolic link: cards must be plain files in the board (a write would replace the "
    "link, or write outside the board); put the file itself here"
)


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))


def _link_error(path: Path) -> CardError:
    """Symlinked cards are refused, not followed: the board's files are the truth, and a link
    to a file elsewhere would let a move write outside the board (or silently replace the link)."""
    return CardError(card_id_for(path), path, _LINK_MESSAGE)


def sort_key(card: Card) -> tuple[int, float, str]:
    """Cards with an ``order`` come first by it; the rest follow by id."""
    order = card.order
    return (0, order, card.id) if order is not None else (1, 0.0, card.id)


def _order_between(cards: list[Card], position: int) -> float | int | None:
    """An ``order`` value that sorts at ``position`` among ``cards`` (already sorted), or None
    when there is no room and the column must be renumbered first."""
    before = cards[position - 1] if position > 0 else None
    after = cards[position] if position < len(cards) else None
    if before is not None and before.order is None:
        return None  # placing among unordered cards needs numbers on them
    if after is not None and after.order is None:
        after = None  # any order sorts before the unordered cards, which is where we want to be
    if before is None and after is None:
        return ORDER_STEP
    if before is None:
        return _tidy(after.order - ORDER_STEP)
    if after is None:
        return _tidy(before.order + ORDER_STEP)
    low, high = before.order, after.order
    if float(low).is_integer() and float(high).is_integer() and high - low >= 2:
        return int((low + high) // 2)
    middle = (low + high) / 2
    return middle if low < middle < high else None


def _tidy(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _keeps_position(card: Card, others: list[Card], position: int) -> bool:
    """Would ``card`` with its current ``order`` already sort at ``position`` among ``others``?"""
    if card.order is None:
        return False
    key = sort_key(card)
    return sum(1 for other in others if sort_key(other) < key) == position


def _salvage_meta(text: str) -> dict[str, Any]:
    """Best effort: the title/status of a file that failed validation, for display only."""
    try:
        return parse_meta(text)[0]
    except CardParseError:
        return {}


def _line_of_key(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(f"{key}:"):
            return number
    return None


__all__ = [
    "DELETE",
    "BoardChange",
    "BoardError",
    "BoardStore",
    "CardConflict",
    "CardNotFound",
    "Column",
    "sort_key",
]
