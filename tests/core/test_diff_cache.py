"""A card's diff is remembered by the object ids of both sides (fork point and the worktree's
tree, or the branch's commit): asked again with nothing changed, git does not diff again; any
change (an edit, an untracked file, a commit on the base) gives a new diff."""

from __future__ import annotations

from pathlib import Path

from kanban_agents.core import git as git_module
from kanban_agents.core.git import branch_diff, ensure_worktree, worktree_diff
from tests.helpers import git


def commit_file(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"edit {name}")


def diffs_run(monkeypatch) -> list[tuple[str, ...]]:
    """The git diff commands run from now on."""
    seen: list[tuple[str, ...]] = []
    real = git_module._git

    def spy(cwd, *args, **kwargs):
        if "diff" in args:
            seen.append(args)
        return real(cwd, *args, **kwargs)

    monkeypatch.setattr(git_module, "_git", spy)
    return seen


def patches(diff) -> dict[str, str]:
    return {f.path: f.patch for f in diff.files}


def test_a_worktree_diff_is_made_again_only_when_its_state_changes(repo: Path, monkeypatch):
    wt = ensure_worktree(repo, repo.parent / "worktrees" / "c1", "c1", "main").path
    commit_file(wt, "a.py", "x = 1\n")
    first = worktree_diff(wt, "main")
    ran = diffs_run(monkeypatch)

    again = worktree_diff(wt, "main")
    assert ran == [] and patches(again) == patches(first)
    assert again.files is not first.files  # a caller's list of its own

    (wt / "a.py").write_text("x = 2\n")  # uncommitted
    edited = worktree_diff(wt, "main")
    assert "+x = 2" in edited.files[0].patch and len(ran) == 1
    (wt / "new.txt").write_text("untracked\n")
    assert [f.path for f in worktree_diff(wt, "main").files] == ["a.py", "new.txt"]
    (wt / "new.txt").unlink()
    (wt / "a.py").write_text("x = 1\n")  # back as it was: the remembered diff again
    assert patches(worktree_diff(wt, "main")) == patches(first) and len(ran) == 2

    commit_file(repo, "README.md", "# moved on\n")  # the base moves: the fork point does not
    assert patches(worktree_diff(wt, "main")) == patches(first)
    git(wt, "merge", "-q", "main")  # the fork point moves
    merged = worktree_diff(wt, "main")
    assert merged.merge_base != first.merge_base and len(ran) == 3


def test_a_branch_diff_follows_the_branch_commit(repo: Path, monkeypatch):
    git(repo, "branch", "c2")
    git(repo, "checkout", "-q", "c2")
    commit_file(repo, "b.py", "y = 1\n")
    git(repo, "checkout", "-q", "main")
    first = branch_diff(repo, "main", "c2")
    ran = diffs_run(monkeypatch)
    assert patches(branch_diff(repo, "main", "c2")) == patches(first) and ran == []
    git(repo, "checkout", "-q", "c2")
    commit_file(repo, "b.py", "y = 2\n")
    git(repo, "checkout", "-q", "main")
    assert "+y = 2" in branch_diff(repo, "main", "c2").files[0].patch and len(ran) == 1
