"""The side panel for the selected card: Card, Log, Diff and Tests tabs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from rich.console import Group
from rich.highlighter import Highlighter
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.compose import compose
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Log, Static

from ..core.card import KNOWN_KEYS, Card, CardError
from .card import CardView
from .diff_view import DiffLines, DiffView
from .textual_internals import QuietLog
from .wrapping_log import WrappingLog

META_ORDER = tuple(
    k for k in KNOWN_KEYS if k not in ("title", "order")
)  # the card format's own keys first


def _once_built(method: Callable) -> Callable:
    """A panel method that changes what the tabs show: called before they are mounted (the
    first frame shows the board without them), it is kept and run, in order, once they are."""

    @wraps(method)
    def call(self: SidePanel, *args, **kwargs) -> None:
        if self.built:
            method(self, *args, **kwargs)
        else:
            self._calls_before_built.append((method, args, kwargs))

    return call


class LogHighlighter(Highlighter):
    """Colours the log by the marker each line starts with (see ``tui.log_format``)."""

    STYLES = {
        "▶": Style(color="cyan", bold=True),  # tool call
        "✔": Style(color="green"),
        "✖": Style(color="red", bold=True),
        "◆": Style(color="magenta", bold=True),  # state change
        "│": Style(dim=True),  # folded output
        "$": Style(color="yellow"),
        "!": Style(color="yellow", bold=True),
        "»": Style(),  # assistant text
        "✉": Style(color="bright_blue", bold=True),  # your message to the running agent
    }

    def highlight(self, text: Text) -> None:
        plain = text.plain
        style = self.STYLES.get(plain[:1])
        if style is not None:
            text.stylize(style)


class SidePanel(Vertical):
    DEFAULT_CSS = """
    SidePanel { width: 40%; min-width: 36; height: 1fr; border-left: vkey $panel-lighten-2; }
    SidePanel.-wide { width: 62%; }
    SidePanel.-hidden { display: none; }
    SidePanel #card-meta { padding: 0 1; }
    SidePanel #card-body-plain { padding: 1 1; }
    SidePanel #card-lint { padding: 0 1; color: $text-warning; }
    SidePanel .placeholder { padding: 1 2; color: $text-muted; }
    SidePanel .status { padding: 0 1; color: $text-muted; height: 2; }
    SidePanel #diff-scope { height: auto; max-height: 6; display: none; }
    SidePanel Log { height: 1fr; }
    SidePanel TabPane { padding: 0; }
    SidePanel #panel-tabs { height: 1fr; }
    SidePanel #say-input { display: none; }
    SidePanel #say-input.-open { display: block; }
    """

    class MessageTyped(Message):
        """The user typed a message for the agent of ``card_id`` (``i``)."""

        def __init__(self, card_id: str, text: str) -> None:
            super().__init__()
            self.card_id = card_id
            self.text = text

    def __init__(self, log_max_lines: int = 50_000, markdown_later: bool = False, **kwargs) -> None:
        """``markdown_later``: Rich's Markdown is loaded when ``markdown_ready`` is called (the
        app imports it in a thread first), not right after the first body shown."""
        super().__init__(**kwargs)
        self._markdown_later = markdown_later
        self.log_max_lines = log_max_lines
        self.card_id: str | None = None
        self._pending_body: str | None = None
        self._shown_body: str | None = None
        self._shown: tuple | None = None  # what the Card tab shows, to skip needless redraws
        self._markdown_class = None
        self._log_status: str | Text | None = None
        self._message_card: str | None = None  # whose agent the open input line talks to
        self.built = False  # the tabs are mounted (after the board's first frame)
        self._calls_before_built: list[tuple[Callable, tuple, dict]] = []
        self._tab = "tab-card"  # the tab asked for before the tabs were mounted

    def on_mount(self) -> None:
        # The tabs, a log, a diff view and an input cost a third of the start-up before the
        # first frame: the board is shown first, the tabs are mounted right after.
        self.call_after_refresh(self._build)

    async def _build(self) -> None:
        if self.built or not self.is_attached:
            return
        await self.mount_all(compose(self, self._tabs()))
        self.built = True
        calls, self._calls_before_built = self._calls_before_built, []
        for method, args, kwargs in calls:
            method(self, *args, **kwargs)

    def _tabs(self) -> ComposeResult:
        from textual.widgets import TabbedContent, TabPane  # not imported before the first frame

        with TabbedContent(id="panel-tabs", initial=self._tab):
            with TabPane("Card", id="tab-card"), VerticalScroll(id="card-scroll"):
                yield Static(id="card-meta")
                yield Static(id="card-lint")
                yield Static(id="card-body-plain")  # until the Markdown widget is mounted
            with TabPane("Log", id="tab-log"):
                yield Static("", id="log-status", classes="status")
                log = WrappingLog(id="run-log", max_lines=self.log_max_lines, highlight=True)
                log.highlighter = LogHighlighter()
                yield log
            with TabPane("Diff", id="tab-diff"):
                yield Static("", id="diff-status", classes="status")
                yield Static("", id="diff-scope", classes="status")  # files not asked for
                yield DiffView(id="diff-view")
            with TabPane("Tests", id="tab-tests"):
                yield Static("", id="tests-status", classes="status")
                yield QuietLog(id="tests-log", max_lines=self.log_max_lines)
        yield Input(id="say-input")

    # ------------------------------------------------------------------ Card tab

    @_once_built
    def show_entry(self, entry: Card | CardError | None, view: CardView | None) -> None:
        # What the Card tab shows of the view: not its run numbers, which change every second
        seen = (view.lint, view.notices, view.waiting_on) if view is not None else None
        shown = (entry.id, entry.digest, seen) if entry is not None else None
        if shown == self._shown:
            return
        self._shown = shown
        self.card_id = entry.id if entry is not None else None
        meta = self.query_one("#card-meta", Static)
        lint = self.query_one("#card-lint", Static)
        if entry is None:
            meta.update(Text("No card selected.", style="dim"))
            lint.update("")
            self._set_body("")
            return
        if isinstance(entry, CardError):
            where = f"{entry.path.name}:{entry.line}" if entry.line else entry.path.name
            meta.update(
                Text.assemble(
                    ("Cannot read this card\n", "bold red"),
                    (where, "bold"),
                    "\n",
                    entry.message,
                    "\n\nPress e to open it in your editor; it is left untouched until then.",
                )
            )
            lint.update("")
            self._set_body(f"```yaml\n{entry.text[:4000]}\n```")
            return
        table = _meta_table(entry)
        meta.update(table, layout=self._height_changes(meta, table))
        findings = view.lint if view is not None else ()
        notes = list(view.notices) if view is not None else []
        if view is not None and view.waiting_on:
            notes.insert(0, "waits on: " + ", ".join(view.waiting_on))
        lines = [f"⚡ {n}" for n in notes] + [f"⚠ {f}" for f in findings]
        text = Text("\n".join(lines))
        lint.update(text, layout=self._height_changes(lint, text))
        self._set_body(entry.body)

    def _height_changes(self, widget: Static, renderable) -> bool:
        """Would ``renderable`` take another number of lines than the widget shows now? Only
        then is a layout pass (a full repaint) worth paying for."""
        width = widget.content_region.width
        if width <= 0:  # not shown (another tab, or the panel hidden): laid out when it shows
            return False
        lines = len(
            self.app.console.render_lines(renderable, self.app.console.options.update_width(width))
        )
        return lines != widget.content_region.height

    def _set_body(self, body: str) -> None:
        # Rendering markdown costs milliseconds (and a layout pass); holding j/k must not queue
        # one per card, and a move (which changes the front matter only) must not redo it.
        if body == self._shown_body and self._pending_body is None:
            return
        self._shown_body = body
        self._pending_body = body
        self.set_timer(0.03, self._flush_body, name="panel-body")

    def _flush_body(self) -> None:
        if self._pending_body is not None:
            body, self._pending_body = self._pending_body, None
            markdown = self._markdown()
            target = self.query_one("#card-body-plain", Static)
            if markdown is None:
                target.update(Text(body), layout=target.content_region.width > 0)
                self._pending_body = body
                if not self._markdown_later:
                    self.call_after_refresh(self._mount_markdown)
            else:
                # Shown or not, the height is new; not shown, it is laid out when it shows.
                target.update(
                    markdown(body, code_theme="monokai", hyperlinks=False),
                    layout=target.content_region.width > 0,
                )

    def _markdown(self):
        return self._markdown_class

    @property
    def body_settled(self) -> bool:
        """The Card tab shows the card's body as it will stay: rendered as markdown, no newer
        body waiting (what a screenshot or a test waits for; plain text shows until then)."""
        return self._pending_body is None and (
            self._markdown_class is not None or self._shown_body is None
        )

    def markdown_ready(self) -> None:
        """Rich's Markdown is imported: show the body with it from now on."""
        self._markdown_later = False
        self._mount_markdown()

    def _mount_markdown(self) -> None:
        """markdown-it costs ~0.1 s to import: load it after the first frame. The body is one
        Static holding Rich's Markdown renderable (Textual's Markdown widget mounts a widget per
        block, and every layout pass of the screen then costs more)."""
        if self._markdown_class is None:
            from rich.markdown import Markdown

            self._markdown_class = Markdown
            self.set_timer(0.01, self._flush_body)

    def show_tab(self, tab_id: str) -> None:
        self._tab = tab_id
        self._activate_tab(tab_id)

    @_once_built
    def _activate_tab(self, tab_id: str) -> None:
        self.query_one("#panel-tabs").active = tab_id

    @property
    def active_tab(self) -> str:
        if not self.built:
            return self._tab
        return self.query_one("#panel-tabs").active

    # ------------------------------------------------------------------ Log tab

    def log_at_top(self) -> bool:
        """The Log is scrolled to its first row, with more rows than it shows."""
        if not self.built:
            return False
        log = self.query_one("#run-log", WrappingLog)
        return log.scroll_y <= 0 and log.max_scroll_y > 0

    def log_rows(self) -> int:
        """How many rows the Log shows."""
        if not self.built:
            return 0
        return self.query_one("#run-log", WrappingLog).size.height

    def log_wrap_width(self) -> int:
        """The width the Log wraps lines at now (lines can be wrapped off the UI thread)."""
        if not self.built:
            return 0  # not wrapped: the Log wraps them once it has a width
        return self.query_one("#run-log", WrappingLog).wrap_width

    @_once_built
    def log_reset(
        self, status: str | Text, lines: list[str], rows: tuple[int, list[str]] | None = None
    ) -> None:
        """``rows``: ``lines`` wrapped already, with the width they were wrapped at."""
        self._log_status = status
        self.query_one("#log-status", Static).update(status, layout=False)
        log = self.query_one("#run-log", WrappingLog)
        log.clear()
        if lines:
            if len(lines) > self.log_max_lines:
                lines, rows = lines[-self.log_max_lines :], None
            log.write_lines(lines, scroll_end=True, rows=rows)
        # clear() keeps the old scroll offset; write_lines follows the tail only from the end.
        log.scroll_end(animate=False, immediate=True, x_axis=False)

    @_once_built
    def log_replace_keeping_view(
        self, status: str | Text, lines: list[str], rows: tuple[int, list[str]] | None = None
    ) -> None:
        """Earlier lines loaded above what the Log shows: the rows on screen stay in place."""
        self._log_status = status
        self.query_one("#log-status", Static).update(status, layout=False)
        log = self.query_one("#run-log", WrappingLog)
        rows_before, top = log.line_count, log.scroll_y
        log.clear()
        if len(lines) > self.log_max_lines:
            lines, rows = lines[-self.log_max_lines :], None
        log.write_lines(lines, scroll_end=False, rows=rows)
        added = log.line_count - rows_before
        log.scroll_to(y=top + max(added, 0), animate=False, immediate=True)

    @_once_built
    def log_status(self, status: str | Text) -> None:
        if status != self._log_status:  # updated on every flush while an agent runs
            self._log_status = status
            self.query_one("#log-status", Static).update(status, layout=False)

    @_once_built
    def log_append(self, lines: list[str]) -> None:
        """Follows the tail unless the user scrolled up to read."""
        log = self.query_one("#run-log", Log)
        log.write_lines(lines, scroll_end=log.is_vertical_scroll_end or log.max_scroll_y == 0)

    def log_text(self) -> str:
        if not self.built:
            return ""
        return "\n".join(self.query_one("#run-log", Log).lines)

    # ------------------------------------------------------------------ message to the agent

    @_once_built
    def open_message_line(self, card_id: str) -> None:
        """The input line under the log: enter sends, escape closes."""
        self._message_card = card_id
        line = self.query_one("#say-input", Input)
        line.placeholder = f"message to {card_id}'s agent (enter sends, escape closes)"
        line.add_class("-open")
        line.focus()

    def close_message_line(self) -> bool:
        """Close the input line; True when it was open."""
        if not self.built:
            return False
        line = self.query_one("#say-input", Input)
        was_open = line.has_class("-open")
        line.value = ""
        line.remove_class("-open")
        self._message_card = None
        return was_open

    @on(Input.Submitted, "#say-input")
    def _message_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        card_id, text = self._message_card, event.value
        if card_id is None or not text.strip():
            return
        event.input.value = ""  # stays open: several messages queue in order
        self.post_message(self.MessageTyped(card_id, text))

    # ------------------------------------------------------------------ Diff tab

    @_once_built
    def diff_show(self, status: str | Text, lines: DiffLines, keep_scroll: bool = False) -> None:
        # The status rows have a fixed height: new text needs no layout pass of the whole
        # screen (tens of ms on a big one, before a large diff's first frame).
        self.query_one("#diff-status", Static).update(status, layout=False)
        self.query_one("#diff-view", DiffView).show(lines, keep_scroll=keep_scroll)

    @_once_built
    def diff_scope_show(self, lines: list[str]) -> None:
        """The files the card did not ask for, above the diff (hidden when there are none)."""
        notice = self.query_one("#diff-scope", Static)
        if not lines and not notice.display:
            return  # hidden before and now: no layout pass
        notice.update(Text("\n".join(f"⊘ {line}" for line in lines), style="bold red"))
        notice.display = bool(lines)

    @_once_built
    def diff_comments(self, card_id: str, comments) -> None:
        self.query_one("#diff-view", DiffView).show_comments(card_id, comments)

    @_once_built
    def focus_content(self) -> None:
        """enter from the board: into the Diff tab's lines when it shows, else the tabs."""
        tabs = self.query_one("#panel-tabs")
        if tabs.active == "tab-diff":
            self.query_one("#diff-view", DiffView).focus()
        else:
            tabs.focus()

    @_once_built
    def diff_message(self, status: str | Text) -> None:
        self.query_one("#diff-scope", Static).display = False
        self.query_one("#diff-status", Static).update(status, layout=False)
        self.query_one("#diff-view", DiffView).show(DiffLines())

    def diff_height(self) -> int:
        """How many rows the Diff tab shows at once (0 while another tab is open)."""
        if not self.built:
            return 0
        view = self.query_one("#diff-view", DiffView)
        return view.scrollable_content_region.height if view.display else 0

    def diff_text(self) -> str:
        if not self.built:
            return ""
        return self.query_one("#diff-view", DiffView).plain_text()

    # ------------------------------------------------------------------ Tests tab

    @_once_built
    def tests_show(self, status: str | Text, output: str) -> None:
        self.query_one("#tests-status", Static).update(status, layout=False)
        log = self.query_one("#tests-log", Log)
        log.clear()
        if output:
            log.write_lines(output.splitlines())

    @_once_built
    def tests_append(self, lines: list[str]) -> None:
        self.query_one("#tests-log", Log).write_lines(lines)


def _meta_table(card: Card) -> Group:
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(style="bold", no_wrap=True, min_width=8)
    table.add_column(ratio=1)
    table.add_row("id", Text(card.id, style="dim"))
    shown = set()
    for key in META_ORDER:
        if key in card.meta:
            table.add_row(key, _value_text(card.meta[key]))
            shown.add(key)
    for key, value in card.meta.items():
        if key not in shown and key not in ("title", "order"):
            table.add_row(Text(key, style="dim"), _value_text(value))
    # The title above the grid: as a row it would set the width of the key column.
    return Group(Text(card.title, style="bold"), table)


def _value_text(value: Any) -> Text:
    if isinstance(value, list):
        items = [str(v) for v in value]
        if any(" " in item for item in items):  # sentences (constraints): one per line
            return Text("\n".join(f"• {item}" for item in items))
        return Text(", ".join(items))
    if isinstance(value, dict):
        return Text("  ".join(f"{k}={v}" for k, v in value.items()), style="dim")
    return Text(str(value))
