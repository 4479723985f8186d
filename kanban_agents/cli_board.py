"""The board as every command opens and prints it, and the board commands: ``init``, ``list``,
``new``, ``move``, ``show``, ``lint``.

Kept light: ``list`` imports this module and little else, so heavy modules (textual, openai, git)
are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROG = "kanban-agents"
BOARD_ENV = "KANBAN_AGENTS_BOARD"


class UserError(Exception):
    """Bad input from the user: printed as one line, exit status 1."""


# --------------------------------------------------------------------------- board location


def find_board_dir(explicit: str | None) -> Path:
    """The board directory: the argument, $KANBAN_AGENTS_BOARD, ./kanban.toml's dir, ./board,
    or the board/ at the top of the git repository we are in. Inside a linked git worktree (an
    agent's) these are looked up in the main checkout first: the worktree's board/ is a stale
    copy from its branch, and a card written there would never reach the board."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise UserError(
                f"board directory {explicit} does not exist (create one with '{PROG} init {explicit}')"
            )
        return path
    env = os.environ.get(BOARD_ENV)
    if env:
        return find_board_dir(env)
    cwd = Path.cwd()
    top = _git_toplevel(cwd)
    main = main_checkout_of(top) if top is not None else None
    if top is not None and main is not None:
        here = main / cwd.relative_to(top)
        found = _board_near(here if here.is_dir() else main, main)
        if found is not None:
            return found
    found = _board_near(cwd, top)
    if found is not None:
        return found
    raise UserError(
        f"no board here: run '{PROG} init' to create ./board, or pass the board directory "
        f"('{PROG} --board DIR ...')"
    )


def _board_near(cwd: Path, top: Path | None) -> Path | None:
    if (cwd / "kanban.toml").is_file():
        return cwd
    candidates = [cwd / "board"]
    if top is not None and top != cwd:
        candidates.append(top / "board")
    return next((c for c in candidates if _looks_like_board(c)), None)


