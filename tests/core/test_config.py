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


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[runs]\nconcurrency = 2.5\n", "kanban.toml: runs.concurrency must be an integer"),
        ("[runs]\nconcurrency = true\n", "kanban.toml: runs.concurrency must be an integer"),
        ("[runs]\nconcurrency = 0\n", "kanban.toml: runs.concurrency must be at least 1"),
        ("[runs]\nhold_on_overlap = 'yes'\n", "kanban.toml: runs.hold_on_overlap must be true or false"),
        ("[runs]\ntest_timeout = '10m'\n", "kanban.toml: runs.test_timeout must be a number"),
        ("[ui]\ntheme = 3\n", "kanban.toml: ui.theme must be a string"),
        ("[worktrees]\nsetup = [1, 2]\n", "kanban.toml: worktrees.setup must be a list of strings"),
        ("runs = 5\n", "kanban.toml: [runs] must be a table"),
        ("agents = 5\n", "kanban.toml: [agents] must be a table"),
        ('[review]\nmerge_strategy = "octopus"\n', "kanban.toml: review.merge_strategy must be one of merge, squash, rebase"),
        ('[agents.x]\nkind = "shell"\n', "kanban.toml: agents.x.kind must be one of openai, command, demo"),
        ('[agents.x]\ntemperature = "hot"\n', "kanban.toml: agents.x.temperature must be a number"),
        ('[board]\ncolumns = [{id = "a", wip = 0}]\n', "kanban.toml: board.columns[0].wip must be at least 1"),
        ('[board]\ncolumns = ["a", {id = "b", wip = "2"}]\n', "kanban.toml: board.columns[1].wip must be an integer"),
        ('[board]\ncolumns = [{id = "a", colour = "red"}]\n', "kanban.toml: unknown key board.columns[0].colour"),
    ],
)  # fmt: skip
def test_type_errors_are_one_line_naming_the_file_and_key(board_dir, toml, message):
    (board_dir / "kanban.toml").write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(board_dir, {})
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"KANBAN_AGENTS_RUNS_CONCURRENCY": "many"}, "KANBAN_AGENTS_RUNS_CONCURRENCY='many' is not a valid integer"),
        ({"KANBAN_AGENTS_RUNS_TEST_TIMEOUT": "10m"}, "KANBAN_AGENTS_RUNS_TEST_TIMEOUT='10m' is not a valid number"),
        ({"KANBAN_AGENTS_REVIEW_DELETE_BRANCH": "maybe"}, "KANBAN_AGENTS_REVIEW_DELETE_BRANCH='maybe' is not a valid boolean (true or false)"),
        ({"KANBAN_AGENTS_RUNS_CONCURRENCY": "0"}, "KANBAN_AGENTS_RUNS_CONCURRENCY must be at least 1"),
        ({"KANBAN_AGENTS_REVIEW_MERGE_STRATEGY": "octopus"}, "KANBAN_AGENTS_REVIEW_MERGE_STRATEGY must be one of merge, squash, rebase"),
    ],
)  # fmt: skip
def test_bad_environment_override_names_the_variable(board_dir, environ, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(board_dir, environ)
    assert str(caught.value) == message


def test_environment_overrides_of_each_type(board_dir):
    (board_dir / "kanban.toml").write_text(
        '[worktrees]\nsetup = "make"\n[agents.x]\ncommand = "./go"\n'
    )
    s = load_settings(
        board_dir,
        {
            "KANBAN_AGENTS_RUNS_HOLD_ON_OVERLAP": "yes",
            "KANBAN_AGENTS_REVIEW_DELETE_BRANCH": "off",
            "KANBAN_AGENTS_RUNS_TEST_TIMEOUT": "90",
            "KANBAN_AGENTS_WORKTREES_COPY_FILES": ".env, config/*.local ,",
            "KANBAN_AGENTS_UI_THEME": "textual-light",
            "KANBAN_AGENTS_BOARD_COLUMNS": "ignored: columns come from the file only",
        },
    )
    assert s.runs.hold_on_overlap is True and s.review.delete_branch is False
    assert s.runs.test_timeout == 90.0 and isinstance(s.runs.test_timeout, float)
    assert s.worktrees.copy_files == (".env", "config/*.local")
    assert s.worktrees.setup == ("make",)  # a string where a list goes is a list of one
    assert s.agents["x"].command == ("./go",) and s.agents["x"].kind == "command"
    assert s.ui.theme == "textual-light" and s.column_ids[0] == "todo"


def test_every_key_is_declared_with_a_doc_and_in_the_readme(board_dir):
    """The README's table is the user's copy of the declarations: same keys, same defaults."""
    import dataclasses
    import re
    import typing
    from pathlib import Path

    from kanban_agents.config import SECTIONS, AgentProfile

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_.<>]+)` \| ([^|]*) \|", readme, re.M))
    declared = [(f"{name}.", cls) for name, cls in SECTIONS.items()]
    declared.append(("agents.<name>.", AgentProfile))
    for prefix, cls in declared:
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in dataclasses.fields(cls):
            if f.name == "name":
                continue
            key = prefix + f.name
            assert "description" in repr(hints[f.name]), f"{key} has no description"
            assert key in rows, f"{key} is not in the README's configuration table"
            default = f.default
            if isinstance(default, bool):
                shown = str(default).lower()
            elif isinstance(default, str):
                shown = f'"{default}"'
            elif isinstance(default, float | int) and not isinstance(default, bool):
                shown = f"{default:g}" if isinstance(default, float) else str(default)
            else:
                continue  # tuples and unset values are described in words
            assert f"`{shown}`" in rows[key], f"README default of {key}: {rows[key]!r}, not {shown}"


def test_the_users_theme_is_a_default_under_the_board(board_dir, tmp_path):
    """Issue 17: the chosen theme persists, in the user's config file (XDG); a board's own
    kanban.toml still decides for that board."""
    from kanban_agents.config import remember_user_setting, user_config_path

    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    path = user_config_path(environ)
    assert path == tmp_path / "xdg" / "kanban-agents" / "config.toml"
    assert load_settings(board_dir, environ).ui.theme == "textual-dark"
    remember_user_setting("ui", "theme", "nord", environ)
    assert path.read_text() == '[ui]\ntheme = "nord"\n'
    assert load_settings(board_dir, environ).ui.theme == "nord"
    # changed again: the one line is rewritten, the rest of the file kept
    path.write_text('# mine\n[ui]\neditor = "nano"\ntheme = "nord"  # was dark\n')
    remember_user_setting("ui", "theme", "gruvbox", environ)
    assert path.read_text() == '# mine\n[ui]\neditor = "nano"\ntheme = "gruvbox"\n'
    settings = load_settings(board_dir, environ)
    assert settings.ui.theme == "gruvbox" and settings.ui.editor == "nano"
    # without XDG_CONFIG_HOME: ~/.config
    assert user_config_path({"HOME": "/h"}).as_posix() == "/h/.config/kanban-agents/config.toml"
    # a board that sets its theme keeps it
    (board_dir / "kanban.toml").write_text('[ui]\ntheme = "textual-light"\n')
    assert load_settings(board_dir, environ).ui.theme == "textual-light"
    # a mistake in the user's file names that file; boards' sections do not belong there
    path.write_text("[ui]\ntheme = 3\n")
    with pytest.raises(ConfigError, match=r"config\.toml: ui\.theme must be a string"):
        load_settings(board_dir, environ)
    path.write_text("[runs]\nconcurrency = 9\n")
    with pytest.raises(ConfigError, match=r"config\.toml: only \[ui\]"):
        load_settings(board_dir, environ)
