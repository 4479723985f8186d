"""How a card looks: a small view model built from core data, drawn as fixed-height strips.

Cards have a fixed height so a column can be virtualised (only visible cards are drawn) and a
mouse position maps to a card by arithmetic: that is what keeps 5,000 cards responsive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from ..core.events import RunStatus
from ..core.log_format import format_cost
from ..render.badges import PR_BADGE, SCOPE_BADGE, STATE_BADGES, base_behind_badge

CARD_HEIGHT = 5  # border, two title lines, badge line, border


# What a card's badge line means, for the ? help (the README says the same).
BADGE_HELP: tuple[tuple[str, str], ...] = (
    (" ".join(glyph for glyph, _ in STATE_BADGES.values()),
     "the run's state: " + ", ".join(word for _, word in STATE_BADGES.values())),
    ("r2 6 steps 6.0k", "run number (r2: the second run), the agent's steps in it (6st when "
     "the card is narrow), tokens used"),
    ("~6.0k  2m", "~: tokens estimated (the server reports none); 2m: time the run has taken"),
    ("⚠ unconfined", "the agent's commands run without a sandbox, with your rights (sandbox "
     "mode off or unavailable, or a profile with sandbox = false)"),
    ("⚡1", "conflicts or overlapping files with other cards (hover for which)"),
    ("✎ 3", "line comments on its diff, waiting to be sent back (b) to the agent"),
    ("↳ card-id", "waits on these depends_on cards to be done"),
    ("⚠ lint", "not yet operating instructions (hover for what is missing)"),
    (SCOPE_BADGE, "its work changes files outside the card's files, or its own tests (merging asks first)"),
    (base_behind_badge(3), "its base branch moved on by 3 commits: R rebases the card onto it"),
    (PR_BADGE, "a pull request is open for it (P); the card moves to done once it is merged"),
)  # fmt: skip


@dataclass(frozen=True)
class CardView:
    """Everything a card widget shows; equal views draw identically (used as a cache key)."""

    id: str
    title: str
    priority: str | None = None
    labels: tuple[str, ...] = ()
    lint: tuple[str, ...] = ()  # finding messages
    lint_codes: tuple[str, ...] = ()
    state: str | None = None
    run: int = 0  # the run number (r2: the agent's second run on this card)
    steps: int = 0
    tokens: int = 0
    tokens_estimated: bool = False  # the model server gave no usage: shown as ~2.4k
    cost: float | None = None  # dollars of all the card's runs; None: unknown (tokens only)
    elapsed: str = ""
    waiting_on: tuple[str, ...] = ()  # depends_on cards not done yet
    notices: tuple[str, ...] = ()  # overlaps, conflicts
    scope: tuple[str, ...] = ()  # files its work changed that the card did not ask for, in words
    behind: int = 0  # commits its base branch moved on by since its branch left it
    pr: str = ""  # the URL of its pull request
    comments: int = 0  # line comments of its review not yet sent back
    error: str | None = None  # malformed file: the parse message
    unconfined: bool = False  # the run's commands are not in a sandbox

    @property
    def is_error(self) -> bool:
        return self.error is not None

    @property
    def detail(self) -> str:
        """The tooltip: what the badges mean for this card, in words."""
        if self.error:
            return f"{self.id}.md cannot be read: {self.error}\nPress e to fix it in your editor."
        parts = [self.title]
        if self.state:
            parts.append(
                f"agent: {self.state}"
                + (f" (run {self.run})" if self.run else "")
                + (
                    f", {self.steps} steps, {'~' if self.tokens_estimated else ''}"
                    f"{self.tokens} tokens{' (estimated)' if self.tokens_estimated else ''}"
                    if self.steps
                    else ""
                )
            )
        if self.unconfined:
            parts.append(
                "unconfined: the agent's commands run with your rights (no sandbox): they can "
                "read and write your files and read your environment"
            )
        if self.cost is not None:
            parts.append(f"cost so far (all runs): {format_cost(self.cost)}")
        if self.waiting_on:
            parts.append("waits on: " + ", ".join(self.waiting_on))
        parts.extend(self.notices)
        parts.extend(self.scope)
        if self.behind:
            parts.append(
                f"its base moved on by {self.behind} commit{'s' * (self.behind != 1)} (R rebases)"
            )
        if self.pr:
            parts.append(f"pull request: {self.pr}")
        if self.comments:
            parts.append(
                f"{self.comments} line comment{'s' * (self.comments != 1)} to send back (b)"
            )
        if self.lint:
            parts.append("not yet operating instructions:")
            parts.extend(f"  - {message}" for message in self.lint)
        return "\n".join(parts)


def format_elapsed(status: RunStatus | None, now: float | None = None) -> str:
    if status is None or status.started is None:
        return ""
    end = status.finished or (now if now is not None else time.time())
    seconds = max(0, int(end - status.started))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_tokens(tokens: int, estimated: bool = False) -> str:
    mark = "~" if estimated else ""  # our estimate: the server reported no usage
    if tokens < 1000:
        return f"{mark}{tokens}"
    if tokens < 1_000_000:
        return f"{mark}{tokens / 1000:.1f}k"
    return f"{mark}{tokens / 1_000_000:.1f}M"


@dataclass(frozen=True)
class CardStyles:
    """Rich styles resolved from the widget's component classes (so themes apply)."""

    base: Style
    border: Style
    border_selected: Style
    border_error: Style
    title: Style
    meta: Style
    label: Style
    priority: Style
    lint: Style
    waiting: Style
    notice: Style
    drop: Style
    states: dict[str, Style]


