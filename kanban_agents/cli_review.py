"""Headless review commands: ``diff``, ``merge``, ``send-back``, ``discard``, ``test``.

Their names, flags and help are rows of the command table in ``cli.py``.
"""

from __future__ import annotations

import argparse
import sys

from .cli_board import UserError, find_card, hint_agent_host, open_store, print_json


def _session(args: argparse.Namespace):
    from .core.session import BoardSession

    return BoardSession(open_store(args))


def _failed():
    from .core.session import ActionFailed

    return ActionFailed


def cmd_diff(args: argparse.Namespace) -> int:
    session = _session(args)
    card_id = find_card(session.store, args.card).id
    try:
        view = session.diff(card_id)
    except _failed() as exc:
        raise UserError(str(exc)) from None
    diff, scope = view.diff, view.scope
    if args.json:
        print_json(
            {
                "card": card_id,
                "base": diff.base_ref,
                "merge_base": diff.merge_base,
                "files": [
                    {
                        "path": f.path,
                        "old_path": f.old_path,
                        "status": f.status,
                        "added": f.added,
                        "deleted": f.deleted,
                        "binary": f.binary,
                        "skipped": f.skipped,
                        "folded": f.folded,
                    }
                    for f in diff.files
                ],
                **(scope.as_json() if scope is not None else {}),
            }
        )
        return 0
    if args.stat or not diff.files:
        for f in diff.files:
            print(
                f"{f.status} {f.path}  +{f.added} -{f.deleted}"
                + (f"  ({f.skipped or f.folded})" if f.skipped or f.folded else "")
            )
        print(
            f"{len(diff.files)} files changed, +{diff.added} -{diff.deleted} against {diff.base_ref}"
        )
        for line in scope.lines() if scope is not None else ():
            print(f"! {line}")
        return 0
    for f in diff.files:
        if f.skipped or f.folded:
            print(f"--- {f.path}: {f.skipped or f.folded}, +{f.added} -{f.deleted} (not shown)")
        else:
            sys.stdout.write(f.patch if f.patch.endswith("\n") else f.patch + "\n")
    for line in scope.lines() if scope is not None else ():  # stderr: the patch stays a patch
        print(f"kanban-agents: {card_id}'s work {line}", file=sys.stderr)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from .core.session import MergeConflict

    session = _session(args)
    card_id = find_card(session.store, args.card).id
    try:
        outcome = session.merge(
            card_id,
            strategy=args.strategy,
            accept_git_changes=args.accept_git_changes,
            allow_out_of_scope=args.allow_out_of_scope,
        )
    except MergeConflict as exc:
        print(f"kanban-agents: {exc}", file=sys.stderr)
        print(
            f"send it back with the conflict as feedback: kanban-agents send-back {card_id} --conflict",
            file=sys.stderr,
        )
        return 1
    except _failed() as exc:
        raise UserError(str(exc)) from None
    if outcome.already_merged:
        into = f" into {outcome.base}" if outcome.base else ""
        print(f"{card_id} is already merged{into}: {outcome.commit[:12]}")
        return 0
    cleanup = [
        w
        for w, done in (
            ("worktree removed", outcome.removed_worktree),
            ("branch deleted", outcome.deleted_branch),
        )
        if done
    ]
    print(
        f"merged {card_id} into {outcome.base} ({outcome.strategy}): {outcome.commit[:12]}"
        + (f"; {', '.join(cleanup)}" if cleanup else "")
    )
    return 0


def cmd_send_back(args: argparse.Namespace) -> int:
    session = _session(args)
    card_id = find_card(session.store, args.card).id
    feedback = args.message or ""
    try:
        if args.conflict:
            where, conflict = session.conflict_to_send_back(card_id)
            if conflict is None:
                raise UserError(
                    f"{card_id} merges cleanly into {where.base}, and no rebase of it onto "
                    f"{where.base} has conflicted: there is no conflict to send back"
                )
            feedback = (feedback + "\n\n" if feedback else "") + conflict
        if args.message == "-":
            feedback = sys.stdin.read()
        comments = sum(1 for c in session.line_comments(card_id) if c.status == "pending")
        card = session.send_back(card_id, feedback)
    except _failed() as exc:
        raise UserError(str(exc)) from None
    with_comments = f" and {comments} line comment{'s' * (comments != 1)}" if comments else ""
    print(
        f"sent {card.id} back to {session.store.status_of(card)} with review notes{with_comments} "
        f"(round {session.review_round(card.id)})"
    )
    hint_agent_host(session.store, card.id)
    return 0


def cmd_comment(args: argparse.Namespace) -> int:
    session = _session(args)
    card_id = find_card(session.store, args.card).id
    path, _, line = args.where.rpartition(":")
    if not path or not line.isdigit() or int(line) < 1:
        raise UserError(f"{args.where!r} is not PATH:LINE (e.g. calc.py:12)")
    text = sys.stdin.read() if args.message == "-" else args.message
    try:
        comment = session.add_comment(card_id, path, int(line), text)
    except _failed() as exc:
        raise UserError(str(exc)) from None
    pending = sum(1 for c in session.line_comments(card_id) if c.status == "pending")
    print(
        f"commented on {comment.where} of {card_id} ({pending} pending; "
        f"'kanban-agents send-back {card_id}' sends them)"
    )
    return 0


def cmd_comments(args: argparse.Namespace) -> int:
    session = _session(args)
    card_id = find_card(session.store, args.card).id
    try:
        comments = session.line_comments(card_id)
    except _failed() as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print_json({"card": card_id, "comments": [c.as_dict() for c in comments]})
        return 0
    if not comments:
        print(f"{card_id} has no line comments")
        return 0
    for c in comments:
        sent = f", round {c.round}" if c.round else ""
        print(f"{c.where}  [{c.status}{sent}]\n  > {c.quote}\n  {c.text}")
    return 0


def cmd_discard(args: argparse.Namespace) -> int:
    import asyncio

    session = _session(args)
    card_id = find_card(session.store, args.card).id
    if not args.yes and sys.stdin.isatty():
        answer = input(
            f"discard the work of {card_id} (its worktree and branch are deleted)? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    try:
        card = asyncio.run(session.discard(card_id))
    except _failed() as exc:
        raise UserError(str(exc)) from None
    print(f"discarded the work of {card.id}; the card is back in {session.store.status_of(card)}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    import asyncio

    session = _session(args)
    card_id = find_card(session.store, args.card).id
    try:
        result = asyncio.run(session.test(card_id, on_lines=lambda lines: print(*lines, sep="\n")))
    except _failed() as exc:
        raise UserError(str(exc)) from None
    if result is None:
        print(f"{card_id} names no tests ('tests:' in its front matter)")
        return 0
    print(
        "tests passed"
        if result.ok
        else ("tests timed out" if result.timed_out else f"tests failed (exit {result.exit_code})")
    )
    return 0 if result.ok else 1
