"""The Diff tab: notices, a file list with +/- counts, then the unified diff, syntax highlighted,
with the reviewer's line comments under their lines.

``render_diff`` builds plain rows quickly (added/removed rows already tinted); ``DiffView`` draws
only the visible rows and highlights a hunk the first time one of its rows is drawn. Highlighting
a whole 50-file diff up front costs about half a second of pure Python here: paid lazily, a
screenful costs a few milliseconds. Noise (lock files, generated files, huge files: the session
decides, ``DiffFile.folded``) is folded to one row until the reviewer unfolds it.

The view has a line cursor (``j``/``k``, a click): ``a`` comments on the cursor's line, ``delete``
removes a comment, ``]``/``[`` jump between files, ``enter`` folds or unfolds one. It asks, then
posts what the reviewer wrote (``CommentWritten``, ``CommentRemoved``); the app has the session
store it and hands the card's comments back (``show_comments``).
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

if TYPE_CHECKING:  # (git and the comment store load when a diff is shown, not at start-up)
    from ..core.session import DiffFile, ReviewComment, WorktreeDiff
from .card import _CONSOLE
from .dialogs import TextDialog
from .keys import Scope, bindings
from .textual_internals import QuietVirtualSize

ADDED = Style(color="green")
REMOVED = Style(color="red")
CONTEXT = Style(dim=True)
ADDED_BG = Style(bgcolor="#16351f")
REMOVED_BG = Style(bgcolor="#3d1a1d")
HUNK = Style(color="cyan", dim=True)
FILE_HEADER = Style(bold=True, underline=True)
STATUS_STYLES = {
    "A": Style(color="green", bold=True),
    "D": Style(color="red", bold=True),
    "M": Style(color="yellow", bold=True),
    "R": Style(color="magenta", bold=True),
}
THEME = "monokai"


@lru_cache(maxsize=1)
def _theme():
    """The highlighting theme (rich.syntax and pygments load with the first diff shown)."""
    from rich.syntax import Syntax

    return Syntax.get_theme(THEME)


TAB_SIZE = 4
HIGHLIGHT_ROWS = 40  # rows highlighted at once (a hunk's piece) when one of them is drawn
LEX_AHEAD_LIMIT = 200  # a piece further below the lexed lines than this is highlighted alone
GUESS_CHARS = 4000  # of a hunk's code, to guess its language when the file name does not say
CURSOR = Style(bgcolor="#3a3f58")
FOLDED = Style(color="yellow", italic=True)
COMMENT_STYLES = {
    "pending": Style(color="yellow", bold=True),
    "sent": Style(color="cyan"),
    "outdated": Style(color="red", dim=True),
}
COMMENT_TEXT = Style(italic=True)
META_PREFIXES = ("new file mode", "deleted file mode", "similarity index", "rename from", "rename to",
                 "old mode", "new mode", "Binary files")  # fmt: skip


class HunkCode:
    """The code lines of one hunk, highlighted as one text, as far down as it has been drawn.

    The lexer runs on from where the previous piece stopped, so a construct that spans pieces (a
    long docstring, a block comment) keeps its colours. A piece far below what was lexed (a jump
    to the end of a 1,500-line new file) is highlighted on its own instead of lexing everything
    above it first (a stall): only there can a construct that started above be coloured wrong.
    """

    def __init__(self, path: str):
        self.path = path
        self.raw: list[str] = []  # the patch lines, with their +/-/space marks
        self._tokens: Iterator[tuple[object, str]] | None = None
        self._lines: list[Text] = []  # raw[: len(_lines)] highlighted (code only, no marks)
        self._parts: list[tuple[str, Style]] = []  # the line being lexed

    @property
    def lexed(self) -> int:
        """How many of the hunk's lines have been lexed (from its start)."""
        return len(self._lines)

    def highlighted(self, offset: int, count: int) -> list[Text]:
        end = min(offset + count, len(self.raw))
        if offset > len(self._lines) + LEX_AHEAD_LIMIT:
            alone = HunkCode(self.path)
            alone.raw = self.raw[offset:end]
            return alone.highlighted(0, end - offset)
        if len(self._lines) < end:
            self._lex_until(end)
        return self._lines[offset:end]

    def _lex_until(self, end: int) -> None:
        if self._tokens is None:
            code = "\n".join(line[1:] for line in self.raw)
            # A name that does not decide the language: guessed from the start of the code
            # (every lexer looks at what it is given: not a whole 1,500-line hunk).
            self._tokens = _token_stream(_lexer(self.path, code[:GUESS_CHARS]), code)
        lines, parts = self._lines, self._parts
        for token_type, value in self._tokens:
            style = _token_style(token_type)
            while True:
                part, newline, value = value.partition("\n")
                if part:
                    parts.append((part, style))
                if not newline:
                    break
                lines.append(_code_line(parts))
                parts.clear()
            if len(lines) >= end:
                return
        if parts:  # no newline at the very end (the lexer adds one; in case one does not)
            lines.append(_code_line(parts))
            parts.clear()
        # The lexer made fewer lines than the hunk has (never seen): the rest stays plain.
        lines.extend(Text(line[1:]) for line in self.raw[len(lines) :])


