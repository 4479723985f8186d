"""Headless agent commands: ``run``, ``say``, ``status``, ``log``.

Their names, flags and help are rows of the command table in ``cli.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from .cli_board import (
    PROG,
    UserError,
    find_card,
    jsonable,
    open_store,
    print_json,
    serving_demo_model,
)


def open_session(args: argparse.Namespace, *, agents: bool = True):
    from .core.session import BoardSession

    return BoardSession(open_store(args), agents=agents)


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    session = open_session(args)
    store = session.store
    card = find_card(store, args.card)
    warning = _action(session.rerun_warning, card.id)
    if warning and not args.force:
        raise UserError(f"{warning}: add --force to run it anyway")
    host = _action(session.board_host)
    if host is not None and host != os.getpid():
        agent_column = store.settings.board.agent_column
        first_run = _action(session.next_run, card.id)
        if store.status_of(card) != agent_column:
            session.move(card.id, agent_column)
        print(f"moved {card.id} to {agent_column}; the board app (pid {host}) runs its agent")
        return _follow(session, card.id, first_run, quiet=args.quiet) if args.wait else 0
    if not args.wait:
        return _run_detached(session, card.id, force=args.force)
    with serving_demo_model(session.root):  # a demo board's model, served by the run's host
        return asyncio.run(_run_here(session, card.id, quiet=args.quiet))


async def _run_here(session, card_id: str, quiet: bool) -> int:
    from .core.log_format import format_event

    # What this process prints is redacted like its records: a detached run's output is a file
    # (background.log), and an error may quote a key.
    printed = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _action(
        lambda: (session.redacted(sys.stdout), session.redacted(sys.stderr))
    )

    def show(event) -> None:
        if not quiet:
            for line in format_event(event):
                print(line, flush=True)

    try:
        status = await session.run_here(card_id, show)
        state = status.state if status else None
        reason = f" ({status.reason})" if status and status.reason else ""
        print(f"{card_id}: {state}{reason}", flush=True)
        return 0 if state == "review" else 1
    finally:
        sys.stdout, sys.stderr = printed


def _run_detached(session, card_id: str, *, force: bool = False) -> int:
    """Start the run in a background process that outlives this command."""
    log_path = _action(session.background_log, card_id)
    output = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kanban_agents",
            "--board",
            str(session.root),
            "run",
            card_id,
            "--wait",
            *(["--force"] if force else []),  # asked once, here
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    output.close()
    print(f"started the agent for {card_id} in the background (pid {proc.pid})")
    print(f"follow it: {PROG} log {card_id} --follow    all runs: {PROG} status")
    return 0


def _follow(session, card_id: str, first_run: int = 1, quiet: bool = False) -> int:
    """Print a run's log as it is written (by whichever process runs it) until it ends. If the
    process running it goes away without ending the run, say so instead of waiting forever."""
    from .core.events import RunFinished
    from .core.log_format import format_event
    from .core.session import RunLost

    try:
        for event in session.follow(card_id, first_run):
            if not quiet:
                for line in format_event(event):
                    print(line, flush=True)
            if isinstance(event, RunFinished):
                reason = f" ({event.reason})" if event.reason else ""
                print(f"{card_id}: {event.state}{reason}", flush=True)
                return 0 if event.state == "review" else 1
    except RunLost as lost:
        print(f"{card_id}: run {lost.run} stopped without an outcome (the process running it "
              f"is gone); '{PROG} run {card_id}' resumes it", flush=True)  # fmt: skip
        return 1
    except _action_errors() as exc:
        raise UserError(str(exc)) from None
    return 1


def _action_errors():
    from .core.session import ActionFailed

    return ActionFailed


def _action(call, *args):
    """Run a session call; its ``ActionFailed`` becomes the one-line ``UserError``."""
    try:
        return call(*args)
    except _action_errors() as exc:
        raise UserError(str(exc)) from None


def cmd_say(args: argparse.Namespace) -> int:
    session = open_session(args, agents=False)
    card = find_card(session.store, args.card)
    text = sys.stdin.read() if args.message == "-" else args.message
    sent = _action(session.say, card.id, text)
    print(sent.explanation)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .core.card import Card
    from .core.log_format import format_cost

    session = open_session(args)
    store = session.store
    prs = pull_request_checks(session)  # first: a merged one moves its card to done
    rows = []
    for state, holder in _action(session.run_states):
        entry = store.entry(state.card_id)
        rows.append(
            {
                "card": state.card_id,
                "title": getattr(entry, "title", None),
                "column": store.status_of(entry) if isinstance(entry, Card) else None,
                "run": state.run,
                "state": state.state,
                "reason": state.reason,
                "live": holder is not None,
                "pid": holder,
                "agent": state.agent,
                "steps": state.steps,
                "tokens": state.tokens,
                "tokens_estimated": state.tokens_estimated,
                "cost": state.cost,  # dollars of this run; null: unknown (no [pricing], or
                # a command agent that did not say)
                "card_cost": state.card_cost,  # dollars of all the card's runs
                "branch": state.branch,
                "worktree": state.worktree,
                "base": state.base,
                "started": state.started,
                "finished": state.finished,
                "sandbox": state.extra.get("sandbox"),
                # changes the agent made to git's config, hooks or info/: the merge waits for them
                "git_changes": list(state.extra.get("git_changes") or []),
            }
        )
    try:
        orphans = [{"path": str(w.path), "branch": w.branch} for w in session.orphans()]
    except _action_errors():  # git failing to list worktrees must not hide the runs
        orphans = []
    known = [row["card_cost"] for row in rows if row["card_cost"] is not None]
    total = sum(known) if known else None
    if args.json:
        print_json(
            jsonable(
                {
                    "runs": rows,
                    "total_cost": total,
                    "orphaned_worktrees": orphans,
                    "pull_requests": prs,
                }
            )
        )
        return 0
    if not rows:
        print("no agent runs yet (move a card to the agent column, or 'kanban-agents run CARD')")
    width = max((len(r["card"]) for r in rows), default=4)
    for row in rows:
        live = f" pid {row['pid']}" if row["live"] else ""
        estimate = "~" if row["tokens_estimated"] else ""  # the server reported no usage
        tokens = f"  {estimate}{row['tokens']} tok" if row["tokens"] else ""
        if row["cost"] is not None or row["tokens"] or row["state"] in ("review", "failed"):
            tokens += f"  {format_cost(row['cost'])}"
        reason = f"  {row['reason']}" if row["reason"] else ""
        state = row["state"] or "(not started)"  # a record with no state yet: a queued card
        run = f"run {row['run']}  " if row["run"] else ""
        unconfined = "  UNCONFINED" if row["sandbox"] == "off" else ""  # no sandbox: said
        print(f"{row['card']:<{width}}  {run}{state:<11}{live}{tokens}{unconfined}{reason}")
    if rows and (total is not None or store.settings.pricing):
        print(f"total: {format_cost(total)}")
    if orphans:
        print(
            f"\norphaned worktrees (their card is gone; remove with 'git worktree remove'): {len(orphans)}"
        )
        for orphan in orphans:
            print(f"  {orphan['path']}  ({orphan['branch']})")
    print_pull_request_checks(prs)
    return 0


def pull_request_checks(session) -> list[dict]:
    """``status`` asks about the cards' open pull requests (merged ones move to done); only
    cards with a ``pr:`` that are not done cost a gh call."""
    from .core.session import ActionFailed

    try:
        checks = session.check_pull_requests()
    except ActionFailed as exc:
        return [{"card": None, "url": None, "state": None, "error": str(exc)}]
    return [
        {
            "card": check.card_id,
            "url": check.url,
            "state": str(check.state) if check.state else None,
            "moved_to_done": check.moved_to_done,
            "error": check.error,
        }
        for check in checks
    ]


def print_pull_request_checks(checks: list[dict]) -> None:
    if not checks:
        return
    print("\npull requests:")
    for check in checks:
        if check["error"]:
            print(f"  {check['card'] or '?'}  not checked: {check['error']}")
        else:
            moved = "  (merged: moved to done)" if check["moved_to_done"] else ""
            print(f"  {check['card']}  {check['state'].lower()}  {check['url']}{moved}")


def cmd_log(args: argparse.Namespace) -> int:
    from .core.log_format import format_event

    session = open_session(args)
    card = find_card(session.store, args.card)
    if args.follow:
        return _follow(session, card.id)
    history = _action(session.run_log, card.id, args.run)
    if history.run < 1:
        raise UserError(f"{card.id} has no runs yet")
    if args.json:
        for event in history.events:
            print(json.dumps(event.as_dict(), ensure_ascii=False))
        return 0
    for event in history.events:
        for line in format_event(event):
            print(line)
    return 0
