"""Nothing lost, nothing stuck: a run in a half-created worktree, review actions interrupted
half-way or after a worktree was removed by hand, and CLI errors as one line (``--debug``: the
traceback)."""

from __future__ import annotations

import shutil

import pytest

from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.paths import state_dir
from kanban_agents.core.records import RunRecords
from kanban_agents.core.review import Reviewer
from tests.core.test_review import kanban, reviewed
from tests.core.test_run_cli import kanban as kanban_with_server
from tests.core.test_runs import calc_project, edit_sub, finish
from tests.helpers import git


@pytest.fixture
def project(repo):
    return calc_project(repo)


def worktree_of(project):
    return project.parent / "repo-worktrees" / "sub"


def recorded_state(project):
    return RunRecords(state_dir(project / "board") / "runs").load_state("sub")


def test_run_in_a_worktree_whose_checkout_was_killed_does_not_delete_the_tree(project):
    # what a kill between `worktree add --no-checkout` and the checkout leaves behind
    git(project, "worktree", "add", "-q", "--no-checkout", "-b", "kanban/sub",
        str(worktree_of(project)), "main")  # fmt: skip
    with ScriptedServer([edit_sub(), finish("Added sub.")]) as server:
        proc = kanban_with_server(project, server, "run", "sub", "--wait")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "finished the interrupted checkout of worktree" in proc.stdout
    assert git(project, "diff", "--name-status", "main", "kanban/sub") == "M\tcalc.py\n"


async def test_merge_after_the_worktree_was_removed_by_hand_finishes(project):
    await reviewed(project)
    shutil.rmtree(worktree_of(project))
    proc = kanban(project, "merge", "sub")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout.startswith("merged sub into main (merge): ")
    head = git(project, "rev-parse", "HEAD").strip()
    card = BoardStore.open(project / "board").get("sub")
    assert card.status == "done" and card.meta["merged"] == head[:12]
    assert recorded_state(project).commit == head
    assert git(project, "branch", "--list", "kanban/sub") == ""
    again = kanban(project, "merge", "sub")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"sub is already merged into main: {head[:12]}"
    assert git(project, "rev-parse", "HEAD").strip() == head


async def test_merge_cut_short_after_the_base_moved_is_finished_by_a_rerun(project):
    await reviewed(project)
    lock = project / ".git" / "refs" / "heads" / "kanban" / "sub.lock"
    lock.write_text("")  # git cannot delete the branch: the merge stops after moving main
    proc = kanban(project, "merge", "sub")
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()  # one line, no traceback
    assert "merged into main" in line and "merge sub" in line and "sub.lock" in line
    head = git(project, "rev-parse", "HEAD").strip()
    assert len(git(project, "log", "-1", "--format=%P").split()) == 2  # main has the merge
    debug = kanban(project, "--debug", "merge", "sub")
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    lock.unlink()
    again = kanban(project, "merge", "sub")
    assert again.returncode == 0, again.stderr
    assert git(project, "rev-parse", "HEAD").strip() == head  # no second merge commit
    card = BoardStore.open(project / "board").get("sub")
    assert card.status == "done" and card.meta["merged"] == head[:12]
    assert "branch" not in card.meta and "worktree" not in card.meta
    assert git(project, "branch", "--list", "kanban/sub") == ""
    assert recorded_state(project).commit == head


async def test_merge_of_a_run_started_on_a_detached_head_says_so(project):
    git(project, "checkout", "-q", "--detach")
    await reviewed(project)
    proc = kanban(project, "merge", "sub")
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert "HEAD is detached" in line and "git switch main" in line
    git(project, "switch", "-q", "main")
    assert kanban(project, "merge", "sub").returncode == 0
    assert "def sub" in (project / "calc.py").read_text()


async def test_discard_after_the_worktree_was_removed_by_hand(project):
    await reviewed(project)
    shutil.rmtree(worktree_of(project))
    card = Reviewer(BoardStore.open(project / "board")).discard("sub")
    assert card.status == "todo"
    assert git(project, "branch", "--list", "kanban/sub") == ""
    again = Reviewer(BoardStore.open(project / "board")).discard("sub")
    assert again.status == "todo"


async def test_send_back_twice_with_the_same_notes_adds_them_once(project):
    await reviewed(project)
    reviewer = Reviewer(BoardStore.open(project / "board"))
    reviewer.send_back("sub", "Also handle negative numbers.")
    card = Reviewer(BoardStore.open(project / "board")).send_back(
        "sub", "Also handle negative numbers."
    )
    assert card.status == "in-progress"
    assert card.body.count("Also handle negative numbers.") == 1
    assert recorded_state(project).review_round == 1


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    from kanban_agents import cli, cli_board

    def broken(args):
        raise KeyError("card-x")

    monkeypatch.setattr(cli_board, "cmd_list", broken)
    assert cli.main(["list"]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == "kanban-agents: internal error: KeyError: 'card-x' (run with --debug for the traceback)\n"
    )
    assert cli.main(["--debug", "list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in broken" in err
