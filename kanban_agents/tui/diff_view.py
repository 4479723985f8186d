"""The Diff tab: a file list with +/- counts, then the unified diff, syntax highlighted.

``render_diff`` builds the lines (pygments highlighting costs real time on big diffs, so the app
calls it in a thread); ``DiffView`` shows them with the line API, so only visible lines are drawn.
"""

from __future__ import annotations

from collections import OrderedDict

from rich.style import Style
from rich.syntax import Syntax
from rich.text import Span, Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..core.git import DiffFile, WorktreeDiff
from .card import _CONSOLE
from .quiet_scroll import QuietVirtualSize

ADDED = Style(color="green")
REMOVED = Style(color="red")
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


def render_diff(diff: WorktreeDiff, title: str = "") -> list[Text]:
    """All lines of the Diff tab for ``diff``: summary, file list, then each file's patch."""
    lines: list[Text] = []
    summary = Text.assemble(
        (f"{len(diff.files)} file{'s' if len(diff.files) != 1 else ''} changed ", "bold"),
        (f"+{diff.added}", ADDED),
        " ",
        (f"-{diff.deleted}", REMOVED),
        (f"  vs {diff.base_ref} (fork point {diff.merge_base[:8]})", "dim"),
    )
    if title:
        lines.append(Text(title, style="bold"))
    lines.append(summary)
    if not diff.files:
        lines.append(Text("No changes yet.", style="dim"))
        return lines
    width = max(len(f.path) for f in diff.files)
    for f in diff.files:
        line = Text.assemble(
            (f" {f.status} ", STATUS_STYLES.get(f.status, Style())),
            f.path.ljust(width),
            "  ",
            (f"+{f.added}", ADDED),
            " ",
            (f"-{f.deleted}", REMOVED),
        )
        if f.old_path:
            line.append(f"  (from {f.old_path})", "dim")
        if f.skipped:
            line.append(f"  {f.skipped}", "dim italic")
        lines.append(line)
    for f in diff.files:
        lines.append(Text(""))
        lines.append(Text(f" {f.path} ", style=FILE_HEADER))
        if f.skipped:
            lines.append(
                Text(f"  {f.skipped}: +{f.added} -{f.deleted}, not shown", style="dim italic")
            )
            continue
        lines.extend(_patch_lines(f))
    return lines


def _patch_lines(f: DiffFile) -> list[Text]:
    body = [
        line
        for line in f.patch.splitlines()
        if not line.startswith(("diff --git", "index ", "--- ", "+++ "))
    ]
    out: list[Text] = []
    hunk: list[str] = []

    def flush() -> None:
        if hunk:
            out.extend(_highlight_hunk(f.path, hunk))
            hunk.clear()

    for line in body:
        if line.startswith("@@"):
            flush()
            out.append(Text(line, style=HUNK))
        elif line.startswith(
            (
                "new file mode",
                "deleted file mode",
                "similarity index",
                "rename from",
                "rename to",
                "old mode",
                "new mode",
                "Binary files",
            )
        ):
            out.append(Text(line, style="dim"))
        elif line.startswith("\\"):
            out.append(Text(line, style="dim italic"))
        else:
            hunk.append(line)
    flush()
    return out


def _highlight_hunk(path: str, lines: list[str]) -> list[Text]:
    """Highlight the code of a hunk as the file's language, then mark added/removed lines."""
    code = "\n".join(line[1:] for line in lines)
    try:
        lexer = Syntax.guess_lexer(path, code)
    except Exception:
        lexer = "text"
    highlighted = Syntax(code, lexer, theme=THEME, background_color="default").highlight(code)
    highlighted.rstrip()
    # Token colours only: the row's background says added, removed or unchanged.
    highlighted.spans = [Span(sp.start, sp.end, _foreground(sp.style)) for sp in highlighted.spans]
    highlighted.style = ""  # the theme's background would come along with each line
    out = []
    for prefix_line, code_line in zip(
        lines, highlighted.split("\n", allow_blank=True), strict=False
    ):
        mark = prefix_line[:1]
        text = Text(
            mark or " ", style=ADDED if mark == "+" else REMOVED if mark == "-" else Style(dim=True)
        )
        text.append_text(code_line)
        if mark == "+":
            text.style = ADDED_BG  # the text's own style: DiffView extends it across the row
        elif mark == "-":
            text.style = REMOVED_BG
        out.append(text)
    return out


def _foreground(style) -> Style:
    style = style if isinstance(style, Style) else Style.parse(str(style))
    return Style(color=style.color, bold=style.bold, italic=style.italic, underline=style.underline)


class DiffView(QuietVirtualSize, ScrollView, can_focus=True):
    """Pre-rendered diff lines, drawn on demand."""

    DEFAULT_CSS = "DiffView { height: 1fr; overflow: auto auto; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines: list[Text] = []
        self._cache: OrderedDict[int, tuple[Strip, Style]] = OrderedDict()

    def show(self, lines: list[Text], keep_scroll: bool = False) -> None:
        self.lines = lines
        self._cache.clear()
        width = max((line.cell_len for line in lines), default=0)
        self.virtual_size = Size(width, len(lines))
        if not keep_scroll:
            self.scroll_to(0, 0, animate=False)
        self.refresh()

    def message(self, text: str) -> None:
        self.show([Text(text, style="dim")])

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        base = self.rich_style
        cached = self._cache.get(index)
        if cached is None:
            line = self.lines[index]
            fill = base + line.style if isinstance(line.style, Style) else base  # whole-row styles
            # Segments without a background of their own take the widget's, not the terminal's.
            strip = Strip(list(line.render(_CONSOLE))).apply_style(fill).simplify()
            cached = self._cache[index] = (strip, fill)
            if len(self._cache) > 2000:
                self._cache.popitem(last=False)
        strip, fill = cached
        return strip.crop_extend(scroll_x, scroll_x + width, fill)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def plain_text(self) -> str:
        return "\n".join(line.plain for line in self.lines)
