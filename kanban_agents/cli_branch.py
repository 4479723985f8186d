"""Headless commands on a card's branch as a whole: ``rebase`` (onto its base's current tip)
and ``pr`` (push it and open a pull request).

Their names, flags and help are rows of the command table in ``cli.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from .cli_board import UserError, find_card, open_store


def _session(args: argparse.Namespace):
    from .core.session import BoardSession

    return BoardSession(open_store(args))


def cmd_rebase(args: argparse.Namespace) -> int:
    from .core.session import ActionFailed, MergeConflict

    session = _session(args)
    card_id = find_card(session.store, args.card).id
    try:
        outcome = asyncio.run(
            session.rebase(card_id, on_lines=lambda lines: print(*lines, sep="\n"))
        )
    except MergeConflict as exc:
        print(f"kanban-agents: {exc}", file=sys.stderr)
        print(
            f"send it back with the conflict as feedback: kanban-agents send-back {card_id} --conflict",
            file=sys.stderr,
        )
        return 1
    except ActionFailed as exc:
        raise UserError(str(exc)) from None
    if outcome.committed_work:
        print(
            f"committed the uncommitted work in its worktree first: {outcome.committed_work[:12]}"
        )
    if outcome.already_current:
        print(f"{card_id} is already on the tip of {outcome.base}: nothing to rebase")
        return 0
    print(
        f"rebased {outcome.branch} onto {outcome.base} ({outcome.picked_up} new commit"
        f"{'s' * (outcome.picked_up != 1)} of {outcome.base}): {outcome.previous[:12]} -> "
        f"{outcome.commit[:12]}"
    )
    if outcome.tests is None:
        print(f"{card_id} names no tests ('tests:' in its front matter)")
        return 0
    if outcome.tests.ok:
        print("tests passed on the rebased branch")
        return 0
    print(
        "tests "
        + ("timed out" if outcome.tests.timed_out else f"failed (exit {outcome.tests.exit_code})")
        + f" on the rebased branch: send it back with 'kanban-agents send-back {card_id} -m ...'",
        file=sys.stderr,
    )
    return 1


def cmd_pr(args: argparse.Namespace) -> int:
    from .core.session import ActionFailed

    session = _session(args)
    card_id = find_card(session.store, args.card).id
    try:
        outcome = session.open_pull_request(card_id, draft=args.draft)
    except ActionFailed as exc:
        raise UserError(str(exc)) from None
    if outcome.committed_work:
        print(
            f"committed the uncommitted work in its worktree first: {outcome.committed_work[:12]}"
        )
    print(f"pushed {outcome.branch} to {outcome.remote}")
    if outcome.url is None:
        print(f"kanban-agents: {outcome.missing}", file=sys.stderr)
        return 1
    if outcome.existing:
        print(f"{card_id} already has a pull request, now updated: {outcome.url}")
    else:
        print(f"opened a {'draft ' if args.draft else ''}pull request for {card_id}: {outcome.url}")
    return 0
