"""Headless agent commands: ``run``, ``status``, ``log``.

Their names, flags and help are rows of the command table in ``cli.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from .cli_board import (
    PROG,
    UserError,
    find_card,
    jsonable,
    open_store,
    print_json,
)


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from .core.host import board_host_pid

    store = open_store(args)
    card = find_card(store, args.card)
    host = board_host_pid(store.root)
    if host is not None and host != os.getpid():
        agent_column = store.settings.board.agent_column
        first_run = _records(store).next_run_number(card.id)
        if store.status_of(card) != agent_column:
            store.move(card.id, agent_column)
        print(f"moved {card.id} to {agent_column}; the board app (pid {host}) runs its agent")
        return _follow(store, card.id, first_run, quiet=args.quiet) if args.wait else 0
    if not args.wait:
        return _run_detached(store, card.id)
    return asyncio.run(_run_here(store, card.id, quiet=args.quiet))


async def _run_here(store, card_id: str, quiet: bool) -> int:
    from .core.records import RedactingStream
    from .core.runs import RunManager

    runs = RunManager(store)
    # What this process prints is redacted like its records: a detached run's output is a file
    # (background.log), and an error may quote a key.
    printed = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(sys.stdout, runs.records.redactor)
    sys.stderr = RedactingStream(sys.stderr, runs.records.redactor)
    try:
        return await _run_with(runs, store, card_id, quiet)
    finally:
        sys.stdout, sys.stderr = printed


async def _run_with(runs, store, card_id: str, quiet: bool) -> int:
    import asyncio

    from .core.log_format import format_event

    def show(event) -> None:
        if event.card_id == card_id and not quiet:
            for line in format_event(event):
                print(line, flush=True)

    runs.subscribe(show)
    await runs.start(auto_start=False)
    agent_column = store.settings.board.agent_column
    if store.status_of(store.get(card_id)) != agent_column:
        await asyncio.to_thread(store.move, card_id, agent_column)  # the move itself starts the run
    else:
        runs.request(card_id)
    try:
        status = await runs.wait(card_id)
    finally:
        await runs.stop("interrupted from the command line")
    state = status.state if status else None
    print(
        f"{card_id}: {state}" + (f" ({status.reason})" if status and status.reason else ""),
        flush=True,
    )
    return 0 if state == "review" else 1


def _run_detached(store, card_id: str) -> int:
    """Start the run in a background process that outlives this command."""
    from .core.paths import state_dir

    state = state_dir(store.root)
    if state is None:
        raise UserError(
            "the board is not inside a git repository: agents need one for their worktrees"
        )
    log_dir = state / "runs" / card_id
    log_dir.mkdir(parents=True, exist_ok=True)
    output = open(log_dir / "background.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kanban_agents",
            "--board",
            str(store.root),
            "run",
            card_id,
            "--wait",
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


def _follow(store, card_id: str, first_run: int = 1, quiet: bool = False) -> int:
    """Print a run's log as it is written (by whichever process runs it) until it ends. If the
    process running it goes away without ending the run, say so instead of waiting forever."""
    from .core.events import RunFinished
    from .core.log_format import format_event

    records = _records(store)
    deadline = time.monotonic() + 15
    while (run := records.next_run_number(card_id) - 1) < first_run:
        if time.monotonic() > deadline:
            raise UserError(
                f"no run of {card_id} started (is the board app's agent column {store.settings.board.agent_column!r}?)"
            )
        time.sleep(0.1)
    from .core.records import HostWatch

    offset = 0
    watch = HostWatch(records, store.root, card_id)
    while True:
        events, offset = records.read_from(card_id, run, offset)
        for event in events:
            watch.saw(event)
            if not quiet:
                for line in format_event(event):
                    print(line, flush=True)
            if isinstance(event, RunFinished):
                reason = f" ({event.reason})" if event.reason else ""
                print(f"{card_id}: {event.state}{reason}", flush=True)
                return 0 if event.state == "review" else 1
        if watch.lost():
            print(f"{card_id}: run {run} stopped without an outcome (the process running it "
                  f"is gone); '{PROG} run {card_id}' resumes it", flush=True)  # fmt: skip
            return 1
        time.sleep(0.2)


def _records(store):
    from .core.paths import state_dir
    from .core.records import run_records

    if state_dir(store.root) is None:
        raise UserError("the board is not inside a git repository: there are no runs")
    return run_records(store)


def cmd_status(args: argparse.Namespace) -> int:
    from .core import git
    from .core.card import Card
    from .core.paths import repo_root

    store = open_store(args)
    records = _records(store)
    rows = []
    for state in map(records.as_seen, records.all_states()):
        holder = records.lock(state.card_id).holder()
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
                "branch": state.branch,
                "worktree": state.worktree,
                "base": state.base,
                "started": state.started,
                "finished": state.finished,
            }
        )
    orphans = []
    repo = repo_root(store.root)
    if repo is not None:
        prefix = store.settings.worktrees.branch_prefix
        try:
            worktrees = git.list_worktrees(repo)
        except git.GitError:
            worktrees = []
        orphans = [
            {"path": str(w.path), "branch": w.branch}
            for w in worktrees
            if w.branch
            and w.branch.startswith(prefix)
            and w.branch[len(prefix) :] not in store.cards
        ]
    if args.json:
        print_json(jsonable({"runs": rows, "orphaned_worktrees": orphans}))
        return 0
    if not rows:
        print("no agent runs yet (move a card to the agent column, or 'kanban-agents run CARD')")
    width = max((len(r["card"]) for r in rows), default=4)
    for row in rows:
        live = f" pid {row['pid']}" if row["live"] else ""
        tokens = f"  {row['tokens']} tok" if row["tokens"] else ""
        reason = f"  {row['reason']}" if row["reason"] else ""
        print(f"{row['card']:<{width}}  run {row['run']}  {row['state']:<11}{live}{tokens}{reason}")
    if orphans:
        print(
            f"\norphaned worktrees (their card is gone; remove with 'git worktree remove'): {len(orphans)}"
        )
        for orphan in orphans:
            print(f"  {orphan['path']}  ({orphan['branch']})")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from .core.log_format import format_event

    store = open_store(args)
    card = find_card(store, args.card)
    if args.follow:
        return _follow(store, card.id)
    records = _records(store)
    run = args.run or records.next_run_number(card.id) - 1
    if run < 1:
        raise UserError(f"{card.id} has no runs yet")
    events = list(records.read_events(card.id, run))
    if args.json:
        for event in events:
            print(json.dumps(event.as_dict(), ensure_ascii=False))
        return 0
    for event in events:
        for line in format_event(event):
            print(line)
    return 0
