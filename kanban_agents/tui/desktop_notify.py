"""Desktop notifications (``[ui] desktop_notifications = true``): a card reached review, failed,
or its agent is blocked. Through the terminal (OSC 777, or OSC 9 for terminals that speak that
one), so it works over ssh and tmux passthrough; ``notify-send`` instead when the app runs in a
local desktop session that has it. Started in the background: never waits."""

from __future__ import annotations

import os
import shutil
import subprocess

from textual.app import App

from .textual_internals import write_to_terminal

OSC9_TERMINALS = ("iTerm.app", "WezTerm", "ghostty", "vscode")  # OSC 9: title and body in one


def osc_sequence(title: str, body: str, term_program: str = "") -> str:
    clean = lambda text: text.replace("\x07", " ").replace("\x1b", " ").replace(";", ",")  # noqa: E731
    if term_program in OSC9_TERMINALS:
        return f"\x1b]9;{clean(title)}: {clean(body)}\x07"
    return f"\x1b]777;notify;{clean(title)};{clean(body)}\x07"


def desktop_notify(app: App, title: str, body: str) -> str:
    """Raise a desktop notification; returns how ("notify-send" or "osc")."""
    local_desktop = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    notify_send = shutil.which("notify-send")
    if notify_send and local_desktop and not os.environ.get("SSH_CONNECTION"):
        subprocess.Popen(
            [notify_send, "--app-name=kanban-agents", title, body],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        return "notify-send"
    write_to_terminal(app, osc_sequence(title, body, os.environ.get("TERM_PROGRAM", "")))
    return "osc"
