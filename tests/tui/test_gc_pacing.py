"""Full garbage collections wait for the user to be idle (issue 10: under ten flooding agents,
Python's own full collections stopped the UI for 40-300 ms a dozen times a minute)."""

from __future__ import annotations

import gc

from kanban_agents.tui.gc_pacing import (
    CHECK_SECONDS,
    DUE_AFTER,
    IDLE_SECONDS,
    LONGEST_GAP,
    LONGEST_THAW,
    THAW_SECONDS,
    IdleCollector,
)


def _make_one_due() -> None:
    for _ in range(DUE_AFTER):
        gc.collect(1)  # each counts towards the next full collection, as Python's own do


def test_full_collections_run_when_idle_and_at_the_latest_after_the_longest_gap():
    now = [100.0]
    last_input = [100.0]
    collector = IdleCollector(lambda: last_input[0], clock=lambda: now[0])
    before = gc.get_threshold()
    collector.start()
    try:
        assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] > 100_000
        now[0] += IDLE_SECONDS / 2
        assert not collector.tick()  # typing: no full collection
        now[0] += CHECK_SECONDS + IDLE_SECONDS
        gc.collect()
        assert not collector.tick()  # idle, but none is due: an idle board is not scanned
        _make_one_due()
        assert collector.tick()  # idle now
        _make_one_due()
        assert not collector.tick()  # not again at once
        for _ in range(int(LONGEST_GAP // 1.0) - 1):  # a key every second: never idle
            now[0] += 1.0
            last_input[0] = now[0]
            assert not collector.tick()
        now[0] += 1.5
        last_input[0] = now[0]
        _make_one_due()
        assert collector.tick()  # but never longer than LONGEST_GAP without one
        assert collector.collections == 2
    finally:
        collector.stop()
    assert gc.get_threshold() == before


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_survivors_are_frozen_and_scanned_again_only_when_thawed():
    import weakref

    now = [100.0]
    last_input = [0.0]  # idle
    collector = IdleCollector(lambda: last_input[0], clock=lambda: now[0])
    collector.start()
    try:
        old = Node()
        lived = weakref.ref(old)
        now[0] += CHECK_SECONDS
        _make_one_due()
        assert collector.tick() and gc.get_freeze_count() > 0  # old is frozen now
        del old
        young = Node()
        died = weakref.ref(young)
        del young
        now[0] += CHECK_SECONDS
        _make_one_due()
        assert collector.tick() and collector.thaws == 0
        assert died() is None  # garbage made after the freeze: freed by the next collection
        assert lived() is not None  # frozen: not scanned (this is what makes it cheap)
        now[0] += THAW_SECONDS
        _make_one_due()
        assert collector.tick() and collector.thaws == 1  # idle long enough: thawed, scanned
        assert lived() is None
        # Typing without a pause: a thaw still comes after LONGEST_THAW.
        stuck = Node()
        stuck_ref = weakref.ref(stuck)
        _make_one_due()
        now[0] += CHECK_SECONDS
        collector.tick()
        del stuck
        while collector.thaws == 1:
            now[0] += LONGEST_GAP
            last_input[0] = now[0]
            _make_one_due()
            collector.tick()
            assert now[0] < 100.0 + THAW_SECONDS + LONGEST_THAW + 2 * LONGEST_GAP
        assert stuck_ref() is None
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0  # what it froze is Python's to scan again


async def test_the_app_puts_pythons_schedule_back_when_it_ends(tmp_path):
    from kanban_agents.core.board import BoardStore
    from kanban_agents.tui.app import KanbanApp

    board = tmp_path / "board"
    board.mkdir()
    before = gc.get_threshold()
    app = KanbanApp(BoardStore.open(board), watch=False, agents=False)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert gc.get_threshold()[2] != before[2]
    assert gc.get_threshold() == before
