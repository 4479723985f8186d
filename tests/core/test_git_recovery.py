"""Git state a kill or a user's hand left half-done: reused worktrees are checked and repaired,
a commit that would delete most of the tree is refused, cleanup after a worktree removed by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kanban_agents.core.git import (
    GitError,
    branch_exists,
    commit_all,
    delete_branch,
    ensure_worktree,
)
from tests.helpers import git


def project(repo: Path, count: int = 6) -> list[str]:
    names = [f"src/m{i}.py" for i in range(count)]
    for name in names:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"x = {name!r}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return names


def test_a_worktree_killed_before_its_checkout_is_checked_out_on_reuse(repo):
    names = project(repo)
    path = repo.parent / "worktrees" / "c"
    # what a kill between `worktree add --no-checkout` and the checkout leaves behind
    git(repo, "worktree", "add", "-q", "--no-checkout", "-b", "kanban/c", str(path), "main")
    (path / "notes.txt").write_text("written before the checkout\n")
    info = ensure_worktree(repo, path, "kanban/c", "main")
    assert info.repaired and not info.created
    for name in [*names, "README.md"]:
        assert (path / name).read_text() == (repo / name).read_text()
    assert (path / "notes.txt").read_text() == "written before the checkout\n"  # kept
    status = git(path, "status", "--porcelain", "--untracked-files=all")
    assert status == "?? notes.txt\n"  # the index is what the branch says
    commit = commit_all(path, "work")
    assert commit is not None
    assert git(repo, "diff", "--name-status", "main", "kanban/c") == "A\tnotes.txt\n"


def test_a_worktree_checked_out_partly_gets_its_missing_files_and_keeps_the_rest(repo):
    project(repo)
    path = repo.parent / "worktrees" / "c"
    git(repo, "worktree", "add", "-q", "--no-checkout", "-b", "kanban/c", str(path), "main")
    (path / "src").mkdir()
    (path / "src" / "m0.py").write_text("x = 'edited'\n")  # half a checkout, one file edited
    ensure_worktree(repo, path, "kanban/c", "main")
    assert (path / "src" / "m0.py").read_text() == "x = 'edited'\n"
    assert (path / "src" / "m5.py").exists() and (path / "README.md").exists()
    assert git(path, "status", "--porcelain") == " M src/m0.py\n"


def test_a_healthy_reused_worktree_is_not_touched(repo):
    project(repo)
    path = repo.parent / "worktrees" / "c"
    ensure_worktree(repo, path, "kanban/c", "main")
    (path / "src" / "m1.py").unlink()  # the agent's own deletion, uncommitted
    info = ensure_worktree(repo, path, "kanban/c", "main")
    assert not info.repaired and not (path / "src" / "m1.py").exists()


def test_commit_all_refuses_to_delete_most_of_the_tree(repo):
    names = project(repo)
    path = ensure_worktree(repo, repo.parent / "worktrees" / "c", "kanban/c", "main").path
    head = git(path, "rev-parse", "HEAD")
    for name in names:
        (path / name).unlink()
    with pytest.raises(GitError) as caught:
        commit_all(path, "oops")
    message = str(caught.value)
    assert "would delete 6 of the 7 files" in message and "allow_mass_deletion" in message
    assert git(path, "rev-parse", "HEAD") == head  # nothing committed
    assert commit_all(path, "on purpose", allow_mass_deletion=True) is not None
    assert git(path, "ls-files") == "README.md\n"


def test_commit_all_deleting_a_few_files_is_fine(repo):
    names = project(repo)
    path = ensure_worktree(repo, repo.parent / "worktrees" / "c", "kanban/c", "main").path
    for name in names[:3]:
        (path / name).unlink()
    assert commit_all(path, "three of seven") is not None


def test_delete_branch_after_its_worktree_was_removed_by_hand(repo):
    path = ensure_worktree(repo, repo.parent / "worktrees" / "c", "kanban/c", "main").path
    shutil.rmtree(path)
    delete_branch(repo, "kanban/c")
    assert not branch_exists(repo, "kanban/c")
