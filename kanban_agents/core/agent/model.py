"""The model: any OpenAI-compatible chat-completions endpoint, over the ``openai`` package.

Streaming with tool calls; token usage counted; retries with backoff for what retrying can fix
(429, 5xx, a dropped connection), reported as notices so the user sees what is happening; a plain
``ModelError`` with the server's status and message for what it cannot (401, 404, 400 ...).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...config import AgentProfile

DEFAULT_MODEL = "gpt-4o-mini"
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 20.0)  # then give up


class ModelError(Exception):
    """The model could not answer; ``message`` says why in words a user can act on."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model sent it (may be malformed)


@dataclass
class ModelTurn:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return message


class Model(Protocol):
    name: str

    async def complete(
        self, messages: list[dict], tools: list[dict], on_text: Callable[[str], None]
    ) -> ModelTurn: ...

    async def aclose(self) -> None: ...


class OpenAIModel:
    """A chat model behind an OpenAI-compatible API (OpenAI, Ollama, vLLM, llama.cpp server)."""

    def __init__(
        self,
        profile: AgentProfile,
        environ: Mapping[str, str] | None = None,
        on_retry: Callable[[str], None] | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ):
        from openai import AsyncOpenAI  # imported here: it costs most of a second at startup

        environ = os.environ if environ is None else environ
        self.profile = profile
        self.base_url = profile.base_url or environ.get("OPENAI_BASE_URL") or None
        api_key = environ.get(profile.api_key_env) or ""
        if not api_key:
            if self.base_url is None:
                raise ModelError(
                    f"no API key: set {profile.api_key_env}, or point the agent at a local server "
                    "with OPENAI_BASE_URL (or base_url in kanban.toml)"
                )
            api_key = "not-needed"  # local servers (Ollama, llama.cpp) accept any key
        self.api_key = api_key
        self.name = profile.model or environ.get("OPENAI_MODEL") or ""
        self.on_retry = on_retry or (lambda _message: None)
        self.retry_delays = retry_delays
        self._usage_supported = True
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=self.base_url, max_retries=0, timeout=profile.request_timeout
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def resolve_name(self) -> str:
        """The configured model, or the first one the server lists (handy with Ollama/vLLM)."""
        if not self.name:
            try:
                listing = await self._client.models.list()
                ids = [m.id for m in listing.data]
            except Exception:
                ids = []
            self.name = ids[0] if ids else DEFAULT_MODEL
        return self.name

    async def complete(
        self, messages: list[dict], tools: list[dict], on_text: Callable[[str], None]
    ) -> ModelTurn:
        """One assistant turn, streamed; retried with backoff when the failure is transient."""
        await self.resolve_name()
        for attempt, delay in enumerate((*self.retry_delays, None), 1):
            try:
                return await self._stream_once(messages, tools, on_text)
            except ModelError as exc:
                if not exc.retryable or delay is None:
                    raise
                wait = max(delay, getattr(exc, "retry_after", 0) or 0) * (
                    0.8 + 0.4 * random.random()
                )
                self.on_retry(
                    f"{exc.message}; retrying in {wait:.0f}s (attempt {attempt + 1} of {len(self.retry_delays) + 1})"
                )
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _stream_once(
        self, messages: list[dict], tools: list[dict], on_text: Callable[[str], None]
    ) -> ModelTurn:
        import openai

        options: dict[str, Any] = {"model": self.name, "messages": messages, "stream": True}
        if tools:
            options["tools"] = tools
        if self.profile.temperature is not None:
            options["temperature"] = self.profile.temperature
        if self._usage_supported:
            options["stream_options"] = {"include_usage": True}
        turn = ModelTurn()
        calls: dict[int, dict[str, str]] = {}
        try:
            stream = await self._client.chat.completions.create(**options)
            async with stream:
                if "json" in stream.response.headers.get("content-type", ""):
                    # A server that ignores "stream" answers with one JSON body, which a stream
                    # reader would see as nothing at all: read it as the completion it is.
                    _absorb_completion(await _json_body(stream.response), turn, calls, on_text)
                else:
                    async for chunk in stream:
                        _absorb(chunk, turn, calls, on_text)
        except openai.BadRequestError as exc:
            if self._usage_supported and "stream_options" in str(exc):
                self._usage_supported = False  # an older server: count tokens ourselves instead
                return await self._stream_once(messages, tools, on_text)
            raise _model_error(exc) from None
        except openai.APIError as exc:
            raise _model_error(exc) from None
        turn.tool_calls = [
            ToolCall(c.get("id") or f"call_{index}", c.get("name", ""), c.get("arguments", ""))
            for index, c in sorted(calls.items())
        ]
        if not turn.prompt_tokens and not turn.completion_tokens:
            turn.prompt_tokens = _estimate_tokens(json.dumps(messages))
            turn.completion_tokens = _estimate_tokens(
                turn.text + "".join(c.arguments for c in turn.tool_calls)
            )
        return turn


