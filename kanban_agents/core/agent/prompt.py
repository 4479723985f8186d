"""The card as the agent's operating instructions: task, files, constraints, tests, done when."""

from __future__ import annotations

from pathlib import Path

from ..card import Card

SYSTEM_PROMPT = """\
You are a careful software engineer working alone on one task from a kanban board.
You work in your own git worktree: a full checkout of the repository on a branch of your own.
Nobody else edits it while you work, and your changes reach the main branch only after review.

Use the tools:
- list_files, read_file, search: look before you change anything.
- write_file, edit_file: change files. Paths are relative to the worktree root; you cannot leave it.
- run: run shell commands in the worktree (tests, linters, builds). Long-running servers are stopped
  when the command returns.
- finish(summary): when the task is done. The card's acceptance tests then run automatically; if they
  fail you get their output and keep working. The summary is what the reviewer reads first: say what
  you changed and why, file by file, in a few lines.

Rules:
- Stay within the card's files and constraints. If the task needs more, say so in your summary.
- Follow-up work you find (a bug next door, a missing test) is not yours to do now: write it as a
  new card with `kanban-agents new "<title>"` (run in the worktree, it lands on the real board) or
  the board's MCP tool `create_card`, and name it in your summary.
- Do not commit, push, or change git configuration: the board commits your work when the tests pass.
- Prefer small, focused diffs. Keep existing behaviour unless the task says otherwise.
"""


def _card_sections(card: Card, worktree: Path, branch: str) -> list[str]:
    """The card itself, the same for every kind of agent: task, files, constraints."""
    parts = [
        f"# Card {card.id}: {card.title}",
        f"Worktree: {worktree} (branch {branch}). All paths are relative to it.",
    ]
    body = card.body.strip()
    if body:
        parts.append(body)
    if card.files:
        parts.append("## Files you may touch\n" + "\n".join(f"- {f}" for f in card.files))
    if card.constraints:
        parts.append("## Constraints\n" + "\n".join(f"- {c}" for c in card.constraints))
    return parts


def _test_commands(card: Card) -> str:
    return "\n".join(f"    {t}" for t in card.tests)


def card_prompt(card: Card, worktree: Path, branch: str) -> str:
    """The first user message to the built-in agent: the card as operating instructions."""
    parts = _card_sections(card, worktree, branch)
    if card.tests:
        parts.append(
            "## Acceptance tests (the stopping rule)\n"
            f"These commands must pass in the worktree:\n{_test_commands(card)}\n"
            "They run automatically when you call finish(summary)."
        )
    else:
        parts.append(
            "## Done when\nThe card names no test command: check your work yourself with the run tool, "
            "then call finish(summary)."
        )
    return "\n\n".join(parts) + "\n"


def review_prompt(feedback: str, round_number: int) -> str:
    """Sent to the same agent when a reviewer sends the card back."""
    return (
        f"The reviewer sent this card back (review round {round_number}). Their notes:\n\n"
        f"{feedback.strip()}\n\n"
        "Your earlier changes are still in the worktree. Address every note, run the tests, and call "
        "finish(summary) again with a summary of what changed in this round."
    )


def command_prompt(card: Card, worktree: Path, branch: str) -> str:
    """For an agent CLI (codex, claude, aider ...): the same card, with the stopping rule as that
    CLI meets it. It has its own tools and no finish(summary): it stops when it is done, the board
    then runs the tests, and a ``Summary:`` line is the one thing of its output the board keeps."""
    parts = _card_sections(card, worktree, branch)
    if card.tests:
        parts.append(
            "## Acceptance tests (the stopping rule)\n"
            f"These commands must pass in the worktree:\n{_test_commands(card)}\n"
            "Run them yourself if you can. When you stop, the board runs them; if they fail, the "
            "card fails."
        )
    else:
        parts.append("## Done when\nThe card names no test command: check your work yourself.")
    parts.append(
        "## Follow-up work\n"
        "Work you find outside this card (a bug next door, a missing test) is not yours to do "
        'now: write it as a new card with `kanban-agents new "<title>"` (run here, it lands on '
        "the real board) or the board's MCP tool `create_card`, and name it in your summary."
    )
    parts.append(
        "## When you are done\n"
        "Do not commit, push, or change git configuration: the board commits your work after the "
        "tests pass. End your last message with one line that starts with `Summary:` and says "
        "what you changed and why, in a sentence or two; the reviewer reads it first."
    )
    return "\n\n".join(parts) + "\n"
