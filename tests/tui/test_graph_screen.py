"""The dependency graph screen: the drawing as a pure function, then the modal screen in a tiny
app (Pilot and SVG snapshots)."""

from __future__ import annotations

from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual.app import App

from kanban_agents.core.card import Card, parse_card
from kanban_agents.core.graph import GraphPlan, plan
from kanban_agents.render.graph import GraphStyles, graph_lines, render_graph
from kanban_agents.tui.graph import GraphScreen, GraphView
from tests.helpers import screen_text

STARTED = {"in-progress", "review"}


def make_card(card_id: str, status: str = "todo", deps: tuple[str, ...] = (),
              estimate: float | None = None, title: str | None = None) -> Card:  # fmt: skip
    extra = f"depends_on: [{', '.join(deps)}]\n" if deps else ""
    if estimate is not None:
        extra += f"estimate: {estimate:g}\n"
    text = f"---\ntitle: {title or card_id.title()}\nstatus: {status}\n{extra}---\n\nBody.\n"
    return parse_card(Path(f"{card_id}.md"), text.encode())


def board(*cards: Card) -> dict[str, Card]:
    return {card.id: card for card in cards}


def graph_of(cards: dict[str, Card]) -> GraphPlan:
    return plan(cards, lambda c: c.status, "done", STARTED)


def columns_of(cards: dict[str, Card]) -> dict[str, str]:
    return {card_id: card.status or "" for card_id, card in cards.items()}


# setup -> api (3) -> docs -> release (2); setup -> ui -> docs; setup -> release (skips layers);
# a done card, a card depending only on the done one, and one with no links at all.
DAG = board(
    make_card("setup", title="Set up the project"),
    make_card("api", "in-progress", ("setup",), estimate=3, title="Build the API"),
    make_card("ui", deps=("setup",), title="Build the UI"),
    make_card("docs", deps=("api", "ui"), title="Write the docs"),
    make_card("release", deps=("docs", "setup"), estimate=2, title="Release it"),
    make_card("lonely", title="An unrelated chore"),
    make_card("old", "done", title="Already done"),
    make_card("uses-old", deps=("old",), title="Builds on finished work"),
)
STATES = {"api": "running", "ui": "failed"}

BROKEN = board(
    make_card("base"),
    make_card("x", deps=("y",)),
    make_card("y", deps=("x",)),
    make_card("z", deps=("ghost", "base")),
)

MARKED = GraphStyles(
    border=Style(color="white"),
    border_ready=Style(color="green"),
    border_critical=Style(color="magenta"),
    border_error=Style(color="red"),
    critical=Style(color="magenta"),
    error=Style(color="red"),
    edge=Style(color="grey50"),
    edge_critical=Style(color="magenta"),
)


def plain(lines: list[Text]) -> str:
    return "\n".join(line.plain for line in lines)


def style_at(lines: list[Text], needle: str) -> Style:
    """The style of the first cell of ``needle`` in the drawing."""
    for line in lines:
        column = line.plain.find(needle)
        if column >= 0:
            style = Style()
            for span in line.spans:
                if span.start <= column < span.end:
                    style += (
                        span.style if isinstance(span.style, Style) else Style.parse(span.style)
                    )
            return style
    raise AssertionError(f"{needle!r} is not in the drawing")


# ---------------------------------------------------------------------------- pure drawing


def test_drawing_shows_every_pending_card_and_not_the_done_one():
    graph = graph_of(DAG)
    text = plain(graph_lines(graph, DAG, STATES, columns_of(DAG)))
    for card_id in ("setup", "api", "ui", "docs", "release", "lonely", "uses-old"):
        assert f" {card_id} " in text, card_id
    assert " old " not in text
    assert "Set up the project" in text
    assert "● running · in-progress" in text
    assert "✖ failed · todo" in text
    assert "▶ ready · todo" in text
    assert "after api, ui" in text  # what docs waits on
    assert "after docs, setup" in text


def test_every_row_has_the_same_width():
    lines = graph_lines(graph_of(DAG), DAG, STATES, columns_of(DAG))
    assert len({line.cell_len for line in lines}) == 1


def test_critical_path_is_heavy_marked_and_coloured():
    graph = graph_of(DAG)
    assert graph.critical_path == ["setup", "api", "docs", "release"]
    lines = graph_lines(graph, DAG, STATES, columns_of(DAG), MARKED)
    text = plain(lines)
    for card_id in graph.critical_path:
        assert f"┏━ {card_id} " in text
        assert style_at(lines, f"┏━ {card_id} ").color.name == "magenta"
    for card_id in ("ui", "lonely", "uses-old"):
        assert f"╭─ {card_id} " in text
    assert text.count(" critical ") == len(graph.critical_path)
    # a ready card off the path is green; the edge into a critical card is the critical colour
    assert style_at(lines, "╭─ lonely ").color.name == "green"
    assert style_at(lines, "▶┃ ● running").color.name == "magenta"


def test_edges_end_in_arrows_into_each_dependent():
    graph = graph_of(DAG)
    text = plain(graph_lines(graph, DAG, STATES, columns_of(DAG)))
    arrows = text.count("▶│") + text.count("▶┃")
    # api, ui, docs and release have dependencies among the pending cards
    assert arrows == 4
    # setup fans out: its port, then a junction on the way down
    assert "┣─╮" in text