def _absorb(
    chunk: Any, turn: ModelTurn, calls: dict[int, dict[str, str]], on_text: Callable[[str], None]
) -> None:
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        turn.prompt_tokens = usage.prompt_tokens or 0
        turn.completion_tokens = usage.completion_tokens or 0
    for choice in chunk.choices or ():
        delta = choice.delta
        if delta is not None and delta.content:
            turn.text += delta.content
            on_text(delta.content)
        for call in (delta.tool_calls or ()) if delta is not None else ():
            slot = calls.setdefault(call.index if call.index is not None else len(calls), {})
            if call.id:
                slot["id"] = call.id
            if call.function is not None:
                if call.function.name:
                    slot["name"] = slot.get("name", "") + call.function.name
                if call.function.arguments:
                    slot["arguments"] = slot.get("arguments", "") + call.function.arguments
        if choice.finish_reason:
            turn.finish_reason = choice.finish_reason


async def _json_body(response: Any) -> dict[str, Any]:
    try:
        raw = await response.aread()
    except Exception as exc:  # the HTTP library's transport errors: worth another try
        raise ModelError(
            f"connection to the model server failed: {type(exc).__name__}: {exc}", None, True
        ) from None
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise ModelError(f"the model server's answer is not a chat completion: {raw[:200]!r}")
    return body


def _absorb_completion(
    body: dict[str, Any],
    turn: ModelTurn,
    calls: dict[int, dict[str, str]],
    on_text: Callable[[str], None],
) -> None:
    """A whole (non-streamed) completion body, read leniently (minimal servers leave out ids,
    indexes and the like), into the same shape as a stream's chunks."""
    usage = body.get("usage")
    if isinstance(usage, dict):
        turn.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        turn.completion_tokens = int(usage.get("completion_tokens") or 0)
    for choice in body["choices"][:1]:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") or {}
        content = message.get("content")
        if isinstance(content, str) and content:
            turn.text += content
            on_text(content)
        for index, call in enumerate(message.get("tool_calls") or ()):
            function = (call.get("function") or {}) if isinstance(call, dict) else {}
            arguments = function.get("arguments")
            if not isinstance(arguments, str):  # some servers send the object itself
                arguments = json.dumps(arguments) if arguments is not None else ""
            calls[index] = {
                "id": str(call.get("id") or "") if isinstance(call, dict) else "",
                "name": str(function.get("name") or ""),
                "arguments": arguments,
            }
        if choice.get("finish_reason"):
            turn.finish_reason = str(choice["finish_reason"])


def _model_error(exc: Exception) -> ModelError:
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _server_message(exc)
        retryable = status == 429 or status >= 500 or status == 408
        error = ModelError(f"model server answered {status}: {detail}", status, retryable)
        retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
        try:
            error.retry_after = float(retry_after) if retry_after else 0  # type: ignore[attr-defined]
        except ValueError:
            error.retry_after = 0  # type: ignore[attr-defined]
        if status == 401:
            error.message += " (check the API key)"
        elif status == 404:
            error.message += " (check the model name and base_url)"
        return error
    if isinstance(exc, openai.APITimeoutError):
        return ModelError("the model server did not answer in time", None, True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return ModelError(
            f"connection to the model server failed: {type(cause).__name__}: {cause}", None, True
        )
    return ModelError(f"model request failed: {exc}", None, False)


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(getattr(exc, "message", "") or exc)


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)
