"""RunManager: the lifecycle of agent runs. A card entering the agent column is queued
(``admission`` decides when it starts), gets a worktree (``workspace``) and an agent
(``agent.session``); when the card's stopping rule is met its work is committed and the card
moves to review. Runs whose process died are recovered here.

Everything here runs on one asyncio loop (the TUI's, or the CLI's); blocking git work goes to
threads. The manager talks to the world through one event stream (``subscribe``): it never prints
and never touches a widget. A run that fails, for whatever reason, ends in a state with a reason;
it never takes the host process down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...config import ConfigError
from .. import git
from ..agent.model_client import prewarm
from ..board import BoardChange, BoardError, BoardStore
from ..card import Card
from ..events import (
    ACTIVE_STATES,
    FAILED,
    INTERRUPTED,
    PREPARING,
    QUEUED,
    REVIEW,
    RUNNING,
    CancelCause,
    Emitter,
    Event,
    LogLine,
    Notice,
    RunFinished,
    RunPhase,
    RunStatus,
    Sink,
    StateChanged,
    emitter_for,
)
from ..frontmatter_edit import DELETE
from ..host import FileLock, host_lock_path
from ..paths import repo_root, state_dir
from ..pricing import card_cost
from ..process import command_owner, end_owned_processes
from ..records import HOSTED_STATES, RunState, host_gone_reason, run_records, secret_env_names
from .admission import Admission, Verdict
from .errors import RunError
from .git_guard import GIT_CHANGES, GitGuard
from .workspace import Runtime, Workspace, Workspaces

PREWARM_DELAY = 1.0  # seconds after the board opens: its first paint goes first
HOST_CHECK_INTERVAL = 1.0  # seconds between checks that other processes' runs still have a host

log = logging.getLogger(__name__)

SubscriberErrorHandler = Callable[[BaseException, str], None]


def log_subscriber_error(error: BaseException, what: str) -> None:
    log.error("%s", what, exc_info=error)


class RunManager:
    def __init__(
        self,
        store: BoardStore,
        *,
        environ: dict[str, str] | None = None,
        model_factory: Callable[..., Any] | None = None,
        runtime: Runtime | None = None,
        on_subscriber_error: SubscriberErrorHandler | None = None,
    ):
        self.store = store
        self.environ = dict(os.environ if environ is None else environ)
        self.repo = repo_root(store.root)
        self.secret_names = secret_env_names(store.settings)
        self.records = run_records(store, self.environ)
        self.model_factory = model_factory
        self.workspaces = Workspaces(
            self.repo,
            lambda: self.store.settings,
            self.records,
            self.environ,
            self.secret_names,
            runtime,
            board_root=store.root,
        )
        self.workspaces.on_pool_error = lambda exc: self._report(
            exc, "the warm pool of worktrees could not be filled (starts take the usual time)"
        )
        self.admission = Admission(store)
        # A subscriber that raises is reported here (default: the log), never printed: the
        # board app hooks this to show it.
        self.on_subscriber_error: SubscriberErrorHandler | None = on_subscriber_error
        self.status: dict[str, RunStatus] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._columns: dict[str, str] = {}
        self._finishing: set[str] = set()
        self._sinks: list[Sink] = []
        # Card file writes go through one thread, so they land in the order they were made.
        self._card_writer = ThreadPoolExecutor(1, thread_name_prefix="card-writes")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._host_lock: FileLock | None = None
        self._host_watch: asyncio.Task | None = None
        self._elsewhere: asyncio.Task | None = None  # following runs hosted elsewhere
        self.watch_only = False  # another process hosts the agents; nothing runs here
        self._started = False

    @property
    def settings(self):
        return self.store.settings

    @property
    def _queue(self) -> list[str]:
        return self.admission.queue

    # ------------------------------------------------------------------ events out

    def subscribe(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def unsubscribe(self, sink: Sink) -> None:
        with contextlib.suppress(ValueError):
            self._sinks.remove(sink)

    def emit(self, event: Event, *, record: bool = True) -> None:
        if record:
            self.records.append(event)
        self.status.setdefault(event.card_id, RunStatus(event.card_id)).apply(event)
        for sink in list(self._sinks):
            try:
                sink(event)
            except Exception as exc:  # a broken subscriber must not break the runs
                self._subscriber_failed(exc, sink, event)

    def _report(self, error: BaseException, what: str) -> None:
        handler = self.on_subscriber_error or log_subscriber_error
        try:
            handler(error, what)
        except Exception:
            log.exception("%s; reporting it failed too", what)

    def _subscriber_failed(self, error: Exception, sink: Sink, event: Event) -> None:
        name = getattr(sink, "__qualname__", None) or repr(sink)
        what = f"a run event subscriber ({name}) failed on a {event.kind} event of {event.card_id}"
        handler = self.on_subscriber_error or log_subscriber_error
        try:
            handler(error, what)
        except Exception:  # the reporter itself broke: the log still gets both
            log.exception("%s; reporting it failed too", what)

    # ------------------------------------------------------------------ start / stop

    async def start(
        self, *, auto_start: bool = True, host: bool = False, watch_only: bool = False
    ) -> None:
        """Recover from a previous crash, then watch the board for cards entering the agent column.

        ``host``: this process is the board's agent host (the board app): other processes see it
        and leave the cards they move to it. ``watch_only``: another process hosts the agents
        (``serve``): nothing runs here; the runs there are shown as their records grow.
        """
        self._loop = asyncio.get_running_loop()
        self.watch_only = watch_only
        if host and not watch_only and state_dir(self.store.root) is not None:
            path = host_lock_path(self.store.root)
            self._host_lock = FileLock(path) if path is not None else None
            if self._host_lock is not None and not self._host_lock.acquire():
                self._host_lock = (
                    None  # another app hosts this board; card locks still keep runs single
                )
        await asyncio.to_thread(self.recover)
        for card in self.store.cards.values():
            self._columns[card.id] = self.store.status_of(card)
        self.store.add_listener(self._on_store_change)
        self._host_watch = self._loop.create_task(self._watch_hosts(), name="watch run hosts")
        self._started = True
        if watch_only:
            from .elsewhere import RunsElsewhere

            self._elsewhere = self._loop.create_task(
                RunsElsewhere(self).follow(), name="follow runs hosted elsewhere"
            )
            return
        self.workspaces.pool_changed()
        if self.repo is not None and self.settings.worktrees.pool > 0 and not self.model_factory:
            # Instant starts asked for: the model client's import and TLS context are made
            # ahead too, once the board has painted, not on the first start's path.
            self._loop.call_later(PREWARM_DELAY, self._loop.run_in_executor, None, prewarm)
        if auto_start and self.repo is not None:  # outside git nothing can run: wait to be asked
            for card in self.store.column_cards(self.settings.board.agent_column):
                state = self.status.get(card.id)
                if state is None or state.state in (None, REVIEW, "merged"):
                    self.request(card.id)

    async def stop(self, reason: str = "the board app was closed") -> None:
        """Stop every run; they end ``interrupted`` and can be resumed later. ``reason`` is
        what their cards and logs say."""
        self.store.remove_listener(self._on_store_change)
        for task in (self._host_watch, self._elsewhere):
            if task is not None:
                task.cancel()
        self._host_watch = self._elsewhere = None
        for card_id in list(self._queue):  # queued runs end too, so their followers stop waiting
            self._end_queued(card_id, INTERRUPTED, f"{reason} before it started")
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel(_Cancel(CancelCause.HOST_STOPPED, reason))
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(self._card_writer.shutdown, wait=True)
        self.records.close_all()
        if self._host_lock is not None:
            self._host_lock.release()
            self._host_lock = None

    def recover(self) -> None:
        """Runs whose process died are marked interrupted (their logs are kept) and what they
        left running is ended; the rest of the last known states become the cards' badges."""
        for state in self.records.all_states():
            if state.state in ACTIVE_STATES and self.records.lock(state.card_id).holder() is None:
                ended, events = self._end_lost_run(state.card_id)
                if ended is not None:
                    state = ended
                    for event in events:
                        self.records.append(event)
                    self.records.close(state.card_id, state.run)
                    self._write_card_run(state)
            self.status[state.card_id] = _status_from_record(state)

    def _end_lost_run(self, card_id: str) -> tuple[RunState | None, list[Event]]:
        """If the card's recorded run is active and no process runs it any more: end the
        processes it left behind and record it interrupted. Returns the ended record and the
        events for its log; (None, []) when a live process holds the run or nothing was lost.
        Blocking (processes are given time to end): call it off the event loop."""
        lock = self.records.lock(card_id)
        if not lock.acquire():
            return None, []  # a live host (or another recovering process) has it
        try:
            state = self.records.load_state(card_id)  # again: it may have ended meanwhile
            if state is None or state.state not in ACTIVE_STATES:
                return None, []
            events: list[Event] = []
            leftovers = end_owned_processes(self._process_owner(card_id))
            if leftovers:
                events.append(
                    LogLine(card_id, state.run, text=_leftovers_text(leftovers), stream="info")
                )
            reason = host_gone_reason(state.pid)
            self._finish_record(state, INTERRUPTED, reason)
            self.records.save_state(state)
            events.append(RunFinished(card_id, state.run, state=INTERRUPTED, reason=reason))
            return state, events
        finally:
            lock.release()

    async def _watch_hosts(self) -> None:
        """A run shown active that another process runs ends interrupted as soon as that
        process is gone: a kill -9 leaves no word behind, only a lock nobody holds."""
        while True:
            await asyncio.sleep(HOST_CHECK_INTERVAL)
            if not self.watch_only:
                self._start_asked_for()
            for card_id, status in list(self.status.items()):
                if (
                    status.state not in HOSTED_STATES
                    or card_id in self._tasks
                    or self.records.lock(card_id).holder() is not None
                ):
                    continue
                state, events = await asyncio.to_thread(self._end_lost_run, card_id)
                if state is None:
                    self._sync_status(card_id)
                    continue
                for event in events:
                    self.emit(event)
                self.records.close(card_id, state.run)
                self._write_card_async(card_id, {"run": _card_run(state)})

    def _start_asked_for(self) -> None:
        """Start the runs views asked for (``ask_to_start``) of cards in the agent column."""
        agent_column = self.settings.board.agent_column
        for card_id in self.records.take_start_requests():
            entry = self.store.entry(card_id)
            if isinstance(entry, Card) and self.store.status_of(entry) == agent_column:
                self.request(card_id)

    def _process_owner(self, card_id: str) -> str:
        """What marks the processes a run of the card starts (see ``process.command_owner``)."""
        return os.path.abspath(self.records.card_dir(card_id))

    def orphaned_worktrees(self) -> list[git.WorktreeInfo]:
        """Worktrees of ours whose card no longer exists. Listed, never deleted silently."""
        if self.repo is None:
            return []
        prefix = self.settings.worktrees.branch_prefix
        cards = self.store.cards
        return [
            w
            for w in git.list_worktrees(self.repo)
            if w.branch and w.branch.startswith(prefix) and w.branch[len(prefix) :] not in cards
        ]

    # ------------------------------------------------------------------ intents

    def is_active(self, card_id: str) -> bool:
        return card_id in self._tasks or card_id in self._queue

    def request(self, card_id: str) -> None:
        """Queue a run for the card (admission decides when it starts)."""
        if self.watch_only:
            raise RunError("another process hosts this board's agents: nothing runs here")
        if self.is_active(card_id):
            return
        self.admission.add(card_id)
        run = self.records.next_run_number(card_id)
        status = self.status.get(card_id)
        if status is None or status.run != run or status.state != QUEUED:
            self.emit(StateChanged(card_id, run, state=QUEUED, reason="waiting to start"))
        self._write_card_run_async(card_id, {"state": QUEUED})
        self._pump()

    def cancel(
        self, card_id: str, reason: str = "cancelled", cause: CancelCause = CancelCause.BY_USER
    ) -> bool:
        """Stop the card's queued or running run; it ends as ``cause.outcome`` (``cancelled``,
        or ``interrupted`` for a host that stops) with ``reason`` on its card."""
        if card_id in self._queue:
            self._end_queued(card_id, cause.outcome, reason)
            return True
        task = self._tasks.get(card_id)
        if task is not None and card_id not in self._finishing:
            task.cancel(_Cancel(cause, reason))
            return True
        return False

    def _end_queued(self, card_id: str, state: RunPhase, reason: str) -> None:
        """End a run that never left the queue: in its log, its status and on its card."""
        self.admission.remove(card_id)
        status = self.status.get(card_id)
        run = status.run if status else self.records.next_run_number(card_id)
        self.emit(RunFinished(card_id, run, state=state, reason=reason))
        self.records.close(card_id, run)
        self._write_card_run_async(card_id, {"state": state})

    async def wait(self, card_id: str) -> RunStatus | None:
        """Until the card has no queued or running run; returns its last status."""
        while self.is_active(card_id):
            task = self._tasks.get(card_id)
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(task)
            else:
                await asyncio.sleep(0.05)
        await self.flush_writes()
        return self.status.get(card_id)

    async def flush_writes(self) -> None:
        """Until the card-file writes made so far are on disk (the writer is one thread)."""
        await asyncio.get_running_loop().run_in_executor(self._card_writer, lambda: None)

    # ------------------------------------------------------------------ board changes

    def _on_store_change(self, change: BoardChange) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            same_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self._handle_change(change)
        else:
            loop.call_soon_threadsafe(self._handle_change, change)

    def _handle_change(self, change: BoardChange) -> None:
        if change.kind == "reloaded":
            ids = set(self.store.cards) | set(self._columns)
        else:
            ids = {change.card_id}
        agent_column = self.settings.board.agent_column
        for card_id in ids:
            entry = self.store.entry(card_id)
            now = self.store.status_of(entry) if isinstance(entry, Card) else None
            if not self.is_active(card_id):
                self._sync_status(card_id)
            before = self._columns.get(card_id)
            if now is None:
                self._columns.pop(card_id, None)
            else:
                self._columns[card_id] = now
            if self.watch_only:
                continue  # the host sees the same move and starts or stops the run
            if now == agent_column and before != agent_column:
                self.request(card_id)
            elif before == agent_column and now != agent_column and card_id not in self._finishing:
                where = f"moved to {now}" if now else "the card file is gone or unreadable"
                self.cancel(card_id, f"stopped: {where}", CancelCause.CARD_LEFT)
        self._pump()

    def _sync_status(self, card_id: str) -> None:
        """Pick up states written by others (a merge, a discard, another process's run)."""
        record = self.records.load_state(card_id)
        status = self.status.get(card_id)
        if record is None:
            if status is not None and status.state is not None:
                self.status.pop(card_id, None)  # discarded: the card starts afresh
            return
        record = self.records.as_seen(record)
        if status is None or (record.run, record.state) != (status.run, status.state):
            status = self.status[card_id] = _status_from_record(record)
            if record.state in ACTIVE_STATES:
                holder = self.records.lock(card_id).holder()
                if holder is not None and card_id not in self._tasks:
                    status.reason = f"in another process (pid {holder})"

    # ------------------------------------------------------------------ admission

    def _pump(self) -> None:
        """Start queued runs while there is room; tell each waiting card why it waits."""
        for card_id in list(self._queue):
            decision = self.admission.decide(card_id, self._tasks)
            for mine, text in decision.notices:
                status = self.status.get(mine)
                self.emit(Notice(mine, status.run if status else 0, text=text))
            if decision.verdict is Verdict.DROP:
                self.admission.remove(card_id)
            elif decision.verdict is Verdict.WAIT:
                self._set_queued_reason(card_id, decision.reason)
            else:
                self.admission.remove(card_id)
                self._tasks[card_id] = asyncio.get_running_loop().create_task(
                    self._run_card(card_id), name=f"run {card_id}"
                )

    def _set_queued_reason(self, card_id: str, reason: str) -> None:
        status = self.status.get(card_id)
        if status is not None and status.state == QUEUED and status.reason != reason:
            self.emit(StateChanged(card_id, status.run, state=QUEUED, reason=reason))

    # ------------------------------------------------------------------ one run

    async def _run_card(self, card_id: str) -> None:
        status = self.status.get(card_id)
        run = (
            status.run
            if status and status.state == QUEUED
            else self.records.next_run_number(card_id)
        )
        emit = emitter_for(card_id, run, self.emit)
        lock = self.records.lock(card_id)
        previous = self.records.load_state(card_id)
        record = RunState(
            card_id,
            run=run,
            pid=os.getpid(),
            started=time.time(),
            review_round=previous.review_round if previous else 0,
            extra=dict(previous.extra) if previous else {},
        )
        if not await asyncio.to_thread(lock.acquire):
            # Another process (a second board app, `kanban-agents run`) owns this card's run: show
            # it, record nothing, and let that process write the card's state.
            holder = lock.holder()
            self.status[card_id] = RunStatus(
                card_id, run, state=RUNNING, reason=f"in another process (pid {holder})"
            )
            notice = Notice(
                card_id, run, text=f"the agent runs in another process (pid {holder})", level="info"
            )
            self.emit(notice, record=False)
            self._tasks.pop(card_id, None)
            self._pump()
            return
        try:
            # Every command of this run carries the card's mark, so what it leaves behind after a
            # crash is found on the card's next start (this task's context only).
            command_owner.set(self._process_owner(card_id))
            leftovers = await asyncio.to_thread(end_owned_processes, self._process_owner(card_id))
            if leftovers:
                emit(LogLine, text=_leftovers_text(leftovers), stream="info")
            await self._lifecycle(card_id, record, emit)
        except asyncio.CancelledError as cancelled:
            why = _Cancel.of(cancelled)
            self._end(record, emit, why.cause.outcome, why.reason)
        except (RunError, git.GitError, ConfigError) as exc:
            self._end(record, emit, FAILED, str(exc))
        except Exception as exc:  # a bug: the run fails, the app lives on
            emit(LogLine, text="".join(traceback.format_exception(exc)), stream="stderr")
            self._end(record, emit, FAILED, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            lock.release()
            self.records.close(card_id, run)
            self._tasks.pop(card_id, None)
            self._finishing.discard(card_id)
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon(self._pump)

    async def _lifecycle(self, card_id: str, record: RunState, emit: Emitter) -> None:
        from ..agent.session import AgentSession, check_command, default_model_factory, make_model

        self._state(record, emit, PREPARING, "creating the worktree")
        card = self.store.get(card_id)
        profile = self.settings.agent_profile(card.agent)
        record.agent = profile.name
        # Check the agent can start before touching git: a missing key makes no worktree.
        model = None
        if profile.kind == "command":
            check_command(profile, self.environ)
        else:
            factory = self.model_factory or default_model_factory
            model = make_model(factory, profile, self.environ, emit)
        guard: GitGuard | None = None
        try:
            space = await self.workspaces.prepare(card, record, emit, self._write_card_async)
            guard = await asyncio.to_thread(self._git_guard(space).snapshot)
            check_refs = guard.check_refs
            self._state(record, emit, RUNNING, f"agent {profile.name}")
            session = AgentSession(
                card,
                space,
                record,
                emit,
                settings=self.settings,
                records=self.records,
                runtime=self.workspaces.runtime,
                env=self.workspaces.run_env(card.id, space.path),
                scrub_env=self.secret_names,
                set_state=lambda state, reason: self._state(record, emit, state, reason),
                publish=self.emit,
                after_command=lambda: asyncio.to_thread(check_refs),
                # a command agent gets its own key, and no other credential
                agent_env=self.workspaces.run_env(card.id, space.path, keep=[profile.api_key_env]),
            )
            if model is None:
                summary = await session.work_with_command(profile)
            else:
                summary = await session.work_with_model(profile, model)
        finally:
            if model is not None:
                await model.aclose()
            if guard is not None:
                await self._record_git_changes(guard, record, emit)
        await asyncio.to_thread(check_refs)  # again: the tests ran commands too
        # The card's title, and the agent's summary where it gave one (a command agent may not).
        body = f"{summary.strip()}\n\n" if summary.strip() else ""
        message = f"{card.title}\n\n{body}Card: {card.id}\n"
        commit = await asyncio.to_thread(
            git.commit_all,
            space.path,
            message,
            allow_mass_deletion=card.meta.get("allow_mass_deletion") is True,
            branch=space.branch,
        )
        if commit is None:
            emit(
                LogLine,
                text="nothing new to commit (the branch already holds the work)",
                stream="git",
            )
        else:
            emit(LogLine, text=f"committed {commit[:10]} on {space.branch}", stream="git")
        if self.settings.review.rebase_before_review:
            from ..rebase import rebase_before_review

            commit = await rebase_before_review(space, session, emit) or commit
        record.summary, record.commit = summary, commit
        self._finishing.add(card_id)
        await asyncio.get_running_loop().run_in_executor(
            self._card_writer, self._move_to_review, card_id
        )
        self._end(
            record,
            emit,
            REVIEW,
            "tests passed" if card.tests else "agent finished",
            summary,
            commit,
        )

    def _git_guard(self, space: Workspace) -> GitGuard:
        assert self.repo is not None
        return GitGuard(
            self.repo,
            space.path,
            space.branch,
            self.settings.worktrees.branch_prefix,
            expected_moves=self._merges_made,
        )

    def _merges_made(self) -> list[tuple[str, str]]:
        """The base branch moves kanban-agents' own merges made (recorded before the base
        moves, in any process): a run's ref check expects these."""
        moves = []
        for state in self.records.all_states():
            progress = state.extra.get("merge")
            if isinstance(progress, dict) and progress.get("base") and progress.get("commit"):
                moves.append((f"refs/heads/{progress['base']}", str(progress["commit"])))
        return moves

    async def _record_git_changes(self, guard: GitGuard, record: RunState, emit: Emitter) -> None:
        """Changes to git's control files go on the run (kept until a merge accepts them) and
        are shown now: they decide what git runs in the user's own checkout."""
        try:
            changes = await asyncio.to_thread(guard.control_changes)
        except git.GitError as exc:
            changes = [f"could not be checked: {exc}"]
        if not changes:
            return
        known = record.extra.get(GIT_CHANGES) or []
        record.extra[GIT_CHANGES] = list(dict.fromkeys([*known, *changes]))
        self.records.save_state(record)
        emit(
            Notice,
            text="the agent changed git's own files, which decide what git runs in your "
            f"checkout: {'; '.join(changes)}. Check them (and undo what you do not want); the "
            f"merge waits for 'kanban-agents merge {record.card_id} --accept-git-changes'",
            level="warning",
        )

    def _move_to_review(self, card_id: str) -> None:
        try:
            self.store.move(card_id, self.settings.board.review_column)
        except BoardError:
            self.store.load()  # the file changed meanwhile: reload and try once more
            self.store.move(card_id, self.settings.board.review_column)

    # ------------------------------------------------------------------ worktree

    async def rerun_setup(self, card_id: str, on_event: Callable[[Event], None] | None = None):
        """Files and ``[worktrees] setup`` again in the card's existing worktree, its output in
        the card's latest run log; RunError when the agent runs or the setup fails."""
        card = self.store.get(card_id)
        space = self.workspaces.workspace_for(card)
        assert self.repo is not None
        found = await asyncio.to_thread(git.checked_out_in, self.repo, space.branch)
        if found is None:
            raise RunError(f"{card_id} has no worktree yet: its agent makes one when it starts")
        space = Workspace(found, space.branch, space.base)
        lock = self.records.lock(card_id)
        if not await asyncio.to_thread(lock.acquire):
            raise RunError(f"{card_id}'s agent is running: setup waits until it stops")
        run = max(1, self.records.next_run_number(card_id) - 1)
        if on_event is not None:
            self.subscribe(on_event)
        try:
            emit = emitter_for(card_id, run, self.emit)
            emit(LogLine, text=f"running setup again in {found}", stream="setup")
            await self.workspaces.setup(space, emit, card_id, in_run=False)
            emit(LogLine, text="setup done", stream="setup")
        finally:
            if on_event is not None:
                self.unsubscribe(on_event)
            self.records.close(card_id, run)
            lock.release()

    def worktree_root(self) -> Path:
        return self.workspaces.worktree_root()

    def workspace_for(self, card: Card) -> Workspace:
        return self.workspaces.workspace_for(card)

    # ------------------------------------------------------------------ bookkeeping

    def _state(self, record: RunState, emit: Emitter, state: RunPhase, reason: str = "") -> None:
        record.state, record.reason = state, reason
        emit(StateChanged, state=state, reason=reason)
        self.records.save_state(record)
        if state in (PREPARING, RUNNING):
            self._write_card_run_async(record.card_id, _card_run(record))

    def _end(
        self,
        record: RunState,
        emit: Emitter,
        state: RunPhase,
        reason: str,
        summary: str = "",
        commit: str | None = None,
    ) -> None:
        self._finish_record(record, state, reason)
        status = self.status.get(record.card_id)
        if status is not None:
            record.tokens = record.tokens or status.tokens
            record.tokens_estimated = record.tokens_estimated or status.tokens_estimated
            record.steps = record.steps or status.steps
        self.records.save_state(record)
        emit(RunFinished, state=state, reason=reason, summary=summary, commit=commit)
        self._write_card_run_async(record.card_id, _card_run(record))

    @staticmethod
    def _finish_record(record: RunState, state: RunPhase, reason: str) -> None:
        record.state, record.reason, record.finished = state, reason, time.time()

    def _write_card_run(self, record: RunState) -> None:
        self.store_update(record.card_id, {"run": _card_run(record)})

    def _write_card_run_async(self, card_id: str, run: dict[str, Any]) -> None:
        """The card's ``run:`` line, written off the loop; a failure here never fails the run."""
        status = self.status.get(card_id)
        if status is not None and "state" in run and len(run) == 1:
            run = {"state": run["state"], "n": status.run}
        self._write_card_async(card_id, {"run": {**run, "state": str(run["state"])}})

    def _write_card_async(self, card_id: str, changes: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self.store_update(card_id, changes)
        else:
            self._card_writer.submit(self.store_update, card_id, changes)

    def store_update(self, card_id: str, changes: dict[str, Any]) -> None:
        try:
            self.store.update_retrying(
                card_id, {k: (DELETE if v is None else v) for k, v in changes.items()}
            )
        except BoardError:
            pass  # the card is gone or unreadable; the run record still has everything

    def resolve_state(self, card_id: str) -> RunState | None:
        return self.records.load_state(card_id)


def _card_run(record: RunState) -> dict[str, Any]:
    run: dict[str, Any] = {"state": str(record.state), "n": record.run}  # plain for YAML
    if record.attempt:
        run["attempt"] = record.attempt
    if record.started:
        run["started"] = _iso(record.started)
    if record.finished and record.state not in ACTIVE_STATES:
        run["finished"] = _iso(record.finished)
    if record.tokens:
        run["tokens"] = record.tokens
        if record.tokens_estimated:
            run["tokens_estimated"] = True
    total = card_cost(record.extra)
    if total is not None:
        run["cost"] = round(total, 4)  # dollars of all the card's runs so far
    return run


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_from_record(record: RunState) -> RunStatus:
    status = RunStatus(
        record.card_id,
        run=record.run,
        state=record.state,
        reason=record.reason,
        steps=record.steps,
        started=record.started,
        finished=record.finished,
        attempt=record.attempt,
        summary=record.summary,
    )
    status.prompt_tokens = record.tokens
    status.tokens_estimated = record.tokens_estimated
    status.unconfined = record.extra.get("sandbox") == "off"
    status.cost = record.cost
    status.cost_total = card_cost(record.extra)
    return status


def _leftovers_text(ended) -> str:
    return "ended processes an interrupted run had left running: " + ", ".join(
        process.describe() for process in ended
    )


class _Cancel:
    """What a run's task is cancelled with: the cause decides the outcome, the reason is shown."""

    def __init__(self, cause: CancelCause, reason: str):
        self.cause = cause
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    @classmethod
    def of(cls, cancelled: asyncio.CancelledError) -> _Cancel:
        """Ours, or one from outside (a task cancelled without a word: the user's cancel)."""
        why = cancelled.args[0] if cancelled.args else None
        if isinstance(why, _Cancel):
            return why
        return cls(CancelCause.BY_USER, str(why) if why else "cancelled")
