"""What the Log, Diff and Tests tabs show for the selected card, kept live.

Log lines are buffered and flushed with ``write_lines`` on a short timer (one call per line costs
about 0.5 ms in Textual: a chatty agent would stall the UI). History comes from the run's JSONL,
read off the UI thread. Diffs are computed and highlighted off the UI thread too, debounced, when
the agent edits files (tool events, or file events in the worktree for command agents).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.worker import get_current_worker

from ..core.events import (
    DiffChanged,
    Event,
    LogLine,
    RunFinished,
    RunPhase,
    StateChanged,
    TestsFinished,
    ToolFinished,
)
from ..core.log_format import format_event
from ..core.session import ActionFailed
from .diff_view import RenderedDiffs
from .wrapping_log import wrap_lines

if TYPE_CHECKING:
    from .app import KanbanApp

FLUSH_SECONDS = 0.05
# A Log that receives more lines per flush than it has rows is repainted whole on every flush,
# the main cost of a flooded board. Then it is flushed five times a second (nobody reads a log
# moving that fast), and not at all just after a key press or click, so the frame answering the
# user is not also a full Log repaint; never later than a second, though.
FLOOD_FLUSH_SECONDS = 0.2
INPUT_FIRST_SECONDS = 0.15
LONGEST_WAIT_SECONDS = 1.0
DIFF_DEBOUNCE = 0.3
EDITING_TOOLS = ("write_file", "edit_file", "run")
AFTER_REVIEW = (RunPhase.DISCARDED, RunPhase.MERGED)  # a run's ends that the review gate writes
# A card's Log first shows its run's newest events only, and at most as many lines: reading and
# wrapping 50,000 lines on every selection change held a flooded board's UI for seconds.
# Scrolling to the top loads earlier ones (this many times more each time), up to
# [ui] log_max_lines.
HISTORY_FIRST = 1_000
HISTORY_GROWTH = 10
HISTORY_PEEK = 100  # events read first, before all of HISTORY_FIRST (see _read_history)
EARLIER_MARK = "⋯ earlier events not shown: scroll up to load them"


def diff_notices(view) -> list[Text]:
    """What the reviewer must see at the top of the Diff tab, above the file list, for the
    card's diff (``session.DiffView``): none yet. The place for review warnings such as files
    changed outside the card's ``files``."""
    return []


