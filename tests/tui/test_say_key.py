"""``i`` on a card whose agent runs: an input line in the side panel, and what is typed reaches
the agent's next model request and shows in the Log (issue 13)."""

from __future__ import annotations

import threading

from kanban_agents.core.agent.scripted_server import ScriptedServer
from tests.core.test_runs import edit_sub, finish
from tests.e2e.test_review_flow import drag_to_in_progress, make_app, project, until  # noqa: F401
from tests.helpers import screen_text


def keys_for(text: str) -> list[str]:
    names = {" ": "space", "-": "minus"}
    return [names.get(char, char) for char in text]


def notes(app) -> list[str]:
    """The notifications on screen (a toast wraps its text over lines)."""
    return [n.message for n in app._notifications]


def reviewer_texts(request: dict) -> list[str]:
    return [
        m["content"].splitlines()[1]
        for m in request["messages"]
        if m.get("role") == "user" and "Message from the reviewer" in str(m.get("content"))
    ]


async def test_i_sends_messages_to_the_running_agent_in_order(project):  # noqa: F811
    typed = threading.Event()  # the first model turn lasts until the user has typed

    def model(body: dict):
        if len(server.requests) == 1:
            typed.wait(60)
            return edit_sub()
        return finish()

    with ScriptedServer(model) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await drag_to_in_progress(pilot)
            await until(pilot, lambda: len(server.requests) >= 1, what="first model request")
            app.board.focus()
            await pilot.press("i")
            line = app.panel.query_one("#say-input")
            assert line.has_focus and line.display
            await pilot.pause()
            assert "message to sub's agent" in screen_text(app)
            await pilot.press(*keys_for("use a - b"), "enter")
            await pilot.press(*keys_for("then finish"), "enter")
            typed.set()
            await until(
                pilot,
                lambda: (
                    "sub: message sent; the agent reads it before its next model turn."
                    in notes(app)
                ),
                what="the notice that says when the agent reads it",
            )
            await until(pilot, lambda: len(server.requests) >= 2, what="second model request")
            assert reviewer_texts(server.requests[0]) == []
            assert reviewer_texts(server.requests[1]) == ["use a - b", "then finish"]
            await until(
                pilot,
                lambda: "✉ you to the agent: then finish" in app.panel.log_text(),
                what="the messages in the Log",
            )
            await pilot.press("escape")
            assert not line.display
            await until(pilot, lambda: app.store.get("sub").status == "review", what="review")


async def test_i_on_a_card_without_a_running_agent_says_what_to_do(project):  # noqa: F811
    with ScriptedServer([]) as server:
        app = make_app(project, server)
        async with app.run_test(size=(180, 45)) as pilot:
            await pilot.pause()
            await pilot.press("i")
            await until(
                pilot,
                lambda: any("agent is not running: press b" in note for note in notes(app)),
                what="the warning",
            )
            assert not app.panel.query_one("#say-input").display
