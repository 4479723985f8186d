"""The model: any OpenAI-compatible chat-completions endpoint, over the ``openai`` package.

Streaming with tool calls; token usage counted (estimated, and marked so, when the server gives
none); retries with backoff for what retrying can fix (429, 5xx, a dropped or empty stream,
malformed data), within a time budget, reported as notices so the user sees what is happening;
a plain ``ModelError`` with a one-line reason for what it cannot (401, 404, a request the server
calls invalid ...), the server's whole answer kept in ``detail`` for the log.

The servers people run differ from OpenAI in ways that matter here (the scripted server's
dialects reproduce each one): llama-cpp-python repeats a tool call's id and whole name in every
streamed chunk, rejects ``"content": null``, reports no usage while streaming, leaves tools out
of the prompt unless ``tool_choice`` is sent and cannot stream a tool call the model chose itself
(it answers an empty stream); Ollama sends each tool call whole in one chunk and rejects a
history whose tool-call arguments are not JSON; vLLM refuses tools unless it was started with
``--enable-auto-tool-choice`` and reports errors inside a 200 stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...config import AgentProfile

DEFAULT_MODEL = "gpt-4o-mini"
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 20.0)  # then give up
REASON_CHARS = 160  # a reason on the card and in `status` is one line of at most this
EXCERPT_CHARS = 80  # of malformed data, quoted in the reason

# Words in an error body that say the request itself is wrong: sending it again cannot help,
# whatever the status (llama-cpp-python answers 500 to a request that fails validation).
_INVALID_REQUEST = re.compile(
    r"validation errors?|invalid|not supported|unsupported|requires --|is required|must be",
    re.IGNORECASE,
)
_INVALID_REQUEST_TYPES = {"invalid_request_error", "BadRequestError", "validation_error"}


class ModelError(Exception):
    """The model could not answer; ``message`` says why in one line a user can act on, and
    ``detail`` keeps the server's whole answer for the log."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retryable: bool = False,
        *,
        detail: str = "",
        retry_after: float = 0.0,
    ):
        self.message = one_line(message)
        super().__init__(self.message)
        self.status = status
        self.retryable = retryable
        self.detail = detail.strip() or message.strip()
        self.retry_after = retry_after
        self.received_data = False  # the attempt got part of an answer before it failed


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
    cached_tokens: int = 0  # of prompt_tokens, served from the server's prompt cache
    finish_reason: str | None = None
    usage_estimated: bool = False  # the server gave no usage: the counts are our estimate

    def as_message(self) -> dict[str, Any]:
        # "" and never null: llama-cpp-python rejects null content (HTTP 500), Ollama rejects it
        # without tool calls, and an empty answer stored as null is invalid for OpenAI too.
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
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
        from .model_client import async_openai  # imports openai: most of a second at startup

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
        # What this server turned out not to support, learnt once for the run:
        self._usage_supported = True  # stream_options.include_usage
        self._tool_choice_supported = True
        self._streams_tool_calls = True  # False: requests with tools are sent without streaming
        self._attempt_started = time.monotonic()
        self._client = async_openai(
            api_key=api_key, base_url=self.base_url, timeout=profile.request_timeout
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

    async def advertised_context(self) -> int | None:
        """The model's context length where the server lists it (vLLM ``max_model_len``,
        llama.cpp ``meta.n_ctx_train``, others ``context_length``); None when it does not."""
        try:  # one listing names the model (when the profile does not) and gives its context
            listing = await self._client.models.list()
            entries = [m.model_dump() for m in listing.data]
        except Exception:
            await self.resolve_name()
            return None
        if not self.name:
            self.name = next((e.get("id") for e in entries if e.get("id")), None) or DEFAULT_MODEL
        entry = next((e for e in entries if e.get("id") == self.name), None)
        if entry is None:
            return None
        meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
        for value in (
            entry.get("max_model_len"),
            entry.get("context_length"),
            entry.get("context_window"),
            meta.get("n_ctx"),
            meta.get("n_ctx_train"),
        ):
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        return None

    async def complete(
        self, messages: list[dict], tools: list[dict], on_text: Callable[[str], None]
    ) -> ModelTurn:
        """One assistant turn; retried with backoff while the failure is transient and the
        retry budget (``retry_budget`` seconds without progress) lasts."""
        await self.resolve_name()
        failing_since: float | None = None  # the start of the first failed attempt
        for attempt in range(1, len(self.retry_delays) + 2):
            try:
                return await self._request(messages, tools, on_text)
            except ModelError as exc:
                if not exc.retryable:
                    raise
                if failing_since is None:
                    failing_since = self._attempt_started
                if exc.received_data:
                    failing_since = time.monotonic()  # it was answering: a fresh budget
                if attempt > len(self.retry_delays):
                    raise _gave_up(exc, attempt, failing_since) from None
                wait = self._backoff(self.retry_delays[attempt - 1], exc.retry_after)
                if time.monotonic() - failing_since + wait > self.profile.retry_budget:
                    raise _gave_up(exc, attempt, failing_since) from None
                self.on_retry(
                    f"{exc.message}; retrying in {wait:.0f}s (attempt {attempt + 1} of "
                    f"{len(self.retry_delays) + 1})"
                )
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, delay: float, retry_after: float) -> float:
        """The wait before the next attempt: the backoff step with jitter, or the server's
        Retry-After when longer, never more than ``retry_after_cap``."""
        return min(
            max(delay * (0.8 + 0.4 * random.random()), retry_after), self.profile.retry_after_cap
        )

    async def _request(
        self, messages: list[dict], tools: list[dict], on_text: Callable[[str], None]
    ) -> ModelTurn:
        """One attempt: streamed, unless this server cannot stream tool calls."""
        self._attempt_started = time.monotonic()
        if tools and not self._streams_tool_calls:
            return await self._complete_whole(messages, tools, on_text)
        try:
            return await self._stream(messages, tools, on_text)
        except _CannotStreamToolCalls as exc:
            self._streams_tool_calls = False
            self.on_retry(
                f"the model server cannot stream tool calls ({exc.message}); asking it without "
                "streaming from now on"
            )
            self._attempt_started = time.monotonic()  # the streamed try taught, not failed
            try:
                return await self._complete_whole(messages, tools, on_text)
            except ModelError as error:
                if not error.retryable or error.status is not None or error.received_data:
                    raise
                # llama-cpp-python closes the connection its failed stream came on, and the
                # pool may hand that one out again: one quiet try on a fresh connection.
                return await self._complete_whole(messages, tools, on_text)

    def _options(self, messages: list[dict], tools: list[dict], *, stream: bool) -> dict[str, Any]:
        options: dict[str, Any] = {
            "model": self.name,
            "messages": wire_messages(messages),
            "stream": stream,
        }
        if tools:
            options["tools"] = tools
            if self._tool_choice_supported:
                # The default, said out loud: llama-cpp-python leaves the tools out of the prompt
                # unless tool_choice is sent.
                options["tool_choice"] = "auto"
        if self.profile.temperature is not None:
            options["temperature"] = self.profile.temperature
        if stream and self._usage_supported:
            options["stream_options"] = {"include_usage": True}
        return options

    def _learn_from_rejection(self, exc: Exception) -> bool:
        """True when a 400 was about an option this server does not take (now dropped)."""
        text = str(exc)
        if self._usage_supported and "stream_options" in text:
            self._usage_supported = False  # an older server: count tokens ourselves instead
            return True
        if self._tool_choice_supported and "tool_choice" in text:
            self._tool_choice_supported = False
            return True
        return False

    async def _stream(
        self, messages: list[dict], tools: list[dict], on_text: Callable[[str], None]
    ) -> ModelTurn:
        import openai

        turn = ModelTurn()
        calls: dict[int, dict[str, str]] = {}
        try:
            stream = await self._client.chat.completions.create(
                **self._options(messages, tools, stream=True)
            )
            async with stream:
                response = stream.response
                if "json" in response.headers.get("content-type", ""):
                    # A server that ignores "stream" answers with one JSON body, which a stream
                    # reader would see as nothing at all: read it as the completion it is.
                    _absorb_completion(await _json_body(response), turn, calls, on_text)
                else:
                    await _read_stream(response, turn, calls, on_text)
        except openai.BadRequestError as exc:
            if self._learn_from_rejection(exc):
                return await self._stream(messages, tools, on_text)
            error = _model_error(exc)
            if tools and "stream" in error.detail.lower():
                raise _CannotStreamToolCalls(error.message) from None
            raise error from None
        except openai.APIStatusError as exc:
            error = _model_error(exc)
            if tools and "stream" in error.detail.lower():
                raise _CannotStreamToolCalls(error.message) from None
            raise error from None
        except openai.APIError as exc:
            raise _model_error(exc) from None
        except _EmptyStream:
            if tools:
                raise _CannotStreamToolCalls("an empty stream when tools were sent") from None
            raise ModelError("the server ended the stream without an answer", None, True) from None
        return _finished(turn, calls, messages)

    async def _complete_whole(
        self, messages: list[dict], tools: list[dict], on_text: Callable[[str], None]
    ) -> ModelTurn:
        import openai

        turn = ModelTurn()
        calls: dict[int, dict[str, str]] = {}
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                **self._options(messages, tools, stream=False)
            )
            _absorb_completion(_completion_body(raw.content), turn, calls, on_text)
        except openai.BadRequestError as exc:
            if self._learn_from_rejection(exc):
                return await self._complete_whole(messages, tools, on_text)
            raise _model_error(exc) from None
        except openai.APIError as exc:
            raise _model_error(exc) from None
        return _finished(turn, calls, messages)


