"""The review gate cannot be bypassed from inside an unconfined run: what an agent's `run`
commands did to get around it (driven through the scripted model server), each detected and
refused. Real git repos, the real openai client, real processes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from kanban_agents.core import git as core_git
from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.agent.tools import Toolbox
from kanban_agents.core.board import BoardStore
from kanban_agents.core.records import run_records
from kanban_agents.core.review import Reviewer, ReviewError
from tests.core.test_runs import CALC, Harness, edit_sub, finish, make_card, write_agent_script
from tests.helpers import git


@pytest.fixture
def project(repo: Path) -> Path:
    """test_runs.py's project: calc.py and a card asking for sub()."""
    (repo / "calc.py").write_text(CALC)
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("[runs]\ntest_attempts = 2\n")
    make_card(board, "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def run(command: str) -> Reply:
    return Reply(tool_calls=[ToolCallSpec("run", {"command": command})])


@pytest.fixture(autouse=True)
def unconfined(monkeypatch):
    """What these checks guard against: agent commands that run with the user's rights."""
    monkeypatch.setenv("KANBAN_AGENTS_SANDBOX_MODE", "off")


async def run_card(project: Path, *turns: Reply, **environ) -> tuple[Harness, object]:
    with ScriptedServer(list(turns)) as server:
        h = Harness(project, server, **environ)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    return h, status


def marker_hook(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho \"$0\" >> '{marker}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


# --- refs moved by the agent ------------------------------------------------------------


async def test_agent_moving_main_fails_the_run_and_says_how_to_restore(project):
    old_main = git(project, "rev-parse", "main").strip()
    h, status = await run_card(
        project,
        edit_sub(),
        run("git commit -qam sub && git update-ref refs/heads/main HEAD"),
        finish(),
    )
    assert status.state == "failed"
    assert "moved refs/heads/main" in status.reason
    assert f"git update-ref refs/heads/main {old_main}" in status.reason
    # failed at the `run` call: the model was never asked again, and the card is not in review
    assert h.server.remaining == 1
    assert BoardStore.open(project / "board").get("sub").status != "review"


async def test_agent_making_a_tag_fails_the_run(project):
    _, status = await run_card(project, edit_sub(), run("git tag sneaky"), finish())
    assert status.state == "failed" and "refs/tags/sneaky" in status.reason


async def test_the_user_committing_and_branching_meanwhile_does_not_fail_the_run(project):
    """The user keeps working in the main checkout while an agent runs: a commit on main, a new
    branch and a switch carry none of the run's work and pass (they failed the run before)."""
    user = (
        f"git -C {project} commit --allow-empty -qm 'user work' && "
        f"git -C {project} branch feature && git -C {project} switch -q feature && "
        f"git -C {project} switch -q main"
    )
    _, status = await run_card(project, edit_sub(), run(user), finish())
    assert status.state == "review", status.reason
    assert git(project, "log", "-1", "--format=%s", "main").strip() == "user work"


async def test_agent_pointing_another_branch_at_its_commit_fails_the_run(project):
    _, status = await run_card(
        project, edit_sub(), run("git commit -qam sub && git branch elsewhere HEAD"), finish()
    )
    assert status.state == "failed" and "refs/heads/elsewhere" in status.reason


async def test_own_branch_commits_are_fine(project):
    _, status = await run_card(project, edit_sub(), run("git commit -qam sub"), finish())
    assert status.state == "review", status.reason


# --- the worktree's .git file pointed at the main git dir ---------------------------------


async def test_worktree_pointed_at_main_git_dir_is_refused_before_committing(project):
    old_main = git(project, "rev-parse", "main").strip()
    git(project, "commit", "--allow-empty", "-qm", "x")  # (the user keeps working)
    git(project, "reset", "-q", "--hard", old_main)
    (project / "staged.txt").write_text("the user's staged change\n")
    git(project, "add", "staged.txt")
    _, status = await run_card(
        project, edit_sub(), run(f"printf 'gitdir: {project}/.git\\n' > .git"), finish()
    )
    assert status.state == "failed"
    assert "is not the card's worktree" in status.reason or "git dir" in status.reason
    assert git(project, "rev-parse", "main").strip() == old_main  # nothing landed on main
    assert "staged.txt" in git(project, "diff", "--cached", "--name-only")


def test_commit_all_checks_the_worktree_git_dir_and_branch(repo):
    worktree = repo.parent / "wt"
    core_git.ensure_worktree(repo, worktree, "kanban/c", "main")
    (worktree / "a.txt").write_text("a\n")
    core_git.commit_all(worktree, "fine", branch="kanban/c")
    (worktree / ".git").write_text(f"gitdir: {repo}/.git\n")
    (worktree / "b.txt").write_text("b\n")
    before = git(repo, "rev-parse", "main")
    with pytest.raises(core_git.GitError, match="not the card's worktree"):
        core_git.commit_all(worktree, "bypass", branch="kanban/c")
    assert git(repo, "rev-parse", "main") == before


# --- hooks and fsmonitor ------------------------------------------------------------------


def test_our_git_commands_run_no_hooks_and_no_fsmonitor(repo, tmp_path):
    marker = tmp_path / "ran"
    for name in ("pre-commit", "post-commit", "reference-transaction", "post-merge"):
        marker_hook(repo / ".git" / "hooks" / name, marker)
    monitor = tmp_path / "monitor"
    marker_hook(monitor, marker)
    git(repo, "config", "core.fsmonitor", str(monitor))
    worktree = repo.parent / "wt"
    core_git.ensure_worktree(repo, worktree, "kanban/c", "main")
    (worktree / "a.txt").write_text("a\n")
    core_git.dirty_paths(worktree)
    core_git.commit_all(worktree, "work", branch="kanban/c")
    core_git.merge_card_branch(repo, "main", "kanban/c", message="merge", worktree=worktree)
    core_git.dirty_paths(repo)
    assert not marker.exists(), marker.read_text()


def test_run_hooks_runs_the_users_hooks_at_merge(repo, tmp_path):
    marker = tmp_path / "ran"
    marker_hook(repo / ".git" / "hooks" / "post-merge", marker)
    worktree = repo.parent / "wt"
    core_git.ensure_worktree(repo, worktree, "kanban/c", "main")
    (worktree / "a.txt").write_text("a\n")
    core_git.commit_all(worktree, "work", branch="kanban/c")
    core_git.merge_card_branch(
        repo, "main", "kanban/c", message="merge", worktree=worktree, run_hooks=True
    )
    assert "post-merge" in marker.read_text()


async def test_git_dir_changes_are_shown_and_block_the_merge(project, tmp_path):
    marker = tmp_path / "ran"
    hook = project / ".git" / "hooks" / "post-merge"
    _, status = await run_card(
        project,
        edit_sub(),
        run(
            f"printf '#!/bin/sh\\necho hook >> {marker}\\n' > {hook} && chmod +x {hook}"
            " && git config core.fsmonitor true"
        ),
        finish(),
    )
    assert status.state == "review", status.reason
    store = BoardStore.open(project / "board")
    state = run_records(store).load_state("sub")
    changes = state.extra["git_changes"]
    assert any("hooks/post-merge" in c for c in changes) and any("config" in c for c in changes)
    logged = (project / ".git/kanban-agents/runs/sub/1.jsonl").read_text()
    assert "hooks/post-merge" in logged and '"kind": "notice"' in logged
    reviewer = Reviewer(store)
    with pytest.raises(ReviewError, match="--accept-git-changes"):
        reviewer.merge("sub")
    assert BoardStore.open(project / "board").get("sub").status == "review"
    outcome = Reviewer(BoardStore.open(project / "board")).merge("sub", accept_git_changes=True)
    assert outcome.commit and not marker.exists()  # merged, and the planted hook did not run


async def test_status_json_shows_git_changes(project, capsys):
    from kanban_agents.cli import main

    await run_card(project, edit_sub(), run("git config --local alias.x status"), finish())
    assert main(["status", "--json", "--board", str(project / "board")]) == 0
    data = json.loads(capsys.readouterr().out)
    text = json.dumps(data)
    assert "git_changes" in text and "config" in text


# --- API keys -----------------------------------------------------------------------------


async def test_run_commands_get_no_provider_keys(project):
    h, status = await run_card(
        project,
        edit_sub(),
        run("env"),
        finish(),
        ANTHROPIC_API_KEY="sk-ant-unrelated-999",
        GITHUB_TOKEN="ghp-token-777",
        SOME_SECRET="hush-555",
    )
    assert status.state == "review", status.reason
    sent = json.dumps(h.server.requests)
    assert "PATH=" in sent  # the env output did reach the model ...
    for value in ("sk-ant-unrelated-999", "ghp-token-777", "hush-555", "sk-test-secret-123456"):
        assert value not in sent  # ... without any key


async def test_command_agent_gets_only_its_own_key(project, tmp_path):
    script = write_agent_script(
        tmp_path / "fake-agent",
        "env | grep -E 'KEY|TOKEN' || true\n"
        "printf 'def add(a, b):\\n    return a + b\\n\\n\\ndef sub(a, b):\\n    return a - b\\n' > calc.py\n",
    )
    (project / "board" / "kanban.toml").write_text(
        f'[agents.fake]\ncommand = ["{script}"]\napi_key_env = "FAKE_API_KEY"\n'
    )
    card = project / "board" / "sub.md"
    card.write_text(card.read_text().replace("status: todo", "status: todo\nagent: fake"))
    h, status = await run_card(
        project, FAKE_API_KEY="fake-own-111", ANTHROPIC_API_KEY="sk-ant-unrelated-999"
    )
    assert status.state == "review", status.reason
    logged = "\n".join(e.text for e in h.events if hasattr(e, "text"))
    assert "FAKE_API_KEY=fake-own-111" in logged
    assert "sk-ant-unrelated-999" not in logged and "sk-test-secret" not in logged


# --- hard links ---------------------------------------------------------------------------


async def test_read_file_refuses_an_untracked_hard_link(repo, tmp_path):
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN PRIVATE KEY-----\n")
    os.link(secret, repo / "x")
    result = await Toolbox(repo).call("read_file", {"path": "x"})
    assert result.is_error and "hard link" in result.output and "PRIVATE" not in result.output
    result = await Toolbox(repo).call("search", {"pattern": "PRIVATE"})
    assert "BEGIN PRIVATE" not in result.output
    # a tracked file with a second link (e.g. a cp -al copy elsewhere) is still readable
    os.link(repo / "README.md", tmp_path / "copy")
    result = await Toolbox(repo).call("read_file", {"path": "README.md"})
    assert not result.is_error and "# demo" in result.output
