"""The dependency graph of the unfinished cards, drawn with Rich for a terminal.

Pure drawing, no Textual: ``kanban-agents graph`` prints it, and the TUI's graph screen
(``tui/graph.py``) shows the same lines in theme colours.

Layered left to right (``GraphPlan.layers``): each card is a small box, each dependency a line
from the right side of the card it waits on to the left side of the card that waits. Edges that
skip layers pass through the layers between as plain lines (Sugiyama's "dummy nodes"), and the
order inside a layer follows the neighbours' positions, so lines mostly run straight.

Drawing is a pure function over a character grid (``graph_lines``); the caller chooses the
colours (``GraphStyles``).

Ports are on fixed rows of a node's slot, different for leaving and entering lines, so two
different edges can only meet where they cross (``┼``) or where they go into the same card. A line
passing through a layer uses another row, chosen so that it never shares a row in a gap with a
different line passing through the next layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from ..core.card import Card
from ..core.graph import GraphPlan
from .badges import STATE_BADGES, STATE_STYLES

NODE_WIDTH = 28
SLOT_HEIGHT = 6  # a box of 5 rows and one blank row
OUT_ROW = 1  # a card's lines leave from this row of its box (right side) ...
IN_ROW = 2  # ... and enter at this one (left side)
PASS_ROWS = (3, 4)  # a line passing through a layer runs straight along one of these rows
SUMMARY_IDS = 8  # ids listed in one summary line before "+N more"

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
LINE_GLYPHS = {
    LEFT: "─", RIGHT: "─", LEFT | RIGHT: "─", UP: "│", DOWN: "│", UP | DOWN: "│",
    DOWN | RIGHT: "╭", DOWN | LEFT: "╮", UP | RIGHT: "╰", UP | LEFT: "╯",
    UP | DOWN | RIGHT: "├", UP | DOWN | LEFT: "┤", LEFT | RIGHT | DOWN: "┬",
    LEFT | RIGHT | UP: "┴", UP | DOWN | LEFT | RIGHT: "┼",
}  # fmt: skip
LIGHT_BOX = ("╭", "╮", "╰", "╯", "─", "│")
HEAVY_BOX = ("┏", "┓", "┗", "┛", "━", "┃")


@dataclass(frozen=True)
class GraphStyles:
    """Rich styles for the drawing. The defaults are plain terminal colours (``kanban-agents
    graph``); the TUI's screen resolves them from theme-aware component classes."""

    base: Style = field(default_factory=Style)
    border: Style = field(default_factory=lambda: Style(dim=True))
    border_ready: Style = field(default_factory=lambda: Style(color="green"))
    border_critical: Style = field(default_factory=lambda: Style(color="magenta", bold=True))
    border_error: Style = field(default_factory=lambda: Style(color="red", bold=True))
    title: Style = field(default_factory=lambda: Style(bold=True))
    meta: Style = field(default_factory=lambda: Style(dim=True))
    waiting: Style = field(default_factory=lambda: Style(italic=True))
    ready: Style = field(default_factory=lambda: Style(color="green", bold=True))
    error: Style = field(default_factory=lambda: Style(color="red", bold=True))
    critical: Style = field(default_factory=lambda: Style(color="magenta", bold=True))
    edge: Style = field(default_factory=Style)
    edge_critical: Style = field(default_factory=lambda: Style(color="magenta", bold=True))
    heading: Style = field(default_factory=lambda: Style(bold=True))
    states: Mapping[str, Style] = field(default_factory=lambda: dict(STATE_STYLES))


@dataclass(frozen=True)
class _Pass:
    """Where an edge that skips layers crosses one layer."""

    edge: tuple[str, str]
    layer: int


_Item = str | _Pass


@dataclass
class _Layout:
    layers: list[list[_Item]]
    succ: dict[_Item, list[_Item]]
    pred: dict[_Item, list[_Item]]
    hot: set[tuple[_Item, _Item]]  # segments of critical-path edges
    top: dict[_Item, int]  # first row of each item's slot
    out_y: dict[_Item, int]  # the row where an item's lines leave it
    in_y: dict[_Item, int]  # the row where lines enter it
    x: list[int]  # left column of each layer
    gutters: list[dict[_Item, int]]  # per gap between layers: the track of each source
    gutter_widths: list[int]
    width: int
    height: int


