"""``kanban-agents demo``: a throwaway repository with a small board, worked by a DEMO model.

The demo model is the built-in scripted server answering with canned steps for the demo cards
(it reads, edits, runs the tests, finishes), so a new user sees the whole flow (agents in their
worktrees, live logs, diffs, review, merge) without an API key. It is not an LLM and says so.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from .core import git
from .core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from .core.init_board import CONFIG_TEMPLATE

DEMO_MODEL = "demo-scripted-model"

TEXTSTATS = '''\
"""Small text statistics."""


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())
'''

TESTS = """\
import unittest

import textstats


class WordCountTest(unittest.TestCase):
    def test_words(self):
        self.assertEqual(textstats.word_count("a b  c"), 3)


if __name__ == "__main__":
    unittest.main()
"""

README = "# textstats\n\nSmall text statistics, the demo project of kanban-agents.\n"

CARDS = {
    "add-line-count": """\
---
title: Add a line_count function
status: todo
order: 1000
priority: P1
labels: [stats]
files: [textstats.py, test_textstats.py]
constraints: Keep word_count unchanged.
tests: python3 -m unittest -q test_textstats
---

## Task

In this worktree, add `line_count(text)` to `textstats.py`: the number of lines in `text`
(an empty string has 0 lines).

## Done when

`python3 -m unittest -q test_textstats` passes with a new test for `line_count`, and the diff
is summarised.
""",
    "add-char-count": """\
---
title: Add a char_count function
status: todo
order: 2000
labels: [stats]
files: [textstats.py, test_textstats.py]
constraints: Keep word_count unchanged.
tests: python3 -m unittest -q test_textstats
---

## Task

Add `char_count(text, spaces=True)` to `textstats.py`: the number of characters, optionally
without whitespace.

## Done when

The unit tests pass with a test for both modes.
""",
    "cli-entry-point": """\
---
title: Add a command-line entry point
status: todo
order: 3000
labels: [cli]
files: [cli.py]
constraints: Standard library only.
tests: python3 -c "import subprocess, sys; out = subprocess.run([sys.executable, 'cli.py'], input='a b\\nc', capture_output=True, text=True).stdout; assert out.split() == ['3', '2'], out"
depends_on: [add-line-count]
---

## Task

Write `cli.py` that reads text from stdin and prints the word count and the line count, one per
line.

## Done when

The test command passes.
""",
    "improve-the-code": """\
---
title: Improve the code
status: todo
order: 4000
---

Can you improve the code and maybe make it cleaner? Also check if anything breaks.
""",
}


# The demo board says it runs on the demo model, so reopened later from any shell it still does:
# `kanban-agents` starts the scripted server itself for a board whose profile is `kind = "demo"`.
_DEFAULT_AGENT = 'default = "builtin"            # profile used when a card has no `agent:` key\n'
DEMO_CONFIG = CONFIG_TEMPLATE.replace("concurrency = 3", "concurrency = 2").replace(
    _DEFAULT_AGENT,
    'default = "demo"               # the scripted demo model (not a real LLM); "builtin" for yours\n'
    "\n"
    "[agents.demo]                  # kanban-agents starts the demo model itself, no API key\n"
    'kind = "demo"\n',
)


def create_demo_repo(directory: Path) -> Path:
    """A git repository with the textstats project and its board; returns the board dir."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "textstats.py").write_text(TEXTSTATS)
    (directory / "test_textstats.py").write_text(TESTS)
    (directory / "README.md").write_text(README)
    (directory / ".gitignore").write_text("__pycache__/\n")
    board = directory / "board"
    board.mkdir(exist_ok=True)
    (board / "kanban.toml").write_text(DEMO_CONFIG)
    for card_id, text in CARDS.items():
        (board / f"{card_id}.md").write_text(text)
    git.init_repository(directory, branch="main")
    git.commit_all(directory, "textstats: word_count")
    return board


# ------------------------------------------------------------------------------ the demo model

FUNCTIONS = {
    "add-line-count": (
        '\n\ndef line_count(text: str) -> int:\n    """Number of lines; an empty string has none."""\n'
        "    return len(text.splitlines())\n",
        '\n    def test_line_count(self):\n        self.assertEqual(textstats.line_count("a\\nb\\n"), 2)\n'
        '        self.assertEqual(textstats.line_count(""), 0)\n',
    ),
    "add-char-count": (
        '\n\ndef char_count(text: str, spaces: bool = True) -> int:\n    """Number of characters, '
        'optionally without whitespace."""\n    return len(text) if spaces else len("".join(text.split()))\n',
        '\n    def test_char_count(self):\n        self.assertEqual(textstats.char_count("a b"), 3)\n'
        '        self.assertEqual(textstats.char_count("a b", spaces=False), 2)\n',
    ),
}

