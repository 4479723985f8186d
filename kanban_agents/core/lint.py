"""Is a card written as operating instructions? Task, files, constraints, tests, done condition.

The findings are data (code + message) so the CLI can print them and the TUI can badge cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .card import Card

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_LABEL_LINE = re.compile(
    r"^\s*(?:[-*]\s+)?\*{0,2}([A-Za-z][A-Za-z ]{1,30}?)\*{0,2}\s*:", re.MULTILINE
)
_WORD = re.compile(r"[A-Za-z0-9_']+")
_HEDGES = re.compile(
    r"\b(maybe|perhaps|somehow|something|cleaner|nicer|better|improve|improvements?|etc|"
    r"and so on|if possible|kind of|sort of|stuff|things|whatever|look into|check if|figure out)\b",
    re.IGNORECASE,
)
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


def lint_card(card: Card) -> list[LintFinding]:
    body = card.body
    sections = _section_names(body)
    words = _WORD.findall(_HEADING.sub("", body))
    findings: list[LintFinding] = []

    if len(words) < 6 and not _has_section(sections, _TASK_WORDS):
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
    hedges = {m.group(0).lower() for m in _HEDGES.finditer(body)}
    if len(words) > LONG_BODY_WORDS and len(sections) < 2:
        findings.append(
            LintFinding(
                "vague",
                f"long ({len(words)} words) with no sections: split it or add Task/Files/Done when",
            )
        )
    elif len(hedges) >= 3 and not (card.tests and card.files):
        findings.append(
            LintFinding("vague", f"vague wording ({', '.join(sorted(hedges)[:4])}): be specific")
        )
    return findings


def _section_names(body: str) -> set[str]:
    """Names of the sections that have something in them: '## Files' headings followed by
    text, or 'Files: ...' label lines."""
    names: set[str] = set()
    headings = list(_HEADING.finditer(body))
    for i, match in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        if _WORD.search(body[match.end() : end]):
            names.add(match.group(1).strip().lower().rstrip(":"))
    for match in _LABEL_LINE.finditer(body):
        line_end = body.find("\n", match.end())
        rest = body[match.end() : line_end if line_end != -1 else len(body)]
        following = body[line_end : line_end + 200] if line_end != -1 else ""
        if _WORD.search(rest) or re.match(r"\n\s*[-*]\s+\w", following):
            names.add(match.group(1).strip().lower())
    return names


def _has_section(sections: set[str], words: tuple[str, ...]) -> bool:
    return any(name == w or name.startswith(w + " ") for name in sections for w in words)