# ---------------------------------------------------------------------------- summary


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:SUMMARY_IDS])
    more = len(ids) - SUMMARY_IDS
    return shown + (f" +{more} more" if more > 0 else "")


def _num(value: float) -> str:
    return f"{value:g}"


def summary_lines(graph: GraphPlan, styles: GraphStyles | None = None) -> list[Text]:
    """The header: what can start now, the longest chain, how many agents can help, what waits."""
    s = styles or GraphStyles()
    lines = []
    ready = Text.assemble(("ready now: ", s.heading), (str(len(graph.ready)), s.ready))
    if graph.ready:
        ready.append(f" ({_ids(graph.ready)})")
    lines.append(ready)
    chain = Text.assemble(
        ("longest chain: ", s.heading),
        (_num(graph.critical_length), s.critical),
        " (estimate units)",
    )
    if graph.critical_path:
        chain.append(": ")
        path = graph.critical_path
        shown = path if len(path) <= SUMMARY_IDS else [*path[:3], "…", *path[-3:]]
        chain.append(" → ".join(shown), s.critical)
    lines.append(chain)
    lines.append(
        Text.assemble(
            ("useful parallelism: ", s.heading),
            (f"{graph.parallelism:.1f}", s.critical),
            f" (total work {_num(graph.total_work)} / longest chain "
            f"{_num(graph.critical_length)}): more agents will not finish sooner",
        )
    )
    blocked = Text.assemble(("blocked: ", s.heading), str(len(graph.blocked)))
    if graph.blocked:
        blocked.append(f" ({_ids(sorted(graph.blocked))})")
    lines.append(blocked)
    for cycle in graph.cycles:
        loop = " → ".join([*cycle, cycle[0]])
        lines.append(Text.assemble(("⚠ dependency cycle: ", s.error), (loop, s.error)))
    for card_id, missing in sorted(graph.unknown.items()):
        lines.append(
            Text.assemble(
                ("⚠ unknown dependency: ", s.error),
                (f"{card_id} depends on {', '.join(missing)}, which no card is", s.error),
            )
        )
    return lines


# ---------------------------------------------------------------------------- layout


