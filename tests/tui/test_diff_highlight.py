"""Highlighting in the Diff tab: a hunk is highlighted piece by piece as it is drawn, and the
lexer carries on from the piece above, so a construct spanning pieces keeps its colours."""

from __future__ import annotations

from rich.text import Text

from kanban_agents.core.git import DiffFile, WorktreeDiff
from kanban_agents.core.review_comments import CommentStatus, ReviewComment
from kanban_agents.tui.diff_view import HIGHLIGHT_ROWS, highlight_hunk, render_diff

# A new file whose docstring runs over the first piece's end (HIGHLIGHT_ROWS rows).
CODE = ["def handler(request):", '    """What the handler does.', ""]
CODE += [f"    text of the docstring, line {i} with if and for in it" for i in range(3, 60)]
CODE += ['    """', "    return request", ""]
PATCH = (
    "diff --git a/handler.py b/handler.py\nnew file mode 100644\n--- /dev/null\n+++ b/handler.py\n"
    f"@@ -0,0 +1,{len(CODE)} @@\n" + "".join(f"+{line}\n" for line in CODE)
)


def diff() -> WorktreeDiff:
    return WorktreeDiff(
        "main", "0" * 40, [DiffFile("handler.py", None, "A", len(CODE), 0, False, PATCH, None)]
    )


def colour_of(row: Text, word: str):
    """The colour the highlighter gave to ``word`` in the row."""
    at = row.plain.index(word)
    colours = {
        span.style.color for span in row.spans if span.start <= at < span.end and span.style.color
    }
    return colours.pop() if len(colours) == 1 else None


def highlighted(lines, order) -> list[Text | str]:
    for hunk in order(lines.hunks):
        lines.rows[hunk.start : hunk.end] = highlight_hunk(hunk)
    return lines.rows


def docstring_rows(rows) -> list[Text]:
    return [row for row in rows if isinstance(row, Text) and "text of the docstring" in row.plain]


def test_a_docstring_keeps_its_colour_past_a_highlight_boundary_in_any_drawing_order():
    for order in (list, lambda hunks: list(reversed(hunks))):  # scrolled down, or up from below
        lines = render_diff(diff(), card_id="c")
        assert len(lines.hunks) > 1  # the docstring really spans pieces
        rows = docstring_rows(highlighted(lines, order))
        assert len(rows) == 57
        first = colour_of(rows[0], "if")
        assert first is not None
        assert [colour_of(row, "if") for row in rows] == [first] * 57
        assert colour_of(rows[-1], "for") == first


def test_a_comment_between_lines_does_not_break_the_docstring_colour():
    comment = ReviewComment(
        1, "handler.py", 30, "+    text", "Shorter.", 0.0, CommentStatus.PENDING, run=1, round=1
    )
    lines = render_diff(diff(), comments=[comment], card_id="c")
    rows = highlighted(lines, list)
    assert "  ✎ Shorter." in [row.plain for row in rows if isinstance(row, Text)]
    docs = docstring_rows(rows)
    assert len({colour_of(row, "if") for row in docs}) == 1
    assert lines.anchors.get(rows.index(docs[-1])).line == CODE.index(docs[-1].plain[1:]) + 1


def test_rows_and_line_anchors_of_a_hunk_with_removed_lines():
    patch = (
        "diff --git a/q.sql b/q.sql\n--- a/q.sql\n+++ b/q.sql\n@@ -10,3 +10,3 @@\n select 1;\n"
        "--- an old comment\n+++ a new comment\n select 2;\n"
    )
    lines = render_diff(
        WorktreeDiff("main", "0" * 40, [DiffFile("q.sql", None, "M", 1, 1, False, patch, None)])
    )
    text = lines.plain.splitlines()
    at = text.index(" select 1;")
    # Inside a hunk "--- " and "+++ " are a removed "-- " and an added "++ " line, not headers.
    assert text[at : at + 4] == [
        " select 1;",
        "--- an old comment",
        "+++ a new comment",
        " select 2;",
    ]
    assert lines.anchors.get(at) == ("q.sql", 10, " select 1;")
    assert lines.anchors.get(at + 1) is None  # removed: no line on the new side
    assert lines.anchors[at + 2] == ("q.sql", 11, "+++ a new comment")
    assert lines.anchors[at + 3] == ("q.sql", 12, " select 2;")
    assert at + 4 not in lines.anchors
    assert HIGHLIGHT_ROWS == 40


def test_a_piece_far_below_what_was_lexed_is_highlighted_alone_without_lexing_the_rest():
    code = [f"value_{i} = {i}" for i in range(1000)]
    patch = "diff --git a/v.py b/v.py\n@@ -0,0 +1,1000 @@\n" + "".join(
        f"+{line}\n" for line in code
    )
    lines = render_diff(
        WorktreeDiff("main", "0" * 40, [DiffFile("v.py", None, "A", 1000, 0, False, patch, None)])
    )
    last = lines.hunks[-1]
    rows = highlight_hunk(last)
    assert [row.plain for row in rows] == [f"+{line}" for line in code[last.offset :]]
    assert colour_of(rows[-1], "=") is not None
    assert last.code.lexed == 0  # the 960 lines above it were not lexed for it
