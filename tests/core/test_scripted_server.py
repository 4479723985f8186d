"""The scripted OpenAI server, driven by the real ``openai`` client over real sockets."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import AsyncOpenAI, OpenAI

from tests.scripted_server import (
    EXHAUSTED_MESSAGE,
    NULL_CONTENT_ERROR,
    VLLM_NO_TOOL_PARSER,
    DropStream,
    EndStream,
    Garbage,
    HttpError,
    Reply,
    ScriptedServer,
    ToolCallSpec,
)

USER = [{"role": "user", "content": "hello"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"the {name} tool",
            "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
        },
    }
    for name in ("read_file", "run")
]


@pytest.fixture
def serve():
    """Start scripted servers that are stopped when the test ends."""
    servers: list[ScriptedServer] = []

    def start(script, **kwargs) -> ScriptedServer:
        server = ScriptedServer(script, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client_for(server: ScriptedServer, max_retries: int = 0) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=max_retries)


async def collect_stream(client: AsyncOpenAI, messages=USER, **kwargs) -> list:
    stream = await client.chat.completions.create(
        model="m", messages=messages, stream=True, **kwargs
    )
    return [chunk async for chunk in stream]


def accumulate_tool_calls(chunks) -> dict[int, dict]:
    """What a client does with tool-call deltas: merge them by index."""
    calls: dict[int, dict] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(
                    delta.index, {"id": None, "name": "", "arguments": "", "parts": 0}
                )
                call["id"] = delta.id or call["id"]
                if delta.function and delta.function.name:
                    call["name"] += delta.function.name
                if delta.function and delta.function.arguments:
                    call["arguments"] += delta.function.arguments
                    call["parts"] += 1
    return calls


# -- streaming ------------------------------------------------------------------------------


async def test_streaming_text_arrives_in_several_deltas(serve):
    server = serve([Reply("The quick brown fox jumps.")])
    async with client_for(server) as client:
        chunks = await collect_stream(client)

    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert "".join(pieces) == "The quick brown fox jumps."
    assert len(pieces) == 5
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.model for c in chunks} == {"scripted-model"}
    assert len({c.id for c in chunks}) == 1


async def test_streamed_tool_calls_reassemble_from_fragments(serve):
    read_args = {"path": "src/app.py", "lines": [1, 40]}
    server = serve(
        [
            Reply(
                "Let me look.",
                tool_calls=[
                    ToolCallSpec("read_file", read_args),
                    ToolCallSpec("run", {"command": "pytest -q"}, id="call_custom"),
                ],
            )
        ]
    )
    async with client_for(server) as client:
        chunks = await collect_stream(client, tools=TOOLS)

    calls = accumulate_tool_calls(chunks)
    assert sorted(calls) == [0, 1]
    assert (calls[0]["id"], calls[0]["name"]) == ("call_1", "read_file")
    assert json.loads(calls[0]["arguments"]) == read_args
    assert (calls[1]["id"], calls[1]["name"]) == ("call_custom", "run")
    assert json.loads(calls[1]["arguments"]) == {"command": "pytest -q"}
    assert calls[0]["parts"] >= 2 and calls[1]["parts"] >= 2
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_stream_helper_builds_the_final_completion(serve):
    server = serve(
        [Reply("Reading it now.", tool_calls=[ToolCallSpec("read_file", {"path": "a.py"})])]
    )
    async with (
        client_for(server) as client,
        client.chat.completions.stream(model="m", messages=USER, tools=TOOLS) as stream,
    ):
        event_types = {event.type async for event in stream}
        final = await stream.get_final_completion()

    assert "content.delta" in event_types
    message = final.choices[0].message
    assert message.content == "Reading it now."
    assert message.tool_calls[0].function.name == "read_file"
    assert json.loads(message.tool_calls[0].function.arguments) == {"path": "a.py"}
    assert final.choices[0].finish_reason == "tool_calls"


async def test_usage_chunk_comes_last_when_asked_for(serve):
    server = serve([Reply("done", prompt_tokens=120, completion_tokens=7), Reply("again")])
    async with client_for(server) as client:
        with_usage = await collect_stream(client, stream_options={"include_usage": True})
        without_usage = await collect_stream(client)

    last = with_usage[-1]
    assert last.choices == []
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (120, 7)
    assert last.usage.total_tokens == 127
    assert all(chunk.usage is None for chunk in with_usage[:-1])
    assert all(chunk.usage is None and chunk.choices for chunk in without_usage)


async def test_default_usage_is_a_rough_count_of_the_request_and_reply(serve):
    server = serve([Reply("word " * 40)])
    async with client_for(server) as client:
        chunks = await collect_stream(
            client,
            messages=[{"role": "user", "content": "x" * 400}],
            stream_options={"include_usage": True},
        )

    usage = chunks[-1].usage
    assert 100 <= usage.prompt_tokens <= 130
    assert 40 <= usage.completion_tokens <= 60


async def test_chunk_delay_spreads_the_stream_out_in_time(serve):
    server = serve([Reply("one two three four", chunk_delay=0.1)])
    async with client_for(server) as client:
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        arrivals = [time.monotonic() async for _chunk in stream]

    assert arrivals[-1] - arrivals[0] >= 0.4  # five gaps after the first chunk, 0.1 s each


# -- non-streaming --------------------------------------------------------------------------


async def test_non_streaming_tool_calls_carry_json_string_arguments(serve):
    server = serve(
        [
            Reply(
                tool_calls=[
                    ToolCallSpec("run", {"command": "ls"}),
                    ToolCallSpec("read_file", '{"path": "a.py"', id="call_bad"),
                ],
                prompt_tokens=11,
                completion_tokens=3,
            )
        ]
    )
    async with client_for(server) as client:
        completion = await client.chat.completions.create(model="m", messages=USER, tools=TOOLS)

    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    first, second = choice.message.tool_calls
    assert (first.id, first.function.name) == ("call_1", "run")
    assert json.loads(first.function.arguments) == {"command": "ls"}
    assert (second.id, second.function.arguments) == ("call_bad", '{"path": "a.py"')
    assert (completion.usage.prompt_tokens, completion.usage.total_tokens) == (11, 14)


async def test_non_streaming_text_reply(serve):
    server = serve([Reply("All done.")])
    async with client_for(server) as client:
        completion = await client.chat.completions.create(model="m", messages=USER)

    assert completion.choices[0].message.content == "All done."
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"


def test_the_sync_client_works_too(serve):
    server = serve([Reply("sync ok")])
    with OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:
        stream = client.chat.completions.create(model="m", messages=USER, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "sync ok"


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
async def test_http_errors_raise_the_matching_openai_error(serve, status, error_class):
    server = serve([HttpError(status, "the scripted failure")])
    async with client_for(server) as client:
        with pytest.raises(error_class) as caught:
            await client.chat.completions.create(model="m", messages=USER, stream=True)

    assert caught.value.status_code == status
    assert caught.value.message.endswith("the scripted failure")
    assert caught.value.body["message"] == "the scripted failure"


async def test_rate_limit_sets_retry_after(serve):
    server = serve([HttpError(429, "slow down", retry_after=2.5)])
    async with client_for(server) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=USER)

    assert caught.value.response.headers["retry-after"] == "2.5"
    assert caught.value.body["type"] == "rate_limit_error"


async def test_client_retries_after_rate_limit_and_gets_the_next_turn(serve):
    server = serve([HttpError(429, "slow down", retry_after=0.05), Reply("second try")])
    async with client_for(server, max_retries=1) as client:
        completion = await client.chat.completions.create(model="m", messages=USER)

    assert completion.choices[0].message.content == "second try"
    assert len(server.requests) == 2
    assert server.headers[1]["x-stainless-retry-count"] == "1"
    assert server.remaining == 0


async def test_exhausted_script_fails_loudly(serve):
    server = serve([Reply("only one")])
    async with client_for(server) as client:
        await client.chat.completions.create(model="m", messages=USER)
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="m", messages=USER)

    assert caught.value.body == {
        "message": EXHAUSTED_MESSAGE,
        "type": "server_error",
        "param": None,
        "code": None,
    }


async def test_dropped_stream_breaks_iteration(serve):
    server = serve([DropStream(Reply("this answer never finishes"), after_chunks=2)])
    async with client_for(server) as client:
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        received = []
        with pytest.raises(openai.APIConnectionError) as caught:
            async for chunk in stream:
                received.append(chunk)

    assert len(received) == 2
    # The client wraps the transport's complaint about the half-sent chunked body.
    assert type(caught.value.__cause__).__name__ == "RemoteProtocolError"
    assert "incomplete chunked read" in str(caught.value.__cause__)


async def test_dropped_stream_also_breaks_a_non_streaming_request(serve):
    server = serve([DropStream(Reply("cut short"), after_chunks=0), Reply("fine")])
    async with client_for(server) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="m", messages=USER)
        completion = await client.chat.completions.create(model="m", messages=USER)

    assert completion.choices[0].message.content == "fine"


# -- responders, recording, the script ----------------------------------------------------


async def test_responder_sees_each_request(serve):
    def echo(request: dict) -> Reply:
        last = request["messages"][-1]["content"]
        return Reply(f"you said: {last} ({len(request['messages'])} messages)")

    server = serve(echo)
    async with client_for(server) as client:
        first = await client.chat.completions.create(model="m", messages=USER)
        chunks = await collect_stream(
            client,
            messages=[
                *USER,
                {"role": "assistant", "content": "hi"},
                {"role": "user", "content": "bye"},
            ],
        )

    assert first.choices[0].message.content == "you said: hello (1 messages)"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == "you said: bye (3 messages)"
    assert server.remaining == 0


async def test_a_failing_responder_answers_500(serve):
    def broken(request: dict) -> Reply:
        raise KeyError("no such step")

    server = serve(broken)
    async with client_for(server) as client:
        with pytest.raises(openai.InternalServerError, match="responder raised KeyError"):
            await client.chat.completions.create(model="m", messages=USER)


async def test_requests_and_headers_are_recorded_in_order(serve):
    server = serve([Reply("a"), Reply("b")])
    async with client_for(server) as client:
        await client.chat.completions.create(model="first", messages=USER, temperature=0.5)
        await collect_stream(client, tools=TOOLS)

    assert [r["model"] for r in server.requests] == ["first", "m"]
    assert server.requests[0]["messages"] == USER
    assert server.requests[0]["temperature"] == 0.5
    assert server.requests[1]["stream"] is True
    assert [t["function"]["name"] for t in server.requests[1]["tools"]] == ["read_file", "run"]
    assert [h["authorization"] for h in server.headers] == ["Bearer x", "Bearer x"]


async def test_add_extends_a_list_script(serve):
    server = serve([Reply("one")])
    server.add(Reply("two"), HttpError(500))
    assert server.remaining == 3
    async with client_for(server) as client:
        first = await client.chat.completions.create(model="m", messages=USER)
        second = await client.chat.completions.create(model="m", messages=USER)
    answers = [first.choices[0].message.content, second.choices[0].message.content]
    assert answers == ["one", "two"]
    assert server.remaining == 1


def test_add_refuses_a_responder_script():
    server = ScriptedServer(lambda request: Reply("x"))
    with pytest.raises(TypeError):
        server.add(Reply("y"))


async def test_models_list_names_the_model(serve):
    server = serve([], model="demo-model")
    async with client_for(server) as client:
        page = await client.models.list()

    assert [(m.id, m.owned_by) for m in page.data] == [("demo-model", "scripted")]
    assert server.requests == []


def test_unknown_paths_answer_404_json(serve):
    server = serve([])
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.base_url}/nowhere", timeout=5)

    assert caught.value.code == 404
    assert caught.value.headers["Content-Type"] == "application/json"
    assert "no route GET /v1/nowhere" in json.loads(caught.value.read())["error"]["message"]
    caught.value.close()


# -- lifecycle and cancellation -------------------------------------------------------------


async def test_a_cancelled_request_leaves_the_server_serving(serve):
    server = serve([Reply("too late", delay=0.5), Reply("on time")])
    async with client_for(server) as client:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.chat.completions.create(model="m", messages=USER), 0.1)
        completion = await client.chat.completions.create(model="m", messages=USER)

    assert completion.choices[0].message.content == "on time"


async def test_stop_is_prompt_during_a_long_delay_and_safe_twice():
    server = ScriptedServer([Reply("never", delay=30)]).start()
    async with client_for(server) as client:
        request = asyncio.create_task(client.chat.completions.create(model="m", messages=USER))
        while not server.requests:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await asyncio.to_thread(server.stop)
        assert time.monotonic() - started < 2
        with pytest.raises(openai.APIConnectionError):
            await request
    server.stop()


def test_stop_without_start_is_a_no_op():
    ScriptedServer([]).stop()


async def test_a_stopped_server_refuses_connections():
    with ScriptedServer([Reply("x")]) as server:
        base_url = server.base_url
    async with AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="m", messages=USER)


def test_any_text_and_arguments_survive_streaming():
    """Whatever the script says comes out of the real client's deltas unchanged."""
    current: dict[str, Reply] = {}
    with (
        ScriptedServer(lambda request: current["reply"]) as server,
        OpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client,
    ):

        @settings(max_examples=40, deadline=None)
        @given(
            text=st.text(),
            arguments=st.dictionaries(st.text(), st.text() | st.integers() | st.none(), max_size=4),
        )
        def check(text: str, arguments: dict) -> None:
            current["reply"] = Reply(text, tool_calls=[ToolCallSpec("run", arguments)])
            chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
            streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert streamed == text
            assert json.loads(accumulate_tool_calls(chunks)[0]["arguments"]) == arguments

        check()


