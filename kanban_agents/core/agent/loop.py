"""The built-in agent: a tool-calling loop that runs until the card's stopping rule is met.

``run`` steps until the model calls ``finish`` and ``on_finish`` accepts it (the card's tests
pass), or a limit (steps, tokens, wall time) ends it with ``LimitExceeded``.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..events import (
    AssistantDelta,
    AssistantMessage,
    Emitter,
    LogLine,
    Notice,
    ToolCalled,
    ToolFinished,
    UsageUpdated,
)
from ..pricing import Usage
from ..runs.errors import RunError
from .context import ContextKeeper
from .model import Model, ModelError, ModelTurn, ToolCall
from .tools import Toolbox, ToolResult, tool_schemas

NUDGE = (
    "Keep working with the tools. When the task is done and the card's tests pass, call "
    "finish(summary) with a short summary of your diff."
)
MAX_IDLE_TURNS = 3
NO_TOOL_CALLS = (
    "the model answered {turns} turns without calling a tool: the server or the model may not "
    "support tool calls (see the log, and README: Local models)"
)
NO_TOOL_CALLS_HELP = (
    "The model never called a tool. Check that the model is trained for tool calls and that the "
    "server is started with tool calling on: llama.cpp server (llama-cpp-python) "
    "--chat_format chatml-function-calling (or the model's own function-calling format), vLLM "
    "--enable-auto-tool-choice --tool-call-parser <parser>, Ollama: a model tagged 'tools'. "
    "To check by hand, send one chat-completions request with a tool and see whether the answer "
    "has tool_calls."
)


class LimitExceeded(Exception):
    """A run limit ended the run; the message is the reason shown on the card."""


@dataclass(frozen=True)
class Limits:
    max_steps: int
    max_tokens: int
    max_wall_seconds: float
    max_cost: float | None = None  # dollars; None: no budget


class Agent:
    def __init__(
        self,
        model: Model,
        toolbox: Toolbox,
        limits: Limits,
        emit: Emitter,
        on_finish: Callable[[str], Awaitable[str | None]],
        checkpoint: Callable[[list[dict]], None] = lambda messages: None,
        before_turn: Callable[[list[dict]], None] = lambda messages: None,
        price: Callable[[Usage, str], float | None] = lambda usage, model: None,
        cost_before: float = 0.0,
        context_tokens: int | None = None,
    ):
        self.model, self.toolbox, self.limits, self.emit = model, toolbox, limits, emit
        self.on_finish = on_finish  # None: accepted; text: why not (e.g. the failing test output)
        self.checkpoint = (
            checkpoint  # saves the conversation after each step, so a crash can resume
        )
        # Adds what arrived meanwhile (the reviewer's messages) before each model turn.
        self.before_turn = before_turn
        self.price = price  # dollars of a usage on a model; None: no price for it
        self.cost_before = cost_before  # what the card's earlier runs cost
        self.cached_tokens = 0
        self.cost: float | None = None
        # None: the conversation grows as it will (the model server's own limit applies).
        self.context = (
            None
            if context_tokens is None
            else ContextKeeper(context_tokens, tool_schemas(), self.summarise)
        )
        self.steps = self.prompt_tokens = self.completion_tokens = self.tool_calls = 0
        self.usage_estimated = False  # some turn's usage was our estimate, not the server's
        self.summary: str | None = None

    async def run(self, messages: list[dict]) -> str:
        try:
            async with asyncio.timeout(self.limits.max_wall_seconds):
                return await self._loop(messages)
        except TimeoutError:
            raise LimitExceeded(
                f"wall-clock limit of {self.limits.max_wall_seconds:g}s reached"
            ) from None

    async def _loop(self, messages: list[dict]) -> str:
        idle = 0
        while self.summary is None:
            self._check_limits()
            self.before_turn(messages)
            await self.fit_context(messages)
            turn = await self.step(messages)
            self.checkpoint(messages)
            idle = 0 if turn.tool_calls else idle + 1
            if idle > MAX_IDLE_TURNS:
                if not self.tool_calls:
                    self.emit(LogLine, text=NO_TOOL_CALLS_HELP)
                    raise LimitExceeded(NO_TOOL_CALLS.format(turns=idle))
                raise LimitExceeded(
                    "the model kept answering without using tools or calling finish"
                )
            if not turn.tool_calls:
                messages.append({"role": "user", "content": NUDGE})
        return self.summary

    async def step(self, messages: list[dict]) -> ModelTurn:
        self.steps += 1
        try:
            turn = await self.model.complete(
                messages, tool_schemas(), on_text=lambda t: self.emit(AssistantDelta, text=t)
            )
        except ModelError as exc:
            if exc.detail and exc.detail != exc.message:
                # The reason on the card is one line; the server's whole answer goes here.
                self.emit(LogLine, text=f"model server said:\n{exc.detail}")
            raise
        self.tool_calls += len(turn.tool_calls)
        self.count_usage(turn)
        messages.append(turn.as_message())
        if turn.text.strip():
            self.emit(AssistantMessage, text=turn.text, step=self.steps)
        for call in turn.tool_calls:
            result = await self.call_tool(call)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result.output})
            if self.summary is not None:
                break  # finished: later calls of this turn are moot
        return turn

    async def fit_context(self, messages: list[dict]) -> None:
        if self.context is None:
            return
        for fitted in await self.context.fit(messages):
            self.emit(LogLine, text=fitted.describe(self.context.context_tokens))

    async def summarise(self, request: list[dict]) -> str:
        """One model call without tools (the context keeper's summary); its tokens count."""
        turn = await self.model.complete(request, [], on_text=lambda text: None)
        self.count_usage(turn)
        return turn.text

    def count_usage(self, turn: ModelTurn) -> None:
        self.prompt_tokens += turn.prompt_tokens
        self.completion_tokens += turn.completion_tokens
        self.usage_estimated = self.usage_estimated or turn.usage_estimated
        self.cached_tokens += turn.cached_tokens
        usage = Usage(self.prompt_tokens, self.completion_tokens, self.cached_tokens)
        unpriced = self.cost is None
        self.cost = self.price(usage, self.model.name)
        if self.cost is None and unpriced and self.steps == 1 and self.limits.max_cost is not None:
            self.emit(
                Notice,
                text=f"max_cost ${self.limits.max_cost:g} cannot be checked: kanban.toml has no "
                f'[pricing."{self.model.name}"]; the run is limited by tokens only',
                level="warning",
            )
        self.emit(
            UsageUpdated,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            steps=self.steps,
            estimated=self.usage_estimated,
            cached_tokens=self.cached_tokens,
            cost=self.cost,
            cost_total=None if self.cost is None else self.cost_before + self.cost,
        )

    async def call_tool(self, call: ToolCall) -> ToolResult:
        self.emit(
            ToolCalled,
            call_id=call.id,
            name=call.name,
            arguments=_parsed(call.arguments),
            step=self.steps,
        )
        result = await self._call_toolbox(call)
        if call.name == "finish" and not result.is_error:
            verdict = await self.on_finish(result.output)
            if verdict is None:
                self.summary = result.output
            else:
                result = ToolResult(
                    output=verdict, is_error=True, summary="finish refused: the tests failed"
                )
        self.emit(
            ToolFinished,
            call_id=call.id,
            name=call.name,
            ok=not result.is_error,
            summary=result.summary,
            output=result.output,
        )
        return result

    async def _call_toolbox(self, call: ToolCall) -> ToolResult:
        """The toolbox turns the model's mistakes into error results; anything else it raises is
        a bug in a tool, which must not end the run either: the model hears that the tool
        failed, the log gets the traceback. Cancellation (the wall-clock limit, a stop) is not
        an Exception and still ends the run."""
        try:
            return await self.toolbox.call(call.name, call.arguments)
        except RunError:
            raise  # a check of the run itself failed (the review gate's): not a tool's fault
        except Exception as exc:
            self.emit(
                LogLine,
                text=f"tool {call.name} raised:\n{traceback.format_exc().rstrip()}",
                stream="stderr",
            )
            problem = f"{type(exc).__name__}: {exc}"[:300]
            return ToolResult(
                output=f"Error: {call.name} failed unexpectedly ({problem}). This is a fault in "
                "the tool, not necessarily in your arguments: try another way (another tool, "
                "or `run` with a shell command).",
                is_error=True,
                summary=f"{call.name} failed unexpectedly: {type(exc).__name__}",
            )

    def _check_limits(self) -> None:
        if self.steps >= self.limits.max_steps:
            raise LimitExceeded(f"step limit of {self.limits.max_steps} reached")
        if self.prompt_tokens + self.completion_tokens >= self.limits.max_tokens:
            raise LimitExceeded(f"token limit of {self.limits.max_tokens} reached")
        budget = self.limits.max_cost
        if budget is not None and self.cost is not None and self.cost >= budget:
            raise LimitExceeded(f"budget of ${budget:g} reached")


def _parsed(arguments: str) -> dict:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode
        return {"_raw": arguments[:500]}
    return value if isinstance(value, dict) else {"_raw": arguments[:500]}
