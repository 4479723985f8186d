"""The built-in agent's model client against the servers people run: the real ``openai`` client,
the scripted server speaking each real server's dialect (llama-cpp-python, Ollama, vLLM) and the
ways streams go wrong (cut short, garbled, empty, never answered)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kanban_agents.config import AgentProfile
from kanban_agents.core.agent.loop import Agent, LimitExceeded, Limits
from kanban_agents.core.agent.model import (
    REASON_CHARS,
    ModelError,
    ModelTurn,
    OpenAIModel,
    ToolCall,
)
from kanban_agents.core.agent.tools import Toolbox, tool_schemas
from kanban_agents.core.events import LogLine, RunStatus, ToolCalled, UsageUpdated, emitter_for
from kanban_agents.core.log_format import format_event
from tests.scripted_server import (
    NULL_CONTENT_ERROR,
    Dialect,
    DropStream,
    EndStream,
    Garbage,
    HttpError,
    Reply,
    ScriptedServer,
    ToolCallSpec,
)

USER = [{"role": "user", "content": "hello"}]
TOOLS = tool_schemas()
FAST = (0.01, 0.01)  # retry delays for tests


def profile(**overrides) -> AgentProfile:
    return replace(AgentProfile("builtin", model="m"), **overrides)


class Client:
    """An OpenAIModel on a scripted server, with the notices it gave."""

    def __init__(self, server: ScriptedServer, retry_delays=FAST, **profile_overrides):
        self.notices: list[str] = []
        self.model = OpenAIModel(
            profile(**profile_overrides),
            {"OPENAI_BASE_URL": server.base_url},
            on_retry=self.notices.append,
            retry_delays=retry_delays,
        )
        self.text: list[str] = []

    async def complete(self, messages=USER, tools=()) -> ModelTurn:
        return await self.model.complete(list(messages), list(tools), self.text.append)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.model.aclose()


@pytest.fixture
def serve():
    servers: list[ScriptedServer] = []

    def start(script, **kwargs) -> ScriptedServer:
        server = ScriptedServer(script, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def read_call(path: str = "calc.py", call_id: str | None = None) -> Reply:
    return Reply(tool_calls=[ToolCallSpec("read_file", {"path": path}, id=call_id)])


# -- streams that go wrong (issue 9: 10, 11, 12) ---------------------------------------------


async def test_a_stream_closed_without_finish_or_done_is_retried(serve):
    server = serve([EndStream(Reply("The answer is cut sh"), after_chunks=3), Reply("Whole.")])
    async with Client(server) as client:
        turn = await client.complete()

    assert turn.text == "Whole."
    assert len(server.requests) == 2
    assert "closed the stream before the answer was complete" in client.notices[0]


async def test_a_stream_with_finish_reason_but_no_done_is_complete(serve):
    server = serve([EndStream(Reply("Short."), after_chunks=3)])  # role, text, finish
    async with Client(server) as client:
        turn = await client.complete()

    assert (turn.text, turn.finish_reason, len(server.requests)) == ("Short.", "stop", 1)


async def test_malformed_data_is_retried_then_fails_with_an_excerpt(serve):
    garbage = '{"choices": [{"delta": {"content": "hi"' + "x" * 300
    server = serve([Garbage(garbage), Garbage(garbage), Garbage(garbage)])
    async with Client(server) as client:
        with pytest.raises(ModelError) as caught:
            await client.complete()

    message = caught.value.message
    assert message.startswith('the server sent malformed data: \'{"choices"')
    assert "gave up after 3 attempts" in message
    assert len(message) <= REASON_CHARS and "\n" not in message
    assert garbage in caught.value.detail  # the whole of it, for the log
    assert len(server.requests) == 3


async def test_malformed_data_once_then_a_good_answer(serve):
    server = serve([Garbage("not json at all"), Reply("Fine now.")])
    async with Client(server) as client:
        turn = await client.complete()
    assert turn.text == "Fine now."
    assert "malformed data: 'not json at all'" in client.notices[0]


async def test_a_server_that_never_answers_fails_within_the_retry_budget(serve):
    server = serve(lambda request: Reply("too late", delay=30))
    async with Client(
        server, retry_delays=(0.2, 0.2, 0.2, 0.2, 0.2), request_timeout=0.3, retry_budget=1.0
    ) as client:
        started = time.monotonic()
        with pytest.raises(ModelError) as caught:
            await client.complete()
        elapsed = time.monotonic() - started

    assert "did not answer in time" in caught.value.message
    assert "gave up after" in caught.value.message
    # Without the budget: 6 attempts x 0.3 s + 5 waits = about 2.8 s.
    assert elapsed < 1.6, elapsed
    assert 2 <= len(server.requests) <= 3


async def test_a_huge_retry_after_is_capped(serve):
    server = serve([HttpError(429, "slow down", retry_after=3600), Reply("Here.")])
    async with Client(server, retry_after_cap=0.2) as client:
        started = time.monotonic()
        turn = await asyncio.wait_for(client.complete(), 10)

    assert turn.text == "Here."
    assert time.monotonic() - started < 2
    assert "retrying in 0s" in client.notices[0]


def test_the_defaults_fail_a_hanging_server_in_minutes_not_a_quarter_hour():
    defaults = AgentProfile("builtin")
    assert defaults.request_timeout == 60
    assert defaults.retry_after_cap == 60
    assert defaults.retry_budget == 150
    # Attempts time out after 60 s each and retries stop once 150 s have gone by: the third
    # attempt is the last (about 60 + 1 + 60 + 2 + 60 = 183 s), not 6 x 120 s = 12 minutes.


# -- llama-cpp-python ----------------------------------------------------------------------


def test_an_assistant_message_never_carries_null_content():
    empty = ModelTurn().as_message()
    calls_only = ModelTurn(tool_calls=[ToolCall("c1", "run", "{}")]).as_message()
    assert empty == {"role": "assistant", "content": ""}
    assert calls_only["content"] == ""


async def test_llama_server_accepts_the_conversation_after_a_tool_only_turn(serve):
    dialect = Dialect(null_content_status=500)
    server = serve([read_call(), Reply("Read it.")], dialect=dialect)
    async with Client(server) as client:
        first = await client.complete(tools=TOOLS)
        history = [
            *USER,
            first.as_message(),
            {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "x = 1"},
            # a conversation saved by an older version, resumed:
            {"role": "assistant", "content": None},
            {"role": "user", "content": "go on"},
        ]
        second = await client.complete(history, tools=TOOLS)

    assert second.text == "Read it."
    sent = server.requests[1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "assistant"] == ["", ""]


async def test_an_error_that_says_the_request_is_invalid_is_not_retried(serve):
    server = serve([HttpError(500, NULL_CONTENT_ERROR), Reply("never reached")])
    async with Client(server) as client:
        with pytest.raises(ModelError) as caught:
            await client.complete()

    assert len(server.requests) == 1
    assert caught.value.message == "model server answered 500: 7 validation errors"
    assert "Input should be a valid string" in caught.value.detail
    assert client.notices == []


async def test_a_server_error_that_does_not_say_so_is_still_retried(serve):
    server = serve([HttpError(500, "out of memory, try again"), Reply("ok")])
    async with Client(server) as client:
        assert (await client.complete()).text == "ok"


async def test_tool_call_names_repeated_in_every_chunk_are_not_glued(serve):
    arguments = {"path": "src/some/long/path/calc.py"}
    server = serve(
        [Reply(tool_calls=[ToolCallSpec("read_file", arguments, id="call__0_read_file_cmpl")])],
        dialect=Dialect(repeats_call_head=True),
    )
    async with Client(server) as client:
        turn = await client.complete(tools=TOOLS)

    [call] = turn.tool_calls
    assert (call.id, call.name) == ("call__0_read_file_cmpl", "read_file")
    assert json.loads(call.arguments) == arguments


async def test_an_empty_stream_is_a_failed_request(serve):
    server = serve([EndStream(Reply("x"), after_chunks=0)] * 3)
    async with Client(server) as client:
        with pytest.raises(ModelError) as caught:
            await client.complete()

    assert caught.value.message.startswith("the server ended the stream without an answer")
    assert len(server.requests) == 3


async def test_a_server_that_cannot_stream_tool_calls_is_asked_without_streaming(serve):
    server = serve([read_call(), read_call("b.py"), Reply("Done.")], dialect="llama-cpp-python")
    async with Client(server) as client:
        first = await client.complete(tools=TOOLS)
        second = await client.complete(tools=TOOLS)
        third = await client.complete()  # no tools: streaming is fine

    assert [c.name for c in first.tool_calls + second.tool_calls] == ["read_file", "read_file"]
    assert json.loads(second.tool_calls[0].arguments) == {"path": "b.py"}
    assert third.text == "Done."
    assert [r["stream"] for r in server.requests] == [True, False, False, True]
    assert all(r.get("tool_choice") == "auto" for r in server.requests[:3])
    assert len(client.notices) == 1 and "cannot stream tool calls" in client.notices[0]


async def test_the_streamed_try_does_not_use_up_the_retry_budget(serve):
    """Seen with llama-cpp-python: the streamed try takes as long as a whole answer, then the
    request without streaming meets the connection the server closed, and is tried again."""
    slow = read_call()
    slow.delay = 0.8
    answers = iter([slow, DropStream(Reply(), 0), read_call()])
    server = serve(lambda request: next(answers), dialect="llama-cpp-python")
    async with Client(server, retry_budget=0.5) as client:
        turn = await client.complete(tools=TOOLS)

    assert [c.name for c in turn.tool_calls] == ["read_file"]
    assert [r["stream"] for r in server.requests] == [True, False, False]
    assert len(client.notices) == 1  # the closed connection is not worth a warning


async def test_without_usage_the_counts_are_marked_estimated(serve):
    server = serve([Reply("No usage here.")], dialect=Dialect(streams_usage=False))
    async with Client(server) as client:
        turn = await client.complete()
    assert turn.usage_estimated and turn.completion_tokens > 0

    server = serve([Reply("Usage here.", prompt_tokens=10, completion_tokens=3)])
    async with Client(server) as client:
        turn = await client.complete()
    assert not turn.usage_estimated and turn.prompt_tokens == 10


# -- Ollama and vLLM -----------------------------------------------------------------------


async def test_ollama_whole_tool_calls_and_malformed_arguments_in_the_history(serve):
    server = serve(
        [Reply(tool_calls=[ToolCallSpec("run", '{"command": "ls"', id="c1")]), Reply("ok")],
        dialect="ollama",
    )
    async with Client(server) as client:
        first = await client.complete(tools=TOOLS)
        history = [
            *USER,
            first.as_message(),
            {"role": "tool", "tool_call_id": "c1", "content": "Error: arguments are not JSON"},
        ]
        second = await client.complete(history, tools=TOOLS)

    assert (first.tool_calls[0].name, first.tool_calls[0].arguments) == ("run", '{"command": "ls"')
    assert second.text == "ok"
    sent_call = server.requests[1]["messages"][1]["tool_calls"][0]
    assert sent_call["function"]["arguments"] == "{}"


async def test_vllm_without_a_tool_parser_fails_at_once_with_the_fix(serve):
    server = serve([Reply("never")], dialect="vllm-without-tool-parser")
    async with Client(server) as client:
        with pytest.raises(ModelError) as caught:
            await client.complete(tools=TOOLS)

    assert len(server.requests) == 1
    assert "--enable-auto-tool-choice" in caught.value.message
    assert len(caught.value.message) <= REASON_CHARS


async def test_vllm_error_inside_a_stream_is_retried(serve):
    server = serve([HttpError(500, "engine dead"), Reply("back")], dialect="vllm")
    async with Client(server) as client:
        turn = await client.complete()
    assert turn.text == "back"
    assert "engine dead" in client.notices[0]


# -- the agent loop ------------------------------------------------------------------------


def worktree(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "calc.py").write_text("x = 1\n")
    return tmp_path


async def run_agent(server: ScriptedServer, tmp_path: Path, **limits) -> tuple[list, str]:
    events: list = []
    model = OpenAIModel(profile(), {"OPENAI_BASE_URL": server.base_url}, retry_delays=FAST)
    agent = Agent(
        model,
        Toolbox(worktree(tmp_path)),
        Limits(limits.get("steps", 10), 100_000, 30),
        emitter_for("c", 1, events.append),
        on_finish=lambda summary: asyncio.sleep(0),
    )
    try:
        summary = await agent.run([*USER])
    except (LimitExceeded, ModelError) as exc:
        summary = f"ended: {exc}"
    finally:
        await model.aclose()
    return events, summary


async def test_a_model_that_never_calls_a_tool_is_told_apart(serve, tmp_path):
    server = serve(lambda request: Reply("I will just talk."))
    events, reason = await run_agent(server, tmp_path)

    assert reason.startswith("ended: the model answered 4 turns without calling a tool")
    assert "may not support tool calls" in reason
    assert len(reason) <= REASON_CHARS + len("ended: ")
    assert any(
        "--chat_format chatml-function-calling" in e.text for e in events if isinstance(e, LogLine)
    )


async def test_the_servers_whole_answer_goes_to_the_log(serve, tmp_path):
    server = serve([HttpError(400, "line one of the error\nline two\nline three")])
    events, reason = await run_agent(server, tmp_path)

    assert reason == "ended: model server answered 400: line one of the error"
    logged = [e.text for e in events if isinstance(e, LogLine)]
    assert any("line two\nline three" in text for text in logged)


async def test_estimated_usage_reaches_the_status(serve, tmp_path):
    server = serve(
        [Reply(tool_calls=[ToolCallSpec("finish", {"summary": "done"})])],
        dialect=Dialect(streams_usage=False),
    )
    events, summary = await run_agent(server, tmp_path)
    assert summary == "done"
    usage = [e for e in events if isinstance(e, UsageUpdated)]
    assert usage and usage[-1].estimated
    status = RunStatus("c")
    for event in events:
        status.apply(event)
    assert status.tokens_estimated


def test_the_tool_call_line_caps_a_long_name():
    event = ToolCalled("c", 1, call_id="x", name="read_file" * 400, arguments={"path": "a"})
    [line] = format_event(event)
    assert len(line) <= 200
    assert line.startswith("▶ read_fileread_file") and "…" in line
