"""YAML anchors and aliases in front matter: small ones are fine, ones that expand too far (an
"alias bomb", a value that contains itself) make the card an error card, quickly."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kanban_agents.core.board import BoardStore
from kanban_agents.core.card import CardParseError, parse_card
from kanban_agents.core.frontmatter_edit import set_keys
from kanban_agents.core.frontmatter_fast import parse_simple
from tests.helpers import write_card

TOO_FAR = "front matter uses YAML aliases that expand too far"


def bomb_front_matter(levels: int = 9) -> str:
    """Nine lists of nine aliases to the list before: 9**9 strings once every alias is copied."""
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    for previous, name in itertools.pairwise("abcdefghijklmnopqrstuvwxyz"[:levels]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def bomb_card(levels: int = 9) -> str:
    return "---\ntitle: Bomb\nstatus: todo\n" + bomb_front_matter(levels) + "---\n\nBoom.\n"


def parse(text: str):
    return parse_card(Path("card.md"), text.encode())


def test_bomb_fixture_has_nine_levels():
    assert len(bomb_front_matter().splitlines()) == 9
    assert bomb_front_matter().splitlines()[-1].startswith("i: &i [*h,")


def test_alias_bomb_is_a_parse_error_with_its_line_and_is_quick():
    started = time.perf_counter()
    with pytest.raises(CardParseError) as caught:
        parse(bomb_card())
    assert time.perf_counter() - started < 1.0  # generous: it takes milliseconds
    assert caught.value.message.startswith(TOO_FAR)
    # a..d expand to under 10,000 values together; e (file line 8) goes past the limit.
    assert caught.value.line == 8


def test_fast_path_declines_anchors_and_aliases():
    assert parse_simple(bomb_front_matter()) is None
    assert parse_simple("title: x\nlabels: [*a]\n") is None


def test_small_aliases_are_fine():
    card = parse(
        "---\ntitle: Shared\nstatus: todo\ntests: &checks [pytest -q, ruff check]\n"
        "constraints: *checks\nrun: &r {state: review}\nlast: {<<: *r, n: 1}\n---\nbody\n"
    )
    assert card.tests == ["pytest -q", "ruff check"]
    assert card.constraints == ["pytest -q", "ruff check"]
    assert card.meta["last"] == {"state": "review", "n": 1}


def test_big_front_matter_without_aliases_is_fine():
    items = "".join(f"  - file{i}.py\n" for i in range(12_000))
    card = parse(f"---\ntitle: Big * list\nfiles:\n{items}---\nbody\n")
    assert len(card.files) == 12_000


def test_merge_keys_count_like_any_alias():
    """PyYAML 6.0.4 happens to merge this one without copying; older ones did not. The rule
    does not depend on the version."""
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: {i}" for i in range(9)) + "}"]
    for level in range(1, 9):
        refs = ", ".join([f"*m{level - 1}"] * 9)
        lines.append(f"m{level}: &m{level} {{<<: [{refs}]}}")
    started = time.perf_counter()
    with pytest.raises(CardParseError) as caught:
        parse("---\ntitle: Merge\n" + "\n".join(lines) + "\n---\n")
    assert time.perf_counter() - started < 1.0
    assert caught.value.message.startswith(TOO_FAR)


@pytest.mark.parametrize("value", ["&a [1, *a]", "&a {k: *a}", "&a [[[*a]]]"])
def test_a_value_that_contains_itself_is_refused(value):
    with pytest.raises(CardParseError) as caught:
        parse(f"---\ntitle: Loop\nstatus: todo\nlabels: {value}\n---\n")
    assert "contains itself" in caught.value.message
    assert caught.value.line == 4


def test_editing_a_bomb_card_is_refused_not_attempted():
    with pytest.raises(CardParseError):
        set_keys(bomb_card(), {"status": "review"})


def test_board_shows_the_bomb_as_an_error_card(board_dir):
    write_card(board_dir, "bomb", bomb_card())
    write_card(board_dir, "fine", "---\ntitle: Fine\nstatus: todo\n---\nDo it.\n")
    for _ in range(2):  # the second load may come from the card cache
        store = BoardStore.open(board_dir)
        [error] = store.errors
        assert error.id == "bomb" and error.message.startswith(TOO_FAR) and error.line == 8
        assert list(store.cards) == ["fine"]


def test_cli_list_json_with_a_bomb_card_stays_fast(tmp_path):
    board = tmp_path / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("")
    for i in range(50):
        write_card(board, f"card-{i:02}", f"---\ntitle: Card {i}\nstatus: todo\n---\nDo {i}.\n")
    write_card(board, "bomb", bomb_card())
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "kanban_agents", "--board", str(board), "list", "--json"],
        capture_output=True,
        text=True,
        timeout=20,  # before the fix this ran for minutes and took gigabytes
    )
    assert proc.returncode == 0, proc.stderr
    assert time.perf_counter() - started < 10
    data = json.loads(proc.stdout)
    assert len(data["cards"]) == 50
    [error] = data["errors"]
    assert error["id"] == "bomb" and TOO_FAR in error["message"]