@dataclass(frozen=True)
class Hunk:
    """Rows ``start``..``end`` (exclusive) hold code lines ``offset``.. of one hunk of ``path``
    (a piece of it: highlighted when one of its rows is first drawn)."""

    path: str
    start: int
    end: int
    code: HunkCode
    offset: int = 0

    @property
    def raw(self) -> list[str]:
        return self.code.raw[self.offset : self.offset + self.end - self.start]


class LineAnchor(NamedTuple):  # a tuple: made for every code row, 20,000 of them cost ~5 ms
    """A row of code a comment can be attached to: a line of the new side of the diff."""

    path: str
    line: int
    quote: str  # the diff line, with its mark


class LineAnchors:
    """Which new-side line each code row shows (``anchors.get(row)``), worked out when asked: a
    hunk with no comment in it is one entry (its first row, first line and lines), not one
    ``LineAnchor`` per row, so a 20,000-line diff costs nothing here before its first frame."""

    def __init__(self) -> None:
        self._rows: dict[int, LineAnchor] = {}  # rows of hunks that hold comments, one by one
        self._starts: list[int] = []  # the other hunks: their first rows, in order
        self._hunks: list[tuple[str, int, list[str]]] = []  # path, first new-side line, lines
        self._numbers: dict[int, list[int]] = {}  # a hunk's new-side line numbers, once asked

    def __setitem__(self, row: int, anchor: LineAnchor) -> None:
        self._rows[row] = anchor

    def add_hunk(self, first_row: int, path: str, first_line: int, lines: list[str]) -> None:
        self._starts.append(first_row)
        self._hunks.append((path, first_line, lines))

    def get(self, row: int) -> LineAnchor | None:
        if row in self._rows:
            return self._rows[row]
        at = bisect_right(self._starts, row) - 1
        if at < 0:
            return None
        path, first_line, lines = self._hunks[at]
        index = row - self._starts[at]
        if index >= len(lines) or lines[index][:1] == "-":
            return None
        if at not in self._numbers:
            numbers, number = [], first_line
            for line in lines:
                numbers.append(number)
                number += line[:1] != "-"
            self._numbers[at] = numbers
        return LineAnchor(path, self._numbers[at][index], lines[index] or " ")

    def __getitem__(self, row: int) -> LineAnchor:
        anchor = self.get(row)
        if anchor is None:
            raise KeyError(row)
        return anchor

    def __contains__(self, row: object) -> bool:
        return isinstance(row, int) and self.get(row) is not None


@dataclass(frozen=True)
class DiffSource:
    """What the rows were made from, to make them again (a fold toggled, a comment written)."""

    diff: WorktreeDiff | None = None
    title: str = ""
    comments: tuple[ReviewComment, ...] = ()
    toggled: frozenset[str] = frozenset()  # files the reviewer folded or unfolded
    notices: tuple[Text, ...] = ()
    card_id: str | None = None


