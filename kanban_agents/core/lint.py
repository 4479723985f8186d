"""Is a card written as operating instructions? Task, files, constraints, tests, done condition.

The findings are data (code + message) so the CLI can print them and the TUI can badge cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .card import Card

HEDGE_WORDS = (
    "maybe", "perhaps", "somehow", "something", "cleaner", "nicer", "better", "improve", "improvement",
    "improvements", "etc", "and so on", "if possible", "kind of", "sort of", "stuff", "things",
    "whatever", "look into", "check if", "figure out",
)  # fmt: skip
_HEDGE_PATTERNS = {word: re.compile(rf"\b{re.escape(word)}\b") for word in HEDGE_WORDS}
_TASK_WORDS = ("task", "goal", "what to do", "what", "objective", "summary")
_FILES_WORDS = ("files", "files likely affected", "scope", "where")
_CONSTRAINT_WORDS = ("constraints", "constraint", "rules", "do not", "non-goals", "limits")
_DONE_WORDS = (
    "done when",
    "done",
    "definition of done",
    "acceptance",
    "acceptance criteria",
    "tests",
)

LONG_BODY_WORDS = 400


@dataclass(frozen=True)
class LintFinding:
    code: str
    message: str
    severity: str = "warning"  # "warning" | "error"

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity}


# Findings by card digest: a card's findings depend on its file only. The card cache saves and
# restores this, so a big board is not linted again on every start.
MEMO: dict[str, tuple[LintFinding, ...]] = {}


def lint_card(card: Card) -> list[LintFinding]:
    found = MEMO.get(card.digest)
    if found is None:
        found = MEMO[card.digest] = tuple(_lint(card))
    return list(found)


def _lint(card: Card) -> list[LintFinding]:
    body = card.body
    sections, words = _scan(body)
    findings: list[LintFinding] = []

    if words < 6 and not _has_section(sections, _TASK_WORDS):
        findings.append(
            LintFinding(
                "no-task", "the body does not say what to do: write the task as an instruction"
            )
        )
    if not card.files and not _has_section(sections, _FILES_WORDS):
        findings.append(
            LintFinding("no-files", "no files: list the paths this slice may touch ('files:')")
        )
    if not card.constraints and not _has_section(sections, _CONSTRAINT_WORDS):
        findings.append(
            LintFinding(
                "no-constraints", "no constraints: say what must not change ('constraints:')"
            )
        )
    if not card.tests:
        if _has_section(sections, _DONE_WORDS):
            findings.append(
                LintFinding(
                    "no-tests", "no 'tests:' command: the agent cannot check its done condition"
                )
            )
        else:
            findings.append(
                LintFinding(
                    "no-tests", "no tests or done condition: add 'tests:' (the acceptance command)"
                )
            )
    if words > LONG_BODY_WORDS and len(sections) < 2:
        findings.append(
            LintFinding(
                "vague",
                f"long ({words} words) with no sections: split it or add Task/Files/Done when",
            )
        )
    elif not (card.tests and card.files):
        hedges = _hedges(body.lower())
        if len(hedges) >= 3:
            findings.append(
                LintFinding(
                    "vague", f"vague wording ({', '.join(sorted(hedges)[:4])}): be specific"
                )
            )
    return findings


def _hedges(lowered: str) -> set[str]:
    # A substring test first: much cheaper than one regex with many alternatives.
    return {w for w in HEDGE_WORDS if w in lowered and _HEDGE_PATTERNS[w].search(lowered)}


def _scan(body: str) -> tuple[set[str], int]:
    """One pass over the body: the names of sections that have something in them ('## Files'
    headings followed by text, or 'Files: ...' label lines) and the number of words outside
    headings."""
    sections: set[str] = set()
    words = 0
    heading: str | None = None
    label: str | None = None  # a 'Done when:' line whose content may be on the next lines
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            name = line.lstrip("#").strip().rstrip(":").strip().lower()
            heading, label = (name or None), None
            continue
        words += len(line.split())
        if heading is not None:
            sections.add(heading)
            heading = None
        if label is not None:
            sections.add(label)
            label = None
        colon = line.find(":", 0, 40)
        if colon > 0:
            name = line[:colon].lstrip("-* ").strip("* ").lower()
            if name and name.replace(" ", "").isalpha():
                if line[colon + 1 :].strip():
                    sections.add(name)
                else:
                    label = name
    return sections, words


def _has_section(sections: set[str], words: tuple[str, ...]) -> bool:
    return any(name == w or name.startswith(w + " ") for name in sections for w in words)
