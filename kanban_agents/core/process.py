"""Running a command in its own process group, with a timeout, an output cap and clean-up.

Used for the agent's ``run`` tool, the card's acceptance tests, worktree setup commands and
command agents. When ``run_command`` returns (finished, timed out or cancelled), nothing it
started is left running: not in its process group, and not the processes that left the group
(``setsid cmd &``, a double fork, ``setpgid``).

Those are found by a mark in their environment: every command gets ``_KANBAN_AGENTS_COMMAND`` (one
value per call) and, inside a run, ``_KANBAN_AGENTS_OWNER`` (the card's records directory).
Children inherit both whatever group or session they move to, and the marks outlive the process
that set them: after a crash of the host, the next start of the card finds what its interrupted
run left behind (``end_owned_processes``). A mark beats the alternatives here: a child
subreaper (``PR_SET_CHILD_SUBREAPER``) forgets everything when the host dies, makes every orphan
of every child (git's detached gc too) a zombie of ours to reap, and cgroups need privileges we
cannot count on. What it misses, a process that starts with a cleared environment (``env -i``),
is caught on Linux by ``reaper.py``: every command runs below that small subreaper process, which
ends everything below it when the command ends (the app itself stays nobody's subreaper).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
PIPE_GRACE = 2.0  # after the group is gone, how long to wait for the last of its output

COMMAND_MARK = "_KANBAN_AGENTS_COMMAND"  # outside the KANBAN_AGENTS_* settings overrides
OWNER_MARK = "_KANBAN_AGENTS_OWNER"

# Who the commands started in this context belong to (a run sets its card's records directory);
# a context variable, so every command of a run's task carries it without being passed along.
command_owner: ContextVar[str | None] = ContextVar("command_owner", default=None)


@dataclass(frozen=True)
class EndedProcess:
    pid: int
    command: str  # its command line, shortened

    def describe(self) -> str:
        return f"pid {self.pid} ({self.command})"


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    output: str  # capped: head and tail with a marker in between
    timed_out: bool
    elapsed: float
    escaped: tuple[EndedProcess, ...] = ()  # left the process group; ended when the command ended

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
    on_partial: Callable[[str], None] | None = None,
) -> CommandResult:
    """Run ``command`` (a shell string, or an argv list run without a shell) in ``cwd``.

    stdout and stderr are merged; ``on_lines`` gets the complete lines of each chunk as it arrives
    (one call per chunk, not per line: a chatty command must not flood the event loop).
    ``on_partial`` gets, after each chunk, the unfinished last line ("" if none): a question
    waiting for an answer has no newline yet.
    """
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    output = _CappedOutput(output_cap, on_lines, on_partial)
    mark = secrets.token_hex(8)
    marked_env = dict(os.environ if env is None else env)
    marked_env[COMMAND_MARK] = mark
    owner = command_owner.get()
    if owner is not None:
        marked_env[OWNER_MARK] = owner
    read_fd, write_fd = os.pipe()
    options = dict(
        cwd=cwd,
        env=marked_env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=write_fd,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )  # its own process group, so the whole tree can be stopped
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    report = Path(tempfile.gettempdir()) / f"kanban-agents-reaped-{mark}"
    try:
        proc = await asyncio.create_subprocess_exec(*_under_reaper(argv, report), **options)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    pipe = _OutputPipe(output)
    timed_out = False
    complete = False
    escaped: list[EndedProcess] = []
    try:
        await loop.connect_read_pipe(lambda: pipe, os.fdopen(read_fd, "rb", buffering=0))
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        timed_out = True
    finally:
        # Also on cancellation: shielded so a second cancel cannot leave processes behind.
        complete = await asyncio.shield(
            asyncio.ensure_future(_end_process_group(proc, pipe, mark, escaped))
        )
    escaped[:0] = _read_report(report)
    output.flush_line()
    text = output.text() or "(no output)"
    if escaped:
        text += (
            "\n[ended processes that had left the command's process group (setsid, setpgid or "
            "a double fork) and were still running: "
            + ", ".join(p.describe() for p in escaped)
            + "]"
        )
    if not complete:
        text += (
            "\n[the output may be cut short: a process that detached from the command "
            "still holds it open and was left running]"
        )
    return CommandResult(
        proc.returncode, text, timed_out, time.monotonic() - started, tuple(escaped)
    )


def _under_reaper(argv: list[str], report: Path) -> list[str]:
    """On Linux every command runs below ``reaper.py``, a child subreaper that ends whatever the
    command left behind, even processes that cleared the environment mark (``env -i``)."""
    if not _REAPER_WORKS:
        return argv
    reaper = str(Path(__file__).with_name("reaper.py"))
    return [sys.executable, "-I", "-S", reaper, "--report", str(report), "--", *argv]


def _read_report(report: Path) -> list[EndedProcess]:
    """What the reaper ended (it writes ``pid<TAB>command`` lines), and the file is gone."""
    try:
        text = report.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    with contextlib.suppress(OSError):
        report.unlink()
    ended = []
    for line in text.splitlines():
        pid, _, command = line.partition("\t")
        if pid.isdigit():
            ended.append(EndedProcess(int(pid), command))
    return ended


_REAPER_WORKS = sys.platform.startswith("linux") and os.path.isdir("/proc")

_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


class _CappedOutput:
    """The head and the tail of a byte stream, about ``cap`` characters in all, in bounded memory."""

    def __init__(
        self,
        cap: int,
        on_lines: Callable[[list[str]], None] | None = None,
        on_partial: Callable[[str], None] | None = None,
    ):
        self.cap = cap
        self.on_lines = on_lines
        self.on_partial = on_partial
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
            if self.on_partial is not None:
                self.on_partial(self._partial.decode("utf-8", errors="replace").rstrip("\r"))
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


OUTPUT_BATCH_SECONDS = 0.02  # a command's output is passed on in batches this far apart


class _OutputPipe(asyncio.Protocol):
    """The read end of the command's stdout and stderr, fed into a ``_CappedOutput``.

    A pipe of our own rather than ``PIPE``: a process that escapes the group (``setsid``) can
    hold the write end open forever, and then only the owner of the transport can close it.
    """

    def __init__(self, sink: _CappedOutput):
        self.sink = sink
        self.transport: asyncio.BaseTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending: list[bytes] = []
        self._flush_at: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        # Output is passed on at most every OUTPUT_BATCH_SECONDS: a command printing in small
        # bursts became one log event per read, 2,000 a second for ten chatty agents.
        self._pending.append(data)
        if self._flush_at is None:
            self._flush_at = asyncio.get_running_loop().call_later(
                OUTPUT_BATCH_SECONDS, self._flush
            )

    def _flush(self) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self.sink.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._flush()
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self._flush()


async def _end_process_group(
    proc: asyncio.subprocess.Process, pipe: _OutputPipe, mark: str, escaped: list[EndedProcess]
) -> bool:
    """Stop every process left in the command's group, then those that carry the command's mark
    but left the group (listed in ``escaped``); reap the command, collect its output.

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
        escaped.extend(await asyncio.to_thread(end_marked_processes, COMMAND_MARK, mark))
        # What is already in the pipe stays readable after the writers are gone.
        try:
            await asyncio.wait_for(asyncio.shield(pipe.closed), PIPE_GRACE)
        except TimeoutError:
            return False
        return True
    finally:
        pipe.close()


