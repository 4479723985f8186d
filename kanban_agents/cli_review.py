"""Headless review commands: ``diff``, ``merge``, ``send-back``, ``discard``, ``test``.

Their names, flags and help are rows of the command table in ``cli.py``.
"""

from __future__ import annotations

import argparse
import sys

from .cli_board import UserError, find_card, hint_agent_host, open_store, print_json


def _reviewer(args: argparse.Namespace):
    from .core.review import Reviewer

    return Reviewer(open_store(args))


def cmd_diff(args: argparse.Namespace) -> int:
    from .core import git
    from .core.review import ReviewError

    reviewer = _reviewer(args)
    card_id = find_card(reviewer.store, args.card).id
    try:
        where = reviewer.card_branch(card_id)
        if where.worktree is not None:
            diff = git.worktree_diff(where.worktree, where.base)
        else:
            diff = git.branch_diff(where.repo, where.base, where.branch)
    except (ReviewError, git.GitError) as exc:
        raise UserError(str(exc)) from None
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
                    }
                    for f in diff.files
                ],
            }
        )
        return 0
    if args.stat or not diff.files:
        for f in diff.files:
            print(
                f"{f.status} {f.path}  +{f.added} -{f.deleted}"
                + (f"  ({f.skipped})" if f.skipped else "")
            )
        print(
            f"{len(diff.files)} files changed, +{diff.added} -{diff.deleted} against {diff.base_ref}"
        )
        return 0
    for f in diff.files:
        if f.skipped:
            print(f"--- {f.path}: {f.skipped}, +{f.added} -{f.deleted} (not shown)")
        else:
            sys.stdout.write(f.patch if f.patch.endswith("\n") else f.patch + "\n")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from .core.review import MergeRefused, ReviewError

    reviewer = _reviewer(args)
    card_id = find_card(reviewer.store, args.card).id
    try:
        outcome = reviewer.merge(card_id, strategy=args.strategy)
    except MergeRefused as exc:
        print(f"kanban-agents: {exc}", file=sys.stderr)
        print(
            f"send it back with the conflict as feedback: kanban-agents send-back {card_id} --conflict",
            file=sys.stderr,
        )
        return 1
    except ReviewError as exc:
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
    from .core import git
    from .core.review import MergeRefused, ReviewError

    reviewer = _reviewer(args)
    card_id = find_card(reviewer.store, args.card).id
    feedback = args.message or ""
    try:
        if args.conflict:
            check = reviewer.check_merge(card_id)
            if check.clean:
                raise UserError(f"{card_id} merges cleanly: there is no conflict to send back")
            from .core.review import conflict_feedback

            feedback = (feedback + "\n\n" if feedback else "") + conflict_feedback(
                reviewer.card_branch(card_id).base, check.conflicts
            )
        if args.message == "-":
            feedback = sys.stdin.read()
        card = reviewer.send_back(card_id, feedback)
    except (ReviewError, MergeRefused, git.GitError) as exc:
        raise UserError(str(exc)) from None
    print(
        f"sent {card.id} back to {reviewer.store.status_of(card)} with review notes (round "
        f"{reviewer.records.load_state(card.id).review_round})"
    )
    hint_agent_host(reviewer.store, card.id)
    return 0


def cmd_discard(args: argparse.Namespace) -> int:
    from .core import git
    from .core.review import ReviewError

    reviewer = _reviewer(args)
    card_id = find_card(reviewer.store, args.card).id
    if not args.yes and sys.stdin.isatty():
        answer = input(
            f"discard the work of {card_id} (its worktree and branch are deleted)? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    try:
        card = reviewer.discard(card_id)
    except (ReviewError, git.GitError) as exc:
        raise UserError(str(exc)) from None
    print(f"discarded the work of {card.id}; the card is back in {reviewer.store.status_of(card)}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    import asyncio

    from .core.review import ReviewError

    reviewer = _reviewer(args)
    card_id = find_card(reviewer.store, args.card).id
    try:
        result = asyncio.run(
            reviewer.run_tests(card_id, on_lines=lambda lines: print(*lines, sep="\n"))
        )
    except ReviewError as exc:
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
