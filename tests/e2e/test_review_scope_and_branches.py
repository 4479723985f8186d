"""Review that scales, in the board app: files the card did not ask for (card badge, Diff tab,
merge dialog), stale bases (``base +N``, ``R``) and pull requests (``P``). The card's agent ran
through the scripted model server in a real git repository; the app is driven with Pilot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, Static

from kanban_agents.core.board import BoardStore
from kanban_agents.core.runs import RunManager
from kanban_agents.tui.app import KanbanApp
from kanban_agents.tui.dialogs import ChoiceDialog
from tests.core.test_pull_request import PR_URL, gh, gh_calls, remote  # noqa: F401 (fixtures)
from tests.core.test_review import reviewed
from tests.core.test_runs import PY, make_card
from tests.e2e.test_review_flow import until
from tests.helpers import git, screen_text

FIXED_NOW = 1_790_000_000.0


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "check_sub.py").write_text("import calc\nassert calc.sub(3, 1) == 2\n")
    board = repo / "board"
    board.mkdir()
    make_card(board, "sub", tests=f"{PY} check_sub.py")  # files: [calc.py]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def worktree(project: Path) -> Path:
    return project.parent / "repo-worktrees" / "sub"


def open_app(project: Path) -> KanbanApp:
    store = BoardStore.open(project / "board")
    return KanbanApp(store, runs=RunManager(store), clock=lambda: FIXED_NOW, show_panel=True)


def card_view(app: KanbanApp, card_id: str = "sub"):
    return next(v for m in app.board.models for v in m.cards if v.id == card_id)


async def test_merge_dialog_asks_before_landing_files_the_card_did_not_ask_for(project):
    await reviewed(project)
    (worktree(project) / "notes.txt").write_text("the agent wandered off\n")
    head = git(project, "rev-parse", "HEAD")
    app = open_app(project)
    async with app.run_test(size=(180, 45)) as pilot:
        # the radar finds it: a badge on the card
        await until(pilot, lambda: card_view(app).scope != (), timeout=15, what="scope badge")
        await until(pilot, lambda: "⊘ scope" in screen_text(app), what="⊘ scope on screen")
        # the Diff tab says so above the diff
        await pilot.click("#cards-review", offset=(4, 1))
        await until(pilot, lambda: app.board.selected_card_id == "sub", what="card selected")
        await pilot.press("3")
        notice = app.panel.query_one("#diff-scope", Static)
        await until(pilot, lambda: notice.display, what="the Diff tab's scope notice")
        assert "outside the card's files: notes.txt" in screen_text(app)
        # the merge dialog lists it; enter lands on Cancel: nothing merges by accident
        await pilot.press("escape", "m")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="merge dialog")
        assert "outside the card's files: notes.txt" in screen_text(app)
        assert app.screen.focused is not None and app.screen.focused.id == "choice-cancel"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ChoiceDialog), what="dialog closed")
        await pilot.pause(0.3)
        assert git(project, "rev-parse", "HEAD") == head
        assert app.store.get("sub").status == "review"
        # the explicit yes merges it
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="merge dialog")
        merge_button = app.screen.query_one("#choice-merge", Button)
        assert str(merge_button.label) == "Merge them too"
        await pilot.press("left", "enter")
        await until(pilot, lambda: app.store.get("sub").status == "done", what="card done")
        await pilot.pause(0.2)
    assert (project / "notes.txt").exists()


def base_moves(project: Path, name: str, text: str) -> str:
    (project / name).write_text(text)
    git(project, "add", name)
    git(project, "commit", "-qm", f"base: {name}")
    return git(project, "rev-parse", "main").strip()


async def select_review_card(pilot, app: KanbanApp) -> None:
    await pilot.click("#cards-review", offset=(4, 1))
    await until(pilot, lambda: app.board.selected_card_id == "sub", what="card selected")


async def test_stale_card_shows_base_plus_n_and_R_rebases_it_and_runs_its_tests(project):
    await reviewed(project)
    tip = base_moves(project, "NEWS.md", "news\n")
    app = open_app(project)
    async with app.run_test(size=(180, 45)) as pilot:
        await until(pilot, lambda: card_view(app).behind == 1, timeout=15, what="base +1")
        await until(pilot, lambda: "base +1" in screen_text(app), what="base +1 on screen")
        await select_review_card(pilot, app)
        await pilot.press("R")
        await until(pilot, lambda: any(n.title == "Rebased" for n in app._notifications),
                    what="rebased")  # fmt: skip
        await until(
            pilot, lambda: "tests passed" in screen_text(app), what="new test run"
        )  # Tests tab
        await until(pilot, lambda: card_view(app).behind == 0, timeout=15, what="badge gone")
        await until(pilot, lambda: "base +" not in screen_text(app), what="base + gone")
    git(project, "merge-base", "--is-ancestor", tip, "kanban/sub")  # raises if not


async def test_R_on_a_conflicting_base_changes_nothing_and_offers_the_send_back(project):
    await reviewed(project)
    base_moves(project, "calc.py", "def add(a, b):\n    return b + a  # base changed this\n")
    before = git(project, "rev-parse", "kanban/sub")
    app = open_app(project)
    async with app.run_test(size=(180, 45)) as pilot:
        await select_review_card(pilot, app)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="conflict dialog")
        assert "would conflict in" in screen_text(app) and "calc.py" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.store.get("sub").status == "review"
    assert git(project, "rev-parse", "kanban/sub") == before


async def test_P_pushes_and_opens_a_pull_request_then_the_card_shows_it(project, remote, gh):  # noqa: F811
    await reviewed(project)
    app = open_app(project)
    async with app.run_test(size=(180, 45)) as pilot:
        await select_review_card(pilot, app)
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="PR dialog")
        assert "Open pull request" in screen_text(app) and "Open as draft" in screen_text(app)
        await pilot.press("enter")  # "Open pull request"
        await until(pilot, lambda: app.store.get("sub").meta.get("pr") == PR_URL, what="pr:")
        await until(pilot, lambda: card_view(app).pr == PR_URL, what="PR badge")
        await until(pilot, lambda: "⇡ PR" in screen_text(app), what="⇡ PR on screen")
    [create] = gh_calls(gh)
    assert create[:2] == ["pr", "create"] and "--draft" not in create
    assert "refs/heads/kanban/sub" in git(remote, "for-each-ref")