class _CannotStreamToolCalls(ModelError):
    """A request with tools failed only because it was streamed (an error or an empty stream)."""


class _EmptyStream(Exception):
    """A 200 stream with no events at all: what llama-cpp-python sends when it fails inside."""


def wire_messages(messages: list[dict]) -> list[dict]:
    """The conversation as every server accepts it: assistant content "" and never null (also
    in conversations saved by older versions), tool-call arguments always a JSON object text
    (Ollama rejects the whole request over one malformed argument string in the history; the
    tool's error result already told the model what was wrong)."""
    wired = []
    for message in messages:
        if message.get("role") == "assistant":
            message = {**message, "content": message.get("content") or ""}
            if message.get("tool_calls"):
                message["tool_calls"] = [_wire_call(call) for call in message["tool_calls"]]
        wired.append(message)
    return wired


def _wire_call(call: dict) -> dict:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    try:
        valid = isinstance(json.loads(arguments), dict) if isinstance(arguments, str) else False
    except (ValueError, RecursionError):  # RecursionError: arrays nested too deeply to decode
        valid = False
    if valid:
        return call
    return {**call, "function": {**function, "arguments": "{}"}}


async def _read_stream(
    response: Any,
    turn: ModelTurn,
    calls: dict[int, dict[str, str]],
    on_text: Callable[[str], None],
) -> None:
    """Read a chat-completions event stream into ``turn``; raise what its end means."""
    events = 0
    done = False
    try:
        async for data in _sse_data(response):
            if data.strip() == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise _received(
                    ModelError(
                        f"the server sent malformed data: {_excerpt(data)}",
                        None,
                        True,
                        detail=f"the server sent malformed data:\n{data}",
                    ),
                    events,
                ) from None
            events += 1
            if isinstance(chunk, dict) and chunk.get("error"):
                # vLLM reports a failure inside a 200 stream as an event of its own.
                raise _received(_stream_error(chunk["error"]), events - 1)
            if isinstance(chunk, dict):
                _absorb_chunk(chunk, turn, calls, on_text)
    except ModelError:
        raise
    except Exception as exc:  # the HTTP library's transport errors (its own classes per version)
        if "timeout" in type(exc).__name__.lower():
            error = ModelError(
                "the model server stopped sending in the middle of an answer", None, True
            )
        else:
            error = ModelError(
                f"connection to the model server failed: {type(exc).__name__}: {exc}", None, True
            )
        raise _received(error, events) from None
    if events == 0 and not done:
        raise _EmptyStream()
    if turn.finish_reason is None and not done:
        # The server closed the connection mid-answer: what arrived may be cut anywhere.
        raise _received(
            ModelError(
                "the model server closed the stream before the answer was complete", None, True
            ),
            events,
        )


