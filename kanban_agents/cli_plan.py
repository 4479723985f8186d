"""Headless planning commands: ``tighten``, ``split``, ``graph``, ``conflicts``, and ``demo``.

Their names, flags and help are rows of the command table in ``cli.py``.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

from .cli_board import PROG, UserError, find_card, open_store, print_json, serving_demo_model


def _session(args: argparse.Namespace, *, agents: bool = False):
    from .core.session import BoardSession

    return BoardSession(open_store(args), agents=agents)


def _propose(session, ask):
    """Ask the model through the session; a planning or model error is one line."""
    import asyncio

    from .core.planning import PlanningError

    try:
        with serving_demo_model(session.root):  # a demo board plans with the demo model
            return asyncio.run(ask())
    except PlanningError as exc:
        raise UserError(str(exc)) from None


def cmd_tighten(args: argparse.Namespace) -> int:
    from .core.board import BoardError

    session = _session(args)
    card = find_card(session.store, args.card)
    proposal = _propose(session, lambda: session.propose_tighten(card.id))
    new_text = proposal.new_text(card)
    sys.stdout.writelines(
        difflib.unified_diff(
            card.text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            f"a/{card.path.name}",
            f"b/{card.path.name}",
        )
    )
    if not args.apply:
        print(
            f"\n(not applied: run '{PROG} tighten {card.id} --apply' to write it)", file=sys.stderr
        )
        return 0
    try:
        session.apply_proposal(proposal, card)
    except BoardError as exc:
        raise UserError(str(exc)) from None
    print(f"\nwrote {card.path}", file=sys.stderr)
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from .core.board import BoardError

    session = _session(args)
    card = find_card(session.store, args.card)
    proposal = _propose(session, lambda: session.propose_split(card.id))
    for number, part in enumerate(proposal.cards, 1):
        deps = f"  (after: {', '.join(part.depends_on)})" if part.depends_on else ""
        print(
            f"{number}. {part.title}{deps}\n   files: {', '.join(part.files) or '-'}   tests: {part.tests or '-'}"
        )
    if not args.apply:
        print(
            f"\n(not applied: '{PROG} split {card.id} --apply [--only 1,2]' creates the cards)",
            file=sys.stderr,
        )
        return 0
    accepted = None
    if args.only:
        try:
            accepted = [int(n) - 1 for n in args.only.split(",")]
        except ValueError:
            raise UserError("--only takes card numbers like 1,3") from None
        if any(not 0 <= n < len(proposal.cards) for n in accepted):
            raise UserError(f"--only: numbers run from 1 to {len(proposal.cards)}")
    try:
        created = session.apply_proposal(proposal, card, accepted)
    except BoardError as exc:
        raise UserError(str(exc)) from None
    for new in created:
        print(f"created {new.id}")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    session = _session(args)
    result, cards, states, columns = session.graph()
    if args.json:
        print_json(
            {
                "critical_path": result.critical_path,
                "critical_length": result.critical_length,
                "total_work": result.total_work,
                "parallelism": round(result.parallelism, 2),
                "ready": result.ready,
                "blocked": result.blocked,
                "cycles": result.cycles,
                "unknown": result.unknown,
                "layers": result.layers,
                "edges": result.edges,
            }
        )
        return 0
    if not args.plain:
        _print_graph_picture(result, cards, states, columns)
        return 0
    print(f"ready now ({len(result.ready)}): {', '.join(result.ready) or '-'}")
    print(f"critical path ({result.critical_length:g}): {' -> '.join(result.critical_path) or '-'}")
    print(
        f"useful parallelism: {result.parallelism:.1f} (total work {result.total_work:g} / longest chain "
        f"{result.critical_length:g})"
    )
    for card_id, waits in sorted(result.blocked.items()):
        print(f"  {card_id} waits on {', '.join(waits) or 'a cycle'}")
    for cycle in result.cycles:
        print(f"  cycle: {' -> '.join([*cycle, cycle[0]])}")
    return 0


def _print_graph_picture(result, cards, states, columns) -> None:
    """The summary and the boxes-and-lines drawing, in colour at a terminal and plain when piped
    (Rich decides, and honours NO_COLOR and FORCE_COLOR). Lines are never cut or wrapped here:
    a picture wider than the terminal is for ``less -RS``."""
    from rich.console import Console
    from rich.text import Text

    from .render.graph import render_graph

    lines = render_graph(result, cards, states, columns).split("\n", allow_blank=True)
    for line in lines:
        line.rstrip()  # the rows are padded to one width: no trailing blanks in a pipe
    Console(highlight=False).print(Text("\n").join(lines), soft_wrap=True)


def cmd_conflicts(args: argparse.Namespace) -> int:
    from .core.session import ActionFailed

    try:
        report, overlaps = _session(args).conflict_report()
    except ActionFailed as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print_json(
            {
                "conflicts": [
                    {"card": c.card, "other": c.other, "files": list(c.files)}
                    for c in report.conflicts
                ],
                "declared_overlaps": [
                    {"card": a, "other": b, "files": files} for a, b, files in overlaps
                ],
                "errors": report.errors,
                "checked": sorted(report.changed),
            }
        )
        return 0
    if not report.changed and not overlaps:
        print("no active branches to compare (cards get branches when their agent starts)")
    for conflict in report.conflicts:
        print(f"✖ {conflict.card} {conflict.describe()}")
    for a, b, files in overlaps:
        print(
            f"! {a} and {b} both declare {', '.join(files)} (one owner, one slice: sequence them)"
        )
    for card_id, error in report.errors.items():
        print(f"? {card_id}: {error}")
    if report.changed and not report.conflicts:
        print(f"✔ {len(report.changed)} branches checked: no conflicts")
    return 1 if report.conflicts else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import create_demo_repo, demo_environment, make_demo_dir, start_demo_server

    try:
        directory = make_demo_dir(args.dir)
    except FileExistsError as exc:
        raise UserError(str(exc)) from None
    board = create_demo_repo(directory)
    server = start_demo_server()
    os.environ.update(demo_environment(server))
    print(f"demo repository: {directory}")
    print("DEMO MODE: the agents here are driven by a scripted demo model, not a real LLM.")
    try:
        if args.no_tui:
            return _demo_headless(board)
        from .tui.app import run_app

        return run_app(board, demo=True)
    finally:
        server.stop()
        print(f"the demo repository stays at {directory} (delete it when done)")


def _demo_headless(board: Path) -> int:
    import asyncio

    from .core.events import Event
    from .core.log_format import format_event
    from .core.session import BoardSession

    session = BoardSession.open(board)

    def show(event) -> None:
        if isinstance(event, Event):
            for line in format_event(event):
                print(f"[{event.card_id}] {line}", flush=True)

    async def go() -> int:
        session.subscribe(show)
        await session.start(host=False)
        for card_id in ("add-line-count", "add-char-count"):
            await asyncio.to_thread(session.move, card_id, session.settings.board.agent_column)
        results = [await session.wait(c) for c in ("add-line-count", "add-char-count")]
        await session.stop()
        return 0 if all(r is not None and r.state == "review" for r in results) else 1

    code = asyncio.run(go())
    if code == 0:
        outcome = session.merge("add-line-count")
        print(f"merged add-line-count into {outcome.base}: {outcome.commit[:10]}")
    return code