def main_checkout_of(top: Path) -> Path | None:
    """The main checkout of the repository when ``top`` is a linked worktree (its ``.git`` is a
    file naming ``.git/worktrees/<name>``, whose ``commondir`` leads back to the shared ``.git``),
    else None. Read from git's files, as git does: no git process (``list`` stays fast). A
    submodule's ``.git`` is a file too, but its git dir has no ``commondir``: None."""
    try:
        pointer = (top / ".git").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):  # a directory (the main checkout), or unreadable
        return None
    if not pointer.startswith("gitdir:"):
        return None
    git_dir = Path(pointer.removeprefix("gitdir:").strip())
    git_dir = git_dir if git_dir.is_absolute() else (top / git_dir)
    try:
        common = Path((git_dir / "commondir").read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        return None
    common = (common if common.is_absolute() else git_dir / common).resolve()
    if common.name != ".git" or not common.is_dir():
        return None
    return common.parent if common.parent != top.resolve() else None


def _looks_like_board(path: Path) -> bool:
    if not path.is_dir():
        return False
    if (path / "kanban.toml").is_file():
        return True
    from .core.card import is_card_file_name

    with os.scandir(path) as scan:
        return any(is_card_file_name(e.name) for e in scan)


def _git_toplevel(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def open_store(args: argparse.Namespace):
    from .config import ConfigError
    from .core.board import BoardError, BoardStore

    directory = find_board_dir(getattr(args, "board", None))
    try:
        store = BoardStore.open(directory)
    except (ConfigError, BoardError) as exc:
        raise UserError(str(exc)) from None
    for note in store.cleanup_notes:
        print(f"kanban-agents: {note}", file=sys.stderr)
    return store


def find_card(store, query: str):
    """The card a user named (id, file name, unique prefix or title), or a one-line UserError."""
    from .core.board import BoardError

    try:
        return store.find(query)
    except BoardError as exc:
        raise UserError(str(exc)) from None


# --------------------------------------------------------------------------- output helpers


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def card_json(store, card) -> dict[str, Any]:
    from .core.lint import lint_card

    return {
        "id": card.id,
        "path": str(card.path),
        "title": card.title,
        "status": store.status_of(card),
        "order": card.order,
        "priority": card.priority,
        "labels": card.labels,
        "agent": card.agent,
        "files": card.files,
        "constraints": card.constraints,
        "tests": card.tests,
        "depends_on": card.depends_on,
        "branch": card.branch,
        "worktree": card.worktree,
        "run": card_run_as_seen(store, card) or None,
        "lint": [f.as_dict() for f in lint_card(card)],
        "meta": card.meta,  # print_json turns dates and the like into strings
    }


def card_run_as_seen(store, card) -> dict[str, Any]:
    """The card's ``run:`` front matter as the board sees it (a run whose process is gone reads
    ``interrupted``)."""
    from .core.session import run_as_seen

    return run_as_seen(store, card)


def error_json(error) -> dict[str, Any]:
    return {"id": error.id, "file": str(error.path), "line": error.line, "message": error.message}


def print_json(data: Any, compact: bool = False) -> None:
    """Indented for a person at a terminal; compact (and several times faster) when piped."""
    options: dict[str, Any] = {"ensure_ascii": False}
    if compact or not sys.stdout.isatty():
        options["separators"] = (",", ":")
    else:
        options["indent"] = 2
    try:  # YAML values JSON lacks (dates) become strings; keys that are not strings need more
        text = json.dumps(data, default=str, **options)
    except TypeError:
        text = json.dumps(jsonable(data), **options)
    sys.stdout.write(text + "\n")


# --------------------------------------------------------------------------- commands


def cmd_init(args: argparse.Namespace) -> int:
    from .core.init_board import init_board

    directory = Path(args.dir or "board")
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory} exists and is not a directory")
    created = init_board(directory)
    for path in created:
        print(f"created {path}")
    if not created:
        print(f"{directory} already has a board; nothing changed")
    print(f"next: '{PROG} list' or open the board with '{PROG}'")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = open_store(args)
    columns = store.columns()
    if args.json:
        print_json(
            {
                "board": str(store.root),
                "columns": [
                    {"id": c.id, "title": c.title, "wip": c.wip, "count": len(c.cards)}
                    for c in columns
                ],
                "cards": [card_json(store, card) for c in columns for card in c.cards],
                "errors": [error_json(e) for e in store.errors],
            }
        )
        return 0
    from .core.lint import lint_card

    for column in columns:
        limit = f"/{column.wip}" if column.wip else ""
        flag = "  over WIP limit" if column.over_wip else ""
        print(f"{column.title} ({len(column.cards)}{limit}){flag}")
        width = max((len(c.id) for c in column.cards), default=0)
        for card in column.cards:
            extras = []
            if card.priority:
                extras.append(card.priority)
            extras.extend(f"#{label}" for label in card.labels)
            run_state = card_run_as_seen(store, card).get("state")
            if run_state:
                extras.append(f"[{run_state}]")
            findings = lint_card(card)
            if findings:
                extras.append("lint: " + ",".join(f.code for f in findings))
            tail = ("  " + "  ".join(extras)) if extras else ""
            print(f"  {card.id:<{width}}  {card.title}{tail}")
    if store.errors:
        print(f"Errors ({len(store.errors)})")
        for error in store.errors:
            print(f"  {error.describe()}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from .core.board import BoardError

    store = open_store(args)
    meta: dict[str, Any] = {}
    if args.priority:
        meta["priority"] = args.priority
    if args.label:
        meta["labels"] = args.label
    try:
        card = store.create(args.title, status=args.status, meta=meta)
    except BoardError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise UserError(read_only_board(store.root)) from None
        raise
    print(f"created {card.id} ({card.path})")
    return 0


def cmd_move(args: argparse.Namespace) -> int:
    from .core.board import BoardError

    store = open_store(args)
    try:
        card = store.find(args.card)
        moved = store.move(card.id, args.column, args.position)
    except BoardError as exc:
        raise UserError(str(exc)) from None
    print(f"moved {moved.id} to {store.status_of(moved)}")
    if args.column == store.settings.board.agent_column:
        hint_agent_host(store, moved.id)
    return 0


def read_only_board(board: Path) -> str:
    """What a write to a read-only board says: inside the agent sandbox the main checkout, and
    so the board, is read-only on purpose."""
    return (
        f"the board {board} is read-only here (an agent's sandbox keeps the main checkout "
        "read-only): name the follow-up work in your summary instead"
    )


def hint_agent_host(store, card_id: str) -> None:
    from .core.session import board_host

    pid = board_host(store.root)
    if pid is not None:
        print(f"{_host_name(pid)} (pid {pid}) will start its agent")
    else:
        print(
            f"no board app is running: start one with '{PROG}', or run the agent with '{PROG} run {card_id}'"
        )


def cmd_show(args: argparse.Namespace) -> int:
    from .core.board import BoardError
    from .core.lint import lint_card

    store = open_store(args)
    try:
        card = store.find(args.card)
    except BoardError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        data = card_json(store, card)
        data["body"] = card.body
        print_json(data)
        return 0
    print(card.text, end="" if card.text.endswith("\n") else "\n")
    findings = lint_card(card)
    if findings:
        print(f"\n# lint ({card.path.name})", file=sys.stderr)
        for finding in findings:
            print(f"#   {finding.code}: {finding.message}", file=sys.stderr)
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    from .core.graph import dependency_findings
    from .core.lint import lint_card

    store = open_store(args)
    cards = store.cards
    dep_findings = dependency_findings(cards)
    report = []
    for card_id in sorted(cards):
        findings = lint_card(cards[card_id]) + dep_findings.get(card_id, [])
        report.append((cards[card_id], findings))
    if args.json:
        print_json(
            {
                "cards": [
                    {"id": c.id, "path": str(c.path), "findings": [f.as_dict() for f in fs]}
                    for c, fs in report
                ],
                "errors": [error_json(e) for e in store.errors],
            }
        )
    else:
        clean = 0
        for card, findings in report:
            if not findings:
                clean += 1
                continue
            print(f"{card.path.name}:")
            for finding in findings:
                print(f"  {finding.severity}: {finding.code}: {finding.message}")
        for error in store.errors:
            print(f"{error.describe()}")
        print(
            f"{len(report)} cards, {clean} written as operating instructions, "
            f"{len(report) - clean} with findings, {len(store.errors)} unreadable"
        )
    has_errors = bool(store.errors) or any(f.severity == "error" for _, fs in report for f in fs)
    return 1 if has_errors else 0


@contextlib.contextmanager
def serving_demo_model(directory: Path) -> Iterator[bool]:
    """A board made by ``demo`` runs on the scripted demo model: this process serves it while
    the board is open (its kanban.toml says so, ``kind = "demo"``). Yields whether it does."""
    from .config import load_settings

    settings = load_settings(directory)
    if not settings.uses_demo_model:
        yield False
        return
    from .demo import serve_demo_model

    server = serve_demo_model(settings)
    try:
        yield True
    finally:
        if server is not None:
            server.stop()


def _host_name(pid: int) -> str:
    """What hosts the board's agents: the board app, or `serve` (which runs them for its tabs)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "the board app"
    return f"'{PROG} serve'" if b"serve" in args else "the board app"
