"""The board: columns side by side, each a virtualised list of cards; selection and drag.

The board holds no truth of its own: the app gives it ``ColumnModel``s built from the store and
the runs (attributes down), and it asks for moves with messages (messages up).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.containers import Horizontal, Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from .card import CARD_HEIGHT, CardStyles, CardView, drop_indicator, render_card
from .keys import Scope, bindings
from .textual_internals import DirectLines, DirectScrollBars, QuietVirtualSize

STATE_CLASSES = (
    "queued",
    "preparing",
    "running",
    "testing",
    "review",
    "failed",
    "cancelled",
    "interrupted",
    "merged",
)


@dataclass(frozen=True)
class ColumnModel:
    id: str
    title: str
    wip: int | None
    cards: list[CardView]
    total: int  # cards in the column before filtering
    is_agent_column: bool = False
    errors: int = 0  # unreadable card files among ``cards``

    @property
    def over_wip(self) -> bool:
        return self.wip is not None and self.total > self.wip


def widget_id(prefix: str, column_id: str) -> str:
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_-]', '_', column_id)}"


class CardList(DirectLines, DirectScrollBars, QuietVirtualSize, ScrollView, can_focus=False):
    """One column's cards, drawn with the line API: only visible lines are rendered."""

    COMPONENT_CLASSES = {
        "card--border",
        "card--border-selected",
        "card--border-error",
        "card--title",
        "card--meta",
        "card--label",
        "card--priority",
        "card--lint",
        "card--waiting",
        "card--notice",
        "card--drop",
        *(f"state--{s}" for s in STATE_CLASSES),
    }

    DEFAULT_CSS = """
    CardList { overflow-x: hidden; overflow-y: auto; scrollbar-size-vertical: 1; height: 1fr; }
    CardList > .card--border { color: $foreground 35%; }
    CardList > .card--border-selected { color: $accent; text-style: bold; }
    CardList > .card--border-error { color: $error; }
    CardList > .card--title { color: $text; text-style: bold; }
    CardList > .card--meta { color: $text-muted; }
    CardList > .card--label { color: $text-secondary; }
    CardList > .card--priority { color: $text-warning; text-style: bold; }
    CardList > .card--lint { color: $text-warning; }
    CardList > .card--waiting { color: $text-muted; text-style: italic; }
    CardList > .card--notice { color: $error; text-style: bold; }
    CardList > .card--drop { color: $text-accent; text-style: bold; }
    CardList > .state--queued { color: $text-warning; }
    CardList > .state--preparing { color: $text-secondary; }
    CardList > .state--running { color: $text-success; text-style: bold; }
    CardList > .state--testing { color: $text-secondary; text-style: bold; }
    CardList > .state--review { color: $text-accent; text-style: bold; }
    CardList > .state--failed { color: $text-error; text-style: bold; }
    CardList > .state--cancelled { color: $text-muted; }
    CardList > .state--interrupted { color: $text-warning; text-style: bold; }
    CardList > .state--merged { color: $text-success; }
    """

    drop_index: reactive[int | None] = reactive(None)

    class Pressed(Message):
        """A card was pressed with the mouse (selection happens at once, a drag may follow)."""

        def __init__(self, card_list: CardList, index: int, screen_x: int, screen_y: int) -> None:
            super().__init__()
            self.card_list = card_list
            self.index = index
            self.screen_x = screen_x
            self.screen_y = screen_y

    class Dragged(Message):
        """The pointer moved while a card is held; coordinates are screen cells."""

        def __init__(self, screen_x: int, screen_y: int, released: bool) -> None:
            super().__init__()
            self.screen_x = screen_x
            self.screen_y = screen_y
            self.released = released

    def __init__(self, column_id: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.column_id = column_id
        self.views: list[CardView] = []
        self.selected: int | None = None
        self._holding = False
        self._strip_cache: OrderedDict[tuple, list[Strip]] = OrderedDict()
        self._styles: CardStyles | None = None

    # ------------------------------------------------------------------ data in

    def set_cards(self, views: list[CardView], selected: int | None) -> None:
        if views is not self.views:
            # Unchanged cards keep their view objects (the app caches them): identity is enough.
            same = len(views) == len(self.views) and all(
                a is b for a, b in zip(views, self.views, strict=True)
            )
            self.views = views
            if not same:
                self._update_virtual_size()
                self.refresh()
        if selected != self.selected:
            self.set_selected(selected)

    def set_selected(self, selected: int | None) -> None:
        if selected != self.selected:
            before, self.selected = self.selected, selected
            # Only the two cards repaint: a whole column with its scrollbar was a third of the
            # frame that answers a key on a busy board.
            for index in (before, selected):
                if index is not None:
                    self.refresh_lines(index * CARD_HEIGHT, CARD_HEIGHT)

    def _update_virtual_size(self) -> None:
        extra = 1 if self.drop_index is not None and self.drop_index >= len(self.views) else 0
        size = Size(self.scrollable_content_region.width, len(self.views) * CARD_HEIGHT + extra)
        if size != self.virtual_size:
            self.virtual_size = size

    def watch_drop_index(self) -> None:
        self._update_virtual_size()
        self.refresh()

    def invalidate_styles(self) -> None:
        self._styles = None
        self._strip_cache.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        # A theme change restyles the component classes: the cached styles and strips are stale.
        super().notify_style_update()
        self.invalidate_styles()

    def on_resize(self) -> None:
        self._update_virtual_size()

    # ------------------------------------------------------------------ drawing

    def _card_styles(self) -> CardStyles:
        if self._styles is None:
            get = self.get_component_rich_style
            base = self.rich_style
            self._styles = CardStyles(
                base=Style(bgcolor=base.bgcolor),
                border=get("card--border"),
                border_selected=get("card--border-selected"),
                border_error=get("card--border-error"),
                title=get("card--title"),
                meta=get("card--meta"),
                label=get("card--label"),
                priority=get("card--priority"),
                lint=get("card--lint"),
                waiting=get("card--waiting"),
                notice=get("card--notice"),
                drop=get("card--drop"),
                states={s: get(f"state--{s}") for s in STATE_CLASSES},
            )
        return self._styles

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = y + int(self.scroll_offset.y)
        index, row = divmod(line, CARD_HEIGHT)
        styles = self._card_styles()
        if self.drop_index is not None and row == 0 and index == self.drop_index:
            return drop_indicator(width, styles)
        if index >= len(self.views):
            return Strip.blank(width, styles.base)
        return self._strips(index, width, styles)[row]

    def _strips(self, index: int, width: int, styles: CardStyles) -> list[Strip]:
        view = self.views[index]
        selected = index == self.selected
        key = (view, width, selected)
        strips = self._strip_cache.get(key)
        if strips is None:
            strips = render_card(view, width, styles, selected)
            self._strip_cache[key] = strips
            if len(self._strip_cache) > 512:
                self._strip_cache.popitem(last=False)
        return strips

    # ------------------------------------------------------------------ geometry

    def index_at(self, local_y: int) -> int | None:
        """The card under a widget-relative row, or None below the last card."""
        index = (local_y + int(self.scroll_offset.y)) // CARD_HEIGHT
        return index if 0 <= index < len(self.views) else None

    def insertion_at(self, local_y: int) -> int:
        """Where a dropped card lands for a widget-relative row: before the card whose upper
        half is under the pointer, after it for the lower half."""
        absolute = local_y + int(self.scroll_offset.y)
        index, row = divmod(absolute, CARD_HEIGHT)
        if row > CARD_HEIGHT // 2:
            index += 1
        return max(0, min(index, len(self.views)))

    def scroll_to_card(self, index: int) -> None:
        region = Region(0, index * CARD_HEIGHT, max(1, self.size.width), CARD_HEIGHT)
        self.scroll_to_region(region, animate=False, immediate=True, force=True)

    # ------------------------------------------------------------------ mouse

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button not in (0, 1):
            return
        index = self.index_at(event.y)
        if index is None:
            return
        event.stop()
        self._holding = True
        self.capture_mouse()
        self.post_message(self.Pressed(self, index, event.screen_x, event.screen_y))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._holding:
            event.stop()
            self.post_message(self.Dragged(event.screen_x, event.screen_y, released=False))
            return
        index = self.index_at(event.y)
        tooltip = self.views[index].detail if index is not None else None
        if tooltip != self.tooltip:  # what each badge means, for the card under the pointer
            self.tooltip = tooltip

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._holding:
            event.stop()
            self._holding = False
            self.release_mouse()
            self.post_message(self.Dragged(event.screen_x, event.screen_y, released=True))


class ColumnHeader(Static):
    DEFAULT_CSS = """
    ColumnHeader { height: 1; padding: 0 1; background: $panel; color: $text; text-style: bold; }
    ColumnHeader.-active { background: $accent 40%; }
    ColumnHeader.-over-wip { color: $error; }
    """


class ColumnView(Vertical):
    DEFAULT_CSS = """
    ColumnView { width: 1fr; height: 1fr; }
    ColumnView.-drop-target > ColumnHeader { background: $accent; color: $text; }
    """

    def __init__(self, model: ColumnModel) -> None:
        super().__init__(id=widget_id("column", model.id))
        self.model = model
        self.header = ColumnHeader(id=widget_id("header", model.id))
        self._header_text: Text | None = None
        self.cards = CardList(model.id, id=widget_id("cards", model.id))

    def compose(self):
        yield self.header
        yield self.cards

    def on_mount(self) -> None:
        self.update_header()

    def on_resize(self) -> None:
        self.update_header()

    def update_header(self) -> None:
        m = self.model
        width = self.header.size.width - 2 if self.header.size.width else None  # padding 0 1
        text = header_text(m, width)
        if text != self._header_text:  # an update means a layout pass: only when it changed
            self._header_text = text
            self.header.update(text, layout=False)  # one line, always: no layout pass needed
        self.header.set_class(m.over_wip, "-over-wip")


def header_text(m: ColumnModel, width: int | None = None) -> Text:
    """``In Progress  2/3  over WIP  ⚠1``. When narrow, the title is cut first (with an ellipsis)
    and the words shorten, so the count and the WIP limit always show."""
    count = f"{m.total}/{m.wip}" if m.wip else str(m.total)
    if len(m.cards) != m.total:
        count = f"{len(m.cards)} of {count}"
    extras = ["  over WIP" if m.over_wip else "", f"  ⚠{m.errors}" if m.errors else ""]
    title = m.title
    if width is not None and len(title) + 2 + len(count) + sum(map(len, extras)) > width:
        extras = [" !" if m.over_wip else "", f" ⚠{m.errors}" if m.errors else ""]
        gap = " "
        room = width - len(gap) - len(count) - sum(map(len, extras))
        if len(title) > room:
            title = title[: max(room - 1, 1)].rstrip() + "…"
    else:
        gap = "  "
    text = Text.assemble((title, "bold"), gap, (count, "dim" if not m.over_wip else "bold"))
    for extra in extras:
        if extra:
            text.append(extra, "bold" if "!" in extra or "WIP" in extra else "")
    return text


EMPTY_BOARD_HINT = "No cards yet: press n to add a card, or run `kanban-agents new` in a shell."


class BoardView(Horizontal, can_focus=True):
    """Columns plus the selection. Keys that move the selection live here; keys that change
    the board are app actions that read ``selected_card_id``.

    The selection follows the data: it stays on its card wherever the card goes; when the card
    is filtered out, a visible one is selected; when the board gains its first card, that card
    is. When the app says the selected card was removed (``clear_selection``), nothing is
    selected until the user picks a card again."""

    DEFAULT_CSS = """
    BoardView { height: 1fr; width: 1fr; }
    BoardView:focus ColumnHeader.-active { background: $accent; }
    BoardView > #board-empty {
        dock: bottom; height: 60%; width: 1fr; display: none;
        content-align: center top; text-align: center; color: $text-muted;
    }
    BoardView.-empty > #board-empty { display: block; }
    """

    BINDINGS = bindings(Scope.BOARD)

    class SelectionChanged(Message):
        def __init__(self, card_id: str | None) -> None:
            super().__init__()
            self.card_id = card_id

    class MoveRequested(Message):
        """Move ``card_id`` into ``column`` just before ``before_id`` (None: at the end)."""

        def __init__(self, card_id: str, column: str, before_id: str | None) -> None:
            super().__init__()
            self.card_id = card_id
            self.column = column
            self.before_id = before_id

    def __init__(self, models: list[ColumnModel] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        # Columns known up front are composed with the board, so the first frame shows cards.
        self.models: list[ColumnModel] = list(models or [])
        self.column_views: list[ColumnView] = [ColumnView(m) for m in self.models]
        self.column_index = 0
        self.card_index: dict[str, int] = {}  # per column, so coming back keeps the place
        self._selected_id: str | None = None
        self._cleared = False  # the selected card was removed: nothing selected until a key
        self._empty_hint = Static(EMPTY_BOARD_HINT, id="board-empty")
        self._drag: tuple[str, int, int] | None = None  # (card id, press x, press y)
        self._dragging = False
        self._drop: tuple[ColumnView, int] | None = None

    def compose(self):
        yield from self.column_views
        yield self._empty_hint

    def on_mount(self) -> None:
        if self.models:
            self._restore_selection()
            self._push_selection()
        self._show_empty_hint()

    # ------------------------------------------------------------------ data in

    def set_columns(self, models: list[ColumnModel]) -> None:
        """Show new column models, keeping the selected card selected wherever it went."""
        had_cards = any(m.cards for m in self.models)
        if [m.id for m in models] != [m.id for m in self.models]:
            self.models = models
            self.remove_children(self.column_views)
            self.column_views = [ColumnView(m) for m in models]
            self.mount_all(self.column_views, before=self._empty_hint)
        else:
            self.models = models
            for view, model in zip(self.column_views, models, strict=True):
                if view.model is model:
                    continue  # a move rebuilds two columns and passes the others through
                view.model = model
                if view.is_mounted:
                    view.update_header()
        if not any(m.cards for m in models):
            self._cleared = False  # nothing to choose from: the first card to come is selected
        found = self._restore_selection()
        if not found and not self._cleared and (self._selected_id is not None or not had_cards):
            # The selected card went out of view (a filter), or the board gained its first card:
            # select a visible card, rather than nothing in an empty column.
            self._select_nearest_card()
        self._push_selection()
        self._show_empty_hint()

    def _show_empty_hint(self) -> None:
        self.set_class(bool(self.models) and all(m.total == 0 for m in self.models), "-empty")

    def _restore_selection(self) -> bool:
        """Put the selection back on its card; False when that card is not shown."""
        if self._selected_id is not None:
            for col, model in enumerate(self.models):
                for index, card in enumerate(model.cards):
                    if card.id == self._selected_id:
                        self.column_index = col
                        self.card_index[model.id] = index
                        return True
        self.column_index = min(self.column_index, max(0, len(self.models) - 1))
        return False

    def _select_nearest_card(self) -> None:
        """When the active column shows no card: the nearest column that does."""
        if not self.models or self.models[self.column_index].cards:
            return
        here = self.column_index
        order = sorted(range(len(self.models)), key=lambda col: (abs(col - here), col))
        self.column_index = next((c for c in order if self.models[c].cards), here)

    def _push_selection(self) -> None:
        for col, (view, model) in enumerate(zip(self.column_views, self.models, strict=True)):
            active = col == self.column_index
            index = self._clamped_index(model) if active and not self._cleared else None
            view.cards.set_cards(model.cards, index)
            view.header.set_class(active, "-active")
        card_id = self.selected_card_id
        if card_id != self._selected_id:
            self._selected_id = card_id
            self.post_message(self.SelectionChanged(card_id))
        self._scroll_selection_into_view()

    def _clamped_index(self, model: ColumnModel) -> int | None:
        if not model.cards:
            return None
        index = min(self.card_index.get(model.id, 0), len(model.cards) - 1)
        self.card_index[model.id] = index
        return index

    def _scroll_selection_into_view(self) -> None:
        if not self.models:
            return
        model = self.models[self.column_index]
        index = self._clamped_index(model)
        if index is not None:
            self.column_views[self.column_index].cards.scroll_to_card(index)

    # ------------------------------------------------------------------ selection

    @property
    def selected_column(self) -> ColumnModel | None:
        return self.models[self.column_index] if self.models else None

    @property
    def selected_card(self) -> CardView | None:
        model = self.selected_column
        if model is None or self._cleared:
            return None
        index = self._clamped_index(model)
        return None if index is None else model.cards[index]

    @property
    def selected_card_id(self) -> str | None:
        card = self.selected_card
        return card.id if card else None

    def column_of(self, card_id: str) -> str | None:
        """The column the card is shown in (moves not yet written included)."""
        return next((m.id for m in self.models if any(v.id == card_id for v in m.cards)), None)

    def clear_selection(self) -> None:
        """Select nothing (the selected card was removed) until the user picks a card."""
        self._cleared = True
        self._push_selection()

    def select_card_id(self, card_id: str) -> bool:
        self._selected_id = card_id
        for col, model in enumerate(self.models):
            for index, card in enumerate(model.cards):
                if card.id == card_id:
                    self._cleared = False
                    self.column_index = col
                    self.card_index[model.id] = index
                    self._selected_id = None  # force a SelectionChanged
                    self._push_selection()
                    return True
        return False

    def action_select_column(self, delta: int) -> None:
        """h / l: the neighbouring column; the ends of the board are ends (no wrapping)."""
        if self.models:
            self.column_index = max(0, min(len(self.models) - 1, self.column_index + delta))
            self._cleared = False
            self._push_selection()

    def action_select_card(self, delta: int) -> None:
        model = self.selected_column
        if model and model.cards:
            if self._cleared:  # the first key after a removal selects where the card was
                self._cleared = False
                delta = 0
            current = self._clamped_index(model) or 0
            self.card_index[model.id] = max(0, min(len(model.cards) - 1, current + delta))
            self._push_selection()

    def action_select_edge(self, last: int) -> None:
        model = self.selected_column
        if model and model.cards:
            self._cleared = False
            self.card_index[model.id] = len(model.cards) - 1 if last else 0
            self._push_selection()

    # ------------------------------------------------------------------ mouse: click and drag

    def on_card_list_pressed(self, message: CardList.Pressed) -> None:
        message.stop()
        col = next(i for i, v in enumerate(self.column_views) if v.cards is message.card_list)
        self._cleared = False
        self.column_index = col
        self.card_index[self.models[col].id] = message.index
        self._push_selection()
        self.focus()
        card = self.models[col].cards[message.index]
        self._drag = (card.id, message.screen_x, message.screen_y)
        self._dragging = False

    def on_card_list_dragged(self, message: CardList.Dragged) -> None:
        message.stop()
        if self._drag is None:
            return
        card_id, x0, y0 = self._drag
        if not self._dragging and (message.screen_x, message.screen_y) != (x0, y0):
            self._dragging = True
        target = self._drop_target(message.screen_x, message.screen_y) if self._dragging else None
        self._show_drop(target)
        if message.released:
            self._drag = None
            self._dragging = False
            self._show_drop(None)
            if target is not None:
                column_view, position = target
                self._request_drop(card_id, column_view.model, position)

    def _drop_target(self, x: int, y: int) -> tuple[ColumnView, int] | None:
        try:
            widget, _region = self.app.get_widget_at(x, y)
        except Exception:  # outside every widget
            return None
        for node in widget.ancestors_with_self:
            if isinstance(node, CardList):
                column_view = node.parent
                return column_view, node.insertion_at(y - node.region.y)
            if isinstance(node, ColumnHeader):
                return node.parent, 0
            if isinstance(node, ColumnView):
                return node, len(node.model.cards)
        return None

    def _show_drop(self, target: tuple[ColumnView, int] | None) -> None:
        if target == self._drop:
            return
        self._drop = target
        for view in self.column_views:
            hit = target is not None and target[0] is view
            view.set_class(hit, "-drop-target")
            view.cards.drop_index = target[1] if hit else None

    def _request_drop(self, card_id: str, model: ColumnModel, position: int) -> None:
        ids = [c.id for c in model.cards]
        if card_id in ids:
            current = ids.index(card_id)
            if position in (current, current + 1):
                return  # dropped where it already is
        # Error cards are listed first but have no order: land before the next real card.
        before = next((c.id for c in model.cards[position:] if not c.is_error), None)
        self.post_message(self.MoveRequested(card_id, model.id, before))

    @property
    def dragging(self) -> bool:
        return self._dragging
