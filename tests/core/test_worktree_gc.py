"""`kanban-agents worktrees` and `gc` on a real repository: every worktree the board made is
listed with its card, state, disk use and age; gc removes orphans (card gone or done) and only
those, keeps uncommitted work unless forced, and says when it keeps an unmerged branch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import git

PY = sys.executable


def kanban(repo: Path, *args: str, rc: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [PY, "-m", "kanban_agents", "--board", str(repo / "board"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == rc, (proc.stdout, proc.stderr)
    return proc


def card(board: Path, card_id: str, status: str) -> None:
    (board / f"{card_id}.md").write_text(f"---\ntitle: {card_id}\nstatus: {status}\n---\n\nWork.\n")


def worktree(repo: Path, card_id: str) -> Path:
    path = repo.parent / "repo-worktrees" / card_id
    git(repo, "worktree", "add", "-q", "-b", f"kanban/{card_id}", str(path), "main")
    (path / "big.bin").write_bytes(os.urandom(200_000))  # measurable disk use
    return path


@pytest.fixture
def board_repo(repo: Path) -> Path:
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("[worktrees]\nstale_days = 7\n")
    for card_id, status in [("done-card", "done"), ("busy", "in-progress"), ("dirty", "done")]:
        card(board, card_id, status)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "board")
    for card_id in ("done-card", "busy", "dirty", "gone", "gone-unmerged"):
        path = worktree(repo, card_id)
        if card_id != "dirty":
            git(path, "add", "big.bin") if card_id == "gone-unmerged" else None
    git(repo.parent / "repo-worktrees" / "gone-unmerged", "commit", "-qm", "work nobody merged")
    for card_id in ("done-card", "busy", "gone"):
        (repo.parent / "repo-worktrees" / card_id / "big.bin").unlink()  # clean trees
    (repo.parent / "repo-worktrees" / "busy" / "big.bin").write_bytes(b"x")
    git(repo.parent / "repo-worktrees" / "busy", "status")
    return repo


def test_worktrees_lists_card_state_branch_disk_age_and_orphans(board_repo):
    data = {e["card"]: e for e in json.loads(kanban(board_repo, "worktrees", "--json").stdout)}
    assert set(data) == {"done-card", "busy", "dirty", "gone", "gone-unmerged"}
    assert data["gone"]["orphan"] == "card gone" and data["gone-unmerged"]["orphan"] == "card gone"
    assert data["done-card"]["orphan"] == "card done" and data["dirty"]["dirty"] is True
    assert data["busy"]["orphan"] is None and data["busy"]["state"] == "in-progress"
    assert data["busy"]["branch"] == "kanban/busy"
    assert data["dirty"]["disk_bytes"] > 200_000  # its 200 KB file counts
    assert all(e["age_seconds"] < 600 and e["stale"] is False for e in data.values())
    text = kanban(board_repo, "worktrees").stdout
    assert "5 worktree(s)" in text and "4 orphan(s)" in text and "[card gone]" in text


def test_gc_dry_run_then_gc_removes_only_orphans_and_says_why(board_repo):
    root = board_repo.parent / "repo-worktrees"
    dry = kanban(board_repo, "gc", "--dry-run").stdout
    assert "would remove" in dry and "dry run: 3 worktree(s)" in dry
    assert all((root / c).is_dir() for c in ("done-card", "gone", "gone-unmerged", "dirty"))

    out = kanban(board_repo, "gc").stdout
    assert not (root / "gone").exists() and not (root / "done-card").exists()
    assert not (root / "gone-unmerged").exists()
    # uncommitted work stays, and the user is told how to remove it anyway
    assert (root / "dirty" / "big.bin").exists()
    assert "kept" in out and "uncommitted changes (--force removes them)" in out
    # the branch holding commits main lacks is kept, and said so
    assert "kept branch kanban/gone-unmerged: 1 commit(s) not in main" in out
    assert "kanban/gone-unmerged" in git(board_repo, "branch", "--list")
    assert "kanban/gone" not in git(board_repo, "branch", "--list", "kanban/gone")
    assert "freed" in out and "3 worktree(s) removed" in out
    # the card in progress is untouched; git no longer lists what was removed
    listed = git(board_repo, "worktree", "list")
    assert str(root / "busy") in listed and str(root / "gone") not in listed

    forced = kanban(board_repo, "gc", "--force").stdout
    assert not (root / "dirty").exists() and "1 worktree(s) removed" in forced


def test_gc_older_than_keeps_recent_worktrees(board_repo):
    root = board_repo.parent / "repo-worktrees"
    out = kanban(board_repo, "gc", "--older-than", "7d").stdout
    assert "0 worktree(s) removed" in out and (root / "gone").is_dir()
    old = time.time() - 10 * 86400
    admin = board_repo / ".git" / "worktrees" / "gone"
    for path in (root / "gone", admin, admin / "index", admin / "HEAD"):
        if path.exists():
            os.utime(path, (old, old))
    data = {e["card"]: e for e in json.loads(kanban(board_repo, "worktrees", "--json").stdout)}
    assert data["gone"]["stale"] is True and data["gone"]["age_seconds"] > 9 * 86400
    out = kanban(board_repo, "gc", "--older-than", "7d").stdout
    assert not (root / "gone").exists() and (root / "done-card").is_dir()
    assert "1 worktree(s) removed" in out


def test_gc_prunes_a_worktree_deleted_by_hand_and_rejects_a_bad_age(board_repo):
    import shutil

    shutil.rmtree(board_repo.parent / "repo-worktrees" / "gone")
    kanban(board_repo, "gc", "--older-than", "30d")
    listed = git(board_repo, "worktree", "list", "--porcelain").splitlines()
    assert f"worktree {board_repo.parent / 'repo-worktrees' / 'gone'}" not in listed
    bad = kanban(board_repo, "gc", "--older-than", "soon", rc=1)
    assert "'soon' is not an age: write it like 7d" in bad.stderr
