"""``kanban-agents serve``: the board app in a browser, through textual-serve (the Textual
project's own server: each browser tab gets the app in a process of its own, driven over a
websocket).

Whoever reaches the page drives the board, and the board runs coding agents: so it listens on
127.0.0.1 unless told otherwise, and any other address needs a token. The token comes as
``?token=`` on the first page, which sets it as a cookie for the websocket and the static files;
a request carrying neither gets 401.
"""

from __future__ import annotations

import argparse
import errno
import hmac
import ipaddress
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from .cli_board import PROG, UserError, find_board_dir

TOKEN_COOKIE = "kanban_agents_token"


def cmd_serve(args: argparse.Namespace) -> int:
    directory = find_board_dir(getattr(args, "board", None)).resolve()
    token = args.token
    if token is None and not is_loopback(args.host):
        token = secrets.token_urlsafe(24)
    if token is not None and not token.strip():
        raise UserError("--token is empty: give a token, or leave --token out to get one")
    check_free(args.host, args.port)
    server = board_server(directory, args.host, args.port, token)
    print(f"{PROG}: serving the board {directory} at {server.url_with_token}", flush=True)
    if token is not None:
        print(
            f"{PROG}: whoever has this URL can drive the board and run agents on this machine",
            flush=True,
        )
    server.serve()
    return 0


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
    """The command each browser tab's app process runs: this Python, this package, this board."""
    return shlex.join([sys.executable, "-m", "kanban_agents", "--board", str(directory)])


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
            pass  # textual-serve prints a banner; the command printed the URL already

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