def render_card(
    view: CardView, width: int, styles: CardStyles, selected: bool, dimmed: bool = False
) -> list[Strip]:
    """The card as CARD_HEIGHT strips of exactly ``width`` cells."""
    inner = max(1, width - 4)
    border = (
        styles.border_error
        if view.is_error
        else (styles.border_selected if selected else styles.border)
    )
    base = styles.base
    if dimmed:
        border = border + Style(dim=True)

    top = _border_line("╭", "╮", width, border, base, view.id, view.priority, styles)
    bottom = _border_line("╰", "╯", width, border, base, None, None, styles)
    if view.is_error:
        title = Text(f"⚠ {view.id}.md", style=styles.border_error + Style(bold=True))
        lines = [
            title,
            *_wrap(Text(view.error or "", style=styles.meta), inner, 1),
            Text("e: edit to fix", style=styles.meta),
        ]
    else:
        title_lines = _wrap(Text(view.title, style=styles.title), inner, 2)
        if len(title_lines) == 1:
            labels = Text(" ".join(f"#{label}" for label in view.labels), style=styles.label)
            title_lines.append(labels)
        lines = [*title_lines, _badges(view, styles, inner)]
    body = [_side_line(line, inner, border, base, dimmed) for line in lines[:3]]
    while len(body) < 3:
        body.append(_side_line(Text(""), inner, border, base, dimmed))
    return [top, *body, bottom]


