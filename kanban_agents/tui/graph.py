"""The dependency graph screen: the Rich drawing of ``render/graph.py`` in theme colours,
pre-rendered into strips and scrolled both ways."""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Label

from ..core.card import Card
from ..core.graph import GraphPlan
from ..render.badges import STATE_BADGES
from ..render.graph import GraphStyles, graph_lines, summary_lines

STATE_CLASSES = tuple(STATE_BADGES)


# ---------------------------------------------------------------------------- widgets


class GraphView(ScrollView, can_focus=True):
    """The drawing as pre-rendered strips; only the visible part of each is sent to the screen."""

    COMPONENT_CLASSES = {
        "graph--border", "graph--border-ready", "graph--border-critical", "graph--border-error",
        "graph--title", "graph--meta", "graph--waiting", "graph--ready", "graph--error",
        "graph--critical", "graph--edge", "graph--edge-critical", "graph--heading",
        *(f"state--{state}" for state in STATE_CLASSES),
    }  # fmt: skip

    DEFAULT_CSS = """
    GraphView { height: 1fr; background: $surface; scrollbar-size-vertical: 1; }
    GraphView > .graph--border { color: $foreground 45%; }
    GraphView > .graph--border-ready { color: $text-success; }
    GraphView > .graph--border-critical { color: $text-accent; text-style: bold; }
    GraphView > .graph--border-error { color: $text-error; text-style: bold; }
    GraphView > .graph--title { color: $text; text-style: bold; }
    GraphView > .graph--meta { color: $text-muted; }
    GraphView > .graph--waiting { color: $text-muted; text-style: italic; }
    GraphView > .graph--ready { color: $text-success; text-style: bold; }
    GraphView > .graph--error { color: $text-error; text-style: bold; }
    GraphView > .graph--critical { color: $text-accent; text-style: bold; }
    GraphView > .graph--edge { color: $foreground 60%; }
    GraphView > .graph--edge-critical { color: $text-accent; text-style: bold; }
    GraphView > .graph--heading { color: $text; text-style: bold; }
    GraphView > .state--queued { color: $text-warning; }
    GraphView > .state--preparing { color: $text-secondary; }
    GraphView > .state--running { color: $text-success; text-style: bold; }
    GraphView > .state--testing { color: $text-secondary; text-style: bold; }
    GraphView > .state--review { color: $text-primary; text-style: bold; }
    GraphView > .state--failed { color: $text-error; text-style: bold; }
    GraphView > .state--cancelled { color: $text-muted; }
    GraphView > .state--interrupted { color: $text-warning; text-style: bold; }
    GraphView > .state--merged { color: $text-success; }
    """

    def __init__(self, graph: GraphPlan, cards: Mapping[str, Card],
                 states: Mapping[str, str | None], columns: Mapping[str, str],
                 **kwargs) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.graph = graph
        self.cards = cards
        self.states = states
        self.columns = columns
        self._strips: list[Strip] | None = None
        self._base = Style()

    def graph_styles(self) -> GraphStyles:
        get = self.get_component_rich_style
        return GraphStyles(
            base=Style(bgcolor=self.rich_style.bgcolor),
            border=get("graph--border"),
            border_ready=get("graph--border-ready"),
            border_critical=get("graph--border-critical"),
            border_error=get("graph--border-error"),
            title=get("graph--title"),
            meta=get("graph--meta"),
            waiting=get("graph--waiting"),
            ready=get("graph--ready"),
            error=get("graph--error"),
            critical=get("graph--critical"),
            edge=get("graph--edge"),
            edge_critical=get("graph--edge-critical"),
            heading=get("graph--heading"),
            states={state: get(f"state--{state}") for state in STATE_CLASSES},
        )

    def _ensure_strips(self) -> list[Strip]:
        if self._strips is None:
            styles = self.graph_styles()
            self._base = styles.base
            lines = graph_lines(self.graph, self.cards, self.states, self.columns, styles)
            console = self.app.console
            self._strips = [
                Strip(list(line.render(console)), line.cell_len).simplify() for line in lines
            ]
            width = max((strip.cell_length for strip in self._strips), default=0)
            self.virtual_size = Size(width, len(self._strips))
        return self._strips

    def on_mount(self) -> None:
        self._ensure_strips()

    def notify_style_update(self) -> None:
        # A theme change restyles the component classes: the drawn strips are stale.
        super().notify_style_update()
        self._strips = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        strips = self._ensure_strips()
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = y + scroll_y
        if index >= len(strips):
            return Strip.blank(width, self._base)
        return strips[index].crop_extend(scroll_x, scroll_x + width, self._base)


class GraphSummary(Widget):
    """The summary lines above the drawing, in theme colours (resolved when drawn, so a theme
    change applies)."""

    COMPONENT_CLASSES = {"graph--heading", "graph--ready", "graph--critical", "graph--error"}
    DEFAULT_CSS = """
    GraphSummary { height: auto; }
    GraphSummary > .graph--heading { color: $text; text-style: bold; }
    GraphSummary > .graph--ready { color: $text-success; text-style: bold; }
    GraphSummary > .graph--critical { color: $text-accent; text-style: bold; }
    GraphSummary > .graph--error { color: $text-error; text-style: bold; }
    """

    def __init__(self, graph: GraphPlan, **kwargs) -> None:
        super().__init__(**kwargs)
        self.graph = graph

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    def render(self) -> Text:
        get = self.get_component_rich_style
        styles = GraphStyles(
            heading=get("graph--heading"),
            ready=get("graph--ready"),
            critical=get("graph--critical"),
            error=get("graph--error"),
        )
        return Text("\n").join(summary_lines(self.graph, styles))


class GraphScreen(ModalScreen[None]):
    """The dependency graph of the unfinished cards. Read-only: escape, q or g closes it."""

    DEFAULT_CSS = """
    GraphScreen { align: center middle; }
    GraphScreen > Vertical {
        width: 96%; height: 92%; border: thick $accent; background: $surface; padding: 0 1;
    }
    GraphScreen .title { text-style: bold; }
    GraphScreen #graph-summary { margin: 1 0; }
    GraphScreen .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,q,g", "close", "Close")]

    def __init__(self, graph: GraphPlan, cards: Mapping[str, Card],
                 states: Mapping[str, str | None], columns: Mapping[str, str]) -> None:  # fmt: skip
        super().__init__()
        self.graph = graph
        self.cards = cards
        self.states = states
        self.columns = columns

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                f"Dependency graph: {len(self.graph.nodes)} unfinished card(s)", classes="title"
            )
            yield GraphSummary(self.graph, id="graph-summary")
            yield GraphView(self.graph, self.cards, self.states, self.columns, id="graph-view")
            yield Label(
                "━ critical path  ▶ ready  ⚠ cycle/unknown dep  ·  arrows/pgup/pgdn scroll  ·  "
                "esc closes",
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one(GraphView).focus()

    def action_close(self) -> None:
        self.dismiss(None)
