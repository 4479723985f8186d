"""run_command leaves nothing running: not its process group, nor what escaped it."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kanban_agents.core.agent.tools import Toolbox
from kanban_agents.core.process import run_command


def alive(pid: int) -> bool:
    """Running and not a zombie (an orphan's zombie may wait for an init that never reaps)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def read_pid(path: Path, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.strip().isdigit():
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"no pid in {path}")


@pytest.fixture
def spawned():
    """Pids a test's commands started; killed at the end whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# `setsid sleep 300 &`, and the command ends only once the sleep has its own session (else the
# group's SIGTERM may catch it before it escapes) and `setsid` has become `sleep` (between its
# setsid() and its exec the process is still named `setsid sleep 300`, and that is the name the
# clean-up would report).
SETSID_SLEEP = (
    "setsid sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}; "
    'until [ "$(cut -d\' \' -f6 /proc/$!/stat)" = $! ] && [ "$(cat /proc/$!/comm)" = sleep ]; '
    "do sleep 0.01; done"
)

# A double fork whose grandchild moves to a process group of its own (setpgid) and keeps
# the output pipe open, then sleeps.
DOUBLE_FORK = """
import os, sys, time
if os.fork() == 0:
    if os.fork() == 0:
        os.setpgid(0, 0)
        open(sys.argv[1], "w").write(str(os.getpid()))
        time.sleep(300)
    os._exit(0)
"""


async def test_setsid_escape_is_ended_when_the_command_ends(tmp_path, spawned):
    started = time.monotonic()
    result = await run_command(
        SETSID_SLEEP.format(pidfile="pid") + "; echo started",
        cwd=tmp_path,
        timeout=10,
    )
    pid = read_pid(tmp_path / "pid")
    spawned.append(pid)
    assert not alive(pid)
    assert result.exit_code == 0 and "started" in result.output
    assert [p.pid for p in result.escaped] == [pid]
    assert f"pid {pid} (sleep 300)" in result.output
    assert time.monotonic() - started < 5


async def test_double_fork_into_its_own_group_is_ended(tmp_path, spawned):
    (tmp_path / "escape.py").write_text(DOUBLE_FORK)
    result = await run_command([sys.executable, "escape.py", "pid"], cwd=tmp_path, timeout=10)
    pid = read_pid(tmp_path / "pid")
    spawned.append(pid)
    assert not alive(pid)
    assert f"pid {pid} (" in result.output and "escape.py" in result.output
    assert "may be cut short" not in result.output  # the escapee held the pipe: now it is read


async def test_run_tool_names_what_it_ended(tmp_path, spawned):
    (tmp_path / "escape.py").write_text(DOUBLE_FORK)
    box = Toolbox(tmp_path, command_timeout=10)
    result = await box.call(
        "run",
        {"command": SETSID_SLEEP.format(pidfile="pid1") + f"; {sys.executable} escape.py pid2"},
    )
    pids = [read_pid(tmp_path / "pid1"), read_pid(tmp_path / "pid2")]
    spawned.extend(pids)
    assert not any(alive(pid) for pid in pids)
    assert all(f"pid {pid} (" in result.output for pid in pids), result.output


# Cleared environment, new session, and the command exits at once: nothing marks the sleep, and
# it is in no group of ours. Only a subreaper parent sees it.
ENV_I_ESCAPE = (
    "env -i setsid sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}; "
    "until [ \"$(cut -d' ' -f6 /proc/$!/stat)\" = $! ]; do sleep 0.01; done"
)


async def test_env_i_setsid_escape_is_ended(tmp_path, spawned):
    result = await run_command(
        "sh -c '" + ENV_I_ESCAPE.format(pidfile="pid").replace("'", "'\\''") + "'; echo ok",
        cwd=tmp_path,
        timeout=10,
    )
    pid = read_pid(tmp_path / "pid")
    spawned.append(pid)
    assert not alive(pid)
    assert result.exit_code == 0 and "ok" in result.output
    assert f"pid {pid} (sleep 300)" in result.output


async def test_exit_codes_and_signals_come_through(tmp_path):
    assert (await run_command("exit 3", cwd=tmp_path, timeout=10)).exit_code == 3
    killed = await run_command("kill -9 $$", cwd=tmp_path, timeout=10)
    assert killed.exit_code == -9 and "SIGKILL" in killed.signal_note
    missing = await run_command(["no-such-command-here"], cwd=tmp_path, timeout=10)
    assert missing.exit_code == 127
