"""``kanban-agents mcp`` driven by the official MCP SDK's own client over stdio: a real server
process, real card files, and a real agent worktree made with git."""

from __future__ import annotations

import json
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.helpers import git

mcp = pytest.importorskip("mcp", reason="the mcp package is a runtime dependency: pip install -e .")

from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

CARD = """---
title: Add a version flag
status: todo
order: 1000
# the owner's comment stays
labels: [cli]
---

## Task

Add --version.

## Done when

It prints the version.
"""


@pytest.fixture
def project(repo: Path) -> Path:
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("")
    (board / "add-version-flag.md").write_text(CARD)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "board")
    return repo


@asynccontextmanager
async def mcp_client(cwd: Path, *args: str):
    env = {k: v for k, v in os.environ.items() if k != "KANBAN_AGENTS_BOARD"}
    env["PYTHONPATH"] = str(ROOT)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "kanban_agents", *args, "mcp"], env=env, cwd=cwd
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session, tool: str, **arguments):
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content or json.loads(result.content[0].text)


async def call_error(session, tool: str, **arguments) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result
    return result.content[0].text


async def test_every_tool_reads_and_writes_the_board(project):
    board = project / "board"
    async with mcp_client(project) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        assert tools == {
            "list_cards", "show_card", "create_card", "update_card", "move_card", "lint_card",
            "comment", "graph",
        }  # fmt: skip

        listed = await call(session, "list_cards")
        assert [c["id"] for c in listed["cards"]] == ["add-version-flag"]
        assert listed["agent_column"] == "in-progress"

        made = await call(
            session,
            "create_card",
            title="Document the version flag",
            body="## Task\n\nSay it in the README.\n\n## Done when\n\nThe README names it.\n",
            files=["README.md"],
            constraints=["no new dependency"],
            tests=["grep -q -- --version README.md"],
            depends_on=["add-version-flag"],
        )
        assert made["id"] == "document-the-version-flag"
        text = (board / "document-the-version-flag.md").read_text()
        assert "depends_on:" in text and "grep -q -- --version README.md" in text
        assert "## Done when" in text

        shown = await call(session, "show_card", card="document-the")
        assert shown["depends_on"] == ["add-version-flag"] and "Say it in" in shown["body"]

        graph = await call(session, "graph")
        assert graph["ready"] == ["add-version-flag"]
        assert graph["blocked"] == {"document-the-version-flag": ["add-version-flag"]}

        # update: one key set, one removed, the rest of the file byte-for-byte
        await call(
            session,
            "update_card",
            card="add-version-flag",
            front_matter={"priority": "P1", "labels": None},
        )
        updated = (board / "add-version-flag.md").read_text()
        assert updated == CARD.replace("labels: [cli]\n", "priority: P1\n")
        refused = await call_error(
            session, "update_card", card="add-version-flag", front_matter={"run": {"state": "x"}}
        )
        assert "cannot set run" in refused

        await call(session, "comment", card="add-version-flag", note="the flag needs a test")
        await call(session, "comment", card="add-version-flag", note="and a changelog line")
        body = (board / "add-version-flag.md").read_text().split("---\n", 2)[2]
        notes = body.split("## Notes for the reviewer\n", 1)[1]
        assert "(mcp): the flag needs a test\n" in notes
        assert notes.strip().endswith("(mcp): and a changelog line")
        assert body.count("## Notes for the reviewer") == 1

        lint = await call(session, "lint_card", card="add-version-flag")
        assert "no-tests" in [f["code"] for f in lint["findings"]]

        moved = await call(session, "move_card", card="add-version-flag", column="review")
        assert moved["status"] == "review"
        assert "status: review" in (board / "add-version-flag.md").read_text()

        missing = await call_error(session, "show_card", card="nope")
        assert "no card 'nope'" in missing

        # A write made behind the server's back is seen (no stale copy).
        (board / "from-an-editor.md").write_text("---\ntitle: From an editor\nstatus: todo\n---\n")
        listed = await call(session, "list_cards", column="todo")
        assert "from-an-editor" in [c["id"] for c in listed["cards"]]


async def test_inside_an_agent_worktree_it_acts_on_the_main_board_and_starts_no_agent(project):
    worktree = project.parent / "wt-card"
    git(project, "worktree", "add", "-q", "-b", "kanban/card", str(worktree))
    async with mcp_client(worktree / "board") as session:
        made = await call(session, "create_card", title="Follow-up found by an agent")
        assert Path(made["path"]).parent == project / "board"
        assert (project / "board" / "follow-up-found-by-an-agent.md").exists()
        assert not (worktree / "board" / "follow-up-found-by-an-agent.md").exists()

        refused = await call_error(
            session, "move_card", card="add-version-flag", column="in-progress"
        )
        assert "inside an agent's worktree" in refused and "allow_start = true" in refused
        refused = await call_error(session, "create_card", title="x", column="in-progress")
        assert "allow_start" in refused
        assert "status: todo" in (project / "board" / "add-version-flag.md").read_text()

        # kanban.toml is read again: no restart of the server needed
        (project / "board" / "kanban.toml").write_text("[mcp]\nallow_start = true\n")
        moved = await call(session, "move_card", card="add-version-flag", column="in-progress")
        assert moved["status"] == "in-progress"

        (project / "board" / "kanban.toml").write_text("[mcp]\nallow_start = 'yes'\n")
        broken = await call_error(session, "list_cards")
        assert "allow_start" in broken and "Traceback" not in broken


async def test_the_main_checkout_may_start_agents(project):
    async with mcp_client(project) as session:
        moved = await call(session, "move_card", card="add-version-flag", column="in-progress")
    assert moved["status"] == "in-progress"
