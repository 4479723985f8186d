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