@dataclass
class DiffLines:
    # A str is a patch line not drawn yet: made a Text when first drawn (``row_text``), so a
    # 20,000-line diff is not 20,000 Text objects before its first frame.
    rows: list[Text | str] = field(default_factory=list)
    hunks: list[Hunk] = field(default_factory=list)
    anchors: LineAnchors = field(default_factory=LineAnchors)  # code rows: new-side lines
    comment_rows: dict[int, ReviewComment] = field(default_factory=dict)
    file_rows: dict[int, str] = field(default_factory=dict)  # file list and file header rows
    sections: list[int] = field(default_factory=list)  # each file's header row, in order
    source: DiffSource = field(default_factory=DiffSource)
    width: int = 0  # of the widest row (patch lines counted in characters, not cells)

    @property
    def plain(self) -> str:
        return "\n".join(row if isinstance(row, str) else row.plain for row in self.rows)

    def row_text(self, index: int) -> Text:
        row = self.rows[index]
        return _plain_row(row) if isinstance(row, str) else row

    def comment_on(self, row: int) -> ReviewComment | None:
        """The comment a row shows, or the one on the row's line."""
        if row in self.comment_rows:
            return self.comment_rows[row]
        anchor = self.anchors.get(row)
        if anchor is None:
            return None
        return next(
            (c for c in self.source.comments
             if (c.path, c.line) == (anchor.path, anchor.line) and c.status != "outdated"),
            None,
        )  # fmt: skip


def is_folded(f: DiffFile, toggled: frozenset[str] = frozenset()) -> bool:
    """Folded by the session's rules, unless the reviewer toggled it (or folded it by hand)."""
    if f.skipped:
        return False  # no patch to unfold: summarised instead
    return bool(f.folded) != (f.path in toggled)


def render_diff(
    diff: WorktreeDiff,
    title: str = "",
    *,
    comments: Sequence[ReviewComment] = (),
    toggled: frozenset[str] = frozenset(),
    notices: Sequence[Text] = (),
    card_id: str | None = None,
) -> DiffLines:
    """The rows of the Diff tab for ``diff``: summary, notices, file list, then each file's patch
    (folded files as one row) with the line comments under their lines.

    ``notices``: rows at the very top for what the reviewer must see before the diff (files the
    card did not ask for ...)."""
    source = DiffSource(diff, title, tuple(comments), frozenset(toggled), tuple(notices), card_id)
    out = DiffLines(source=source)
    rows = out.rows
    if title:
        rows.append(Text(title, style="bold"))
    rows.append(Text.assemble(
        (f"{len(diff.files)} file{'s' if len(diff.files) != 1 else ''} changed ", "bold"),
        (f"+{diff.added}", ADDED), " ", (f"-{diff.deleted}", REMOVED),
        (f"  vs {diff.base_ref} (fork point {diff.merge_base[:8]})", "dim"),
    ))  # fmt: skip
    rows.extend(notices)
    if not diff.files:
        rows.append(Text("No changes yet.", style="dim"))
        out.width = max(row.cell_len for row in rows if isinstance(row, Text))
        return out
    by_file: dict[str, list[ReviewComment]] = {}
    for comment in comments:
        by_file.setdefault(comment.path, []).append(comment)
    paths = {f.path for f in diff.files}
    elsewhere = [c for path, cs in by_file.items() if path not in paths for c in cs]
    if elsewhere:  # on files the diff no longer has: never dropped
        rows.append(Text("Comments on files no longer in the diff:", style="bold"))
        for comment in elsewhere:
            _comment_rows(comment, out, placed=False)
    width = max(len(f.path) for f in diff.files)
    for f in diff.files:
        line = Text.assemble((f" {f.status} ", STATUS_STYLES.get(f.status, Style())), f.path.ljust(width), "  ",
                             (f"+{f.added}", ADDED), " ", (f"-{f.deleted}", REMOVED))  # fmt: skip
        if f.old_path:
            line.append(f"  (from {f.old_path})", "dim")
        if f.skipped:
            line.append(f"  {f.skipped}", "dim italic")
        elif is_folded(f, toggled):
            line.append(f"  ▸ folded: {f.folded or 'by you'}", FOLDED)
        count = len(by_file.get(f.path, ()))
        if count:
            line.append(f"  ✎ {count}", COMMENT_STYLES["pending"])
        out.file_rows[len(rows)] = f.path
        rows.append(line)
    for f in diff.files:
        rows.append(Text(""))
        out.file_rows[len(rows)] = f.path
        out.sections.append(len(rows))
        rows.append(Text(f" {f.path} ", style=FILE_HEADER))
        placed = _file_body(f, out, by_file.get(f.path, []), is_folded(f, toggled))
        for comment in by_file.get(f.path, []):
            if comment.id not in placed:  # outdated, or its line is not in the patch
                _comment_rows(comment, out, placed=False)
    # Patch lines (counted in characters) were measured by hunk; the other rows are few.
    out.width = max(out.width, max(r.cell_len for r in rows if r.__class__ is not str))
    return out


