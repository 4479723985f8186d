"""The board and worktrees: the top bar shows their disk use when over `[worktrees] warn_gb`
(measured in the background), W (and the palette's "Worktrees: clean up") removes those of done
and deleted cards, u runs setup again in the selected card's worktree."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.helpers import git, screen_text


@pytest.fixture
def board_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text(
        '[worktrees]\nwarn_gb = 0.0005\nsetup = ["echo again > .setup-ran"]\n'
    )
    (board / "old.md").write_text("---\ntitle: Old work\nstatus: done\n---\n\nDone.\n")
    (board / "feat.md").write_text("---\ntitle: A feature\nstatus: review\n---\n\nWork.\n")
    (repo / ".gitignore").write_text(".setup-ran\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "board")
    for card_id in ("old", "feat"):
        path = repo.parent / "repo-worktrees" / card_id
        git(repo, "worktree", "add", "-q", "-b", f"kanban/{card_id}", str(path), "main")
    (repo.parent / "repo-worktrees" / "old" / "big.bin").write_bytes(os.urandom(1_000_000))
    git(repo.parent / "repo-worktrees" / "old", "add", "big.bin")
    git(repo.parent / "repo-worktrees" / "old", "commit", "-qm", "big")
    git(repo, "merge", "-q", "kanban/old")
    return repo


async def until(pilot, condition, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await pilot.pause(0.05)


async def test_topbar_warns_about_disk_use_and_w_cleans_up(make_test_app, board_repo):
    app = make_test_app(board_repo / "board", agents=True, watch=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: "worktrees " in screen_text(app).splitlines()[0])
        assert "(W cleans up)" in screen_text(app).splitlines()[0]
        await pilot.press("W")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ChoiceDialog")
        await until(pilot, lambda: "Remove 1 worktree(s)" in screen_text(app))
        assert "cards (old)" in " ".join(screen_text(app).split())
        await pilot.click("#choice-gc")
        old = board_repo.parent / "repo-worktrees" / "old"
        await until(pilot, lambda: not old.exists())
        await until(
            pilot, lambda: any("Removed 1 worktree(s)" in n.message for n in app._notifications)
        )
        # what is left is under the threshold: the warning goes
        await until(pilot, lambda: "worktrees " not in screen_text(app).splitlines()[0])
    assert (board_repo.parent / "repo-worktrees" / "feat").is_dir()  # in review: kept


async def test_topbar_is_quiet_under_warn_gb(make_test_app, board_repo):
    (board_repo / "board" / "kanban.toml").write_text("[worktrees]\nwarn_gb = 5\n")
    app = make_test_app(board_repo / "board", agents=True, watch=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.worktree_bytes is not None)
        assert app.worktree_bytes > 1_000_000
        await pilot.pause()
        assert "worktrees " not in screen_text(app).splitlines()[0]


async def test_u_runs_setup_again_in_the_selected_cards_worktree(make_test_app, board_repo):
    app = make_test_app(board_repo / "board", agents=True, watch=False)
    marker = board_repo.parent / "repo-worktrees" / "feat" / ".setup-ran"
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert app.board.select_card_id("feat")
        await pilot.press("u")
        await until(pilot, marker.exists)
        await until(pilot, lambda: any("feat: setup done" in n.message for n in app._notifications))
    assert marker.read_text() == "again\n"


async def test_the_palette_offers_the_cleanup(make_test_app, board_repo):
    from kanban_agents.tui.keys import palette_commands

    titles = {title: action for title, _help, action in palette_commands()}
    assert titles["Worktrees: clean up"] == "clean_worktrees"
    assert titles["Agent: run setup again"] == "rerun_setup"