def drop_indicator(width: int, styles: CardStyles) -> Strip:
    label = " drop here "
    bar = "━" * max(0, (width - len(label)) // 2)
    text = (bar + label + bar).ljust(width, "━")[:width]
    return Strip([Segment(text, styles.drop)], width)


def _badges(view: CardView, styles: CardStyles, width: int | None = None) -> Text:
    """State first, then what needs attention (conflicts, waits, lint), then the run's numbers,
    which are the first to be cut when the card is narrow (``6 steps`` becomes ``6st`` first)."""
    text = Text()
    if view.state:
        glyph, word = STATE_BADGES.get(view.state, ("•", view.state))
        text.append(f"{glyph} {word}", styles.states.get(view.state, styles.meta))
    if view.unconfined:
        _gap(text)
        text.append("⚠ unconfined", styles.notice)
    if view.comments:  # before ⚡: what the reviewer wrote must not be cut on a narrow card
        _gap(text)
        text.append(f"✎ {view.comments}", styles.notice)
    if view.notices:
        _gap(text)
        text.append(f"⚡{len(view.notices)}", styles.notice)
    if view.scope:
        _gap(text)
        text.append(SCOPE_BADGE, styles.notice)
    if view.behind:
        _gap(text)
        text.append(base_behind_badge(view.behind), styles.waiting)
    if view.pr:
        _gap(text)
        text.append(PR_BADGE, styles.label)
    if view.waiting_on:
        _gap(text)
        text.append("↳ " + ",".join(view.waiting_on), styles.waiting)
    if view.lint:
        _gap(text)
        text.append(f"⚠ {_lint_word(view)}", styles.lint)
    if view.run or view.steps or view.tokens or view.elapsed or view.cost is not None:
        _gap(text)
        numbers = _numbers(view, short=False)
        if width is not None and text.cell_len + len(numbers) > width:
            numbers = _numbers(view, short=True)
        text.append(numbers, styles.meta)
    return text


def _numbers(view: CardView, short: bool) -> str:
    """The run's numbers: run number, steps, tokens, time (``r2 6 steps 6.0k 1m05s``)."""
    numbers = []
    if view.run:
        numbers.append(f"r{view.run}")  # not "#": that read as a count
    if view.steps:
        numbers.append(
            f"{view.steps}st" if short else f"{view.steps} step" + "s" * (view.steps != 1)
        )
    if view.tokens:
        numbers.append(format_tokens(view.tokens, view.tokens_estimated))
    if view.cost is not None:
        numbers.append(format_cost(view.cost))
    if view.elapsed:
        numbers.append(view.elapsed)
    return " ".join(numbers)


def _lint_word(view: CardView) -> str:
    if len(view.lint_codes) == 1:
        return view.lint_codes[0].replace("no-", "no ")
    return f"{len(view.lint_codes)} lint"


def _gap(text: Text) -> None:
    if text.plain:
        text.append("  ")


def _wrap(text: Text, width: int, max_lines: int) -> list[Text]:
    lines = list(text.wrap(_CONSOLE, width, overflow="fold")) if text.plain else [text]
    if len(lines) > max_lines:
        for line in lines:
            line.rstrip()  # wrapped lines keep their trailing space: no double space when joined
        kept = lines[: max_lines - 1]
        rest = Text(" ").join(lines[max_lines - 1 :])
        rest.truncate(width, overflow="ellipsis")
        lines = [*kept, rest]
    return lines


def _side_line(text: Text, inner: int, border: Style, base: Style, dimmed: bool) -> Strip:
    text = text.copy()
    text.truncate(inner, overflow="ellipsis", pad=True)
    # Border glyphs get segments of their own: SVG renderers misplace "│" sharing a run with spaces.
    segments = [Segment("│", border), Segment(" ", base)]
    # Text.render leaves out the text's own style when it has no spans: add it back.
    own = base + _CONSOLE.get_style(text.style) if text.style else base
    for segment in text.render(_CONSOLE):
        style = own + segment.style if segment.style else own
        if dimmed:
            style += Style(dim=True)
        segments.append(Segment(segment.text, style))
    segments.extend((Segment(" ", base), Segment("│", border)))
    return Strip(segments, inner + 4)


def _border_line(
    left: str,
    right: str,
    width: int,
    border: Style,
    base: Style,
    label: str | None,
    priority: str | None,
    styles: CardStyles,
) -> Strip:
    inner = width - 2
    segments = [Segment(left, border)]
    used = 0
    if label:
        room = max(0, inner - 3 - (len(priority) + 3 if priority else 0))
        shown = label if len(label) <= room else label[: max(0, room - 1)] + "…"
        if shown:
            segments.append(Segment("─ ", border))
            segments.append(Segment(shown, border + Style(bold=False)))
            segments.append(Segment(" ", border))
            used = len(shown) + 3
    tail = []
    if priority and inner - used >= len(priority) + 3:
        tail = [Segment(" ", border), Segment(priority, styles.priority), Segment(" ─", border)]
        used += len(priority) + 3
    segments.append(Segment("─" * max(0, inner - used), border))
    segments.extend(tail)
    segments.append(Segment(right, border))
    return Strip(segments, width).adjust_cell_length(width)


class _NullFile:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _make_console():
    from rich.console import Console

    return Console(
        file=_NullFile(),
        width=400,
        color_system="truecolor",
        legacy_windows=False,
        force_terminal=True,
        no_color=False,
    )


_CONSOLE = _make_console()
