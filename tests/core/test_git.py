"""kanban_agents.core.git on real temporary repositories."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kanban_agents.core.git import (
    GitError,
    MergeConflict,
    branch_exists,
    changed_paths,
    checked_out_in,
    commit_all,
    current_branch,
    delete_branch,
    dirty_paths,
    ensure_worktree,
    identity_args,
    list_worktrees,
    merge_card_branch,
    merge_check,
    remove_worktree,
    repo_toplevel,
    rev_parse,
    snapshot_commit,
    worktree_diff,
)
from tests.helpers import git


def commit_file(root: Path, name: str, text: str, message: str | None = None) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message or f"edit {name}")
    return git(root, "rev-parse", "HEAD").strip()


def card(repo: Path, name: str = "card-1") -> Path:
    """A card worktree on a new branch ``name`` from main."""
    return ensure_worktree(repo, repo.parent / "worktrees" / name, name, "main").path


def state(root: Path) -> tuple[str, str, str]:
    """What a user sees of a checkout: HEAD, branch list, status."""
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "branch", "-av"),
        git(root, "--no-optional-locks", "status", "--porcelain", "--untracked-files=all"),
    )


def lines(n: int) -> str:
    return "".join(f"line {i}\n" for i in range(1, n + 1))


# --- queries -------------------------------------------------------------------------------


def test_queries_on_a_plain_repo(repo):
    (repo / "sub").mkdir()
    assert repo_toplevel(repo / "sub") == repo.resolve()
    assert current_branch(repo) == "main"
    assert rev_parse(repo, "main") == git(repo, "rev-parse", "HEAD").strip()
    assert branch_exists(repo, "main")
    assert not branch_exists(repo, "nope")
    assert identity_args(repo) == []
    git(repo, "checkout", "-q", "--detach")
    assert current_branch(repo) is None


def test_rev_parse_unknown_ref_names_it(repo):
    with pytest.raises(GitError, match="git rev-parse failed: unknown revision 'no-such-ref'"):
        rev_parse(repo, "no-such-ref")


def test_not_a_repository_reports_gits_message(tmp_path):
    with pytest.raises(GitError) as error:
        repo_toplevel(tmp_path)
    assert str(error.value).startswith("git rev-parse failed: fatal: not a git repository")


def test_dirty_paths_lists_modified_staged_deleted_and_untracked(repo):
    commit_file(repo, "keep.txt", "keep\n")
    commit_file(repo, "gone.txt", "gone\n")
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore logs")
    assert dirty_paths(repo) == set()

    (repo / "README.md").write_text("changed\n")
    (repo / "staged.txt").write_text("new\n")
    git(repo, "add", "staged.txt")
    (repo / "gone.txt").unlink()
    (repo / "dir").mkdir()
    (repo / "dir" / "untracked.txt").write_text("u\n")
    (repo / "debug.log").write_text("ignored\n")
    assert dirty_paths(repo) == {"README.md", "staged.txt", "gone.txt", "dir/untracked.txt"}


# --- worktrees -----------------------------------------------------------------------------


def test_ensure_worktree_creates_reuses_and_readds_after_the_directory_is_deleted(repo):
    path = repo.parent / "worktrees" / "card-1"
    first = ensure_worktree(repo, path, "card-1", "main")
    assert first.created
    assert first.path == path.resolve()
    assert first.branch == "card-1"
    assert first.head == rev_parse(repo, "main")
    assert (path / "README.md").read_text() == "# demo\n"
    assert checked_out_in(repo, "card-1") == path.resolve()

    (path / "work.txt").write_text("in progress\n")
    again = ensure_worktree(repo, path, "card-1", "main")
    assert not again.created
    assert again.path == first.path
    assert (path / "work.txt").read_text() == "in progress\n"
    assert [w.branch for w in list_worktrees(repo)] == ["main", "card-1"]

    commit_all(path, "agent work")
    tip = rev_parse(repo, "card-1")
    shutil.rmtree(path)  # stale registration: the directory is gone, git still lists it
    readded = ensure_worktree(repo, path, "card-1", "main")
    assert not readded.created  # the branch existed: the card resumes where it was
    assert readded.head == tip
    assert (path / "work.txt").read_text() == "in progress\n"


def test_ensure_worktree_refuses_a_path_that_is_not_that_worktree(repo):
    path = repo.parent / "somewhere"
    path.mkdir()
    (path / "notes.txt").write_text("mine\n")
    with pytest.raises(GitError, match="already exists and is not the worktree of 'card-1'"):
        ensure_worktree(repo, path, "card-1", "main")
    assert (path / "notes.txt").read_text() == "mine\n"
    assert not branch_exists(repo, "card-1")

    other = card(repo, "card-2")
    with pytest.raises(GitError, match="already a worktree on branch 'card-2'"):
        ensure_worktree(repo, other, "card-1", "main")


def test_ensure_worktree_into_an_empty_directory_is_fine(repo):
    path = repo.parent / "empty"
    path.mkdir()
    assert ensure_worktree(repo, path, "card-1", "main").created


def test_ensure_worktree_refuses_a_branch_checked_out_elsewhere(repo):
    with pytest.raises(GitError, match=f"branch 'main' is already checked out at '{repo}'"):
        ensure_worktree(repo, repo.parent / "wt", "main", "main")


def test_git_failure_message_carries_gits_stderr(repo):
    with pytest.raises(GitError) as error:
        ensure_worktree(repo, repo.parent / "wt", "card-1", "no-such-base")
    message = str(error.value)
    assert message.startswith("git worktree add failed: fatal: ")
    assert "no-such-base" in message
    assert "stderr:" not in message and "Cmd(" not in message  # not GitPython's wrapping


def test_a_missing_worktree_directory_never_falls_back_to_the_current_directory(repo, monkeypatch):
    # GitPython runs in the process's cwd when cwd is missing; `git -C` makes that an error.
    monkeypatch.chdir(repo)
    (repo / "user.txt").write_text("user's work\n")
    with pytest.raises(GitError, match="cannot change to"):
        commit_all(repo.parent / "deleted-worktree", "agent work")
    assert git(repo, "log", "--format=%s") == "initial\n"
    assert dirty_paths(repo) == {"user.txt"}


def test_remove_worktree_and_delete_branch_are_idempotent(repo):
    path = card(repo)
    (path / "dirty.txt").write_text("unsaved\n")  # remove must not refuse a dirty tree
    remove_worktree(repo, path)
    assert not path.exists()
    assert checked_out_in(repo, "card-1") is None
    remove_worktree(repo, path)  # already gone
    delete_branch(repo, "card-1")
    assert not branch_exists(repo, "card-1")
    delete_branch(repo, "card-1")  # already gone


def test_remove_worktree_leaves_an_unknown_directory_alone(repo):
    path = repo.parent / "not-a-worktree"
    path.mkdir()
    (path / "keep.txt").write_text("keep\n")
    remove_worktree(repo, path)
    assert (path / "keep.txt").read_text() == "keep\n"


# --- commits -------------------------------------------------------------------------------


def test_commit_all_commits_everything_and_returns_none_when_clean(repo):
    wt = card(repo)
    assert commit_all(wt, "nothing") is None
    (wt / "new.txt").write_text("new\n")
    (wt / "README.md").write_text("# changed\n")
    sha = commit_all(wt, "agent: step 1")
    assert sha == rev_parse(repo, "card-1")
    assert git(wt, "log", "-1", "--format=%s").strip() == "agent: step 1"
    assert git(wt, "show", "--name-only", "--format=", sha).split() == ["README.md", "new.txt"]
    assert git(wt, "status", "--porcelain") == ""
    assert rev_parse(repo, "main") != sha


def test_commit_all_without_any_identity_uses_the_fallback(repo, monkeypatch, tmp_path):
    home = tmp_path / "bare-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    for key in ("NAME", "EMAIL"):
        for who in ("AUTHOR", "COMMITTER"):
            monkeypatch.delenv(f"GIT_{who}_{key}", raising=False)
    monkeypatch.delenv("EMAIL", raising=False)
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    assert identity_args(repo) == [
        "-c",
        "user.name=kanban-agents",
        "-c",
        "user.email=kanban-agents@localhost",
    ]

    (repo / "a.txt").write_text("a\n")
    sha = commit_all(repo, "no identity configured")
    assert sha is not None
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "kanban-agents <kanban-agents@localhost>|kanban-agents <kanban-agents@localhost>"
    )


def test_identity_args_fills_only_the_missing_half(repo):
    git(repo, "config", "--unset", "user.email")
    assert identity_args(repo) == ["-c", "user.email=kanban-agents@localhost"]


# --- diff ----------------------------------------------------------------------------------


def test_worktree_diff_includes_uncommitted_and_untracked_without_touching_the_index(repo):
    commit_file(repo, "mod.txt", lines(5))
    commit_file(repo, "gone.txt", "bye\n")
    commit_file(repo, "old_name.py", lines(40))
    commit_file(repo, "image.bin", "\0\1\2")
    wt = card(repo)
    fork = rev_parse(repo, "main")
    commit_file(repo, "main_only.txt", "base moved on\n")  # not part of the card's diff

    # A committed change, a staged change and untracked files, all in the review.
    commit_file(wt, "mod.txt", lines(5).replace("line 2\n", "line two\n"))
    (wt / "staged.txt").write_text("staged\n")
    git(wt, "add", "staged.txt")
    (wt / "gone.txt").unlink()
    git(wt, "mv", "old_name.py", "new_name.py")
    (wt / "new_name.py").write_text(lines(40) + "line 41\n")
    (wt / "image.bin").write_bytes(b"\0\3\4")
    (wt / "untracked.txt").write_text("hello\nworld\n")
    (wt / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    (wt / "app.min.js").write_text("var a=1;\n")
    (wt / ".gitignore").write_text("*.log\n")
    (wt / "debug.log").write_text("ignored\n")

    index_file = Path(git(wt, "rev-parse", "--git-path", "index").strip())
    index_file = index_file if index_file.is_absolute() else wt / index_file
    index_before = index_file.read_bytes()
    cached_before = git(wt, "diff", "--cached", "--name-only")
    status_before = dirty_paths(wt)

    diff = worktree_diff(wt, "main")

    assert index_file.read_bytes() == index_before
    assert git(wt, "diff", "--cached", "--name-only") == cached_before
    assert dirty_paths(wt) == status_before
    assert diff.merge_base == fork
    files = {f.path: f for f in diff.files}
    assert set(files) == {
        "mod.txt",
        "staged.txt",
        "gone.txt",
        "new_name.py",
        "image.bin",
        "untracked.txt",
        "package-lock.json",
        "app.min.js",
        ".gitignore",
    }

    mod = files["mod.txt"]
    assert (mod.status, mod.added, mod.deleted, mod.skipped) == ("M", 1, 1, None)
    assert mod.patch.startswith("diff --git a/mod.txt b/mod.txt\n")
    assert "-line 2\n+line two\n" in mod.patch
    assert "untracked" not in mod.patch  # patches are split per file

    new = files["untracked.txt"]
    assert (new.status, new.added, new.deleted) == ("A", 2, 0)
    assert "+hello\n+world\n" in new.patch
    assert files["staged.txt"].status == "A"

    gone = files["gone.txt"]
    assert (gone.status, gone.added, gone.deleted) == ("D", 0, 1)
    assert "-bye\n" in gone.patch

    renamed = files["new_name.py"]
    assert (renamed.status, renamed.old_path, renamed.added, renamed.deleted) == (
        "R",
        "old_name.py",
        1,
        0,
    )
    assert "rename from old_name.py\nrename to new_name.py\n" in renamed.patch

    binary = files["image.bin"]
    assert (binary.status, binary.binary, binary.skipped, binary.patch) == ("M", True, "binary", "")

    lock = files["package-lock.json"]  # kept whole: the review folds it (diff_folding)
    assert (lock.skipped, lock.added) == (None, 1) and lock.patch.startswith("diff --git")

    assert diff.added == sum(f.added for f in diff.files) == 1 + 1 + 1 + 2 + 1 + 1 + 1
    assert diff.deleted == 2


def test_worktree_diff_skips_large_patches_but_counts_them(repo):
    wt = card(repo)
    (wt / "big.txt").write_text(lines(50))
    (wt / "small.txt").write_text(lines(3))
    files = {f.path: f for f in worktree_diff(wt, "main", max_patch_lines=10).files}
    assert files["big.txt"].skipped == "large (50 lines)"
    assert files["big.txt"].patch == ""
    assert files["big.txt"].added == 50
    assert files["small.txt"].skipped is None


def test_worktree_diff_of_an_untouched_worktree_is_empty(repo):
    diff = worktree_diff(card(repo), "main")
    assert diff.files == []
    assert (diff.added, diff.deleted) == (0, 0)


def test_worktree_diff_on_a_large_tree_returns_just_the_changed_files(repo):
    for d in range(50):
        folder = repo / f"pkg{d:02}"
        folder.mkdir()
        for i in range(100):
            (folder / f"mod{i:03}.py").write_text(f"value = {d * 100 + i}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "5,000 files")
    wt = card(repo)
    changed = set()
    for d in range(25):
        path = f"pkg{d:02}/mod007.py"
        (wt / path).write_text("value = 'changed'\n")
        changed.add(path)
    for d in range(25):
        path = f"pkg{d:02}/new.py"
        (wt / path).write_text("value = 'new'\n")
        changed.add(path)

    diff = worktree_diff(wt, "main")
    assert {f.path for f in diff.files} == changed
    assert len(diff.files) == 50
    assert all(f.patch for f in diff.files)


# --- snapshots and conflicts between cards -------------------------------------------------


def test_snapshot_commit_captures_the_worktree_and_moves_no_ref(repo):
    wt = card(repo)
    (wt / "README.md").write_text("# edited\n")
    (wt / "untracked.txt").write_text("u\n")
    refs_before = git(repo, "for-each-ref")
    head_before = git(wt, "rev-parse", "HEAD")
    status_before = git(wt, "status", "--porcelain", "--untracked-files=all")

    snap = snapshot_commit(wt)

    assert git(repo, "for-each-ref") == refs_before
    assert git(wt, "rev-parse", "HEAD") == head_before
    assert git(wt, "status", "--porcelain", "--untracked-files=all") == status_before
    assert git(repo, "rev-parse", f"{snap}^").strip() == head_before.strip()
    assert git(repo, "show", f"{snap}:README.md") == "# edited\n"
    assert git(repo, "show", f"{snap}:untracked.txt") == "u\n"
    assert changed_paths(repo, "main", snap) == {"README.md", "untracked.txt"}


def test_merge_check_clean_and_conflicting(repo):
    commit_file(repo, "shared.txt", lines(10))
    a, b = card(repo, "card-a"), card(repo, "card-b")
    commit_file(a, "shared.txt", lines(10).replace("line 3\n", "line three (a)\n"))
    commit_file(b, "other.txt", "b\n")

    clean = merge_check(repo, "card-a", "card-b")
    assert clean.clean
    assert clean.conflicts == []
    assert clean.tree and len(clean.tree) == 40

    commit_file(b, "shared.txt", lines(10).replace("line 3\n", "line THREE (b)\n"))
    conflict = merge_check(repo, "card-a", "card-b")
    assert not conflict.clean
    assert conflict.conflicts == ["shared.txt"]
    assert "shared.txt" in conflict.message

    # Unfinished work counts too: compare snapshots of the two worktrees.
    (a / "other.txt").write_text("a's version\n")
    assert merge_check(repo, snapshot_commit(a), snapshot_commit(b)).conflicts == [
        "other.txt",
        "shared.txt",
    ]


def test_merge_check_unknown_ref_is_an_error(repo):
    with pytest.raises(GitError, match="unknown revision 'nope"):
        merge_check(repo, "main", "nope")


def test_changed_paths_is_relative_to_the_fork_point(repo):
    wt = card(repo)
    commit_file(wt, "card.txt", "c\n")
    commit_file(repo, "main.txt", "m\n")
    assert changed_paths(repo, "main", "card-1") == {"card.txt"}


# --- the review gate's merge ---------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["merge", "squash", "rebase"])
def test_merge_card_branch_updates_the_main_checkout(repo, strategy):
    wt = card(repo)
    commit_file(wt, "feature.txt", "one\n", "card: first")
    commit_file(wt, "feature.txt", "one\ntwo\n", "card: second")
    main_moved = commit_file(repo, "main.txt", "meanwhile\n", "main: meanwhile")
    card_tip = rev_parse(repo, "card-1")

    result = merge_card_branch(
        repo, "main", "card-1", strategy=strategy, message="Merge card-1: feature", worktree=wt
    )

    assert result.strategy == strategy
    assert result.base == "main"
    assert result.previous == main_moved
    assert rev_parse(repo, "main") == result.commit
    assert rev_parse(repo, "HEAD") == result.commit
    assert (repo / "feature.txt").read_text() == "one\ntwo\n"
    assert (repo / "main.txt").read_text() == "meanwhile\n"
    assert git(repo, "status", "--porcelain") == ""
    log = git(repo, "log", "--format=%s", "main").splitlines()
    parents = git(repo, "rev-list", "--parents", "-n", "1", "main").split()[1:]
    if strategy == "merge":
        assert log[0] == "Merge card-1: feature"
        assert parents == [main_moved, card_tip]
        assert "card: second" in log
    elif strategy == "squash":
        assert log[:2] == ["Merge card-1: feature", "main: meanwhile"]
        assert parents == [main_moved]
        assert "card: second" not in log
    else:
        assert log[:3] == ["card: second", "card: first", "main: meanwhile"]
        assert rev_parse(repo, "card-1") == result.commit  # a fast-forward to the rebased tip
        assert git(wt, "status", "--porcelain") == ""


def test_merge_conflict_is_refused_and_nothing_changes(repo):
    commit_file(repo, "shared.txt", lines(5))
    wt = card(repo)
    commit_file(wt, "shared.txt", lines(5).replace("line 2\n", "card's line\n"))
    commit_file(repo, "shared.txt", lines(5).replace("line 2\n", "main's line\n"))
    (repo / "local.txt").write_text("user's unrelated work\n")
    before = state(repo)
    card_before = state(wt)

    for strategy in ("merge", "squash", "rebase"):
        with pytest.raises(MergeConflict) as error:
            merge_card_branch(repo, "main", "card-1", strategy=strategy, message="m", worktree=wt)
        assert error.value.files == ["shared.txt"]
        assert "shared.txt" in str(error.value)

    assert state(repo) == before
    assert state(wt) == card_before
    assert (repo / "local.txt").read_text() == "user's unrelated work\n"


def test_rebase_that_stops_on_a_conflict_is_aborted(repo):
    # The branch's net change merges cleanly, but replaying its first commit conflicts.
    commit_file(repo, "shared.txt", lines(5))
    wt = card(repo)
    commit_file(wt, "shared.txt", lines(5).replace("line 2\n", "temporary\n"))
    commit_file(wt, "shared.txt", lines(5))
    commit_file(wt, "feature.txt", "f\n")
    commit_file(repo, "shared.txt", lines(5).replace("line 2\n", "main's line\n"))
    main_before, card_before = state(repo), state(wt)

    with pytest.raises(MergeConflict) as error:
        merge_card_branch(repo, "main", "card-1", strategy="rebase", message="m", worktree=wt)
    assert error.value.files == ["shared.txt"]
    assert "aborted" in str(error.value)
    assert state(repo) == main_before
    assert state(wt) == card_before
    assert current_branch(wt) == "card-1"


def test_dirty_main_checkout_touching_merged_files_is_refused(repo):
    commit_file(repo, "shared.txt", "original\n")
    wt = card(repo)
    commit_file(wt, "shared.txt", "card's change\n")
    (repo / "shared.txt").write_text("user's unsaved edit\n")
    main_before = rev_parse(repo, "main")

    with pytest.raises(GitError) as error:
        merge_card_branch(repo, "main", "card-1", message="m", worktree=wt)
    message = str(error.value)
    assert "shared.txt" in message
    assert "Commit or stash" in message
    assert (repo / "shared.txt").read_text() == "user's unsaved edit\n"
    assert rev_parse(repo, "main") == main_before


def test_dirty_main_checkout_with_unrelated_changes_merges_and_keeps_them(repo):
    commit_file(repo, "mine.txt", "committed\n")
    wt = card(repo)
    commit_file(wt, "feature.txt", "feature\n")
    (repo / "mine.txt").write_text("user's unsaved edit\n")
    (repo / "scratch.txt").write_text("user's untracked notes\n")

    result = merge_card_branch(repo, "main", "card-1", message="m", worktree=wt)

    assert rev_parse(repo, "HEAD") == result.commit
    assert (repo / "feature.txt").read_text() == "feature\n"
    assert (repo / "mine.txt").read_text() == "user's unsaved edit\n"
    assert (repo / "scratch.txt").read_text() == "user's untracked notes\n"
    assert dirty_paths(repo) == {"mine.txt", "scratch.txt"}


def test_an_ignored_file_where_the_merge_adds_one_is_refused(repo):
    # git's own fast-forward would silently overwrite an ignored file: we must not.
    commit_file(repo, ".gitignore", ".env\n")
    wt = card(repo)
    (wt / ".env").write_text("EXAMPLE=1\n")
    git(wt, "add", "-f", ".env")
    git(wt, "commit", "-q", "-m", "add an example .env")
    (repo / ".env").write_text("SECRET=user's own\n")

    with pytest.raises(GitError, match=r"\.env"):
        merge_card_branch(repo, "main", "card-1", message="m", worktree=wt)
    assert (repo / ".env").read_text() == "SECRET=user's own\n"


def test_base_not_checked_out_anywhere_moves_by_update_ref(repo):
    git(repo, "branch", "release")
    wt = ensure_worktree(repo, repo.parent / "wt", "card-1", "release").path
    commit_file(wt, "feature.txt", "feature\n")
    git(repo, "checkout", "-q", "-b", "elsewhere")
    (repo / "README.md").write_text("user's edit on another branch\n")
    assert checked_out_in(repo, "release") is None
    old = rev_parse(repo, "release")

    result = merge_card_branch(repo, "release", "card-1", strategy="squash", message="Squash")

    assert rev_parse(repo, "release") == result.commit
    assert git(repo, "show", "release:feature.txt") == "feature\n"
    assert git(repo, "rev-parse", f"{result.commit}^").strip() == old
    assert current_branch(repo) == "elsewhere"
    assert not (repo / "feature.txt").exists()
    assert (repo / "README.md").read_text() == "user's edit on another branch\n"
    assert "kanban-agents: squash card-1" in git(repo, "reflog", "show", "release")


def test_uncommitted_work_in_the_card_worktree_is_refused(repo):
    wt = card(repo)
    commit_file(wt, "feature.txt", "feature\n")
    (wt / "forgotten.txt").write_text("not committed\n")
    main_before = rev_parse(repo, "main")
    with pytest.raises(GitError, match=r"uncommitted changes \(forgotten\.txt\)"):
        merge_card_branch(repo, "main", "card-1", message="m", worktree=wt)
    assert rev_parse(repo, "main") == main_before


def test_nothing_to_merge_and_unknown_branches(repo):
    card(repo)
    with pytest.raises(GitError, match="nothing to merge"):
        merge_card_branch(repo, "main", "card-1", message="m")
    with pytest.raises(GitError, match="branch 'nope' does not exist"):
        merge_card_branch(repo, "main", "nope", message="m")
    with pytest.raises(ValueError, match="strategy"):
        merge_card_branch(repo, "main", "card-1", strategy="octopus", message="m")


def test_init_repository_and_tracked_files(tmp_path):
    from kanban_agents.core.git import init_repository, tracked_files

    project = tmp_path / "new"
    project.mkdir()
    init_repository(project, branch="trunk")
    assert current_branch(project) == "trunk" and tracked_files(project) == []
    (project / "café.py").write_text("x = 1\n")  # listed as it is, not quoted as "caf\303\251.py"
    (project / "a b.txt").write_text("y\n")
    assert commit_all(project, "first") == rev_parse(project, "HEAD")
    assert tracked_files(project) == ["a b.txt", "café.py"]
    with pytest.raises(GitError, match=r"git ls-files failed: .*not a git repository"):
        tracked_files(tmp_path)


def test_git_runs_only_through_core_git():
    """One way to run git: core/git.py's ``_git``. Anything else is listed here with its reason."""
    import re

    package = Path(__file__).parents[2] / "kanban_agents"
    allowed = {
        # The agent's list_files tool: async, scrubbed environment, a missing git is a fallback.
        "core/agent/tools.py",
    }
    runs_git = re.compile(
        r"""^\s*(import|from) git\b"""  # GitPython
        r"""|\[\s*["']git["']"""  # an argv for subprocess: ["git", ...]
        r"""|create_subprocess_exec\(\s*["']git["']""",
        re.M,
    )
    offenders = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.relative_to(package).as_posix() not in allowed | {"core/git.py"}
        and runs_git.search(path.read_text())
    )
    assert offenders == []
