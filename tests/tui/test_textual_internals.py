"""The private Textual names kanban_agents/tui/textual_internals.py overrides are still there, with
the signatures it was written against; Textual is installed within the range pyproject.toml pins.
When one of these fails after a Textual upgrade, read that module's docstring before anything else."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import pytest
import textual
from packaging.requirements import Requirement
from textual.app import App
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Log

from kanban_agents.tui import textual_internals
from kanban_agents.tui.textual_internals import RELIED_ON, Internal

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def problem(internal: Internal) -> str | None:
    """What changed about ``internal``, in words, or None if it is as relied on. Attributes set
    in ``__init__`` are looked for on a fresh instance (no running app needed)."""
    owner, name = internal.owner, internal.name
    where = f"{owner.__name__}.{name}"
    if not hasattr(owner, name) and not hasattr(owner(), name):
        return f"{where} is gone"
    if internal.parameters is not None:
        parameters = tuple(inspect.signature(getattr(owner, name)).parameters)[1:]
        if parameters != internal.parameters:
            return f"{where} now takes {parameters}, not {internal.parameters}"
    return None


@pytest.mark.parametrize("internal", RELIED_ON, ids=lambda i: f"{i.owner.__name__}.{i.name}")
def test_private_textual_name_is_as_relied_on(internal):
    found = problem(internal)
    assert found is None, (
        f"textual {textual.__version__}: {found}. {textual_internals.__name__} relies on it "
        f"({internal.used_by}); see that module's docstring for what to do."
    )


def test_the_checker_notices_a_change():
    assert (
        problem(Internal(Log, "_no_such_attribute", None, "")) == "Log._no_such_attribute is gone"
    )
    changed = problem(Internal(Log, "_update_size", ("updates",), ""))
    assert changed is not None and "now takes ('updates', 'lines')" in changed


def test_the_overrides_are_still_called():
    """An override Textual no longer calls would be dead code with the cost back."""
    assert "_update_size" in inspect.getsource(Log.write_lines), (
        "Log.write_lines no longer calls _update_size: QuietLog's override is dead"
    )
    assert isinstance(Widget.__dict__.get("virtual_size"), Reactive), (
        "Widget.virtual_size is no longer a Reactive: QuietVirtualSize replaces nothing"
    )
    assert "_start_widget" in inspect.getsource(Widget.__dict__["vertical_scrollbar"].fget)
    assert callable(App._start_widget)


def test_textual_is_installed_within_the_pinned_range():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    textual_pin = next(Requirement(d) for d in dependencies if Requirement(d).name == "textual")
    assert any(spec.operator == "<" for spec in textual_pin.specifier), (
        f"pyproject.toml pins textual as {textual_pin}: give it an upper bound, the tested range"
    )
    assert textual_pin.specifier.contains(textual.__version__), (
        f"textual {textual.__version__} is installed, outside the tested range {textual_pin}"
    )


def test_a_strip_divided_at_its_width_is_not_kept_in_its_own_cache():
    """Textual's divide caches ``[self]`` in the strip itself: every strip drawn became a cycle
    only a full garbage collection frees (0.6-0.8 s pauses under a flood)."""
    import sys

    from rich.segment import Segment
    from textual.strip import Strip

    strip = Strip([Segment("abc")], 3)
    before = sys.getrefcount(strip)
    parts = textual_internals._textual_divide(strip, [3])
    del parts
    # If this fails, Textual no longer keeps the strip in itself: drop that part of free_strips_without_gc.
    assert sys.getrefcount(strip) == before + 1, "Textual's divide changed"

    textual_internals.free_strips_without_gc()
    fresh = Strip([Segment("abc")], 3)
    before = sys.getrefcount(fresh)
    assert fresh.divide([3]) == [fresh]
    assert sys.getrefcount(fresh) == before
    assert [part.text for part in fresh.divide([1, 3])] == ["a", "bc"]
    whole = Strip([Segment("abc")], 3)
    assert fresh.divide([5]) == list(textual_internals._textual_divide(whole, [5]))  # as Textual


def test_a_cleared_lru_cache_frees_its_values_without_the_garbage_collector():
    """A Log clears its cache of rendered lines on every switch of card: the ring Textual left
    behind held them until a full collection."""
    import gc
    import weakref

    from textual.cache import LRUCache

    class Value:
        pass

    def filled(cache: LRUCache) -> weakref.ref:
        first = Value()
        for key, value in enumerate([first, Value(), Value()]):
            cache.set(key, value)
        cache.get(0)  # moved to the head of the ring
        return weakref.ref(first)

    gc.disable()
    try:
        upstream = LRUCache(8)
        kept = filled(upstream)
        textual_internals._textual_lru_clear(upstream)
        # If this fails, Textual's clear no longer leaves a ring: drop that part of the fix.
        assert kept() is not None, "Textual's LRUCache.clear changed"

        textual_internals.free_strips_without_gc()
        cache = LRUCache(8)
        freed = filled(cache)
        cache.clear()
        assert freed() is None and len(cache) == 0
        cache.set("again", 1)  # still usable after
        assert cache.get("again") == 1
    finally:
        gc.enable()


async def test_a_scrollbar_is_drawn_again_only_when_it_changes():
    """Textual repaints every row of a widget when one is dirty: the bar is drawn again only
    when what it shows (sizes, position, style) changed."""
    from textual.app import App
    from textual.geometry import Region

    from kanban_agents.tui.textual_internals import DirectScrollBar, QuietLog

    class Host(App):
        def compose(self):
            yield QuietLog(id="log")

    app = Host()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(QuietLog)
        log.write_lines([f"line {i}" for i in range(100)])
        await pilot.pause()
        bar = log.vertical_scrollbar
        assert isinstance(bar, DirectScrollBar) and bar.display
        drawn: list[int] = []
        render_lines = app.console.render_lines
        app.console.render_lines = lambda *a, **kw: drawn.append(1) or render_lines(*a, **kw)
        whole = Region(0, 0, *bar.size)
        first = [tuple(strip) for strip in bar.render_lines(whole)]
        again = [tuple(strip) for strip in bar.render_lines(whole)]
        assert again == first and drawn == []  # drawn once already, for the last frame
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        frames = len(drawn)
        assert frames >= 1  # the thumb moved to the top: drawn again for the frame
        moved = [tuple(strip) for strip in bar.render_lines(whole)]
        assert len(drawn) == frames and moved != first
