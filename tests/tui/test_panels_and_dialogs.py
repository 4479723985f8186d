"""Dialogs, the help, the footer and the panel after review actions (issue 17): every key a dialog
takes is on screen, risky buttons are not the default, the help reaches its end, the footer shows
what applies to the selected card, and the Log follows a discard at once."""

from __future__ import annotations

from pathlib import Path

from kanban_agents.core.agent.scripted_server import ScriptedServer
from kanban_agents.core.card import parse_card
from kanban_agents.core.planning import SplitCard, SplitProposal
from kanban_agents.tui.dialogs import ChoiceDialog, HelpScreen, TextDialog
from kanban_agents.tui.planning import SplitScreen
from tests.core.test_runs import make_card
from tests.e2e.test_review_flow import make_app, run_to_review, turns, until
from tests.helpers import git, screen_text
from tests.tui.conftest import SAMPLE, card
from tests.tui.test_planning_screens import ScreenHost


def footer_keys(app) -> set[str]:
    """The keys the footer shows now."""
    return {key.key_display or key.key for key in app.query("Footer FooterKey")}


async def test_send_back_says_why_not_when_the_agent_never_ran(repo, make_test_app):
    board = repo / "board"
    board.mkdir()
    (board / "fresh.md").write_text(card("A fresh card", "todo", 1000))
    before = (board / "fresh.md").read_text()
    app = make_test_app(board)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert app.board.selected_card_id == "fresh"
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(app.screen, TextDialog)  # no notes asked for, none appended
        messages = [n.message for n in app._notifications]
        assert any("never ran" in m for m in messages), messages
        assert not any("went back" in m for m in messages), messages
    assert (board / "fresh.md").read_text() == before


async def test_help_scrolls_to_its_end_at_160x45(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("end")
        await pilot.pause()
        assert "escape, q or ? closes" in screen_text(app)  # the very end is reachable
        seen = ""
        await pilot.press("home")
        for _ in range(12):  # page by page, every row shows at some point
            await pilot.pause()
            seen += screen_text(app)
            await pilot.press("pagedown")
        for row in ("ctrl+p", "1 2 3 4", "side panel width", "quit", "⇡ PR"):
            assert row in seen, row
        assert "r2 6 steps 6.0k" in seen and "run number" in seen  # the badges, explained


def test_help_scrolled_to_the_end_snapshot(sample_board, make_test_app, snap_compare):
    app = make_test_app(sample_board, watch=False)

    async def before(pilot) -> None:
        for _ in range(300):  # the board and its footer first, as a person sees them
            if "Quit" in screen_text(app):
                break
            await pilot.pause(0.05)
        await pilot.press("question_mark", "end")
        for _ in range(300):  # scrolled to the end (a loaded CI is slower to get there)
            if "escape, q or ? closes" in screen_text(app):
                break
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 45), run_before=before)


async def test_send_back_dialog_shows_its_whole_hint(tmp_path):
    app = ScreenHost(lambda: TextDialog("Send x back: what should the agent change?",
                                        hint="Appended to the card under '## Review notes'. "
                                        "ctrl+s sends, escape cancels."))  # fmt: skip
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "ctrl+s sends," in text and "escape cancels." in text, text


async def test_split_title_too_long_ends_with_an_ellipsis():
    title = "Improve " + "the authentication system " * 6
    long = parse_card(
        Path("improve-auth.md"), f"---\ntitle: {title}\nstatus: todo\n---\nx\n".encode()
    )
    proposal = SplitProposal(
        long.id, [SplitCard("A " + "very long proposed card title " * 6, "", ["a.py"], "", [])]
    )
    app = ScreenHost(lambda: SplitScreen(long, proposal))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
        title = next(line for line in lines if "Split " in line)
        assert "…" in title, title
        assert "into 1 cards" not in title or "…" in title


