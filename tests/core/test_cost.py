"""What runs cost (issue 13): [pricing] in kanban.toml, usage from the server (cached tokens
too), cost per run and card in `status`, the card's `run:` line, budgets (max_cost) that end a
run like the other limits, and command agents' own cost lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kanban_agents.config import ConfigError, load_settings
from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import Notice, UsageUpdated
from kanban_agents.core.pricing import (
    Usage,
    card_cost,
    command_agent_cost,
    cost_of,
    earlier_cost,
    record_run_cost,
)
from tests.core.test_run_cli import kanban
from tests.core.test_runs import Harness, calc_project, make_card, write_agent_script

PRICING = '[pricing."gpt-4o-mini"]\ninput = 0.15\noutput = 0.60\ncached_input = 0.075\n'
MODEL = '[agents.builtin]\nmodel = "gpt-4o-mini"\n'
# One turn: 1000 prompt tokens (400 cached), 100 completion tokens:
# 600 * 0.15 + 400 * 0.075 + 100 * 0.60 = 180 dollars per million = $0.00018.
TURN_COST = 0.00018


@pytest.fixture
def project(repo: Path) -> Path:
    return calc_project(repo)


def counted(reply: Reply) -> Reply:
    reply.prompt_tokens, reply.completion_tokens, reply.cached_tokens = 1000, 100, 400
    return reply


def look() -> Reply:
    return counted(Reply(tool_calls=[ToolCallSpec("list_files", {"path": "."})]))


def edit_and_finish() -> list[Reply]:
    edit = Reply(tool_calls=[ToolCallSpec("edit_file", {
        "path": "calc.py", "old": "return a + b\n",
        "new": "return a + b\n\n\ndef sub(a, b):\n    return a - b\n"})])  # fmt: skip
    return [counted(edit), counted(Reply(tool_calls=[ToolCallSpec("finish", {"summary": "s"})]))]


# --- prices -----------------------------------------------------------------------------------


def test_cost_counts_cached_tokens_at_their_price_and_unknown_models_have_none(board_dir):
    (board_dir / "kanban.toml").write_text(PRICING + '[pricing."llama3"]\ninput = 0\noutput = 0\n')
    pricing = load_settings(board_dir).pricing
    assert cost_of(Usage(1000, 100, 400), "gpt-4o-mini", pricing) == pytest.approx(TURN_COST)
    assert cost_of(Usage(1000, 100, 0), "gpt-4o-mini", pricing) == pytest.approx(0.00021)
    assert cost_of(Usage(1000, 100), "llama3", pricing) == 0.0
    assert cost_of(Usage(1000, 100), "gpt-5-unknown", pricing) is None  # never a made-up price


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[pricing."m"]\ninput = 0.1\n', 'pricing."m"'),
        ('[pricing."m"]\ninput = "cheap"\noutput = 1\n', 'pricing."m".input must be'),
        ('[pricing."m"]\ninput = 1\noutput = 1\nextra = 2\n', 'unknown key pricing."m".extra'),
        ("[pricing]\nm = 3\n", "must be a table: input = ..., output = ..."),
        ("[agents.builtin]\nmax_cost = -1\n", "agents.builtin.max_cost"),
    ],
)
def test_bad_pricing_is_one_clear_line(board_dir, toml, message):
    (board_dir / "kanban.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace('"', '"')) as error:
        load_settings(board_dir)
    assert "\n" not in str(error.value)


def test_a_cards_cost_adds_its_runs_and_a_rerun_replaces_its_own_entry():
    extra: dict = {}
    assert card_cost(extra) is None
    record_run_cost(extra, 1, 0.25)
    record_run_cost(extra, 2, None)  # a run with unknown cost adds nothing
    record_run_cost(extra, 3, 0.5)
    record_run_cost(extra, 3, 0.75)
    assert card_cost(extra) == 1.0 and earlier_cost(extra, 3) == 0.25


def test_aiders_cost_line_is_read_and_other_output_is_unknown():
    output = (
        "Tokens: 2.3k sent, 151 received. Cost: $0.0071 message, $0.0071 session.\n"
        "Applied edit to calc.py\n"
        "Tokens: 3.1k sent, 90 received. Cost: $0.0052 message, $0.0123 session.\n"
    )
    assert command_agent_cost(output) == 0.0123
    assert command_agent_cost("codex: done\nSummary: added sub") is None


# --- a run's cost, seen everywhere ---------------------------------------------------------


def test_a_runs_cost_is_in_its_events_status_json_text_and_the_card(project):
    (project / "board" / "kanban.toml").write_text(PRICING + MODEL)
    with ScriptedServer(edit_and_finish()) as server:
        run = kanban(project, server, "run", "sub", "--wait")
        assert run.returncode == 0, run.stdout + run.stderr
        data = json.loads(kanban(project, server, "status", "--json").stdout)
        text = kanban(project, server, "status").stdout
        log = kanban(project, server, "log", "sub", "--json").stdout
    [row] = data["runs"]
    assert row["cost"] == pytest.approx(2 * TURN_COST)
    assert row["card_cost"] == pytest.approx(2 * TURN_COST)
    assert data["total_cost"] == pytest.approx(2 * TURN_COST)
    assert "$0.0004" in text and "total: $0.0004" in text
    usage = [json.loads(line) for line in log.splitlines() if '"kind": "usage"' in line]
    assert [u["cost"] for u in usage] == pytest.approx([TURN_COST, 2 * TURN_COST])
    assert usage[-1]["cached_tokens"] == 800
    card = BoardStore.open(project / "board").get("sub")
    assert card.run["cost"] == pytest.approx(2 * TURN_COST, abs=1e-4)


def test_without_a_price_status_shows_tokens_and_says_the_cost_is_unknown(project):
    with ScriptedServer(edit_and_finish()) as server:
        assert kanban(project, server, "run", "sub", "--wait").returncode == 0
        data = json.loads(kanban(project, server, "status", "--json").stdout)
        text = kanban(project, server, "status").stdout
    assert data["runs"][0]["cost"] is None and data["total_cost"] is None
    assert "2200 tok  cost unknown" in text and "$" not in text


# --- budgets ---------------------------------------------------------------------------------


async def test_a_cards_max_cost_ends_the_run_failed_with_everything_kept(project):
    (project / "board" / "kanban.toml").write_text(PRICING + MODEL)
    make_card(project / "board", "sub", extra="max_cost: 0.0003\n")
    with ScriptedServer([look(), look(), look(), look()]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "failed" and status.reason == "budget of $0.0003 reached"
    assert len(server.requests) == 2  # the third turn would have cost more than allowed
    assert (project.parent / "repo-worktrees" / "sub").is_dir()  # the worktree is kept
    records = h.runs.records
    assert records.load_messages("sub")  # and the conversation, to resume
    assert records.load_state("sub").cost == pytest.approx(2 * TURN_COST)


async def test_a_profile_budget_without_a_price_says_it_cannot_be_checked(project):
    (project / "board" / "kanban.toml").write_text("[agents.builtin]\nmax_cost = 1\n")
    with ScriptedServer(edit_and_finish()) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "review"
    [notice] = [n for n in h.of(Notice, "sub") if "max_cost" in n.text]
    assert "cannot be checked" in notice.text and "[pricing." in notice.text
    assert all(u.cost is None for u in h.of(UsageUpdated, "sub"))


def test_a_card_max_cost_that_is_not_a_number_fails_the_run_saying_so(project):
    make_card(project / "board", "sub", extra="max_cost: lots\n")
    with ScriptedServer(edit_and_finish()) as server:
        run = kanban(project, server, "run", "sub", "--wait")
    assert run.returncode == 1
    assert "max_cost in the card must be a number of dollars" in run.stdout


# --- command agents ----------------------------------------------------------------------------


def test_a_command_agents_reported_cost_is_recorded(project, tmp_path):
    script = write_agent_script(
        tmp_path / "agent",
        "echo 'Tokens: 2.3k sent, 151 received. Cost: $0.0071 message, $0.0214 session.'\n"
        "printf 'def add(a, b):\\n    return a + b\\n\\n\\ndef sub(a, b):\\n    return a - b\\n'"
        " > calc.py",
    )
    (project / "board" / "kanban.toml").write_text(
        f'[agents]\ndefault = "fake"\n[agents.fake]\ncommand = ["{script}"]\n'
    )
    with ScriptedServer([]) as server:
        assert kanban(project, server, "run", "sub", "--wait").returncode == 0
        data = json.loads(kanban(project, server, "status", "--json").stdout)
    assert data["runs"][0]["cost"] == 0.0214 and data["total_cost"] == 0.0214
