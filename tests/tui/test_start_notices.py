"""What the board says at start, and what it remembers between starts (issue 17)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import git


async def test_a_board_outside_git_warns_at_start(make_test_app, sample_board):
    """Agents need a git repository for their worktrees: say so when the board opens, not later
    as a failed run ("no API key")."""
    app = make_test_app(sample_board, agents=True, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
    assert any("not inside a git repository" in m and "git init" in m for m in messages), messages


async def test_a_board_inside_git_does_not_warn(make_test_app, sample_board: Path):
    root = sample_board.parent
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q",
        "--allow-empty", "-m", "initial")  # fmt: skip
    app = make_test_app(sample_board, agents=True, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
    assert not any("git repository" in m for m in messages), messages


async def test_the_chosen_theme_is_remembered_for_the_next_start(make_test_app, sample_board):
    from kanban_agents.config import user_config_path

    path = user_config_path()  # under the test's own XDG_CONFIG_HOME (tests/conftest.py)
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not path.exists()  # starting with the default theme writes nothing
        app.theme = "nord"
        await pilot.pause()
    assert 'theme = "nord"' in path.read_text()
    again = make_test_app(sample_board)
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert again.theme == "nord"
    assert path.read_text() == '[ui]\ntheme = "nord"\n'
