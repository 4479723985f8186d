"""Run records under the repository's git dir: ``.git/kanban-agents/runs/<card-id>/``.

- ``<n>.jsonl``: every event of run n, one JSON object per line (logs survive restarts);
- ``state.json``: the last known state of the card's latest run (used for recovery). Only
  ``RunRecords`` writes it: the process running the card saves its whole record
  (``save_state``), everyone else changes it read-modify-write (``update_state``), both under the
  card's ``state.lock``, so no change is lost between two writers;
- ``messages.json``: the built-in agent's conversation, so a sent-back card resumes it;
- ``lock``: held (flock) by the process running the card, so a dead run is told apart from a live
  one, and two processes never run the same card. Every reader (``status``, ``list``, the board)
  sees a run through ``RunRecords.as_seen``: a run in a hosted state whose lock nobody holds
  is ``interrupted``, the moment its host is gone, before anyone has recovered it.

Out of the board (no card churn), out of every worktree (agents cannot touch it). Secrets are
redacted before anything is written. Open them with ``run_records(store)``: the one place that
knows where they live and which secrets to redact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .events import (
    INTERRUPTED,
    PREPARING,
    QUEUED,
    RUNNING,
    TESTING,
    AssistantDelta,
    Event,
    RunPhase,
    StateChanged,
    event_from_dict,
)
from .host import FileLock, board_host_pid
from .inbox import Inbox
from .paths import state_dir
from .safe_write import write_atomic

REDACTED = "[redacted]"

# States in which a process holds the card's lock. (A queued run holds none yet: its queue
# lives in a board app or a `run` process that may be waiting on dependencies.)
HOSTED_STATES = frozenset({PREPARING, RUNNING, TESTING})
START_REQUEST = "start-request"  # a view's ask to the host: start this card's agent again

# API keys every run's records are redacted of, besides each openai profile's api_key_env.
SECRET_ENV_NAMES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


def host_gone_reason(pid: int | None) -> str:
    return "the process running it stopped" + (f" (pid {pid})" if pid else "")


@dataclass
class RunState:
    card_id: str
    run: int = 0
    state: str | None = None
    reason: str = ""
    attempt: int = 0
    started: float | None = None
    finished: float | None = None
    tokens: int = 0
    tokens_estimated: bool = False  # the server reported no usage: ``tokens`` is our estimate
    cost: float | None = None  # dollars of this run ([pricing]); None: unknown
    steps: int = 0
    pid: int | None = None
    branch: str = ""
    worktree: str = ""
    base: str = ""
    agent: str = ""
    summary: str = ""
    commit: str | None = None
    review_round: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state = RunPhase.parse(self.state)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    @property
    def card_cost(self) -> float | None:
        """Dollars of all the card's runs with a known cost; None when none is known."""
        from .pricing import card_cost

        return card_cost(self.extra)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Redactor:
    """Replaces secret values (API keys) in text before it is stored."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def data(self, value: Any) -> Any:
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value


class RedactingStream:
    """A text stream that writes through a ``Redactor``: for what a process prints (a detached
    run's stdout and stderr land in ``background.log``)."""

    def __init__(self, stream: TextIO, redactor: Redactor):
        self.stream = stream
        self.redactor = redactor

    def write(self, text: str) -> int:
        self.stream.write(self.redactor.text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding ...
        return getattr(self.stream, name)


class RunRecords:
    def __init__(self, root: Path, redactor: Redactor | None = None):
        self.root = root  # .../kanban-agents/runs
        self.redactor = redactor or Redactor()
        self._handles: dict[tuple[str, int], Any] = {}

    def card_dir(self, card_id: str) -> Path:
        return self.root / card_id

    def log_path(self, card_id: str, run: int) -> Path:
        return self.card_dir(card_id) / f"{run}.jsonl"

    def lock(self, card_id: str) -> FileLock:
        return FileLock(self.card_dir(card_id) / "lock")

    def inbox(self, card_id: str) -> Inbox:
        """The reviewer's messages to the card's agent (see ``inbox.py``)."""
        return Inbox(self.card_dir(card_id))

    # ------------------------------------------------------------------ state

    def load_state(self, card_id: str) -> RunState | None:
        path = self.card_dir(card_id) / "state.json"
        try:
            return RunState.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            return None

    def save_state(self, state: RunState) -> None:
        """The whole record, as the process running the card holds it."""
        with self._state_lock(state.card_id):
            self._write_state(state)

    def update_state(self, card_id: str, change: Callable[[RunState], Any]) -> RunState:
        """Read the card's record (a fresh one if it has none), let ``change`` edit it, write it
        back: what another writer saved meanwhile is kept. Returns the record written."""
        with self._state_lock(card_id):
            state = self.load_state(card_id) or RunState(card_id)
            change(state)
            self._write_state(state)
            return state

    @contextlib.contextmanager
    def _state_lock(self, card_id: str) -> Iterator[None]:
        directory = self.card_dir(card_id)
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "state.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # per open file: also between threads of one process
            yield
        finally:
            os.close(fd)

    def _write_state(self, state: RunState) -> None:
        data = json.dumps(self.redactor.data(state.as_dict()), indent=1, ensure_ascii=False)
        write_atomic(self.card_dir(state.card_id) / "state.json", data.encode())

    def host_gone(self, card_id: str, state: str | None) -> bool:
        """Whether a run recorded in ``state`` has lost the process running it."""
        return state in HOSTED_STATES and self.lock(card_id).holder() is None

    def as_seen(self, state: RunState) -> RunState:
        """The record as a reader must show it: a hosted run whose host is gone is interrupted,
        even before a host recovers it (which writes the same)."""
        if not self.host_gone(state.card_id, state.state):
            return state
        # The host writes its final state before it lets go of the lock: read again.
        latest = self.load_state(state.card_id) or state
        if latest.state not in HOSTED_STATES:
            return latest
        return dataclasses.replace(latest, state=INTERRUPTED, reason=host_gone_reason(latest.pid))

    def card_run_as_seen(self, card_id: str, run: dict[str, Any]) -> dict[str, Any]:
        """A card's ``run:`` front matter as a reader must show it (see ``as_seen``)."""
        if not self.host_gone(card_id, run.get("state")):
            return run
        state = self.load_state(card_id)
        if state is not None and state.run == run.get("n"):
            seen = self.as_seen(state)
            return {**run, "state": seen.state, "reason": seen.reason}
        return {**run, "state": INTERRUPTED, "reason": host_gone_reason(None)}

    def all_states(self) -> list[RunState]:
        if not self.root.is_dir():
            return []
        states = []
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir():
                state = self.load_state(entry.name)
                if state is not None:
                    states.append(state)
        return states

    # ------------------------------------------------------------------ asking the host to start a run

    def ask_to_start(self, card_id: str) -> None:
        """A view that hosts no agents asks the board's host (``serve``) to start the card's
        agent again: a card already in the agent column, whose move would start nothing."""
        directory = self.card_dir(card_id)
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / START_REQUEST, b"")

    def take_start_requests(self) -> list[str]:
        """The cards whose start was asked for since the last call (the host's side)."""
        taken = []
        for path in sorted(self.root.glob(f"*/{START_REQUEST}")) if self.root.is_dir() else []:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                taken.append(path.parent.name)
        return taken

    def next_run_number(self, card_id: str) -> int:
        directory = self.card_dir(card_id)
        numbers = (
            [int(p.stem) for p in directory.glob("*.jsonl") if p.stem.isdigit()]
            if directory.is_dir()
            else []
        )
        return max(numbers, default=0) + 1

    # ------------------------------------------------------------------ events

    def append(self, event: Event) -> None:
        if isinstance(event, AssistantDelta):
            return  # the whole message is recorded once it is complete
        key = (event.card_id, event.run)
        handle = self._handles.get(key)
        if handle is None:
            path = self.log_path(*key)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - kept open for the run
            self._handles[key] = handle
        handle.write(json.dumps(self.redactor.data(event.as_dict()), ensure_ascii=False) + "\n")

    def close(self, card_id: str, run: int) -> None:
        handle = self._handles.pop((card_id, run), None)
        if handle is not None:
            handle.close()

    def close_all(self) -> None:
        for key in list(self._handles):
            self.close(*key)

    def read_events(
        self, card_id: str, run: int | None = None, last: int | None = None
    ) -> Iterator[Event]:
        """Events of one run (default: the latest), skipping lines a crash left half-written.
        ``last``: only the newest that many (a long run's log is read from its end)."""
        if run is None:
            run = self.next_run_number(card_id) - 1
        path = self.log_path(card_id, run)
        try:
            lines = _tail(path, last) if last is not None else path.read_bytes().splitlines()
        except FileNotFoundError:
            return
        yield from _parse(lines)

    def read_from(self, card_id: str, run: int, offset: int) -> tuple[list[Event], int]:
        """Events written since byte ``offset`` of a run's log, and the offset to read from
        next: only whole lines, so a line being written is read on a later call."""
        try:
            with open(self.log_path(card_id, run), "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        return list(_parse(data[:end].splitlines())), offset + end

    # ------------------------------------------------------------------ conversation

    def save_messages(self, card_id: str, messages: list[dict]) -> None:
        directory = self.card_dir(card_id)
        directory.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.redactor.data(messages), indent=1, ensure_ascii=False)
        write_atomic(directory / "messages.json", data.encode())

    def load_messages(self, card_id: str) -> list[dict] | None:
        try:
            data = json.loads(
                (self.card_dir(card_id) / "messages.json").read_text(encoding="utf-8")
            )
        except (OSError, ValueError):
            return None
        return data if isinstance(data, list) else None

    def forget_messages(self, card_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.card_dir(card_id) / "messages.json").unlink()


def _parse(lines: Iterable[bytes]) -> Iterator[Event]:
    """Events from JSON lines, skipping lines a crash left half-written."""
    for line in lines:
        try:
            event = event_from_dict(json.loads(line))
        except (ValueError, UnicodeDecodeError):
            continue
        if event is not None:
            yield event


def _tail(path: Path, count: int, chunk: int = 1 << 16) -> list[bytes]:
    """The last ``count`` lines of a file, read backwards in chunks."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(chunk, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.splitlines()
    if position > 0:
        lines = lines[1:]  # the first one may be cut
    return lines[-count:] if count else []


def secret_env_names(settings) -> list[str]:
    """The environment variables whose values never reach a record: the usual API keys and
    every openai profile's ``api_key_env``."""
    names = set(SECRET_ENV_NAMES)
    names.update(p.api_key_env for p in settings.agents.values() if p.kind == "openai")
    return sorted(names)


def records_root(board_dir: Path) -> Path:
    """Where a board's run records live: under the git dir, else beside the board's cards."""
    state = state_dir(board_dir)
    return (state or board_dir / ".kanban-agents") / "runs"


def run_records(store, environ: Mapping[str, str] | None = None) -> RunRecords:
    """The one way to open a board's run records (run manager, reviewer, radar, CLI): in one
    place, redacting the values of ``secret_env_names`` in ``environ`` (default: this
    process's environment)."""
    environ = os.environ if environ is None else environ
    secrets = [environ.get(name, "") for name in secret_env_names(store.settings)]
    return RunRecords(records_root(store.root), Redactor(secrets))


class HostWatch:
    """Whether anyone still runs a card's latest run, for a reader following its log from
    another process (``log --follow``, ``run`` handing a card to the board app).

    A preparing, running or testing run holds the card's lock. A queued run holds none yet: its
    queue lives in a board app (then that app must be alive) or in a ``run`` process of its own
    (nothing to check: keep waiting). A run is lost when neither holds for ``grace`` seconds (a
    run between its steps may let go for a moment)."""

    def __init__(
        self,
        records: RunRecords,
        board_dir: Path,
        card_id: str,
        *,
        grace: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.records = records
        self.board_dir = board_dir
        self.card_id = card_id
        self.grace = grace
        self.clock = clock
        self.queued = True
        self.hosted_by_app = board_host_pid(board_dir) is not None
        self._last_alive = clock()

    def saw(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            self.queued = event.state == QUEUED

    def alive_now(self) -> bool:
        if self.records.lock(self.card_id).holder() is not None:
            return True
        return self.queued and (
            not self.hosted_by_app or board_host_pid(self.board_dir) is not None
        )

    def lost(self) -> bool:
        """True once nobody has run it for the grace period."""
        if self.alive_now():
            self._last_alive = self.clock()
            return False
        return self.clock() - self._last_alive > self.grace
