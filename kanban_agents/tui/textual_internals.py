"""Scrolling widgets that repaint cheaply.

Textual treats every change of a widget's ``virtual_size`` as a layout change, and a layout pass
repaints the whole screen: about 40 ms at 160x45 here. A log flushed twenty times a second, or a
card moved between two columns, would pay it each time. The scrollbars only need a layout when
they appear or disappear; otherwise updating them in place is enough (``QuietVirtualSize``).

Textual also sends every line a widget draws through a general pipeline (borders, padding, tint,
opacity, hatching, a cache); for a plain line-API widget and for a scrollbar that is most of the
cost of a frame: a card move repaints two 42-line columns and their scrollbars, about 15 ms of
pipeline here. ``DirectLines`` and ``DirectScrollBar`` skip it for widgets that use none of
those styles, keeping the app's line filters (``NO_COLOR``, dimming, ANSI themes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.cells import cell_len, chop_cells
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widgets import Log


class QuietVirtualSize:
    """Mixin for ScrollView widgets (put it first in the bases)."""

    virtual_size = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        if not self.is_mounted:
            return
        width, height = self.scrollable_content_region.size
        scrollbars_change = (old.height > height) != (new.height > height) or (
            old.width > width
        ) != (new.width > width)
        if scrollbars_change or not height:
            self.refresh(layout=True)
        else:
            self._scroll_update(new)  # the scrollbar thumbs, in place
            self.refresh()


class QuietLog(QuietVirtualSize, Log):
    """Textual's Log, appending without a layout pass per flush, without a thread worker per
    write to measure line widths, and repainting when old lines are pruned."""

    def _update_size(self, updates: int, lines: list[str]) -> None:
        # Textual starts a thread worker per write for this; under a flood those workers hold
        # the GIL away from the UI. Our lines are short and mostly ASCII: measure them here.
        if lines and updates == self._updates:
            width = max(len(line) if line.isascii() else cell_len(line) for line in lines)
            if width > self._width:
                self._width = width
                self.virtual_size = Size(self._width, self.line_count)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> QuietLog:
        lines = list(lines)
        before = len(self._lines)
        super().write_lines(lines, scroll_end)
        if self.max_lines is not None and before + len(lines) > self.max_lines:
            # Pruning moved every visible row up, but Log repaints only the rows it appended,
            # which are past the end now: without this the view freezes at max_lines.
            self.refresh()
        return self


class WrappingLog(QuietLog):
    """A QuietLog that wraps long lines at its width instead of cutting them at the edge;
    continuation rows are indented two cells. When the width changes, what it holds is
    wrapped again."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._unwrapped: deque[str] = deque(maxlen=self.max_lines)
        self._wrap_width = 0

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> WrappingLog:
        lines = list(lines)
        self._unwrapped.extend(lines)
        super().write_lines(wrap_lines(lines, self._wrap_width), scroll_end)
        return self

    def clear(self) -> WrappingLog:
        self._unwrapped.clear()
        super().clear()
        return self

    def on_resize(self) -> None:
        # Room is kept for the vertical scrollbar, which comes and goes without a resize.
        width = self.size.width - self.styles.scrollbar_size_vertical
        if width == self._wrap_width or width <= 0:
            return
        self._wrap_width = width
        at_end = self.is_vertical_scroll_end or self.max_scroll_y == 0
        unwrapped = list(self._unwrapped)
        self.clear()
        self.write_lines(unwrapped, scroll_end=at_end)


def wrap_lines(lines: Iterable[str], width: int) -> list[str]:
    """``lines`` cut into rows of at most ``width`` cells, after a space where one is near the
    end of the row; continuation rows are indented by two cells."""
    if width < 8:
        return list(lines)
    rows: list[str] = []
    for line in lines:
        room, indent = width, ""
        while (len(line) if line.isascii() else cell_len(line)) > room:
            piece = chop_cells(line, room)[0]
            space = piece.rfind(" ")
            if space >= room // 2:
                piece = piece[: space + 1]  # the space stays at the row's end, unseen
            rows.append(indent + piece)
            line = line[len(piece) :]
            room, indent = width - 2, "  "
        if line or not indent:
            rows.append(indent + line)
    return rows


def _finish(strips: Iterable[Strip], widget, crop: Region) -> list[Strip]:
    filters = widget.get_line_filters()
    background = widget.background_colors[1]
    x1, x2 = crop.column_span
    whole = (x1, x2) == (0, widget.size.width)
    finished = []
    for strip in strips:
        for line_filter in filters:
            strip = strip.apply_filter(line_filter, background)
        finished.append(strip if whole else strip.crop(x1, x2))
    return finished


class DirectLines:
    """Mixin for a line-API widget with no border, padding, tint or opacity (put it first in
    the bases): its ``render_line`` strips go to the screen as they are."""

    def render_lines(self, crop: Region) -> list[Strip]:
        width = self.size.width
        return _finish(
            (self.render_line(y).extend_cell_length(width) for y in crop.line_range), self, crop
        )


class DirectScrollBar(ScrollBar):
    """Textual's scrollbar, its bar rendered straight to strips."""

    def render_lines(self, crop: Region) -> list[Strip]:
        width, height = self.size
        if not width or not height:
            return super().render_lines(crop)
        console = self.app.console
        options = console.options.update_dimensions(width, height)
        lines = console.render_lines(self.render(), options, pad=True)
        return _finish((Strip(lines[y], width) for y in crop.line_range), self, crop)


class DirectScrollBars:
    """Mixin for a ScrollView whose vertical scrollbar is a ``DirectScrollBar``."""

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        if self._vertical_scrollbar is None:
            scroll_bar = DirectScrollBar(
                vertical=True, name="vertical", thickness=self.scrollbar_size_vertical
            )
            scroll_bar.display = False
            self._vertical_scrollbar = scroll_bar
            self.app._start_widget(self, scroll_bar)
        return self._vertical_scrollbar
