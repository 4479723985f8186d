"""[board] auto_commit: the card-file changes kanban-agents makes are committed, each with a
message saying what changed, and nothing else is (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kanban_agents.core.board import BoardStore
from kanban_agents.core.review import Reviewer
from tests.core.test_review import reviewed
from tests.core.test_runs import make_card
from tests.helpers import git


def committed_files(repo: Path, ref: str = "HEAD") -> list[str]:
    return git(repo, "show", "--format=", "--name-only", "--no-renames", ref).split()


def subject(repo: Path, ref: str = "HEAD") -> str:
    return git(repo, "log", "-1", "--format=%s", ref).strip()


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("[board]\nauto_commit = true\n")
    make_card(board, "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def test_the_tools_card_changes_are_committed_and_nothing_else(project):
    (project / "calc.py").write_text("# the user's work in progress\n")  # modified, not staged
    (project / "notes.txt").write_text("staged by the user\n")
    git(project, "add", "notes.txt")
    store = BoardStore.open(project / "board")

    card = store.create("Add a mul function")
    assert subject(project) == f"Card {card.id}: new card"
    assert committed_files(project) == [f"board/{card.id}.md"]

    store.move(card.id, "in-progress")
    assert subject(project) == f"Card {card.id}: moved to in-progress"
    assert committed_files(project) == [f"board/{card.id}.md"]

    before = git(project, "rev-parse", "HEAD")
    store.update(card.id, {"run": {"state": "running", "n": 1}})  # bookkeeping: rides along
    assert git(project, "rev-parse", "HEAD") == before
    store.move(card.id, "todo")
    assert subject(project) == f"Card {card.id}: moved to todo"
    assert "state: running" in git(project, "show", f"HEAD:board/{card.id}.md")

    store.archive(card.id)
    assert subject(project) == f"Card {card.id}: archived"
    assert committed_files(project) == [f"board/.archive/{card.id}.md", f"board/{card.id}.md"]

    # the user's own changes are where they were: staged stays staged, modified stays modified
    status = git(project, "status", "--porcelain")
    assert status.splitlines() == [" M calc.py", "A  notes.txt"], status


def test_off_by_default(project):
    (project / "board" / "kanban.toml").write_text("")
    git(project, "commit", "-qam", "auto_commit off")
    head = git(project, "rev-parse", "HEAD")
    store = BoardStore.open(project / "board")
    store.move("sub", "review")
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain").strip() == "M board/sub.md"


async def test_a_merge_leaves_the_board_committed(project):
    await reviewed(project)
    outcome = Reviewer(BoardStore.open(project / "board")).merge("sub")
    assert subject(project) == f"Card sub: merged as {outcome.commit[:12]}, moved to done"
    assert git(project, "rev-parse", "HEAD~1").strip() == outcome.commit
    assert git(project, "status", "--porcelain", "--", "board").strip() == ""
    assert "status: done" in git(project, "show", "HEAD:board/sub.md")