async def _sse_data(response: Any) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (comments such as keep-alive pings skipped)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        line = line.rstrip("\r")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:
        yield "\n".join(lines)


def _received(error: ModelError, events: int) -> ModelError:
    error.received_data = events > 0
    return error


def _stream_error(error: Any) -> ModelError:
    message = str(error.get("message") or error) if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    kind = str(error.get("type") or "") if isinstance(error, dict) else ""
    status = code if isinstance(code, int) else None
    invalid = (status is not None and 400 <= status < 500 and status not in (408, 429)) or (
        _says_request_invalid(message, kind)
    )
    return ModelError(
        f"model server reported an error in the stream: {message}",
        status,
        not invalid,
        detail=json.dumps(error, indent=1) if isinstance(error, dict) else message,
    )


def _finished(turn: ModelTurn, calls: dict[int, dict[str, str]], messages: list[dict]) -> ModelTurn:
    turn.tool_calls = [
        ToolCall(c.get("id") or f"call_{index}", c.get("name", ""), c.get("arguments", ""))
        for index, c in sorted(calls.items())
    ]
    if not turn.prompt_tokens and not turn.completion_tokens:
        turn.usage_estimated = True
        turn.prompt_tokens = _estimate_tokens(json.dumps(messages))
        turn.completion_tokens = _estimate_tokens(
            turn.text + "".join(c.arguments for c in turn.tool_calls)
        )
    return turn


