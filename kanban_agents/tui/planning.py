"""Review what the model proposes before anything is written: a tightened card side by side
with the current one, and the cards a split would create, each with a checkbox.

These screens only show a proposal and return the user's decision through ``dismiss``; the app
applies it (``TightenProposal.apply``, ``SplitProposal.apply``)."""

from __future__ import annotations

import dataclasses
from difflib import SequenceMatcher
from typing import Any

from rich import box
from rich.padding import Padding
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ..core.card import Card
from ..core.overlap import files_overlap
from ..core.planning import SplitCard, SplitProposal, TightenProposal

PLANNING_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 96%; height: 92%; border: thick $accent; background: $surface; padding: 0 1;
}}
{name} .title {{ width: 100%; text-style: bold; text-wrap: nowrap; text-overflow: ellipsis; }}
{name} .notice {{ width: 100%; color: $text-warning; }}
{name} .hint {{ width: 100%; color: $text-muted; }}
{name} .buttons {{ height: auto; align-horizontal: right; }}
{name} .buttons Button {{ margin-left: 1; }}
"""


# ---------------------------------------------------------------------------- tighten


@dataclasses.dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff: ``None`` on a side where the other has extra lines."""

    tag: str  # "equal", "replace", "delete" or "insert" (difflib's opcodes)
    old: str | None
    new: str | None