def _file_body(
    f: DiffFile, out: DiffLines, comments: list[ReviewComment], folded: bool
) -> set[int]:
    """The file's rows under its header; returns the ids of the comments placed under a line."""
    rows = out.rows
    if f.skipped:
        what = "binary file" if f.binary else f.skipped
        verb = {"A": "added", "D": "deleted", "R": "renamed"}.get(f.status, "changed")
        rows.append(Text(f"  {what} {verb}, not shown", style="dim italic"))
        return set()
    if folded:
        out.file_rows[len(rows)] = f.path
        rows.append(Text.assemble(
            (f"  ▸ folded: {f.folded or 'by you'}, ", FOLDED), (f"+{f.added}", ADDED), " ",
            (f"-{f.deleted}", REMOVED), ("  enter unfolds", "dim"),
        ))  # fmt: skip
        return set()
    on_line: dict[int, list[ReviewComment]] = {}
    for comment in comments:
        if comment.status != "outdated":
            on_line.setdefault(comment.line, []).append(comment)
    return _patch_rows(f, out, on_line)


def _patch_rows(f: DiffFile, out: DiffLines, on_line: dict[int, list[ReviewComment]]) -> set[int]:
    """The file's patch as rows: each hunk's code lines stay plain strings (``row_text`` makes
    them Text when drawn) cut into pieces of ``HIGHLIGHT_ROWS`` to highlight."""
    rows = out.rows
    placed: set[int] = set()
    # Cut at the hunk headers with str.split, not line by line in Python (nor a regex at every
    # line start): a 20,000-line diff is 20,000 rows, and a Python step per row costs tens of ms
    # here before the first frame. Inside a hunk every line starts with its mark, so "@@" there
    # is always a header; and the file's header (diff --git, index, ---/+++, modes, renames)
    # comes before the first hunk only ("--- x" in a hunk is a removed "-- x").
    header, *hunks = ("\n" + f.patch).split("\n@@")
    rows.extend(
        Text(line, style="dim") for line in header.splitlines() if line.startswith(META_PREFIXES)
    )
    for hunk in hunks:
        rest, _, text = hunk.partition("\n")
        hunk_header = "@@" + rest
        rows.append(Text(hunk_header, style=HUNK))
        body = text.splitlines()
        if not body:
            continue
        out.width = max(out.width, max(map(len, body)))
        new_line = _hunk_start(hunk_header)
        if on_line or text.startswith("\\") or "\n\\" in text:  # rows between its lines
            _hunk_rows(f.path, body, new_line, out, on_line, placed)
            continue
        start = len(rows)
        rows.extend(body)
        if new_line is not None:
            out.anchors.add_hunk(start, f.path, new_line, body)
        code = HunkCode(f.path)
        code.raw = body
        out.hunks.extend(
            Hunk(
                f.path,
                start + offset,
                start + min(offset + HIGHLIGHT_ROWS, len(body)),
                code,
                offset,
            )
            for offset in range(0, len(body), HIGHLIGHT_ROWS)
        )
    return placed


