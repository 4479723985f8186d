"""The fast front-matter path must agree with PyYAML, value and type, or step aside (None)."""

from __future__ import annotations

import datetime
import os

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kanban_agents.core.frontmatter_fast import parse_simple

KEYS = [
    "title",
    "status",
    "order",
    "labels",
    "files",
    "a-b",
    "_x",
    "yes",
    "null",
    "on",
    "x1",
    "depends_on",
]
SCALARS = [
    "todo", "Add login rate limiting", "P1", "1000", "1_000", "-3", "+7", "0x1F", "0o17", "017", "1e3", "1.5e3",
    "1.5", ".5", ".inf", ".NaN", "1:20", "2026-01-01", "2026-01-01 10:00:00", "true", "False", "yes", "No",
    "on", "OFF", "~", "null", "Null", "é café", "http://x.y/z", "a:b", "a: b", "a #c", "a#c", "#c", "- x", "-",
    "&anchor x", "*alias", "!!str 1", "'it''s'", "'a #b'", "'unclosed", '"q"', '"a\\"b"', '"a #b"', "|", ">",
    "a, b", "[a, b]", "[a,b,]", "[]", "[a, [b]]", "[1, yes, ~]", "{a: 1}", "[a: b]", "@x", "`x", "%x", "?x",
    "? x", "x:", "a  b", "trailing ", "\u00a0nbsp", "tab\there", "a' b", 'a" b', "1.0", "0", "00", "-0",
]  # fmt: skip


@st.composite
def front_matter(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        key = draw(st.sampled_from(KEYS))
        shape = draw(
            st.sampled_from(
                [
                    "inline",
                    "inline",
                    "comment",
                    "block",
                    "nested",
                    "continued",
                    "empty",
                    "flowmap",
                    "blockmap",
                ]
            )
        )
        value = draw(st.sampled_from(SCALARS))
        if shape == "inline":
            lines.append(f"{key}: {value}")
        elif shape == "comment":
            lines.append(f"{key}: {value}  # note")
        elif shape == "block":
            indent = draw(st.sampled_from(["", "  ", "    "]))
            lines.append(f"{key}:")
            for item in draw(st.lists(st.sampled_from(SCALARS), min_size=0, max_size=3)):
                lines.append(f"{indent}- {item}")
                if draw(st.booleans()):
                    lines.append(draw(st.sampled_from(["", "# between", "  # indented comment"])))
        elif shape == "nested":
            lines.append(f"{key}:\n  inner: {value}")
        elif shape == "flowmap":
            pairs = draw(
                st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(SCALARS)), max_size=3)
            )
            lines.append(f"{key}: {{{', '.join(f'{k}: {v}' for k, v in pairs)}}}")
        elif shape == "blockmap":
            indent = draw(st.sampled_from(["  ", "    "]))
            lines.append(f"{key}:")
            for k, v in draw(
                st.lists(
                    st.tuples(st.sampled_from(KEYS), st.sampled_from(SCALARS)),
                    min_size=1,
                    max_size=3,
                )
            ):
                lines.append(f"{indent}{k}: {v}")
                if draw(st.booleans()):
                    lines.append(
                        draw(st.sampled_from(["", "# c", "   - stray", "      deeper: 1"]))
                    )
        elif shape == "continued":
            lines.append(f"{key}: {value}\n  more words")
        else:
            lines.append(f"{key}:")
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "# a comment", "---", "..."])))
    return "\n".join(lines) + "\n"


def strict(value):
    """Values with their types, so that 1, 1.0 and True are told apart."""
    if isinstance(value, dict):
        return ("dict", tuple((k, strict(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(strict(v) for v in value))
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


# 1,500 cases keep CI under its 15 minutes; KANBAN_AGENTS_FUZZ_EXAMPLES=20000 for a deeper run
@settings(max_examples=int(os.environ.get("KANBAN_AGENTS_FUZZ_EXAMPLES", "1500")), deadline=None)
@given(front_matter())
def test_fast_path_agrees_with_pyyaml_or_steps_aside(source):
    fast = parse_simple(source)
    if fast is None:
        return
    try:
        expected = yaml.load(source, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise AssertionError(f"fast path accepted what YAML rejects: {exc}") from None
    assert strict(fast) == strict(expected), source


def test_typical_card_takes_the_fast_path():
    source = (
        "title: Add login rate limiting\nstatus: todo   # column\norder: 1000\npriority: P1\nlabels: [auth, api]\n"
        "files:\n  - src/auth.py\n  - tests/test_auth.py\nconstraints: Do not change public API signatures.\n"
        "tests: pytest -q tests/test_auth.py\ndepends_on: []\nmerged: 2026-01-02\n"
    )
    fast = parse_simple(source)
    assert fast == yaml.safe_load(source)
    assert fast["order"] == 1000 and fast["merged"] == datetime.date(2026, 1, 2)


def test_unusual_front_matter_steps_aside():
    for source in (
        "title: 'a\\nb'\nx: |\n  block\n",
        "{title: t}\n",
        "title: &a x\ny: *a\n",
        "a:\n  b:\n    c: 1\n",
    ):
        assert parse_simple(source) is None