# -- streams that end badly, and dialects of real servers ---------------------------------


async def test_end_stream_ends_cleanly_without_finish_or_done(serve):
    server = serve([EndStream(Reply("cut short here"), after_chunks=2), EndStream(Reply("x"), 0)])
    async with client_for(server) as client:
        chunks = await collect_stream(client)  # no error: the body ended properly
        empty = await collect_stream(client)

    assert [c.choices[0].finish_reason for c in chunks] == [None, None]
    assert empty == []


async def test_garbage_is_an_event_a_client_cannot_parse(serve):
    server = serve([Garbage("{nope", reply=Reply("fine"), after_chunks=1)])
    async with client_for(server) as client:
        with pytest.raises(json.JSONDecodeError):
            await collect_stream(client)


async def test_llama_cpp_python_dialect(serve):
    server = serve(
        [Reply(tool_calls=[ToolCallSpec("read_file", {"path": "a.py"})])] * 2 + [Reply("words")],
        dialect="llama-cpp-python",
    )
    null_history = [*USER, {"role": "assistant", "content": None}, *USER]
    async with client_for(server) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="m", messages=null_history)
        # tool_choice "auto" and a stream: the answer that calls a tool fails inside: empty
        assert await collect_stream(client, tools=TOOLS, tool_choice="auto") == []
        chunks = await collect_stream(
            client,
            tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "read_file"}},
            stream_options={"include_usage": True},
        )
        whole = await client.chat.completions.create(
            model="m", messages=USER, tools=TOOLS, tool_choice="auto"
        )
        untold = await client.chat.completions.create(model="m", messages=USER, tools=TOOLS)

    assert caught.value.message.endswith(NULL_CONTENT_ERROR)
    heads = [d for c in chunks for d in (c.choices[0].delta.tool_calls or []) if c.choices]
    assert len(heads) >= 2 and all(d.function.name == "read_file" and d.id for d in heads)
    assert all(c.usage is None for c in chunks)  # no usage though it was asked for
    assert whole.choices[0].message.tool_calls[0].function.name == "read_file"
    assert untold.choices[0].message.tool_calls is None  # no tool_choice: it never saw the tools
    assert untold.choices[0].message.content == "words"


