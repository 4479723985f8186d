"""The core never imports Textual; `list` never imports textual, openai or asyncio (startup time)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import kanban_agents.core


def core_modules() -> list[str]:
    return [
        m.name for m in pkgutil.walk_packages(kanban_agents.core.__path__, "kanban_agents.core.")
    ]


def test_core_modules_do_not_import_textual():
    modules = core_modules()
    assert "kanban_agents.core.board" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_list_does_not_import_textual_or_openai(tmp_path):
    board = tmp_path / "board"
    board.mkdir()
    (board / "a.md").write_text("---\ntitle: A\n---\nbody\n")
    code = (
        "import sys\n"
        "from kanban_agents.cli import main\n"
        f"main(['--board', {str(board)!r}, 'list', '--json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'openai', 'git', 'ruamel', 'asyncio'})\n"
        "print(heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "[]"