def _hunk_rows(
    path: str,
    body: list[str],
    new_line: int | None,
    out: DiffLines,
    on_line: dict[int, list[ReviewComment]],
    placed: set[int],
) -> None:
    rows, anchors, hunks = out.rows, out.anchors, out.hunks
    code = HunkCode(path)
    raw = code.raw
    piece_row = piece_line = -1  # where the open piece starts (-1: none open)

    def cut() -> None:  # close the open piece (a comment or a "\\ No newline" row comes next)
        nonlocal piece_row
        if piece_row >= 0:
            hunks.append(Hunk(path, piece_row, len(rows), code, piece_line))
            piece_row = -1

    for line in body:
        mark = line[:1]
        if mark == "\\":
            cut()
            rows.append(Text(line, style="dim italic"))
            continue
        if piece_row < 0:
            piece_row, piece_line = len(rows), len(raw)
        raw.append(line)
        if mark == "-" or new_line is None:
            rows.append(line)
        else:
            anchors[len(rows)] = LineAnchor(path, new_line, line or " ")
            rows.append(line)
            if new_line in on_line:
                cut()  # the comment's rows sit between this line and the next
                for comment in on_line[new_line]:
                    _comment_rows(comment, out, placed=True)
                    placed.add(comment.id)
            new_line += 1
        if piece_row >= 0 and len(raw) - piece_line == HIGHLIGHT_ROWS:
            cut()
    cut()


def _hunk_start(header: str) -> int | None:
    from ..core.session import new_side_lines

    lines = new_side_lines(header + "\n+")
    return next(iter(lines), None)


def _comment_rows(comment: ReviewComment, out: DiffLines, placed: bool) -> None:
    status = str(comment.status)
    style = COMMENT_STYLES.get(status, COMMENT_STYLES["pending"])
    label = {"pending": "✎", "sent": f"✎ sent (round {comment.round})",
             "outdated": f"✎ outdated (round {comment.round})"}.get(status, "✎")  # fmt: skip
    first = Text.assemble(("  ", ""), (label, style), " ")
    if not placed:
        first.append(f"{comment.where} ", "bold")
        first.append(f"> {comment.quote.strip()}  ", "dim")
    lines = comment.text.splitlines() or [""]
    first.append(lines[0], COMMENT_TEXT)
    out.comment_rows[len(out.rows)] = comment
    out.rows.append(first)
    for more in lines[1:]:
        out.comment_rows[len(out.rows)] = comment
        out.rows.append(Text.assemble("    ", (more, COMMENT_TEXT)))


def prehighlight(lines: DiffLines, rows: int = 60) -> None:
    """In a worker thread, before the diff is shown: highlight the code in its first ``rows``
    rows (the first screen: the view's height), and warm each language's lexer on one line. A
    lexer's first use compiles its rules (~0.2 s for Python here), which would otherwise stall
    the first frame or page down that shows that language."""
    kept, extensions = [], set()
    for hunk in lines.hunks:
        if hunk.start < rows:
            lines.rows[hunk.start : hunk.end] = highlight_hunk(hunk)
            continue
        kept.append(hunk)
        # Looking a file name up costs ~1.5 ms here (every lexer's patterns): one name per
        # extension finds the languages to warm; the others are looked up when drawn.
        name = hunk.path.rsplit("/", 1)[-1]
        extension = name.rsplit(".", 1)[-1] if "." in name else name
        if extension in extensions:
            continue
        extensions.add(extension)
        language = _lexer_by_name(name) or name
        if language not in _WARM_LANGUAGES:
            warm = HunkCode(hunk.path)
            warm.raw = hunk.raw[:1]
            warm.highlighted(0, 1)
            _WARM_LANGUAGES.add(language)
    lines.hunks[:] = kept


_WARM_LANGUAGES: set[str] = set()


