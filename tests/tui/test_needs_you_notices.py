"""A card that needs the user (blocked, failed, in review) is announced in the app, with the
bell, and on the desktop when `[ui] desktop_notifications` is on (issue 13)."""

from __future__ import annotations

from kanban_agents.core.events import AgentBlocked, RunFinished
from kanban_agents.tui.desktop_notify import desktop_notify, osc_sequence


def notes(app) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


async def test_a_blocked_agent_is_announced_with_the_bell_and_on_the_desktop(
    sample_board, make_test_app, monkeypatch
):
    (sample_board / "kanban.toml").write_text("[ui]\ndesktop_notifications = true\n")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    app = make_test_app(sample_board)
    rang, desktop = [], []
    app.bell = lambda: rang.append(True)  # headless apps have no terminal to ring
    monkeypatch.setattr(
        "kanban_agents.tui.app.desktop_notify",
        lambda app, title, body: desktop.append((title, body)) or desktop_notify(app, title, body),
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        app.session._emit(AgentBlocked("export-csv", 1, reason="no output for 120s at '(y/n)'"))
        app.session._emit(
            RunFinished("dark-mode", 2, state="failed", reason="budget of $1 reached")
        )
        await pilot.pause(0.2)
        assert ("Agent blocked", "export-csv: no output for 120s at '(y/n)'") in notes(app)
        assert ("Agent failed", "dark-mode: budget of $1 reached") in notes(app)
        assert len(rang) == 2
        assert desktop == [
            ("kanban-agents: Agent blocked", "export-csv: no output for 120s at '(y/n)'"),
            ("kanban-agents: Agent failed", "dark-mode: budget of $1 reached"),
        ]


async def test_without_the_setting_there_is_no_desktop_notification(
    sample_board, make_test_app, monkeypatch
):
    app = make_test_app(sample_board)
    desktop = []
    monkeypatch.setattr("kanban_agents.tui.app.desktop_notify", lambda *a: desktop.append(a))
    async with app.run_test(size=(140, 40)) as pilot:
        app.session._emit(RunFinished("dark-mode", 1, state="review", reason="tests passed"))
        await pilot.pause(0.2)
        assert ("Ready for review", "dark-mode is ready for review: tests passed.") in notes(app)
    assert desktop == []


def test_osc_sequences_carry_title_and_body_and_nothing_that_ends_them_early():
    assert osc_sequence("kanban-agents: Agent failed", "sub: exit 1") == (
        "\x1b]777;notify;kanban-agents: Agent failed;sub: exit 1\x07"
    )
    assert osc_sequence("t", "a;b\x07c", "iTerm.app") == "\x1b]9;t: a,b c\x07"