def _layout(graph: GraphPlan, node_width: int) -> _Layout:
    layer_of = {cid: graph.layers.get(cid, 0) for cid in graph.nodes}
    count = max(layer_of.values(), default=-1) + 1
    succ: dict[_Item, list[_Item]] = {}
    pred: dict[_Item, list[_Item]] = {}
    hot_edges = set(pairwise(graph.critical_path))
    hot: set[tuple[_Item, _Item]] = set()
    passes: list[list[_Item]] = [[] for _ in range(count)]
    for dep, card_id in graph.edges:
        if dep not in layer_of or card_id not in layer_of:
            continue
        if layer_of[dep] >= layer_of[card_id]:
            continue  # a cycle's edge: not drawn as a line, listed in the box instead
        chain: list[_Item] = [dep]
        for layer in range(layer_of[dep] + 1, layer_of[card_id]):
            item = _Pass((dep, card_id), layer)
            passes[layer].append(item)
            chain.append(item)
        chain.append(card_id)
        for a, b in pairwise(chain):
            succ.setdefault(a, []).append(b)
            pred.setdefault(b, []).append(a)
            if (dep, card_id) in hot_edges:
                hot.add((a, b))

    # Critical cards first, then the plan's stable topological order.
    critical = {cid: i for i, cid in enumerate(graph.critical_path)}
    first = sorted(graph.nodes, key=lambda c: (c not in critical, critical.get(c, 0)))
    layers: list[list[_Item]] = [[] for _ in range(count)]
    for cid in first:
        layers[layer_of[cid]].append(cid)
    for layer, items in enumerate(passes):
        layers[layer].extend(items)
    pinned = set(critical) | {item for pair in hot for item in pair}
    _order_by_neighbours(layers, succ, pred, pinned)

    top = {item: i * SLOT_HEIGHT for items in layers for i, item in enumerate(items)}
    out_y = {item: top[item] + OUT_ROW for item in top}
    in_y = {item: top[item] + IN_ROW for item in top}
    for layer in range(1, count):
        before = {top[item]: item for item in layers[layer - 1] if isinstance(item, _Pass)}
        for item in layers[layer]:
            if not isinstance(item, _Pass):
                continue
            (previous,) = pred[item]
            rows = list(PASS_ROWS)
            if isinstance(previous, _Pass):  # keep a long line on its row when it can
                rows.sort(key=lambda r: r != out_y[previous] - top[previous])
            beside = before.get(top[item])
            if beside is not None and beside.edge != item.edge:
                rows.remove(out_y[beside] - top[beside])
            in_y[item] = out_y[item] = top[item] + rows[0]

    # Tracks: one vertical line per source in each gap; sources whose lines span disjoint rows
    # share a track, so parallel chains keep the gaps narrow.
    gutters: list[dict[_Item, int]] = []
    widths: list[int] = []
    for layer in range(count - 1):
        spans = []
        for item in layers[layer]:
            targets = succ.get(item, [])
            if not targets:
                continue
            rows = [out_y[item], *(in_y[t] for t in targets)]
            spans.append((min(rows), max(rows), item))
        spans.sort(key=lambda span: (span[0], span[1]))
        ends: list[int] = []  # last row used by each track
        tracks: dict[_Item, int] = {}
        for start, end, item in spans:
            free = next((i for i, last in enumerate(ends) if last < start), None)
            if free is None:
                ends.append(end)
                free = len(ends) - 1
            else:
                ends[free] = end
            tracks[item] = free
        gutters.append(tracks)
        widths.append(len(ends) + 3 if ends else 3)
    x = [0]
    for gap in widths:
        x.append(x[-1] + node_width + gap)
    tallest = max((len(items) for items in layers), default=0)
    return _Layout(
        layers=layers,
        succ=succ,
        pred=pred,
        hot=hot,
        top=top,
        out_y=out_y,
        in_y=in_y,
        x=x[:count],
        gutters=gutters,
        gutter_widths=widths,
        width=(x[count - 1] + node_width) if count else 0,
        height=max(0, tallest * SLOT_HEIGHT - 1),
    )


def _order_by_neighbours(layers: list[list[_Item]], succ: Mapping[_Item, list[_Item]],
                         pred: Mapping[_Item, list[_Item]], pinned: set[_Item]) -> None:  # fmt: skip
    """Barycentre heuristic: sweep right then left, placing each item near its neighbours'
    mean position. Items without neighbours on that side keep their place; the critical path
    (``pinned``, one item a layer) stays on top, so it reads as one straight line."""
    for sweep in range(8):
        forward = sweep % 2 == 0
        order = range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)
        for layer in order:
            other = layers[layer - 1] if forward else layers[layer + 1]
            position = {item: i for i, item in enumerate(other)}
            links = pred if forward else succ
            keyed = []
            for i, item in enumerate(layers[layer]):
                near = [position[n] for n in links.get(item, []) if n in position]
                if item in pinned:
                    keyed.append((-1.0, i, item))
                else:
                    keyed.append(((sum(near) / len(near)) if near else float(i), i, item))
            keyed.sort(key=lambda k: (k[0], k[1]))
            layers[layer][:] = [item for _, _, item in keyed]


# ---------------------------------------------------------------------------- canvas


