"""A scripted OpenAI-compatible chat-completions server, for tests and the offline demo.

It speaks the real wire format (JSON completions, server-sent-event streams, OpenAI-style error
bodies) over a real socket, so the real ``openai`` client is exercised end to end and
``kanban-agents demo`` can run agents without an API key. Each request to
``POST /v1/chat/completions`` is answered by the next scripted turn: a :class:`Reply`, an
:class:`HttpError`, a :class:`DropStream` that breaks the connection mid-stream, an
:class:`EndStream` that ends it cleanly but too early, or a :class:`Garbage` event.

A :class:`Dialect` makes it answer like a particular real server (``DIALECTS``: llama-cpp-python,
Ollama, vLLM), so each way a real server differs from OpenAI has a fast test.

Standard library only; it never imports ``openai`` (the server side is plain JSON and SSE).
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

EXHAUSTED_MESSAGE = "scripted server: script exhausted"

# The "type" an OpenAI error body carries for common statuses; anything else >= 500 is a
# server error and anything else below is an invalid request.
_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


@dataclass
class ToolCallSpec:
    """One tool call the scripted model makes."""

    name: str
    arguments: dict | str  # a str is sent verbatim, so tests can send malformed JSON
    id: str | None = None  # "call_<n>" from a server-wide counter when None


@dataclass
class Reply:
    """One assistant turn: text, tool calls, or both."""

    text: str = ""
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    prompt_tokens: int | None = None  # None: a rough count from the request's messages
    completion_tokens: int | None = None  # None: a rough count from the reply
    cached_tokens: int | None = None  # reported as prompt_tokens_details.cached_tokens
    delay: float = 0.0  # seconds to wait before answering (for cancel tests)
    chunk_delay: float = 0.0  # seconds between streamed chunks


@dataclass
class HttpError:
    """Answer with an HTTP error and an OpenAI-style error body instead of a completion."""

    status: int
    message: str = "scripted error"
    retry_after: float | None = None  # sets the Retry-After header


@dataclass
class DropStream:
    """Stream ``reply``, then close the socket abruptly after ``after_chunks`` chunks.

    The answer is a stream even when the request did not ask for one: what matters is that
    the client sees a body that breaks off.
    """

    reply: Reply
    after_chunks: int = 1


@dataclass
class EndStream:
    """Stream ``reply``'s first ``after_chunks`` chunks, then end the body cleanly: no
    ``finish_reason``, no ``data: [DONE]`` (a server that closed the stream early; with 0, the
    empty 200 stream llama-cpp-python sends when it fails inside)."""

    reply: Reply
    after_chunks: int = 1


@dataclass
class Garbage:
    """Stream ``reply``'s first ``after_chunks`` chunks, then one event whose data is ``data``
    (not JSON), then ``[DONE]``."""

    data: str = "{not json"
    reply: Reply = field(default_factory=Reply)
    after_chunks: int = 1


Turn = Reply | HttpError | DropStream | EndStream | Garbage
Responder = Callable[[dict], Turn]

NULL_CONTENT_ERROR = (  # llama-cpp-python 0.3.36's answer, as seen (2 of its 7 lines)
    "7 validation errors:\n"
    "  {'type': 'literal_error', 'loc': ('body', 'messages', 1, "
    "'ChatCompletionRequestSystemMessage', 'role'), 'msg': \"Input should be 'system'\", "
    "'input': 'assistant', 'ctx': {'expected': \"'system'\"}}\n"
    "  {'type': 'string_type', 'loc': ('body', 'messages', 1, "
    "'ChatCompletionRequestAssistantMessage', 'content', 'str'), "
    "'msg': 'Input should be a valid string', 'input': None}"
)
VLLM_NO_TOOL_PARSER = (
    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
)


@dataclass(frozen=True)
class Dialect:
    """How one real server's OpenAI-compatible endpoint differs from OpenAI's, as a client sees
    it. Each field names whose behaviour it is; ``DIALECTS`` puts them together per server."""

    name: str = "openai"
    # llama-cpp-python: every tool-call chunk repeats the index, id, type and the whole name
    # (its arguments still come in fragments).
    repeats_call_head: bool = False
    # Ollama: each tool call arrives whole, arguments and all, in one chunk.
    whole_tool_calls: bool = False
    # llama-cpp-python: 500 with a multi-line validation error for an assistant message whose
    # content is null; Ollama: 400 "invalid message content type: <nil>" when it has no tool calls.
    null_content_status: int | None = None
    null_content_only_without_calls: bool = False
    null_content_message: str = NULL_CONTENT_ERROR
    # Ollama: 400 "invalid tool call arguments" when a tool call in the history has arguments
    # that are not JSON.
    rejects_malformed_history_arguments: bool = False
    # llama-cpp-python: no usage in a stream, even when stream_options asks for it.
    streams_usage: bool = True
    # llama-cpp-python (--chat_format chatml-function-calling): the tools stay out of the prompt
    # unless tool_choice is sent, so the model cannot call them and answers in words.
    tools_need_tool_choice: bool = False
    # llama-cpp-python with tool_choice "auto": a streamed answer that calls a tool fails inside
    # the server and the client gets an empty 200 stream.
    streams_tool_calls: bool = True
    # vLLM started without --enable-auto-tool-choice: 400 whenever tools are sent with
    # tool_choice "auto" (or none, which it takes as "auto").
    refuses_auto_tool_choice: bool = False
    # vLLM: a failure while streaming comes as a `data: {"error": {...}}` event in a 200 stream.
    errors_in_stream: bool = False
    # The error body's "type" and "code": "openai" (type by status, code null), "vllm"
    # (BadRequestError / InternalServerError ..., code = the status) or "ollama"
    # (invalid_request_error / not_found_error / api_error).
    error_style: str = "openai"

    def refusal(self, body: dict) -> HttpError | None:
        """The error this server answers ``body`` with before generating anything, if any."""
        messages = body.get("messages") or []
        for message in messages:
            if not isinstance(message, dict) or message.get("role") != "assistant":
                continue
            calls = message.get("tool_calls") or []
            null_refused = self.null_content_status is not None and not (
                self.null_content_only_without_calls and calls
            )
            if null_refused and message.get("content") is None:
                return HttpError(self.null_content_status, self.null_content_message)
            if self.rejects_malformed_history_arguments:
                for call in calls:
                    if not _is_json((call.get("function") or {}).get("arguments")):
                        return HttpError(400, "invalid tool call arguments")
        auto = body.get("tool_choice", "auto") == "auto"
        if self.refuses_auto_tool_choice and body.get("tools") and auto:
            return HttpError(400, VLLM_NO_TOOL_PARSER)
        return None


DIALECTS = {
    "openai": Dialect(),
    "llama-cpp-python": Dialect(
        name="llama-cpp-python",
        repeats_call_head=True,
        null_content_status=500,
        streams_usage=False,
        tools_need_tool_choice=True,
        streams_tool_calls=False,
    ),
    "ollama": Dialect(
        name="ollama",
        whole_tool_calls=True,
        null_content_status=400,
        null_content_only_without_calls=True,
        null_content_message="invalid message content type: <nil>",
        rejects_malformed_history_arguments=True,
        error_style="ollama",
    ),
    "vllm": Dialect(name="vllm", errors_in_stream=True, error_style="vllm"),
    "vllm-without-tool-parser": Dialect(
        name="vllm-without-tool-parser", refuses_auto_tool_choice=True, error_style="vllm"
    ),
}


def _is_json(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


class ScriptedServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1 whose answers follow a script.

    ``script`` is either a list of turns, used one per chat-completions request (an exhausted
    script answers HTTP 500 so a test fails loudly instead of hanging), or a responder called
    with each parsed request body. Use it as a context manager, or call ``start``/``stop``.
    """

    def __init__(
        self,
        script: list[Turn] | Responder,
        *,
        model: str = "scripted-model",
        streaming: bool = True,
        dialect: Dialect | str = "openai",
        context_length: int | None = None,
    ):
        self.model = model
        self.context_length = context_length  # listed as vLLM's max_model_len when set
        self.dialect = DIALECTS[dialect] if isinstance(dialect, str) else dialect
        self.streaming = streaming  # False: answer every request with one JSON body, as some
        # minimal servers do even when the client asks for a stream
        self.base_url = ""
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._responder: Responder | None = script if callable(script) else None
        self._script: deque[Turn] = deque() if callable(script) else deque(script)
        self._lock = threading.Lock()
        self._next_call_number = 1
        self._next_completion_number = 1
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        if self._httpd is not None:
            return self
        self._stopping = threading.Event()
        self._httpd = _HTTPServer(self)
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-openai-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            httpd, self._httpd = self._httpd, None
            thread, self._thread = self._thread, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a scripted delay
        httpd.shutdown()
        httpd.server_close()
        self._close_open_connections()
        if thread is not None:
            thread.join()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the script ------------------------------------------------------------------------

    def add(self, *turns: Turn) -> None:
        """Append turns to a list script."""
        if self._responder is not None:
            raise TypeError("add() needs a list script; this server uses a responder")
        with self._lock:
            self._script.extend(turns)

    @property
    def remaining(self) -> int:
        """How many scripted turns are still unused (always 0 with a responder)."""
        with self._lock:
            return len(self._script)

    # -- called from handler threads -------------------------------------------------------

    def _take_turn(self, body: dict, headers: dict) -> Turn:
        """Record the request and choose its answer."""
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            refusal = self.dialect.refusal(body)
            if refusal is not None:
                return refusal  # refused before generating: the scripted turn stays unused
            if self._responder is None:
                return self._script.popleft() if self._script else HttpError(500, EXHAUSTED_MESSAGE)
        # Outside the lock: a responder may be slow, and must not hold up other requests.
        try:
            turn = self._responder(body)
        except Exception as error:
            return HttpError(500, f"scripted server: responder raised {error!r}")
        if not isinstance(turn, Reply | HttpError | DropStream | EndStream | Garbage):
            return HttpError(500, f"scripted server: responder returned {turn!r}")
        return turn

    def _put_back(self, turn: Turn) -> None:
        """Return a turn to the front of a list script (its request failed before answering)."""
        if self._responder is None:
            with self._lock:
                self._script.appendleft(turn)

    def _completion_for(self, reply: Reply, request: dict) -> _Completion:
        """Give a reply its completion id and tool-call ids (numbered across the server)."""
        with self._lock:
            completion_id = f"chatcmpl-scripted-{self._next_completion_number}"
            self._next_completion_number += 1
            call_ids = []
            for call in reply.tool_calls:
                if call.id is None:
                    call_ids.append(f"call_{self._next_call_number}")
                    self._next_call_number += 1
                else:
                    call_ids.append(call.id)
        prompt_tokens = reply.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = _rough_tokens(json.dumps(request.get("messages", [])))
        return _Completion(reply, self.model, completion_id, call_ids, prompt_tokens, self.dialect)

    def _pause(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the server is stopping and the answer should stop."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _close_open_connections(self) -> None:
        # Keep-alive connections would otherwise keep their handler threads waiting for the
        # next request after stop(); shutting the sockets ends them at once.
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)


