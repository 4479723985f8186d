"""Scrolling widgets whose content grows without a screen-wide layout pass.

Textual treats every change of a widget's ``virtual_size`` as a layout change, and a layout pass
repaints the whole screen: about 40 ms at 160x45 here. A log flushed twenty times a second, or a
card moved between two columns, would pay it each time. The scrollbars only need a layout when
they appear or disappear; otherwise updating them in place is enough.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual.geometry import Size
from textual.reactive import Reactive
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