def test_summary_numbers():
    graph = graph_of(DAG)
    text = render_graph(graph, DAG, STATES, columns_of(DAG)).plain
    assert "ready now: 3 (lonely, setup, uses-old)" in text
    assert "longest chain: 7 (estimate units): setup → api → docs → release" in text
    assert "useful parallelism: 1.4 (total work 10 / longest chain 7)" in text
    assert "blocked: 4 (api, docs, release, ui)" in text
    assert "cycle" not in text


def test_cycle_and_unknown_dependency_are_errors():
    graph = graph_of(BROKEN)
    lines = graph_lines(graph, BROKEN, {}, columns_of(BROKEN), MARKED)
    text = plain(lines)
    assert "⟲ cycle  after y" in text
    assert "⟲ cycle  after x" in text
    assert "? ghost  after base" in text
    assert text.count("─ cycle ─") == 2  # the tag on the bottom border of x and y
    assert " unknown dep " in text
    # z is on the critical path (heavy border) but its error colour wins
    for needle in ("╭─ x ", "╭─ y ", "┏━ z "):
        assert style_at(lines, needle).color.name == "red"
    summary = render_graph(graph, BROKEN, {}, columns_of(BROKEN)).plain
    assert "⚠ dependency cycle: x → y → x" in summary
    assert "⚠ unknown dependency: z depends on ghost, which no card is" in summary


def test_long_titles_and_ids_are_cut_to_the_box():
    cards = board(make_card("a-very-long-card-identifier-indeed", title="T" * 80))
    lines = graph_lines(graph_of(cards), cards, {}, {}, node_width=20)
    text = plain(lines)
    assert "┏━ a-very-long-c… ━┓" in text
    assert "T" * 15 + "…" in text
    assert all(line.cell_len == 20 for line in lines)


def test_nothing_pending():
    cards = board(make_card("done-1", "done"))
    assert "Every card is done" in plain(graph_lines(graph_of(cards), cards, {}, {}))


def chain_board(count: int) -> dict[str, Card]:
    """``count`` cards in layers of about eight: each waits on one or two of the layer before."""
    cards = []
    for i in range(count):
        layer = i // 8
        deps = () if layer == 0 else (f"c{(layer - 1) * 8 + i % 8:02d}", f"c{(layer - 1) * 8:02d}")
        cards.append(make_card(f"c{i:02d}", deps=tuple(dict.fromkeys(deps))))
    return board(*cards)


def test_sixty_cards_draw():
    cards = chain_board(60)
    graph = graph_of(cards)
    lines = graph_lines(graph, cards, {}, columns_of(cards))
    text = plain(lines)
    for card_id in cards:
        assert f" {card_id} " in text
    assert len(lines) > 40 and lines[0].cell_len > 200


# ---------------------------------------------------------------------------- the screen


class GraphHost(App):
    def __init__(self, cards: dict[str, Card], states: dict[str, str | None] | None = None):
        super().__init__()
        self.cards = cards
        self.states = states or {}
        self.results: list[object] = []

    def on_mount(self) -> None:
        screen = GraphScreen(graph_of(self.cards), self.cards, self.states, columns_of(self.cards))
        self.push_screen(screen, self.results.append)


async def test_screen_shows_summary_and_cards():
    app = GraphHost(DAG, STATES)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "ready now: 3 (lonely, setup, uses-old)" in text
        assert "longest chain: 7" in text
        assert "useful parallelism: 1.4" in text
        for card_id in ("setup", "api", "docs", "release", "ui", "lonely"):
            assert f" {card_id} " in text


async def test_escape_q_and_g_close():
    for key in ("escape", "q", "g"):
        app = GraphHost(DAG)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, GraphScreen)
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, GraphScreen), key
            assert app.results == [None]


async def test_sixty_cards_scroll_both_ways():
    app = GraphHost(chain_board(60))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        view = app.screen.query_one(GraphView)
        assert view.has_focus
        assert view.virtual_size.width > view.size.width
        assert view.virtual_size.height > view.size.height
        assert "┏━ c00 " in screen_text(app)
        assert "╭─ c59 " not in screen_text(app)
        await pilot.press("end")  # to the bottom: the last card of the first layer
        await pilot.pause()
        assert view.scroll_offset.y == view.max_scroll_y > 0
        assert "╭─ c07 " in screen_text(app)
        assert "┏━ c00 " not in screen_text(app)
        await pilot.press("home", "right", "right")
        await pilot.pause()
        assert view.scroll_offset == (2, 0)
        await pilot.press(*["ctrl+pagedown"] * 4)  # a page right at a time, to the last layer
        await pilot.pause()
        assert view.scroll_offset.x == view.max_scroll_x > 0
        assert "┏━ c56 " in screen_text(app)  # the end of the critical path
        assert "┏━ c00 " not in screen_text(app)


async def test_theme_change_redraws_in_new_colours():
    app = GraphHost(DAG, STATES)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        view = app.screen.query_one(GraphView)
        dark = view.graph_styles().border_critical
        app.theme = "textual-light"
        await pilot.pause()
        light = view.graph_styles().border_critical
        assert dark.color != light.color
        line = view.render_line(0)
        assert any(seg.style and seg.style.color == light.color for seg in line)


def snapshot_host() -> GraphHost:
    cards = board(*(c for c in DAG.values()), *(c for c in BROKEN.values()))
    return GraphHost(cards, STATES)


def test_snapshot_dark(snap_compare):
    assert snap_compare(snapshot_host(), terminal_size=(130, 44))


def test_snapshot_light(snap_compare):
    async def light(pilot) -> None:
        pilot.app.theme = "textual-light"
        await pilot.pause()

    assert snap_compare(snapshot_host(), terminal_size=(130, 44), run_before=light)
