"""The whole flow in the TUI, through the scripted model server: drag a card to In Progress, the
agent edits a file, the tests pass, the card lands in Review with its diff in the panel, and the
user merges it, sends it back, or meets a conflict or a dirty checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kanban_agents.core.agent.model import OpenAIModel
from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.board import BoardStore
from kanban_agents.core.runs import RunManager
from kanban_agents.tui.app import KanbanApp
from kanban_agents.tui.dialogs import ChoiceDialog, TextDialog
from tests.core.test_runs import edit_sub, finish, make_card
from tests.helpers import git, screen_text

FIXED_NOW = 1_790_000_000.0
TOKENS = {"prompt_tokens": 100, "completion_tokens": 20}  # fixed counts keep snapshots stable


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    board = repo / "board"
    board.mkdir()
    # python3 from PATH, not this interpreter's path: the log snapshot shows the command
    make_card(board, "sub", tests='python3 -c "import calc; assert calc.sub(3, 1) == 2"')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def turns() -> list[Reply]:
    first, second = edit_sub(), finish("Added sub to calc.py.")
    for reply in (first, second):
        reply.prompt_tokens, reply.completion_tokens = (
            TOKENS["prompt_tokens"],
            TOKENS["completion_tokens"],
        )
    return [first, second]


def make_app(project: Path, server: ScriptedServer) -> KanbanApp:
    store = BoardStore.open(project / "board")
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-e2e-secret-0000"}

    def model(profile, environ, on_retry):
        return OpenAIModel(profile, environ, on_retry=on_retry, retry_delays=(0.01,))

    runs = RunManager(store, environ=env, model_factory=model)
    return KanbanApp(store, runs=runs, clock=lambda: FIXED_NOW, show_panel=True)


async def until(pilot, condition, timeout: float = 30.0, what: str = "condition") -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"{what} not met in {timeout}s; screen:\n{screen_text(pilot.app)}")


async def drag_to_in_progress(pilot) -> None:
    await pilot.pause()
    await pilot.mouse_down("#cards-todo", offset=(4, 1))
    await pilot.hover("#cards-in-progress", offset=(4, 1))
    await pilot.mouse_up("#cards-in-progress", offset=(4, 1))


async def run_to_review(pilot, app: KanbanApp) -> None:
    await drag_to_in_progress(pilot)
    await until(pilot, lambda: app.session.runs.status.get("sub") and app.session.runs.status["sub"].state == "review",
                what="card in review")  # fmt: skip
    await until(pilot, lambda: app.store.get("sub").status == "review", what="card file in review")


async def test_drag_run_review_diff_merge(project):
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            assert app.board.selected_card_id == "sub"  # the selection follows the card
            # the board redraws the card a moment after its file says review
            await until(pilot, lambda: "✔ review" in screen_text(app), what="review badge")
            await pilot.press("3")  # Diff tab
            await until(
                pilot, lambda: "+def sub(a, b):" in app.panel.diff_text(), what="diff in panel"
            )
            assert "calc.py" in screen_text(app) and "+def sub(a, b):" in screen_text(app)
            await pilot.press("2")  # Log tab
            await until(pilot, lambda: "tests passed" in app.panel.log_text(), what="log in panel")
            assert "▶ edit_file(" in app.panel.log_text()
            await pilot.press("escape", "m")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="merge dialog")
            assert "no conflicts" in screen_text(app)
            await pilot.press("enter")
            await until(pilot, lambda: app.store.get("sub").status == "done", what="card done")
            await pilot.pause(0.2)
    assert "def sub" in (project / "calc.py").read_text()  # the base branch has the change
    assert not (project.parent / "repo-worktrees" / "sub").exists()
    assert "kanban/sub" not in git(project, "branch", "--list")
    assert BoardStore.open(project / "board").get("sub").meta["merged"]


async def test_conflict_is_shown_and_sent_back_with_the_conflict(project):
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            (project / "calc.py").write_text(
                "def add(a, b):\n    return b + a  # base changed this\n"
            )
            git(project, "commit", "-qam", "base edit")
            head = git(project, "rev-parse", "HEAD")

            def badge() -> tuple[str, ...]:
                return next(v for m in app.board.models for v in m.cards if v.id == "sub").notices

            # The radar notices the base moved (nothing on the board changed) within seconds.
            await until(pilot, lambda: badge() == ("would conflict with the base branch in calc.py",),
                        timeout=15, what="the radar badge")  # fmt: skip
            server.add(
                Reply(
                    text="Merging main.",
                    tool_calls=[ToolCallSpec("run", {"command": "true"})],
                    delay=5,
                )
            )
            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="conflict dialog")
            text = screen_text(app)
            assert "would conflict in" in text and "calc.py" in text
            assert git(project, "rev-parse", "HEAD") == head  # nothing changed yet
            await pilot.press("enter")  # "Send back with the conflict"
            await until(pilot, lambda: len(server.requests) >= 3, what="the agent resumed")
            assert "git merge main" in server.requests[2]["messages"][-1]["content"]
            card = app.store.get("sub")
            assert card.status == "in-progress" and "## Review notes" in card.body
            app.session.runs.cancel("sub")
            await pilot.pause(0.2)


async def test_dirty_main_checkout_refuses_merge_and_keeps_local_work(project):
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            (project / "calc.py").write_text(
                "def add(a, b):\n    return a + b\n# my local change\n"
            )
            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="merge dialog")
            await pilot.press("enter")
            await until(pilot, lambda: any("Merge refused" in (n.title or "") for n in app._notifications),
                        what="refusal")  # fmt: skip
            message = next(n.message for n in app._notifications if n.title == "Merge refused")
            assert "calc.py" in message
            assert app.store.get("sub").status == "review"
    assert (project / "calc.py").read_text().endswith("# my local change\n")


async def test_send_back_round_reaches_the_model(project):
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            server.add(finish("Added a docstring."))
            await pilot.press("b")
            await until(pilot, lambda: isinstance(app.screen, TextDialog), what="feedback dialog")
            await pilot.press(*"Add a docstring to sub.")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: len(server.requests) >= 3, what="second round")
            await until(pilot, lambda: app.session.runs.status["sub"].state == "review" and app.session.runs.status["sub"].run == 2,
                        what="back in review")  # fmt: skip
            messages = server.requests[2]["messages"]
    assert "Add a docstring to sub." in messages[-1]["content"]
    assert "### Round 1" in BoardStore.open(project / "board").get("sub").body


def test_log_and_diff_tab_snapshots(project, snap_compare):
    server = ScriptedServer(turns()).start()
    app = make_app(project, server)

    async def run_before(pilot) -> None:
        await run_to_review(pilot, app)
        await pilot.press("2")
        await until(
            pilot, lambda: "run 1 ended: review" in app.panel.log_text(), what="log complete"
        )
        await pilot.pause(0.2)

    try:
        assert snap_compare(app, terminal_size=(180, 45), run_before=run_before)
    finally:
        server.stop()


def test_diff_tab_snapshot(project, snap_compare):
    server = ScriptedServer(turns()).start()
    app = make_app(project, server)

    async def run_before(pilot) -> None:
        await run_to_review(pilot, app)
        await pilot.press("3")
        await until(pilot, lambda: "+def sub(a, b):" in app.panel.diff_text(), what="diff")
        await pilot.pause(0.2)

    try:
        assert snap_compare(app, terminal_size=(180, 45), run_before=run_before)
    finally:
        server.stop()
