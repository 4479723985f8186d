"""A Log that wraps long lines at its width instead of cutting them at the edge."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.cells import cell_len, chop_cells
from textual.geometry import Size
from textual.message import Message

from .textual_internals import QuietLog


class WrappingLog(QuietLog):
    """A QuietLog that wraps long lines at its width instead of cutting them at the edge;
    continuation rows are indented two cells. When the width changes, what it holds is
    wrapped again."""

    class ReachedTop(Message):
        """The user scrolled up to the first row (a view may have earlier lines to load)."""

        def __init__(self, log: WrappingLog) -> None:
            super().__init__()
            self.log = log

        @property
        def control(self) -> WrappingLog:
            return self.log

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Only a view taller than the Log can be scrolled to its top: a clear() (a new card's
        # Log) also moves the offset to 0, and must not load that card's earlier lines.
        if new_value <= 0 < old_value and self.max_scroll_y > 0:
            self.post_message(self.ReachedTop(self))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._unwrapped: deque[str] = deque(maxlen=self.max_lines)
        self._wrap_width = 0

    @property
    def wrap_width(self) -> int:
        """The width rows are wrapped at now (0 before the first layout: not wrapped)."""
        return self._wrap_width

    def write_lines(
        self,
        lines: Iterable[str],
        scroll_end: bool | None = None,
        *,
        rows: tuple[int, list[str]] | None = None,
    ) -> WrappingLog:
        """``rows``: ``lines`` already wrapped (off the UI thread) at the width given with them;
        used when that is still the width, wrapped again here otherwise."""
        lines = list(lines)
        self._unwrapped.extend(lines)
        if rows is not None and rows[0] == self._wrap_width:
            wrapped = rows[1]
        else:
            wrapped = wrap_lines(lines, self._wrap_width)
        super().write_lines(wrapped, scroll_end)
        return self

    def _update_size(self, updates: int, lines: list[str]) -> None:
        # Wrapped rows are never wider than the wrap width: no need to measure each one (under a
        # flood, measuring was a tenth of the app's time).
        if self._wrap_width < 8:
            super()._update_size(updates, lines)
        elif updates == self._updates and lines and self._width < self._wrap_width:
            self._width = self._wrap_width
            self.virtual_size = Size(self._width, self.line_count)

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
