"""Command line: every command in one table, and the TUI when no subcommand is given.

Each command is one ``Command`` row: its name, help, arguments and the function that runs it,
named as ``"module:function"`` and imported only when that command runs. Building the parser
imports no command module, so ``kanban-agents list`` costs little more than reading the cards
and ``--help`` needs none of the agent, review or planning code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .cli_board import PROG, UserError, find_board_dir, serving_demo_model


@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call: its flags (or name) and options."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    """One subcommand, all of it: what ``--help`` says, its arguments, and what runs it."""

    name: str
    help: str
    run: str  # "module:function" in this package, imported only when the command runs
    args: tuple[Arg | tuple[Arg, ...], ...] = ()  # an inner tuple: mutually exclusive flags


CARD = arg("card", help="card id, file name, unique id prefix or title")
JSON = arg("--json", action="store_true")

COMMANDS: tuple[Command, ...] = (
    Command("init", "create a board directory with kanban.toml and an example card",
            "cli_board:cmd_init",
            (arg("dir", nargs="?", metavar="DIR", help="directory to create (default: ./board)"),)),
    Command("list", "list the cards by column", "cli_board:cmd_list",
            (arg("--json", action="store_true", help="machine-readable output"),)),
    Command("new", "create a card", "cli_board:cmd_new", (
        arg("title"),
        arg("--status", "-s", metavar="COLUMN", help="column id (default: the first)"),
        arg("--priority", "-p"),
        arg("--label", "-l", action="append", help="a label (repeatable)"),
    )),
    Command("move", "move a card to a column", "cli_board:cmd_move", (
        CARD,
        arg("column", help="column id"),
        arg("--position", type=int, metavar="N",
            help="0-based position in the column (default: last)"),
    )),
    Command("show", "print a card", "cli_board:cmd_show", (arg("card"), JSON)),
    Command("lint", "check that cards are written as operating instructions",
            "cli_board:cmd_lint", (JSON,)),
    Command("mcp", "serve the board to agents over MCP (stdio): list, show, create, update, "
            "move, lint, comment, graph", "cli_mcp:cmd_mcp"),
    Command("serve", "serve the board app in a browser (textual-serve)", "cli_serve:cmd_serve", (
        arg("--host", default="127.0.0.1",
            help="address to listen on (default: 127.0.0.1; any other needs a token)"),
        arg("--port", type=int, default=8000, help="port (default: 8000)"),
        arg("--token", help="the token every request must carry (default: none on 127.0.0.1, "
            "else a generated one, printed with the URL)"),
    )),
    # agents
    Command("run", "start a card's agent (moves it to the agent column)", "cli_agents:cmd_run", (
        arg("card"),
        arg("--wait", "-w", action="store_true",
            help="run here, stream the log, exit 0 when the card reaches review"),
        arg("--quiet", "-q", action="store_true", help="with --wait: print only the outcome"),
        arg("--force", action="store_true",
            help="run a card that is done (merged) again, on a new branch from the base"),
    )),
    Command("say", "send a message to a card's agent while it works (read before its next turn)",
            "cli_agents:cmd_say", (
        arg("card"),
        arg("-m", "--message", required=True, help="the message ('-' reads it from stdin)"),
    )),
    Command("status", "list agent runs", "cli_agents:cmd_status", (JSON,)),
    Command("log", "print a card's run log", "cli_agents:cmd_log", (
        arg("card"),
        arg("--run", type=int, help="run number (default: the latest)"),
        arg("--follow", "-f", action="store_true", help="keep printing until the run ends"),
        arg("--json", action="store_true", help="the raw events, one JSON object per line"),
    )),
    # planning
    Command("tighten",
            "propose a rewrite of a card as operating instructions (the model writes it)",
            "cli_plan:cmd_tighten", (
        arg("card"),
        arg("--apply", action="store_true", help="write the proposal to the card file"),
    )),
    Command("split", "propose a split of a large card into smaller independent cards",
            "cli_plan:cmd_split", (
        arg("card"),
        arg("--apply", action="store_true", help="create the proposed cards"),
        arg("--only", metavar="N,M", help="with --apply: create only these (numbers from the list)"),
    )),
    Command("graph", "dependency graph: ready cards, critical path, useful parallelism",
            "cli_plan:cmd_graph", ((
        arg("--plain", action="store_true",
            help="ready cards, critical path and what waits, as plain lines (no picture)"),
        JSON,
    ),)),
    Command("conflicts",
            "would the active branches conflict with each other or the base? (exit 1 if so)",
            "cli_plan:cmd_conflicts", (JSON,)),
    Command("demo",
            "try the whole flow in a throwaway repository with a scripted demo model (no API key)",
            "cli_plan:cmd_demo", (
        arg("--dir", help="where to create the demo repository (default: a new temp dir)"),
        arg("--no-tui", action="store_true", help="run two cards headless, merge one, and exit"),
    )),
    # review
    Command("diff", "show a card's diff against its base (uncommitted work included)",
            "cli_review:cmd_diff", (
        arg("card"),
        arg("--stat", action="store_true", help="files with +/- counts only"),
        JSON,
    )),
    Command("merge", "merge a card in review into its base branch (after a conflict dry run)",
            "cli_review:cmd_merge", (
        arg("card"),
        arg("--strategy", choices=("merge", "squash", "rebase"),
            help="default: review.merge_strategy"),
        arg("--accept-git-changes", action="store_true",
            help="merge even though the card's agent changed git's config, hooks or info/ "
                 "(check them first: they decide what git runs in your checkout)"),
        arg("--allow-out-of-scope", action="store_true",
            help="merge even though the work changes files outside the card's 'files' or its "
                 "protected tests (check the diff first)"),
    )),
    Command("send-back", "send a card back to its agent with review notes",
            "cli_review:cmd_send_back", (
        arg("card"),
        arg("-m", "--message", help="the feedback ('-' reads it from stdin)"),
        arg("--conflict", action="store_true",
            help="add the merge conflict with the base as feedback"),
    )),
    Command("comment", "comment on one line of a card's diff (sent back with the card)",
            "cli_review:cmd_comment", (
        arg("card"),
        arg("where", metavar="PATH:LINE", help="file and line number on the new side of the diff"),
        arg("-m", "--message", required=True, help="the comment ('-' reads it from stdin)"),
    )),
    Command("comments", "list a card's line comments (pending, sent, outdated)",
            "cli_review:cmd_comments", (arg("card"), JSON)),
    Command("discard",
            "delete a card's worktree and branch; the card goes back to the first column",
            "cli_review:cmd_discard", (
        arg("card"),
        arg("--yes", "-y", action="store_true", help="do not ask"),
    )),
    Command("test", "run a card's tests in its worktree now", "cli_review:cmd_test",
            (arg("card"),)),
    Command("rebase", "rebase a card's branch onto its base's current tip (when conflict-free), "
            "then run its tests", "cli_branch:cmd_rebase", (arg("card"),)),
    Command("pr", "push a card's branch to the remote and open a pull request with gh",
            "cli_branch:cmd_pr", (
        arg("card"),
        arg("--draft", action="store_true", help="open the pull request as a draft"),
    )),
    # worktrees
    Command("worktrees", "every worktree the board made: card, state, branch, disk use, age, "
            "orphan or stale", "cli_worktrees:cmd_worktrees", (JSON,)),
    Command("gc", "remove orphaned worktrees (card gone or done) and prune git's worktree list",
            "cli_worktrees:cmd_gc", (
        arg("--dry-run", action="store_true", help="say what would be removed, remove nothing"),
        arg("--older-than", metavar="AGE",
            help="only worktrees untouched this long (7d, 12h, 30m, 2w)"),
        arg("--force", action="store_true",
            help="remove worktrees with uncommitted changes too (their changes are lost)"),
    )),
    Command("setup", "copy the files and run [worktrees] setup again in a card's worktree",
            "cli_worktrees:cmd_setup", (arg("card"),)),
)  # fmt: skip
COMMAND_NAMES = frozenset(command.name for command in COMMANDS)


def handler(command: Command) -> Callable[[argparse.Namespace], int]:
    """The function that runs ``command``, importing its module now."""
    module, function = command.run.split(":")
    return getattr(importlib.import_module(f".{module}", __package__), function)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or (``only``) of one: a command's own run builds just its
    subparser, which parses its arguments the same way and costs a fraction of all of them."""
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
    parser.add_argument(
        "--no-host",
        action="store_true",
        help="open the board without running its agents: another process runs them (serve)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        if only is not None and command.name != only:
            continue
        p = sub.add_parser(command.name, help=command.help, description=command.help)
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
        for item in command.args:
            if isinstance(item, Arg):
                p.add_argument(*item.flags, **item.options)
            else:
                group = p.add_mutually_exclusive_group()
                for one in item:
                    group.add_argument(*one.flags, **one.options)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tui_dir = None
    rest = list(argv)
    board_opt = None
    host_agents = True
    while rest and (
        rest[0] in ("--debug", "--no-host") or (rest[0] in ("--board", "-b") and len(rest) > 1)
    ):
        if rest[0] == "--no-host":
            host_agents, rest = False, rest[1:]
        elif rest[0] == "--debug":
            rest = rest[1:]
        else:
            board_opt, rest = rest[1], rest[2:]
    known = COMMAND_NAMES | {"-h", "--help", "--version"}
    # `kanban-agents [BOARD_DIR]` opens the TUI: a first positional that is not a command. (No
    # parser of all 29 commands is built for it: it only slowed the board's start.)
    if not rest or (rest[0] not in known and not rest[0].startswith("-")):
        if len(rest) > 1:
            build_parser().error(f"unknown command {rest[0]!r}")
        tui_dir = rest[0] if rest else board_opt
        return _reporting_errors(lambda: run_tui(tui_dir, host_agents), "--debug" in argv)
    parser = build_parser(rest[0] if rest and rest[0] in COMMAND_NAMES else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    command = next(c for c in COMMANDS if c.name == args.command)
    return _reporting_errors(lambda: handler(command)(args), args.debug)


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


def run_tui(board_dir: str | None, host_agents: bool = True) -> int:
    directory = find_board_dir(board_dir)
    try:
        from .tui.app import run_app
    except ImportError:
        raise UserError(
            "the board TUI is not built yet; use the subcommands (see --help)"
        ) from None
    if not host_agents:  # the agents' host serves a demo board's model, not this view
        from .config import load_settings

        demo = load_settings(directory).uses_demo_model
        return run_app(directory, demo=demo, host_agents=False)
    with serving_demo_model(directory) as demo:
        return run_app(directory, demo=demo)


if __name__ == "__main__":
    raise SystemExit(main())
