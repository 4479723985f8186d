"""The parent of every command kanban-agents runs (Linux): nothing the command starts outlives it.

``python -I -S reaper.py [--report FILE] ARGV...`` makes itself a child subreaper (``PR_SET_CHILD_SUBREAPER``),
runs ARGV, and when ARGV ends (or this process is told to stop) ends every process below it:
its children, and the orphans re-parented to it because their parent died, whatever they did to
get away (``setsid``, ``setpgid``, a double fork, a cleared environment with ``env -i``). What it
ended goes to FILE (``pid<TAB>command`` lines), or to stderr. It exits as ARGV did.

A separate small process rather than the app itself: as a subreaper, the app would become the
parent of every orphan of every child (git's background gc too) and would have to reap them
without stealing the exit status of the children asyncio waits for.

Standard library only, no package imports: it starts in about 20 ms.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
GRACE = 1.0  # seconds between SIGTERM and SIGKILL; shorter than the caller's own grace


def main(argv: list[str]) -> int:
    report = None
    if argv[:1] == ["--report"] and len(argv) > 1:
        report, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: reaper.py [--report FILE] [--] COMMAND [ARG...]", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    stopping: list[int] = []

    def stop(signum, _frame):
        stopping.append(signum)
        raise _Stop  # a handler that returns would have waitpid retried (PEP 475)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        child = os.fork()
    except OSError as exc:
        print(f"cannot start {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    if child == 0:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            print(f"{argv[0]}: {exc.strerror}", file=sys.stderr)
            os._exit(127)
    status = _wait_for(child, stopping)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # finish the clean-up whatever else arrives
    ended = _end_descendants()
    if ended and report is not None:
        with open(report, "a", encoding="utf-8") as handle:
            handle.writelines(f"{pid}\t{command}\n" for pid, command in ended)
    elif ended:
        names = ", ".join(f"pid {pid} ({command})" for pid, command in ended)
        print(f"[ended processes the command left running: {names}]", file=sys.stderr)
    if status is None:  # stopped from outside before the command ended
        return 128 + (stopping[0] if stopping else signal.SIGTERM)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP have no handler to reset
        os.kill(os.getpid(), signum)  # end the same way, so the caller sees the signal
        return 128 + signum
    return os.waitstatus_to_exitcode(status)


class _Stop(Exception):
    pass


def _wait_for(child: int, stopping: list[int]) -> int | None:
    """Reap children until ``child`` ends (its status) or a stop is asked for (None)."""
    try:
        while not stopping:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return None
            if pid == child:
                return status
    except _Stop:
        pass
    return None


def _end_descendants() -> list[tuple[int, str]]:
    """SIGTERM everything below us, SIGKILL what is left after ``GRACE``, reap it all."""
    ended: dict[int, str] = {}
    own_group = os.getpgrp()
    started = time.monotonic()
    signum = signal.SIGTERM
    while True:
        below = _descendants()
        if not below or time.monotonic() - started > 4 * GRACE:  # unkillable: give up
            break
        for pid, group in below:
            if group != own_group:  # the command's own group is not news; escapees are
                ended.setdefault(pid, _command_line(pid))
            try:
                os.kill(pid, signum)
            except (ProcessLookupError, PermissionError):
                pass
        _reap()
        time.sleep(0.01)
        _reap()
        if time.monotonic() - started >= GRACE:
            signum = signal.SIGKILL
    _reap()
    return sorted(ended.items())


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _descendants() -> list[tuple[int, int]]:
    """Live (not zombie) processes below this one, with their process groups."""
    me = os.getpid()
    parents: dict[int, int] = {}
    alive: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(name)
        parents[pid] = int(fields[1])
        if fields[0] != b"Z":
            alive[pid] = int(fields[2])
    below: list[tuple[int, int]] = []
    frontier = [me]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                frontier.append(pid)
                if pid in alive:
                    below.append((pid, alive[pid]))
    return below


def _command_line(pid: int, limit: int = 60) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            text = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        text = ""
    return (text[: limit - 1] + "…" if len(text) > limit else text) or "?"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