class RenderedDiffs:
    """The rows of the last few cards' diffs, by what they were made from: a card selected
    again whose diff, comments and notices did not change shows the rows made before (and
    highlighted as far as they were drawn) instead of making them again. Called from the diff
    worker thread; a reused ``DiffLines`` is never changed there (only the view highlights
    its rows, on the UI thread)."""

    def __init__(self, size: int = 2) -> None:
        self._size = size
        self._kept: dict[str, tuple[tuple, DiffLines]] = {}  # by card, oldest first
        self._lock = threading.Lock()

    def lines(
        self,
        diff: WorktreeDiff,
        *,
        card_id: str,
        comments: Sequence[ReviewComment] = (),
        notices: Sequence[Text] = (),
        screen_rows: int = 0,
    ) -> DiffLines:
        made_from = (diff, tuple(comments), tuple(notices))
        with self._lock:
            kept = self._kept.get(card_id)
        if kept is not None and kept[0] == made_from:  # the same patch strings: a quick compare
            return kept[1]
        lines = render_diff(diff, comments=comments, card_id=card_id, notices=notices)
        prehighlight(lines, rows=screen_rows)
        with self._lock:
            self._kept.pop(card_id, None)
            self._kept[card_id] = (made_from, lines)
            while len(self._kept) > self._size:
                del self._kept[next(iter(self._kept))]
        return lines


def _plain_row(line: str) -> Text:
    """A code row before highlighting: the mark coloured, the row tinted."""
    mark = line[:1]
    text = Text(mark or " ", style=ADDED if mark == "+" else REMOVED if mark == "-" else CONTEXT)
    text.append(line[1:])
    if mark == "+":
        text.style = ADDED_BG  # the text's own style: DiffView extends it across the row
    elif mark == "-":
        text.style = REMOVED_BG
    return text


def highlight_hunk(hunk: Hunk) -> list[Text]:
    """The piece's rows, highlighted as the file's language (marks and tints kept), the lexer
    carried on from the piece above it in the same hunk (``HunkCode``)."""
    raw = hunk.raw
    rows = []
    for line, code_line in zip(raw, hunk.code.highlighted(hunk.offset, len(raw)), strict=False):
        row = _plain_row(line[:1])
        row.append_text(code_line)
        rows.append(row)
    rows.extend(_plain_row(line) for line in raw[len(rows) :])
    return rows


def _token_stream(language: str, code: str) -> Iterator[tuple[object, str]]:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    options = {"stripnl": False, "ensurenl": True, "tabsize": TAB_SIZE}  # as rich's Syntax
    try:
        lexer = get_lexer_by_name(language, **options)
    except ClassNotFound:
        lexer = get_lexer_by_name("text", **options)
    return lexer.get_tokens(code)


@lru_cache(maxsize=1024)
def _token_style(token_type) -> Style:
    # Token colours only: the row's background says added, removed or unchanged.
    return _foreground(_theme().get_style_for_token(token_type))


def _code_line(parts: list[tuple[str, Style]]) -> Text:
    spans, at = [], 0
    for part, style in parts:
        if style:
            spans.append(Span(at, at + len(part), style))
        at += len(part)
    return Text("".join(part for part, _ in parts), spans=spans)


def _lexer(path: str, code: str) -> str:
    name = path.rsplit("/", 1)[-1]
    lexer = _lexer_by_name(name)
    return lexer if lexer is not None else _guess(name, code)


@lru_cache(maxsize=512)
def _lexer_by_name(name: str) -> str | None:
    """The lexer for a file name alone, when its name decides it (most do)."""
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_for_filename(name)
    except ClassNotFound:
        return None
    return lexer.aliases[0] if lexer.aliases else lexer.name


def _guess(name: str, code: str) -> str:
    try:
        from rich.syntax import Syntax

        return Syntax.guess_lexer(name, code)
    except Exception:
        return "text"


@lru_cache(maxsize=1024)
def _foreground(style: Style | str) -> Style:
    style = style if isinstance(style, Style) else Style.parse(str(style))
    return Style(color=style.color, bold=style.bold, italic=style.italic, underline=style.underline)


