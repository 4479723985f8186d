"""The run manager's seams: states as values (StrEnum), a cancel's cause deciding its outcome, a
broken subscriber reported through a hook (never printed), one factory for run records, one
writer of state.json, and the "is this run still hosted" decision in core."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import pytest

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import (
    CANCELLED,
    INTERRUPTED,
    CancelCause,
    RunFinished,
    RunPhase,
    StateChanged,
    event_from_dict,
)
from kanban_agents.core.paths import state_dir
from kanban_agents.core.records import HostWatch, RunRecords, RunState, run_records
from kanban_agents.core.review import Reviewer
from kanban_agents.core.runs import RunManager
from tests.core.test_runs import CALC, Harness, edit_sub, make_card
from tests.helpers import git


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text(CALC)
    board = repo / "board"
    board.mkdir()
    make_card(board, "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


async def _start_and_wait_for_model(h: Harness) -> None:
    h.server.add(edit_sub(), Reply(text="thinking...", delay=30))
    await h.start_card("sub")
    for _ in range(200):
        if len(h.server.requests) >= 2:
            break
        await asyncio.sleep(0.05)


def test_states_are_str_enums_read_back_as_members():
    event = event_from_dict({"kind": "finished", "card_id": "a", "run": 1, "state": "review"})
    assert event.state is RunPhase.REVIEW and event.state == "review"
    assert RunState.from_dict({"card_id": "a", "state": "interrupted"}).state is INTERRUPTED
    future = event_from_dict({"kind": "state", "card_id": "a", "run": 1, "state": "paused"})
    assert future.state == "paused"  # a newer version's state is kept as it is
    assert json.dumps(StateChanged("a", 1, state=RunPhase.QUEUED).as_dict()["state"]) == '"queued"'


async def test_stop_ends_a_running_run_interrupted_whatever_its_reason_says(project):
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await _start_and_wait_for_model(h)
        await h.runs.stop("interrupted from the command line")
    finished = h.of(RunFinished, "sub")[-1]
    assert finished.state is INTERRUPTED
    assert finished.reason == "interrupted from the command line"
    card = BoardStore.open(h.board).get("sub")
    assert card.run["state"] == "interrupted"  # written to the card as plain YAML


async def test_a_cancel_whose_reason_mentions_closed_is_still_cancelled(project):
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await _start_and_wait_for_model(h)
        assert h.runs.cancel("sub", "closed by you", CancelCause.BY_USER)
        status = await h.wait("sub", timeout=10)
        await h.runs.stop()
    assert status.state is CANCELLED and status.reason == "closed by you"


async def test_a_broken_subscriber_is_reported_to_the_hook_not_printed(project, capfd):
    reported = []
    with ScriptedServer([]) as server:
        h = Harness(project, server)

        def broken(event):
            raise RuntimeError("subscriber bug")

        h.runs.subscribe(broken)
        h.runs.on_subscriber_error = lambda error, what: reported.append((error, what))
        await h.runs.start(auto_start=False)
        h.runs.request("sub")  # not in the agent column: queued, announced, then dropped
        await h.runs.stop()
    err = capfd.readouterr().err
    assert "subscriber bug" not in err and "Traceback" not in err
    assert reported and isinstance(reported[0][0], RuntimeError)
    assert "broken" in reported[0][1] and "sub" in reported[0][1]
    assert h.of(StateChanged, "sub")  # the other subscribers still got the events


async def test_a_broken_subscriber_goes_to_the_log_by_default(project, capfd, caplog):
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        h.runs.subscribe(lambda event: 1 / 0)
        await h.runs.start(auto_start=False)
        with caplog.at_level(logging.ERROR, logger="kanban_agents.core.runs"):
            h.runs.request("sub")
        await h.runs.stop()
    assert "ZeroDivisionError" not in capfd.readouterr().err
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_every_reader_opens_the_same_records_redacting_the_same_keys(project, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-key-0123456789")
    store = BoardStore.open(project / "board")
    runs = RunManager(store)
    reviewer = Reviewer(store)
    factory = run_records(store)
    assert runs.records.root == reviewer.records.root == factory.root
    assert runs.records.root == state_dir(project / "board") / "runs"
    for records in (runs.records, reviewer.records, factory):
        assert records.redactor.text("key sk-live-key-0123456789") == "key [redacted]"


def test_state_updates_from_two_writers_are_all_kept(tmp_path):
    records = RunRecords(tmp_path / "runs")
    records.save_state(RunState("c", run=1))

    def bump(name):
        for _ in range(40):
            records.update_state("c", lambda s: s.extra.__setitem__(name, s.extra.get(name, 0) + 1))

    threads = [threading.Thread(target=bump, args=(n,)) for n in ("reviewer", "manager")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = records.load_state("c")
    assert state.extra == {"reviewer": 40, "manager": 40}


def test_host_watch_tells_a_lost_run_from_a_live_one(project):
    board = project / "board"
    records = run_records(BoardStore.open(board))
    now = [0.0]
    watch = HostWatch(records, board, "sub", grace=3, clock=lambda: now[0])
    assert not watch.lost()  # queued in a `run` process of its own: keep waiting
    watch.saw(StateChanged("sub", 1, state=RunPhase.RUNNING))
    lock = records.lock("sub")
    assert lock.acquire()
    now[0] = 10
    assert not watch.lost()  # a process holds the card
    lock.release()
    now[0] = 12
    assert not watch.lost()  # within the grace period
    now[0] = 13.5
    assert watch.lost()
