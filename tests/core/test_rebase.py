"""Stale bases: a card whose base moved on shows how far (the radar's ``behind``), and
``rebase`` brings its branch to the base's tip when that is conflict-free, then runs its tests.
Real git repos, a real agent run through the scripted model server, the real CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kanban_agents.core.board import BoardStore
from kanban_agents.core.radar import board_radar
from kanban_agents.core.rebase import REBASE_PROGRESS, CardRebase, RebaseStep
from kanban_agents.core.records import run_records
from kanban_agents.core.review import Reviewer
from tests.core.test_review import kanban, reviewed
from tests.core.test_runs import PY, make_card
from tests.helpers import git


@pytest.fixture
def project(repo):
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "check_sub.py").write_text("import calc\nassert calc.sub(3, 1) == 2\n")
    board = repo / "board"
    board.mkdir()
    make_card(board, "sub", tests=f"{PY} check_sub.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def worktree(project: Path) -> Path:
    return project.parent / "repo-worktrees" / "sub"


def base_moves(project: Path, name: str = "NEWS.md", text: str = "news\n") -> str:
    (project / name).write_text(text)
    git(project, "add", name)
    git(project, "commit", "-qm", f"base: {name}")
    return git(project, "rev-parse", "main").strip()


def behind(project: Path) -> dict[str, int]:
    report, _overlaps = board_radar(BoardStore.open(project / "board"))
    return report.behind


async def test_stale_card_is_counted_then_rebased_and_tested(project):
    await reviewed(project)
    assert behind(project) == {}
    base_moves(project, "NEWS.md")
    tip = base_moves(project, "TODO.md")
    assert behind(project) == {"sub": 2}
    (worktree(project) / "calc.py").write_text(
        (worktree(project) / "calc.py").read_text() + "# reviewed\n"
    )  # uncommitted: committed as the agent's work first

    proc = kanban(project, "rebase", "sub")
    assert proc.returncode == 0, proc.stderr
    assert "committed the uncommitted work" in proc.stdout
    assert "rebased kanban/sub onto main (2 new commits of main)" in proc.stdout
    assert "tests passed on the rebased branch" in proc.stdout
    git(project, "merge-base", "--is-ancestor", tip, "kanban/sub")  # raises if not
    assert git(worktree(project), "status", "--porcelain") == ""
    assert "# reviewed" in git(project, "show", "kanban/sub:calc.py")
    assert behind(project) == {}
    state = run_records(BoardStore.open(project / "board")).load_state("sub")
    assert state.extra[REBASE_PROGRESS]["step"] == "done"
    # again: nothing to do
    proc = kanban(project, "rebase", "sub")
    assert proc.returncode == 0 and "already on the tip of main" in proc.stdout
    assert BoardStore.open(project / "board").get("sub").status == "review"


async def test_conflicting_rebase_changes_nothing_and_names_the_files(project):
    await reviewed(project)
    base_moves(project, "calc.py", "def add(a, b):\n    return b + a  # base changed this\n")
    before = git(project, "rev-parse", "kanban/sub")
    proc = kanban(project, "rebase", "sub")
    assert proc.returncode == 1
    assert "would conflict in calc.py; nothing was changed" in proc.stderr
    assert "send-back sub --conflict" in proc.stderr and "Traceback" not in proc.stderr
    assert git(project, "rev-parse", "kanban/sub") == before
    assert git(worktree(project), "status", "--porcelain") == ""
    state = run_records(BoardStore.open(project / "board")).load_state("sub")
    assert REBASE_PROGRESS not in state.extra
    proc = kanban(project, "send-back", "sub", "--conflict")
    assert proc.returncode == 0, proc.stderr


async def test_failing_tests_after_the_rebase_are_reported(project):
    await reviewed(project)
    base_moves(project, "check_sub.py", "import calc\nassert calc.sub(3, 1) == 99\n")
    proc = kanban(project, "rebase", "sub")
    assert proc.returncode == 1
    assert "rebased kanban/sub onto main" in proc.stdout
    assert "tests failed (exit 1) on the rebased branch" in proc.stderr


async def test_a_rebase_cut_short_after_the_branch_moved_only_runs_the_tests(project):
    await reviewed(project)
    tip = base_moves(project)
    rebase = CardRebase(Reviewer(BoardStore.open(project / "board")))
    moved = rebase.move_branch("sub")  # killed here: the branch moved, no tests ran yet
    state = rebase.records.load_state("sub")
    assert state.extra[REBASE_PROGRESS]["step"] == str(RebaseStep.REBASED)
    outcome = await CardRebase(Reviewer(BoardStore.open(project / "board"))).rebase("sub")
    assert outcome.commit == moved.commit and outcome.picked_up == 1
    assert outcome.tests is not None and outcome.tests.ok
    git(project, "merge-base", "--is-ancestor", tip, "kanban/sub")


async def test_only_cards_in_progress_or_review_are_rebased(project):
    proc = kanban(project, "rebase", "sub")  # never ran: no branch
    assert proc.returncode == 1 and "has not worked on it yet" in proc.stderr


async def second_round(project: Path, **config) -> object:
    """Send the card back, enable [review] settings, run the agent's second round to its end."""
    from kanban_agents.core.agent.scripted_server import ScriptedServer
    from tests.core.test_runs import Harness, finish

    lines = "".join(f"{key} = {value}\n" for key, value in config.items())
    (project / "board" / "kanban.toml").write_text(f"[review]\n{lines}")
    Reviewer(BoardStore.open(project / "board")).send_back("sub", "Say it is done.")
    with ScriptedServer([finish("Done again.")]) as server:
        h = Harness(project, server)
        await h.runs.start()  # the card sits in the agent column: its second round starts
        status = await h.wait("sub")
        await h.runs.stop()
    return status


