"""The keys a user can press, the `?` help and the command palette say the same thing: every
binding is in the help, every key the help names is bound, every palette command names its key."""

from __future__ import annotations

import re

from textual.app import App

from kanban_agents.tui.app import KanbanApp
from kanban_agents.tui.board import BoardView
from kanban_agents.tui.dialogs import HelpScreen
from kanban_agents.tui.diff_view import DiffView

SYMBOLS = {"left": "←", "right": "→", "up": "↑", "down": "↓", "slash": "/", "question_mark": "?",
           "pageup": "pgup", "pagedown": "pgdn", "right_square_bracket": "]",
           "left_square_bracket": "["}  # fmt: skip
POINTER_ROWS = {"mouse click", "mouse drag"}  # the mouse: no key to bind


def shown(key: str) -> set[str]:
    """How the help may write a Textual key name: 'shift+left' as 'shift+←', or as '→' after
    'shift+←' on the same row ('H L / shift+← →')."""
    *modifiers, base = key.split("+")
    symbol = SYMBOLS.get(base, base)
    return {"+".join([*modifiers, symbol]), symbol}


def tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[\s/():,;]+", text) if t} | ({"/"} if "/" in text else set())


def help_rows(app: KanbanApp) -> list[tuple[str, str]]:
    assert isinstance(app.screen, HelpScreen)
    return [row for _heading, rows in app.screen.sections for row in rows]


def bound_keys() -> dict[str, str]:
    """Every key of the board's app, board view and Diff tab, with its action."""
    found = {}
    for binding in [*KanbanApp.BINDINGS, *BoardView.BINDINGS, *DiffView.BINDINGS]:
        for key in binding.key.split(","):
            found[key.strip()] = binding.action
    return found


async def test_every_binding_is_in_the_help(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        rows = help_rows(app)
    documented = set().union(*(tokens(keys) | tokens(text) for keys, text in rows))
    missing = [key for key in bound_keys() if not shown(key) & documented]
    assert not missing, f"bound but not in the ? help: {missing}"


async def test_every_key_in_the_help_is_bound(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        rows = help_rows(app)
    bound = set().union(*(shown(key) for key in bound_keys()))
    bound.add(App.COMMAND_PALETTE_BINDING)  # Textual binds it
    unbound = [
        (keys, token)
        for keys, _text in rows
        if keys not in POINTER_ROWS
        for token in tokens(keys)
        if token not in bound
    ]
    assert not unbound, f"named in the ? help but bound to nothing: {unbound}"


async def test_every_palette_command_names_the_key_that_does_it(sample_board, make_test_app):
    app = make_test_app(sample_board)
    keys = bound_keys()
    async with app.run_test(size=(120, 30)):
        ours = [c for c in app.get_system_commands(app.screen) if c.title[0:1].isupper()
                and ":" in c.title]  # fmt: skip
        assert len(ours) >= 20
        for command in ours:
            match = re.search(r"\((\S+)\)$", command.help)
            assert match, f"{command.title!r} names no key"
            key = next((k for k in keys if match[1] in shown(k)), None)
            assert key is not None, f"{command.title!r}: ({match[1]}) is bound to nothing"
