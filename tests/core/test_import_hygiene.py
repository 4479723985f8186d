"""The core and the Rich drawings never import Textual; `list` never imports textual, openai or
asyncio, nor the agent, review and planning commands (startup time); the CLI modules import each
other one way only."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import kanban_agents
import kanban_agents.core

HEADLESS_PACKAGES = ("kanban_agents.core", "kanban_agents.render")  # no textual in these


def core_modules() -> list[str]:
    modules = []
    for package in HEADLESS_PACKAGES:
        path = importlib.import_module(package).__path__
        modules += [m.name for m in pkgutil.walk_packages(path, f"{package}.")]
    return modules


def test_core_modules_do_not_import_textual():
    modules = core_modules()
    assert "kanban_agents.core.board" in modules
    assert "kanban_agents.render.graph" in modules
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


def test_list_loads_no_other_command_module(tmp_path):
    board = tmp_path / "board"
    board.mkdir()
    (board / "a.md").write_text("---\ntitle: A\n---\nbody\n")
    code = (
        "import sys\n"
        "from kanban_agents.cli import main\n"
        f"main(['--board', {str(board)!r}, 'list'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('kanban_agents.cli_')), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "['kanban_agents.cli_board']"


def cli_imports(path: Path) -> set[str]:
    """The ``kanban_agents.cli*`` modules a module imports anywhere in its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:  # from .cli import x
                names.add(node.module.split(".")[0])
            else:  # from . import cli_agents
                names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kanban_agents."):
            names.add(node.module.split(".")[1])
    return {name for name in names if name == "cli" or name.startswith("cli_")}


def test_cli_modules_import_each_other_one_way():
    package = Path(kanban_agents.__file__).parent
    graph = {path.stem: cli_imports(path) for path in package.glob("cli*.py")}
    assert {"cli", "cli_agents", "cli_review", "cli_plan"} <= set(graph)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for name in graph.get(start, ()):
            if name == goal or (name not in seen and reaches(name, goal, seen | {name})):
                return True
        return False

    cycles = sorted(name for name in graph if reaches(name, name, set()))
    assert cycles == [], f"import cycle through {cycles}: {graph}"
