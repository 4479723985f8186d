"""``kanban-agents serve``: the board app in a browser, through textual-serve (the Textual
project's own server: each browser tab gets the app in a process of its own, driven over a
websocket).

The board's agents run in the serving process, not in a tab's: it holds the board's host lock,
watches the card files and starts the run of a card that enters the agent column, whichever tab
(or editor, or CLI) moved it. Each tab's app hosts nothing (``--no-host``) and shows those runs
live from their records. Closing a tab stops no agent; stopping ``serve`` (Ctrl-C, SIGTERM)
stops them all, ``interrupted`` and resumable, as quitting the board app does.

Whoever reaches the page drives the board, and the board runs coding agents: so it listens on
127.0.0.1 unless told otherwise, and any other address needs a token. The token comes as
``?token=`` on the first page, which sets it as a cookie for the websocket and the static files;
a request carrying neither gets 401.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import hmac
import ipaddress
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from .cli_board import PROG, UserError, find_board_dir, serving_demo_model
from .core.events import RunFinished, StateChanged
from .core.session import board_host

TOKEN_COOKIE = "kanban_agents_token"


def cmd_serve(args: argparse.Namespace) -> int:
    directory = find_board_dir(getattr(args, "board", None)).resolve()
    token = args.token
    if token is None and not is_loopback(args.host):
        token = secrets.token_urlsafe(24)
    if token is not None and not token.strip():
        raise UserError("--token is empty: give a token, or leave --token out to get one")
    check_free(args.host, args.port)
    host = board_host(directory)
    if host is not None:
        raise UserError(
            f"another process (pid {host}) runs this board's agents, the board app maybe: quit "
            "it first (serve runs them)"
        )
    server = board_server(directory, args.host, args.port, token)
    print(f"{PROG}: serving the board {directory} at {server.url_with_token}", flush=True)
    if token is not None:
        print(
            f"{PROG}: whoever has this URL can drive the board and run agents on this machine",
            flush=True,
        )
    with serving_demo_model(directory):  # a demo board's model, served by the agents' host
        server.serve()
    return 0


class AgentHost:
    """The board's agents in the serving process: a headless session that hosts them, and the
    file watcher that lets it see cards moved by the tabs (each its own process) and others."""

    def __init__(self, directory: Path, out=None):
        from .core.session import BoardSession

        self.session = BoardSession.open(directory)
        self.out = out or sys.stdout
        self._watcher: asyncio.Task | None = None

    async def start(self) -> None:
        import logging

        # textual-serve logs at INFO: watchfiles would add a line for every card write, httpx
        # one for every request of every agent to its model
        for chatty in ("watchfiles", "httpx"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
        self.session.subscribe(self._tell)
        await self.session.start(host=True)
        self._watcher = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        active = self.session.active_cards()
        await self.session.stop("kanban-agents serve was stopped")
        for card_id in active:  # how each run ended (the session's events stop with it)
            status = self.session.status(card_id)
            if status is not None:
                self._tell(
                    RunFinished(card_id, status.run, state=status.state, reason=status.reason)
                )
        self.session.unsubscribe(self._tell)
        self.session.close()

    async def _watch(self) -> None:
        from .core.session import watch_board

        while True:
            try:
                async for _batch in watch_board(self.session.store):
                    pass
                raise RuntimeError("the file watcher stopped")
            except Exception as exc:
                self.session.report_failure(
                    "the board's file watcher", exc, "it starts again in 5 s"
                )
                await asyncio.sleep(5.0)

    def _tell(self, event) -> None:
        """What the agents do, one line each, on the terminal serve runs in."""
        from .core.session import BackgroundFailed

        if isinstance(event, StateChanged | RunFinished):
            reason = f" ({event.reason})" if event.reason else ""
            line = f"{event.card_id}: run {event.run} {event.state}{reason}"
        elif isinstance(event, BackgroundFailed):
            line = f"{event.what} failed: {event.error}; {event.way_out}"
        else:
            return
        print(f"{PROG}: {line}", file=self.out, flush=True)


def check_free(host: str, port: int) -> None:
    """Say so before printing a URL that would not work: the port is taken (or the address is
    not this machine's)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UserError(f"cannot serve on {host}: {exc.strerror or exc}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            way_out = (
                "another port: --port N"
                if exc.errno == errno.EADDRINUSE
                else "an address of this machine: --host, e.g. 0.0.0.0"
            )
            raise UserError(
                f"cannot serve on {host} port {port}: {exc.strerror or exc} ({way_out})"
            ) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(directory: Path) -> str:
    """The command each browser tab's app process runs: this Python, this package, this board,
    its agents left to the serving process."""
    return shlex.join(
        [sys.executable, "-m", "kanban_agents", "--board", str(directory), "--no-host"]
    )


def board_server(directory: Path, host: str, port: int, token: str | None):
    from aiohttp import web
    from textual_serve.server import Server

    class BoardServer(Server):
        """textual-serve's server with a token check in front of every route, and page URLs
        built from the address the browser used (not the bind address, e.g. 0.0.0.0)."""

        @property
        def url_with_token(self) -> str:
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            if ":" in shown:
                shown = f"[{shown}]"
            url = f"http://{shown}:{port}/"
            return f"{url}?token={token}" if token else url

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if token is not None:
                app.middlewares.append(_token_check(token))
            return app

        async def handle_index(self, request: web.Request) -> Any:
            # The page tells the browser where the websocket is: where the browser came from.
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

        async def on_startup(self, app: web.Application) -> None:
            # textual-serve prints a banner; the command printed the URL already.
            await agents.start()

        async def on_shutdown(self, app: web.Application) -> None:
            await agents.stop()

    agents = AgentHost(directory)
    return BoardServer(app_command(directory), host=host, port=port, title=f"{PROG} {directory}")


def _token_check(token: str):
    from aiohttp import web

    @web.middleware
    async def check(request: web.Request, handler):
        given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE) or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            return web.Response(
                status=401,
                text=f"401: this board needs its token: open the URL {PROG} serve printed "
                "(.../?token=...)\n",
            )
        response = await handler(request)
        if request.query.get("token") and isinstance(response, web.Response):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    return check
