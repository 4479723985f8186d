"""``kanban-agents init``: a new board directory with a documented config and one example card."""

from __future__ import annotations

from pathlib import Path

from ..config import CONFIG_FILE

CONFIG_TEMPLATE = """\
# kanban-agents board configuration. Every key is optional; the values shown are the defaults.
# Environment variables KANBAN_AGENTS_<SECTION>_<KEY> override them (e.g. KANBAN_AGENTS_RUNS_CONCURRENCY=5).

[board]
# Columns in order: id (used in card files as `status:`), title, optional WIP limit.
columns = [
  { id = "todo", title = "To Do" },
  { id = "in-progress", title = "In Progress", wip = 3 },
  { id = "review", title = "Review" },
  { id = "done", title = "Done" },
]
agent_column = "in-progress"   # a card entering this column starts an agent
review_column = "review"       # where a card goes when its tests pass
done_column = "done"           # where a merged card goes; `depends_on` is satisfied here
archive_dir = ".archive"       # archived cards are moved here

[agents]
default = "builtin"            # profile used when a card has no `agent:` key

[agents.builtin]               # the built-in agent over any OpenAI-compatible endpoint
# model = "gpt-4o-mini"        # unset: the first model the server lists
# base_url = "http://localhost:11434/v1"   # unset: $OPENAI_BASE_URL, then OpenAI
api_key_env = "OPENAI_API_KEY"
max_steps = 60
max_wall_seconds = 1800
max_tokens = 400000

# Agent CLIs you already use run as commands in the worktree ({prompt}, {prompt_file},
# {worktree}, {card_id} are filled in). codex, claude and aider ship as profiles; e.g.:
# [agents.claude]
# command = ["claude", "-p", "{prompt}", "--permission-mode", "acceptEdits"]

[worktrees]
root = ""                      # empty: <repo>/../<repo-name>-worktrees
branch_prefix = "kanban/"
base_branch = ""               # empty: the branch checked out when the run starts
copy_files = []                # e.g. [".env"]: copied from the repo into each new worktree
setup = []                     # e.g. ["pip install -e ."]: run in each new worktree

[runs]
concurrency = 3                # agents running at once; the rest wait as `queued`
hold_on_overlap = false        # true: a card whose `files` overlap a running card waits
test_attempts = 3              # times the agent may retry after failing its tests
test_timeout = 600             # seconds for the card's `tests` command
command_timeout = 120          # default seconds for the agent's `run` tool
output_cap = 30000             # characters of command output returned to the agent

[review]
merge_strategy = "merge"       # merge | squash | rebase
delete_branch = true
remove_worktree = true

[ui]
# theme = "textual-dark"       # unset: the theme you last chose (kept in ~/.config/kanban-agents)
log_max_lines = 50000
editor = ""                    # empty: $VISUAL, then $EDITOR, then vi
"""

EXAMPLE_CARD = """\
---
title: Add a --version flag to the CLI
status: todo
order: 1000
priority: P2
labels: [cli]
files: [src/cli.py, tests/test_cli.py]
constraints:
  - Do not change the output of existing commands.
tests: python -m pytest -q tests/test_cli.py
---

## Task

In this worktree, add a `--version` flag to the command-line interface that prints the
package version and exits with status 0.

## Files

- `src/cli.py`: the argument parser.
- `tests/test_cli.py`: a test that runs the flag and checks the output.

## Constraints

Do not change the output of existing commands.

## Done when

`python -m pytest -q tests/test_cli.py` passes and you have summarised your diff.
"""


def init_board(directory: Path) -> list[Path]:
    """Create ``directory`` with ``kanban.toml`` and an example card. Existing files are kept."""
    directory.mkdir(parents=True, exist_ok=True)
    created = []
    config = directory / CONFIG_FILE
    if not config.exists():
        config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
        created.append(config)
    if not any(p.suffix == ".md" for p in directory.iterdir()):
        card = directory / "add-version-flag.md"
        card.write_text(EXAMPLE_CARD, encoding="utf-8")
        created.append(card)
    return created
