"""Which files of a card's diff a review shows folded: counts only, until the reviewer unfolds one.

Noise is folded so the change itself stays readable: lock files, minified bundles and snapshots
(``[review] collapse``, globs), what the repository's ``.gitattributes`` marks generated
(``linguist-generated``) or not for diffing (``-diff``), and any file with more changed lines than
``[review] fold_lines``. Their patches are kept: unfolding one needs no second git call.
"""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path

from . import git

GENERATED_ATTRIBUTES = ("linguist-generated", "diff")


def fold_reason(
    path: str,
    changed: int,
    attributes: dict[str, str],
    collapse: tuple[str, ...],
    fold_lines: int,
) -> str | None:
    """Why ``path`` is folded, in the words the Diff tab shows; None: shown."""
    generated = attributes.get("linguist-generated", "unspecified")
    if generated in ("set", "true"):
        return "generated (.gitattributes)"
    if attributes.get("diff") == "unset":
        return "-diff (.gitattributes)"
    pattern = next((p for p in collapse if matches(path, p)), None)
    if pattern is not None:
        return f"collapsed ({pattern})"
    if changed > fold_lines:
        return f"large ({changed} lines)"
    return None


def matches(path: str, pattern: str) -> bool:
    """A glob without '/' matches the file's name; with one, the path or any tail of it
    (``__snapshots__/**`` matches ``tests/__snapshots__/a.svg``)."""
    if "/" not in pattern:
        return fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    parts = path.split("/")
    return any(fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts)))


def fold(diff: git.WorktreeDiff, checkout: Path, settings) -> git.WorktreeDiff:
    """``diff`` with each file's ``folded`` reason set (``settings``: the ``[review]`` table).
    ``checkout``: where ``.gitattributes`` is read (the card's worktree, else the repository)."""
    candidates = [f.path for f in diff.files if not f.skipped]
    try:
        attributes = git.check_attributes(checkout, candidates, GENERATED_ATTRIBUTES)
    except git.GitError:
        attributes = {}  # no attributes to go by: the globs and the size still fold
    files = []
    for f in diff.files:
        reason = None
        if not f.skipped:
            reason = fold_reason(
                f.path,
                f.added + f.deleted,
                attributes.get(f.path, {}),
                tuple(settings.collapse),
                settings.fold_lines,
            )
        files.append(replace(f, folded=reason) if reason else f)
    return replace(diff, files=files)
