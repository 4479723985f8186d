from __future__ import annotations

from pathlib import Path

from kanban_agents.core.card import parse_card
from kanban_agents.core.lint import lint_card


def codes(text: str) -> list[str]:
    return [f.code for f in lint_card(parse_card(Path("c.md"), text.encode()))]


def test_operating_instructions_card_is_clean():
    text = (
        "---\ntitle: Reset tokens\nfiles: [auth.ts, reset.ts]\nconstraints: Do not change public API signatures.\n"
        "tests: npm test -- auth\n---\n"
        "In this worktree, update the auth flow so password reset uses the new token format.\n"
    )
    assert codes(text) == []


def test_sections_in_body_count():
    text = (
        "---\ntitle: t\ntests: pytest\n---\n## Task\nAdd a flag.\n\n## Files\n- cli.py\n\n"
        "## Constraints\nKeep output stable.\n\n## Done when\nTests pass.\n"
    )
    assert codes(text) == []


def test_vague_card_from_the_essay():
    text = "---\ntitle: auth\n---\nCan you improve the auth system and maybe make it cleaner? Also check if anything breaks.\n"
    assert codes(text) == ["no-files", "no-constraints", "no-tests", "vague"]


def test_empty_body_and_empty_template_sections_have_no_task():
    assert "no-task" in codes("---\ntitle: t\n---\n")
    assert "no-task" in codes("---\ntitle: t\n---\n## Task\n\n## Done when\n\n")


def test_done_condition_without_tests_command():
    [finding] = [
        f
        for f in lint_card(parse_card(Path("c.md"), b"---\ntitle: t\n---\nDone when: it works\n"))
        if f.code == "no-tests"
    ]
    assert "tests:" in finding.message


def test_long_unstructured_body_is_vague():
    body = ("word " * 500).strip()
    assert "vague" in codes(f"---\ntitle: t\nfiles: [a]\nconstraints: c\ntests: t\n---\n{body}\n")
