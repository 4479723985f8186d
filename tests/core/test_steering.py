"""Steering a running agent (issue 13): ``kanban-agents say`` and the card's inbox reach the
built-in agent before its next model turn, whether the run is hosted by a `run --wait` process or
in-process (the board app's way); queued cards and command agents keep the message for later."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer
from kanban_agents.core.inbox import Inbox, message_tag
from kanban_agents.core.paths import state_dir
from kanban_agents.core.records import RunRecords
from tests.core.test_run_cli import cli_env
from tests.core.test_runs import (
    Harness,
    calc_project,
    edit_sub,
    finish,
    write_agent_script,
)


@pytest.fixture
def project(repo: Path) -> Path:
    return calc_project(repo)


def kanban(project: Path, server: ScriptedServer, *args: str, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "kanban_agents", "--board", str(project / "board"), *args],
        capture_output=True, text=True, env=cli_env(server), timeout=60, input=stdin,
    )  # fmt: skip


def reviewer_messages(request: dict) -> list[str]:
    return [
        m["content"]
        for m in request["messages"]
        if m.get("role") == "user" and "Message from the reviewer" in str(m.get("content"))
    ]


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def slow(reply: Reply, seconds: float = 1.0) -> Reply:
    reply.delay = seconds
    return reply


# --- the inbox itself ----------------------------------------------------------------------


def test_inbox_keeps_every_message_in_order_across_writers_and_gives_each_once(tmp_path):
    inbox = Inbox(tmp_path / "sub")
    threads = [
        threading.Thread(target=lambda n=n: [inbox.send(f"w{n}-{i}") for i in range(25)])
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pending = inbox.pending()
    assert len(pending) == 100 and len({m.id for m in pending}) == 100
    for n in range(4):  # each writer's messages in the order it sent them
        mine = [m.text for m in pending if m.text.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(25)]
    inbox.mark_delivered([m.id for m in pending[:60]], run=1)
    assert [m.text for m in inbox.pending()] == [m.text for m in pending[60:]]


def test_a_message_saved_in_the_conversation_but_not_marked_is_not_given_twice(tmp_path):
    inbox = Inbox(tmp_path / "sub")
    first, second = inbox.send("use subtraction"), inbox.send("and a docstring")
    conversation = [{"role": "system", "content": "x"}, first.as_user_message()]
    inbox.settle(conversation, run=2)  # the host died after saving, before marking
    assert [m.text for m in inbox.pending()] == ["and a docstring"]
    assert message_tag(second.id) in second.as_user_message()["content"]


# --- a run hosted by `run --wait` ----------------------------------------------------------


def test_say_reaches_a_run_wait_process_before_the_next_model_turn(project):
    script = [slow(edit_sub(), 4.0), Reply(text="ok, noted"), finish("Added sub.")]
    with ScriptedServer(script) as server:
        run = subprocess.Popen(
            [sys.executable, "-m", "kanban_agents", "--board", str(project / "board"),
             "run", "sub", "--wait"],
            env=cli_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: len(server.requests) >= 1)
            said = kanban(project, server, "say", "sub", "-m", "name it sub, not minus")
            again = kanban(project, server, "say", "sub", "-m", "-", stdin="then finish")
            out, err = run.communicate(timeout=60)
        finally:
            run.kill()
    assert said.returncode == 0, said.stderr
    assert said.stdout.strip() == (
        "sub: message sent; the agent reads it before its next model turn."
    )
    assert again.returncode == 0, again.stderr
    assert run.returncode == 0, out + err
    assert reviewer_messages(server.requests[0]) == []
    second = reviewer_messages(server.requests[1])
    assert [m.splitlines()[1] for m in second] == ["name it sub, not minus", "then finish"]
    assert reviewer_messages(server.requests[2]) == second  # kept in history, never given twice
    assert "✉ you to the agent: name it sub, not minus" in out
    assert "✉ you to the agent: then finish" in out
    log = kanban(project, server, "log", "sub").stdout
    assert "✉ you to the agent: then finish" in log


# --- a run hosted in-process (the board app's way) ----------------------------------------


async def test_say_from_another_process_reaches_an_in_process_run(project):
    with ScriptedServer([slow(edit_sub(), 4.0), finish()]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        await asyncio.to_thread(wait_for, lambda: len(server.requests) >= 1)
        said = await asyncio.to_thread(kanban, project, server, "say", "sub", "-m", "hello")
        status = await h.wait("sub")
        await h.runs.stop()
    assert said.returncode == 0 and "before its next model turn" in said.stdout
    assert status.state == "review"
    assert [m.splitlines()[1] for m in reviewer_messages(server.requests[1])] == ["hello"]


# --- queued cards and command agents keep the message ---------------------------------------


def test_a_message_to_a_card_not_started_is_delivered_when_it_starts(project):
    with ScriptedServer([edit_sub(), finish()]) as server:
        said = kanban(project, server, "say", "sub", "-m", "remember the docstring")
        assert said.returncode == 0, said.stderr
        assert "not running; it gets the message when the card is sent back or run again" in (
            said.stdout
        )
        run = kanban(project, server, "run", "sub", "--wait")
    assert run.returncode == 0, run.stdout + run.stderr
    [first] = reviewer_messages(server.requests[0])
    assert first.endswith("remember the docstring")
    assert len(reviewer_messages(server.requests[1])) == 1


def test_a_command_agent_gets_the_message_in_its_next_prompt_and_the_sender_is_told(
    project, tmp_path
):
    prompt_copy = tmp_path / "prompt-seen.md"
    script = write_agent_script(
        tmp_path / "agent",
        f'cp "$1" {prompt_copy}\n'
        "printf 'def add(a, b):\\n    return a + b\\n\\n\\ndef sub(a, b):\\n    return a - b\\n'"
        " > calc.py",
    )
    (project / "board" / "kanban.toml").write_text(
        f'[agents]\ndefault = "fake"\n[agents.fake]\ncommand = ["{script}", "{{prompt_file}}"]\n'
        "sandbox = false\n"  # the stand-in copies its prompt out of the worktree
    )
    with ScriptedServer([]) as server:
        said = kanban(project, server, "say", "sub", "-m", "keep add as it is")
        run = kanban(project, server, "run", "sub", "--wait")
    assert "is a command agent and cannot take input while it runs" in said.stdout
    assert run.returncode == 0, run.stdout + run.stderr
    prompt = prompt_copy.read_text()
    assert "## Messages from the reviewer" in prompt and "- keep add as it is" in prompt
    assert "✉ you to the agent: keep add as it is" in run.stdout
    records = RunRecords(state_dir(project / "board") / "runs")
    assert records.inbox("sub").pending() == []


def test_say_with_an_empty_message_or_unknown_card_is_one_line(project):
    with ScriptedServer([]) as server:
        empty = kanban(project, server, "say", "sub", "-m", "  ")
        unknown = kanban(project, server, "say", "nope", "-m", "hi")
    assert empty.returncode == 1 and len(empty.stderr.strip().splitlines()) == 1
    assert "the message is empty" in empty.stderr
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    inbox_file = state_dir(project / "board") / "runs" / "sub" / "inbox.jsonl"
    assert not inbox_file.exists()  # nothing was queued
