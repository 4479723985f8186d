"""BoardSession: intents in, one typed event stream out, over real repos and a scripted model."""

from __future__ import annotations

import asyncio

import pytest

from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import RunFinished
from kanban_agents.core.session import (
    ActionFailed,
    AgentsOff,
    BackgroundFailed,
    BoardChanged,
    BoardSession,
    MergeConflict,
)
from tests.core.test_review import project, reviewed  # noqa: F401 - fixtures
from tests.core.test_runs import edit_sub, finish, make_card
from tests.helpers import git


def test_a_move_reaches_every_subscriber_as_a_board_change(tmp_path):
    board = tmp_path / "board"
    board.mkdir()
    make_card(board, "a")
    session = BoardSession(BoardStore.open(board), agents=False)
    seen = []
    session.subscribe(seen.append)
    session.move("a", "review")
    assert [type(e) for e in seen] == [BoardChanged]
    assert seen[0].change.card_id == "a" and session.store.get("a").status == "review"


def test_a_broken_subscriber_is_reported_to_the_others_and_logged(repo):
    board = repo / "board"
    board.mkdir()
    make_card(board, "a")
    session = BoardSession(BoardStore.open(board), agents=False)

    def broken(_event):
        raise RuntimeError("the view fell over")

    seen = []
    session.subscribe(broken)
    session.subscribe(seen.append)
    session.move("a", "review")
    failures = [e for e in seen if isinstance(e, BackgroundFailed)]
    assert failures and failures[0].error == "RuntimeError: the view fell over"
    log = failures[0].log_file
    assert log is not None and log == repo / ".git" / "kanban-agents" / "logs" / "app.log"
    assert "the view fell over" in log.read_text() and "Traceback" in log.read_text()


def test_run_with_agents_off_says_so_and_moves_nothing(tmp_path):
    board = tmp_path / "board"
    board.mkdir()
    make_card(board, "a")
    session = BoardSession(BoardStore.open(board), agents=False)
    with pytest.raises(AgentsOff):
        session.run("a")
    assert session.store.get("a").status == "todo"
    assert session.status("a") is None and session.statuses() == {}


async def test_diff_log_and_merge_through_the_session(project):  # noqa: F811
    await reviewed(project)
    session = BoardSession(BoardStore.open(project / "board"))
    view = await asyncio.to_thread(session.diff, "sub")
    assert view.worktree is not None and not view.live
    assert "kanban/sub → " in view.where() and "def sub" in "\n".join(
        f.patch for f in view.diff.files
    )
    history = session.log("sub")
    assert history.run == 1 and any(isinstance(e, RunFinished) for e in history.events)
    outcome = await asyncio.to_thread(session.merge, "sub")
    assert "def sub" in (project / "calc.py").read_text()
    assert session.store.get("sub").status == "done" and outcome.commit
    # The branch is gone now: the diff of a merged card says why there is none, in one line.
    with pytest.raises(ActionFailed):
        session.diff("sub")


async def test_a_merge_conflict_is_a_typed_error_with_its_files(project):  # noqa: F811
    await reviewed(project)
    (project / "calc.py").write_text("def add(a, b):\n    return b + a  # commutative\n")
    git(project, "commit", "-qam", "base edit")
    session = BoardSession(BoardStore.open(project / "board"))
    with pytest.raises(MergeConflict) as caught:
        await asyncio.to_thread(session.merge, "sub")
    assert caught.value.files == ["calc.py"]


async def test_started_session_relays_run_events_and_rescans_the_radar(project):  # noqa: F811
    with ScriptedServer([edit_sub(), finish("Added sub.")]) as server:
        from tests.core.test_runs import Harness

        harness = Harness(project, server)
        session = BoardSession(harness.store, runs=harness.runs)
        seen = []
        session.subscribe(seen.append)
        await session.start(host=False)
        await asyncio.to_thread(session.move, "sub", "in-progress")
        status = await harness.wait("sub")
        await asyncio.sleep(1.5)  # the radar's debounce
        await session.stop()
    assert status.state == "review"
    assert any(isinstance(e, RunFinished) for e in seen)
    assert any(isinstance(e, BoardChanged) for e in seen)
    assert session.radar_scans >= 1  # the finished run's branch was scanned