def _read_usage(usage: Any, turn: ModelTurn) -> None:
    if not isinstance(usage, dict):
        return
    turn.prompt_tokens = int(usage.get("prompt_tokens") or 0)
    turn.completion_tokens = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict):
        turn.cached_tokens = int(details.get("cached_tokens") or 0)


def _absorb_chunk(
    chunk: dict[str, Any],
    turn: ModelTurn,
    calls: dict[int, dict[str, str]],
    on_text: Callable[[str], None],
) -> None:
    """One ``chat.completion.chunk``, read leniently (servers leave out or repeat fields)."""
    _read_usage(chunk.get("usage"), turn)
    for choice in chunk.get("choices") or ():
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if isinstance(content, str) and content:
            turn.text += content
            on_text(content)
        for position, call in enumerate(delta.get("tool_calls") or ()):
            if isinstance(call, dict):
                _absorb_call_delta(call, position, calls)
        if choice.get("finish_reason"):
            turn.finish_reason = str(choice["finish_reason"])


def _absorb_call_delta(
    call: dict[str, Any], position: int, calls: dict[int, dict[str, str]]
) -> None:
    """Merge one tool-call delta. OpenAI names a call once and streams its arguments in
    fragments; llama-cpp-python repeats the id and the whole name in every chunk; Ollama sends
    each call whole. A name equal to the one already held is a repeat, not a fragment."""
    index = call.get("index")
    slot = calls.setdefault(index if isinstance(index, int) else len(calls) + position, {})
    function = call.get("function") or {}
    call_id = call.get("id") if isinstance(call.get("id"), str) else ""
    repeated = bool(call_id) and slot.get("id") == call_id
    if call_id:
        slot["id"] = call_id
    name = function.get("name")
    if isinstance(name, str) and name:
        held = slot.get("name", "")
        slot["name"] = name if repeated or name == held else held + name
    arguments = function.get("arguments")
    if isinstance(arguments, str) and arguments:
        slot["arguments"] = slot.get("arguments", "") + arguments
    elif isinstance(arguments, dict):  # some servers send the object itself
        slot["arguments"] = json.dumps(arguments)