async def test_ollama_dialect(serve):
    server = serve(
        [Reply(tool_calls=[ToolCallSpec("run", {"command": "ls"}, id="c1")])], dialect="ollama"
    )
    bad_history = [
        *USER,
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "run", "arguments": "{oops"}}
        ]},
        {"role": "tool", "tool_call_id": "c0", "content": "error"},
    ]  # fmt: skip
    async with client_for(server) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="m", messages=bad_history)
        chunks = await collect_stream(client, tools=TOOLS)

    assert caught.value.body["message"] == "invalid tool call arguments"
    assert caught.value.body["type"] == "invalid_request_error"
    [delta] = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    assert (delta.index, delta.id, delta.function.name) == (0, "c1", "run")
    assert json.loads(delta.function.arguments) == {"command": "ls"}


async def test_vllm_dialects(serve):
    refusing = serve([Reply("x")], dialect="vllm-without-tool-parser")
    failing = serve([HttpError(500, "engine dead")], dialect="vllm")
    async with client_for(refusing) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="m", messages=USER, tools=TOOLS)
        plain = await client.chat.completions.create(model="m", messages=USER)
    async with client_for(failing) as client:
        with pytest.raises(openai.APIError) as in_stream:
            await collect_stream(client)

    assert caught.value.body == {
        "message": VLLM_NO_TOOL_PARSER, "type": "BadRequestError", "param": None, "code": 400
    }  # fmt: skip
    assert plain.choices[0].message.content == "x"  # the refusal did not use up the turn
    assert in_stream.value.body["code"] == 500 and in_stream.value.message == "engine dead"
