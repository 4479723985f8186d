"""Command agents that behave (issue 11): the card's files reach the CLI, the prompt matches the
agent kind, the agent's side files stay out of the commit, an agent that changed nothing says so
(and why, when its output shows a model error), and the commit message is the card's title plus
the agent's summary. Stand-in agent scripts here; tests/e2e/test_aider.py runs the real aider."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kanban_agents.config import load_settings
from kanban_agents.core.agent.command import api_problem, card_files, summary_line
from kanban_agents.core.agent.prompt import card_prompt, command_prompt
from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.core.card import parse_card
from kanban_agents.core.events import LogLine
from tests.core.test_runs import Harness, calc_project, write_agent_script
from tests.helpers import git

SUB = "printf 'def add(a, b):\\n    return a + b\\n\\n\\ndef sub(a, b):\\n    return a - b\\n' > calc.py"


@pytest.fixture
def project(repo: Path) -> Path:
    """The repository of tests/core/test_runs.py: calc.py and a card asking for sub()."""
    return calc_project(repo)


def use_agent(project: Path, script: Path, *, extra: str = "", args: str = "") -> None:
    (project / "board" / "kanban.toml").write_text(
        f'[runs]\ntest_attempts = 1\n[agents]\ndefault = "fake"\n'
        f'[agents.fake]\ncommand = ["{script}"{args}]\n{extra}'
    )


async def run_card(project: Path, card_id: str = "sub"):
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card(card_id)
        status = await h.wait(card_id)
        await h.runs.stop()
    return status, h


# --- the agent made no changes --------------------------------------------------------------


async def test_an_agent_that_exits_0_on_a_401_says_it_made_no_changes_and_why(project, tmp_path):
    script = write_agent_script(
        tmp_path / "agent",
        "echo 'Aider v0.86.2'\n"
        "echo 'litellm.AuthenticationError: AuthenticationError: OpenAIException - "
        "Error code: 401 - invalid key'\n"
        "echo 'The API provider is not able to authenticate you. Check your API key.'\n"
        "exit 0",
    )
    use_agent(project, script)
    status, _ = await run_card(project)
    assert status.state == "failed"
    assert "the agent made no changes" in status.reason
    assert "refused the API key (401)" in status.reason
    assert "litellm.AuthenticationError" in status.reason  # the last lines of its output
    assert "tests fail" not in status.reason


async def test_an_agent_that_writes_only_its_side_files_made_no_changes(project, tmp_path):
    script = write_agent_script(
        tmp_path / "agent", "echo '# chat' > .aider.chat.history.md\necho 'nothing to do'"
    )
    use_agent(project, script, extra='side_files = [".aider*"]\n')
    status, _ = await run_card(project)
    assert status.state == "failed" and "the agent made no changes." in status.reason
    assert "Its last output:\nnothing to do" in status.reason


def test_common_api_error_lines_are_recognised():
    assert "(429)" in api_problem("litellm.RateLimitError: you exceeded your current quota")
    assert "connection failed" in api_problem("Error: [Errno 111] Connection refused")
    assert "(404)" in api_problem("litellm.NotFoundError: model_not_found")
    assert "(401)" in api_problem("HTTP 401 Unauthorized")
    assert api_problem("Applied edit to calc.py\nTokens: 401 sent, 12 received.") is None
    price_list = (
        "HTTPSConnectionPool(host='raw.githubusercontent.com', port=443): Max retries exceeded "
        "with url: /BerriAI/litellm/main/model_prices_and_context_window.json (Caused by "
        "NameResolutionError(... [Errno -2] Name or service not known))"
    )
    assert api_problem(price_list + "\nOK, nothing to change.") is None


# --- side files -----------------------------------------------------------------------------


async def test_side_files_stay_out_of_the_commit_and_nothing_else_is_hidden(project, tmp_path):
    script = write_agent_script(
        tmp_path / "agent",
        f"{SUB}\n"
        "echo '# aider chat' > .aider.chat.history.md\n"
        "mkdir -p .aider.tags.cache.v4 && printf '\\000\\001' > .aider.tags.cache.v4/cache.db\n"
        "echo 'notes' > notes.txt",
    )
    use_agent(project, script, extra='side_files = [".aider*"]\n')
    shared_exclude = project / ".git" / "info" / "exclude"
    exclude_before = shared_exclude.read_text() if shared_exclude.exists() else None
    status, _ = await run_card(project)
    assert status.state == "review", status.reason
    committed = git(project, "ls-tree", "-r", "--name-only", "kanban/sub").split()
    assert "calc.py" in committed and "notes.txt" in committed  # undeclared files are kept
    assert not [name for name in committed if name.startswith(".aider")]
    worktree = project.parent / f"{project.name}-worktrees" / "sub"
    assert (worktree / ".aider.chat.history.md").exists()  # kept, just not committed
    assert git(worktree, "status", "--porcelain", "--", ".aider.chat.history.md").strip()
    # The user's own checkout hides nothing new: the shared info/exclude is untouched.
    assert (shared_exclude.read_text() if shared_exclude.exists() else None) == exclude_before
    (project / ".aider.mine").write_text("the user's own file\n")
    assert ".aider.mine" in git(project, "status", "--porcelain")


# --- the card's files, the profile's environment -------------------------------------------


async def test_the_cards_files_and_the_profiles_env_reach_the_command(project, tmp_path):
    (project / "src").mkdir()
    for name in ("a.py", "b.py"):
        (project / "src" / name).write_text("")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "src")
    card = project / "board" / "sub.md"
    card.write_text(card.read_text().replace("files: [calc.py]", "files: [calc.py, 'src/*.py']"))
    script = write_agent_script(
        tmp_path / "agent",
        f'for a in "$@"; do echo "arg:$a"; done\necho "env:$AIDER_CHECK_UPDATE"\n{SUB}',
    )
    use_agent(project, script, args=', "--msg", "{files}"',
              extra='env = { AIDER_CHECK_UPDATE = "false" }\n')  # fmt: skip
    status, h = await run_card(project)
    assert status.state == "review", status.reason
    assert [line for e in h.of(LogLine) if e.stream == "stdout" for line in e.text.split("\n")] == [
        "arg:--msg", "arg:calc.py", "arg:src/a.py", "arg:src/b.py", "env:false",
    ]  # fmt: skip


def test_card_files_expand_globs_and_stay_inside_the_worktree(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("")
    entries = ["pkg/*.py", "new.py", "../x", "/etc/passwd", "-rf", "pkg/*.txt", "new.py"]
    assert card_files(entries, tmp_path) == ["pkg/m.py", "new.py", "./-rf"]


# --- the prompt and the commit message ------------------------------------------------------


def test_the_command_prompt_speaks_of_no_finish_tool(tmp_path):
    card = parse_card(
        tmp_path / "c.md",
        b"---\ntitle: Add sub\nstatus: todo\nfiles: [calc.py]\ntests: pytest -q\n---\n\nAdd it.\n",
    )
    for_cli = command_prompt(card, tmp_path, "kanban/c")
    assert "finish" not in for_cli and "run tool" not in for_cli
    assert "pytest -q" in for_cli and "Summary:" in for_cli and "Do not commit" in for_cli
    assert "finish(summary)" in card_prompt(card, tmp_path, "kanban/c")


async def test_the_commit_message_is_the_title_and_the_agents_summary_line(project, tmp_path):
    script = write_agent_script(
        tmp_path / "agent",
        f"{SUB}\necho 'Summary: calc.py gains sub(a, b).'\necho 'Tokens: 2.1k sent, 80 received.'",
    )
    use_agent(project, script)
    status, _ = await run_card(project)
    assert status.state == "review", status.reason
    message = git(project, "log", "-1", "--format=%B", "kanban/sub")
    assert message.strip() == "Add sub to sub\n\ncalc.py gains sub(a, b).\n\nCard: sub"


async def test_without_a_summary_line_the_commit_message_is_the_title(project, tmp_path):
    script = write_agent_script(
        tmp_path / "agent", f"{SUB}\necho 'litellm.APIError: something odd'"
    )
    use_agent(project, script)
    status, _ = await run_card(project)
    assert status.state == "review", status.reason
    message = git(project, "log", "-1", "--format=%B", "kanban/sub")
    assert message.strip() == "Add sub to sub\n\nCard: sub"


def test_summary_lines_are_recognised():
    assert summary_line("**Summary:** Added sub.\nTokens: 1k") == "Added sub."
    assert summary_line("blah\nsummary: did it") == "did it"
    assert summary_line("no summary here") == ""


# --- the built-in aider profile -------------------------------------------------------------


def test_the_builtin_aider_profile_never_asks_phones_home_or_hides_the_cards_files(tmp_path):
    aider = load_settings(tmp_path, environ={}).agent_profile("aider")
    for flag in ("--no-analytics", "--no-check-update", "--no-show-release-notes",
                 "--no-gitignore", "--no-auto-commits"):  # fmt: skip
        assert flag in aider.command
    assert aider.command[-1] == "{files}"
    assert aider.env["AIDER_CHECK_UPDATE"] == "false"
    assert aider.env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert aider.side_files == (".aider*",)
    assert os.path.basename(aider.command[0]) == "aider"


def test_the_builtin_claude_profile_sends_nothing_but_model_traffic(tmp_path):
    claude = load_settings(tmp_path, environ={}).agent_profile("claude")
    assert claude.env == {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