# --------------------------------------------------------------------------- marked processes


def end_owned_processes(owner: str) -> list[EndedProcess]:
    """End every process whose environment says it was started for ``owner`` (a run's records
    directory): what an interrupted run left behind. Call it only while holding the card's run
    lock, when no live run of the card can own them. Blocks up to 2 x ``KILL_GRACE``."""
    return end_marked_processes(OWNER_MARK, owner)


def end_marked_processes(name: str, value: str) -> list[EndedProcess]:
    """SIGTERM every live process with ``name=value`` in its environment, SIGKILL those still
    alive after ``KILL_GRACE``, reap the ones that are our children; returns what was ended."""
    marked = {pid: _command_line(pid) for pid in _marked_pids(name, value)}
    if not marked:
        return []
    for pid in marked:
        _signal_process(pid, signal.SIGTERM)
    alive = _wait_gone(marked, KILL_GRACE)
    for pid in alive:
        _signal_process(pid, signal.SIGKILL)
    _wait_gone(alive, KILL_GRACE)
    return [EndedProcess(pid, marked[pid]) for pid in sorted(marked)]


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a process that is not a zombie."""
    state = _process_state(pid)
    return state is not None and state != "Z"


def _marked_pids(name: str, value: str) -> Iterator[int]:
    needle = f"{name}={value}".encode()
    me = os.getpid()
    try:
        pids = [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ.split(b"\0") and process_alive(pid):
            yield pid


def _process_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def _command_line(pid: int, limit: int = 60) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            text = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        text = ""
    return (text[: limit - 1] + "…" if len(text) > limit else text) or "?"


def _signal_process(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until the processes are gone (or zombies, which are reaped when they are ours);
    returns those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while True:
        for pid in alive:
            # A process that was re-parented to us (rare: we are nobody's subreaper) is reaped
            # here; it is marked with our command, so no one else waits for it.
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        alive = [pid for pid in alive if process_alive(pid)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)
