"""``kanban-agents serve``: the real server process (textual-serve under aiohttp) on a free port.
Beyond 127.0.0.1 nothing is served without the token; the page's app command opens this board."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("textual_serve", reason="textual-serve is a runtime dependency")

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(board: Path, *args: str) -> Iterator[str]:
    """``kanban-agents serve`` on a free port until the block ends; yields the URL it printed."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "KANBAN_AGENTS_BOARD"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kanban_agents", "--board", str(board), "serve",
         "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving the board" in line, line + proc.stderr.read()
        url = line.split(" at ", 1)[1].strip()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def status_of(url: str, cookie: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), response.headers.get("Set-Cookie", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), ""


@pytest.fixture
def board(tmp_path: Path) -> Path:
    board = tmp_path / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("")
    return board


def test_beyond_loopback_every_request_needs_the_token(board):
    with serving(board, "--host", "0.0.0.0") as url:
        assert "?token=" in url
        base, token = url.split("?token=")
        assert len(token) >= 24
        status, text, _ = status_of(base)
        assert status == 401 and "needs its token" in text
        assert status_of(base + "?token=wrong")[0] == 401
        assert status_of(base + "static/js/textual.js")[0] == 401
        assert status_of(base + "ws")[0] == 401
        status, page, cookie = status_of(url)
        assert status == 200 and "textual-terminal" in page
        # the page's websocket is where the browser came from, not the bind address
        assert f'data-session-websocket-url="ws://{base.split("//")[1]}ws"' in page
        session_cookie = cookie.split(";")[0]
        assert session_cookie == f"kanban_agents_token={token}" and "HttpOnly" in cookie
        assert status_of(base + "static/js/textual.js", session_cookie)[0] == 200


def test_a_given_token_is_required_on_loopback_too_and_none_by_default(board):
    with serving(board, "--token", "s3cret-token") as url:
        base = url.split("?")[0]
        assert url.endswith("?token=s3cret-token")
        assert status_of(base)[0] == 401
        assert status_of(url)[0] == 200
    with serving(board) as url:
        assert "token" not in url and url.startswith("http://127.0.0.1:")
        assert status_of(url)[0] == 200


def test_each_tab_runs_the_app_on_this_board():
    from kanban_agents.cli_serve import app_command, is_loopback

    command = app_command(Path("/some where/board"))
    assert command == f"{sys.executable} -m kanban_agents --board '/some where/board' --no-host"
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_a_taken_port_is_one_line_and_no_url(board):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "kanban_agents", "--board", str(board), "serve",
             "--port", str(port)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"kanban-agents: cannot serve on 127.0.0.1 port {port}: Address already in use "
        "(another port: --port N)"
    ]
