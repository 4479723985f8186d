"""From inside an agent's worktree, ``kanban-agents`` acts on the main checkout's board, not the
worktree's stale copy of ``board/``: through ``KANBAN_AGENTS_BOARD`` (set for every command of a
run) or, without it, through git. A card written there reaches the open board within a second."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kanban_agents.core.session import BoardChanged, BoardSession, watch_board
from tests.core.test_command_agents import SUB, run_card, use_agent
from tests.core.test_command_agents import project as project
from tests.core.test_runs import write_agent_script
from tests.helpers import git

ROOT = Path(__file__).resolve().parents[2]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KANBAN_AGENTS_BOARD"}
    env["PYTHONPATH"] = str(ROOT)
    return env


async def test_a_card_written_in_a_worktree_reaches_the_open_board_within_a_second(project):
    worktree = project.parent / "wt-sub"
    git(project, "worktree", "add", "-q", "-b", "kanban/sub", str(worktree))
    session = BoardSession.open(project / "board", agents=False)
    seen: dict[str, float] = {}
    session.subscribe(
        lambda e: (
            isinstance(e, BoardChanged) and seen.setdefault(e.change.card_id, time.monotonic())
        )
    )
    stop = asyncio.Event()

    async def watch():
        async for _batch in watch_board(session.store, stop_event=stop):
            pass

    watcher = asyncio.ensure_future(watch())
    await asyncio.sleep(0.3)  # the watcher is up
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kanban_agents", "new", "Follow-up found in the worktree",
        cwd=worktree / "board", env=cli_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    written = time.monotonic()
    assert proc.returncode == 0, err.decode()
    card_id = "follow-up-found-in-the-worktree"
    try:
        for _ in range(100):
            if card_id in seen:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(watcher, 5)
    assert card_id in seen, "the open board never heard of the card"
    assert seen[card_id] - written < 1.0
    assert session.store.get(card_id).title == "Follow-up found in the worktree"
    assert str(project / "board") in out.decode()
    assert not (worktree / "board" / f"{card_id}.md").exists()


def test_the_worktree_finds_the_main_board_through_git_and_an_explicit_board_still_wins(project):
    worktree = project.parent / "wt-sub"
    git(project, "worktree", "add", "-q", "-b", "kanban/sub", str(worktree))
    listed = subprocess.run(
        [sys.executable, "-m", "kanban_agents", "list", "--json"],
        cwd=worktree, env=cli_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f'"board":"{project / "board"}"' in listed.stdout.replace(" ", "")
    explicit = subprocess.run(
        [sys.executable, "-m", "kanban_agents", "--board", "board", "list", "--json"],
        cwd=worktree, env=cli_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f'"board":"{worktree / "board"}"' in explicit.stdout.replace(" ", "")


@pytest.mark.slow
async def test_an_agent_run_writes_its_follow_up_card_on_the_real_board(project, tmp_path):
    script = write_agent_script(
        tmp_path / "agent",
        f'echo "board: $KANBAN_AGENTS_BOARD"\n{SUB}\n'
        f'PYTHONPATH={ROOT} {sys.executable} -m kanban_agents new "Follow-up from the agent"\n'
        "echo 'Summary: added sub; wrote a follow-up card'",
    )
    use_agent(project, script, extra='[sandbox]\nmode = "off"\n')
    status, harness = await run_card(project)
    assert status.state == "review", status.reason
    log = "\n".join(getattr(e, "text", "") for e in harness.events)
    assert f"board: {(project / 'board').resolve()}" in log
    assert (project / "board" / "follow-up-from-the-agent.md").exists()
    worktree = project.parent / f"{project.name}-worktrees" / "sub"
    assert not (worktree / "board" / "follow-up-from-the-agent.md").exists()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="no bwrap (Debian: bubblewrap)")
async def test_in_the_sandbox_the_board_stays_read_only_and_the_agent_is_told_why(
    project, tmp_path
):
    script = write_agent_script(
        tmp_path / "agent",
        f"{SUB}\n"
        f"PYTHONPATH={ROOT} {sys.executable} -m kanban_agents list\n"
        f'PYTHONPATH={ROOT} {sys.executable} -m kanban_agents new "Follow-up from the agent"\n'
        "echo 'Summary: added sub'",
    )
    use_agent(project, script, extra='[sandbox]\nmode = "bwrap"\n')
    status, harness = await run_card(project)
    assert status.state == "review", status.reason
    log = "\n".join(getattr(e, "text", "") for e in harness.events)
    assert "Add sub to sub" in log  # it can read the board
    assert f"the board {(project / 'board').resolve()} is read-only here" in log
    assert not (project / "board" / "follow-up-from-the-agent.md").exists()


def test_both_agent_prompts_say_follow_up_work_becomes_a_new_card(tmp_path):
    from kanban_agents.core.agent.prompt import SYSTEM_PROMPT, command_prompt
    from kanban_agents.core.card import parse_card

    path = tmp_path / "c.md"
    path.write_text("---\ntitle: C\nstatus: todo\n---\n\n## Task\n\nDo C.\n")
    card = parse_card(path, path.read_bytes())
    for prompt in (SYSTEM_PROMPT, command_prompt(card, tmp_path, "kanban/c")):
        assert 'kanban-agents new "<title>"' in prompt and "create_card" in prompt
