"""Scrolling widgets whose content grows without a screen-wide layout pass.

Textual treats every change of a widget's ``virtual_size`` as a layout change, and a layout pass
repaints the whole screen: about 40 ms at 160x45 here. A log flushed twenty times a second, or a
card moved between two columns, would pay it each time. The scrollbars only need a layout when
they appear or disappear; otherwise updating them in place is enough.
"""

from __future__ import annotations

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
    """Textual's Log, appending without a layout pass per flush."""
