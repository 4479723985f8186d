"""Do two cards' declared ``files`` overlap? "One owner, one slice": two agents on the same files
should be sequenced, not run blindly in parallel."""

from __future__ import annotations

from fnmatch import fnmatchcase


def _normal(path: str) -> str:
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/")


def paths_overlap(a: str, b: str) -> bool:
    """Same file, one a directory holding the other, or one a glob matching the other."""
    a, b = _normal(a), _normal(b)
    if not a or not b:
        return False
    if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
        return True
    return fnmatchcase(a, b) or fnmatchcase(b, a)


def files_overlap(first: list[str], second: list[str]) -> list[str]:
    """The entries of ``first`` that overlap some entry of ``second``, in order."""
    return [a for a in first if any(paths_overlap(a, b) for b in second)]