async def _json_body(response: Any) -> dict[str, Any]:
    try:
        raw = await response.aread()
    except Exception as exc:  # the HTTP library's transport errors: worth another try
        raise ModelError(
            f"connection to the model server failed: {type(exc).__name__}: {exc}", None, True
        ) from None
    return _completion_body(raw)


def _completion_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error") and not body.get("choices"):
        raise _stream_error(body["error"])
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise ModelError(
            f"the server sent malformed data: {_excerpt(text)}",
            None,
            True,
            detail=f"the model server's answer is not a chat completion:\n{text}",
        )
    return body


def _absorb_completion(
    body: dict[str, Any],
    turn: ModelTurn,
    calls: dict[int, dict[str, str]],
    on_text: Callable[[str], None],
) -> None:
    """A whole (non-streamed) completion body, read leniently (minimal servers leave out ids,
    indexes and the like), into the same shape as a stream's chunks."""
    _read_usage(body.get("usage"), turn)
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
        kind = _server_error_type(exc)
        retryable = (status == 429 or status >= 500 or status == 408) and not (
            _says_request_invalid(detail, kind)
        )
        retry_after = exc.response.headers.get("retry-after") if exc.response is not None else None
        try:
            seconds = float(retry_after) if retry_after else 0.0
        except ValueError:
            seconds = 0.0  # an HTTP date: the backoff steps will do
        message = f"model server answered {status}: {one_line(detail)}"
        if status == 401:
            message += " (check the API key)"
        elif status == 404:
            message += " (check the model name and base_url)"
        elif "enable-auto-tool-choice" in detail:
            message = (
                f"model server answered {status}: it was started without tool calling "
                "(vLLM: add --enable-auto-tool-choice --tool-call-parser <parser>)"
            )
        return ModelError(
            message, status, retryable, detail=f"{status}: {detail}", retry_after=seconds
        )
    if isinstance(exc, openai.APITimeoutError):
        return ModelError("the model server did not answer in time", None, True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return ModelError(
            f"connection to the model server failed: {type(cause).__name__}: {cause}", None, True
        )
    if isinstance(exc, openai.APIError):  # an error event inside a stream the client read
        body = getattr(exc, "body", None)
        return _stream_error(body if isinstance(body, dict) else {"message": str(exc)})
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


def _server_error_type(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("type") or "")
    return ""


def _says_request_invalid(message: str, kind: str = "") -> bool:
    return kind in _INVALID_REQUEST_TYPES or bool(_INVALID_REQUEST.search(message))


def _gave_up(error: ModelError, attempts: int, failing_since: float) -> ModelError:
    seconds = time.monotonic() - failing_since
    plural = "s" if attempts > 1 else ""
    suffix = f" (gave up after {attempts} attempt{plural} in {seconds:.0f}s)"
    reason = one_line(error.message, REASON_CHARS - len(suffix)) + suffix
    return ModelError(reason, error.status, False, detail=error.detail)


def one_line(text: str, limit: int = REASON_CHARS) -> str:
    """The first meaningful line of ``text``, shortened: a reason for a card or `status` (the
    whole text belongs in the log)."""
    lines = [" ".join(line.split()) for line in str(text).splitlines()]
    lines = [line for line in lines if line and not line.startswith("Traceback (most recent")]
    line = lines[0].rstrip(":") if lines else ""  # "7 validation errors:" and its list
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…")


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)
