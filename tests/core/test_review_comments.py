"""Line comments of a review: kept with the run records, sent back with the card, received by the
agent in the same form, and shown as outdated (never dropped) once the agent's next round took
their line away. Through the CLI and the real ``openai`` client against the scripted server."""

from __future__ import annotations

import json

import pytest

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.board import BoardStore
from kanban_agents.core.review_comments import (
    CommentError,
    CommentStatus,
    ReviewComments,
    format_comments,
    new_side_lines,
)
from kanban_agents.core.session import BoardSession
from tests.core.test_review import kanban
from tests.core.test_runs import Harness, calc_project, edit_sub, finish

PATCH = """diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,6 @@
 def add(a, b):
-    return a+b
+    return a + b
+
+
+def sub(a, b):
+    return a - b
"""


@pytest.fixture
def project(repo):
    return calc_project(repo)


def test_new_side_lines_number_added_and_unchanged_lines_as_the_new_file_does():
    lines = new_side_lines(PATCH)
    assert lines[1] == " def add(a, b):"
    assert lines[2] == "+    return a + b"
    assert lines[5] == "+def sub(a, b):" and lines[6] == "+    return a - b"
    assert 7 not in lines and "-    return a+b" not in lines.values()


def test_comments_survive_a_new_reader_and_keep_their_ids(tmp_path):
    store = ReviewComments(tmp_path / "runs")
    first = store.add("sub", "calc.py", 5, "+def sub(a, b):", "Add a docstring.", run=1)
    second = store.add("sub", "calc.py", 6, "+    return a - b", "Name it diff?", run=1)
    again = store.add("sub", "calc.py", 5, "+def sub(a, b):", "Add a docstring, please.")
    assert again.id == first.id  # one comment per line: the second write edits it
    store.remove("sub", second.id)
    third = store.add("sub", "calc.py", 2, "+    return a + b", "Keep the spaces.")
    assert third.id == 3  # ids are never reused
    reread = ReviewComments(tmp_path / "runs")  # what a restarted app sees
    assert [(c.where, c.text) for c in reread.list("sub")] == [
        ("calc.py:2", "Keep the spaces."),
        ("calc.py:5", "Add a docstring, please."),
    ]
    assert reread.pending_counts() == {"sub": 2}
    with pytest.raises(CommentError, match="empty"):
        store.add("sub", "calc.py", 1, " def add(a, b):", "   ")
    with pytest.raises(CommentError, match="no comment 9"):
        store.edit("sub", 9, "x")


def test_the_round_quotes_each_line_as_path_line(tmp_path):
    store = ReviewComments(tmp_path / "runs")
    store.add("sub", "calc.py", 6, "+    return a - b", "Subtract the other way round.")
    store.add("sub", "calc.py", 5, "+def sub(a, b):", "Add a docstring.")
    assert format_comments(store.list("sub")) == (
        "Line comments:\n\n"
        "calc.py:5\n> +def sub(a, b):\nAdd a docstring.\n\n"
        "calc.py:6\n> +    return a - b\nSubtract the other way round."
    )
    assert format_comments([]) == ""


def rename_sub() -> Reply:
    """Round 2: the agent rewrites the line one comment is on."""
    return Reply(
        text="Renaming.",
        tool_calls=[
            ToolCallSpec(
                "edit_file",
                {"path": "calc.py", "old": "    return a - b\n", "new": "    return -(b - a)\n"},
            )
        ],
    )


async def test_comments_go_back_with_the_card_reach_the_model_and_turn_outdated(project):
    turns = [edit_sub(), finish("Added sub."), rename_sub(), finish("Rewrote sub.")]
    with ScriptedServer(turns) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        assert (await h.wait("sub")).state == "review"
        await h.runs.stop()

        one = kanban(project, "comment", "sub", "calc.py:5", "-m", "Add a docstring.")
        assert one.returncode == 0, one.stderr
        assert one.stdout.startswith("commented on calc.py:5 of sub (1 pending")
        two = kanban(project, "comment", "sub", "calc.py:6", "-m", "Subtract the other way round.")
        assert two.returncode == 0, two.stderr
        bad = kanban(project, "comment", "sub", "calc.py:60", "-m", "x")
        assert bad.returncode == 1 and "no line 60" in bad.stderr and "Traceback" not in bad.stderr
        listed = json.loads(kanban(project, "comments", "sub", "--json").stdout)["comments"]
        assert [(c["path"], c["line"], c["quote"], c["status"]) for c in listed] == [
            ("calc.py", 5, "+def sub(a, b):", "pending"),
            ("calc.py", 6, "+    return a - b", "pending"),
        ]
        assert BoardSession.open(project / "board").pending_comment_counts() == {"sub": 2}

        sent = kanban(project, "send-back", "sub")  # no -m: the comments are the notes
        assert sent.returncode == 0, sent.stderr
        assert "and 2 line comments (round 1)" in sent.stdout
        body = BoardStore.open(project / "board").get("sub").body
        assert "calc.py:5\n> +def sub(a, b):\nAdd a docstring." in body
        assert "calc.py:6\n> +    return a - b\nSubtract the other way round." in body

        h = Harness(project, server)  # the card waits in the agent column: it starts
        await h.runs.start()
        status = await h.wait("sub")
        await h.runs.stop()
        assert status.state == "review" and status.run == 2, status.reason
        asked = server.requests[2]["messages"][-1]["content"]  # the round's first request
    assert "calc.py:5\n> +def sub(a, b):\nAdd a docstring." in asked
    assert "calc.py:6\n> +    return a - b\nSubtract the other way round." in asked

    listed = json.loads(kanban(project, "comments", "sub", "--json").stdout)["comments"]
    assert [(c["line"], c["status"], c["round"]) for c in listed] == [
        (5, str(CommentStatus.SENT), 1),  # its line is still there
        (6, str(CommentStatus.OUTDATED), 1),  # the agent rewrote it: outdated, not dropped
    ]
    text = kanban(project, "comments", "sub").stdout
    assert "calc.py:6  [outdated, round 1]" in text
    assert BoardSession.open(project / "board").pending_comment_counts() == {}
    nothing = kanban(project, "send-back", "sub")
    assert nothing.returncode == 1 and "nothing to send back" in nothing.stderr

    # work discarded with a comment pending: kept, outdated, no ✎ on the card
    assert kanban(project, "comment", "sub", "calc.py:5", "-m", "Late.").returncode == 0
    assert BoardSession.open(project / "board").pending_comment_counts() == {"sub": 1}
    assert kanban(project, "discard", "sub", "--yes").returncode == 0
    assert BoardSession.open(project / "board").pending_comment_counts() == {}
    assert "calc.py:5  [outdated]" in kanban(project, "comments", "sub").stdout