class _Canvas:
    """A grid of cells: text with a style, or line directions merged into box-drawing glyphs."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.chars: list[list[str | None]] = [[None] * width for _ in range(height)]
        self.styles: list[list[Style | None]] = [[None] * width for _ in range(height)]
        self.lines = [[0] * width for _ in range(height)]
        self.hot = [[False] * width for _ in range(height)]

    def put(self, x: int, y: int, text: str, style: Style) -> int:
        """Write text from (x, y); wide characters take two cells. Returns the end column."""
        for char in text:
            wide = cell_len(char)
            if wide == 0 or x + wide > self.width:
                continue
            self.chars[y][x] = char
            self.styles[y][x] = style
            if wide == 2:
                self.chars[y][x + 1] = ""
                self.styles[y][x + 1] = style
            x += wide
        return x

    def link(self, x: int, y: int, directions: int, hot: bool) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.lines[y][x] |= directions
            self.hot[y][x] |= hot

    def hline(self, x1: int, x2: int, y: int, hot: bool) -> None:
        for x in range(x1, x2 + 1):
            self.link(x, y, (LEFT if x > x1 else 0) | (RIGHT if x < x2 else 0), hot)

    def vline(self, x: int, y1: int, y2: int, hot: bool) -> None:
        top, bottom = min(y1, y2), max(y1, y2)
        for y in range(top, bottom + 1):
            self.link(x, y, (UP if y > top else 0) | (DOWN if y < bottom else 0), hot)

    def to_lines(self, styles: GraphStyles) -> list[Text]:
        lines = []
        for y in range(self.height):
            line = Text(no_wrap=True, end="")
            run, run_style = [], styles.base
            for x in range(self.width):
                char = self.chars[y][x]
                if char is not None:
                    style = styles.base + (self.styles[y][x] or Style())
                elif self.lines[y][x]:
                    char = LINE_GLYPHS.get(self.lines[y][x], "┼")
                    edge = styles.edge_critical if self.hot[y][x] else styles.edge
                    style = styles.base + edge
                else:
                    char, style = " ", styles.base
                if style != run_style and run:
                    line.append("".join(run), run_style)
                    run = []
                run.append(char)
                run_style = style
            if run:
                line.append("".join(run), run_style)
            lines.append(line)
        return lines


# ---------------------------------------------------------------------------- drawing


def graph_lines(
    graph: GraphPlan,
    cards: Mapping[str, Card],
    states: Mapping[str, str | None],
    columns: Mapping[str, str],
    styles: GraphStyles | None = None,
    node_width: int = NODE_WIDTH,
) -> list[Text]:
    """The drawing, one Text per terminal row, every row the same width."""
    s = styles or GraphStyles()
    if not graph.nodes:
        return [Text("Every card is done: nothing waits on anything.", s.meta)]
    node_width = max(12, node_width)
    layout = _layout(graph, node_width)
    canvas = _Canvas(layout.width, layout.height)
    in_cycle = {cid for cycle in graph.cycles for cid in cycle}
    critical = set(graph.critical_path)
    show_estimates = len(set(graph.estimates.values())) > 1

    position: dict[_Item, tuple[int, int]] = {}
    for layer, items in enumerate(layout.layers):
        for slot, item in enumerate(items):
            position[item] = (layout.x[layer], slot * SLOT_HEIGHT)

    for item, (x, y) in position.items():
        if isinstance(item, _Pass):
            hot = (item, layout.succ[item][0]) in layout.hot
            row = layout.in_y[item]
            canvas.hline(x, x + node_width - 1, row, hot)
            canvas.link(x, row, LEFT, hot)
            canvas.link(x + node_width - 1, row, RIGHT, hot)
        else:
            _draw_node(canvas, item, x, y, node_width, graph, cards, states, columns, s,
                       critical=item in critical, in_cycle=item in in_cycle,
                       show_estimate=show_estimates,
                       has_out=bool(layout.succ.get(item)))  # fmt: skip

    for gap, tracks in enumerate(layout.gutters):
        start = layout.x[gap] + node_width
        arrow_x = start + layout.gutter_widths[gap] - 1
        for source, track in tracks.items():
            out_y = layout.out_y[source]
            track_x = start + 1 + track
            for target in layout.succ[source]:
                hot = (source, target) in layout.hot
                in_y = layout.in_y[target]
                canvas.link(start, out_y, LEFT, hot)
                canvas.hline(start, track_x, out_y, hot)
                canvas.vline(track_x, out_y, in_y, hot)
                if isinstance(target, _Pass):
                    canvas.hline(track_x, arrow_x, in_y, hot)
                    canvas.link(arrow_x, in_y, RIGHT, hot)
                else:
                    canvas.hline(track_x, arrow_x - 1, in_y, hot)
                    canvas.link(arrow_x - 1, in_y, RIGHT, hot)
                    style = s.edge_critical if hot else s.edge
                    canvas.put(arrow_x, in_y, "▶", style)
    return canvas.to_lines(s)


def render_graph(
    graph: GraphPlan,
    cards: Mapping[str, Card],
    states: Mapping[str, str | None],
    columns: Mapping[str, str],
    styles: GraphStyles | None = None,
    node_width: int = NODE_WIDTH,
) -> Text:
    """The summary lines, a blank line, then the drawing: what ``kanban-agents graph`` prints."""
    lines = [*summary_lines(graph, styles), Text(""),
             *graph_lines(graph, cards, states, columns, styles, node_width)]  # fmt: skip
    return Text("\n").join(lines)


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, with an ellipsis when cut."""
    if cell_len(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        if used + cell_len(char) > width - 1:
            break
        out.append(char)
        used += cell_len(char)
    return "".join(out).rstrip() + "…"


def _draw_node(canvas: _Canvas, card_id: str, x: int, y: int, width: int, graph: GraphPlan,
               cards: Mapping[str, Card], states: Mapping[str, str | None],
               columns: Mapping[str, str], s: GraphStyles, *, critical: bool, in_cycle: bool,
               show_estimate: bool, has_out: bool) -> None:  # fmt: skip
    card = cards.get(card_id)
    state = states.get(card_id)
    unknown = graph.unknown.get(card_id, [])
    ready = card_id in graph.ready
    is_error = in_cycle or bool(unknown)
    if is_error:
        border = s.border_error
    elif critical:
        border = s.border_critical
    elif state:
        border = s.states.get(state, s.border)
    elif ready:
        border = s.border_ready
    else:
        border = s.border
    tl, tr, bl, br, h, v = HEAVY_BOX if critical else LIGHT_BOX
    inner = width - 4
    right = x + width - 1

    # top border: the id
    label = _fit(card_id, width - 6)
    canvas.put(x, y, tl + h + " ", border)
    end = canvas.put(x + 3, y, label, border + Style(bold=True))
    canvas.put(end, y, " " + h * max(0, right - end - 1), border)
    canvas.put(right, y, tr, border)

    # the title, the state or column, what it waits on
    rows: list[list[tuple[str, Style]]] = []
    rows.append([(card.title if card else card_id, s.title)])
    status: list[tuple[str, Style]] = []
    if state:
        glyph, word = STATE_BADGES.get(state, ("•", state))
        status.append((f"{glyph} {word}", s.states.get(state, s.meta)))
    elif ready:
        status.append(("▶ ready", s.ready))
    column = columns.get(card_id)
    if column:
        status.append((" · " if status else "", s.meta))
        status.append((column, s.meta))
    rows.append(status)
    waits = [d for d in graph.blocked.get(card_id, []) if d not in unknown]
    detail: list[tuple[str, Style]] = []
    if in_cycle:
        detail.append(("⟲ cycle", s.error))
    if unknown:
        detail.append(("? " + ", ".join(unknown), s.error))  # no such card
    if waits:
        detail.append(("after " + ", ".join(waits), s.waiting))
    if not detail:
        detail.append(("no open dependencies", s.meta))
    rows.append([part for i, item in enumerate(detail)
                 for part in ([("  ", s.meta)] if i else []) + [item]])  # fmt: skip
    for offset, parts in enumerate(rows, start=1):
        canvas.put(x, y + offset, v + " ", border)
        room, col = inner, x + 2
        for text, style in parts:
            if room <= 0:
                break
            shown = _fit(text, room)
            col = canvas.put(col, y + offset, shown, style)
            room -= cell_len(shown)
        canvas.put(col, y + offset, " " * (right - col), s.base)
        canvas.put(right, y + offset, v, border)
    if has_out:
        canvas.put(right, y + OUT_ROW, "┣" if critical else "├", border)

    # bottom border: why it matters
    bottom_y = y + 4
    canvas.put(x, bottom_y, bl + h * (width - 2) + br, border)
    tag = "cycle" if in_cycle else ("unknown dep" if unknown else ("critical" if critical else ""))
    if tag:
        canvas.put(x + 2, bottom_y, f" {tag} ", s.error if is_error else s.critical)
    if show_estimate:
        estimate = f" est {_num(graph.estimates.get(card_id, 1.0))} "
        canvas.put(right - 1 - cell_len(estimate), bottom_y, estimate, s.meta)
