"""``kanban-agents mcp``: the board as an MCP server over stdio (the official ``mcp`` SDK), so an
agent (Claude Code, Codex, any MCP client) can read cards, write new ones and comment on its own.

Every tool goes through ``BoardSession`` like the TUI and the other commands: the same
compare-and-swap, minimal-diff writes, the same errors in the board's words (a tool error the
client shows to its model, never a traceback). Run inside an agent's worktree, the server acts on
the main checkout's board (``find_board_dir``), and it refuses to move or create a card into the
agent column there unless ``[mcp] allow_start = true``: no agent starts agents by accident.
"""

from __future__ import annotations

import argparse
import errno
from pathlib import Path
from typing import Any

from .cli_board import card_json, find_board_dir, main_checkout_of, read_only_board

SERVER_NAME = "kanban-agents"
INSTRUCTIONS = (
    "A kanban board of markdown cards; a card moved into the agent column is worked by a coding "
    "agent in its own git worktree. Read with list_cards, show_card, graph and lint_card. Write "
    "follow-up work you find as a new card with create_card (title, body with '## Task' and "
    "'## Done when', files, constraints, tests, depends_on) instead of doing it out of scope; "
    "leave a note for the reviewer with comment."
)


def cmd_mcp(args: argparse.Namespace) -> int:
    from .core.session import BoardSession

    directory = find_board_dir(getattr(args, "board", None))
    session = BoardSession.open(directory, agents=False)
    server = build_server(session, agent_worktree=agent_worktree_here())
    server.run("stdio")
    return 0


def agent_worktree_here(cwd: Path | None = None) -> Path | None:
    """The linked git worktree this process runs in (an agent's), or None in a main checkout."""
    directory = (cwd or Path.cwd()).resolve()
    for top in (directory, *directory.parents):
        if (top / ".git").exists():
            return top if main_checkout_of(top) is not None else None
    return None