async def test_rebase_before_review_rebases_a_passing_run_and_tests_it_again(project):
    await reviewed(project)
    tip = base_moves(project)
    status = await second_round(project, rebase_before_review="true")
    assert status.state == "review", status.reason
    git(project, "merge-base", "--is-ancestor", tip, "kanban/sub")  # raises if not
    log = kanban(project, "log", "sub").stdout
    assert "rebased onto main (1 new commit); running the tests again" in log
    assert behind(project) == {}


async def test_rebase_before_review_is_off_by_default(project):
    await reviewed(project)
    tip = base_moves(project)
    status = await second_round(project)
    assert status.state == "review", status.reason
    assert behind(project) == {"sub": 1}
    ancestor = subprocess.run(
        ["git", "merge-base", "--is-ancestor", tip, "kanban/sub"], cwd=project
    )
    assert ancestor.returncode == 1  # the branch stayed on its old base


async def test_rebase_before_review_fails_the_run_when_the_new_base_breaks_the_tests(project):
    await reviewed(project)
    base_moves(project, "check_sub.py", "import calc\nassert calc.sub(3, 1) == 99\n")
    status = await second_round(project, rebase_before_review="true")
    assert status.state == "failed"
    assert "the tests passed, but fail after rebasing onto main" in status.reason


async def test_rebase_before_review_leaves_a_conflicting_branch_as_it_is(project):
    await reviewed(project)
    base_moves(project, "calc.py", "def add(a, b):\n    return b + a  # base changed this\n")
    before = git(project, "rev-parse", "kanban/sub")
    status = await second_round(project, rebase_before_review="true")
    assert status.state == "review", status.reason
    assert git(project, "rev-parse", "kanban/sub") == before
    assert "would conflict in calc.py" in kanban(project, "log", "sub").stdout


async def test_a_rebase_that_conflicts_only_on_an_intermediate_commit_is_sent_back_as_such(project):
    await reviewed(project)
    wt = worktree(project)
    original = (wt / "calc.py").read_text()
    # The agent changed add's line in one commit and put it back in the next: the branch as a
    # whole leaves that line alone (it merges cleanly), but replaying the first commit conflicts.
    (wt / "calc.py").write_text(original.replace("def add(a, b):", "def add(a, b):  # temporary"))
    git(wt, "commit", "-qam", "agent: a temporary change")
    (wt / "calc.py").write_text(original)
    git(wt, "commit", "-qam", "agent: put it back")
    base_moves(project, "calc.py", "def add(a, b):  # base changed this\n    return a + b\n")
    before = git(project, "rev-parse", "kanban/sub")

    proc = kanban(project, "rebase", "sub")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "calc.py" in proc.stderr and "nothing was changed" in proc.stderr
    assert "agent: a temporary change" in proc.stderr  # the commit that does not replay
    assert git(project, "rev-parse", "kanban/sub") == before

    proc = kanban(project, "send-back", "sub", "--conflict")
    assert proc.returncode == 0, proc.stderr
    assert "merges cleanly" not in proc.stderr
    card = BoardStore.open(project / "board").get("sub")
    assert card.status == "in-progress" and "## Review notes" in card.body
    notes = card.body.split("## Review notes", 1)[1]
    assert "Rebasing your branch onto main stops at your commit" in notes
    assert "agent: a temporary change" in notes and "calc.py" in notes
    assert "git merge main" in notes  # the way out: as a whole it merges cleanly


async def test_send_back_conflict_with_no_conflict_at_all_says_so(project):
    await reviewed(project)
    proc = kanban(project, "send-back", "sub", "--conflict")
    assert proc.returncode != 0
    assert "merges cleanly into main" in proc.stderr and "no rebase of it" in proc.stderr
