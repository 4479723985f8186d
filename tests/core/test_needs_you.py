"""Hear when an agent needs you (issue 13): a command agent silent at a question, or a built-in
agent whose model requests keep failing, is reported blocked; [hooks] run on review, failed,
blocked and merged with the card in their environment, in the background, and a failing or slow
hook is reported without holding anything up."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kanban_agents.core.agent.scripted_server import HttpError, ScriptedServer
from kanban_agents.core.blocked import IdleWatch, RetryStreak, prompt_like
from kanban_agents.core.events import AgentBlocked, RunStatus
from tests.core.test_run_cli import kanban
from tests.core.test_runs import (
    Harness,
    calc_project,
    edit_sub,
    finish,
    make_card,
    write_agent_script,
)

SUB = (
    "printf 'def add(a, b):\\n    return a + b\\n\\n\\ndef sub(a, b):\\n    return a - b\\n'"
    " > calc.py"
)


@pytest.fixture
def project(repo: Path) -> Path:
    return calc_project(repo)


# --- what looks blocked ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    ["Overwrite calc.py? (y/n) ", "Apply these changes [Y/n]", "Continue?", "Password:", "> ",
     "Add calc.py to the chat? (Y)es/(N)o [Yes]: "],
)  # fmt: skip
def test_questions_look_like_prompts(line):
    assert prompt_like(line)


@pytest.mark.parametrize("line", ["Applied edit to calc.py", "running tests...", "", "done."])
def test_ordinary_output_does_not(line):
    assert not prompt_like(line)


def test_idle_watch_reports_once_per_stall_and_only_at_a_question():
    now = [0.0]
    reported: list[str] = []
    watch = IdleWatch(10, reported.append, clock=lambda: now[0])
    watch.lines(["thinking"])
    now[0] = 30
    watch.check()
    assert reported == []  # silent, but not at a question
    watch.partial("Overwrite calc.py? (y/n) ")  # no newline yet: it waits for an answer
    now[0] = 35
    watch.check()
    assert reported == []  # not idle long enough
    now[0] = 41
    watch.check()
    watch.check()
    assert len(reported) == 1 and "(y/n)" in reported[0] and "no output for 11s" in reported[0]
    watch.lines(["Overwrite calc.py? (y/n) y", "ok"])
    now[0] = 60
    watch.check()
    assert len(reported) == 1  # it moved on: a new stall must be at a question again


def test_retry_streak_reports_at_the_threshold_and_starts_over_after_a_good_turn():
    reported: list[str] = []
    streak = RetryStreak(reported.append, threshold=3)
    for _ in range(2):
        streak.failed("HTTP 500")
    streak.succeeded()
    for _ in range(4):
        streak.failed("HTTP 503")
    assert reported == ["the model server failed 3 times in a row: HTTP 503"]


def test_a_blocked_status_clears_when_the_agent_moves_on():
    status = RunStatus("sub", run=1)
    status.apply(AgentBlocked("sub", 1, reason="waits"))
    assert status.blocked == "waits"
    from kanban_agents.core.events import LogLine

    status.apply(LogLine("sub", 1, text="answered", stream="stdout"))
    assert status.blocked == ""


# --- a command agent waiting at a question, hooks with the card in their environment --------


def hooks_toml(out: Path, **extra: str) -> str:
    lines = [f'{name} = "env | grep ^KANBAN_ | sort > {out}/{name}.env"' for name in
             ("on_review", "on_failed", "on_blocked", "on_merged")]  # fmt: skip
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "[hooks]\n" + "\n".join(lines) + "\n"


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_a_command_agent_silent_at_a_question_is_blocked_and_the_hooks_run(project, tmp_path):
    out = tmp_path / "hooks"
    out.mkdir()
    script = write_agent_script(
        tmp_path / "agent", f"printf 'Overwrite calc.py? (y/n) '\nsleep 2\necho\n{SUB}"
    )
    (project / "board" / "kanban.toml").write_text(
        f'[runs]\nidle_seconds = 0.5\n[agents]\ndefault = "fake"\n[agents.fake]\n'
        f'command = ["{script}"]\n' + hooks_toml(out)
    )
    with ScriptedServer([]) as server:
        run = kanban(project, server, "run", "sub", "--wait")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "! blocked: no output for" in run.stdout and "(y/n)" in run.stdout
        blocked = read_env(out / "on_blocked.env")
        review = read_env(out / "on_review.env")
        merged = kanban(project, server, "merge", "sub")
    worktree = str(project.parent / "repo-worktrees" / "sub")
    assert blocked["KANBAN_CARD"] == "sub" and blocked["KANBAN_STATE"] == "blocked"
    assert blocked["KANBAN_TITLE"] == "Add sub to sub" and blocked["KANBAN_WORKTREE"] == worktree
    assert review["KANBAN_STATE"] == "review" and review["KANBAN_REASON"] == "tests passed"
    assert not (out / "on_failed.env").exists()
    assert merged.returncode == 0, merged.stderr
    assert read_env(out / "on_merged.env")["KANBAN_STATE"] == "merged"


def test_a_failing_or_slow_hook_is_reported_in_the_log_and_holds_nothing_up(project, tmp_path):
    (project / "board" / "kanban.toml").write_text(
        "[hooks]\ntimeout = 0.5\n"
        "on_review = \"echo 'ntfy: no route to host' >&2; exit 3\"\n"
        'on_failed = "sleep 30"\n'
    )
    make_card(project / "board", "bad", tests="false")
    with ScriptedServer([edit_sub(), finish()]) as server:
        assert kanban(project, server, "run", "sub", "--wait").returncode == 0
        log = kanban(project, server, "log", "sub").stdout
    assert "! hook on_review" in log and "failed, exit 3: ntfy: no route to host" in log
    with ScriptedServer([edit_sub(), finish(), finish(), finish()]) as server:
        started = time.monotonic()
        failed = kanban(project, server, "run", "bad", "--wait")
        took = time.monotonic() - started
        log = kanban(project, server, "log", "bad", "--json").stdout
    assert failed.returncode == 1 and took < 20  # the 30 s hook was stopped at 0.5 s
    notices = [json.loads(line)["text"] for line in log.splitlines() if '"notice"' in line]
    assert any("ran longer than hooks.timeout = 0.5s and was stopped" in n for n in notices)


# --- a built-in agent whose model requests keep failing ---------------------------------------


async def test_a_built_in_agent_whose_requests_keep_failing_is_blocked_once(project):
    script = [HttpError(500), HttpError(500), HttpError(503), edit_sub(), finish()]
    with ScriptedServer(script) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "review" and status.blocked == ""
    [blocked] = h.of(AgentBlocked, "sub")
    assert blocked.reason.startswith("the model server failed 3 times in a row")
