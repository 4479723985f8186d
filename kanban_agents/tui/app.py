"""The Textual app: renders the board and sends intents to the core. No git, no file writes here:
every change goes through the ``BoardSession``, and everything that happens comes back from it as
one stream of events, turned into Textual messages (from whatever thread they come)."""

from __future__ import annotations

import asyncio
import gc
import os
import shlex
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from ..config import Settings
from ..core.board import BoardError, BoardStore, CardConflict
from ..core.card import Card, CardError
from ..core.events import (
    AgentBlocked,
    Notice,
    RunFinished,
    RunStatus,
    StateChanged,
    TestsFinished,
    UsageUpdated,
)
from ..core.lint import lint_card
from ..core.log_format import format_cost
from ..core.session import (
    BackgroundFailed,
    BoardChanged,
    BoardSession,
    RadarUpdated,
    SessionEvent,
)
from .board import BoardView, ColumnModel
from .branch_actions import BranchActions
from .card import CardView, format_elapsed
from .card_actions import CardActions
from .comment_actions import CommentActions
from .desktop_notify import desktop_notify
from .dialogs import ChoiceDialog, HelpScreen, PromptDialog
from .failures import UNKNOWN_WORKER, WORKER_FAILURES, FailureReporter
from .feed import PanelFeed
from .gc_pacing import CHECK_SECONDS, IdleCollector
from .keys import Scope, StateFooter, bindings, help_sections, palette_commands
from .panel import SidePanel
from .planning_actions import PlanningActions
from .review import ReviewActions
from .textual_internals import free_strips_without_gc
from .warm_up import import_modules
from .worktree_actions import WorktreeActions
from .wrapping_log import WrappingLog

WARM_UP_DELAY = 0.3  # seconds after the first frame
WATCH_RESTART_DELAYS = (1.0, 5.0, 20.0)  # a failed file watcher restarts after these; then gives up
WATCH_HEALTHY_SECONDS = 60.0  # a watcher that ran this long before failing starts the count afresh


@dataclass(frozen=True)
class PendingMove:
    """A move shown on the board and waiting for its write. ``seen`` is the card as the user saw
    it when asking, ``outside_changes`` the store's count of changes read from disk for it then:
    the write is refused only if someone else changed the card since, never for the app's own
    writes (an earlier move typed ahead, the run state the run manager records)."""

    card_id: str
    column: str
    before_id: str | None
    seen: Card
    outside_changes: int


