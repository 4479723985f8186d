"""Long runs stay inside the model's context (issue 13): older tool outputs are shortened
first, then older turns are summarised in one model call; the task, the review notes and the last
turns are never dropped; the log says what was freed. End to end through the scripted server:
every request stays under a small ``context_tokens`` and the run still finishes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from kanban_agents.core.agent.context import ContextKeeper, estimate_tokens, shortened
from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.agent.tools import tool_schemas
from kanban_agents.core.events import LogLine
from tests.core.test_runs import CALC, Harness, edit_sub, make_card
from tests.helpers import git

BIG = "\n".join(f"line {n:05d} " + "x" * 60 for n in range(300))  # ~20 kB


def turn(n: int) -> list[dict]:
    call = {"id": f"c{n}", "type": "function",
            "function": {"name": "run", "arguments": json.dumps({"command": "cat big.txt"})}}  # fmt: skip
    return [
        {"role": "assistant", "content": f"step {n}", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"c{n}", "content": BIG},
    ]


def conversation(turns: int) -> list[dict]:
    messages = [
        {"role": "system", "content": "You are the agent."},
        {"role": "user", "content": "## Task\nAdd sub to calc.py."},
    ]
    for n in range(turns):
        messages += turn(n)
        if n == 3:
            messages.append({"role": "user", "content": "The reviewer sent this card back "
                             "(review round 1). Their notes:\n\nkeep add"})  # fmt: skip
    return messages


def test_a_long_output_keeps_its_first_and_last_lines_and_says_what_was_elided():
    short = shortened(BIG)
    assert short is not None and len(short) < 2_000
    lines = short.splitlines()
    assert lines[0] == BIG.splitlines()[0] and lines[-1] == BIG.splitlines()[-1]
    assert "[... 284 lines" in short and "elided to stay within the context ...]" in short
    assert shortened("ok\n") is None and shortened(short) is None  # never twice


async def test_tool_outputs_are_shortened_first_and_nothing_protected_is_touched():
    messages = conversation(8)  # ~40k tokens
    summaries: list = []

    async def summarise(request):
        summaries.append(request)
        return "did things"

    keeper = ContextKeeper(32_000, tool_schemas(), summarise)
    done = await keeper.fit(messages)
    assert estimate_tokens(messages) <= keeper.budget
    assert [d.how for d in done] == ["shortened 4 older tool output(s)"]
    assert summaries == []  # shortening was enough
    assert messages[:2] == conversation(0)  # system prompt and task
    assert messages[-8:] == conversation(8)[-8:]  # the last four turns, whole
    assert any("keep add" in str(m["content"]) for m in messages)
    assert "freed ~" in done[0].describe(32_000) and "limit 32.0k" in done[0].describe(32_000)


async def test_then_older_turns_are_summarised_in_one_call_and_review_notes_stay():
    messages = conversation(120)  # shortened outputs alone still overflow 32k
    requests: list = []

    async def summarise(request):
        requests.append(request)
        return "Read big.txt many times; nothing changed yet."

    keeper = ContextKeeper(32_000, tool_schemas(), summarise)
    done = await keeper.fit(messages)
    assert len(requests) == 1 and "Summarise the work below" in requests[0][0]["content"]
    assert [d.how.split(" ")[0] for d in done] == ["shortened", "summarised"]
    assert estimate_tokens(messages) <= keeper.budget
    assert messages[:2] == conversation(0)
    assert messages[2]["content"].startswith("[Summary of your earlier work on this card")
    assert "Read big.txt many times" in messages[2]["content"]
    assert "keep add" in messages[3]["content"]  # the review notes, word for word
    assert messages[-8:] == conversation(120)[-8:]
    # every tool result still follows its call
    ids = [c["id"] for m in messages if m["role"] == "assistant" for c in m["tool_calls"]]
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == ids


# --- end to end: a run whose tool outputs would overflow a small context ------------------


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text(CALC)
    (repo / "big.txt").write_text(BIG)
    (repo / "board").mkdir()
    make_card(repo / "board", "sub")
    (repo / "board" / "kanban.toml").write_text(
        "[agents.builtin]\ncontext_tokens = 12000\nmax_steps = 100\nmax_tokens = 5000000\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def request_tokens(body: dict) -> int:
    return estimate_tokens(body["messages"]) + estimate_tokens(body.get("tools") or [])


async def test_a_run_with_huge_outputs_keeps_every_request_under_context_tokens(project):
    steps = 30
    turns = itertools.count()

    def model(body: dict) -> Reply:
        if not body.get("tools"):
            return Reply(text="I read big.txt again and again; calc.py still needs sub.")
        done = next(turns)
        if done < steps:
            return Reply(tool_calls=[ToolCallSpec("run", {"command": "cat big.txt"})])
        if done == steps:
            return edit_sub()
        return Reply(tool_calls=[ToolCallSpec("finish", {"summary": "Added sub."})])

    with ScriptedServer(model) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub", timeout=120)
        await h.runs.stop()
    assert status.state == "review", status.reason
    sizes = [request_tokens(body) for body in server.requests if body.get("tools")]
    assert max(sizes) <= 12_000 and len(sizes) >= steps
    logs = [e.text for e in h.of(LogLine, "sub") if e.text.startswith("context:")]
    assert any("shortened" in text for text in logs) and any("summarised" in text for text in logs)
    summary_requests = [b for b in server.requests if not b.get("tools")]
    assert summary_requests and all(request_tokens(b) <= 12_000 for b in summary_requests)
    task = server.requests[-1]["messages"][1]["content"]
    assert "Add `sub(a, b)` to calc.py." in task  # the card's task is still there at the end


async def test_the_servers_advertised_context_is_the_default(project):
    (project / "board" / "kanban.toml").write_text("")
    with ScriptedServer([edit_sub(), Reply(tool_calls=[ToolCallSpec("finish", {"summary": "s"})])],
                        context_length=4096) as server:  # fmt: skip
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        await h.wait("sub")
        await h.runs.stop()
    logs = [e.text for e in h.of(LogLine, "sub")]
    assert "context: the model server reports 4096 tokens" in logs
