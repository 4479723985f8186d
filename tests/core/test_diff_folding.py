"""The review folds noise: lock files, globs of ``[review] collapse``, files ``.gitattributes``
marks generated or ``-diff``, and large files; their patches are kept for unfolding."""

from __future__ import annotations

from pathlib import Path

from kanban_agents.config import ReviewSettings
from kanban_agents.core import git
from kanban_agents.core.diff_folding import fold, matches
from tests.helpers import git as run_git


def test_globs_match_names_or_path_tails():
    assert matches("web/package-lock.json", "package-lock.json")
    assert matches("static/app.min.js", "*.min.js")
    assert matches("tests/__snapshots__/test_x/a.svg", "__snapshots__/**")
    assert matches("tests/ui.snap", "*.snap")
    assert not matches("src/app.js", "*.min.js")
    assert not matches("docs/snapshots.md", "__snapshots__/**")


def test_worktree_diff_folds_noise_and_keeps_the_change(repo: Path):
    (repo / ".gitattributes").write_text("gen/*.py linguist-generated\n*.dat -diff\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "attributes")
    (repo / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    (repo / "gen").mkdir()
    (repo / "gen" / "schema.py").write_text("X = 1\n")
    (repo / "blob.dat").write_text("data\n")
    (repo / "big.py").write_text("".join(f"x{i} = {i}\n" for i in range(30)))
    (repo / "src.py").write_text("def f():\n    return 1\n")
    (repo / "__snapshots__").mkdir()
    (repo / "__snapshots__" / "view.svg").write_text("<svg/>\n")
    settings = ReviewSettings(collapse=(*ReviewSettings().collapse, "*.svg"), fold_lines=20)
    diff = fold(git.worktree_diff(repo, "HEAD"), repo, settings)
    folded = {f.path: f.folded for f in diff.files}
    assert folded == {
        "__snapshots__/view.svg": "collapsed (__snapshots__/**)",
        "big.py": "large (30 lines)",
        "blob.dat": None,  # -diff: git gives no patch, only "Binary files differ"
        "gen/schema.py": "generated (.gitattributes)",
        "package-lock.json": "collapsed (package-lock.json)",
        "src.py": None,
    }
    assert next(f for f in diff.files if f.path == "blob.dat").skipped == "binary"
    lock = next(f for f in diff.files if f.path == "package-lock.json")
    assert '+{"lockfileVersion": 3}' in lock.patch  # kept: unfolding needs no git call
