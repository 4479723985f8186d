"""The one stream of plain events the run manager emits. TUI, CLI and tests subscribe; the run
recorder writes them as JSON lines, and ``event_from_dict`` reads them back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar, Protocol


class RunPhase(StrEnum):
    """A run's state, in the order a run usually passes through them. The last ones are its
    outcomes (``OUTCOMES``). A ``StrEnum``: it compares equal to the plain strings the records,
    the cards' ``run:`` lines and older readers hold."""

    QUEUED = "queued"
    PREPARING = "preparing"
    RUNNING = "running"
    TESTING = "testing"
    REVIEW = "review"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    MERGED = "merged"
    DISCARDED = "discarded"

    @classmethod
    def parse(cls, value: Any) -> Any:
        """The member for a stored value; anything else (None, a newer version's state) as is."""
        try:
            return cls(value)
        except ValueError:
            return value


QUEUED = RunPhase.QUEUED
PREPARING = RunPhase.PREPARING
RUNNING = RunPhase.RUNNING
TESTING = RunPhase.TESTING
REVIEW = RunPhase.REVIEW
FAILED = RunPhase.FAILED
CANCELLED = RunPhase.CANCELLED
INTERRUPTED = RunPhase.INTERRUPTED
MERGED = RunPhase.MERGED
DISCARDED = RunPhase.DISCARDED
ACTIVE_STATES = frozenset({QUEUED, PREPARING, RUNNING, TESTING})
OUTCOMES = FINAL_STATES = frozenset({REVIEW, FAILED, CANCELLED, INTERRUPTED, MERGED, DISCARDED})


class CancelCause(StrEnum):
    """Why a run was stopped before its outcome: carried by the cancellation as a value, so the
    outcome is decided by the cause, never by the wording of the reason shown."""

    BY_USER = "by_user"  # c in the board, a cancel intent
    CARD_LEFT = "card_left"  # the card left the agent column (moved, deleted, unreadable)
    DISCARDED = "discarded"  # its work is being discarded
    HOST_STOPPED = "host_stopped"  # the process running it is closing (app quit, Ctrl-C)

    @property
    def outcome(self) -> RunPhase:
        """A host that stops leaves the run resumable: ``interrupted``; the rest: ``cancelled``."""
        return RunPhase.INTERRUPTED if self is CancelCause.HOST_STOPPED else RunPhase.CANCELLED


@dataclass(frozen=True)
class Event:
    card_id: str
    run: int  # run number for this card: 1, 2, ...
    t: float = field(default_factory=time.time, kw_only=True)
    kind: ClassVar[str] = "event"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class StateChanged(Event):
    state: RunPhase
    reason: str = ""
    kind: ClassVar[str] = "state"

    def __post_init__(self) -> None:  # read back from JSON: the member again
        object.__setattr__(self, "state", RunPhase.parse(self.state))


@dataclass(frozen=True)
class LogLine(Event):
    text: str
    stream: str = "info"  # info | setup | stdout | stderr | git
    kind: ClassVar[str] = "log"


@dataclass(frozen=True)
class AssistantDelta(Event):
    """A fragment of streamed assistant text (not recorded: the full message is)."""

    text: str
    kind: ClassVar[str] = "delta"


@dataclass(frozen=True)
class AssistantMessage(Event):
    text: str
    step: int = 0
    kind: ClassVar[str] = "assistant"


@dataclass(frozen=True)
class ToolCalled(Event):
    call_id: str
    name: str
    arguments: dict[str, Any]
    step: int = 0
    kind: ClassVar[str] = "tool_call"


@dataclass(frozen=True)
class ToolFinished(Event):
    call_id: str
    name: str
    ok: bool
    summary: str
    output: str = ""
    kind: ClassVar[str] = "tool_result"


@dataclass(frozen=True)
class TestsFinished(Event):
    __test__ = False  # not a pytest test class, despite the name

    passed: bool
    exit_code: int | None
    output: str
    command: str = ""
    attempt: int = 1
    kind: ClassVar[str] = "tests"


@dataclass(frozen=True)
class UsageUpdated(Event):
    prompt_tokens: int
    completion_tokens: int
    steps: int
    estimated: bool = False  # the server gave no usage: the counts are an estimate
    cached_tokens: int = 0
    cost: float | None = None  # dollars of this run so far; None: no [pricing] for the model
    cost_total: float | None = None  # dollars of all the card's runs, this one included
    kind: ClassVar[str] = "usage"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ReviewerMessage(Event):
    """A message the reviewer sent the running agent (``i``, ``kanban-agents say``), as the
    agent got it: before its next model turn, or with the review notes of a command agent."""

    text: str
    message_id: str = ""
    kind: ClassVar[str] = "reviewer_message"


