"""Edits from outside writers (MCP, scripts): keys and body in one minimal-diff write, the board's
own keys refused, and reviewer notes appended under one heading, whatever the body looks like."""

from __future__ import annotations

import pytest

from kanban_agents.core.board import BoardError, BoardStore, CardConflict
from kanban_agents.core.card_edits import REVIEWER_NOTES, update_card, with_note

CARD = "---\ntitle: T\nstatus: todo\n# keep me\nlabels: [a, b]\n---\n\n## Task\n\nDo it.\n"
LINE = "- 2026-12-02 (mcp): note\n"


@pytest.fixture
def store(tmp_path) -> BoardStore:
    board = tmp_path / "board"
    board.mkdir()
    (board / "t.md").write_text(CARD)
    return BoardStore.open(board)


def test_keys_and_body_change_in_one_write_and_nothing_else(store):
    update_card(store, "t", {"priority": "P1", "labels": None}, "\n## Task\n\nDo it well.\n")
    assert (store.root / "t.md").read_text() == (
        "---\ntitle: T\nstatus: todo\n# keep me\npriority: P1\n---\n\n## Task\n\nDo it well.\n"
    )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"run": {"state": "review"}}, "the board keeps these itself"),
        ({"branch": "x", "merged": True}, "cannot set branch, merged"),
        ({"status": "done"}, "with a move"),
        ({}, "nothing to change"),
    ],
)
def test_the_boards_own_keys_and_the_column_are_refused(store, changes, message):
    with pytest.raises(BoardError, match=message):
        update_card(store, "t", changes)
    assert (store.root / "t.md").read_text() == CARD


def test_an_edit_on_disk_since_the_caller_looked_is_not_clobbered(store):
    seen = store.get("t")
    (store.root / "t.md").write_text(CARD.replace("Do it.", "Do it now."))
    with pytest.raises(CardConflict):
        update_card(store, "t", {"priority": "P2"}, expect=seen)
    assert "Do it now." in (store.root / "t.md").read_text()


@pytest.mark.parametrize(
    "body, expected",
    [
        ("", f"{REVIEWER_NOTES}\n\n{LINE}"),
        ("\n## Task\n\nDo it.\n", f"\n## Task\n\nDo it.\n\n{REVIEWER_NOTES}\n\n{LINE}"),
        ("\n## Task\n\nDo it.", f"\n## Task\n\nDo it.\n\n{REVIEWER_NOTES}\n\n{LINE}"),
        (  # an existing section gets the line at its end, before the next heading
            f"\n{REVIEWER_NOTES}\n\n- first\n\n## Done when\n\nok\n",
            f"\n{REVIEWER_NOTES}\n\n- first\n{LINE}\n## Done when\n\nok\n",
        ),
        (f"\n{REVIEWER_NOTES}\n\n- first\n", f"\n{REVIEWER_NOTES}\n\n- first\n{LINE}"),
        (f"\n{REVIEWER_NOTES}\n", f"\n{REVIEWER_NOTES}\n\n{LINE}"),
        (f"\n{REVIEWER_NOTES}", f"\n{REVIEWER_NOTES}\n\n{LINE}"),
    ],
)
def test_notes_land_at_the_end_of_their_section(body, expected):
    assert with_note(body, LINE) == expected
