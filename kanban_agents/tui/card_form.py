"""The ``E`` form: a card's title, labels, priority and column, edited without leaving the board.

The form only collects what the user typed; the session writes it (only the keys that changed,
each on its own line, refused if the file changed on disk since the form opened)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from .dialogs import DIALOG_CSS


@dataclass(frozen=True)
class CardEdit:
    """What the form gives back: the values as the user left them."""

    title: str
    labels: list[str]
    priority: str
    status: str


def parse_labels(text: str) -> list[str]:
    """``"ui, bug  #docs"`` → ``["ui", "bug", "docs"]``: commas or spaces, a leading # dropped,
    repeats once."""
    labels: list[str] = []
    for part in text.replace(",", " ").split():
        label = part.lstrip("#")
        if label and label not in labels:
            labels.append(label)
    return labels


class CardForm(ModalScreen[CardEdit | None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="CardForm") + (
        "CardForm .field { width: 100%; margin-top: 1; color: $text-muted; }"
        "CardForm Input, CardForm Select { width: 100%; }"
    )
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(
        self,
        card_id: str,
        title: str,
        labels: list[str],
        priority: str | None,
        status: str,
        columns: list[tuple[str, str]],  # (title, id)
    ) -> None:
        super().__init__()
        self.card_id = card_id
        self.values = (title, " ".join(labels), priority or "", status)
        self.columns = columns

    def compose(self) -> ComposeResult:
        title, labels, priority, status = self.values
        with Vertical():
            yield Label(f"Edit {self.card_id}", classes="title")
            yield Label("Title", classes="field")
            yield Input(title, id="form-title")
            yield Label("Labels (spaces or commas)", classes="field")
            yield Input(labels, placeholder="ui bug", id="form-labels")
            yield Label("Priority (P0 most urgent ... P3, or high / medium / low)", classes="field")
            yield Input(priority, placeholder="P2", id="form-priority")
            yield Label("Column", classes="field")
            yield Select(self.columns, value=status, allow_blank=False, id="form-status")
            with Horizontal():
                yield Button("Save", id="form-save", variant="primary")
                yield Button("Cancel", id="form-cancel")
            yield Label("tab next field · enter or ctrl+s saves · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#form-title", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "form-save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        title = self.query_one("#form-title", Input).value.strip()
        if not title:
            self.notify("A card needs a title.", severity="warning")
            self.query_one("#form-title", Input).focus()
            return
        self.dismiss(
            CardEdit(
                title=title,
                labels=parse_labels(self.query_one("#form-labels", Input).value),
                priority=self.query_one("#form-priority", Input).value.strip(),
                status=str(self.query_one("#form-status", Select).value),
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
