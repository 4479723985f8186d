"""Running a command in its own process group, with a timeout, an output cap and clean-up.

Used for the agent's ``run`` tool, the card's acceptance tests, worktree setup commands and
command agents. When ``run_command`` returns (finished, timed out or cancelled), nothing is left
running in the command's process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
PIPE_GRACE = 2.0  # after the group is gone, how long to wait for the last of its output


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    output: str  # capped: head and tail with a marker in between
    timed_out: bool
    elapsed: float

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0

    @property
    def signal_note(self) -> str:
        if self.exit_code is not None and self.exit_code < 0:
            with contextlib.suppress(ValueError):
                return f" (killed by {signal.Signals(-self.exit_code).name})"
        return ""


async def run_command(
    command: str | Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    output_cap: int = 30_000,
    env: Mapping[str, str] | None = None,
    on_lines: Callable[[list[str]], None] | None = None,
) -> CommandResult:
    """Run ``command`` (a shell string, or an argv list run without a shell) in ``cwd``.

    stdout and stderr are merged; ``on_lines`` gets the complete lines of each chunk as it arrives
    (one call per chunk, not per line: a chatty command must not flood the event loop).
    """
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    output = _CappedOutput(output_cap, on_lines)
    read_fd, write_fd = os.pipe()
    options = dict(
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=write_fd,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )  # its own process group, so the whole tree can be stopped
    try:
        if isinstance(command, str):
            proc = await asyncio.create_subprocess_shell(command, **options)
        else:
            proc = await asyncio.create_subprocess_exec(*command, **options)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    pipe = _OutputPipe(output)
    timed_out = False
    complete = False
    try:
        await loop.connect_read_pipe(lambda: pipe, os.fdopen(read_fd, "rb", buffering=0))
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        timed_out = True
    finally:
        # Also on cancellation: shielded so a second cancel cannot leave processes behind.
        complete = await asyncio.shield(asyncio.ensure_future(_end_process_group(proc, pipe)))
    output.flush_line()
    text = output.text() or "(no output)"
    if not complete:
        text += (
            "\n[the output may be cut short: a process that detached from the command "
            "(e.g. with setsid) still holds it open and was left running]"
        )
    return CommandResult(proc.returncode, text, timed_out, time.monotonic() - started)


_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


class _CappedOutput:
    """The head and the tail of a byte stream, about ``cap`` characters in all, in bounded memory."""

    def __init__(self, cap: int, on_lines: Callable[[list[str]], None] | None = None):
        self.cap = cap
        self.on_lines = on_lines
        self._partial = bytearray()
        self.keep = max(cap // 2, 1)
        self.byte_budget = 4 * self.keep + 4  # a UTF-8 character takes at most 4 bytes
        self.head = bytearray()
        self.tail = bytearray()
        self.chars = 0  # characters seen, counted as the bytes that start a UTF-8 character
        self.dropped = False

    def feed(self, chunk: bytes) -> None:
        if self.on_lines is not None:
            self._partial += chunk
            *lines, rest = self._partial.split(b"\n")
            self._partial = bytearray(rest)
            if lines:
                self.on_lines(
                    [line.decode("utf-8", errors="replace").rstrip("\r") for line in lines]
                )
        self.chars += len(chunk.translate(None, _CONTINUATION_BYTES))
        room = self.byte_budget - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            excess = len(self.tail) - self.byte_budget
            if excess > 0:
                del self.tail[:excess]
                self.dropped = True

    def flush_line(self) -> None:
        if self.on_lines is not None and self._partial:
            self.on_lines([self._partial.decode("utf-8", errors="replace").rstrip("\r")])
            self._partial = bytearray()

    def text(self) -> str:
        if not self.dropped:
            whole = (self.head + self.tail).decode("utf-8", errors="replace")
            if len(whole) <= self.cap:
                return whole
            head, tail, total = whole[: self.keep], whole[-self.keep :], len(whole)
        else:
            head = self.head.decode("utf-8", errors="replace")[: self.keep]
            tail = self.tail.decode("utf-8", errors="replace")[-self.keep :]
            total = max(self.chars, len(head) + len(tail))
        cut = total - len(head) - len(tail)
        return f"{head}\n[... {cut} characters cut ...]\n{tail}"


def _signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to the process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _group_alive(pgid: int) -> bool:
    """Whether the group still has a process that is not a zombie.

    Zombies count as members for ``killpg`` until someone reaps them, and in a container the
    init process often never does; so on Linux look at their state in /proc.
    """
    if not _signal_group(pgid, 0):
        return False
    try:
        entries = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return True
    for pid in entries:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


class _OutputPipe(asyncio.Protocol):
    """The read end of the command's stdout and stderr, fed into a ``_CappedOutput``.

    A pipe of our own rather than ``PIPE``: a process that escapes the group (``setsid``) can
    hold the write end open forever, and then only the owner of the transport can close it.
    """

    def __init__(self, sink: _CappedOutput):
        self.sink = sink
        self.transport: asyncio.BaseTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.sink.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _end_process_group(proc: asyncio.subprocess.Process, pipe: _OutputPipe) -> bool:
    """Stop every process left in the command's group, reap the command, collect its output.

    Returns False when the output could not be read to its end: a process that left the group
    still holds the pipe open.
    """
    pgid = proc.pid  # start_new_session made the command the leader of its own group
    loop = asyncio.get_running_loop()
    try:
        if _signal_group(pgid, signal.SIGTERM):
            deadline = loop.time() + KILL_GRACE
            while (proc.returncode is None or _group_alive(pgid)) and loop.time() < deadline:
                await asyncio.sleep(0.02)
            if proc.returncode is None or _group_alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
                # SIGKILL lands asynchronously: wait until the group is really gone.
                deadline = loop.time() + KILL_GRACE
                while _group_alive(pgid) and loop.time() < deadline:
                    await asyncio.sleep(0.01)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), KILL_GRACE)
        # What is already in the pipe stays readable after the writers are gone.
        try:
            await asyncio.wait_for(asyncio.shield(pipe.closed), PIPE_GRACE)
        except TimeoutError:
            return False
        return True
    finally:
        pipe.close()
