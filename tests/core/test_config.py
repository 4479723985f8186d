from __future__ import annotations

import pytest

from kanban_agents.config import ConfigError, load_settings


def test_defaults_without_kanban_toml(board_dir):
    s = load_settings(board_dir, {})
    assert s.column_ids == ["todo", "in-progress", "review", "done"]
    assert s.board.agent_column == "in-progress" and s.board.review_column == "review"
    assert s.runs.concurrency == 3 and s.worktrees.branch_prefix == "kanban/"
    assert s.default_agent == "builtin" and s.agent_profile().kind == "openai"
    assert {"codex", "claude", "aider"} <= set(s.agents)


def test_file_then_env_override(board_dir):
    (board_dir / "kanban.toml").write_text(
        '[board]\ncolumns = [{id="backlog"}, {id="todo", title="Next", wip=2}, "in-progress", "review", "done"]\n'
        "[runs]\nconcurrency = 5\n"
        '[agents.local]\nmodel = "qwen"\nbase_url = "http://localhost:11434/v1"\n'
        '[agents.script]\ncommand = ["./agent.sh", "{prompt_file}"]\n'
        '[agents]\ndefault = "local"\n'
    )
    s = load_settings(
        board_dir, {"KANBAN_AGENTS_RUNS_CONCURRENCY": "7", "KANBAN_AGENTS_MODEL": "llama"}
    )
    assert s.column_ids[:2] == ["backlog", "todo"] and s.column("todo").wip == 2
    assert s.column("backlog").title == "Backlog"
    assert s.runs.concurrency == 7
    assert s.agent_profile().name == "local" and s.agent_profile().model == "llama"
    assert s.agents["script"].kind == "command" and s.agents["script"].command == (
        "./agent.sh",
        "{prompt_file}",
    )


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[runs]\nconcurrency = 'x'\n", "runs.concurrency must be an integer"),
        ("[runs]\nbogus = 1\n", "unknown key runs.bogus"),
        ("[nope]\n", "unknown section"),
        ('[board]\nagent_column = "doing"\n', "board.agent_column = 'doing' is not a column id"),
        ("[board\n", "kanban.toml"),
        ('[review]\nmerge_strategy = "octopus"\n', "merge_strategy"),
        ('[agents.x]\nkind = "command"\n', "needs command"),
    ],
)
def test_bad_config_is_a_clear_error(board_dir, toml, message):
    (board_dir / "kanban.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_settings(board_dir, {})


def test_bad_env_value(board_dir):
    with pytest.raises(ConfigError, match="not a valid int"):
        load_settings(board_dir, {"KANBAN_AGENTS_RUNS_CONCURRENCY": "many"})
