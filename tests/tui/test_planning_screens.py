"""The tighten and split review screens: what they show and what they return. Nothing here
writes a file; the app applies the decision."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.screen import Screen
from textual.widgets import Button, TextArea

from kanban_agents.core.card import parse_card
from kanban_agents.core.planning import SplitCard, SplitProposal, TightenProposal
from kanban_agents.tui.planning import (
    ProposalList,
    SplitScreen,
    TightenScreen,
    side_by_side,
    split_warnings,
)
from tests.helpers import screen_text

CARD = parse_card(
    Path("improve-auth.md"),
    b"---\ntitle: Improve the auth system\nstatus: todo\nlabels: [auth]\ntests: make test\n---\n"
    b"\nCan you improve the auth system and maybe make it cleaner? Also check if anything "
    b"breaks.\n\nThe login handler lives somewhere in src/.\n",
)
BODY = (
    "## Task\n\nIn `src/auth.py`, move the password check out of `login()` into "
    "`check_password()`.\n\n## Files\n\n- `src/auth.py`\n- `tests/test_auth.py`\n\n"
    "## Constraints\n\nKeep the public API of `login()`.\n\n## Tests\n\n"
    "`pytest -q tests/test_auth.py`\n\n## Done when\n\nThe tests pass and the agent summarised "
    "its diff.\n"
)
TIGHTEN = TightenProposal(
    "improve-auth",
    BODY,
    ["src/auth.py", "tests/test_auth.py"],
    "pytest -q tests/test_auth.py",
    ["Keep the public API of login()"],
)
SPLIT = SplitProposal(
    "improve-auth",
    [
        SplitCard("Extract password check", "## Task\n\nMove the check into its own function.\n",
                  ["src/auth.py"], "pytest -q tests/test_auth.py", []),
        SplitCard("Rate-limit logins", "## Task\n\nAdd a limiter to login().\n",
                  ["src/auth.py", "src/limits.py"], "pytest -q tests/test_limits.py",
                  ["Extract password check"]),
        SplitCard("Document the auth flow", "## Task\n\nWrite docs/auth.md.\n", ["docs/auth.md"],
                  "", ["Rate-limit logins"]),
    ],
)  # fmt: skip


class ScreenHost(App):
    """A bare app that shows one screen and keeps what it was dismissed with."""

    def __init__(self, make_screen) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.results: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(), self.results.append)


def tighten_host() -> ScreenHost:
    return ScreenHost(lambda: TightenScreen(CARD, TIGHTEN))


def split_host(proposal: SplitProposal = SPLIT) -> ScreenHost:
    return ScreenHost(lambda: SplitScreen(CARD, proposal))


def still_open(app: App, kind: type[Screen]) -> bool:
    return isinstance(app.screen, kind)


# ---------------------------------------------------------------------------- tighten


def test_side_by_side_aligns_unchanged_lines():
    rows = side_by_side("a\nb\nc\nd\n", "a\nB\nc\nnew\nd\n")
    assert [(r.tag, r.old, r.new) for r in rows] == [
        ("equal", "a", "a"),
        ("replace", "b", "B"),
        ("equal", "c", "c"),
        ("insert", None, "new"),
        ("equal", "d", "d"),
    ]


async def test_tighten_shows_old_and_new_side_by_side():
    app = tighten_host()
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Nothing is written until you accept" in text
        assert "files: (none) → src/auth.py, tests/test_auth.py" in text
        assert "tests: make test → pytest -q tests/test_auth.py" in text
        assert "now: improve-auth.md" in text and "proposed (not written)" in text
        # the old body on the left, marked removed; the new body on the right, marked added
        row = next(line for line in text.splitlines() if "Can you improve" in line)
        left, right = row.index("- Can you improve"), row.index("+ ## Task")
        assert left < right
        assert "+ In `src/auth.py`, move the password check" in text
        assert "  title: Improve the auth system" in text  # unchanged: no marker


async def test_tighten_a_accepts():
    app = tighten_host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert app.results == ["accept"]
        assert not still_open(app, TightenScreen)


async def test_tighten_reject_with_r_or_escape():
    for key in ("r", "escape"):
        app = tighten_host()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press(key)
            await pilot.pause()
            assert app.results == [None], key


async def test_tighten_edit_then_accept_returns_the_edited_body():
    app = tighten_host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        editor = app.screen.query_one(TextArea)
        assert editor.has_focus and editor.text == BODY
        editor.move_cursor(editor.document.end)  # as a click after the last line would
        await pilot.press("enter", *"Also a note.")  # a, e and r type, they do not act
        await pilot.pause()
        assert app.results == []
        await pilot.click("#tighten-accept")
        await pilot.pause()
        assert app.results == ["edit:" + BODY + "\nAlso a note."]


async def test_tighten_edit_ctrl_s_and_escape_back_to_the_diff():
    app = tighten_host()
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        editor = app.screen.query_one(TextArea)
        editor.move_cursor(editor.document.end)
        await pilot.press(*"Edited!", "escape")
        await pilot.pause()
        # escape leaves the editor, keeps the edit, and the diff shows it
        assert still_open(app, TightenScreen)
        assert "proposed, edited (not written)" in screen_text(app)
        await pilot.press("end")  # the diff has the focus: scroll to its last line
        await pilot.pause()
        assert "+ Edited!" in screen_text(app)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == ["edit:" + BODY + "Edited!"]


async def test_tighten_edit_without_changes_is_a_plain_accept():
    app = tighten_host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("e", "ctrl+s")
        await pilot.pause()
        assert app.results == ["accept"]


def test_tighten_snapshot(snap_compare):
    assert snap_compare(tighten_host(), terminal_size=(120, 36))


def test_tighten_snapshot_light_editing(snap_compare):
    async def before(pilot) -> None:
        pilot.app.theme = "textual-light"
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()

    assert snap_compare(tighten_host(), terminal_size=(120, 36), run_before=before)


# ---------------------------------------------------------------------------- split


def test_split_warnings():
    assert split_warnings(SPLIT, [0, 1, 2]) == [
        "1. “Extract password check” and 2. “Rate-limit logins” both declare src/auth.py: "
        "their agents would edit the same files, so run them one after the other or merge them."
    ]
    assert split_warnings(SPLIT, [0, 2]) == [
        "3. “Document the auth flow” depends on 2. “Rate-limit logins”, which is not "
        "selected: that dependency will be dropped."
    ]
    assert split_warnings(SPLIT, [2]) == [split_warnings(SPLIT, [0, 2])[0]]
    assert split_warnings(SPLIT, [])[0].startswith("Nothing selected")
    unknown = SplitProposal("x", [SplitCard("A", "", ["a.py"], "", ["Write a spec"])])
    assert (
        "“Write a spec”, which is not one of the proposed cards" in split_warnings(unknown, [0])[0]
    )


async def test_split_enter_creates_all_by_default():
    app = split_host()
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "[x] 1. Extract password check" in text
        assert "[x] 3. Document the auth flow" in text
        assert "files: src/auth.py, src/limits.py" in text
        assert "after: Extract password check" in text
        assert "Nothing is created until you press Create" in text
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == [[0, 1, 2]]


async def test_split_deselect_one_returns_the_rest():
    app = split_host()
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "space")
        await pilot.pause()
        assert "[ ] 3. Document the auth flow" in screen_text(app)
        assert "Create 2 cards" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == [[0, 1]]


async def test_split_warnings_show_and_follow_the_selection():
    app = split_host()
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "⚠ 1. “Extract password check” and 2. “Rate-limit logins” both declare" in text
        assert "will be dropped" not in text
        await pilot.press("down", "space")  # deselect 2: 3 depends on it
        await pilot.pause()
        text = screen_text(app)
        assert "both declare" not in text
        assert "⚠ 3. “Document the auth flow” depends on 2. “Rate-limit logins”" in text
        assert "that dependency will be dropped" in text


async def test_split_details_follow_the_highlight():
    app = split_host()
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        assert "Move the check into its own function." in screen_text(app)
        await pilot.press("down")
        await pilot.pause()
        assert "Add a limiter to login()." in screen_text(app)
        assert "Move the check into its own function." not in screen_text(app)


async def test_split_click_toggles_and_a_n_select_all_none():
    app = split_host()
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        proposals = app.screen.query_one(ProposalList)
        await pilot.click(ProposalList, offset=(4, 1))  # the first card's checkbox row
        await pilot.pause()
        assert proposals.selected == [1, 2]
        await pilot.press("n")
        await pilot.pause()
        assert proposals.selected == []
        assert app.screen.query_one("#split-create", Button).disabled
        await pilot.press("enter")  # nothing selected: stays open
        await pilot.pause()
        assert app.results == [] and still_open(app, SplitScreen)
        await pilot.press("a", "enter")
        await pilot.pause()
        assert app.results == [[0, 1, 2]]


async def test_split_escape_cancels():
    app = split_host()
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]


def test_split_snapshot(snap_compare):
    assert snap_compare(split_host(), terminal_size=(120, 36))


def test_split_snapshot_light_one_deselected(snap_compare):
    async def before(pilot) -> None:
        pilot.app.theme = "textual-light"
        await pilot.pause()
        await pilot.press("down", "space")
        await pilot.pause()

    assert snap_compare(split_host(), terminal_size=(120, 36), run_before=before)
