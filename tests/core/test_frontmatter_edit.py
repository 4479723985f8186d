"""Minimal-diff writes: only the edited keys' lines change, everything else byte-for-byte."""

from __future__ import annotations

import difflib
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanban_agents.core.card import KNOWN_KEYS, parse_card, parse_meta
from kanban_agents.core.frontmatter_edit import DELETE, render_card, set_body, set_keys

AWKWARD = """\
---
# a comment before everything
title: "Quoted: title with a colon"   # trailing comment
labels: [a, 'b c']
status: 'todo'    # the column
order: 7
files:
  - src/a.py   # first
  - src/b.py
constraints: |
  Keep the public API.
  status: this line is inside a block scalar
unknown_key: {nested: [1, 2], other: "x"}
depends_on:
- other-card
---
Body with --- inside
and trailing spaces   \n\n"""


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_move_on_awkward_file_changes_only_status_and_order():
    after = set_keys(AWKWARD, {"status": "done", "order": 1500})
    assert changed_lines(AWKWARD, after) == [
        "-status: 'todo'    # the column",
        "-order: 7",
        "+status: 'done'    # the column",
        "+order: 1500",
    ]
    meta, _ = parse_meta(after)
    assert meta["status"] == "done" and meta["order"] == 1500
    assert meta["constraints"].startswith("Keep the public API.")
    assert after.endswith("Body with --- inside\nand trailing spaces   \n\n")


def test_new_key_is_appended_at_end_of_front_matter():
    after = set_keys(AWKWARD, {"branch": "kanban/x"})
    assert changed_lines(AWKWARD, after) == ["+branch: kanban/x"]
    lines = after.splitlines()
    assert lines[lines.index("branch: kanban/x") + 1] == "---"


def test_mapping_value_is_one_flow_line_and_replaces_block():
    text = "---\ntitle: t\nrun:\n  state: running\n  attempt: 1\nstatus: todo\n---\nbody\n"
    after = set_keys(text, {"run": {"state": "review", "attempt": 2}})
    assert after == "---\ntitle: t\nrun: {state: review, attempt: 2}\nstatus: todo\n---\nbody\n"


def test_delete_key_removes_its_block():
    after = set_keys(AWKWARD, {"files": DELETE})
    assert changed_lines(AWKWARD, after) == [
        "-files:",
        "-  - src/a.py   # first",
        "-  - src/b.py",
    ]


def test_crlf_file_keeps_crlf():
    text = "---\r\ntitle: t\r\nstatus: todo\r\n---\r\nbody\r\n"
    after = set_keys(text, {"status": "done", "order": 3})
    assert after == "---\r\ntitle: t\r\nstatus: done\r\n---\r\nbody\r\n".replace(
        "status: done\r\n", "status: done\r\norder: 3\r\n"
    )


def test_flow_mapping_front_matter_falls_back_to_round_trip():
    text = "---\n{title: t, status: todo}\n---\nbody\n"
    after = set_keys(text, {"status": "done"})
    assert parse_meta(after)[0] == {"title": "t", "status": "done"}
    assert after.endswith("---\nbody\n")


def test_strings_that_look_like_other_types_stay_strings():
    text = "---\ntitle: t\n---\n"
    after = set_keys(text, {"priority": "yes", "labels": ["1", "null"], "merged": "2026-01-01"})
    meta, _ = parse_meta(after)
    assert meta["priority"] == "yes" and meta["labels"] == ["1", "null"]
    assert meta["merged"] == "2026-01-01"


def test_set_body_keeps_front_matter():
    after = set_body(AWKWARD, "\nnew body\n")
    assert after.startswith(AWKWARD[: AWKWARD.index("Body with")])
    assert after.endswith("---\n\nnew body\n")


# ---------------------------------------------------------------- property tests

keys = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12).filter(
    lambda k: k not in KNOWN_KEYS
)
scalars = st.one_of(
    st.text(max_size=30).filter(
        lambda s: "\x85" not in s and "\u2028" not in s and "\u2029" not in s
    ),
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=4), st.dictionaries(keys, scalars, max_size=3)
)
metas = st.dictionaries(keys, values, max_size=8).map(lambda d: {"title": "A card", **d})
bodies = st.text(max_size=200).filter(
    lambda s: "\r" not in s and "\x85" not in s and "\u2028" not in s and "\u2029" not in s
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(meta=metas, body=bodies)
def test_parse_of_render_round_trips(meta, body, tmp_path_factory):
    text = render_card(meta, body)
    card = parse_card(Path("x.md"), text.encode())
    assert card.meta == meta
    assert card.body == ("\n" + body if body and not body.startswith("\n") else body)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    meta=metas,
    body=bodies,
    status=st.sampled_from(["todo", "in-progress", "review", "done"]),
    order=st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False)),
    existing_at=st.one_of(st.none(), st.integers(0, 9)),
)
def test_move_changes_only_status_and_order_lines(meta, body, status, order, existing_at):
    if existing_at is not None:  # the card already has status/order somewhere in its keys
        items = list(meta.items())
        items.insert(min(existing_at, len(items)), ("status", "todo"))
        items.insert(min(existing_at + 1, len(items)), ("order", 3))
        meta = dict(items)
    text = render_card(meta, body)
    after = set_keys(text, {"status": status, "order": order})
    new_meta, _ = parse_meta(after)
    assert new_meta == {**meta, "status": status, "order": order}
    for line in changed_lines(text, after):
        if line.startswith("-"):
            assert line[1:].startswith(("status:", "order:")), line
        else:
            assert line[1:].startswith(("status:", "order:")), line
    # every byte outside the changed lines is identical
    kept_before = [
        ln for ln in text.splitlines(keepends=True) if not ln.startswith(("status:", "order:"))
    ]
    kept_after = [
        ln for ln in after.splitlines(keepends=True) if not ln.startswith(("status:", "order:"))
    ]
    assert kept_before == kept_after


@pytest.mark.parametrize(
    "text",
    [
        "---\ntitle: t\nstatus: todo\n---\n",
        "---\ntitle: t\nstatus:   todo   # moved often\n---\nbody",
        '---\n"title": t\n"status": "todo"\n---\n',
        "---\ntitle: >\n  folded\n  title\nstatus: todo\n---\n",
        "---\ntitle: t\nstatus:\n  todo\n---\n",
        "\ufeff---\ntitle: t\nstatus: todo\n---\n",
    ],
)
def test_awkward_status_lines(text):
    after = set_keys(text, {"status": "done"})
    assert parse_meta(after)[0]["status"] == "done"
    assert len(changed_lines(text, after)) <= 3
