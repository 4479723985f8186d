"""Run events as a readable log: one marker character per kind of line, so a plain terminal
(the CLI) and the TUI (which colours by marker) read the same text.

  ◆ state changes     » assistant text      ▶ tool calls        ✔/✖ tool results and tests
  │ folded output     $ commands            ! notices and retries
  ✉ your messages to the running agent
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .events import (
    AgentBlocked,
    AssistantMessage,
    Event,
    LogLine,
    Notice,
    ReviewerMessage,
    RunFinished,
    StateChanged,
    TestsFinished,
    ToolCalled,
    ToolFinished,
)

FOLDED_LINES = 6  # output lines shown under a tool result; the rest is folded
ARGUMENT_CHARS = 90
NAME_CHARS = 60  # a tool name as the model sent it: a broken server can send thousands


def format_event(event: Event) -> list[str]:
    if isinstance(event, StateChanged):
        return [f"◆ {event.state}" + (f": {event.reason}" if event.reason else "")]
    if isinstance(event, RunFinished):
        head = f"◆ run {event.run} ended: {event.state}" + (
            f" ({event.reason})" if event.reason else ""
        )
        lines = [head]
        if event.commit:
            lines.append(f"│ commit {event.commit[:10]}")
        lines.extend(f"│ {line}" for line in event.summary.strip().splitlines()[:20])
        return lines
    if isinstance(event, AssistantMessage):
        return [
            f"» {line}" if i == 0 else f"  {line}"
            for i, line in enumerate(event.text.strip().splitlines())
        ]
    if isinstance(event, ToolCalled):
        name = event.name if len(event.name) <= NAME_CHARS else event.name[: NAME_CHARS - 1] + "…"
        return [f"▶ {name}({shorten_arguments(event.arguments)})"]
    if isinstance(event, ToolFinished):
        mark = "✔" if event.ok else "✖"
        lines = [f"{mark} {event.summary or event.name}"]
        if event.name not in ("read_file", "finish", "list_files"):
            lines.extend(fold(event.output))
        elif not event.ok:
            lines.extend(fold(event.output, 3))
        return lines
    if isinstance(event, TestsFinished):
        mark = "✔ tests passed" if event.passed else f"✖ tests failed (exit {event.exit_code})"
        return [f"{mark} (attempt {event.attempt})", *fold(event.output)]
    if isinstance(event, Notice):
        return [f"! {event.text}"]
    if isinstance(event, AgentBlocked):
        return [f"! blocked: {event.reason}"]
    if isinstance(event, ReviewerMessage):
        lines = event.text.strip().splitlines() or [""]
        return [f"✉ you to the agent: {lines[0]}", *(f"  {line}" for line in lines[1:])]
    if isinstance(event, LogLine):  # one event may carry several lines (a chunk of output)
        if event.stream in ("stdout", "stderr", "setup"):
            return [f"│ {line}" for line in event.text.split("\n")]
        return [line if line.startswith("$ ") else f"  {line}" for line in event.text.split("\n")]
    return []


def format_cost(dollars: float | None) -> str:
    """Dollars as the board and the CLI show them; None (no [pricing]): "cost unknown"."""
    if dollars is None:
        return "cost unknown"
    if 0 < dollars < 0.01:
        return f"${dollars:.4f}"
    return f"${dollars:.2f}"


def format_events(events: Iterable[Event]) -> list[str]:
    lines: list[str] = []
    for event in events:
        lines.extend(format_event(event))
    return lines


def shorten_arguments(arguments: dict) -> str:
    parts = []
    for key, value in arguments.items():
        if key in ("content", "new", "old") and isinstance(value, str):
            shown = (
                f"<{len(value.splitlines()) or 1} lines>"
                if "\n" in value or len(value) > 40
                else json.dumps(value)
            )
        else:
            shown = json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    text = ", ".join(parts)
    return text if len(text) <= ARGUMENT_CHARS else text[: ARGUMENT_CHARS - 1] + "…"


def fold(output: str, keep: int = FOLDED_LINES) -> list[str]:
    lines = [line for line in output.rstrip().splitlines()]
    if len(lines) <= keep:
        return [f"│ {line}" for line in lines]
    hidden = len(lines) - keep
    return (
        [f"│ {line}" for line in lines[: keep // 2]]
        + [f"│ … {hidden} more lines …"]
        + [f"│ {line}" for line in lines[-(keep - keep // 2) :]]
    )
