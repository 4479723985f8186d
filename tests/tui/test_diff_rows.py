"""The Diff tab's rows, without an app: comments under their lines (outdated ones under their
file's header, never dropped), folded files as one row, lines anchored to the new side."""

from __future__ import annotations

from kanban_agents.core.git import DiffFile, WorktreeDiff
from kanban_agents.core.review_comments import CommentStatus, ReviewComment
from kanban_agents.tui.diff_view import render_diff

PATCH = """diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,5 @@
 def add(a, b):
     return a + b
+
+def sub(a, b):
+    return a - b
"""
LOCK = "diff --git a/package-lock.json b/package-lock.json\n@@ -0,0 +1,2 @@\n+{\n+}\n"


def diff() -> WorktreeDiff:
    return WorktreeDiff("main", "0" * 40, [
        DiffFile("calc.py", None, "M", 3, 0, False, PATCH, None),
        DiffFile("package-lock.json", None, "A", 2, 0, False, LOCK, None, "collapsed (package-lock.json)"),
        DiffFile("logo.png", None, "A", 0, 0, True, "", "binary"),
    ])  # fmt: skip


def comment(i: int, line: int, quote: str, text: str, status=CommentStatus.PENDING, path="calc.py"):
    return ReviewComment(i, path, line, quote, text, 0.0, status, run=1, round=1)


def test_comments_sit_under_their_line_and_outdated_ones_stay_visible():
    comments = [
        comment(1, 4, "+def sub(a, b):", "Add a docstring."),
        comment(2, 9, "+    return a * b", "Gone now.", CommentStatus.OUTDATED),
        comment(3, 1, "+x = 1", "Old file.", CommentStatus.SENT, path="old.py"),
    ]
    lines = render_diff(diff(), comments=comments, card_id="sub")
    text = lines.plain.splitlines()
    at = text.index("+def sub(a, b):")
    assert text[at + 1] == "  ✎ Add a docstring."
    assert lines.anchors[at] == ("calc.py", 4, "+def sub(a, b):")
    assert lines.comment_on(at).id == 1 and lines.comment_on(at + 1).id == 1
    assert "  ✎ outdated (round 1) calc.py:9 > +    return a * b  Gone now." in text
    assert "Comments on files no longer in the diff:" in text
    assert "  ✎ sent (round 1) old.py:1 > +x = 1  Old file." in text
    assert " M calc.py            +3 -0  ✎ 2" in text


def test_folded_files_are_one_row_until_toggled_and_binaries_are_summarised():
    text = render_diff(diff(), card_id="sub").plain
    assert "  ▸ folded: collapsed (package-lock.json), +2 -0  enter unfolds" in text
    assert "+{" not in text
    assert "  binary file added, not shown" in text
    opened = render_diff(diff(), card_id="sub", toggled=frozenset({"package-lock.json"})).plain
    assert "+{" in opened and "enter unfolds" not in opened
    by_hand = render_diff(diff(), card_id="sub", toggled=frozenset({"calc.py"})).plain
    assert "▸ folded: by you" in by_hand and "+def sub(a, b):" not in by_hand


def test_rows_are_made_again_only_when_what_they_show_changed():
    from kanban_agents.tui.diff_view import RenderedDiffs

    rendered = RenderedDiffs(size=2)
    first = rendered.lines(diff(), card_id="sub")
    assert rendered.lines(diff(), card_id="sub") is first  # an equal diff: the same rows
    note = comment(1, 4, "+def sub(a, b):", "Add a docstring.")
    commented = rendered.lines(diff(), card_id="sub", comments=[note])
    assert commented is not first and "  ✎ Add a docstring." in commented.plain
    assert rendered.lines(diff(), card_id="sub", comments=[note]) is commented
    rendered.lines(diff(), card_id="other")
    rendered.lines(diff(), card_id="third")  # two kept: sub's rows were dropped
    assert rendered.lines(diff(), card_id="sub", comments=[note]) is not commented
