"""Every use of Textual's private internals, fenced in one module: scrolling widgets that
repaint cheaply.

Nothing else in the app touches a private Textual name. Textual is pinned in pyproject.toml to
the range these overrides were measured on, and ``RELIED_ON`` below lists each private name and
signature they depend on; ``tests/tui/test_textual_internals.py`` fails, naming what moved, when
a Textual upgrade changes any of them. Then re-read the Textual source for that name, adapt the
override (or drop it if Textual now does the cheap thing itself), re-run ``bench/`` and widen the
pin.

Textual treats every change of a widget's ``virtual_size`` as a layout change, and a layout pass
repaints the whole screen: about 40 ms at 160x45 here. A log flushed twenty times a second, or a
card moved between two columns, would pay it each time. The scrollbars only need a layout when
they appear or disappear; otherwise updating them in place is enough (``QuietVirtualSize``).

Textual also sends every line a widget draws through a general pipeline (borders, padding, tint,
opacity, hatching, a cache); for a plain line-API widget and for a scrollbar that is most of the
cost of a frame: a card move repaints two 42-line columns and their scrollbars, about 15 ms of
pipeline here. ``DirectLines`` and ``DirectScrollBar`` skip it for widgets that use none of
those styles, keeping the app's line filters (``NO_COLOR``, dimming, ANSI themes).

Textual's ``Strip.divide`` keeps ``[self]`` in the strip's own cache when the cut is the strip's
whole width, which is how the compositor divides nearly every line of every frame: each strip
drawn became a reference cycle (with its seven caches), freed only by a full garbage collection.
Textual's ``LRUCache`` (a Log's rendered lines, among others) keeps its entries in a ring of
linked lists, and ``clear`` drops the ring whole: a cycle holding every line it cached, again
freed only by a full collection. A Log is cleared on every switch to another card's log. Under
ten flooding agents these two made 400,000-600,000 objects a minute and full collections of
0.6-0.8 s with the UI stopped. ``free_strips_without_gc`` makes ``divide`` return a fresh
``[self]`` uncached and ``clear`` unlink the ring first, so both are freed as soon as unused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from textual.app import App
from textual.cache import LRUCache
from textual.driver import Driver
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Log


@dataclass(frozen=True)
class Internal:
    """A private (or internal) Textual name this module relies on, and how."""

    owner: type
    name: str
    parameters: tuple[str, ...] | None  # a method's parameters after self; None: an attribute
    used_by: str


# What a ScrollBarRender draws from: equal values draw the same bar.
BAR_FIELDS = ("virtual_size", "window_size", "position", "thickness", "vertical", "style")

RELIED_ON = (
    Internal(Widget, "virtual_size", None, "QuietVirtualSize replaces the reactive (layout=False)"),
    Internal(Widget, "_scroll_update", ("virtual_size",), "QuietVirtualSize updates the scrollbars in place"),
    Internal(Log, "_update_size", ("updates", "lines"), "QuietLog measures widths without a thread worker"),
    Internal(Log, "_updates", None, "QuietLog: Log's update counter"),
    Internal(Log, "_width", None, "QuietLog: Log's widest line"),
    Internal(Log, "_lines", None, "QuietLog: Log's lines, counted before a write to see pruning"),
    Internal(Log, "write_lines", ("lines", "scroll_end"), "QuietLog wraps it"),
    Internal(Log, "_render_line_strip", ("y", "rich_style"), "QuietLog caches its strips"),
    Internal(Log, "_render_line_cache", None, "QuietLog: Log's rendered lines, by line number"),
    Internal(Widget, "render_lines", ("crop",), "DirectLines and DirectScrollBar replace it"),
    Internal(Widget, "vertical_scrollbar", None, "DirectScrollBars replaces the property"),
    Internal(Widget, "_vertical_scrollbar", None, "DirectScrollBars: the scrollbar Widget keeps"),
    Internal(App, "_start_widget", ("parent", "widget"), "DirectScrollBars starts its scrollbar"),
    Internal(App, "_driver", None, "write_to_terminal: the driver App.bell writes to"),
    Internal(Driver, "write", ("data",), "write_to_terminal: desktop notifications (OSC 777/9)"),
    Internal(Strip, "divide", ("cuts",), "free_strips_without_gc wraps it"),
    Internal(Strip, "_divide_cache", None, "free_strips_without_gc: the cache that held [self]"),
    Internal(LRUCache, "clear", (), "free_strips_without_gc wraps it"),
    Internal(LRUCache, "_cache", None, "free_strips_without_gc: its links, by key"),
    *(Internal(ScrollBarRender, name, None, "DirectScrollBar draws the bar again when it changes")
      for name in BAR_FIELDS),
)  # fmt: skip


_textual_divide = Strip.divide


def _divide(self: Strip, cuts: Iterable[int]) -> list[Strip]:
    cuts = list(cuts)
    length = self.cell_length
    if [cut for cut in cuts if cut <= length] == [length]:  # the whole strip, as Textual's
        return [self]
    return _textual_divide(self, cuts)


_textual_lru_clear = LRUCache.clear


def _lru_clear(self: LRUCache) -> None:
    for link in self._cache.values():  # [previous, next, key, value]: no ring left behind
        link.clear()
    _textual_lru_clear(self)


def free_strips_without_gc() -> None:
    """``Strip.divide`` returns the whole strip without caching it in itself, and
    ``LRUCache.clear`` unlinks its ring first (idempotent)."""
    Strip.divide = _divide
    LRUCache.clear = _lru_clear


def write_to_terminal(app: App, data: str) -> None:
    """Send an escape sequence to the terminal between frames, as ``App.bell`` does (Textual
    has no public way): a desktop notification. Nothing in a headless app (tests)."""
    driver = app._driver
    if driver is not None and not app.is_headless:
        driver.write(data)


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
        if self.styles.background_tint.a:  # a focus tint: only Textual's pipeline draws it
            return super().render_lines(crop)
        width = self.size.width
        return _finish(
            (self.render_line(y).extend_cell_length(width) for y in crop.line_range), self, crop
        )


class DirectScrollBar(ScrollBar):
    """Textual's scrollbar, its bar rendered straight to strips, and again only when it
    changed: Textual repaints a widget's every row when any row is dirty, and a card column's
    bar cost 4-7 ms of the frame that answers j/k."""

    _drawn: tuple[tuple, list[Strip]] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        width, height = self.size
        if not width or not height:
            return super().render_lines(crop)
        bar = self.render()
        key = (width, height, type(bar), *(getattr(bar, name, None) for name in BAR_FIELDS))
        if self._drawn is None or self._drawn[0] != key or not hasattr(bar, "style"):
            console = self.app.console
            options = console.options.update_dimensions(width, height)
            lines = console.render_lines(bar, options, pad=True)
            self._drawn = (key, [Strip(line, width) for line in lines])
        strips = self._drawn[1]
        return _finish((strips[y] for y in crop.line_range), self, crop)


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


class QuietLog(DirectLines, DirectScrollBars, QuietVirtualSize, Log):
    """Textual's Log, appending without a layout pass per flush, without a thread worker per
    write to measure line widths, and repainting when old lines are pruned. Its lines go to the
    screen directly (``DirectLines``), each rendered once: Textual's Log keeps rendered lines
    only while text is selected, and looks its style up again for every line of every frame,
    so a Log following a flooding agent rendered all its rows twenty times a second."""

    _frame_style: Style | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_style = self.rich_style  # once per frame, not once per line
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        rich_style = self._frame_style or self.rich_style
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        y += scroll_y
        if y >= len(self._lines):
            return Strip.blank(width, rich_style)
        strip = self._render_line_strip(y, rich_style)
        return strip.crop_extend(scroll_x, scroll_x + width, rich_style).apply_offsets(scroll_x, y)

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        if self.text_selection is not None:
            return super()._render_line_strip(y, rich_style)
        strip = self._render_line_cache.get(y)
        if strip is None:  # lines never change once written; clear() and pruning fix the cache
            strip = super()._render_line_strip(y, rich_style)
            self._render_line_cache[y] = strip
        return strip

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
