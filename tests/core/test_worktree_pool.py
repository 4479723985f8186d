"""The warm pool on a real repository: spares made in the background, a starting card takes
one (at the base's current tip), half-made or dirty spares are never handed out, and a
discarded card's worktree goes back to the pool cleaned."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import LogLine
from kanban_agents.core.git import GitError
from kanban_agents.core.review import Reviewer
from kanban_agents.core.worktree_pool import READY, WarmPool
from tests.core.test_runs import CALC, Harness, edit_sub, finish, make_card
from tests.helpers import git


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text(CALC)
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("[worktrees]\npool = 2\n")
    make_card(board, "sub")
    make_card(board, "other")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def pool_of(project: Path, size: int = 2) -> WarmPool:
    return WarmPool(project, project.parent / "repo-worktrees", size)


async def until(condition, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_starting_card_takes_a_spare_at_the_current_base_tip_and_the_pool_refills(
    project,
):
    pool = pool_of(project)
    with ScriptedServer([edit_sub(), finish()]) as server:
        h = Harness(project, server)
        await h.runs.start()  # the board opens: spares are made in the background
        await until(lambda: len(pool.ready()) == 2)
        spares_before = set(pool.ready())
        # the base moves on after the spares were made
        (project / "NEWS.md").write_text("news\n")
        git(project, "add", "NEWS.md")
        git(project, "commit", "-qm", "news")
        tip = git(project, "rev-parse", "HEAD").strip()
        await h.start_card("sub")
        status = await h.wait("sub")
        assert status.state == "review", status.reason
        await until(lambda: len(pool.ready()) == 2)  # refilled after the start
        await h.runs.stop()
    worktree = project.parent / "repo-worktrees" / "sub"
    log = [e.text for e in h.of(LogLine, "sub") if e.stream == "git"]
    assert any(line.startswith("took a spare from the warm pool as worktree") for line in log)
    assert (worktree / "NEWS.md").read_text() == "news\n"  # at the base's tip, not the spare's
    assert git(worktree, "rev-parse", "HEAD~1").strip() == tip  # the agent's commit on top
    assert git(worktree, "branch", "--show-current").strip() == "kanban/sub"
    assert len(spares_before - set(pool.ready())) == 1  # exactly one spare was used


def test_a_half_made_spare_is_rebuilt_and_a_dirty_one_never_handed_out(project):
    pool = pool_of(project)
    assert pool.fill() == 2
    half = pool.dir / "spare-crashed"
    git(project, "worktree", "add", "-q", "--detach", "--no-checkout", str(half), "HEAD")
    dirty = pool.ready()[0]
    (dirty / "calc.py").write_text("someone wrote here\n")
    clean = pool.ready()[1]

    assert half in pool.repair() and not half.exists()
    target = project.parent / "repo-worktrees" / "card-a"
    head = git(project, "rev-parse", "HEAD").strip()
    assert pool.take(target, "kanban/card-a", head) == target
    assert not dirty.exists()  # thrown away, not handed out
    assert not clean.exists() and (target / "calc.py").read_text() == CALC
    assert git(target, "status", "--porcelain") == ""
    # the base did not move: the spare only got its branch
    assert git(target, "branch", "--show-current").strip() == "kanban/card-a"
    assert git(target, "rev-parse", "HEAD").strip() == head
    assert git(project, "rev-parse", "kanban/card-a").strip() == head
    assert pool.take(project.parent / "repo-worktrees" / "card-b", "kanban/card-b", head) is None
    assert pool.fill() == 2 and len(pool.ready()) == 2


async def test_a_discarded_card_goes_back_to_the_pool_clean_keeping_only_included_files(project):
    (project / ".gitignore").write_text(".env\nbuild/\n")
    (project / ".worktreeinclude").write_text(".env\n")
    (project / ".env").write_text("A=1\n")
    git(project, "add", ".gitignore", ".worktreeinclude")
    git(project, "commit", "-qm", "ignores")
    (project / "board" / "kanban.toml").write_text("[worktrees]\npool = 1\n")
    with ScriptedServer([edit_sub(), finish()]) as server:
        h = Harness(project, server)
        await h.runs.start()
        pool = pool_of(project, 1)
        await until(lambda: len(pool.ready()) == 1)
        await h.start_card("sub")
        assert (await h.wait("sub")).state == "review"
        await h.runs.stop()  # the refill after the start is cancelled or done: pool may be 0-1
    worktree = project.parent / "repo-worktrees" / "sub"
    (worktree / "build").mkdir()
    (worktree / "build" / "out.o").write_text("object\n")
    (worktree / "scratch.txt").write_text("untracked\n")
    for spare in pool.ready():  # make room: the pool is below its size
        pool._discard(spare)
        spare.with_name(spare.name + READY).unlink(missing_ok=True)
    Reviewer(BoardStore.open(project / "board")).discard("sub")
    assert not worktree.exists()
    (spare,) = pool.ready()
    assert (spare / ".env").read_text() == "A=1\n"  # kept: .worktreeinclude names it
    assert not (spare / "build").exists() and not (spare / "scratch.txt").exists()
    assert "def sub" not in (spare / "calc.py").read_text()  # back at the base
    assert git(spare, "status", "--porcelain", "--ignored") == "!! .env\n"
    assert "kanban/sub" not in git(project, "branch", "--list")


def test_spares_beyond_the_pool_size_are_listed_as_orphans_and_gc_removes_them(project):
    import json
    import subprocess
    import sys

    pool_of(project, 2).fill()
    (project / "board" / "kanban.toml").write_text("[worktrees]\npool = 1\n")

    def kanban(*args):
        proc = subprocess.run([sys.executable, "-m", "kanban_agents", "--board",
                               str(project / "board"), *args], capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    entries = json.loads(kanban("worktrees", "--json"))
    assert [e["state"] for e in entries] == ["spare", "spare"]
    assert sorted(str(e["orphan"]) for e in entries) == ["None", "spare beyond [worktrees] pool"]
    assert "1 worktree(s) removed" in kanban("gc")
    assert len(pool_of(project, 1).ready()) == 1


def dirty_spare(spare: Path, how: str) -> None:
    """Change a spare after the pool checked it clean, the ways a stray process could."""
    if how == "edit":
        (spare / "calc.py").write_text("someone wrote here\n")
    elif how == "new file deep down":
        (spare / "new" / "dir").mkdir(parents=True)
        (spare / "new" / "dir" / "file.txt").write_text("stray\n")
    elif how == "delete":
        (spare / "calc.py").unlink()
    elif how == "chmod":
        (spare / "calc.py").chmod(0o755)
    elif how == "staged only":  # the index changes, no file in the checkout does
        (spare.parent / "other.txt").write_text("other\n")  # outside the spare
        blob = git(spare, "hash-object", "-w", str(spare.parent / "other.txt")).strip()
        git(spare, "update-index", "--cacheinfo", f"100644,{blob},calc.py")


@pytest.mark.parametrize("how", ["edit", "new file deep down", "delete", "chmod", "staged only"])
def test_a_spare_dirtied_after_it_was_checked_is_never_handed_out(project, how):
    pool = pool_of(project, 1)
    assert pool.fill() == 1  # made, then checked clean under its watch
    (spare,) = pool.ready()
    dirty_spare(spare, how)
    head = git(project, "rev-parse", "HEAD").strip()
    target = project.parent / "repo-worktrees" / "card-a"
    assert pool.take(target, "kanban/card-a", head) is None  # the caller creates one instead
    assert not spare.exists() and not target.exists()
    assert "kanban/card-a" not in git(project, "branch", "--list")


def test_a_clean_spare_is_taken_without_a_git_status_of_its_checkout(project, monkeypatch):
    from kanban_agents.core import git as kgit

    pool = pool_of(project, 1)
    pool.fill()
    (spare,) = pool.ready()
    (spare / "calc.py").read_text()  # reading is no change
    statuses = []
    real = kgit.dirty_paths
    monkeypatch.setattr(kgit, "dirty_paths", lambda root: statuses.append(root) or real(root))
    head = git(project, "rev-parse", "HEAD").strip()
    target = project.parent / "repo-worktrees" / "card-a"
    assert pool.take(target, "kanban/card-a", head) == target
    assert statuses == []  # the watch answered: nothing changed since the check
    assert git(target, "status", "--porcelain") == ""


def test_spares_another_process_made_are_checked_when_the_pool_fills_and_when_taken(project):
    pool_of(project, 2).fill()
    dirty, clean = pool_of(project, 2).ready()
    (dirty / "calc.py").write_text("someone wrote here\n")
    other = pool_of(project, 2)  # another board: no watch on these spares
    head = git(project, "rev-parse", "HEAD").strip()
    first = project.parent / "repo-worktrees" / "card-a"
    assert other.take(first, "kanban/card-a", head) == first  # the dirty one thrown away
    assert not dirty.exists() and not clean.exists()  # the clean one became the card's
    assert (first / "calc.py").read_text() == CALC

    pool_of(project, 1).fill()
    (spare,) = pool_of(project, 1).ready()
    (spare / "stray.txt").write_text("stray\n")
    later = pool_of(project, 1)
    assert later.fill() == 1  # checked when it filled: the dirty spare replaced
    assert not spare.exists()
    (fresh,) = later.ready()
    assert not (fresh / "stray.txt").exists()


def test_a_worktree_given_back_and_dirtied_before_its_check_is_never_handed_out(project):
    pool = pool_of(project, 1)
    head = git(project, "rev-parse", "HEAD").strip()
    card = project.parent / "repo-worktrees" / "card-a"
    git(project, "worktree", "add", "-q", "-b", "kanban/card-a", str(card), head)
    (card / "work.txt").write_text("the card's work\n")
    assert pool.give_back(card)  # reset and cleaned; checked when the pool next fills
    (spare,) = pool.ready()
    assert not (spare / "work.txt").exists()
    (spare / "calc.py").write_text("someone wrote here\n")
    target = project.parent / "repo-worktrees" / "card-b"
    assert pool.take(target, "kanban/card-b", head) is None
    assert not spare.exists()


def test_a_repository_whose_fresh_checkout_is_dirty_gets_no_spares_and_says_why(project):
    (project / "crlf.txt").write_bytes(b"a\r\nb\r\n")
    git(project, "add", "crlf.txt")
    git(project, "commit", "-qm", "a file with CRLF line endings")
    (project / ".gitattributes").write_text("*.txt text\n")  # a checkout shows it modified
    git(project, "add", ".gitattributes")
    git(project, "commit", "-qm", "normalise text files")
    pool = pool_of(project, 2)
    with pytest.raises(GitError, match=r"fresh checkout .* is not clean"):
        pool.fill()  # once: not a spare made and thrown away forever
    assert pool.ready() == [] and [p for p in pool.dir.iterdir() if p.is_dir()] == []