class PanelFeed:
    def __init__(self, app: KanbanApp):
        self.app = app
        self.card_id: str | None = None
        self.run: int | None = None
        self._buffer: list[str] = []  # formatted lines waiting for the next flush
        self._loading = False  # the run's history is being read; live events wait in _pending
        self._pending: list[Event] = []
        self._ready = False  # the Log tab shows this card's run and takes live lines
        self._read_until = (0, 0.0)  # (run, time of its last event) the history read showed
        self._history = 0  # how many of the run's newest events the Log was loaded with
        self._more_history = False  # the run has earlier events than those
        self._diff_timer = None
        self._watching: Path | None = None
        self._last_flush = 0.0
        self._rendered = RenderedDiffs()  # a card selected again: its rows, if unchanged

    @property
    def panel(self):
        return self.app.panel

    def start(self) -> None:
        self.app.set_interval(FLUSH_SECONDS, self.flush, name="log-flush")

    # ------------------------------------------------------------------ selection

    def select(self, card_id: str | None) -> None:
        self.app.refresh_bindings()  # the footer shows the keys of the selected card's state
        if card_id == self.card_id:
            return
        self.card_id = card_id
        self.run = None
        self._buffer.clear()
        self._pending.clear()
        self._loading = self._ready = self._more_history = False
        self._read_until = (0, 0.0)
        session = self.app.session
        status = session.status(card_id)
        if card_id is None or not session.agents_on:
            self.panel.log_reset(
                Text("No card selected." if card_id is None else "Agents are off.", style="dim"), []
            )
            self.panel.diff_message(Text("No worktree.", style="dim"))
            self.panel.tests_show(Text("No test run.", style="dim"), "")
            self._watch(None)
            return
        if status is None or not status.run:
            hint = f"No agent has worked on this card yet. Move it to {self.app.agent_column_title} (L or drag), or press r."
            self.panel.log_reset(Text(hint, style="dim"), [])
        else:
            self.panel.log_reset(Text(f"Loading the log of run {status.run}…", style="dim"), [])
            self._loading = True
            # Read after the frame that answers the key: a thread reading it meanwhile would
            # share the interpreter with that frame and slow it down.
            self.app.call_after_refresh(self._start_history, card_id)
        self._show_tests(card_id)
        self.refresh_diff(immediate=True)

    def _start_history(self, card_id: str) -> None:
        if self.card_id != card_id or not self._loading or not self.app.is_running:
            return  # another card was selected meanwhile: its own read is on its way
        self.app.run_worker(
            partial(self._load_history, card_id, HISTORY_FIRST),  # a callable, not a coroutine
            group="log-history",
            exclusive=True,
            exit_on_error=False,
        )

    def reload(self) -> None:
        """Show the selected card's run again from its records: after a change no live event
        reports (a discard), the Log's header and lines would otherwise stay as they were."""
        card_id, self.card_id = self.card_id, None
        self.select(card_id)

    def load_earlier(self) -> None:
        """The user scrolled to the top of the Log: load the run's earlier events, keeping what
        is on screen where it is."""
        if not self._more_history or self._loading or self.card_id is None:
            return
        if not self.panel.log_at_top():  # reset or scrolled away since the message was sent
            return
        keep = self.app.settings.ui.log_max_lines
        count = min(keep, self._history * HISTORY_GROWTH)
        self._loading = True
        self._buffer.clear()  # lines not yet shown: the file read next has them too
        self.app.run_worker(
            partial(self._load_history, self.card_id, count, keep_view=True),
            group="log-history",
            exclusive=True,
            exit_on_error=False,
        )

    async def _load_history(self, card_id: str, count: int, keep_view: bool = False) -> None:
        session = self.app.session
        keep = self.app.settings.ui.log_max_lines  # an event is a line or more: enough to fill
        count = min(count, keep)
        width = self.panel.log_wrap_width()
        # Reading, formatting and wrapping happen off the UI thread: on a flooded board they are
        # most of a selection change's cost, and keys must not wait for them.
        run, last_t, lines, rows, more = await asyncio.to_thread(
            self._read_history, card_id, count, keep, width
        )
        if self.card_id != card_id:
            return
        self._history = count
        self._more_history = more
        self.run = run
        status = session.status(card_id)
        if keep_view:
            self.panel.log_replace_keeping_view(self._status_line(status), lines, (width, rows))
        else:
            self.panel.log_reset(self._status_line(status), lines, (width, rows))
        self._loading, self._ready = False, True
        # Events already in the file when it was read are not shown twice: those waiting here,
        # and those a run in another process reports a moment later (read from its records).
        self._read_until = (run, last_t)
        pending, self._pending = self._pending, []
        for event in pending:
            self.on_event(event)

    def _read_history(self, card_id: str, count: int, keep: int, width: int):
        """The newest ``count`` events of the card's run as Log lines, at most ``count`` lines
        (a command agent's event holds many), wrapped at ``width``; runs in a thread."""
        session = self.app.session
        # A command agent's event holds dozens of lines: read a few events first, and all
        # ``count`` only when those do not fill ``count`` lines.
        asked = min(count, HISTORY_PEEK)
        history = session.log(card_id, last=asked)
        lines_read = sum(e.text.count("\n") + 1 for e in history.events if isinstance(e, LogLine))
        if len(history.events) >= asked and asked < count and lines_read < count:
            asked = count
            history = session.log(card_id, last=asked)
        run, events = history.run, history.events
        more = len(events) >= asked and asked < keep
        last_t = events[-1].t if events else 0.0
        status = session.status(card_id)
        pieces: list[list[str]] = []  # formatted from the newest event back, until enough
        shown = 0
        for event in reversed(events):
            piece = format_event(event)
            pieces.append(piece)
            shown += len(piece)
            if shown >= count:
                break
        lines = [line for piece in reversed(pieces) for line in piece]
        if len(lines) > count or len(pieces) < len(events):
            lines = lines[-count:]
            more = more or count < keep
        if (
            status is not None
            and status.state in AFTER_REVIEW
            and not any(isinstance(e, RunFinished) and e.state == status.state for e in events)
        ):  # the review gate writes the run's state, not an event: say what happened here too
            lines.append(
                f"◆ run {run}: {status.state}" + (f" ({status.reason})" if status.reason else "")
            )
        if more:
            lines.insert(0, EARLIER_MARK)
        return run, last_t, lines, wrap_lines(lines, width), more

    def history_failed(self) -> None:
        """The history worker raised (the app reports it): stop waiting for it and show live
        lines from now on, so they do not pile up unseen."""
        if not self._loading or self.card_id is None:
            return
        status = self.app.session.status(self.card_id)
        self._loading, self._ready = False, True
        self.run = status.run if status else None
        self.panel.log_reset(
            Text("The run's earlier log could not be read; new lines follow.", style="dim"), []
        )
        pending, self._pending = self._pending, []
        for event in pending:
            self.on_event(event)

    def _status_line(self, status) -> Text:
        if status is None or status.state is None:
            return Text("")
        text = Text.assemble((f"run {status.run}: {status.state}", "bold"))
        if status.reason:
            text.append(f" — {status.reason}", "dim")
        if status.steps or status.tokens:
            estimate = (
                " (estimated: the server reports no usage)" if status.tokens_estimated else ""
            )
            text.append(f"   {status.steps} steps · {status.tokens} tokens{estimate}", "dim")
        return text

    # ------------------------------------------------------------------ live events

    def on_event(self, event: Event) -> None:
        if event.card_id != self.card_id:
            return
        if self._loading:
            self._pending.append(event)
            return
        if (event.run, event.t) <= self._read_until:
            return  # in the history the Log was loaded with
        if not self._ready or (self.run is not None and event.run > self.run):
            # The selected card's first run, or a new run, starts now.
            if self._ready:
                self._buffer.append(f"── run {event.run} ──")
            else:
                self.panel.log_reset(Text(""), [])
                self._ready = True
            self.run = event.run
        elif self.run is not None and event.run < self.run:
            return
        self._buffer.extend(format_event(event))
        if isinstance(event, StateChanged | RunFinished):
            self.app.refresh_bindings()  # the card's state changed: so do the footer's keys
        if isinstance(event, TestsFinished):
            self._show_tests(event.card_id)
        if isinstance(event, DiffChanged | RunFinished) or (
            isinstance(event, ToolFinished) and event.name in EDITING_TOOLS
        ):
            self.refresh_diff()

    def flush(self) -> None:
        if not self.app.is_running:
            return
        if self._ready and self._buffer:
            now = time.monotonic()
            waited = now - self._last_flush
            if waited < LONGEST_WAIT_SECONDS and (
                now - self.app.last_input < INPUT_FIRST_SECONDS
                or (len(self._buffer) > self.panel.log_rows() and waited < FLOOD_FLUSH_SECONDS)
            ):
                return
            self._last_flush = now
            lines, self._buffer = self._buffer, []
            self.panel.log_append(lines)
            if self.card_id:
                self.panel.log_status(self._status_line(self.app.session.status(self.card_id)))

    # ------------------------------------------------------------------ tests

    def _show_tests(self, card_id: str) -> None:
        status = self.app.session.status(card_id)
        tests = status.last_tests if status else None
        if tests is None:
            self.panel.tests_show(
                Text(
                    "No test run yet. Press t to run the card's tests in its worktree.", style="dim"
                ),
                "",
            )
            return
        verdict = (
            ("passed", "bold green")
            if tests.passed
            else (f"failed (exit {tests.exit_code})", "bold red")
        )
        self.panel.tests_show(
            Text.assemble("tests ", verdict, (f"  attempt {tests.attempt}", "dim")), tests.output
        )

    # ------------------------------------------------------------------ diff

    def refresh_diff(self, immediate: bool = False) -> None:
        if self._diff_timer is not None:
            self._diff_timer.stop()
            self._diff_timer = None
        if immediate and self.panel.active_tab == "tab-diff":
            self.app.call_next(self._start_diff)
        elif immediate:  # the Diff tab is not shown: after the frame answering the key
            self.app.call_after_refresh(self._start_diff)
        else:
            self._diff_timer = self.app.set_timer(
                DIFF_DEBOUNCE, self._start_diff, name="diff-debounce"
            )

    def _start_diff(self) -> None:
        self._diff_timer = None
        if not self.app.is_running:
            return
        self.app.run_worker(
            partial(self._compute_diff, self.card_id),
            group="diff",
            exclusive=True,
            exit_on_error=False,
        )

    async def _compute_diff(self, card_id: str | None) -> None:
        if card_id is None:
            return
        session = self.app.session
        screen_rows = self.panel.diff_height()  # only what the first frame shows is highlighted

        def compute():
            view = session.diff(card_id)
            lines = self._rendered.lines(
                view.diff,
                card_id=card_id,
                comments=session.line_comments(card_id),
                notices=diff_notices(view),
                screen_rows=screen_rows + 1 if screen_rows else 0,
            )
            return view, lines

        try:
            view, lines = await asyncio.to_thread(compute)
        except ActionFailed as exc:
            if self.card_id == card_id:
                message = str(exc)
                style = "red" if message.startswith("git:") else "dim"
                self.panel.diff_message(Text(message, style=style))
                if style == "dim":
                    self._watch(None)
            return
        if self.card_id != card_id or get_current_worker().is_cancelled:
            return
        self.panel.diff_show(Text(view.where(), style="dim"), lines, keep_scroll=True)
        self.panel.diff_scope_show(view.scope.lines() if view.scope is not None else [])
        self.app.set_comment_count(card_id, lines.source.comments)
        self._watch(view.worktree if view.live else None)

    # ------------------------------------------------------------------ line comments

    def save_comment(self, card_id: str, write) -> None:
        """Have the session store a comment change (``write(session)``, off the UI thread), then
        show the card's comments as they are now."""
        self.app.run_worker(
            partial(self._save_comment, card_id, write),
            group="comments",
            exit_on_error=False,
        )

    async def _save_comment(self, card_id: str, write) -> None:
        session = self.app.session

        def save():
            write(session)
            return session.line_comments(card_id)

        try:
            comments = await asyncio.to_thread(save)
        except ActionFailed as exc:
            self.app.notify(str(exc), title="Comment not saved", severity="error")
            return
        self.app.set_comment_count(card_id, comments)
        if self.card_id == card_id:
            self.panel.diff_comments(card_id, comments)
            # A diff being computed meanwhile read the comments before this one: start it over
            # (the diff group is exclusive), or it would show the card without it.
            if any(w.group == "diff" and w.is_running for w in self.app.workers):
                self.refresh_diff(immediate=True)

    # ------------------------------------------------------------------ worktree watching (command agents)

    def _watch(self, worktree: Path | None) -> None:
        if worktree == self._watching:
            return
        self._watching = worktree
        if worktree is None:
            with contextlib.suppress(Exception):
                self.app.workers.cancel_group(self.app, "diff-watch")
            return
        self.app.run_worker(
            partial(self._watch_worktree, worktree),
            group="diff-watch",
            exclusive=True,
            exit_on_error=False,
        )

    async def _watch_worktree(self, worktree: Path) -> None:
        async for _change in self.app.session.watch_worktree(worktree):
            if self._watching != worktree:
                return
            self.refresh_diff()