CLI = '''\
"""Word and line counts of stdin."""

import sys

import textstats

text = sys.stdin.read()
print(textstats.word_count(text))
print(textstats.line_count(text))
'''


def demo_responder(request: dict) -> Reply:
    """Plays a careful agent for the demo cards, step by step, from what the request holds."""
    messages = request.get("messages", [])
    system = messages[0].get("content", "") if messages else ""
    if "operating instructions for a coding agent" in system:
        return _tighten_answer(messages)
    if "split a large kanban card" in system:
        return _split_answer(messages)
    first = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
    match = re.search(r"# Card (\S+):", first)
    card_id = match.group(1) if match else "?"
    note = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    if "review round" in note:
        if "git merge" in note:
            return _resolve_conflict(_steps_since_last_user(messages))
        return _review_round()
    steps = _steps(card_id)
    done = sum(1 for m in messages if m.get("role") == "assistant")
    since_restart = _steps_since_last_user(messages)
    index = min(since_restart if done else 0, len(steps) - 1)
    return steps[index]


def _steps_since_last_user(messages: list[dict]) -> int:
    count = 0
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "assistant":
            count += 1
    return count


def _say(text: str, *calls: ToolCallSpec) -> Reply:
    return Reply(text=text, tool_calls=list(calls), delay=0.6, chunk_delay=0.02)


def _steps(card_id: str) -> list[Reply]:
    tests = "python3 -m unittest -q test_textstats"
    if card_id in FUNCTIONS:
        code, test = FUNCTIONS[card_id]
        name = code.split("def ")[1].split("(")[0]
        return [
            _say("Let me look at the project first.", ToolCallSpec("list_files", {"path": "."})),
            _say(
                "Reading the module and its tests.",
                ToolCallSpec("read_file", {"path": "textstats.py"}),
                ToolCallSpec("read_file", {"path": "test_textstats.py"}),
            ),
            _say(
                f"Adding `{name}` after `word_count`.",
                ToolCallSpec(
                    "edit_file",
                    {
                        "path": "textstats.py",
                        "old": "    return len(text.split())\n",
                        "new": "    return len(text.split())\n" + code,
                    },
                ),
            ),
            _say(
                "And a test for it.",
                ToolCallSpec(
                    "edit_file",
                    {
                        "path": "test_textstats.py",
                        "old": '        self.assertEqual(textstats.word_count("a b  c"), 3)\n',
                        "new": '        self.assertEqual(textstats.word_count("a b  c"), 3)\n'
                        + test,
                    },
                ),
            ),
            _say("Running the tests.", ToolCallSpec("run", {"command": tests})),
            _say(
                "Done.",
                ToolCallSpec(
                    "finish",
                    {
                        "summary": (
                            f"textstats.py: added `{name}` with a docstring; word_count unchanged.\n"
                            f"test_textstats.py: added a test for `{name}`. The unit tests pass."
                        )
                    },
                ),
            ),
        ]
    if card_id == "cli-entry-point":
        return [
            _say(
                "Checking what textstats offers.",
                ToolCallSpec("read_file", {"path": "textstats.py"}),
            ),
            _say("Writing cli.py.", ToolCallSpec("write_file", {"path": "cli.py", "content": CLI})),
            _say(
                "Trying it.", ToolCallSpec("run", {"command": "printf 'a b\\nc' | python3 cli.py"})
            ),
            _say(
                "Done.",
                ToolCallSpec(
                    "finish", {"summary": "cli.py: prints word and line counts of stdin."}
                ),
            ),
        ]
    return [
        _say("Looking around.", ToolCallSpec("list_files", {"path": "."})),
        _say(
            "I am the demo model: I only know the demo cards, so I leave a note.",
            ToolCallSpec(
                "write_file", {"path": "NOTES.md", "content": f"Demo note for {card_id}.\n"}
            ),
        ),
        _say(
            "Done.",
            ToolCallSpec(
                "finish",
                {"summary": "NOTES.md: a note (the demo model knows only the demo cards)."},
            ),
        ),
    ]


