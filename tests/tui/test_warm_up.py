"""What the app needs after its first frame is imported in a thread, and what depends on it
starts once it is in, even when an import fails."""

from __future__ import annotations

from kanban_agents.tui.warm_up import MODULES, import_modules


def test_a_failing_import_is_named_and_the_others_still_load():
    assert import_modules(("kanban_agents.no_such_module", "json")) == [
        "kanban_agents.no_such_module"
    ]
    assert import_modules() == []  # every module of the list exists


async def test_the_panel_shows_markdown_and_live_reload_runs_after_the_warm_up(
    sample_board, make_test_app
):
    app = make_test_app(sample_board, show_panel=True)
    async with app.run_test(size=(160, 45)) as pilot:
        for _ in range(100):
            if app.panel._markdown_class is not None:
                break
            await pilot.pause(0.05)
        assert app.panel._markdown_class is not None
        assert [w for w in app.workers if w.group == "watch"], "the file watcher did not start"
        assert "rich.markdown" in MODULES
