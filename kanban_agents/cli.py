"""Command line: headless subcommands, and the TUI when no subcommand is given.

Startup stays light: heavy modules (textual, openai, git) are imported inside the commands that
need them, so ``kanban-agents list`` costs little more than reading the cards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

PROG = "kanban-agents"
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
BOARD_ENV = "KANBAN_AGENTS_BOARD"


class UserError(Exception):
    """Bad input from the user: printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def command(name: str):
    def register(func: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = func
        return func

    return register


# --------------------------------------------------------------------------- board location


def find_board_dir(explicit: str | None) -> Path:
    """The board directory: the argument, $KANBAN_AGENTS_BOARD, ./kanban.toml's dir, ./board,
    or the board/ at the top of the git repository we are in."""
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
    if (cwd / "kanban.toml").is_file():
        return cwd
    candidates = [cwd / "board"]
    top = _git_toplevel(cwd)
    if top is not None and top != cwd:
        candidates.append(top / "board")
    for candidate in candidates:
        if _looks_like_board(candidate):
            return candidate
    raise UserError(
        f"no board here: run '{PROG} init' to create ./board, or pass the board directory "
        f"('{PROG} --board DIR ...')"
    )


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


# records.HOSTED_STATES, spelled out: `list` reads the run records only for the cards in them.
_HOSTED_STATES = ("preparing", "running", "testing")


def card_run_as_seen(store, card) -> dict[str, Any]:
    """The card's ``run:`` front matter, except that a run whose process is gone (killed, say)
    reads ``interrupted`` (``RunRecords.card_run_as_seen``, as ``status`` and the board see it)."""
    if card.run_state not in _HOSTED_STATES:
        return card.run
    from .core.paths import state_dir
    from .core.records import RunRecords

    state = state_dir(store.root)
    if state is None:
        return card.run
    return RunRecords(state / "runs").card_run_as_seen(card.id, card.run)


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


@command("init")
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


@command("list")
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


@command("new")
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
    print(f"created {card.id} ({card.path})")
    return 0


@command("move")
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
        _hint_agent_host(store, moved.id)
    return 0


def _hint_agent_host(store, card_id: str) -> None:
    from .core.host import board_host_pid

    pid = board_host_pid(store.root)
    if pid is not None:
        print(f"the board app (pid {pid}) will start its agent")
    else:
        print(
            f"no board app is running: start one with '{PROG}', or run the agent with '{PROG} run {card_id}'"
        )


@command("show")
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


@command("lint")
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


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="A terminal kanban board over markdown task files; cards in progress are "
        "worked by background coding agents in their own git worktrees.",
        epilog=f"With no command, opens the board: '{PROG} [BOARD_DIR]'.",
    )
    parser.add_argument(
        "--board", "-b", metavar="DIR", help="the board directory (default: ./board)"
    )
    parser.add_argument("--debug", action="store_true", help="on an error, show the traceback too")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--board",
            "-b",
            metavar="DIR",
            default=argparse.SUPPRESS,
            help="the board directory (default: ./board)",
        )
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="on an error, show the traceback too",
        )
        return p

    p = add("init", "create a board directory with kanban.toml and an example card")
    p.add_argument("dir", nargs="?", metavar="DIR", help="directory to create (default: ./board)")

    p = add("list", "list the cards by column")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("new", "create a card")
    p.add_argument("title")
    p.add_argument("--status", "-s", metavar="COLUMN", help="column id (default: the first)")
    p.add_argument("--priority", "-p")
    p.add_argument("--label", "-l", action="append", help="a label (repeatable)")

    p = add("move", "move a card to a column")
    p.add_argument("card", help="card id, file name, unique id prefix or title")
    p.add_argument("column", help="column id")
    p.add_argument(
        "--position", type=int, metavar="N", help="0-based position in the column (default: last)"
    )

    p = add("show", "print a card")
    p.add_argument("card")
    p.add_argument("--json", action="store_true")

    p = add("lint", "check that cards are written as operating instructions")
    p.add_argument("--json", action="store_true")

    for extend in _EXTENSIONS:
        extend(add)
    return parser


_EXTENSIONS: list[Callable[[Callable[[str, str], argparse.ArgumentParser]], None]] = []


def register_parser(
    extend: Callable[[Callable[[str, str], argparse.ArgumentParser]], None],
) -> None:
    """Command modules add their subparsers through this (see cli_agents.py)."""
    _EXTENSIONS.append(extend)


def _load_command_modules() -> None:
    from . import cli_agents, cli_plan, cli_review  # noqa: F401  (they register their commands)


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tui_dir = None
    rest = list(argv)
    board_opt = None
    while rest and (rest[0] == "--debug" or (rest[0] in ("--board", "-b") and len(rest) > 1)):
        if rest[0] == "--debug":
            rest = rest[1:]
        else:
            board_opt, rest = rest[1], rest[2:]
    if not (rest and rest[0] in COMMANDS):  # this module's own commands (list...) start faster
        _load_command_modules()
    parser = build_parser()
    known = set(COMMANDS) | {"-h", "--help", "--version"}
    # `kanban-agents [BOARD_DIR]` opens the TUI: a first positional that is not a command.
    if not rest or (rest[0] not in known and not rest[0].startswith("-")):
        if len(rest) > 1:
            parser.error(f"unknown command {rest[0]!r}")
        tui_dir = rest[0] if rest else board_opt
        return _reporting_errors(lambda: run_tui(tui_dir), "--debug" in argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return _reporting_errors(lambda: COMMANDS[args.command](args), args.debug)


def _reporting_errors(run: Callable[[], int], debug: bool) -> int:
    """Run a command; any error is one line on stderr (``--debug``: its traceback first)."""
    try:
        return run()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if debug:
            _print_traceback(exc)
        hint = "" if debug or _expected(exc) else " (run with --debug for the traceback)"
        print(f"{PROG}: {_one_line(exc)}{hint}", file=sys.stderr)
        return 1


def _expected(exc: Exception) -> bool:
    """Errors that say what is wrong in the user's terms; anything else is a bug of ours."""
    if isinstance(exc, UserError | OSError):
        return True
    module = type(exc).__module__
    return module.startswith(f"{__package__}.") and type(exc).__name__.endswith("Error")


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if _expected(exc):
        return text or type(exc).__name__
    return f"internal error: {type(exc).__name__}: {text}" if text else type(exc).__name__


def _print_traceback(exc: BaseException) -> None:
    import traceback

    # A UserError re-raised "from None" hides where it came from; --debug shows that too.
    context = exc.__cause__ or exc.__context__
    if context is not None and exc.__suppress_context__:
        traceback.print_exception(context, file=sys.stderr)
        print("\nwhich was reported as:\n", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)


def run_tui(board_dir: str | None) -> int:
    directory = find_board_dir(board_dir)
    try:
        from .tui.app import run_app
    except ImportError:
        raise UserError(
            "the board TUI is not built yet; use the subcommands (see --help)"
        ) from None
    return run_app(directory)


if __name__ == "__main__":
    raise SystemExit(main())
