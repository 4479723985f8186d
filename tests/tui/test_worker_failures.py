"""Background work that fails is shown, never lost: a notification says what stopped and what to
do, the traceback lands in <git dir>/kanban-agents/logs/app.log, and a failed file watcher
restarts a few times before saying that live reload is off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import kanban_agents.tui.app as app_module
from kanban_agents.core.events import Notice
from kanban_agents.core.watch import watch_board
from tests.helpers import git, screen_text
from tests.tui.conftest import card

SIZE = (140, 40)
POLL = 0.05
LIMIT = 5.0  # seconds: a ceiling for the poll, never a speed assertion


async def eventually(pilot, predicate: Callable[[], bool]) -> bool:
    for _ in range(int(LIMIT / POLL)):
        if predicate():
            return True
        await pilot.pause(POLL)
    return predicate()


def app_log(repo: Path) -> Path:
    return repo / ".git" / "kanban-agents" / "logs" / "app.log"


@pytest.fixture
def repo_board(sample_board: Path) -> Path:
    """The sample board inside a git repository (where the app keeps its log)."""
    repo = sample_board.parent
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "Test")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "board")
    return sample_board


def notifications(app) -> str:
    return "\n".join(f"{n.title}: {n.message}" for n in app._notifications)


async def test_a_failing_worker_shows_the_error_and_the_way_out(repo_board, make_test_app):
    app = make_test_app(repo_board, watch=False)

    async def fail() -> None:
        raise OSError(28, "No space left on device")

    async with app.run_test(size=SIZE, notifications=True) as pilot:
        app.run_worker(fail, group="writes", exit_on_error=False)
        assert await eventually(pilot, lambda: "No space left on device" in screen_text(app))
        shown = notifications(app)
        assert "No space left on device" in shown
        assert "try the move again" in shown  # the way out
        assert "app.log" in shown  # where the details are
        assert app.is_running  # the app goes on
    log = app_log(repo_board.parent).read_text()
    assert "Traceback" in log and "OSError: [Errno 28] No space left on device" in log


async def test_a_watcher_that_keeps_failing_says_live_reload_is_off(
    repo_board, make_test_app, monkeypatch
):
    starts = []

    async def broken_watch(store, **_kwargs):
        starts.append(store)
        raise OSError("inotify watch limit reached")
        yield  # an async generator, like watch_board

    monkeypatch.setattr(app_module, "watch_board", broken_watch)
    monkeypatch.setattr(app_module, "WATCH_RESTART_DELAYS", (0.05, 0.05), raising=False)
    app = make_test_app(repo_board)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert await eventually(pilot, lambda: "Live reload is off" in notifications(app))
        assert len(starts) == 3  # the first start and two restarts
        shown = notifications(app)
        assert "inotify watch limit reached" in shown and "restart the app" in shown
        assert await eventually(pilot, lambda: "Live reload is off" in screen_text(app))
    log = app_log(repo_board.parent).read_text()
    assert log.count("OSError: inotify watch limit reached") == 3


async def test_a_watcher_that_failed_once_is_restarted(repo_board, make_test_app, monkeypatch):
    starts = []

    async def flaky_watch(store, **kwargs):
        starts.append(store)
        if len(starts) == 1:
            raise OSError("watcher hiccup")
        async for batch in watch_board(store, **kwargs):
            yield batch

    monkeypatch.setattr(app_module, "watch_board", flaky_watch)
    monkeypatch.setattr(app_module, "WATCH_RESTART_DELAYS", (0.05, 0.05), raising=False)
    app = make_test_app(repo_board)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert await eventually(pilot, lambda: len(starts) == 2)
        await pilot.pause(0.3)  # the restarted awatch is listening
        for attempt in range(int(LIMIT / 0.5)):
            (repo_board / "zz-late.md").write_text(card(f"Written outside {attempt}", "done", 9))
            for _ in range(10):
                await pilot.pause(POLL)
            if "Written outside" in screen_text(app):
                break
        assert "Written outside" in screen_text(app)
        assert "Live reload is off" not in notifications(app)
    assert "OSError: watcher hiccup" in app_log(repo_board.parent).read_text()


async def test_a_broken_event_subscriber_is_reported(repo_board, make_test_app):
    app = make_test_app(repo_board, watch=False, agents=True)

    def broken(event) -> None:
        raise ValueError("subscriber bug")

    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert app.session.agents_on
        if not hasattr(app.session.runs, "on_subscriber_error"):
            pytest.skip("the run manager reports no subscriber errors yet")
        app.session.runs.subscribe(broken)
        app.session.runs.emit(Notice("export-csv", 1, "hello"), record=False)
        assert await eventually(pilot, lambda: "subscriber bug" in notifications(app))
        assert "restart the app" in notifications(app)
        await app.session.runs.stop()
    assert "ValueError: subscriber bug" in app_log(repo_board.parent).read_text()