class KanbanApp(
    ReviewActions, BranchActions, PlanningActions, CardActions, CommentActions, WorktreeActions, App
):
    CSS_PATH = "app.tcss"
    TITLE = "kanban-agents"

    BINDINGS = bindings(Scope.APP)

    class SessionEventsArrived(Message):
        """Events of the session (runs' events, radar updates, background failures) are waiting
        in the app's inbox: one message for a burst, so a burst costs one board refresh."""

    class BoardChangedArrived(Message):
        """A card file changed; one pending refresh covers any number of them."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, KanbanApp.BoardChangedArrived)

    def __init__(
        self,
        store: BoardStore,
        *,
        watch: bool = True,
        clock: Callable[[], float] = time.time,
        show_panel: bool | None = None,
        runs=None,  # a RunManager the caller configured (tests, the demo); else the session's
        agents: bool = True,
        demo: bool = False,
        host_agents: bool = True,  # False: another process (serve) runs them; shown live here
    ) -> None:
        super().__init__()
        free_strips_without_gc()  # strips drawn were garbage only a full collection freed
        self.host_agents = host_agents
        self.store = store
        self.watch_enabled = watch
        self.clock = clock
        self.show_panel_default = show_panel
        self.demo = demo
        self.filter_text = ""
        self.last_input = 0.0  # time.monotonic() of the last key press or click (the Log waits)
        self.gc_pacing = IdleCollector(lambda: self.last_input)
        self.session = BoardSession(store, agents=agents or runs is not None, runs=runs)
        self.radar_report = None  # the last RadarUpdated's report (none before the first scan)
        self._inbox: list[SessionEvent] = []  # session events not yet taken in (any thread adds)
        self._inbox_lock = threading.Lock()
        self._inbox_announced = False
        self.feed = PanelFeed(self)
        self.failures = FailureReporter(store.root, self.notify)
        self._watch_restarts = 0
        self._watch_started = 0.0
        self._views: dict[str, tuple[str, tuple, CardView]] = {}
        self.comment_counts: dict[str, int] = {}  # filled after start (load_comment_counts)
        self._search_text: dict[str, str] = {}
        self._refresh_pending = False
        self._topbar_text: Text | None = None
        self._pending_moves: deque[PendingMove] = deque()  # shown, not yet written; in order
        self._removing: set[str] = set()  # cards the user archives or deletes here
        self._loop: asyncio.AbstractEventLoop | None = None
        self.board = BoardView(self.build_columns(), id="board")
        self.panel = SidePanel(
            log_max_lines=store.settings.ui.log_max_lines, markdown_later=True, id="panel"
        )
        # Mounted when first asked for: it cost 5% of the start-up before the first frame.
        self.filter_box = Input(
            placeholder="filter: words, #label, id — enter keeps it, escape clears", id="filter"
        )

    @property
    def agent_column_title(self) -> str:
        column = self.settings.column(self.settings.board.agent_column)
        return column.title if column else self.settings.board.agent_column

    @property
    def settings(self) -> Settings:
        return self.store.settings

    @property
    def run_status(self) -> dict[str, RunStatus]:
        return self.session.statuses()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # The panel's classes are set before the first styling pass: set after mounting, they
        # restyled the whole screen once more before the first frame.
        show = self.show_panel_default
        self._show_panel(self.size.width >= 140 if show is None else show)
        yield Static(id="topbar")
        with Horizontal(id="main"):
            yield self.board
            yield self.panel
        yield StateFooter()  # the filter box is mounted above it when first asked for (/)

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.settings.ui.theme in self.available_themes:
            self.theme = self.settings.ui.theme
        self.session.subscribe(self._on_session_event)
        self.refresh_board()
        self.board.focus()
        for note in self.store.cleanup_notes:
            self.notify(note, title="Recovered after a crash", severity="warning", timeout=20)
        self.set_interval(1.0, self._tick)
        self.gc_pacing.start()
        self.set_interval(CHECK_SECONDS, self.gc_pacing.tick, name="gc-pacing")
        self.feed.start()
        # The file watcher and the agents start once the board is on screen: loading them
        # (watchfiles, the run manager) first delayed the first frame.
        self.call_after_refresh(self._start_background)
        if warning := self.session.git_warning:
            self.notify(warning, title="No git repository", severity="warning", timeout=20)
        if self.demo:
            self.notify(
                "DEMO MODE: a scripted demo model (not a real LLM) plays the agents. Select a card and "
                "press r (or drag it to In Progress) to watch one work.",
                title="kanban-agents demo",
                timeout=12,
            )

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):
            self.last_input = time.monotonic()
        await super().on_event(event)

    def _start_background(self) -> None:
        if self.session.agents_on:
            self.start_agents()
            self.load_comment_counts()
        # Not at once: started with the first frame, it competes with that frame's way to the
        # terminal (two single start-up runs measured 2.1x and 2.4x a minimal app, against
        # 1.9x with the delay; the machine's noise is of that size too).
        self.set_timer(WARM_UP_DELAY, self.warm_up)

    @work(thread=True, group="warm-up", exit_on_error=False)
    def warm_up(self) -> None:
        try:
            import_modules()
        finally:  # what needs them starts in any case
            self.call_from_thread(self._start_after_warm_up)

    def _start_after_warm_up(self) -> None:
        self.panel.markdown_ready()
        if self.watch_enabled:
            self.watch_files()

    def watch_theme(self, theme: str) -> None:
        self.session.remember_theme(theme)  # kept for the next start, on every board

    @work(group="runs-start", exit_on_error=False)
    async def start_agents(self) -> None:
        await self.session.start(host=True, watch_only=not self.host_agents)
        self.start_worktree_watch()
        self.refresh_board()
        self.feed.select(None)
        self._show_selected()
        orphans = await asyncio.to_thread(self.session.orphans)
        if orphans:
            listed = ", ".join(str(w.path) for w in orphans[:3])
            self.notify(
                f"{len(orphans)} worktree(s) whose card is gone: {listed}. They are kept; see "
                "'kanban-agents status'.",
                title="Orphaned worktrees",
                severity="warning",
                timeout=10,
            )

    def on_unmount(self) -> None:
        self.gc_pacing.stop()
        self.session.unsubscribe(self._on_session_event)

    async def action_request_quit(self) -> None:
        """q: quit; running agents are stopped (they end 'interrupted' and can be resumed with r)."""
        active = self.session.active_cards()
        if active:
            message = (
                f"{len(active)} agent(s) are queued or running ({', '.join(active[:5])}). Quitting stops "
                "them; their worktrees and logs are kept, and r resumes them later."
            )
            self.push_screen(
                ChoiceDialog("Quit and stop the agents?", message, [("quit", "Quit", "error")]),
                self._quit_if,
            )
            return
        await self._stop_agents_and_exit()

    async def _quit_if(self, choice: str | None) -> None:
        if choice == "quit":
            await self._stop_agents_and_exit()

    async def _stop_agents_and_exit(self) -> None:
        await self.session.stop()
        self.exit()

    # ------------------------------------------------------------------ data in: session events

    def _on_session_event(self, event: SessionEvent) -> None:
        """The session's events, from any thread (a store writer, the runs' loop): handed to the
        app as messages, which Textual delivers on its own loop. Events wait in an inbox and one
        message announces them, so a flood of log lines is taken in batches, none lost."""
        if isinstance(event, BoardChanged):
            self.post_message(self.BoardChangedArrived())
            return
        with self._inbox_lock:
            self._inbox.append(event)
            if self._inbox_announced:
                return
            self._inbox_announced = True
        self.post_message(self.SessionEventsArrived())

    @on(BoardChangedArrived)
    def _board_changed(self, _message: BoardChangedArrived) -> None:
        self._schedule_refresh()

    @on(SessionEventsArrived)
    def _session_events(self, _message: SessionEventsArrived) -> None:
        """Feed the panel, refresh badges (once for the batch), notify."""
        with self._inbox_lock:
            events, self._inbox = self._inbox, []
            self._inbox_announced = False
        if not self.is_running or not self.screen_stack:
            return  # the app is closing: nothing left to show them on
        for event in events:
            self._session_event(event)

    def _session_event(self, event: SessionEvent) -> None:
        if isinstance(event, RadarUpdated):
            self.radar_report = event.report
            self._schedule_refresh()
            return
        if isinstance(event, BackgroundFailed):
            self.failures.show(event.what, event.error, event.way_out, event.log_file)
            return
        self.feed.on_event(event)
        if isinstance(event, StateChanged | RunFinished | UsageUpdated | Notice | TestsFinished):
            self._schedule_refresh()
        if isinstance(event, RunFinished):
            self._announce(event)
        elif isinstance(event, AgentBlocked):
            self._schedule_refresh()
            self._needs_you("Agent blocked", f"{event.card_id}: {event.reason}", "warning")

    def _needs_you(self, title: str, text: str, severity: str) -> None:
        """A card needs the user (review, failed, blocked): in the app, a bell, the desktop."""
        self.notify(text, title=title, severity=severity, timeout=12)
        self.bell()
        if self.settings.ui.desktop_notifications:
            desktop_notify(self, f"kanban-agents: {title}", text)

    def _announce(self, event: RunFinished) -> None:
        if event.state == "review":
            self._needs_you(
                "Ready for review",
                f"{event.card_id} is ready for review: {event.reason}.",
                "information",
            )
        elif event.state == "failed":
            self._needs_you("Agent failed", f"{event.card_id}: {event.reason}", "error")
        elif event.state == "interrupted" and event.reason:
            self.notify(
                f"{event.card_id}: {event.reason}", title="Agent interrupted", severity="warning"
            )

    # ------------------------------------------------------------------ board refresh

    def _schedule_refresh(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            self.call_next(self.refresh_board)

    def refresh_board(self) -> None:
        self._refresh_pending = False
        if not self.is_running:  # a late callback while the app shuts down: nothing to draw
            return
        selected = self.board.selected_card_id
        if selected is not None and self.store.entry(selected) is None:
            self._selected_card_removed(selected)
        models = self.build_columns()
        for move in self._pending_moves:  # moves typed ahead stay where the user put them
            models = _with_move(models, move.card_id, move.column, move.before_id)
        self.board.set_columns(models)
        self._update_topbar()
        self._show_selected()

    def _selected_card_removed(self, card_id: str) -> None:
        """The selected card's file is gone. Removed here (d): the board selects a neighbour, as
        the user expects. Removed outside: nothing is selected, so no key acts on a card the user
        never chose."""
        if card_id in self._removing:
            self._removing.discard(card_id)
            return
        self.board.clear_selection()
        self.notify(
            f"{card_id} was removed on disk (renamed, deleted or archived elsewhere). Nothing is "
            "selected: choose a card with the arrow keys or a click.",
            title="Selected card removed",
            severity="warning",
            timeout=8,
        )

    def build_columns(self) -> list[ColumnModel]:
        settings = self.settings
        columns = self.store.columns()
        done = {c.id for col in columns if col.id == settings.board.done_column for c in col.cards}
        needle = self.filter_text.strip().casefold()
        models = []
        for column in columns:
            errors: list[CardError] = list(column.errors)
            cards: list[Card] = list(column.cards)
            if needle:
                errors = [e for e in errors if self._matches(e, needle)]
                cards = [c for c in cards if self._matches(c, needle)]
            views = [self._error_view(e) for e in errors]
            views += [self._card_view(c, done) for c in cards]
            total = len(column.errors) + len(column.cards)
            models.append(ColumnModel(column.id, column.title, column.wip, views, total,
                                      column.id == settings.board.agent_column, len(errors)))  # fmt: skip
        return models

    def _matches(self, entry: Card | CardError, needle: str) -> bool:
        """Every word of the filter appears in the card's id, title, #labels or body."""
        text = self._search_text.get(entry.digest)
        if text is None:
            if isinstance(entry, CardError):
                text = f"{entry.id} {entry.title} {entry.message}"
            else:
                text = " ".join(
                    (entry.id, entry.title, " ".join(f"#{x}" for x in entry.labels), entry.body)
                )
            text = self._search_text[entry.digest] = text.casefold()
        return all(word in text for word in needle.split())

    def _card_view(self, card: Card, done: set[str]) -> CardView:
        """Views are cached per card: rebuilding 5,000 of them on every change would show."""
        status = self.run_status.get(card.id)
        state = status.state if status and status.state else card.run_state
        live = status is not None and state in ("running", "testing")
        dynamic = (
            state,
            status.steps if status else 0,
            status.tokens if status else int(card.run.get("tokens") or 0),
            bool(status and status.tokens_estimated),
            _card_cost(status, card.run),
            format_elapsed(status, self.clock()) if live else "",
            tuple(d for d in card.depends_on if d not in done),
            tuple(status.notices if status else ())
            + ((f"blocked: {status.blocked}",) if status and status.blocked else ())
            + self._radar_notices(card.id, done),
            status.run if status and status.run else _run_number(card.run.get("n")),
            bool(status and status.unconfined),
            *self._radar_review(card.id, done),
            self.comment_counts.get(card.id, 0),
        )
        cached = self._views.get(card.id)
        if cached is not None and cached[0] == card.digest and cached[1] == dynamic:
            return cached[2]
        findings = lint_card(card)
        state, steps, tokens, tokens_estimated, cost, elapsed, waiting_on, notices, run, *rest = (
            dynamic
        )
        unconfined, scope, behind, comments = rest
        view = CardView(id=card.id, title=card.title, priority=card.priority, labels=tuple(card.labels),
                        lint=tuple(f.message for f in findings), lint_codes=tuple(f.code for f in findings),
                        state=state, run=run, steps=steps, tokens=tokens, tokens_estimated=tokens_estimated, cost=cost,
                        elapsed=elapsed, waiting_on=waiting_on,
                        notices=notices, unconfined=unconfined, scope=scope, behind=behind, comments=comments,
                        pr="" if card.id in done else str(card.meta.get("pr") or ""))  # fmt: skip
        self._views[card.id] = (card.digest, dynamic, view)
        return view

    def _radar_notices(self, card_id: str, done: set[str]) -> tuple[str, ...]:
        """What the last radar scan found for this card, leaving out what a merge since has made
        moot (the scan may be up to a second older than the board)."""
        if card_id in done:
            return ()
        return tuple(
            c.describe()
            for c in (self.radar_report.for_card(card_id) if self.radar_report is not None else ())
            if c.other not in done
        )

    def _radar_review(self, card_id: str, done: set[str]) -> tuple[tuple[str, ...], int]:
        """The radar's scope findings and stale-base count for the card (none once done)."""
        report = self.radar_report
        if report is None or card_id in done:
            return (), 0
        scope = report.scope.get(card_id)
        return (tuple(scope.lines()) if scope else ()), report.behind.get(card_id, 0)

    @staticmethod
    def _error_view(error: CardError) -> CardView:
        where = f"line {error.line}: " if error.line else ""
        return CardView(id=error.id, title=error.title, error=where + error.message)

    def _update_topbar(self) -> None:
        cards = self.store.cards
        states: dict[str, int] = {}
        for card_id in cards:
            status = self.run_status.get(card_id)
            state = status.state if status and status.state else cards[card_id].run_state
            if state:
                states[state] = states.get(state, 0) + 1
        text = Text.assemble(
            ("kanban-agents", "bold"),
            "  ",
            (str(_display_path(self.store.root)), "dim"),
            "  ",
            f"{len(cards)} cards",
        )
        for state in ("running", "queued", "review", "failed"):
            if states.get(state):
                text.append(f"  · {states[state]} {state}")
        if self.settings.pricing:
            text.append(f"  · {format_cost(self.session.cost_today())} today")
        errors = len(self.store.errors)
        if errors:
            text.append(f"  · {errors} unreadable", "bold red")
        if self.filter_text:
            text.append(f"  · filter: {self.filter_text}", "bold")
        if (disk := self.worktree_topbar()) is not None:
            text.append_text(disk)
        if text != self._topbar_text:  # an update costs a layout pass: only when it changed
            self._topbar_text = text
            self.query_one("#topbar", Static).update(text, layout=False)

    def _tick(self) -> None:
        if any(s.state in ("running", "testing") for s in self.run_status.values()):
            self.refresh_board()  # elapsed times move on

    # ------------------------------------------------------------------ selection -> panel

    @on(BoardView.SelectionChanged)
    def _on_selection(self, message: BoardView.SelectionChanged) -> None:
        # The board draws the new selection first; the panel follows on the next frame.
        self.call_after_refresh(self._show_selected)

    def _show_selected(self) -> None:
        if not self.is_running:
            return
        card_id = self.board.selected_card_id
        entry = self.store.entry(card_id) if card_id else None
        self.panel.show_entry(entry, self.board.selected_card)
        self.feed.select(card_id if isinstance(entry, Card) else None)

    # ------------------------------------------------------------------ watching files

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def watch_files(self) -> None:
        self._watch_started = time.monotonic()
        from ..core.session import SettingsReloaded

        async for batch in watch_board(self.store):
            for item in batch:
                if isinstance(item, SettingsReloaded):
                    if item.error:
                        self.notify(item.error, title="kanban.toml not applied", severity="error")
                    else:
                        self.notify("kanban.toml reloaded", timeout=2)
                    self.refresh_board()

    # ------------------------------------------------------------------ background failures

    @on(WrappingLog.ReachedTop, "#run-log")
    def _on_log_top(self) -> None:
        self.feed.load_earlier()

    @on(Worker.StateChanged)
    def _on_worker_state(self, event: Worker.StateChanged) -> None:
        """Every worker of the app ends here: a failure is shown with the way out, never lost."""
        worker = event.worker
        if worker.group == "watch" and self.is_running:
            if event.state is WorkerState.ERROR:
                self._watch_failed(worker.error or RuntimeError("the file watcher failed"))
            elif event.state is WorkerState.SUCCESS:  # awatch ended by itself
                self._watch_failed(RuntimeError("the file watcher stopped"))
            return
        if event.state is not WorkerState.ERROR or worker.error is None:
            return
        failure = WORKER_FAILURES.get(worker.group, UNKNOWN_WORKER)
        self.failures.report(failure, worker.error, where=f"worker {worker.name or worker.group}")
        if worker.group in ("writes", "runs-start"):
            self._schedule_refresh()  # undo a move shown ahead of its write; show what runs
        elif worker.group == "log-history":
            self.feed.history_failed()

    def _watch_failed(self, error: BaseException) -> None:
        if time.monotonic() - self._watch_started > WATCH_HEALTHY_SECONDS:
            self._watch_restarts = 0
        if self._watch_restarts < len(WATCH_RESTART_DELAYS):
            delay = WATCH_RESTART_DELAYS[self._watch_restarts]
            self._watch_restarts += 1
            self.failures.log(
                f"file watcher failed; restart {self._watch_restarts} in {delay} s", error
            )
            self.set_timer(delay, self.watch_files, name="watch-restart")
            return
        self.failures.report(WORKER_FAILURES["watch"], error, where="file watcher")

    # ------------------------------------------------------------------ moving cards

    def _selected_entry(self) -> Card | CardError | None:
        card_id = self.board.selected_card_id
        return self.store.entry(card_id) if card_id else None

    def _selected_card_or_warn(self) -> Card | None:
        entry = self._selected_entry()
        if entry is None:
            self.notify("No card selected.", severity="warning", timeout=2)
            return None
        if isinstance(entry, CardError):
            self.notify(
                f"{entry.path.name} cannot be read: {entry.message}. Press e to fix it.",
                title="Cannot move this card",
                severity="error",
            )
            return None
        return entry

    def action_move_card(self, delta: int) -> None:
        card = self._selected_card_or_warn()
        if card is None:
            return
        ids = self.settings.column_ids
        shown = self.board.column_of(card.id)  # where the user sees it, moves typed ahead included
        index = ids.index(shown or self.store.status_of(card)) + delta
        if 0 <= index < len(ids):
            self.request_move(card, ids[index], None)

    def action_reorder(self, delta: int) -> None:
        card = self._selected_card_or_warn()
        column = self.board.selected_column
        if card is None or column is None:
            return
        ids = [v.id for v in column.cards if not v.is_error]  # error cards have no order
        index = ids.index(card.id)
        target = index + delta
        if not 0 <= target < len(ids):
            return
        others = [i for i in ids if i != card.id]
        before = others[target] if target < len(others) else None
        self.request_move(card, column.id, before)

    @on(BoardView.MoveRequested)
    def _on_move_requested(self, message: BoardView.MoveRequested) -> None:
        entry = self.store.entry(message.card_id)
        if isinstance(entry, CardError):
            self.notify(
                f"{entry.path.name} cannot be read: {entry.message}",
                title="Cannot move this card",
                severity="error",
            )
        elif entry is not None:
            self.request_move(entry, message.column, message.before_id)

    def request_move(
        self, card: Card, column: str, before_id: str | None, *, asked: bool = False
    ) -> None:
        """Show the move at once, then write it off the UI thread; a conflict reverts it. Moves
        typed ahead queue up and are written one after the other, in order. The first write starts
        after the next frame, so its refresh never delays the frame showing the move.

        A done card dragged (or moved) into the agent column would start a new run from the
        base: that asks first, as ``r`` does."""
        agent_column = self.settings.board.agent_column
        shown = self.board.column_of(card.id) or self.store.status_of(card)
        if (
            not asked
            and column == agent_column
            and shown != agent_column
            and self.session.agents_on
        ):
            done = shown == self.settings.board.done_column  # as the user sees it now
            warning = self.session.rerun_warning(card.id) if done else None
            if warning is not None:

                def chosen(choice: str | None) -> None:
                    fresh = self.store.entry(card.id)
                    if choice == "run" and isinstance(fresh, Card):
                        self.request_move(fresh, column, before_id, asked=True)

                self.push_screen(ChoiceDialog("Run the agent again?", f"{warning}. Run it anyway?",
                                              [("run", "Run again", "warning")]), chosen)  # fmt: skip
                return
        self._show_move(card.id, column, before_id)
        self._pending_moves.append(
            PendingMove(card.id, column, before_id, card, self.store.outside_changes(card.id))
        )
        if len(self._pending_moves) == 1:
            self.call_after_refresh(self._write_moves)

    def _show_move(self, card_id: str, column: str, before_id: str | None) -> None:
        """The move on screen, ahead of the write: only the two columns involved are rebuilt."""
        self.board.set_columns(_with_move(self.board.models, card_id, column, before_id))
        if self.board.selected_card_id != card_id:  # the selection follows the card if selected
            self.board.select_card_id(card_id)

    @work(group="writes", exit_on_error=False)
    async def _write_moves(self) -> None:
        """Write the pending moves in order, each on the card as the previous one left it."""
        while self._pending_moves:
            move = self._pending_moves[0]
            outside = self.store.outside_changes(move.card_id) != move.outside_changes
            try:
                await asyncio.to_thread(
                    self.session.move,
                    move.card_id,
                    move.column,
                    before_id=move.before_id,
                    # Only a change read from disk is someone else's: against the card as seen,
                    # it is refused. Otherwise the store's copy is the reference, and the write
                    # still refuses an edit on disk the store has not read yet.
                    expect=move.seen if outside else None,
                )
            except (CardConflict, BoardError) as exc:
                self._drop_pending_moves(move.card_id)  # the later ones built on this one
                if isinstance(exc, CardConflict):
                    reason = str(exc).rstrip(".")
                    self.notify(f"{reason}. Nothing was lost; look again and retry.",
                                title="Card changed on disk", severity="warning")  # fmt: skip
                else:
                    self.notify(str(exc), title="Move failed", severity="error")
                self._schedule_refresh()  # undo the moves shown ahead of the write
                continue
            except BaseException:
                self._pending_moves.clear()  # reported by _on_worker_state, which refreshes
                raise
            self._pending_moves.popleft()
            # On success the store's change notice refreshes the board: no second refresh here.

    def _drop_pending_moves(self, card_id: str) -> None:
        kept = [m for m in self._pending_moves if m.card_id != card_id]
        self._pending_moves.clear()
        self._pending_moves.extend(kept)

    # ------------------------------------------------------------------ card actions

    def action_new_card(self) -> None:
        def created(title: str | None) -> None:
            if not title:
                return
            try:
                card = self.session.create(title, status=self.settings.first_column)
            except BoardError as exc:
                self.notify(str(exc), title="Could not create the card", severity="error")
                return
            self.refresh_board()
            self.board.select_card_id(card.id)
            self.notify(f"Created {card.path.name}. Press e to write its task.", timeout=3)

        first = self.settings.board.columns[0].title
        self.push_screen(
            PromptDialog(
                f"New card in {first}",
                placeholder="Title",
                hint="Written as a markdown file in the board directory.",
            ),
            created,
        )

    def action_edit_card(self) -> None:
        entry = self._selected_entry()
        if entry is None:
            return
        editor = (
            self.settings.ui.editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        )
        try:
            with self.suspend():
                subprocess.call([*shlex.split(editor), str(entry.path)])
        except Exception as exc:  # SuspendNotSupported in headless runs, a missing editor...
            self.notify(f"Could not open the editor ({editor}): {exc}", severity="error")
            return
        self.session.reread(entry.path)
        self.refresh_board()

    def action_delete_card(self) -> None:
        card = self._selected_card_or_warn()
        if card is None:
            return
        archive = self.settings.board.archive_dir

        def chosen(choice: str | None) -> None:
            try:
                if choice in ("archive", "delete"):
                    self._removing.add(card.id)
                if choice == "archive":
                    target = self.session.archive(card.id)
                    self.notify(f"Archived to {target.parent.name}/{target.name}", timeout=3)
                elif choice == "delete":
                    self.session.delete(card.id)
                    self.notify(f"Deleted {card.path.name}", timeout=3)
            except BoardError as exc:
                self._removing.discard(card.id)
                self.notify(str(exc), severity="error")

        message = Text.assemble(
            (card.title, "bold"),
            f"\n{card.path.name}\n\n",
            f"Archive moves the file to {archive}/ (it leaves the board, nothing is lost). "
            "Delete removes the file.",
        )
        self.push_screen(
            ChoiceDialog(
                "Remove this card?",
                message,
                [("archive", "Archive", "primary"), ("delete", "Delete file", "error")],
            ),
            chosen,
        )

    # ------------------------------------------------------------------ filter

    async def action_filter(self) -> None:
        box = self.filter_box
        if box.parent is None:
            await self.mount(box, before=self.query_one(StateFooter))
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_board()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.remove_class("-visible")
        self.board.focus()

    def action_focus_board(self) -> None:
        """escape: back to the board; on the board (or in the filter box), clear the filter."""
        self.panel.close_message_line()
        box = self.filter_box
        if box.has_focus or (self.board.has_focus and self.filter_text):
            box.value = ""
            box.remove_class("-visible")
            if self.filter_text:
                self.filter_text = ""
                self.refresh_board()
        self.board.focus()

    # ------------------------------------------------------------------ panel and help

    def _show_panel(self, show: bool) -> None:
        """Show or hide the side panel. While it shows, toasts go to the board's side (bottom
        left): at the bottom right they covered the newest lines of the Log."""
        self.panel.set_class(not show, "-hidden")
        self.screen.set_class(show, "-panel-open")

    def action_focus_panel(self) -> None:
        self._show_panel(True)
        self.panel.focus_content()

    def action_toggle_panel(self) -> None:
        self._show_panel(self.panel.has_class("-hidden"))
        if self.panel.has_class("-hidden"):
            self.board.focus()

    def action_cycle_panel_width(self) -> None:
        self._show_panel(True)
        self.panel.toggle_class("-wide")

    def action_show_tab(self, tab_id: str) -> None:
        self._show_panel(True)
        self.panel.show_tab(tab_id)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_sections()))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in palette_commands():
            yield SystemCommand(title, help_text, partial(self.run_action, action))


