"""The review gate in core and through the CLI: merge, conflicts, dirty checkout, send back, discard."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.review import MergeRefused, Reviewer, ReviewError
from tests.core.test_runs import Harness, edit_sub, finish, make_card
from tests.helpers import git


@pytest.fixture
def project(repo):
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    board = repo / "board"
    board.mkdir()
    make_card(board, "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


async def reviewed(project, *turns) -> Harness:
    """Run the card through its agent to review; returns the (stopped) harness."""
    with ScriptedServer(list(turns) or [edit_sub(), finish("Added sub to calc.py.")]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "review", status.reason
    return h


def kanban(project, *args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "kanban_agents", "--board", str(project / "board"), *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


async def test_merge_lands_on_base_and_cleans_up(project):
    await reviewed(project)
    head_before = git(project, "rev-parse", "HEAD").strip()
    outcome = Reviewer(BoardStore.open(project / "board")).merge("sub")
    assert "def sub" in (project / "calc.py").read_text()  # the main checkout has the change
    assert git(project, "rev-parse", "HEAD").strip() == outcome.commit != head_before
    parents = git(project, "log", "-1", "--format=%P").split()
    assert len(parents) == 2  # a merge commit by default
    assert "Added sub to calc.py." in git(project, "log", "-1", "--format=%B")
    assert not (project.parent / "repo-worktrees" / "sub").exists()
    assert "kanban/sub" not in git(project, "branch", "--list")
    card = BoardStore.open(project / "board").get("sub")
    assert card.status == "done"
    assert card.meta["merged"] == outcome.commit[:12] and card.run["state"] == "merged"
    assert "worktree" not in card.meta and "branch" not in card.meta


async def test_squash_strategy_makes_one_parent(project):
    (project / "board" / "kanban.toml").write_text('[review]\nmerge_strategy = "squash"\n')
    await reviewed(project)
    Reviewer(BoardStore.open(project / "board")).merge("sub")
    assert len(git(project, "log", "-1", "--format=%P").split()) == 1
    assert "def sub" in (project / "calc.py").read_text()


async def test_conflict_is_refused_with_nothing_changed_and_feedback_ready(project):
    await reviewed(project)
    # meanwhile, the base changes the same lines
    (project / "calc.py").write_text("def add(a, b):\n    return b + a  # commutative\n")
    git(project, "commit", "-qam", "base edit")
    head = git(project, "rev-parse", "HEAD").strip()
    status = git(project, "status", "--porcelain")
    reviewer = Reviewer(BoardStore.open(project / "board"))
    with pytest.raises(MergeRefused) as refused:
        reviewer.merge("sub")
    assert refused.value.files == ["calc.py"]
    assert "git merge main" in refused.value.feedback and "calc.py" in refused.value.feedback
    assert (
        git(project, "rev-parse", "HEAD").strip() == head
        and git(project, "status", "--porcelain") == status
    )
    assert BoardStore.open(project / "board").get("sub").status == "review"
    # the CLI says the same, and send-back --conflict carries it to the agent
    proc = kanban(project, "merge", "sub")
    assert proc.returncode == 1 and "would conflict in calc.py" in proc.stderr
    proc = kanban(project, "send-back", "sub", "--conflict")
    assert proc.returncode == 0, proc.stderr
    card = BoardStore.open(project / "board").get("sub")
    assert (
        card.status == "in-progress"
        and "## Review notes" in card.body
        and "git merge main" in card.body
    )


async def test_dirty_main_checkout_touching_merged_file_is_refused(project):
    await reviewed(project)
    (project / "calc.py").write_text("def add(a, b):\n    return a + b\n# my local work\n")
    with pytest.raises(ReviewError, match=r"calc\.py"):
        Reviewer(BoardStore.open(project / "board")).merge("sub")
    assert (project / "calc.py").read_text().endswith("# my local work\n")  # never lose local work
    assert BoardStore.open(project / "board").get("sub").status == "review"


async def test_unrelated_dirty_file_is_kept_through_the_merge(project):
    await reviewed(project)
    (project / "README.md").write_text("# demo\nlocal notes\n")
    Reviewer(BoardStore.open(project / "board")).merge("sub")
    assert (project / "README.md").read_text() == "# demo\nlocal notes\n"
    assert "def sub" in (project / "calc.py").read_text()


async def test_send_back_round_resumes_the_same_agent_with_feedback(project):
    await reviewed(project)
    Reviewer(BoardStore.open(project / "board")).send_back("sub", "Please add a docstring to sub.")
    card = BoardStore.open(project / "board").get("sub")
    assert card.status == "in-progress"
    assert (
        "## Review notes\n\n### Round 1 (" in card.body
        and "Please add a docstring to sub." in card.body
    )
    with ScriptedServer([finish("Added the docstring.")]) as server:
        h = Harness(project, server)
        await h.runs.start()  # the card sits in the agent column after a review: it starts
        status = await h.wait("sub")
        await h.runs.stop()
        messages = server.requests[0]["messages"]
    assert status.state == "review" and status.run == 2
    assert (
        "Please add a docstring to sub." in messages[-1]["content"]
        and "review round 1" in messages[-1]["content"]
    )
    assert any(m["role"] == "assistant" for m in messages)  # the same conversation continues


def test_send_back_refuses_a_card_whose_agent_never_ran(project):
    before = (project / "board" / "sub.md").read_text()
    with pytest.raises(ReviewError, match="never ran"):
        Reviewer(BoardStore.open(project / "board")).send_back("sub", "Add a docstring.")
    assert (project / "board" / "sub.md").read_text() == before  # no '## Review notes'
    # the CLI says why in one line and exits 1
    proc = kanban(project, "send-back", "sub", "-m", "Add a docstring.")
    assert proc.returncode == 1
    assert "never ran" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (project / "board" / "sub.md").read_text() == before


async def test_discard_removes_worktree_and_branch(project):
    await reviewed(project)
    proc = kanban(project, "discard", "sub", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert not (project.parent / "repo-worktrees" / "sub").exists()
    assert "kanban/sub" not in git(project, "branch", "--list")
    card = BoardStore.open(project / "board").get("sub")
    assert card.status == "todo" and "run" not in card.meta and "branch" not in card.meta


async def test_cli_diff_and_test(project):
    await reviewed(project)
    diff = kanban(project, "diff", "sub")
    assert diff.returncode == 0 and "+def sub(a, b):" in diff.stdout
    stat = kanban(project, "diff", "sub", "--stat")
    assert "M calc.py  +4 -0" in stat.stdout
    tests = kanban(project, "test", "sub")
    assert tests.returncode == 0 and "tests passed" in tests.stdout


async def test_cli_merge_refuses_cards_not_in_review(project):
    make_card(project / "board", "idle")
    proc = kanban(project, "merge", "idle")
    assert proc.returncode == 1 and "has no branch" in proc.stderr
    await reviewed(project)
    BoardStore.open(project / "board").move("sub", "todo")
    proc = kanban(project, "merge", "sub")
    assert proc.returncode == 1 and "only cards in review can be merged" in proc.stderr
