"""The Diff tab: a file list with +/- counts, then the unified diff, syntax highlighted.

``render_diff`` builds plain rows quickly (added/removed rows already tinted); ``DiffView`` draws
only the visible rows and highlights a hunk the first time one of its rows is drawn. Highlighting
a whole 50-file diff up front costs about half a second of pure Python here: paid lazily, a
screenful costs a few milliseconds.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

from rich.style import Style
from rich.syntax import Syntax
from rich.text import Span, Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..core.session import DiffFile, WorktreeDiff
from .card import _CONSOLE
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
META_PREFIXES = ("new file mode", "deleted file mode", "similarity index", "rename from", "rename to",
                 "old mode", "new mode", "Binary files")  # fmt: skip


@dataclass(frozen=True)
class Hunk:
    """Rows ``start``..``end`` (exclusive) hold the code of one hunk of ``path``."""

    path: str
    start: int
    end: int
    raw: tuple[str, ...]  # the patch lines, with their +/-/space marks


@dataclass
class DiffLines:
    rows: list[Text] = field(default_factory=list)
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def plain(self) -> str:
        return "\n".join(row.plain for row in self.rows)


def render_diff(diff: WorktreeDiff, title: str = "") -> DiffLines:
    """The rows of the Diff tab for ``diff``: summary, file list, then each file's patch."""
    out = DiffLines()
    rows = out.rows
    if title:
        rows.append(Text(title, style="bold"))
    rows.append(Text.assemble(
        (f"{len(diff.files)} file{'s' if len(diff.files) != 1 else ''} changed ", "bold"),
        (f"+{diff.added}", ADDED), " ", (f"-{diff.deleted}", REMOVED),
        (f"  vs {diff.base_ref} (fork point {diff.merge_base[:8]})", "dim"),
    ))  # fmt: skip
    if not diff.files:
        rows.append(Text("No changes yet.", style="dim"))
        return out
    width = max(len(f.path) for f in diff.files)
    for f in diff.files:
        line = Text.assemble((f" {f.status} ", STATUS_STYLES.get(f.status, Style())), f.path.ljust(width), "  ",
                             (f"+{f.added}", ADDED), " ", (f"-{f.deleted}", REMOVED))  # fmt: skip
        if f.old_path:
            line.append(f"  (from {f.old_path})", "dim")
        if f.skipped:
            line.append(f"  {f.skipped}", "dim italic")
        rows.append(line)
    for f in diff.files:
        rows.append(Text(""))
        rows.append(Text(f" {f.path} ", style=FILE_HEADER))
        if f.skipped:
            rows.append(
                Text(f"  {f.skipped}: +{f.added} -{f.deleted}, not shown", style="dim italic")
            )
            continue
        _patch_rows(f, out)
    return out


def _patch_rows(f: DiffFile, out: DiffLines) -> None:
    hunk: list[str] = []

    def flush() -> None:
        if hunk:
            start = len(out.rows)
            out.rows.extend(_plain_row(line) for line in hunk)
            out.hunks.append(Hunk(f.path, start, len(out.rows), tuple(hunk)))
            hunk.clear()

    for line in f.patch.splitlines():
        if line.startswith(("diff --git", "index ", "--- ", "+++ ")):
            continue
        if line.startswith("@@"):
            flush()
            out.rows.append(Text(line, style=HUNK))
        elif line.startswith(META_PREFIXES):
            out.rows.append(Text(line, style="dim"))
        elif line.startswith("\\"):
            out.rows.append(Text(line, style="dim italic"))
        else:
            hunk.append(line)
    flush()


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
    """The hunk's rows, highlighted as the file's language (marks and tints kept)."""
    code = "\n".join(line[1:] for line in hunk.raw)
    highlighted = Syntax(
        code, _lexer(hunk.path, code), theme=THEME, background_color="default"
    ).highlight(code)
    highlighted.rstrip()
    # Token colours only: the row's background says added, removed or unchanged.
    highlighted.spans = [Span(sp.start, sp.end, _foreground(sp.style)) for sp in highlighted.spans]
    highlighted.style = ""  # the theme's background would come along with each line
    rows = []
    for line, code_line in zip(hunk.raw, highlighted.split("\n", allow_blank=True), strict=False):
        row = _plain_row(line[:1])
        row.append_text(code_line)
        rows.append(row)
    rows.extend(_plain_row(line) for line in hunk.raw[len(rows) :])
    return rows


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
        return Syntax.guess_lexer(name, code)
    except Exception:
        return "text"


@lru_cache(maxsize=1024)
def _foreground(style: Style | str) -> Style:
    style = style if isinstance(style, Style) else Style.parse(str(style))
    return Style(color=style.color, bold=style.bold, italic=style.italic, underline=style.underline)


class DiffView(QuietVirtualSize, ScrollView, can_focus=True):
    """Diff rows drawn on demand; a hunk is highlighted the first time a row of it is drawn."""

    DEFAULT_CSS = "DiffView { height: 1fr; overflow: auto auto; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.diff = DiffLines()
        self._hunk_at: dict[int, Hunk] = {}
        self._cache: OrderedDict[int, tuple[Strip, Style]] = OrderedDict()

    def show(self, diff: DiffLines, keep_scroll: bool = False) -> None:
        self.diff = diff
        self._hunk_at = {row: hunk for hunk in diff.hunks for row in range(hunk.start, hunk.end)}
        self._cache.clear()
        width = max((row.cell_len for row in diff.rows), default=0)
        self.virtual_size = Size(width, len(diff.rows))
        if not keep_scroll:
            self.scroll_to(0, 0, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if index >= len(self.diff.rows):
            return Strip.blank(width, self.rich_style)
        hunk = self._hunk_at.get(index)
        if hunk is not None:
            self._highlight(hunk)
        base = self.rich_style
        cached = self._cache.get(index)
        if cached is None:
            row = self.diff.rows[index]
            fill = base + row.style if isinstance(row.style, Style) else base  # whole-row styles
            # Segments without a background of their own take the widget's, not the terminal's.
            strip = Strip(list(row.render(_CONSOLE))).apply_style(fill).simplify()
            cached = self._cache[index] = (strip, fill)
            if len(self._cache) > 2000:
                self._cache.popitem(last=False)
        strip, fill = cached
        return strip.crop_extend(scroll_x, scroll_x + width, fill)

    def _highlight(self, hunk: Hunk) -> None:
        self.diff.rows[hunk.start : hunk.end] = highlight_hunk(hunk)
        for row in range(hunk.start, hunk.end):
            self._hunk_at.pop(row, None)
            self._cache.pop(row, None)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def plain_text(self) -> str:
        return self.diff.plain
