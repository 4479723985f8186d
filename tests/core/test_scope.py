"""Files the card did not ask for: out-of-scope changes and changed acceptance tests are shown
by ``diff`` and refused by ``merge`` until confirmed. Real git repos, a real agent run through
the scripted model server, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kanban_agents.core.board import BoardStore
from kanban_agents.core.card import parse_card
from kanban_agents.core.review import OutOfScopeNotConfirmed, Reviewer
from kanban_agents.core.scope import check_scope, files_named_in, matches, protected_patterns
from kanban_agents.core.session import BoardSession, OutOfScopeNeedsConfirm
from tests.core.test_review import kanban, reviewed
from tests.core.test_runs import PY, make_card
from tests.helpers import git


def card(front: str):
    text = f"---\ntitle: T\n{front}---\n\nbody\n"
    return parse_card(Path("c.md"), text.encode())


# --- the rules, on their own ---------------------------------------------------------------


def test_patterns_match_files_directories_and_globs():
    assert matches("src/a.py", "src/a.py")
    assert matches("src/deep/a.py", "src")
    assert matches("src/deep/a.py", "src/")
    assert matches("src/deep/a.py", "src/*.py")  # * crosses directories, like .gitignore's **
    assert matches("a.py", "**/*.py") and matches("x/a.py", "**/*.py")
    assert not matches("srcx/a.py", "src")
    assert not matches("docs/a.md", "src/*.py")


def test_files_named_in_test_commands_are_protected_by_default():
    assert files_named_in(["pytest -q tests/test_x.py::test_a", "python -m pytest"]) == [
        "tests/test_x.py"
    ]
    assert files_named_in(["./scripts/check.sh --fast", "node spec.js"]) == [
        "scripts/check.sh",
        "spec.js",
    ]
    assert files_named_in(["sh -c 'cd app && pytest tests/'"]) == ["tests"]
    assert files_named_in(['python -c "import calc; assert calc.sub(3, 1) == 2"']) == []
    assert files_named_in(["npm test", "cargo test", "make check"]) == []
    assert protected_patterns(card("tests: pytest tests/test_x.py\n")) == ["tests/test_x.py"]
    # protected: overrides the default, [] protects nothing
    assert protected_patterns(card("tests: pytest t.py\nprotected: [spec/*]\n")) == ["spec/*"]
    assert protected_patterns(card("tests: pytest t.py\nprotected: []\n")) == []


def test_check_scope_lists_outside_files_and_protected_tests():
    report = check_scope(
        card("files: [src/]\ntests: pytest tests/test_x.py\n"),
        ["src/a.py", "README.md", "tests/test_x.py"],
    )
    assert report.limited and report.flagged
    assert report.out_of_scope == ("README.md", "tests/test_x.py")
    assert report.protected_changed == ("tests/test_x.py",)
    # without files: no scope limit, only protected tests count
    free = check_scope(card("tests: pytest tests/test_x.py\n"), ["anything.txt"])
    assert not free.limited and not free.flagged and free.out_of_scope == ()


# --- through a real run, the session and the CLI ---------------------------------------------


@pytest.fixture
def project(repo):
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "check_sub.py").write_text("import calc\nassert calc.sub(3, 1) == 2\n")
    board = repo / "board"
    board.mkdir()
    make_card(board, "sub", tests=f"{PY} check_sub.py")  # files: [calc.py]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def worktree(project: Path) -> Path:
    return project.parent / "repo-worktrees" / "sub"


async def test_out_of_scope_file_is_shown_and_merge_refused_until_allowed(project):
    await reviewed(project)
    (worktree(project) / "notes.txt").write_text("the agent wandered off\n")  # uncommitted
    head = git(project, "rev-parse", "HEAD").strip()

    proc = kanban(project, "diff", "sub", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["out_of_scope"] == ["notes.txt"] and report["protected_changed"] == []
    assert report["scope_limited"] is True

    with pytest.raises(OutOfScopeNotConfirmed, match=r"notes\.txt"):
        Reviewer(BoardStore.open(project / "board")).merge("sub")
    proc = kanban(project, "merge", "sub")
    assert proc.returncode == 1
    assert "outside the card's files: notes.txt" in proc.stderr
    assert "--allow-out-of-scope" in proc.stderr and "Traceback" not in proc.stderr
    assert git(project, "rev-parse", "HEAD").strip() == head  # nothing landed
    assert BoardStore.open(project / "board").get("sub").status == "review"

    proc = kanban(project, "merge", "sub", "--allow-out-of-scope")
    assert proc.returncode == 0, proc.stderr
    assert (project / "notes.txt").exists()
    assert BoardStore.open(project / "board").get("sub").status == "done"


async def test_changed_acceptance_test_is_protected(project):
    await reviewed(project)
    (worktree(project) / "check_sub.py").write_text("pass  # weakened\n")
    session = BoardSession(BoardStore.open(project / "board"), agents=False)
    view = session.diff("sub")
    assert view.scope.protected_changed == ("check_sub.py",)
    assert view.scope.out_of_scope == ("check_sub.py",)
    with pytest.raises(OutOfScopeNeedsConfirm) as refused:
        session.merge("sub")
    assert refused.value.report.protected_changed == ("check_sub.py",)
    assert "acceptance tests" in str(refused.value)
    proc = kanban(project, "diff", "sub", "--stat")
    assert "! changed its own acceptance tests (protected): check_sub.py" in proc.stdout


async def test_work_inside_scope_merges_without_asking(project):
    await reviewed(project)
    session = BoardSession(BoardStore.open(project / "board"), agents=False)
    assert not session.scope("sub").flagged
    proc = kanban(project, "diff", "sub", "--json")
    assert json.loads(proc.stdout)["out_of_scope"] == []
    assert session.merge("sub").commit
