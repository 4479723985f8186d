"""Bad tool calls never end a run: a tool that fails in a way nobody expected, or arguments too
deep or too big, come back to the model as tool errors, the traceback goes to the run's log, and
the model goes on. The run's own limits still end it. Real ``openai`` client, scripted server."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from kanban_agents.config import AgentProfile
from kanban_agents.core.agent.loop import Agent, LimitExceeded, Limits
from kanban_agents.core.agent.model import OpenAIModel
from kanban_agents.core.agent.tools import Toolbox, ToolResult
from kanban_agents.core.events import LogLine, ToolFinished, emitter_for
from tests.scripted_server import Reply, ScriptedServer, ToolCallSpec

FINISH = Reply(tool_calls=[ToolCallSpec("finish", {"summary": "done anyway"})])


class ToolboxWithABug(Toolbox):
    """The real toolbox, except that read_file has a bug (as any tool might one day)."""

    async def _read_file(self, path: str, offset: int = 1, limit: int | None = None) -> ToolResult:
        return {}["no such key"]


def make_worktree(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "calc.py").write_text("x = 1\n")
    return root


async def run_agent(
    script: list, tmp_path: Path, toolbox_class=Toolbox, wall_seconds: float = 30
) -> tuple[ScriptedServer, list, str]:
    events: list = []
    with ScriptedServer(script) as server:
        model = OpenAIModel(
            AgentProfile("builtin", model="m"), {"OPENAI_BASE_URL": server.base_url}
        )
        agent = Agent(
            model,
            toolbox_class(make_worktree(tmp_path)),
            Limits(10, 1_000_000, wall_seconds),
            emitter_for("c", 1, events.append),
            on_finish=lambda summary: asyncio.sleep(0),
        )
        try:
            summary = await agent.run([{"role": "user", "content": "do it"}])
        finally:
            await model.aclose()
    return server, events, summary


def tool_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


async def test_a_tool_that_raises_becomes_a_tool_error_and_the_run_goes_on(tmp_path):
    script = [Reply(tool_calls=[ToolCallSpec("read_file", {"path": "calc.py"})]), FINISH]
    server, events, summary = await run_agent(script, tmp_path, ToolboxWithABug)

    assert summary == "done anyway"
    [told] = tool_messages(server.requests[1])
    assert told.startswith("Error: read_file failed unexpectedly (KeyError: 'no such key')")
    assert "try another way" in told
    [finished] = [e for e in events if isinstance(e, ToolFinished) and e.name == "read_file"]
    assert not finished.ok
    logged = "\n".join(e.text for e in events if isinstance(e, LogLine))
    assert "Traceback (most recent call last)" in logged and "_read_file" in logged


async def test_arguments_nested_too_deeply_do_not_end_the_run(tmp_path):
    nested = '{"path": "x", "content": ' + "[" * 100_000 + "]" * 100_000 + "}"
    script = [Reply(tool_calls=[ToolCallSpec("write_file", nested)]), FINISH]
    server, _events, summary = await run_agent(script, tmp_path)

    assert summary == "done anyway"
    [told] = tool_messages(server.requests[1])
    assert "nest arrays or objects too deeply" in told


async def test_a_path_1500_levels_deep_does_not_end_the_run(tmp_path):
    path = "/".join(["d"] * 1500) + "/f.txt"
    script = [
        Reply(tool_calls=[ToolCallSpec("write_file", {"path": path, "content": "x"})]),
        FINISH,
    ]
    server, _events, summary = await run_agent(script, tmp_path)

    assert summary == "done anyway"
    [told] = tool_messages(server.requests[1])
    assert "use a shorter path" in told


async def test_the_wall_clock_limit_still_ends_a_run_inside_a_tool(tmp_path):
    script = [Reply(tool_calls=[ToolCallSpec("run", {"command": "sleep 20"})]), FINISH]
    with pytest.raises(LimitExceeded, match="wall-clock limit"):
        await run_agent(script, tmp_path, wall_seconds=1)
