"""Modal dialogs: a one-line prompt, a choice, a multi-line text, and the help screen."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from .card import BADGE_HELP

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 70; max-width: 90%; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 1 2;
}}
{name} .title {{ width: 100%; text-style: bold; margin-bottom: 1; }}
{name} .hint {{ width: 100%; color: $text-muted; margin-top: 1; }}
{name} Horizontal {{ height: auto; margin-top: 1; align-horizontal: right; }}
{name} Button {{ margin-left: 1; }}
{name} VerticalScroll {{ height: auto; max-height: 20; }}
"""


class PromptDialog(ModalScreen[str | None]):
    """Ask for one line of text; returns it, or None on escape."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PromptDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, placeholder: str = "", value: str = "", hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Label(self.hint or "enter accepts, escape cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(ModalScreen[str | None]):
    """A question with buttons; returns the chosen button id, or None on escape."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ChoiceDialog")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("left", "app.focus_previous", "Previous", show=False),
        Binding("right", "app.focus_next", "Next", show=False),
    ]

    def __init__(
        self, title: str, message: str | Text, choices: Sequence[tuple[str, str, str]]
    ) -> None:
        """``choices``: (id, label, variant) with variant one of default/primary/error/warning.
        A choice of variant "error" destroys something: then Cancel has the focus, so a stray
        enter does nothing."""
        super().__init__()
        self.title_text = title
        self.message = message
        self.choices = choices

    @property
    def destructive(self) -> bool:
        return any(variant == "error" for _id, _label, variant in self.choices)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            with VerticalScroll(classes="message"):
                yield Static(self.message)
            with Horizontal():
                for choice_id, label, variant in self.choices:
                    yield Button(label, id=f"choice-{choice_id}", variant=variant)  # type: ignore[arg-type]
                yield Button("Cancel", id="choice-cancel")
            yield Label(
                "tab / ← → choose · enter presses the highlighted button · escape cancels",
                classes="hint",
            )

    def on_mount(self) -> None:
        buttons = self.query(Button)
        (buttons.last() if self.destructive else buttons.first()).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = (event.button.id or "").removeprefix("choice-")
        self.dismiss(None if choice == "cancel" else choice)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextDialog(ModalScreen[str | None]):
    """Multi-line text (review feedback); ctrl+s submits, escape cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TextDialog") + "TextDialog TextArea { height: 12; }"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Send", priority=True),
    ]

    def __init__(
        self,
        title: str,
        text: str = "",
        hint: str = "ctrl+s to send, escape to cancel",
        allow_empty: bool = False,  # sending nothing is an answer (""); escape is None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.hint = hint
        self.allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        from textual.widgets import TextArea  # 18 ms to import: not before the first frame

        with Vertical():
            yield Label(self.title_text, classes="title")
            yield TextArea(self.text, id="text-input")
            with Horizontal():
                yield Button("Send", id="text-send", variant="primary")
                yield Button("Cancel", id="text-cancel")
            yield Label(self.hint, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#text-input").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "text-send":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        text = self.query_one("#text-input").text.strip()
        self.dismiss(text if text or self.allow_empty else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    # The box has a fixed height and the list takes what is left of it (1fr): with a height of
    # its own, the list was taller than what showed of it, and its end could not be scrolled to.
    DEFAULT_CSS = DIALOG_CSS.format(name="HelpScreen") + (
        "HelpScreen > Vertical { width: 96; height: 90%; }"
        " HelpScreen VerticalScroll { height: 1fr; max-height: 100%; }"
    )
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(
        self,
        sections: Sequence[tuple[str, Sequence[tuple[str, str]]]],
        legend: Sequence[tuple[str, str]] = BADGE_HELP,
    ) -> None:
        """``sections``: the keys (``keys.help_sections``); ``legend``: what card badges mean."""
        super().__init__()
        self.sections = sections
        self.legend = legend

    def help_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for heading, rows in self.sections:
            table.add_row(Text(heading, style="bold underline"), "")
            for keys, description in rows:
                table.add_row(keys, description)
            table.add_row("", "")
        if self.legend:
            table.add_row(Text("Card badges", style="bold underline"), "")
            for badge, meaning in self.legend:
                table.add_row(badge, meaning)
        return table

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("kanban-agents: keys", classes="title")
            with VerticalScroll():
                yield Static(self.help_table(), id="help-table")
            yield Label(
                "↑ ↓ pgup pgdn home end scroll · every command is also in the command palette "
                "(ctrl+p) · escape, q or ? closes",
                classes="hint",
            )
