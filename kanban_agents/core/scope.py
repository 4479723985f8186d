"""Did the card's work stay inside what the card asked for?

A card's ``files`` (paths, directories or globs) is its scope: a change to any other path is
*out of scope*. A card without ``files`` has no scope limit, so nothing of it is out of scope.
Its acceptance tests are *protected*: an agent that edits the tests it is judged by can make
them pass by weakening them. ``protected:`` in the front matter names them (globs allowed;
``protected: []`` protects nothing); without it, the files named in the card's ``tests``
commands are protected (``pytest tests/test_x.py::test_a`` protects ``tests/test_x.py``).

The review shows both on the card, at the top of the Diff tab and in the merge dialog, and a
merge needs an explicit yes to land them (``merge --allow-out-of-scope``).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .card import Card

PROTECTED_KEY = "protected"


@dataclass(frozen=True)
class ScopeReport:
    """What a card's changes did outside its scope. Empty tuples when all is in scope."""

    card_id: str
    limited: bool  # the card names ``files``; without them nothing is out of scope
    out_of_scope: tuple[str, ...] = ()
    protected_changed: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        """Something here needs the reviewer's explicit yes before a merge."""
        return bool(self.out_of_scope or self.protected_changed)

    def lines(self) -> list[str]:
        """The findings in words, one per line (the card's tooltip, the merge dialog)."""
        found = []
        if self.out_of_scope:
            found.append("changed outside the card's files: " + ", ".join(self.out_of_scope))
        if self.protected_changed:
            found.append(
                "changed its own acceptance tests (protected): " + ", ".join(self.protected_changed)
            )
        return found

    def as_json(self) -> dict:
        return {
            "scope_limited": self.limited,
            "out_of_scope": list(self.out_of_scope),
            "protected_changed": list(self.protected_changed),
        }


def protected_patterns(card: Card) -> list[str]:
    """The card's protected paths: ``protected:`` if set, else the files its tests name."""
    if PROTECTED_KEY in card.meta:
        value = card.meta.get(PROTECTED_KEY)
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [str(item).strip() for item in items if str(item).strip()]
    return files_named_in(card.tests)


def files_named_in(commands: Iterable[str]) -> list[str]:
    """Paths a test command names: words with a '/' or a file suffix, not options or
    assignments (``pytest -q tests/test_x.py::test_a`` names ``tests/test_x.py``; the program
    counts when it is a path, ``./tests/run.sh``; ``sh -c '...'`` is looked into)."""
    found: dict[str, None] = {}
    for command in commands:
        try:
            words = shlex.split(command)
        except ValueError:  # an unbalanced quote: the plain words still say something
            words = command.split()
        for position, word in enumerate(words):
            if any(space in word for space in " \t\n"):
                found.update(dict.fromkeys(files_named_in([word])))
                continue
            word = word.split("::", 1)[0]
            if position == 0 and "/" not in word:
                continue  # the program, found on PATH
            if not word or word.startswith("-") or "=" in word or "://" in word:
                continue
            name = word.rsplit("/", 1)[-1]
            if "/" in word or ("." in name.strip(".") and not _looks_like_module(word)):
                found[_normal(word)] = None
    return [path for path in found if path]


def _looks_like_module(word: str) -> bool:
    # ``python -m pytest`` or ``-c "import calc"`` pieces: dotted names without a file suffix
    # that a test runner would read as a path are left out.
    return "/" not in word and word.rsplit(".", 1)[-1] not in _FILE_SUFFIXES


_FILE_SUFFIXES = {
    "py", "js", "mjs", "cjs", "ts", "tsx", "jsx", "go", "rs", "rb", "java", "kt", "c", "cc",
    "cpp", "h", "hpp", "sh", "bats", "php", "cs", "swift", "ex", "exs", "lua", "pl", "t",
    "json", "yaml", "yml", "toml", "txt", "md", "feature",
}  # fmt: skip


def _normal(path: str) -> str:
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/")


def matches(path: str, pattern: str) -> bool:
    """``path`` (a changed file) is ``pattern``, lies under it (a directory), or matches it as
    a glob (``*`` crosses directories; a leading ``**/`` also matches at the top)."""
    return matcher([pattern])(path)


def matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """One compiled test for many patterns (see ``matches``): a diff of 20,000 files is checked
    against a card's patterns with one regex match per file."""
    alternatives = []
    for pattern in patterns:
        pattern = _normal(pattern)
        if not pattern:
            continue
        alternatives.append(re.escape(pattern) + "(?:/.*)?")  # the path, or a path under it
        alternatives.append(fnmatch.translate(pattern))
        if pattern.startswith("**/"):
            alternatives.append(fnmatch.translate(pattern[3:]))
    if not alternatives:
        return lambda _path: False
    regex = re.compile("|".join(f"(?:{a})" for a in alternatives), re.DOTALL)
    return lambda path: regex.fullmatch(_normal(path)) is not None


def check_scope(card: Card, changed: Iterable[str]) -> ScopeReport:
    """What of ``changed`` (paths the card's work changes) lies outside the card's scope."""
    paths = sorted({_normal(p) for p in changed if p})
    scope = card.files
    in_scope, protected = matcher(scope), matcher(protected_patterns(card))
    outside = tuple(p for p in paths if not in_scope(p)) if scope else ()
    touched = tuple(p for p in paths if protected(p))
    return ScopeReport(card.id, bool(scope), outside, touched)


def diff_paths(files) -> list[str]:
    """The paths a diff changes (both names of a rename): ``files`` are ``git.DiffFile``s."""
    paths = []
    for f in files:
        paths.append(f.path)
        if f.old_path:
            paths.append(f.old_path)
    return paths


def scopes_of(store, changed: dict[str, set[str]]) -> dict[str, ScopeReport]:
    """The flagged scope reports of the cards whose changed paths are known (the radar's)."""
    reports = {}
    for card_id, paths in changed.items():
        card = store.entry(card_id)
        if isinstance(card, Card):
            report = check_scope(card, paths)
            if report.flagged:
                reports[card_id] = report
    return reports