class DiffView(QuietVirtualSize, ScrollView, can_focus=True):
    """Diff rows drawn on demand; a hunk is highlighted the first time a row of it is drawn.
    A line cursor for comments and folds (its keys: ``Scope.DIFF`` in ``keys.py``)."""

    DEFAULT_CSS = "DiffView { height: 1fr; overflow: auto auto; }"
    BINDINGS = bindings(Scope.DIFF)

    class CommentWritten(Message):
        """The reviewer wrote a comment on ``anchor`` (``comment_id``: the one edited)."""

        def __init__(self, card_id: str, anchor: LineAnchor, text: str, comment_id: int | None):
            super().__init__()
            self.card_id, self.anchor, self.text, self.comment_id = (
                card_id,
                anchor,
                text,
                comment_id,
            )

    class CommentRemoved(Message):
        def __init__(self, card_id: str, comment_id: int):
            super().__init__()
            self.card_id, self.comment_id = card_id, comment_id

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.diff = DiffLines()
        self.cursor = 0
        self._hunk_starts: list[int] = []  # of the pieces still to highlight, in row order
        self._hunks: list[Hunk | None] = []  # None: highlighted since
        self._cache: OrderedDict[int, tuple[Strip, Style]] = OrderedDict()
        self._style: Style | None = None

    def show(self, diff: DiffLines, keep_scroll: bool = False) -> None:
        same_card = (
            diff.source.card_id is not None and diff.source.card_id == self.diff.source.card_id
        )
        toggled = self.diff.source.toggled if same_card else frozenset()
        if toggled and diff.source.diff is not None:  # the reviewer's folds outlive a refresh
            diff = self._render(replace(diff.source, toggled=toggled))
        self._set(diff)
        if not keep_scroll or not same_card:
            self.cursor = 0
            self.scroll_to(0, 0, animate=False)
        self.cursor = min(self.cursor, max(0, len(diff.rows) - 1))

    def show_comments(self, card_id: str, comments: Sequence[ReviewComment]) -> None:
        """The card's comments as the session has them now (after one was written)."""
        source = self.diff.source
        if source.card_id != card_id or source.diff is None:
            return
        self._set(self._render(replace(source, comments=tuple(comments))))

    @staticmethod
    def _render(source: DiffSource) -> DiffLines:
        assert source.diff is not None
        return render_diff(source.diff, source.title, comments=source.comments,
                           toggled=source.toggled, notices=source.notices,
                           card_id=source.card_id)  # fmt: skip

    def _set(self, diff: DiffLines) -> None:
        self.diff = diff
        self._hunks = list(diff.hunks)
        self._hunk_starts = [hunk.start for hunk in diff.hunks]
        self._cache.clear()
        self.virtual_size = Size(diff.width, len(diff.rows))
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if index >= len(self.diff.rows):
            return Strip.blank(width, self._base_style())
        self._highlight_piece_of(index)
        base = self._base_style()
        cached = self._cache.get(index)
        if cached is None:
            row = self.diff.row_text(index)
            fill = base + row.style if isinstance(row.style, Style) else base  # whole-row styles
            # Segments without a background of their own take the widget's, not the terminal's.
            strip = Strip(list(row.render(_CONSOLE))).apply_style(fill).simplify()
            cached = self._cache[index] = (strip, fill)
            if len(self._cache) > 2000:
                self._cache.popitem(last=False)
        strip, fill = cached
        if index == self.cursor and self.has_focus:
            fill = fill + CURSOR
            strip = Strip(Segment.apply_style(strip, post_style=CURSOR), strip.cell_length)
        return strip.crop_extend(scroll_x, scroll_x + width, fill)

    def _highlight_piece_of(self, row: int) -> None:
        at = bisect_right(self._hunk_starts, row) - 1
        hunk = self._hunks[at] if at >= 0 else None
        if hunk is None or row >= hunk.end:
            return
        self._hunks[at] = None
        self.diff.rows[hunk.start : hunk.end] = highlight_hunk(hunk)
        for index in range(hunk.start, hunk.end):
            self._cache.pop(index, None)

    def _base_style(self) -> Style:
        # rich_style walks the ancestors (about 1 ms here): once per style change, not per row
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._cache.clear()

    def plain_text(self) -> str:
        return self.diff.plain

    def _on_focus(self, event: events.Focus) -> None:
        self.refresh()  # the cursor shows while the view has the focus

    def _on_blur(self, event: events.Blur) -> None:
        self.refresh()

    # ------------------------------------------------------------------ cursor

    def move_cursor(self, row: int) -> None:
        rows = len(self.diff.rows)
        if not rows:
            return
        old, self.cursor = self.cursor, max(0, min(rows - 1, row))
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        self.refresh_lines(old - self.scroll_offset.y)
        self.refresh_lines(self.cursor - self.scroll_offset.y)
        self.refresh()

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_cursor_page(self, pages: int) -> None:
        self.move_cursor(self.cursor + pages * max(1, self.scrollable_content_region.height - 1))

    def on_click(self, event: events.Click) -> None:
        self.focus()
        self.move_cursor(event.y + self.scroll_offset.y)

    def action_next_file(self, step: int) -> None:
        """]/[: the cursor to the next (previous) file's header, at the top of the view."""
        sections = self.diff.sections
        if not sections:
            return
        if step > 0:
            target = next((r for r in sections if r > self.cursor), None)
        else:
            target = next((r for r in reversed(sections) if r < self.cursor), None)
        if target is None:
            self.app.bell()
            return
        self.move_cursor(target)
        self.scroll_to(y=target, animate=False)

    def action_toggle_fold(self) -> None:
        """enter: fold or unfold the file under the cursor (its header, its list row, its code)."""
        path = self._path_at(self.cursor)
        source = self.diff.source
        if path is None or source.diff is None:
            return
        f = next((f for f in source.diff.files if f.path == path), None)
        if f is None or f.skipped:
            self.app.notify(
                f"{path}: {f.skipped if f else 'gone'}, there is nothing to unfold", timeout=3
            )
            return
        toggled = source.toggled ^ {path}
        was_in_list = (
            self.cursor not in self.diff.sections and self.cursor < (self.diff.sections or [0])[0]
        )
        self._set(self._render(replace(source, toggled=toggled)))
        if not was_in_list:  # stay on the file's header: its code opens (or closes) below it
            header = next((r for r in self.diff.sections if self.diff.file_rows.get(r) == path), 0)
            self.move_cursor(header)

    def _path_at(self, row: int) -> str | None:
        if row in self.diff.file_rows:
            return self.diff.file_rows[row]
        anchor = self.diff.anchors.get(row)
        if anchor is not None:
            return anchor.path
        headers = [r for r in self.diff.sections if r <= row]
        return self.diff.file_rows.get(headers[-1]) if headers else None

    # ------------------------------------------------------------------ comments

    def action_comment(self) -> None:
        """a: write (or edit) the comment on the cursor's line."""
        card_id = self.diff.source.card_id
        comment = self.diff.comment_on(self.cursor)
        anchor = self.diff.anchors.get(self.cursor)
        if comment is not None and anchor is None:
            anchor = LineAnchor(comment.path, comment.line, comment.quote)
        if card_id is None or anchor is None:
            self.app.notify(
                "Put the cursor on a line of code (j/k or a click) to comment on it.", timeout=3
            )
            return
        editing = comment if comment is not None and comment.status == "pending" else None

        def written(text: str | None) -> None:
            if text:
                self.post_message(
                    self.CommentWritten(card_id, anchor, text, editing.id if editing else None)
                )

        self.app.push_screen(
            TextDialog(
                f"{'Edit the comment on' if editing else 'Comment on'} {anchor.path}:{anchor.line}",
                editing.text if editing else "",
                hint="ctrl+s saves · escape cancels · it goes to the agent with the next send "
                "back (b)",
            ),
            written,
        )

    def action_remove_comment(self) -> None:
        """delete: remove the comment on the cursor's line."""
        card_id = self.diff.source.card_id
        comment = self.diff.comment_on(self.cursor)
        if card_id is None or comment is None:
            self.app.notify("No comment on this line.", timeout=3)
            return
        self.post_message(self.CommentRemoved(card_id, comment.id))