def build_server(session, agent_worktree: Path | None = None):
    """The MCP server over ``session``; ``agent_worktree``: where it runs, if in an agent's."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from .config import ConfigError
    from .core.board import BoardError
    from .core.graph import dependency_findings
    from .core.lint import lint_card as lint_findings

    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    store = session.store

    def reload() -> None:
        try:  # others write the board too (the app, an editor, other agents)
            session.reload()
        except (ConfigError, BoardError) as exc:
            raise ToolError(str(exc)) from None

    def find(card: str):
        reload()
        try:
            return store.find(card)
        except BoardError as exc:
            raise ToolError(str(exc)) from None

    def refuse_start(column: str | None) -> None:
        agent_column = session.settings.board.agent_column
        if column != agent_column or agent_worktree is None:
            return
        if session.settings.mcp.allow_start:
            return
        raise ToolError(
            f"refused: this server runs inside an agent's worktree ({agent_worktree}), and a card "
            f"in '{agent_column}' starts an agent. Leave the card where it is for a person to "
            "start, or set [mcp] allow_start = true in the board's kanban.toml"
        )

    def writing(do):
        try:
            return do()
        except (BoardError, OSError) as exc:
            raise ToolError(_written_error(exc, store.root)) from None

    @server.tool()
    def list_cards(column: str | None = None) -> dict[str, Any]:
        """The board's columns and cards (id, title, column, priority, labels, depends_on, run
        state, lint codes). ``column``: only that column's cards."""
        reload()
        columns = store.columns()
        if column is not None and column not in {c.id for c in columns}:
            raise ToolError(
                f"unknown column {column!r} (columns: {', '.join(c.id for c in columns)})"
            )
        cards = []
        for col in columns:
            if column is not None and col.id != column:
                continue
            for card in col.cards:
                data = card_json(store, card)
                cards.append(
                    {
                        key: data[key]
                        for key in ("id", "title", "status", "priority", "labels", "depends_on")
                    }
                    | {
                        "run_state": (data["run"] or {}).get("state"),
                        "lint": [f["code"] for f in data["lint"]],
                    }
                )
        return {
            "board": str(store.root),
            "agent_column": session.settings.board.agent_column,
            "columns": [
                {"id": c.id, "title": c.title, "wip": c.wip, "count": len(c.cards)} for c in columns
            ],
            "cards": cards,
            "unreadable": [e.describe() for e in store.errors],
        }

    @server.tool()
    def show_card(card: str) -> dict[str, Any]:
        """One card in full: front matter, body, run, lint findings. ``card``: id, file name,
        unique id prefix or title."""
        found = find(card)
        return card_json(store, found) | {"body": found.body}

    @server.tool()
    def create_card(
        title: str,
        body: str | None = None,
        column: str | None = None,
        priority: str | None = None,
        labels: list[str] | None = None,
        files: list[str] | None = None,
        constraints: list[str] | None = None,
        tests: list[str] | None = None,
        depends_on: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create a card (default: in the first column). Write it as operating instructions: a
        body with '## Task' and '## Done when', the files it may touch, constraints, test
        commands that must pass, and the ids of cards it depends on."""
        reload()
        refuse_start(column)
        meta = {
            key: value
            for key, value in (
                ("priority", priority),
                ("labels", labels),
                ("files", files),
                ("constraints", constraints),
                ("tests", tests),
                ("depends_on", depends_on),
            )
            if value
        }
        made = writing(lambda: session.create(title, column, meta=meta, body=_body(body)))
        return card_json(store, made)

    @server.tool()
    def update_card(
        card: str, front_matter: dict[str, Any] | None = None, body: str | None = None
    ) -> dict[str, Any]:
        """Change a card: ``front_matter`` keys to set (a null value removes the key), ``body``
        to replace the markdown below the front matter. Only those lines change. The column is
        changed with move_card; the board's own keys (run, branch, worktree, merged) are not
        yours to set."""
        found = find(card)
        changed = writing(
            lambda: session.update_card(found.id, front_matter, _body(body), expect=found)
        )
        return card_json(store, changed) | {"body": changed.body}

    @server.tool()
    def move_card(card: str, column: str, position: int | None = None) -> dict[str, Any]:
        """Move a card to a column (``position``: 0-based place in it; default: last). A card
        entering the agent column starts its agent in the board app."""
        found = find(card)
        refuse_start(column)
        moved = writing(lambda: session.move(found.id, column, position, expect=found))
        return {"id": moved.id, "status": store.status_of(moved), "order": moved.order}

    @server.tool()
    def lint_card(card: str) -> dict[str, Any]:
        """Is the card written as operating instructions? Its findings (code, severity,
        message), the dependency checks included; an empty list: nothing to fix."""
        found = find(card)
        findings = lint_findings(found) + dependency_findings(store.cards).get(found.id, [])
        return {"id": found.id, "findings": [f.as_dict() for f in findings]}

    @server.tool()
    def comment(card: str, note: str) -> dict[str, Any]:
        """Leave a note to the reviewer on a card: one dated line appended under the card's
        '## Notes for the reviewer' heading."""
        found = find(card)
        changed = writing(lambda: session.comment(found.id, note, author="mcp"))
        return {"id": changed.id, "body": changed.body}

    @server.tool()
    def graph() -> dict[str, Any]:
        """The dependency plan: cards ready now, what waits on what, the critical path, cycles."""
        reload()
        result, _cards, states, columns = session.graph()
        return {
            "ready": result.ready,
            "blocked": result.blocked,
            "critical_path": result.critical_path,
            "critical_length": result.critical_length,
            "total_work": result.total_work,
            "parallelism": round(result.parallelism, 2),
            "cycles": result.cycles,
            "unknown": result.unknown,
            "layers": result.layers,
            "edges": result.edges,
            "columns": columns,
            "run_states": {k: v for k, v in states.items() if v},
        }

    return server


def _body(body: str | None) -> str | None:
    if body is None:
        return None
    return body if body.startswith("\n") else "\n" + body


def _written_error(exc: Exception, board: Path) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return read_only_board(board)
    return str(exc)
