"""BoardStore on real files: grouping, moves, atomic writes, conflicts, malformed files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kanban_agents.core.board import BoardError, BoardStore, CardConflict
from kanban_agents.core.card import CardError
from tests.helpers import git, write_card


def card_text(title: str, status: str = "todo", order: int | None = None, extra: str = "") -> str:
    order_line = f"order: {order}\n" if order is not None else ""
    return f"---\ntitle: {title}\nstatus: {status}\n{order_line}{extra}---\n\nDo {title}.\n"


@pytest.fixture
def store(board_dir: Path) -> BoardStore:
    write_card(board_dir, "a", card_text("A", order=1000))
    write_card(board_dir, "b", card_text("B", order=2000))
    write_card(board_dir, "c", card_text("C", order=3000))
    write_card(board_dir, "d", card_text("D", status="review"))
    return BoardStore.open(board_dir)


def ids(cards) -> list[str]:
    return [c.id for c in cards]


def test_cards_grouped_by_column_in_order(store):
    columns = {c.id: ids(c.cards) for c in store.columns()}
    assert columns == {"todo": ["a", "b", "c"], "in-progress": [], "review": ["d"], "done": []}


def test_missing_status_goes_to_first_column(board_dir):
    write_card(board_dir, "x", "---\ntitle: X\n---\nbody\n")
    store = BoardStore.open(board_dir)
    assert ids(store.column_cards("todo")) == ["x"]


def test_move_to_other_column_writes_status_only(store, board_dir):
    before = (board_dir / "a.md").read_text()
    store.move("a", "in-progress")
    after = (board_dir / "a.md").read_text()
    # order 1000 already sorts first in an empty column: only the status line changes
    assert after == before.replace("status: todo", "status: in-progress")
    assert ids(BoardStore.open(board_dir).column_cards("in-progress")) == ["a"]


def test_reorder_within_column_touches_only_moved_card(store, board_dir):
    others = {p: p.read_bytes() for p in board_dir.glob("*.md") if p.name != "c.md"}
    store.move("c", "todo", 0)
    assert ids(BoardStore.open(board_dir).column_cards("todo")) == ["c", "a", "b"]
    assert {p: p.read_bytes() for p in others} == others
    store.move("c", "todo", 1)
    assert ids(BoardStore.open(board_dir).column_cards("todo")) == ["a", "c", "b"]
    assert "order: 1500" in (board_dir / "c.md").read_text()


def test_move_between_equal_orders_renumbers_column(board_dir):
    for name in "xyz":
        write_card(board_dir, name, card_text(name.upper(), order=5))
    store = BoardStore.open(board_dir)
    store.move("z", "todo", 1)
    assert ids(BoardStore.open(board_dir).column_cards("todo")) == ["x", "z", "y"]


def test_move_among_unordered_cards(board_dir):
    for name in "xyz":
        write_card(board_dir, name, card_text(name.upper()))
    store = BoardStore.open(board_dir)
    store.move("z", "todo", 0)
    assert ids(BoardStore.open(board_dir).column_cards("todo")) == ["z", "x", "y"]
    store.move("x", "todo", 2)
    assert ids(BoardStore.open(board_dir).column_cards("todo")) == ["z", "y", "x"]


def test_move_shows_only_status_and_order_in_git_diff(repo):
    board = repo / "board"
    board.mkdir()
    write_card(
        board, "a", "---\n# keep me\ntitle: 'A'\nlabels: [x,   y]\nstatus: todo  # col\n---\nbody\n"
    )
    write_card(board, "b", card_text("B", order=10))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "cards")
    BoardStore.open(board).move("a", "done", 0)
    diff = git(repo, "diff", "-U0", "--", "board")
    changed = [
        ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]
    assert changed == ["-status: todo  # col", "+status: done  # col", "+order: 1000"]


def test_create_makes_unique_slug(store, board_dir):
    first = store.create("Fix: the Login bug!")
    second = store.create("Fix: the login bug")
    assert first.id == "fix-the-login-bug" and second.id == "fix-the-login-bug-2"
    assert first.status == "todo" and first.order == 4000
    assert BoardStore.open(board_dir).get(second.id).title == "Fix: the login bug"


def test_create_with_quotes_and_unicode_title(store):
    card = store.create('Übersetzung: "quotes" & #hash')
    assert card.title == 'Übersetzung: "quotes" & #hash'
    assert card.id == "übersetzung-quotes-hash"


@pytest.mark.parametrize(
    "title, card_id",
    [
        ("ロケット打ち上げ", "ロケット打ち上げ"),
        ("Crème brûlée à la carte", "crème-brûlée-à-la-carte"),
        ("🚀🔥", "card"),  # nothing readable to keep
        ("नमस्ते दुनिया", "नमस्ते-दुनिया"),  # combining vowel signs stay in their word
        ("..lock ~^:?*[\\ @{x}.lock", "lock-x-lock"),
    ],
)
def test_card_ids_keep_non_ascii_titles_readable(store, board_dir, title, card_id):
    card = store.create(title)
    assert card.id == card_id and (board_dir / f"{card_id}.md").is_file()
    # the id is the agent's branch name: git must accept it
    git_check = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/kanban/{card.id}"], capture_output=True
    )
    assert git_check.returncode == 0, card.id


def test_conflict_when_file_changed_since_read(store, board_dir):
    seen = store.get("a")
    path = board_dir / "a.md"
    path.write_text(path.read_text().replace("Do A.", "Do A, edited elsewhere."))
    with pytest.raises(CardConflict):
        store.move("a", "done")
    text = path.read_text()
    assert "edited elsewhere" in text and "status: todo" in text  # nothing lost, nothing written
    assert store.get("a").digest != seen.digest  # reloaded
    store.move("a", "done")  # the next attempt works on the fresh copy
    assert "status: done" in path.read_text() and "edited elsewhere" in path.read_text()


def test_conflict_with_stale_expectation(store):
    stale = store.get("a")
    store.update("a", {"priority": "P1"})
    with pytest.raises(CardConflict):
        store.move("a", "done", expect=stale)


def test_outside_changes_count_edits_read_from_disk_not_own_writes(store, board_dir):
    store.update("a", {"priority": "P1"})
    store.move("a", "done")
    assert store.outside_changes("a") == 0  # the store's own writes
    path = board_dir / "a.md"
    assert store.refresh_path(path) is None  # its own write seen again by a watcher
    assert store.outside_changes("a") == 0
    path.write_text(path.read_text().replace("Do A.", "Do A, edited elsewhere."))
    store.refresh_path(path)
    assert store.outside_changes("a") == 1
    path.unlink()
    store.refresh_path(path)
    assert store.outside_changes("a") == 2


def test_conflict_when_deleted_on_disk(store, board_dir):
    (board_dir / "a.md").unlink()
    with pytest.raises(CardConflict):
        store.move("a", "done")
    assert not (board_dir / "a.md").exists()


def test_write_is_atomic_and_leaves_no_temp_files(store, board_dir):
    inode_before = os.stat(board_dir / "a.md").st_ino
    store.move("a", "done")
    assert os.stat(board_dir / "a.md").st_ino != inode_before  # replaced, not rewritten in place
    assert sorted(p.name for p in board_dir.iterdir()) == ["a.md", "b.md", "c.md", "d.md"]


def test_write_keeps_file_mode(store, board_dir):
    os.chmod(board_dir / "a.md", 0o600)
    store.move("a", "done")
    assert (os.stat(board_dir / "a.md").st_mode & 0o777) == 0o600


MALFORMED = {
    "bad-yaml": ("---\ntitle: ok\nlabels: [unclosed\n---\nbody\n", "invalid YAML", 3),
    "not-mapping": ("---\n- a\n- b\n---\nbody\n", "mapping", 2),
    "scalar": ("---\njust text\n---\nbody\n", "mapping", 2),
    "no-front-matter": ("# Just a note\n\nNo front matter here.\n", "no front matter", 1),
    "unclosed": ("---\ntitle: x\nstatus: todo\n", "never closed", 1),
    "empty-fm": ("---\n---\nbody\n", "empty", 2),
    "no-title": ("---\nstatus: todo\n---\nbody\n", "title", 2),
    "unknown-status": ("---\ntitle: x\nstatus: doing\n---\n", "unknown status 'doing'", 3),
    "tab-indent": ("---\ntitle: x\n\tstatus: todo\n---\n", "invalid YAML", None),
    "binary": ("---\ntitle: \udcff\n---\n", "UTF-8", None),
    "labels-mapping": ("---\ntitle: x\nlabels: {a: 1}\n---\n", "list", 3),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_becomes_error_entry_and_is_untouched(board_dir, name):
    text, message, line = MALFORMED[name]
    data = text.encode("utf-8", "surrogateescape")
    (board_dir / f"{name}.md").write_bytes(data)
    write_card(board_dir, "good", card_text("Good"))
    store = BoardStore.open(board_dir)
    assert ids(store.column_cards("todo")) == ["good"]
    [error] = store.errors
    assert isinstance(error, CardError) and error.id == name
    assert message in error.message
    if line is not None:
        assert error.line == line
    with pytest.raises(BoardError):
        store.move(name, "done")
    assert (board_dir / f"{name}.md").read_bytes() == data


def test_duplicate_id_differing_by_case(board_dir):
    write_card(board_dir, "task", card_text("one"))
    write_card(board_dir, "Task", card_text("two"))
    store = BoardStore.open(board_dir)
    assert ids(store.column_cards("todo")) == ["Task"]
    assert [e.id for e in store.errors] == ["task"]
    assert "duplicate id" in store.errors[0].message


def test_temp_swap_and_hidden_files_are_ignored(board_dir):
    write_card(board_dir, "real", card_text("Real"))
    for name in (
        ".real.md.swp",
        ".hidden.md",
        "real.md~",
        "x.md.tmp",
        "#real.md#",
        "README.md",
        "notes.txt",
    ):
        (board_dir / name).write_text("garbage: [")
    store = BoardStore.open(board_dir)
    assert list(store.cards) == ["real"] and store.errors == []


def test_find_by_prefix_title_and_filename(store):
    store.create("Improve the parser")
    assert store.find("improve").id == "improve-the-parser"
    assert store.find("Improve the parser").id == "improve-the-parser"
    assert store.find("board/a.md").id == "a"
    with pytest.raises(BoardError, match="no card"):
        store.find("zzz")


def test_archive_moves_file_out_of_board(store, board_dir):
    target = store.archive("a")
    assert target == board_dir / ".archive" / "a.md" and target.exists()
    assert "a" not in BoardStore.open(board_dir).cards


def test_unknown_column_is_a_clear_error(store):
    with pytest.raises(BoardError, match="unknown column 'doing'"):
        store.move("a", "doing")


def test_refresh_ignores_own_writes_and_sees_external_ones(store, board_dir):
    store.move("a", "done")
    assert store.refresh_path(board_dir / "a.md") is None
    (board_dir / "a.md").write_text(card_text("A2", status="review"))
    change = store.refresh_path(board_dir / "a.md")
    assert change is not None and change.kind == "modified" and change.entry.title == "A2"
    (board_dir / "a.md").unlink()
    assert store.refresh_path(board_dir / "a.md").kind == "deleted"


def test_no_git_process_needed_for_store(store, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the store must not spawn processes")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    store.move("b", "review", 0)
    store.create("Another")


def test_a_symlinked_card_is_an_error_card_and_never_replaced(tmp_path, board_dir):
    outside = tmp_path / "elsewhere.md"
    outside.write_text(card_text("Outside"))
    (board_dir / "linked.md").symlink_to(outside)
    write_card(board_dir, "a", card_text("A"))
    store = BoardStore.open(board_dir)
    errors = {e.id: e for e in store.errors}
    assert "linked" in errors and "symbolic link" in errors["linked"].message
    assert "linked" not in store.cards
    with pytest.raises(BoardError, match="symbolic link"):
        store.move("linked", "done")
    assert (board_dir / "linked.md").is_symlink()
    assert outside.read_text() == card_text("Outside")


def test_a_card_replaced_by_a_symlink_on_disk_becomes_an_error_card(tmp_path, board_dir):
    write_card(board_dir, "a", card_text("A"))
    store = BoardStore.open(board_dir)
    outside = tmp_path / "elsewhere.md"
    outside.write_text(card_text("Outside"))
    (board_dir / "a.md").unlink()
    (board_dir / "a.md").symlink_to(outside)
    change = store.refresh_path(board_dir / "a.md")
    assert change is not None and "symbolic link" in store.errors[0].message
    with pytest.raises(BoardError):
        store.move("a", "done")
    assert (board_dir / "a.md").is_symlink() and outside.read_text() == card_text("Outside")