def _with_move(
    models: list[ColumnModel], card_id: str, column: str, before_id: str | None
) -> list[ColumnModel]:
    """The columns with one card moved, as a move shows before its write: only the two columns
    involved are new objects (the board redraws only those)."""
    source = next((m for m in models if any(v.id == card_id for v in m.cards)), None)
    if source is None:
        return models
    moving = next(v for v in source.cards if v.id == card_id)
    updated = []
    for model in models:
        if model.id not in (source.id, column):
            updated.append(model)
            continue
        cards = [v for v in model.cards if v.id != card_id]
        total = model.total - (len(model.cards) - len(cards))
        if model.id == column:
            ids = [v.id for v in cards]
            cards.insert(ids.index(before_id) if before_id in ids else len(cards), moving)
            total += 1
        # An unreadable card is never moved: the error count stays.
        updated.append(ColumnModel(model.id, model.title, model.wip, cards, total,
                                   model.is_agent_column, model.errors))  # fmt: skip
    return updated


def _display_path(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return Path(*path.parts[-2:])


def make_app(board_dir: Path | str, **kwargs) -> KanbanApp:
    """The app factory used by the CLI, the tests and the screenshot script."""
    return KanbanApp(BoardStore.open(board_dir), **kwargs)


def watch_board(store: BoardStore, **options):
    """The board's file watcher (``core.watch``); watchfiles loads with the first, not at start-up."""
    from ..core.session import watch_board as watch

    return watch(store, **options)


def run_app(board_dir: Path, demo: bool = False, host_agents: bool = True) -> int:
    # Loading a big board allocates many objects that live as long as the app: keep the garbage
    # collector from scanning them again and again (passes of ~0.1 s showed up before the first frame).
    gc.disable()
    try:
        app = make_app(board_dir, demo=demo, host_agents=host_agents)
    finally:
        gc.enable()
    gc.freeze()
    app.run()
    return app.return_code or 0


def _run_number(value) -> int:
    """The run number a card's ``run:`` line records (a hand edit may hold anything)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _card_cost(status, run: dict) -> float | None:
    """The card's cost over all its runs: live from its run's events, else from its file."""
    if status is not None and status.cost_total is not None:
        return status.cost_total
    cost = run.get("cost")
    return float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None