@dataclass(frozen=True)
class AgentBlocked(Event):
    """The agent seems to wait for someone: a command agent silent at a question, or model
    requests that keep failing (``blocked.py``)."""

    reason: str
    kind: ClassVar[str] = "blocked"


@dataclass(frozen=True)
class DiffChanged(Event):
    kind: ClassVar[str] = "diff"


@dataclass(frozen=True)
class Notice(Event):
    """Something the user should see on the card: a files overlap, a retry, a conflict."""

    text: str
    level: str = "warning"  # info | warning | error
    # what it is about, when the board shows it apart from the ⚡ count: "unconfined" (the
    # run's commands are not in a sandbox: a badge of its own)
    topic: str = ""
    kind: ClassVar[str] = "notice"


@dataclass(frozen=True)
class RunFinished(Event):
    state: RunPhase
    reason: str = ""
    summary: str = ""
    commit: str | None = None
    kind: ClassVar[str] = "finished"

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", RunPhase.parse(self.state))


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        StateChanged,
        LogLine,
        AssistantDelta,
        AssistantMessage,
        ToolCalled,
        ToolFinished,
        TestsFinished,
        UsageUpdated,
        ReviewerMessage,
        AgentBlocked,
        DiffChanged,
        Notice,
        RunFinished,
    )
}


Sink = Callable[[Event], None]


class Emitter(Protocol):
    """Makes and sends one run's events: ``emit(LogLine, text="...")``."""

    def __call__(self, event_type: type[Event], /, **fields: Any) -> None: ...


def emitter_for(card_id: str, run: int, sink: Sink) -> Emitter:
    def emit(event_type: type[Event], /, **fields: Any) -> None:
        sink(event_type(card_id, run, **fields))

    return emit


def event_from_dict(data: dict[str, Any]) -> Event | None:
    """Rebuild an event from its JSON form; None for kinds this version does not know."""
    cls = EVENT_TYPES.get(data.get("kind", ""))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        return None


@dataclass
class RunStatus:
    """What the board shows about a card's current run; folded from its events."""

    card_id: str
    run: int = 0
    state: RunPhase | None = None
    reason: str = ""
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False
    cost: float | None = None  # this run's dollars (None: unknown)
    cost_total: float | None = None  # the card's dollars over all its runs (None: unknown)
    blocked: str = ""  # why the agent seems to wait for someone; "" once it moves on
    started: float | None = None
    finished: float | None = None
    attempt: int = 0
    summary: str = ""
    notices: list[str] = field(default_factory=list)
    last_tests: TestsFinished | None = None
    unconfined: bool = False  # its commands run with the user's rights (no sandbox)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def apply(self, event: Event) -> None:
        if event.run != self.run:
            if event.run < self.run:
                return
            self.__init__(self.card_id, run=event.run)  # a new run starts from a clean slate
        if isinstance(event, StateChanged | RunFinished) or (
            isinstance(event, LogLine) and event.stream == "stdout"
        ):
            self.blocked = ""  # it moved on
        if isinstance(event, StateChanged):
            self.state = event.state
            self.reason = event.reason
            if event.state == RUNNING and self.started is None:
                self.started = event.t
            if event.state in ACTIVE_STATES:
                self.finished = None
        elif isinstance(event, UsageUpdated):
            self.prompt_tokens = event.prompt_tokens
            self.completion_tokens = event.completion_tokens
            self.tokens_estimated = event.estimated
            self.steps = event.steps
            self.cost, self.cost_total = event.cost, event.cost_total
            self.blocked = ""
        elif isinstance(event, AgentBlocked):
            self.blocked = event.reason
        elif isinstance(event, TestsFinished):
            self.blocked = ""
            self.last_tests = event
            self.attempt = event.attempt
        elif isinstance(event, Notice):
            if event.topic == "unconfined":
                self.unconfined = True
            elif event.text not in self.notices:
                self.notices.append(event.text)
        elif isinstance(event, RunFinished):
            self.state = event.state
            self.reason = event.reason
            self.summary = event.summary
            self.finished = event.t