def _merged_sources() -> tuple[str, str]:
    """textstats.py and its tests with both demo functions, as a careful resolution would be."""
    code = TEXTSTATS + FUNCTIONS["add-line-count"][0] + FUNCTIONS["add-char-count"][0]
    anchor = '        self.assertEqual(textstats.word_count("a b  c"), 3)\n'
    tests = TESTS.replace(
        anchor, anchor + FUNCTIONS["add-line-count"][1] + FUNCTIONS["add-char-count"][1]
    )
    return code, tests


def _resolve_conflict(step: int) -> Reply:
    code, tests = _merged_sources()
    steps = [
        _say(
            "Merging the latest main into my branch.",
            ToolCallSpec("run", {"command": "git merge --no-edit main"}),
        ),
        _say(
            "Both sides added a function after word_count: keeping both.",
            ToolCallSpec("write_file", {"path": "textstats.py", "content": code}),
            ToolCallSpec("write_file", {"path": "test_textstats.py", "content": tests}),
        ),
        _say(
            "Concluding the merge.",
            ToolCallSpec("run", {"command": "git add -A && git commit -q --no-edit"}),
        ),
        _say(
            "Running the tests.",
            ToolCallSpec("run", {"command": "python3 -m unittest -q test_textstats"}),
        ),
        _say(
            "Done.",
            ToolCallSpec(
                "finish",
                {"summary": "Merged main; kept both line_count and char_count and both tests."},
            ),
        ),
    ]
    return steps[min(step, len(steps) - 1)]


def _review_round() -> Reply:
    return _say(
        "Addressing the review notes.",
        ToolCallSpec(
            "finish", {"summary": "Read the review notes; the demo model makes no further changes."}
        ),
    )


def _tighten_answer(messages: list[dict]) -> Reply:
    user = messages[-1].get("content", "")
    title = re.search(r"title: \"?([^\"\n]+)", user)
    name = title.group(1) if title else "the card"
    body = (
        f"## Task\n\nIn this worktree, {name.lower()}: make `textstats.py` easier to read without changing "
        "behaviour (clear names, docstrings, type hints).\n\n## Files\n\n- `textstats.py`\n\n"
        "## Constraints\n\nDo not change the public functions' names or results.\n\n"
        "## Tests\n\n`python3 -m unittest -q test_textstats`\n\n"
        "## Done when\n\nThe tests pass and you have summarised your diff.\n"
    )
    answer = {
        "body": body,
        "files": ["textstats.py"],
        "tests": "python3 -m unittest -q test_textstats",
        "constraints": ["Do not change the public functions' names or results."],
    }
    return Reply(text=json.dumps(answer), delay=0.5)


def _split_answer(messages: list[dict]) -> Reply:
    cards = [
        {
            "title": "Add type hints to textstats",
            "files": ["textstats.py"],
            "tests": "python3 -m unittest -q",
            "body": "## Task\n\nAdd type hints.\n\n## Done when\n\nTests pass.",
            "depends_on": [],
        },
        {
            "title": "Add tests for edge cases",
            "files": ["test_textstats.py"],
            "tests": "python3 -m unittest -q",
            "body": "## Task\n\nTest empty strings and unicode.\n\n## Done when\n\nTests pass.",
            "depends_on": ["Add type hints to textstats"],
        },
    ]
    return Reply(text=json.dumps({"cards": cards}), delay=0.5)


# ------------------------------------------------------------------------------ running it


def start_demo_server() -> ScriptedServer:
    return ScriptedServer(demo_responder, model=DEMO_MODEL).start()


def demo_environment(server: ScriptedServer) -> dict[str, str]:
    """Point the built-in agent at the demo model, in this process only."""
    return {
        "KANBAN_AGENTS_BASE_URL": server.base_url,
        "KANBAN_AGENTS_MODEL": DEMO_MODEL,
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "demo-key-not-secret",
    }


def serve_demo_model(settings) -> ScriptedServer | None:
    """For a board with a ``kind = "demo"`` profile: start the scripted demo model and point the
    built-in agent of this process at it (what ``kanban-agents demo`` did when it made the
    board). None when the board uses no demo profile."""
    if not settings.uses_demo_model:
        return None
    server = start_demo_server()
    os.environ.update(demo_environment(server))
    return server


def make_demo_dir(directory: str | None) -> Path:
    if directory:
        path = Path(directory).expanduser().resolve()
        if path.exists() and any(path.iterdir()):
            raise FileExistsError(f"{path} exists and is not empty; pick a new directory")
        return path
    return Path(tempfile.mkdtemp(prefix="kanban-agents-demo-")) / "textstats"