def side_by_side(old: str, new: str) -> list[DiffRow]:
    """Lines of ``old`` and ``new`` aligned so unchanged lines sit on the same row."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        left, right = a[i1:i2], b[j1:j2]
        for k in range(max(len(left), len(right))):
            rows.append(
                DiffRow(
                    tag,
                    left[k] if k < len(left) else None,
                    right[k] if k < len(right) else None,
                )
            )
    return rows


def _show(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def front_matter_summary(card: Card, proposal: TightenProposal) -> Content:
    """What the proposal changes in the front matter, old -> new, one key a line."""
    changes = proposal.changes()
    if not changes:
        return Content.from_markup("[b]front matter:[/b] unchanged (only the body is rewritten)")
    lines = []
    for key, value in changes.items():
        old = card.meta.get(key)
        if old == value:
            lines.append(Content.from_markup("[b]$key:[/b] $new [dim](unchanged)", key=key,
                                             new=_show(value)))  # fmt: skip
        else:
            lines.append(
                Content.from_markup(
                    "[b]$key:[/b] [$text-error]$old[/] → [$text-success]$new[/]",
                    key=key,
                    old=_show(old),
                    new=_show(value),
                )
            )
    return Content("\n").join(lines)


class SideBySideDiff(Widget):
    """The current card text and the proposed one side by side, changed lines highlighted."""

    COMPONENT_CLASSES = {"diff--removed", "diff--added", "diff--header", "diff--filler"}
    DEFAULT_CSS = """
    SideBySideDiff { height: auto; }
    SideBySideDiff > .diff--removed { background: $error 20%; color: $text; }
    SideBySideDiff > .diff--added { background: $success 20%; color: $text; }
    SideBySideDiff > .diff--header { color: $text-accent; text-style: bold; }
    SideBySideDiff > .diff--filler { color: $text-muted; }
    """

    def __init__(self, old: str, new: str, old_label: str, new_label: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.old = old
        self.new = new
        self.old_label = old_label
        self.new_label = new_label

    def set_new(self, new: str, new_label: str) -> None:
        self.new = new
        self.new_label = new_label
        self.refresh(layout=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh(layout=True)

    def render(self) -> Table:
        get = self.get_component_rich_style
        removed, added = get("diff--removed"), get("diff--added")
        filler, header = get("diff--filler"), get("diff--header")
        table = Table(box=box.SIMPLE, expand=True, show_edge=False, padding=(0, 1),
                      header_style=header, border_style=filler, pad_edge=False)  # fmt: skip
        table.add_column(self.old_label, ratio=1, overflow="fold")
        table.add_column(self.new_label, ratio=1, overflow="fold")
        for row in side_by_side(self.old, self.new):
            changed = row.tag != "equal"
            table.add_row(
                _cell(row.old, "- " if changed else "  ", removed if changed else None, filler),
                _cell(row.new, "+ " if changed else "  ", added if changed else None, filler),
            )
        return table


def _cell(line: str | None, marker: str, style: Style | None, filler: Style) -> Any:
    if line is None:
        return Text("", style=filler)
    text = Text(marker + line, overflow="fold")
    return Padding(text, 0, style=style, expand=True) if style else text


class TightenScreen(ModalScreen[str | None]):
    """The current card and the tightened one side by side.

    Returns ``"accept"``, ``"edit:" + body`` when the user changed the proposed body in the
    editor, or ``None`` when rejected. Nothing is written here."""

    DEFAULT_CSS = (
        PLANNING_CSS.format(name="TightenScreen")
        + """
    TightenScreen .buttons Button { min-width: 19; }
    TightenScreen #tighten-changes { margin: 1 0; height: auto; max-height: 8; }
    TightenScreen #tighten-diff { height: 1fr; border: round $foreground 30%; }
    TightenScreen #tighten-edit { height: 1fr; display: none; }
    TightenScreen #tighten-edit > VerticalScroll { width: 1fr; border: round $foreground 30%; }
    TightenScreen #tighten-edit > TextArea { width: 1fr; border-title-color: $text-accent; }
    TightenScreen #tighten-edit > VerticalScroll { border-title-color: $text-accent; }
    TightenScreen.editing #tighten-diff { display: none; }
    TightenScreen.editing #tighten-edit { display: block; }
    """
    )
    BINDINGS = [
        Binding("a", "accept", "Accept"),
        Binding("e", "edit", "Edit body"),
        Binding("r", "reject", "Reject"),
        Binding("escape", "escape", "Reject", show=False),
        Binding("ctrl+s", "accept", "Accept", priority=True, show=False),
    ]

    def __init__(self, card: Card, proposal: TightenProposal) -> None:
        super().__init__()
        self.card = card
        self.proposal = proposal

    @property
    def editing(self) -> bool:
        return self.has_class("editing")

    def edited_body(self) -> str:
        return self.query_one("#tighten-editor", TextArea).text

    def compose(self) -> ComposeResult:
        card = self.card
        with Vertical():
            yield Label(
                Content.from_markup("Tighten $id: $title", id=card.id, title=card.title),
                classes="title",
            )
            yield Label(
                "Nothing is written until you accept. The model proposed this; you decide.",
                classes="notice",
            )
            with VerticalScroll(id="tighten-changes"):
                yield Static(front_matter_summary(card, self.proposal))
            with VerticalScroll(id="tighten-diff"):
                yield SideBySideDiff(
                    card.text,
                    self.proposal.new_text(card),
                    f"now: {card.id}.md",
                    "proposed (not written)",
                    id="tighten-diffview",
                )
            with Horizontal(id="tighten-edit"):
                with VerticalScroll(id="tighten-current") as current:
                    current.border_title = f"now: {card.id}.md"
                    yield Static(Text(card.text), id="tighten-current-text")
                editor = TextArea(self.proposal.body, id="tighten-editor")
                editor.border_title = "proposed body: edit it, then ctrl+s"
                yield editor
            with Horizontal(classes="buttons"):
                yield Button("Accept (a)", id="tighten-accept", variant="primary")
                yield Button("Edit body (e)", id="tighten-edit-button")
                yield Button("Reject (r)", id="tighten-reject", variant="error")
            yield Label(self._hint(), id="tighten-hint", classes="hint")

    def _hint(self) -> str:
        if self.editing:
            return "editing the proposed body · ctrl+s accepts it · escape shows the diff"
        return "a accept · e edit the body · r or escape reject · nothing is written until accept"

    def on_mount(self) -> None:
        self.query_one("#tighten-diff").focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "tighten-accept":
            self.action_accept()
        elif event.button.id == "tighten-edit-button":
            self.action_edit()
        else:
            self.action_reject()

    def action_accept(self) -> None:
        body = self.edited_body()
        self.dismiss("accept" if body == self.proposal.body else "edit:" + body)

    def action_edit(self) -> None:
        if self.editing:
            self._show_diff()
            return
        self.add_class("editing")
        self.query_one("#tighten-edit-button", Button).label = "Show diff"
        self.query_one("#tighten-accept", Button).label = "Accept (ctrl+s)"
        self.query_one("#tighten-hint", Label).update(self._hint())
        self.query_one("#tighten-editor", TextArea).focus()

    def _show_diff(self) -> None:
        """Back from the editor: the diff now shows the edited body."""
        self.remove_class("editing")
        body = self.edited_body()
        edited = body != self.proposal.body
        proposal = dataclasses.replace(self.proposal, body=body) if edited else self.proposal
        self.query_one(SideBySideDiff).set_new(
            proposal.new_text(self.card), "proposed, edited (not written)" if edited else
            "proposed (not written)",
        )  # fmt: skip
        self.query_one("#tighten-edit-button", Button).label = "Edit body (e)"
        self.query_one("#tighten-accept", Button).label = "Accept (a)"
        self.query_one("#tighten-hint", Label).update(self._hint())
        self.query_one("#tighten-diff").focus()

    def action_escape(self) -> None:
        if self.editing:
            self._show_diff()
        else:
            self.action_reject()

    def action_reject(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------------------- split


def split_warnings(proposal: SplitProposal, selected: list[int]) -> list[str]:
    """What the user should know before creating the selected cards."""
    if not selected:
        return ["Nothing selected: select at least one card, or press escape to cancel."]
    cards = proposal.cards
    chosen = sorted(set(selected))
    index_of = {card.title: i for i, card in reversed(list(enumerate(cards)))}
    warnings = []
    for n, i in enumerate(chosen):
        for j in chosen[n + 1 :]:
            shared = files_overlap(cards[i].files, cards[j].files)
            if shared:
                warnings.append(
                    f"{_name(cards, i)} and {_name(cards, j)} both declare "
                    f"{', '.join(shared)}: their agents would edit the same files, so run them "
                    "one after the other or merge them."
                )
    for i in chosen:
        for title in cards[i].depends_on:
            j = index_of.get(title)
            if j is None:
                warnings.append(
                    f"{_name(cards, i)} depends on “{title}”, which is not one of the "
                    "proposed cards: that dependency will be dropped."
                )
            elif j not in chosen:
                warnings.append(
                    f"{_name(cards, i)} depends on {_name(cards, j)}, which is not selected: "
                    "that dependency will be dropped."
                )
    return warnings


def _name(cards: list[SplitCard], index: int) -> str:
    return f"{index + 1}. “{cards[index].title}”"


def proposal_prompt(index: int, card: SplitCard, selected: bool) -> Content:
    """A proposed card in the list: checkbox, number and title, then files, tests, and what it
    waits on."""
    box_ = ("[x] ", "bold $text-success") if selected else ("[ ] ", "$text-muted")
    parts: list[Any] = [box_, (f"{index + 1}. {card.title}", "bold")]
    details = [
        ("files", ", ".join(card.files) or "(none)"),
        ("tests", card.tests or "(none)"),
    ]
    if card.depends_on:
        details.append(("after", ", ".join(card.depends_on)))
    for label, value in details:
        parts.append("\n    ")
        parts.append((f"{label}: ", "$text-muted"))
        parts.append(value)
    return Content.assemble(*parts)


def proposal_details(card: SplitCard) -> Content:
    head = Content.assemble(
        (card.title, "bold"),
        "\n",
        ("files: ", "$text-muted"),
        ", ".join(card.files) or "(none)",
        "\n",
        ("tests: ", "$text-muted"),
        card.tests or "(none)",
        "\n",
        ("depends on: ", "$text-muted"),
        ", ".join(card.depends_on) or "(nothing)",
        "\n\n",
    )
    return head + Content(card.body.strip("\n"))


class ProposalList(OptionList):
    """The proposed cards, each with a checkbox: space or a click toggles, enter creates.

    An ``OptionList`` rather than a ``SelectionList`` because each entry takes several lines
    (``SelectionList`` draws one line per option)."""

    BINDINGS = [
        Binding("space", "toggle", "Toggle", show=False),
        Binding("enter", "screen.create", "Create", show=False),
    ]

    class Changed(Message):
        """The set of selected proposals changed."""

        def __init__(self, proposals: ProposalList) -> None:
            super().__init__()
            self.proposals = proposals

    def __init__(self, cards: list[SplitCard], **kwargs) -> None:
        self.cards = cards
        self.chosen = set(range(len(cards)))
        options: list[Option | None] = []
        for index in range(len(cards)):
            if index:
                options.append(None)
            options.append(Option(self._prompt(index)))
        super().__init__(*options, **kwargs)

    @property
    def selected(self) -> list[int]:
        return sorted(self.chosen)

    def _prompt(self, index: int) -> Content:
        return proposal_prompt(index, self.cards[index], index in self.chosen)

    def set_selected(self, indices: set[int]) -> None:
        changed = indices ^ self.chosen
        self.chosen = set(indices)
        for index in sorted(changed):
            self.replace_option_prompt_at_index(index, self._prompt(index))
        if changed:
            self.post_message(self.Changed(self))

    def toggle(self, index: int) -> None:
        self.set_selected(self.chosen ^ {index})

    def action_toggle(self) -> None:
        if self.highlighted is not None:
            self.toggle(self.highlighted)

    def _on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # a click: toggle the clicked card
        self.toggle(event.option_index)


class SplitScreen(ModalScreen[list[int] | None]):
    """The cards a split would create. Returns the selected indices in proposal order, or
    ``None`` when cancelled. Nothing is created here."""

    DEFAULT_CSS = (
        PLANNING_CSS.format(name="SplitScreen")
        + """
    SplitScreen #split-main { height: 1fr; margin-top: 1; }
    SplitScreen ProposalList { width: 1fr; height: 1fr; }
    SplitScreen #split-details { width: 1fr; height: 1fr; border: round $foreground 30%;
                                 padding: 0 1; }
    SplitScreen #split-warnings { height: auto; max-height: 8; color: $text-warning; }
    """
    )
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "create", "Create"),
        Binding("a", "select_all", "Select all"),
        Binding("n", "select_none", "Select none"),
    ]

    def __init__(self, card: Card, proposal: SplitProposal) -> None:
        super().__init__()
        self.card = card
        self.proposal = proposal

    def compose(self) -> ComposeResult:
        count = len(self.proposal.cards)
        with Vertical():
            yield Label(
                Content.from_markup(
                    "Split $id: $title into $count cards",
                    id=self.card.id,
                    title=self.card.title,
                    count=str(count),
                ),
                classes="title",
            )
            yield Label(
                "Nothing is created until you press Create; the original card stays as it is.",
                classes="notice",
            )
            with Horizontal(id="split-main"):
                yield ProposalList(self.proposal.cards, id="split-list")
                with VerticalScroll(id="split-details"):
                    yield Static(id="split-detail")
            yield Static(id="split-warnings")
            with Horizontal(classes="buttons"):
                yield Button(f"Create {count} cards", id="split-create", variant="primary")
                yield Button("Cancel", id="split-cancel")
            yield Label(
                "space toggles · a all · n none · enter creates the selected · escape cancels",
                classes="hint",
            )

    def on_mount(self) -> None:
        proposals = self.query_one(ProposalList)
        proposals.focus()
        if self.proposal.cards:
            proposals.highlighted = 0
            self._show_details(0)
        self._update()

    @property
    def selected(self) -> list[int]:
        return self.query_one(ProposalList).selected

    def _show_details(self, index: int) -> None:
        detail = self.query_one("#split-detail", Static)
        detail.update(proposal_details(self.proposal.cards[index]))

    def _update(self) -> None:
        selected = self.selected
        warnings = split_warnings(self.proposal, selected)
        text = Content("\n").join(Content("⚠ " + w) for w in warnings)
        self.query_one("#split-warnings", Static).update(text)
        button = self.query_one("#split-create", Button)
        button.label = f"Create {len(selected)} card{'s' if len(selected) != 1 else ''} (enter)"
        button.disabled = not selected

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_details(event.option_index)

    @on(ProposalList.Changed)
    def _changed(self) -> None:
        self._update()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "split-create":
            self.action_create()
        else:
            self.action_cancel()

    def action_create(self) -> None:
        selected = self.selected
        if selected:
            self.dismiss(selected)
        else:
            self.notify("Nothing selected: press a to select all, or escape to cancel.")

    def action_select_all(self) -> None:
        proposals = self.query_one(ProposalList)
        proposals.set_selected(set(range(len(proposals.cards))))

    def action_select_none(self) -> None:
        self.query_one(ProposalList).set_selected(set())

    def action_cancel(self) -> None:
        self.dismiss(None)
