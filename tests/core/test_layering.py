"""The layers hold: the TUI talks to the board through the session, its events and view types,
never to git, the run records, the run manager, the reviewer or the radar themselves."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kanban_agents"

# What a view may import from the core: the session (intents and events), the event and view
# types it renders, and pure helpers that compute nothing about git or runs.
TUI_MAY_IMPORT = {
    "core.session",
    "core.events",
    "core.card",
    "core.board",  # types only: Card lists, BoardChange, the errors a move can raise
    "core.lint",
    "core.graph",
    "core.planning",
    "core.overlap",
    "core.log_format",
    "config",
    "render",
}


def core_imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """The kanban_agents modules a file imports, relative to the package ('core.git')."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = path.relative_to(package).parent.parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package_parts[: len(package_parts) - node.level + 1])
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [f"{module}.{a.name}" if module else a.name for a in node.names]
                found.add(module)
                found.update(n for n in names if n.startswith("core.") and n.count(".") == 1)
            elif node.module and node.module.startswith("kanban_agents."):
                found.add(node.module.removeprefix("kanban_agents."))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kanban_agents."):
                    found.add(alias.name.removeprefix("kanban_agents."))
    return {m for m in found if m and not m.startswith("tui")}


def allowed(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in TUI_MAY_IMPORT) or module in (
        "core",
        "",
    )


def test_tui_reaches_the_core_only_through_the_session_and_view_types():
    offenders = {}
    for path in sorted((PACKAGE / "tui").glob("*.py")):
        bad = sorted(m for m in core_imports(path) if not allowed(m))
        if bad:
            offenders[path.name] = bad
    assert not offenders, (
        "tui/ must go through core.session (intents, events) and view types only; "
        f"these reach past it: {offenders}"
    )


# A CLI command is a face too: it parses, calls the session and prints.
CLI_MAY_IMPORT = TUI_MAY_IMPORT | {"core.init_board", "core", "tui.app", "demo", "cli", "cli_board"}


def test_cli_commands_go_through_the_session():
    offenders = {}
    for path in sorted(PACKAGE.glob("cli*.py")):
        bad = sorted(
            m
            for m in core_imports(path)
            if not any(m == a or m.startswith(a + ".") for a in CLI_MAY_IMPORT)
        )
        if bad:
            offenders[path.name] = bad
    assert not offenders, "CLI commands must go through core.session; these reach past it: " + str(
        offenders
    )


def test_the_checker_sees_a_forbidden_import(tmp_path):
    fake = tmp_path / "tui" / "probe.py"
    fake.parent.mkdir()
    fake.write_text(
        "from ..core import git\nfrom ..core.records import RunRecords\n"
        "from kanban_agents.core.runs import RunManager\nfrom .dialogs import X\n"
    )
    found = core_imports(fake, tmp_path)
    assert {"core.git", "core.records", "core.runs"} <= found
    assert not any(m.startswith("tui") for m in found)
    assert not allowed("core.git") and allowed("core.session") and allowed("core.events")