@dataclass
class _Completion:
    """One scripted reply rendered as the wire objects of one chat completion."""

    reply: Reply
    model: str
    id: str
    call_ids: list[str]
    prompt_tokens: int
    dialect: Dialect = field(default_factory=Dialect)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.reply.tool_calls else "stop"

    def usage(self) -> dict:
        completion_tokens = self.reply.completion_tokens
        if completion_tokens is None:
            arguments = "".join(_arguments_json(call) for call in self.reply.tool_calls)
            completion_tokens = _rough_tokens(self.reply.text + arguments)
        usage = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        }
        if self.reply.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.reply.cached_tokens}
        return usage

    def as_completion(self) -> dict:
        """The non-streaming ``chat.completion`` object."""
        message: dict = {"role": "assistant", "content": self.reply.text, "refusal": None}
        if self.reply.tool_calls:
            # Like the real API: no text alongside tool calls is null, not "".
            message["content"] = self.reply.text or None
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": _arguments_json(call)},
                }
                for call, call_id in self._calls()
            ]
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason}
        return {**self._envelope("chat.completion"), "choices": [choice], "usage": self.usage()}

    def as_chunks(self, *, include_usage: bool) -> Iterator[dict]:
        """The ``chat.completion.chunk`` objects of the streamed answer, in order."""
        yield self._chunk({"role": "assistant", "content": ""})
        for words in _word_pieces(self.reply.text):
            yield self._chunk({"content": words})
        for delta in self._tool_call_deltas():
            yield self._chunk({"tool_calls": [delta]})
        yield self._chunk({}, finish_reason=self.finish_reason)
        if include_usage:
            yield {**self._envelope("chat.completion.chunk"), "choices": [], "usage": self.usage()}

    def _tool_call_deltas(self) -> Iterator[dict]:
        # The first delta of a call names it; its arguments follow in fragments under the same
        # index, so a client only gets them right by accumulating deltas.
        for index, (call, call_id) in enumerate(self._calls()):
            head = {"index": index, "id": call_id, "type": "function"}
            if self.dialect.whole_tool_calls:
                yield {**head, "function": {"name": call.name, "arguments": _arguments_json(call)}}
                continue
            if self.dialect.repeats_call_head:
                for fragment in _fragments(_arguments_json(call)):
                    yield {**head, "function": {"name": call.name, "arguments": fragment}}
                continue
            yield {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            for fragment in _fragments(_arguments_json(call)):
                yield {"index": index, "function": {"arguments": fragment}}

    def _calls(self) -> list[tuple[ToolCallSpec, str]]:
        return list(zip(self.reply.tool_calls, self.call_ids, strict=True))

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._envelope("chat.completion.chunk"), "choices": [choice]}

    def _envelope(self, object_type: str) -> dict:
        return {"id": self.id, "object": object_type, "created": self.created, "model": self.model}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a slow responder must not block exit

    def __init__(self, owner: ScriptedServer):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, a reverse-DNS query that can stall
        # for seconds on a machine without a resolver; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request, client_address) -> None:
        # A client that went away mid-request (a cancelled run, a closed stream) is expected;
        # anything else is a bug in a responder and is printed as usual.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so streams use chunked encoding: only then can the client tell a dropped
    # stream (no closing chunk) from one that simply ended.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass  # no per-request lines on stderr

    def do_GET(self) -> None:
        if self._path() == "/v1/models":
            model = self.server.owner.model
            entry = {"id": model, "object": "model", "created": 0, "owned_by": "scripted"}
            if self.server.owner.context_length is not None:
                entry["max_model_len"] = self.server.owner.context_length
            self._send_json(200, {"object": "list", "data": [entry]})
        else:
            self._send_error(HttpError(404, f"scripted server: no route GET {self._path()}"))

    def do_POST(self) -> None:
        raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self._path() != "/v1/chat/completions":
            self._send_error(HttpError(404, f"scripted server: no route POST {self._path()}"))
            return
        try:
            body = json.loads(raw_body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send_error(HttpError(400, "scripted server: request body is not a JSON object"))
            return
        try:
            self._answer(body)
        except ConnectionError:
            self.close_connection = True  # the client went away (a cancelled run); nothing to do

    def _answer(self, body: dict) -> None:
        owner = self.server.owner
        dialect = owner.dialect
        headers = {name.lower(): value for name, value in self.headers.items()}
        turn = owner._take_turn(body, headers)
        streamed = bool(body.get("stream")) and owner.streaming
        if isinstance(turn, HttpError):
            if streamed and dialect.errors_in_stream and turn.status >= 500:
                self._start_stream()
                self._send_event(json.dumps({"error": _error_body(turn, dialect)}))
                self._end_stream()
            else:
                self._send_error(turn)
            return
        reply = turn if isinstance(turn, Reply) else turn.reply
        if dialect.tools_need_tool_choice and reply.tool_calls and not body.get("tool_choice"):
            # The model never saw the tools: it answers in words.
            reply = Reply(
                text=reply.text or "I would use a tool for this, but I have none.",
                prompt_tokens=reply.prompt_tokens,
                delay=reply.delay,
            )
        if owner._pause(reply.delay):
            self._drop_connection()
            return
        if (
            streamed
            and not dialect.streams_tool_calls
            and reply.tool_calls
            and body.get("tool_choice") == "auto"
        ):
            owner._put_back(turn)  # it failed inside: the same answer is still to come
            self._start_stream()
            self._end_stream()
            return
        completion = owner._completion_for(reply, body)
        if isinstance(turn, DropStream):
            self._stream(completion, body, stop_after=turn.after_chunks, ending="drop")
        elif isinstance(turn, EndStream):
            self._stream(completion, body, stop_after=turn.after_chunks, ending="end")
        elif isinstance(turn, Garbage):
            self._stream(completion, body, stop_after=turn.after_chunks, garbage=turn.data)
        elif streamed:
            self._stream(completion, body)
        else:
            self._send_json(200, completion.as_completion())

    def _stream(
        self,
        completion: _Completion,
        body: dict,
        stop_after: int | None = None,
        ending: str = "done",
        garbage: str | None = None,
    ) -> None:
        """Stream the completion's chunks (the first ``stop_after`` only, when given); then
        ``ending``: "done" sends [DONE] and ends the body, "end" ends the body without [DONE],
        "drop" breaks the connection mid-body."""
        asked = bool((body.get("stream_options") or {}).get("include_usage"))
        include_usage = asked and self.server.owner.dialect.streams_usage
        self._start_stream()
        chunks = list(completion.as_chunks(include_usage=include_usage))
        if stop_after is not None:
            chunks = chunks[:stop_after]
        if not self._send_chunks(chunks, completion.reply.chunk_delay):
            self._drop_connection()
            return
        if garbage is not None:
            self._send_event(garbage)
        if ending == "drop":
            self._drop_connection()
            return
        if ending == "done":
            self._send_event("[DONE]")
        self._end_stream()

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")  # the closing chunk of the chunked body

    def _send_chunks(self, chunks: list[dict], delay: float) -> bool:
        """Send each chunk as an event; False if the server began stopping part way."""
        for sent, chunk in enumerate(chunks):
            if sent > 0 and self.server.owner._pause(delay):
                return False
            self._send_event(json.dumps(chunk))
        return True

    def _send_event(self, data: str) -> None:
        event = f"data: {data}\n\n".encode()
        self.wfile.write(b"%X\r\n%s\r\n" % (len(event), event))

    def _send_error(self, error: HttpError) -> None:
        extra = {} if error.retry_after is None else {"Retry-After": f"{error.retry_after:g}"}
        body = {"error": _error_body(error, self.server.owner.dialect)}
        self._send_json(error.status, body, extra)

    def _send_json(self, status: int, payload: dict, extra_headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop_connection(self) -> None:
        self.close_connection = True
        _shut(self.connection)

    def _path(self) -> str:
        return urlsplit(self.path).path.rstrip("/")


def _error_body(error: HttpError, dialect: Dialect) -> dict:
    """The ``error`` object of an error answer, in the dialect's words."""
    if dialect.error_style == "vllm":
        kinds = {400: "BadRequestError", 404: "NotFoundError"}
        kind = kinds.get(error.status) or (
            "InternalServerError" if error.status >= 500 else "BadRequestError"
        )
        return {"message": error.message, "type": kind, "param": None, "code": error.status}
    if dialect.error_style == "ollama":
        kinds = {400: "invalid_request_error", 404: "not_found_error"}
        kind = kinds.get(error.status, "api_error")
        return {"message": error.message, "type": kind, "param": None, "code": None}
    kind = _ERROR_TYPES.get(error.status) or (
        "server_error" if error.status >= 500 else "invalid_request_error"
    )
    return {"message": error.message, "type": kind, "param": None, "code": None}


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


def _arguments_json(call: ToolCallSpec) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)


def _word_pieces(text: str) -> list[str]:
    """Split text after each run of whitespace, so the pieces join back to exactly ``text``."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]


def _fragments(text: str, parts: int = 3) -> list[str]:
    """Cut text into up to ``parts`` pieces (two or more whenever it has two characters)."""
    size = max(1, -(-len(text) // parts))
    return [text[start : start + size] for start in range(0, len(text), size)]


def _rough_tokens(text: str) -> int:
    return -(-len(text) // 4)  # about four characters a token, rounded up
