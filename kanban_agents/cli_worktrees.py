"""Headless worktree commands: ``worktrees``, ``gc``, ``setup``.

Their names, flags and help are rows of the command table in ``cli.py``; the work is the
session's (``core/worktree_inventory.py`` behind it).
"""

from __future__ import annotations

import argparse

from .cli_board import UserError, find_card, open_store, print_json


def open_session(args: argparse.Namespace):
    from .core.session import BoardSession

    return BoardSession(open_store(args))


def _action(call, *args):
    """Run a session call; its ``ActionFailed`` becomes the one-line ``UserError``."""
    try:
        return call(*args)
    except _action_failed() as exc:
        raise UserError(str(exc)) from None


def cmd_worktrees(args: argparse.Namespace) -> int:
    from .core.session import age_text, format_size

    session = open_session(args)
    entries = _action(session.worktrees)
    if args.json:
        print_json([entry.as_json() for entry in entries])
        return 0
    if not entries:
        print("no worktrees: the board has made none, or gc removed them")
        return 0
    print(f"{'CARD':<20} {'STATE':<12} {'BRANCH':<24} {'DISK':>9} {'AGE':>5}  PATH")
    for entry in entries:
        flags = [
            flag
            for flag in (
                entry.orphan.value,
                "stale" if entry.stale else "",
                "uncommitted changes" if entry.dirty else "",
                "directory gone" if entry.missing else "",
            )
            if flag
        ]
        size = format_size(entry.disk_bytes) if entry.disk_bytes is not None else "-"
        print(
            f"{entry.card_id or '(spare)':<20} {entry.state:<12} "
            f"{entry.branch or '(detached)':<24} {size:>9} {age_text(entry.age_seconds):>5}  "
            f"{entry.path}" + (f"  [{', '.join(flags)}]" if flags else "")
        )
    total = sum(entry.disk_bytes or 0 for entry in entries)
    orphans = sum(1 for entry in entries if entry.orphan)
    hint = f"; {orphans} orphan(s): 'kanban-agents gc' removes them" if orphans else ""
    print(f"{len(entries)} worktree(s), {format_size(total)}{hint}")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from .core.session import format_size

    session = open_session(args)
    report = _action(
        lambda: session.gc_worktrees(
            dry_run=args.dry_run, older_than=args.older_than, force=args.force
        )
    )
    verb = "would remove" if report.dry_run else "removed"
    for entry in report.removed:
        size = format_size(entry.disk_bytes or 0)
        why = entry.orphan.value or "directory gone"
        print(f"{verb} {entry.path} ({entry.card_id or 'spare'}: {why}, {size})")
    for entry, why in report.kept:
        print(f"kept {entry.path} ({entry.card_id}): {why}")
    for note in report.notes:
        print(note)
    freed = format_size(report.freed_bytes)
    if report.dry_run:
        print(f"dry run: {len(report.removed)} worktree(s), {freed} would be freed")
    else:
        print(
            f"{len(report.removed)} worktree(s) removed, {freed} freed; git's worktree list pruned"
        )
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    import asyncio

    from .core.log_format import format_event

    session = open_session(args)
    card = find_card(session.store, args.card)

    def show(event) -> None:
        for line in format_event(event):
            print(line, flush=True)

    try:
        asyncio.run(session.rerun_setup(card.id, show))
    except _action_failed() as exc:
        raise UserError(str(exc)) from None
    print(f"{card.id}: setup done")
    return 0


def _action_failed():
    from .core.session import ActionFailed

    return ActionFailed
