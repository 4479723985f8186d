"""BoardSession: the one headless front door of a board, for the TUI and every CLI command.

It owns the store, the run manager (agents), the reviewer, the conflict radar and the diffs, and
offers intents (``move``, ``run``, ``cancel``, ``merge``, ``send_back``, ``discard``, ``test``,
``diff``, ``log``, ``orphans``...) plus one typed event stream: the runs' events, board changes,
radar updates and background failures. Views render what it says and send it intents; they never
reach into git, the run records or the run manager. Events may be delivered on any thread (the
store's writers, the run manager's loop): a view hands them to its own loop (Textual's
``post_message`` is thread-safe).

Domain decisions live here, not in a view: which diff a card has (its worktree, or its branch once
the worktree is gone), when the radar rescans (debounced after changes, and every few seconds while
branches are compared, since the base branch moves without telling anyone), whether a run is live.
Heavy parts (runs, review, radar, git, even asyncio) load on first use, so ``list`` stays fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .board import BoardChange, BoardError, BoardStore, CardConflict, CardNotFound
from .card import Card, CardError
from .events import ACTIVE_STATES, FAILED, MERGED, CancelCause, Event, RunStatus
from .frontmatter_edit import DELETE
from .paths import state_dir

if TYPE_CHECKING:
    import asyncio

    from .git import MergeCheck, WorktreeDiff
    from .pull_request import PrCheck, PrOutcome
    from .radar import RadarReport
    from .rebase import RebaseOutcome
    from .review import CardBranch, MergeOutcome, Reviewer
    from .runs import RunManager
    from .scope import ScopeReport

log = logging.getLogger(__name__)

RADAR_DEBOUNCE = 1.0  # seconds: one scan a second at most
RADAR_RECHECK = 5.0  # seconds between looks at a base branch that may have moved
PR_POLL = 300.0  # seconds between asking gh whether the cards' pull requests are merged
COST_REREAD = 5.0  # seconds between reads of the records for today's cost


# ---------------------------------------------------------------------------- events


@dataclass(frozen=True)
class BoardChanged:
    """A card file changed (the app's own write or one seen on disk)."""

    change: BoardChange
    t: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RadarUpdated:
    """The conflict radar found a different set of conflicts."""

    report: RadarReport
    t: float = field(default_factory=time.time)


@dataclass(frozen=True)
class BackgroundFailed:
    """Work nobody waits for failed (a radar scan, an event subscriber, start-up recovery). The
    traceback is in ``log_file``; ``way_out`` says what the user can do."""

    what: str
    error: str
    way_out: str
    log_file: Path | None = None
    t: float = field(default_factory=time.time)


SessionEvent = Event | BoardChanged | RadarUpdated | BackgroundFailed
Sink = Callable[[SessionEvent], None]


# ---------------------------------------------------------------------------- errors


NOT_IN_GIT_REPO = (
    "the board is not inside a git repository, and agents work in git worktrees: run 'git init' "
    "and make a first commit there, then open the board again"
)


class ActionFailed(Exception):
    """An intent could not be carried out; the message is one line (git's words for git)."""


class MergeConflict(ActionFailed):
    def __init__(self, message: str, base: str, files: list[str], feedback: str = ""):
        super().__init__(message)
        self.base = base
        self.files = files
        self.feedback = feedback  # review notes that send it back; "" for the merge's own


class GitChangesNeedConfirm(ActionFailed):
    """The card's agent changed git's own files (``changes``): merge again with
    ``accept_git_changes=True`` once the user has seen them and confirmed."""

    def __init__(self, message: str, changes: list[str]):
        super().__init__(message)
        self.changes = changes


class OutOfScopeNeedsConfirm(ActionFailed):
    """The card's work changes files outside its ``files`` or its protected tests (``report``):
    merge again with ``allow_out_of_scope=True`` once the user has seen them and confirmed."""

    def __init__(self, message: str, report: ScopeReport):
        super().__init__(message)
        self.report = report


class RunLost(ActionFailed):
    """The process running a followed run went away without ending it."""

    def __init__(self, card_id: str, run: int):
        super().__init__(
            f"run {run} of {card_id} stopped without an outcome (the process running it is gone)"
        )
        self.card_id = card_id
        self.run = run


class AgentsOff(ActionFailed):
    def __init__(self) -> None:
        super().__init__("agents are off in this session")


@contextlib.contextmanager
def _as_action_failed():
    """Review and git errors become ``ActionFailed`` (board errors pass as they are)."""
    from .git import GitError
    from .review import GitChangesNotAccepted, MergeRefused, OutOfScopeNotConfirmed, ReviewError

    try:
        yield
    except MergeRefused as exc:
        raise MergeConflict(
            str(exc), getattr(exc, "base", ""), list(exc.files), exc.feedback
        ) from exc
    except GitChangesNotAccepted as exc:
        raise GitChangesNeedConfirm(str(exc), list(exc.changes)) from exc
    except OutOfScopeNotConfirmed as exc:
        raise OutOfScopeNeedsConfirm(str(exc), exc.report) from exc
    except ReviewError as exc:
        raise ActionFailed(str(exc)) from exc
    except GitError as exc:
        raise ActionFailed(f"git: {exc}") from exc


# ---------------------------------------------------------------------------- values


@dataclass(frozen=True)
class DiffView:
    """What the card's work changed, where it lives, and whether an agent is still at it."""

    card_id: str
    branch: str
    base: str
    repo: Path
    worktree: Path | None
    diff: WorktreeDiff
    live: bool
    scope: ScopeReport | None = None  # files changed outside the card's files, protected tests

    def where(self) -> str:
        text = f"{self.branch} → {self.base}"
        if self.worktree is not None:
            text += f"   worktree {_relative(self.worktree, self.repo)}"
        return text


@dataclass(frozen=True)
class RunLog:
    run: int  # 0 when the card never ran
    events: list[Event]


# ---------------------------------------------------------------------------- the session


class BoardSession:
    def __init__(
        self,
        store: BoardStore,
        *,
        agents: bool = True,
        runs: RunManager | None = None,
    ):
        self.store = store
        self._agents = agents or runs is not None
        self._runs = runs
        self._reviewer: Reviewer | None = None
        self._sinks: list[Sink] = []
        self._radar = None
        self._radar_report: RadarReport | None = None
        self._radar_timer: asyncio.TimerHandle | None = None
        self._radar_task: asyncio.Task | None = None
        self._radar_ticker: asyncio.Task | None = None
        self._pr_poller: asyncio.Task | None = None
        self._radar_pending: set[str] | None = None  # branches to rescan; None = all
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self.radar_scans = 0  # how many scans ran (tests and benchmarks look)
        self._theme = store.settings.ui.theme  # the last one chosen (remember_theme)
        self._cost_cache: tuple[float, float, float] | None = None  # read at, midnight, $
        self._hooks = None  # HookRunner, made when a hook first fires
        self._hooks_watching = False
        self._worktree_bytes: tuple[float, int] | None = None  # (when measured, total)
        self._watch_only = False  # another process hosts the agents (see ``start``)
        store.add_listener(self._on_store_change)

    @classmethod
    def open(cls, board_dir: Path | str, *, agents: bool = True) -> BoardSession:
        return cls(BoardStore.open(board_dir), agents=agents)

    # ------------------------------------------------------------------ reads

    @property
    def settings(self):
        return self.store.settings

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def agents_on(self) -> bool:
        return self._agents

    @property
    def runs(self) -> RunManager:
        """The run manager (created on first use). Views use the intents, not this."""
        if not self._agents:
            raise AgentsOff()
        if self._runs is None:
            from .runs import RunManager

            self._runs = RunManager(self.store)
        return self._runs

    @property
    def reviewer(self) -> Reviewer:
        if self._reviewer is None:
            from .review import Reviewer

            self._reviewer = Reviewer(self.store)
        return self._reviewer

    @property
    def repo(self) -> Path | None:
        return self.runs.repo if self._agents else None

    # Until agents start, nothing is known about runs: these reads do not create the run manager
    # (its imports would sit in front of a view's first frame).

    def status(self, card_id: str | None) -> RunStatus | None:
        if self._runs is None or card_id is None:
            return None
        return self._runs.status.get(card_id)

    def statuses(self) -> dict[str, RunStatus]:
        return self._runs.status if self._runs is not None else {}

    def is_active(self, card_id: str) -> bool:
        return self._runs is not None and self._runs.is_active(card_id)

    @property
    def in_git_repo(self) -> bool:
        return state_dir(self.root) is not None

    @property
    def git_warning(self) -> str | None:
        """What a view says at start when agents cannot run here (no git repository around the
        board), before a first run fails with some later error; None when all is well."""
        return NOT_IN_GIT_REPO if self._agents and not self.in_git_repo else None

    def active_cards(self) -> list[str]:
        """The cards whose agents this process runs (quitting stops them)."""
        if self._watch_only:
            return []
        return [cid for cid, s in self.statuses().items() if s.state in ACTIVE_STATES]

    @property
    def watch_only(self) -> bool:
        """Another process (``serve``) hosts the agents; this one shows their runs."""
        return self._watch_only

    def is_live(self, card_id: str) -> bool:
        """An agent is working in the card's worktree right now (its files may change)."""
        status = self.status(card_id)
        return status is not None and status.state in ("preparing", "running", "testing")

    def conflicts_with_cards(self, card_id: str) -> list:
        """What the last radar scan found between this card's branch and other cards' branches
        (conflicts with the base branch left out)."""
        from .radar import BASE

        return [c for c in self.radar_report.for_card(card_id) if c.other != BASE]

    @property
    def radar_report(self) -> RadarReport:
        if self._radar_report is None:
            from .radar import RadarReport

            self._radar_report = RadarReport()
        return self._radar_report

    def cleanup_notes(self) -> list[str]:
        return list(self.store.cleanup_notes)

    def remember_theme(self, theme: str) -> None:
        """The user chose a theme: keep it for every board (the user's config file), unless it
        is the one the settings already give (the app setting it at start)."""
        if theme == self._theme:
            return
        self._theme = theme
        from ..config import remember_user_setting

        try:
            remember_user_setting("ui", "theme", theme)
        except OSError as exc:  # a read-only home: the theme still applies, for now
            log.warning("could not save the theme: %s", exc)

    # ------------------------------------------------------------------ events

    def subscribe(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def unsubscribe(self, sink: Sink) -> None:
        with contextlib.suppress(ValueError):
            self._sinks.remove(sink)

    def _emit(self, event: SessionEvent) -> None:
        for sink in list(self._sinks):
            try:
                sink(event)
            except Exception as exc:  # one broken view must not stop the others, nor go unseen
                if isinstance(event, BackgroundFailed):
                    log.exception("an event subscriber failed on a failure report")
                    continue
                self.report_failure("an event subscriber", exc, "restart the app")

    def report_failure(self, what: str, exc: BaseException, way_out: str) -> BackgroundFailed:
        """Tell every view that background work failed; the traceback goes to the log file."""
        path = write_failure_log(self.root, what, exc)
        failure = BackgroundFailed(what, _one_line(exc), way_out, path)
        self._emit(failure)
        return failure

    def _on_store_change(self, change: BoardChange) -> None:
        self._emit(BoardChanged(change))
        if self._started:
            self.schedule_radar()  # a merge or discard, maybe from the CLI, ends a branch

    def _on_run_event(self, event: Event) -> None:
        self._emit(event)
        from .events import DiffChanged, RunFinished, ToolFinished

        if isinstance(event, RunFinished):
            self._cost_cache = None  # its cost moves from the live figure to the records
        if isinstance(event, RunFinished | DiffChanged) or (
            isinstance(event, ToolFinished) and event.name in ("write_file", "edit_file")
        ):
            self.schedule_radar()

    # ------------------------------------------------------------------ hooks ([hooks])

    def _watch_for_hooks(self, runs) -> None:
        if not self._hooks_watching:
            self._hooks_watching = True
            runs.subscribe(self._hooks_on_run_event)

    def _hooks_on_run_event(self, event: Event) -> None:
        from .events import REVIEW, AgentBlocked, RunFinished

        if isinstance(event, RunFinished) and event.state in (REVIEW, FAILED):
            hook = "on_review" if event.state == REVIEW else "on_failed"
            self._fire_hook(hook, event.card_id, str(event.state), event.reason, event.run)
        elif isinstance(event, AgentBlocked):
            self._fire_hook("on_blocked", event.card_id, "blocked", event.reason, event.run)

    def _fire_hook(self, name: str, card_id: str, state: str, reason: str, run: int = 0) -> None:
        """Start the hook's command, if one is set, in the background (``hooks.py``)."""
        from .hooks import Hook, HookCall, HookRunner

        hook = Hook(name)
        if self._hooks is None:
            self._hooks = HookRunner(self.settings.hooks, self.root, self._hook_failed)
        if not self._hooks.command(hook).strip():
            return
        entry = self.store.entry(card_id)
        try:
            recorded = self._records().load_state(card_id)
        except ActionFailed:
            recorded = None
        call = HookCall(
            hook, card_id, title=getattr(entry, "title", "") or "", state=state,
            worktree=recorded.worktree if recorded is not None else "", reason=reason,
            run=run or (recorded.run if recorded is not None else 0),
        )  # fmt: skip
        self._hooks.fire(call)

    def _hook_failed(self, call, problem: str) -> None:
        """A hook failed (in its thread): the card's log keeps it, the views show it."""
        from .events import Notice
        from .records import run_records

        notice = Notice(call.card_id, call.run, text=problem, level="warning")
        if call.run:
            records = run_records(self.store)  # its own file handle: the host may be writing
            records.append(notice)
            records.close(call.card_id, call.run)
        log.warning("%s: %s", call.card_id, problem)
        self._emit(notice)

    def wait_for_hooks(self, timeout: float | None = None) -> None:
        if self._hooks is not None:
            self._hooks.wait(timeout)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, host: bool = True, watch_only: bool = False) -> None:
        """Start hosting agents (recovery of interrupted runs first) and the radar.
        ``watch_only``: another process hosts them (``serve``); their runs are shown here live."""
        import asyncio

        self._loop = asyncio.get_running_loop()
        self._watch_only = watch_only
        if not self._agents:
            return
        runs = self.runs
        runs.subscribe(self._on_run_event)
        if not watch_only:  # the host fires the hooks of its runs, once
            self._watch_for_hooks(runs)
        if hasattr(runs, "on_subscriber_error"):
            runs.on_subscriber_error = lambda exc, what: self.report_failure(
                what or "an agent event subscriber", exc, "restart the app"
            )
        await runs.start(host=host, watch_only=watch_only)
        self._started = True
        self._radar_ticker = asyncio.ensure_future(self._radar_recheck())
        if not watch_only:  # the host asks gh; its moves reach the views as file changes
            self._pr_poller = asyncio.ensure_future(self._poll_pull_requests())
        self.schedule_radar()

    async def stop(self, reason: str | None = None) -> None:
        self._started = False
        for task in (self._radar_ticker, self._radar_task, self._pr_poller):
            if task is not None:
                task.cancel()
        if self._radar_timer is not None:
            self._radar_timer.cancel()
            self._radar_timer = None
        if self._agents and self._runs is not None:
            self._runs.unsubscribe(self._on_run_event)
            if reason is None:
                await self._runs.stop()
            else:
                await self._runs.stop(reason)

    def close(self) -> None:
        self.store.remove_listener(self._on_store_change)

    # ------------------------------------------------------------------ board intents

    def move(
        self,
        card_id: str,
        column: str,
        position: int | None = None,
        *,
        before_id: str | None = None,
        expect: Card | None = None,
    ) -> Card:
        """Move a card (to ``position``, or before the card ``before_id``). Entering the agent
        column starts its agent (the run manager sees the change)."""
        if before_id is not None and position is None:
            others = [c.id for c in self.store.column_cards(column) if c.id != card_id]
            position = others.index(before_id) if before_id in others else None
        return self.store.move(card_id, column, position, expect=expect)

    def create(self, title: str, status: str | None = None, **kwargs: Any) -> Card:
        return self.store.create(title, status=status, **kwargs)

    def edit(
        self,
        card_id: str,
        *,
        title: str | None = None,
        labels: list[str] | None = None,
        priority: str | None = None,
        status: str | None = None,
        expect: Card | None = None,
    ) -> Card:
        """Change a card's title, labels, priority (``""`` removes it) and column, as a form
        gives them: only keys whose value changes are written, each on its own line; against
        ``expect`` (the card the form showed), an edit made on disk since is refused
        (``CardConflict``), never overwritten. A new column is a move to its end (entering the
        agent column starts the agent, as any move does)."""
        card = expect or self.store.get(card_id)
        changes: dict[str, Any] = {}
        if title is not None and title.strip() and title.strip() != card.title:
            changes["title"] = title.strip()
        if labels is not None and labels != card.labels:
            changes["labels"] = labels if labels else DELETE
        if priority is not None and priority.strip() != (card.priority or ""):
            changes["priority"] = priority.strip() if priority.strip() else DELETE
        if changes:
            card = self.store.update(card_id, changes, expect=expect)
        if status is not None and status != self.store.status_of(card):
            card = self.store.move(card_id, status, None, expect=card)
        return card

    def sort_by_priority(self, column: str) -> list[str]:
        """Order a column by priority, most urgent first (ties keep their order); returns the
        ids of the cards whose ``order`` changed."""
        return self.store.sort_column(column, key=lambda card: card.priority_rank)

    def update_card(
        self,
        card_id: str,
        changes: dict[str, Any] | None = None,
        body: str | None = None,
        *,
        expect: Card | None = None,
    ) -> Card:
        """Set front-matter keys (None removes one) and/or replace the body: one minimal-diff
        write. The board's bookkeeping keys and the column are refused (see ``card_edits``)."""
        from .card_edits import update_card

        return update_card(self.store, card_id, changes, body, expect=expect)

    def comment(self, card_id: str, note: str, author: str = "agent") -> Card:
        """A note to the reviewer, appended under the card's ``## Notes for the reviewer``."""
        from .card_edits import add_reviewer_note

        return add_reviewer_note(self.store, card_id, note, author)

    def archive(self, card_id: str) -> Path:
        return self.store.archive(card_id)

    def delete(self, card_id: str) -> None:
        self.store.delete(card_id)

    def reload(self) -> None:
        """Read the board and its kanban.toml again from disk (a long-lived face without a file
        watcher, the MCP server: the app, editors and other agents write the cards too).
        Unchanged files come from the card cache. ``ConfigError`` for a broken kanban.toml."""
        self.store.reload_settings()

    def reread(self, path: Path) -> None:
        """A file was edited outside the store (the user's editor): read it again."""
        self.store.refresh_path(path)

    # ------------------------------------------------------------------ agent intents

    def run(self, card_id: str) -> str:
        """Start (or resume) the card's agent: moves it to the agent column if needed. Returns
        what happened, in a sentence."""
        if not self._agents:
            raise AgentsOff()
        card = self.store.get(card_id)
        agent_column = self.settings.board.agent_column
        if self.store.status_of(card) != agent_column:
            self.move(card_id, agent_column)
            return f"{card_id}: moved to the agent column; its agent starts."
        shown = self.status(card_id)
        if self.runs.is_active(card_id) or (
            self._watch_only and shown is not None and shown.state in ACTIVE_STATES
        ):
            return f"{card_id}: its agent is already queued or running."
        if self._watch_only:
            host = self.board_host()
            if host is None:
                raise ActionFailed(
                    "nothing runs this board's agents now (kanban-agents serve has stopped?): "
                    "start it again, or open the board without --no-host"
                )
            self.runs.records.ask_to_start(card_id)
            return f"{card_id}: asked the process running the agents (pid {host}) to start it."
        self.runs.request(card_id)
        return f"{card_id}: agent started again in its worktree."

    def rerun_warning(self, card_id: str) -> str | None:
        """Why running the card's agent needs the user's say-so, or None: the card is done (its
        work merged, usually), so a run starts over on a new branch from the base. Views ask
        first: the TUI a confirmation, the CLI --force."""
        card = self.store.get(card_id)
        done_column = self.settings.board.done_column
        if self.store.status_of(card) != done_column:
            return None
        try:
            state = self._records().load_state(card_id)
        except ActionFailed:  # no git repository: the column says enough
            state = None
        merged = " and merged" if state is not None and state.state == MERGED else ""
        return (
            f"{card_id} is done (in {done_column}{merged}); running its agent again starts a "
            "new branch from the base"
        )

    def say(self, card_id: str, text: str):
        """Send the reviewer's message to the card's agent (see ``steering.py``); returns a
        ``SentMessage`` whose ``explanation`` says when the agent reads it."""
        from .steering import EmptyMessage, say

        card = self.store.get(card_id)
        records = self._records()
        status = self.status(card_id)
        if status is not None and status.state is not None:
            state = status.state
        else:
            recorded = records.load_state(card_id)
            state = records.as_seen(recorded).state if recorded is not None else None
        in_column = self.store.status_of(card) == self.settings.board.agent_column
        try:
            return say(card, text, records, self.settings, state, in_column)
        except EmptyMessage as exc:
            raise ActionFailed(str(exc)) from None

    def cancel(self, card_id: str, reason: str = "cancelled by you") -> bool:
        if self._watch_only and self.is_live(card_id):
            column = self.settings.board.agent_column
            raise ActionFailed(
                f"{card_id}'s agent runs in the serving process: move the card out of {column} "
                "to stop it"
            )
        return self.runs.cancel(card_id, reason) if self._agents else False

    async def wait(self, card_id: str) -> RunStatus | None:
        return await self.runs.wait(card_id)

    def log(self, card_id: str, *, last: int | None = None) -> RunLog:
        """The events of the card's latest run (its last ``last`` lines' worth)."""
        records = self.runs.records
        run = records.next_run_number(card_id) - 1
        if run < 1:
            return RunLog(0, [])
        return RunLog(run, list(records.read_events(card_id, run, last=last)))

    def orphans(self) -> list:
        """Worktrees the board made whose card is gone."""
        if not self._agents:
            return []
        with _as_action_failed():
            return self.runs.orphaned_worktrees()

    # ------------------------------------------------------------------ worktrees (core/worktree_inventory.py)

    def _inventory(self):
        from .paths import repo_root
        from .worktree_inventory import WorktreeInventory

        repo = repo_root(self.root)
        if repo is None:
            raise ActionFailed(NOT_IN_GIT_REPO)
        return WorktreeInventory(repo, self.store, self._records())

    def worktrees(self, *, measure: bool = True) -> list:
        """Every worktree the board made (``WorktreeEntry``), with its disk use when
        ``measure``. Blocking: call it off the UI thread."""
        with _as_action_failed():
            return self._inventory().list(measure=measure)

    def gc_worktrees(self, *, dry_run: bool = False, older_than: str | None = None,
                     force: bool = False):  # fmt: skip
        """Remove orphaned worktrees (card gone or done); a ``GcReport``. Blocking."""
        from .worktree_inventory import parse_age

        try:
            age = parse_age(older_than) if older_than else None
        except ValueError as exc:
            raise ActionFailed(str(exc)) from None
        with _as_action_failed():
            report = self._inventory().gc(dry_run=dry_run, older_than=age, force=force)
        if self._runs is not None and not dry_run:
            self._runs.workspaces.pool_changed()
        self._worktree_bytes = None
        return report

    async def worktree_disk_use(self, *, max_age: float = 60.0) -> int:
        """Total bytes the board's worktrees take, measured off the event loop and cached for
        ``max_age`` seconds (walking a big checkout takes a while)."""
        import asyncio

        cached = self._worktree_bytes
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        total = await asyncio.to_thread(lambda: self._inventory().total_bytes())
        self._worktree_bytes = (time.monotonic(), total)
        return total

    async def rerun_setup(self, card_id: str, on_event: Callable[[Event], None] | None = None):
        """Copy the files and run ``[worktrees] setup`` again in the card's existing worktree
        (``u``, ``kanban-agents setup CARD``); raises ActionFailed when it fails."""
        from .runs import RunError

        try:
            with _as_action_failed():
                return await self.runs.rerun_setup(card_id, on_event)
        except RunError as exc:
            raise ActionFailed(str(exc)) from None

    # ------------------------------------------------------------------ runs, seen from any process

    def _records(self):
        """The run records (under the repository's git dir): the host's own, or a reader's."""
        if state_dir(self.root) is None:
            raise ActionFailed(NOT_IN_GIT_REPO)
        if self._runs is not None:
            return self._runs.records
        from .records import run_records

        return run_records(self.store)

    @property
    def redactor(self):
        """What hides API keys in everything this process prints or writes."""
        return self._records().redactor

    def redacted(self, stream):
        """``stream`` with the API keys this session knows replaced (for what a run prints)."""
        from .records import RedactingStream

        return RedactingStream(stream, self.redactor)

    def board_host(self) -> int | None:
        """The pid of a board app hosting this board's agents, if one runs."""
        return board_host(self.root)

    def next_run(self, card_id: str) -> int:
        return self._records().next_run_number(card_id)

    def run_log(self, card_id: str, run: int | None = None) -> RunLog:
        """All events of one run of the card (default: its latest)."""
        records = self._records()
        run = run or records.next_run_number(card_id) - 1
        if run < 1:
            return RunLog(0, [])
        return RunLog(run, list(records.read_events(card_id, run)))

    def run_states(self) -> list[tuple[Any, int | None]]:
        """Every card's last run as it stands (a run whose process is gone reads interrupted),
        with the pid of the process running it now, if any."""
        records = self._records()
        return [
            (state, records.lock(state.card_id).holder())
            for state in map(records.as_seen, records.all_states())
        ]

    def cost_today(self) -> float:
        """Dollars of today's runs (since local midnight): finished ones from the records
        (read at most every few seconds), running ones from their events."""
        from .pricing import cost_since, start_of_today

        now = time.time()
        midnight = start_of_today(now)
        cached = self._cost_cache
        if cached is None or now - cached[0] > COST_REREAD or cached[1] != midnight:
            try:
                states = self._records().all_states()
            except ActionFailed:
                states = []
            live = {c for c, s in self.statuses().items() if s.state in ACTIVE_STATES}
            # A live run's cost comes from its events; its record may hold an older figure.
            extras = [
                {
                    **s.extra,
                    "costs": [c for c in s.extra.get("costs") or [] if c.get("run") != s.run],
                }
                if s.card_id in live
                else s.extra
                for s in states
            ]
            cached = self._cost_cache = (now, midnight, cost_since(extras, midnight))
        running = sum(s.cost or 0.0 for s in self.statuses().values() if s.state in ACTIVE_STATES)
        return cached[2] + running

    def card_run_as_seen(self, card: Card) -> dict[str, Any]:
        """The card's ``run`` front matter, corrected when its process is gone."""
        return run_as_seen(self.store, card)

    def background_log(self, card_id: str) -> Path:
        """Where a run started in the background writes what it prints."""
        directory = self._records().root / card_id
        directory.mkdir(parents=True, exist_ok=True)
        return directory / "background.log"

    def follow(self, card_id: str, first_run: int = 1, *, start_timeout: float = 15.0):
        """The events of the card's run numbered ``first_run`` or later, as whichever process runs
        it writes them, until its ``RunFinished``. Raises ``RunLost`` when that process goes away
        without ending the run, ``ActionFailed`` when no run starts within ``start_timeout``."""
        from .events import RunFinished
        from .records import HostWatch

        records = self._records()
        deadline = time.monotonic() + start_timeout
        while (run := records.next_run_number(card_id) - 1) < first_run:
            if time.monotonic() > deadline:
                column = self.settings.board.agent_column
                raise ActionFailed(
                    f"no run of {card_id} started (is the board app's agent column {column!r}?)"
                )
            time.sleep(0.1)
        offset = 0
        watch = HostWatch(records, self.root, card_id)
        while True:
            events, offset = records.read_from(card_id, run, offset)
            for event in events:
                watch.saw(event)
                yield event
                if isinstance(event, RunFinished):
                    return
            if watch.lost():
                raise RunLost(card_id, run)
            time.sleep(0.2)

    async def run_here(self, card_id: str, on_event: Callable[[Event], None] | None = None):
        """Host the card's run in this process until it ends (``run --wait``): the card enters
        the agent column (or its run is requested again), the agent works, the run's final
        status is returned. Stopping early (Ctrl-C) leaves it interrupted and resumable."""
        import asyncio

        runs = self.runs

        def relay(event: Event) -> None:
            if on_event is not None and event.card_id == card_id:
                on_event(event)

        runs.subscribe(relay)
        self._watch_for_hooks(runs)
        await runs.start(auto_start=False)
        try:
            agent_column = self.settings.board.agent_column
            if self.store.status_of(self.store.get(card_id)) != agent_column:
                await asyncio.to_thread(self.move, card_id, agent_column)  # the move starts it
            else:
                runs.request(card_id)
            return await runs.wait(card_id)
        finally:
            await runs.stop("interrupted from the command line")
            runs.unsubscribe(relay)

    # ------------------------------------------------------------------ review intents

    def card_branch(self, card_id: str) -> CardBranch:
        with _as_action_failed():
            return self.reviewer.card_branch(card_id)

    def worktree_of(self, card_id: str) -> Path | None:
        return self.card_branch(card_id).worktree

    def check_merge(self, card_id: str) -> tuple[CardBranch, MergeCheck]:
        with _as_action_failed():
            return self.reviewer.card_branch(card_id), self.reviewer.check_merge(card_id)

    def conflict_to_send_back(self, card_id: str) -> tuple[CardBranch, str | None]:
        """Review notes that send the card back with its conflict: merging it into its base,
        else the commit its last rebase stopped on (while neither branch nor base moved).
        None: there is no conflict to send back. Blocking (git)."""
        from .rebase import current_rebase_conflict

        with _as_action_failed():
            where, check = self.reviewer.card_branch(card_id), self.reviewer.check_merge(card_id)
            if not check.clean:
                return where, conflict_feedback(where.base, check.conflicts)
            rebase = current_rebase_conflict(self.reviewer, card_id)
            return where, rebase.feedback() if rebase is not None else None

    def merge(
        self,
        card_id: str,
        strategy: str | None = None,
        *,
        accept_git_changes: bool = False,
        allow_out_of_scope: bool = False,
    ) -> MergeOutcome:
        """``GitChangesNeedConfirm`` when the card's agent changed git's own files and the user
        has not accepted them (``accept_git_changes``); ``OutOfScopeNeedsConfirm`` when its work
        changes files outside the card's scope unconfirmed (``allow_out_of_scope``)."""
        with _as_action_failed():
            outcome = self.reviewer.merge(
                card_id,
                strategy,
                accept_git_changes=accept_git_changes,
                allow_out_of_scope=allow_out_of_scope,
            )
        self._retire_comments(card_id)
        self.schedule_radar()
        if self._runs is not None:  # its worktree may be a spare now: checked in the background
            self._runs.workspaces.pool_changed()
        if not outcome.already_merged:
            self._fire_hook(
                "on_merged", card_id, "merged", f"{outcome.commit[:12]} on {outcome.base}"
            )
        return outcome

    def git_changes(self, card_id: str) -> list[str]:
        """What the card's agent changed in git's own files, not yet accepted by a merge (for
        the merge dialog's confirmation)."""
        return self.reviewer.git_changes(card_id)

    def scope(self, card_id: str) -> ScopeReport:
        """What the card's work changes outside its ``files`` and in its protected tests (for
        the merge dialog). Blocking (git)."""
        with _as_action_failed():
            return self.reviewer.scope(card_id)

    def review_round(self, card_id: str) -> int:
        """How many times the card was sent back to its agent."""
        state = self._records().load_state(card_id)
        return state.review_round if state is not None else 0

    def send_back_refusal(self, card_id: str) -> str | None:
        """Why the card cannot go back to its agent now (its agent never ran, is running, ...);
        None when it can. A view asks before it asks the user for notes."""
        from .review import send_back_refusal

        try:
            records = self._records()
        except ActionFailed as exc:
            return str(exc)
        return send_back_refusal(card_id, records.load_state(card_id))

    def send_back(self, card_id: str, feedback: str) -> Card:
        """Back to the agent with ``feedback`` and the card's pending line comments (either may
        be empty, not both); the comments are marked sent with the round."""
        from .review_comments import with_comments

        comments = self._comment_store()
        pending = comments.pending(card_id)
        with _as_action_failed():
            card = self.reviewer.send_back(card_id, with_comments(feedback, pending))
        if pending:
            comments.mark_sent(card_id, [c.id for c in pending], self.review_round(card_id))
        return card

    # ------------------------------------------------------------------ line comments

    def _comment_store(self):
        from .review_comments import ReviewComments

        return ReviewComments(self._records().root)

    def line_comments(self, card_id: str) -> list:
        """The card's line comments on its diff (``ReviewComment``; not ``comment``, an agent's
        note to the reviewer). Sent ones whose line the agent's next round took away are marked
        outdated first. Blocking (git): off the UI thread."""
        from .review_comments import CommentError

        store = self._comment_store()
        state = self._records().load_state(card_id)
        with _comment_errors(CommentError):
            if state is not None and state.run and state.state not in ACTIVE_STATES:
                try:
                    with _as_action_failed():
                        store.mark_outdated(card_id, state.run, self._file_lines_of(card_id))
                except ActionFailed:  # no work left to compare with (merged, discarded): as is
                    pass
            return store.list(card_id)

    def add_comment(
        self, card_id: str, path: str, line: int, text: str, quote: str | None = None
    ) -> Any:
        """A pending comment on ``path:line`` (new side of the card's diff). ``quote``: the diff
        line as the view shows it; None: looked up in the card's diff (blocking, git)."""
        from .review_comments import CommentError, new_side_lines

        state = self._records().load_state(card_id)
        with _as_action_failed(), _comment_errors(CommentError):
            if quote is None:
                quote = self._quote(card_id, path, line, new_side_lines)
            return self._comment_store().add(
                card_id, path, line, quote, text, run=state.run if state else 0
            )

    def edit_comment(self, card_id: str, comment_id: int, text: str) -> Any:
        from .review_comments import CommentError

        with _comment_errors(CommentError):
            return self._comment_store().edit(card_id, comment_id, text)

    def remove_comment(self, card_id: str, comment_id: int) -> Any:
        from .review_comments import CommentError

        with _comment_errors(CommentError):
            return self._comment_store().remove(card_id, comment_id)

    def _retire_comments(self, card_id: str) -> None:
        """The work is merged or discarded: its pending comments can no longer go back to an
        agent. They are kept, as outdated, so the card shows no ``✎`` for them."""
        from .review_comments import CommentError

        try:
            self._comment_store().retire_pending(card_id)
        except (CommentError, ActionFailed, OSError):
            log.warning("could not retire the line comments of %s", card_id, exc_info=True)

    def pending_comment_counts(self) -> dict[str, int]:
        """Pending line comments per card (the cards' ``✎ N``); {} outside a git repository."""
        if state_dir(self.root) is None:
            return {}
        from .review_comments import CommentError

        try:
            return self._comment_store().pending_counts()
        except CommentError:
            return {}

    def _quote(self, card_id: str, path: str, line: int, new_side_lines) -> str:
        files = {f.path: f for f in self.diff(card_id).diff.files}
        if path in files and files[path].patch:
            quote = new_side_lines(files[path].patch).get(line)
            if quote is not None:
                return quote
        lines = self._file_lines_of(card_id)(path)  # a line the diff leaves out: still fine
        if lines is None:
            raise ActionFailed(
                f"{card_id}'s work has no file {path} (see 'kanban-agents diff {card_id} --stat')"
            )
        if not 1 <= line <= len(lines):
            raise ActionFailed(
                f"{path} has {len(lines)} lines in {card_id}'s work: there is no line {line}"
            )
        return " " + lines[line - 1]

    def _file_lines_of(self, card_id: str) -> Callable[[str], list[str] | None]:
        """How to read a file of the card's work: in its worktree, else on its branch."""
        from . import git

        where = self.reviewer.card_branch(card_id)

        def lines(path: str) -> list[str] | None:
            if where.worktree is not None:
                try:
                    return (where.worktree / path).read_text(errors="replace").splitlines()
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    return None
            return git.file_lines(where.repo, where.branch, path)

        return lines

    async def discard(self, card_id: str) -> Card:
        """Stop the card's agent if it runs, then delete its worktree and branch."""
        import asyncio

        if self._watch_only and self.is_live(card_id):  # its worktree is in use elsewhere
            column = self.settings.board.agent_column
            raise ActionFailed(
                f"{card_id}'s agent is at work in the serving process: move the card out of "
                f"{column} to stop it, then discard"
            )
        if self._agents and self.runs.is_active(card_id):
            self.runs.cancel(card_id, "discarded", cause=CancelCause.DISCARDED)
            await self.runs.wait(card_id)
        with _as_action_failed():
            card = await asyncio.to_thread(self.reviewer.discard, card_id)
        self._retire_comments(card_id)
        self.schedule_radar()
        if self._runs is not None:  # its worktree may be a spare now: checked in the background
            self._runs.workspaces.pool_changed()
        return card

    async def test(self, card_id: str, on_lines: Callable[[list[str]], None] | None = None):
        with _as_action_failed():
            return await self.reviewer.run_tests(card_id, on_lines=on_lines)

    async def rebase(
        self, card_id: str, on_lines: Callable[[list[str]], None] | None = None
    ) -> RebaseOutcome:
        """Rebase the card's branch onto its base's tip when conflict-free (``MergeConflict``
        names the files otherwise, nothing changed), then run its tests (``on_lines``)."""
        from .rebase import CardRebase

        with _as_action_failed():
            outcome = await CardRebase(self.reviewer).rebase(card_id, on_lines=on_lines)
        self.schedule_radar()
        return outcome

    def open_pull_request(self, card_id: str, draft: bool = False) -> PrOutcome:
        """Push the card's branch to ``[review] remote`` and open its pull request with gh
        (``outcome.missing`` says why none was opened). Blocking (git, gh)."""
        from .pull_request import PullRequests

        with _as_action_failed():
            return PullRequests(self.reviewer).open(card_id, draft=draft)

    def check_pull_requests(self) -> list[PrCheck]:
        """Ask gh about the pull requests of the cards not done yet; merged ones move to done.
        Blocking (gh)."""
        from .pull_request import PR_KEY, PullRequests

        if not any(card.meta.get(PR_KEY) for card in self.store.cards.values()):
            return []  # the common case costs no git, no records, no gh
        with _as_action_failed():
            return PullRequests(self.reviewer).check_all()

    async def _poll_pull_requests(self) -> None:
        import asyncio

        told: set[str] = set()  # each problem once, not every few minutes
        while self._started:
            await asyncio.sleep(PR_POLL)
            try:
                checks = await asyncio.to_thread(self.check_pull_requests)
            except Exception as exc:
                checks, error = [], exc
            else:
                error = next((RuntimeError(c.error) for c in checks if c.error), None)
            if error is not None and str(error) not in told:
                told.add(str(error))
                self.report_failure("checking the cards' pull requests", error,
                                    "run 'kanban-agents status' to ask again")  # fmt: skip

    def diff(self, card_id: str) -> DiffView:
        """The card's diff: its worktree against the base while the worktree exists, else its
        branch, with noise folded (``diff_folding``). Blocking (git): off the UI thread."""
        from . import git
        from .diff_folding import fold
        from .scope import check_scope, diff_paths

        with _as_action_failed():
            where = self.reviewer.card_branch(card_id)
            if where.worktree is not None:
                diff = git.worktree_diff(where.worktree, where.base)
            else:
                diff = git.branch_diff(where.repo, where.base, where.branch)
            diff = fold(diff, where.worktree or where.repo, self.settings.review)
        return DiffView(
            card_id, where.branch, where.base, where.repo, where.worktree, diff,
            self.is_live(card_id), check_scope(where.card, diff_paths(diff.files)),
        )  # fmt: skip

    async def watch_worktree(self, worktree: Path) -> AsyncIterator[None]:
        """Yield whenever files in a card's worktree change (command agents write files without
        telling us); git's own files are ignored."""
        from watchfiles import awatch

        def interesting(_change, path: str) -> bool:
            return "/.git/" not in path and not path.endswith("/.git")

        async for _changes in awatch(
            worktree, watch_filter=interesting, step=50, debounce=300, recursive=True
        ):
            yield None

    # ------------------------------------------------------------------ planning

    async def propose_tighten(self, card_id: str):
        """Ask the model to rewrite a vague card as operating instructions (nothing written)."""
        from .planning import propose_tighten

        card = self.store.get(card_id)
        return await self._ask_model(lambda model, context: propose_tighten(model, card, context))

    async def propose_split(self, card_id: str):
        """Ask the model to split a large card into smaller ones (nothing written)."""
        from .planning import propose_split

        card = self.store.get(card_id)
        return await self._ask_model(lambda model, context: propose_split(model, card, context))

    async def _ask_model(self, ask):
        import asyncio

        from .agent.model import ModelError
        from .planning import PlanningError, planning_model, repo_context

        try:
            model = planning_model(self.settings)
        except ModelError as exc:
            raise PlanningError(exc.message) from None
        try:
            context = await asyncio.to_thread(repo_context, self.root)
            return await ask(model, context)
        except ModelError as exc:
            raise PlanningError(exc.message) from None
        finally:
            await model.aclose()

    def apply_proposal(self, proposal, card: Card, accepted: list[int] | None = None):
        """Write an accepted tighten (the card rewritten) or split (new cards) proposal."""
        if accepted is None:
            return proposal.apply(self.store, card)
        return proposal.apply(self.store, card, accepted)

    def conflict_report(self):
        """The radar's scan of the cards' branches now, and the cards whose declared ``files``
        overlap: (RadarReport, [(card, other, files)])."""
        from .radar import board_radar

        with _as_action_failed():
            return board_radar(self.store)

    def graph(self):
        """The dependency plan of the board, with each card's run state and column."""
        from .graph import plan

        settings = self.settings
        cards = self.store.cards
        graph = plan(
            cards,
            self.store.status_of,
            settings.board.done_column,
            {settings.board.agent_column, settings.board.review_column},
        )
        statuses = self.statuses() if self._started else {}
        states = {
            cid: (
                statuses[cid].state
                if cid in statuses
                else run_as_seen(self.store, card).get("state")
            )
            for cid, card in cards.items()
        }
        columns = {cid: self.store.status_of(card) for cid, card in cards.items()}
        return graph, cards, states, columns

    # ------------------------------------------------------------------ conflict radar

    def schedule_radar(self, changed: set[str] | None = None) -> None:
        """Rescan soon (debounced). Safe from any thread."""
        import asyncio

        loop = self._loop
        if not self._started or loop is None or loop.is_closed() or self.repo is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._arm_radar(changed)
        else:
            loop.call_soon_threadsafe(self._arm_radar, changed)

    def _arm_radar(self, changed: set[str] | None) -> None:
        import asyncio

        if changed is None or self._radar_pending is None:
            self._radar_pending = None
        else:
            self._radar_pending |= changed
        if self._radar_timer is None and self._started:
            self._radar_timer = asyncio.get_running_loop().call_later(
                RADAR_DEBOUNCE, self._start_radar
            )

    def _start_radar(self) -> None:
        import asyncio

        self._radar_timer = None
        if self._radar_task is not None and not self._radar_task.done():
            # One scan at a time: look again when this one ends.
            self._radar_task.add_done_callback(lambda _t: self._arm_radar(self._radar_pending))
            return
        changed, self._radar_pending = self._radar_pending, set()
        self._radar_task = asyncio.ensure_future(self.scan_radar(changed))

    async def scan_radar(self, changed: set[str] | None = None) -> RadarReport:
        """The cards' branches against each other and against the base branch."""
        import asyncio

        from .radar import ConflictRadar, active_branches
        from .scope import scopes_of

        repo = self.repo
        if repo is None:
            return self.radar_report
        radar = self._radar = self._radar or ConflictRadar(repo)

        def scan() -> RadarReport:
            report = radar.scan(active_branches(self.store, self.runs.records), changed)
            report.scope = scopes_of(self.store, report.changed)
            return report

        try:
            report = await asyncio.to_thread(scan)
        except Exception as exc:
            self.report_failure("the conflict radar", exc, "it tries again on the next change")
            return self.radar_report
        previous = self.radar_report
        self._radar_report = report
        self.radar_scans += 1
        if report.shows_differently(previous):
            self._emit(RadarUpdated(report))
        return report

    async def _radar_recheck(self) -> None:
        import asyncio

        # The base branch moves without telling us (a commit in the main checkout): while
        # branches are compared, look again every few seconds; unchanged tips cost little.
        while self._started:
            await asyncio.sleep(RADAR_RECHECK)
            busy = self._radar_task is not None and not self._radar_task.done()
            if self.radar_report.changed and self._radar_timer is None and not busy:
                self._radar_task = asyncio.ensure_future(self.scan_radar(set()))


# ---------------------------------------------------------------------------- helpers

# records.HOSTED_STATES, spelled out: a card in none of them needs no look at the run records
# (``list`` of a big board stays a read of the card files).
_HOSTED_STATES = ("preparing", "running", "testing")


@contextlib.contextmanager
def _comment_errors(kind: type[Exception]):
    try:
        yield
    except kind as exc:
        raise ActionFailed(str(exc)) from exc


def run_as_seen(store: BoardStore, card: Card) -> dict[str, Any]:
    """The card's ``run:`` front matter, except that a run whose process is gone (killed, say)
    reads ``interrupted``, as ``status`` and the board see it."""
    if card.run_state not in _HOSTED_STATES:
        return card.run
    state = state_dir(store.root)
    if state is None:
        return card.run
    from .records import RunRecords

    return RunRecords(state / "runs").card_run_as_seen(card.id, card.run)


def board_host(board_root: Path) -> int | None:
    """The pid of the board app hosting this board's agents, if one runs."""
    from .host import board_host_pid

    return board_host_pid(board_root)


def conflict_feedback(base: str, files: list[str]) -> str:
    """Review notes that send a card back with its merge conflict."""
    from .review import conflict_feedback as feedback

    return feedback(base, files)


LOG_MAX_BYTES = 1_000_000  # then app.log becomes app.log.1 and a new one starts


def app_log_path(board_root: Path) -> Path | None:
    """Where tracebacks of background failures go, or None outside a git repository."""
    state = state_dir(board_root)
    return state / "logs" / "app.log" if state is not None else None


def write_failure_log(board_root: Path, what: str, exc: BaseException) -> Path | None:
    """Append the traceback of a background failure to ``.git/kanban-agents/logs/app.log``
    (the UI shows one line and points here); the path, or None if there is none."""
    path = app_log_path(board_root)
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > LOG_MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {what}\n{text}\n")
    except OSError:
        return None  # the notification still tells what happened
    return path


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    name = type(exc).__name__
    return f"{name}: {first}" if first else name


def _relative(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:  # another drive (Windows)
        return str(path)


def __getattr__(name: str):
    # View types of a diff, re-exported without loading git for commands that show no diff.
    if name in ("ReviewComment", "CommentStatus", "new_side_lines"):
        from . import review_comments

        return getattr(review_comments, name)
    if name in ("format_size", "age_text", "WorktreeEntry", "GcReport"):
        from . import worktree_inventory

        return getattr(worktree_inventory, name)
    if name in ("DiffFile", "WorktreeDiff"):
        from . import git

        return getattr(git, name)
    # The file watcher (watchfiles loads only for a live view).
    if name in ("watch_board", "SettingsReloaded"):
        from . import watch

        return getattr(watch, name)
    raise AttributeError(name)


__all__ = [
    "ActionFailed",
    "AgentsOff",
    "BackgroundFailed",
    "BoardChanged",
    "BoardError",
    "BoardSession",
    "Card",
    "CardConflict",
    "CardError",
    "CardNotFound",
    "DiffView",
    "GitChangesNeedConfirm",
    "MergeConflict",
    "OutOfScopeNeedsConfirm",
    "RadarUpdated",
    "RunLog",
    "RunLost",
    "SessionEvent",
    "app_log_path",
    "conflict_feedback",
    "write_failure_log",
]