async def test_destructive_dialogs_focus_cancel_and_show_their_keys(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("j", "d")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.pause()
        assert app.screen.focused is not None and app.screen.focused.id == "choice-cancel"
        assert "escape" in screen_text(app) and "enter" in screen_text(app)
        await pilot.press("enter")  # the safe choice
        await pilot.pause()
        assert (sample_board / "add-login-rate-limit.md").exists()


def reviewed(board: Path) -> None:
    """dark-mode, in review after its agent's second run."""
    text = SAMPLE["dark-mode"].replace(
        "status: review\n", "status: review\nrun: {state: review, n: 2, tokens: 6012}\n"
    )
    (board / "dark-mode.md").write_text(text)


async def test_footer_shows_the_keys_of_the_selected_cards_state(sample_board, make_test_app):
    reviewed(sample_board)
    app = make_test_app(sample_board)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        todo = footer_keys(app)
        assert "r" in todo and not {"m", "b", "x"} & todo, todo
        await pilot.press("l", "l")  # in progress, then review
        await pilot.pause()
        assert app.board.selected_card_id == "dark-mode"
        review = footer_keys(app)
        assert {"m", "b", "x", "t"} <= review, review
        assert not {"r", "c"} & review, review  # nothing to run or cancel in review


async def test_footer_is_rebuilt_only_when_its_keys_change(sample_board, make_test_app):
    """Issue 10: Textual rebuilt the footer (a dozen widgets and a layout pass) on every bindings
    signal, which the board sends on every refresh: about once a second while agents run."""
    from textual.widgets._footer import FooterKey

    reviewed(sample_board)
    app = make_test_app(sample_board)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        first = set(app.query(FooterKey))
        for _ in range(5):
            app.refresh_board()
            app.refresh_bindings()
            await pilot.pause()
        assert set(app.query(FooterKey)) == first  # the same widgets: not recomposed
        await pilot.press("l", "l")  # a review card: other keys
        await pilot.pause()
        assert set(app.query(FooterKey)) != first
        assert {"m", "b"} <= footer_keys(app)


def test_footer_on_a_review_card_snapshot(sample_board, make_test_app, snap_compare):
    reviewed(sample_board)
    app = make_test_app(sample_board, watch=False)

    async def before(pilot) -> None:
        await pilot.pause()
        await pilot.press("l", "l")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 40), run_before=before)


# ---------------------------------------------------------------------------- discard and the Log


def _project(repo: Path) -> Path:
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    board = repo / "board"
    board.mkdir()
    make_card(board, "sub", tests='python3 -c "import calc; assert calc.sub(3, 1) == 2"')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


async def test_discard_shows_in_the_log_at_once(repo):
    project = _project(repo)
    with ScriptedServer(turns()) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await run_to_review(pilot, app)
            await pilot.press("2")
            await until(pilot, lambda: "run 1: review" in screen_text(app), what="log header")
            await pilot.press("escape", "x")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="dialog")
            await pilot.click("#choice-discard")
            await until(pilot, lambda: app.store.get("sub").status == "todo", what="discarded")
            await until(pilot, lambda: "run 1: discarded" in screen_text(app), what="header")
            assert "run 1: review" not in screen_text(app)
            assert "discarded" in app.panel.log_text()  # the event is in the log, too


async def test_the_panel_tabs_come_after_the_first_frame_and_calls_made_before_still_show():
    """The first frame shows the board without the panel's tabs (they cost a third of the
    start-up); what the app asks the panel to show meanwhile is shown once they are mounted."""
    from textual.app import App

    from kanban_agents.tui.panel import SidePanel

    before: dict = {}

    class Host(App):
        def compose(self):
            yield SidePanel(id="panel")

        def on_mount(self) -> None:
            panel = self.query_one(SidePanel)
            before["built"] = panel.built
            before["tabs"] = len(panel.query("#panel-tabs"))
            panel.show_tab("tab-log")  # would raise NoMatches if run at once
            before["active"] = panel.active_tab
            panel.log_reset("run 1", ["first line"])
            panel.log_append(["second line"])
            panel.tests_show("tests passed", "ok 1\nok 2")

    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.query_one(SidePanel)
        for _ in range(20):
            if panel.built:
                break
            await pilot.pause(0.02)
        await pilot.pause()
        assert before == {"built": False, "tabs": 0, "active": "tab-log"}
        assert panel.built and panel.active_tab == "tab-log"
        assert panel.log_text() == "first line\nsecond line"
        assert list(panel.query_one("#tests-log").lines) == ["ok 1", "ok 2"]
