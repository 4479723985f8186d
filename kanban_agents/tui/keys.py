"""Every key of the board in one table. The app's and the board's ``BINDINGS``, the ``?`` help and
the command palette are generated from it, so a key cannot be bound without being documented, or
documented under a key that does nothing.

The table's order is the footer's order (for the keys shown there) and, within a help section,
the order of the help rows; the sections follow ``Section``'s order. The command palette sorts its
commands by title itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum, StrEnum

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer


class Section(StrEnum):
    """The help screen's headings, in the order it shows them."""

    NAVIGATE = "Navigate"
    MOVE = "Move cards"
    CARDS = "Cards"
    AGENTS = "Agents"
    REVIEW = "Review"
    DIFF = "Diff tab (once it has the focus: enter, or a click)"
    PLAN = "Plan"
    VIEW = "View"


# The selected card's situation, as the footer sees it: a run state, or one of these.
NO_CARD = "no card"
NO_RUN = "no run"  # the card's agent never ran
LIVE = ("queued", "preparing", "running", "testing")
STOPPED_WITH_WORK = ("review", "failed", "cancelled", "interrupted")  # send back, discard
RUNNABLE = (NO_RUN, "failed", "cancelled", "interrupted", "discarded")  # r starts or resumes


class Scope(Enum):
    APP = "app"  # KanbanApp.BINDINGS: active on every screen of the board
    BOARD = "board"  # BoardView.BINDINGS: selection keys, active while the board has focus
    DIFF = "diff"  # DiffView.BINDINGS: its line cursor, comments and folds, while it has focus


@dataclass(frozen=True)
class HelpRow:
    """One row of the ``?`` help. Several keys may share a row (``H L``); a row with no key
    documents what Textual or the mouse does (``ctrl+p``, a drag)."""

    section: Section
    keys: str  # as the help shows them
    text: str


@dataclass(frozen=True)
class Command:
    """A command palette entry; its help ends with the key, e.g. ``(L)``."""

    title: str
    help: str


@dataclass(frozen=True)
class Key:
    keys: str  # Textual key names, comma-separated: "H,shift+left"
    action: str  # "move_card(-1)"
    help: HelpRow
    description: str = ""  # the footer's label
    footer: bool = False
    key_display: str | None = None
    command: Command | None = None
    scope: Scope = Scope.APP
    when: tuple[str, ...] | None = None  # the footer shows it only in these card states

    def in_footer(self, card_state: str) -> bool:
        return self.footer and (self.when is None or card_state in self.when)

    @property
    def shown_key(self) -> str:
        return self.key_display or self.keys.split(",")[0]

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action,
            self.description,
            show=self.footer,
            key_display=self.key_display,
        )


def _row(section: Section, keys: str, text: str) -> HelpRow:
    return HelpRow(section, keys, text)


_COLUMNS = _row(Section.NAVIGATE, "← → / h l", "previous / next column")
_CARDS = _row(Section.NAVIGATE, "↑ ↓ / k j", "previous / next card")
_PAGES = _row(Section.NAVIGATE, "pgup / pgdn", "five cards up / down")
_EDGES = _row(Section.NAVIGATE, "home / end", "first / last card")
_PANEL_FOCUS = _row(Section.NAVIGATE, "enter", "focus the side panel (escape: back to the board)")
_SIDEWAYS = _row(Section.MOVE, "H L / shift+← →", "move the card to the previous / next column")
_UP_DOWN = _row(Section.MOVE, "K J", "move the card up / down in its column")
_WORKTREE = _row(Section.REVIEW, "s / o", "a shell / your editor in the card's worktree")
_TABS = _row(Section.VIEW, "1 2 3 4", "panel tabs: Card, Log, Diff, Tests")
_DIFF_LINES = _row(Section.DIFF, "↓ ↑ / j k", "line cursor down / up (a click puts it on a line)")
_DIFF_PAGES = _row(Section.DIFF, "pgup / pgdn", "line cursor a screen up / down")
_DIFF_FILES = _row(Section.DIFF, "] [", "next / previous file")

KEYS: tuple[Key | HelpRow, ...] = (
    # --- Navigate: the board's own keys, then the pointer and the panel
    Key("left,h", "select_column(-1)", _COLUMNS, "Left", scope=Scope.BOARD),
    Key("right,l", "select_column(1)", _COLUMNS, "Right", scope=Scope.BOARD),
    Key("up,k", "select_card(-1)", _CARDS, "Up", scope=Scope.BOARD),
    Key("down,j", "select_card(1)", _CARDS, "Down", scope=Scope.BOARD),
    Key("pageup", "select_card(-5)", _PAGES, "Page up", scope=Scope.BOARD),
    Key("pagedown", "select_card(5)", _PAGES, "Page down", scope=Scope.BOARD),
    Key("home", "select_edge(0)", _EDGES, "First card", scope=Scope.BOARD),
    Key("end", "select_edge(1)", _EDGES, "Last card", scope=Scope.BOARD),
    _row(Section.NAVIGATE, "mouse click", "select a card"),
    # --- Move cards
    Key("H,shift+left", "move_card(-1)", _SIDEWAYS, "◀", footer=True, key_display="H",
        command=Command("Card: move to previous column", "Move the selected card left")),
    Key("L,shift+right", "move_card(1)", _SIDEWAYS, "▶ Move", footer=True, key_display="L",
        command=Command("Card: move to next column", "Move the selected card right")),
    Key("K", "reorder(-1)", _UP_DOWN, "Up",
        command=Command("Card: move up", "Move the selected card up in its column")),
    Key("J", "reorder(1)", _UP_DOWN, "Down",
        command=Command("Card: move down", "Move the selected card down in its column")),
    _row(Section.MOVE, "mouse drag", "drag a card onto another column and position"),
    # --- Cards
    Key("n", "new_card", _row(Section.CARDS, "n", "new card (in the first column)"), "New",
        footer=True, command=Command("Card: new", "Create a card in the first column")),
    Key("e", "edit_card", _row(Section.CARDS, "e", "edit the card file in $EDITOR"), "Edit",
        command=Command("Card: edit in $EDITOR", "Open the card file in your editor")),
    Key("E", "edit_form", _row(Section.CARDS, "E", "edit title, labels, priority, column in a form"),
        "Edit fields", command=Command("Card: edit fields", "Title, labels, priority and column in a form")),
    Key("O", "sort_by_priority", _row(Section.CARDS, "O", "order the column by priority (P0 first)"),
        "Sort", command=Command("Column: sort by priority", "Order the selected column by priority, most urgent first")),
    Key("d", "delete_card", _row(Section.CARDS, "d", "archive or delete the card"), "Archive",
        command=Command("Card: archive or delete", "Remove the selected card")),
    # --- Agents
    Key("r", "run_agent",
        _row(Section.AGENTS, "r", "run the card's agent (moves it to the agent column), or resume it"),
        "Run", footer=True, when=RUNNABLE,
        command=Command("Agent: run or resume", "Start the card's agent, or resume it")),
    Key("c", "cancel_agent",
        _row(Section.AGENTS, "c", "cancel the card's agent (its worktree is kept)"), "Cancel agent",
        footer=True, when=LIVE, command=Command("Agent: cancel", "Stop the card's agent; its worktree is kept")),
    Key("i", "say_to_agent",
        _row(Section.AGENTS, "i", "tell the running agent something (it reads it before its next turn)"),
        "Tell agent", footer=True, when=LIVE,
        command=Command("Agent: send a message", "Tell the card's running agent something")),
    Key("u", "rerun_setup",
        _row(Section.AGENTS, "u", "run setup again in the card's worktree (copied files, worktrees.setup)"),
        "Setup", command=Command("Agent: run setup again", "Copy the files and run setup in the card's worktree")),
    Key("W", "clean_worktrees",
        _row(Section.AGENTS, "W", "clean up worktrees: remove those of done and deleted cards (gc)"),
        "Clean worktrees", command=Command("Worktrees: clean up", "Remove the worktrees of done and deleted cards")),
    # --- Review
    Key("m", "merge", _row(Section.REVIEW, "m", "merge (after a conflict dry run)"), "Merge",
        footer=True, when=("review",),
        command=Command("Review: merge", "Dry-run, then merge the card into its base branch")),
    Key("b", "send_back", _row(Section.REVIEW, "b", "send back to the agent with review notes"),
        "Send back", footer=True, when=STOPPED_WITH_WORK,
        command=Command("Review: send back", "Send the card back to its agent with review notes")),
    Key("x", "discard", _row(Section.REVIEW, "x", "discard the worktree and branch"), "Discard",
        footer=True, when=STOPPED_WITH_WORK, command=Command("Review: discard", "Delete the card's worktree and branch")),
    Key("t", "run_tests", _row(Section.REVIEW, "t", "run the card's tests now (Tests tab)"), "Tests",
        footer=True, when=("review", "failed"), command=Command("Review: run tests", "Run the card's tests in its worktree now")),
    Key("R", "rebase",
        _row(Section.REVIEW, "R", "rebase the card's branch onto its base's tip (when conflict-free), then run its tests"),
        "Rebase", command=Command("Review: rebase onto the base", "Rebase the card's branch onto its base's current tip")),
    Key("P", "pull_request",
        _row(Section.REVIEW, "P", "push the card's branch and open a pull request (gh)"), "Pull request",
        command=Command("Review: open a pull request", "Push the card's branch and open a pull request with gh")),
    Key("s", "shell", _WORKTREE, "Shell",
        command=Command("Review: shell in worktree", "Open a shell in the card's worktree")),
    Key("o", "open_worktree", _WORKTREE, "Open worktree",
        command=Command("Review: editor on worktree", "Open your editor on the card's worktree")),
    # --- The Diff tab's own keys (its line cursor, comments, folds)
    Key("down,j", "cursor(1)", _DIFF_LINES, "Down", scope=Scope.DIFF),
    Key("up,k", "cursor(-1)", _DIFF_LINES, "Up", scope=Scope.DIFF),
    Key("pagedown", "cursor_page(1)", _DIFF_PAGES, "Page down", scope=Scope.DIFF),
    Key("pageup", "cursor_page(-1)", _DIFF_PAGES, "Page up", scope=Scope.DIFF),
    Key("a", "comment", _row(Section.DIFF, "a", "comment on the cursor's line, or edit its comment "
        "(sent to the agent with the next send back, b)"), "Comment", scope=Scope.DIFF),
    Key("delete", "remove_comment", _row(Section.DIFF, "delete", "remove the comment on the cursor's line"),
        "Remove comment", scope=Scope.DIFF),
    Key("right_square_bracket", "next_file(1)", _DIFF_FILES, "Next file", scope=Scope.DIFF),
    Key("left_square_bracket", "next_file(-1)", _DIFF_FILES, "Previous file", scope=Scope.DIFF),
    Key("enter", "toggle_fold", _row(Section.DIFF, "enter", "fold / unfold the file under the cursor "
        "(lock, generated and large files start folded)"), "Fold", scope=Scope.DIFF),
    # --- Filter: in the footer after Merge, in the help under Cards
    Key("slash", "filter", _row(Section.CARDS, "/", "filter by text, #label or id; escape clears"),
        "Filter", footer=True, key_display="/",
        command=Command("Board: filter cards", "Filter by text, #label or id")),
    # --- Plan
    Key("T", "tighten",
        _row(Section.PLAN, "T", "tighten the card into operating instructions (the model proposes, you decide)"),
        "Tighten", command=Command("Plan: tighten card", "Rewrite the card as operating instructions")),
    Key("S", "split", _row(Section.PLAN, "S", "split a large card into smaller ones"), "Split",
        command=Command("Plan: split card", "Split the card into smaller independent cards")),
    Key("g", "graph", _row(Section.PLAN, "g", "dependency graph and critical path"), "Graph",
        command=Command("Plan: dependency graph", "Cards as a graph with the critical path")),
    # --- View
    Key("enter", "focus_panel", _PANEL_FOCUS, "Panel"),
    Key("escape", "focus_board", _PANEL_FOCUS, "Board"),
    Key("p", "toggle_panel", _row(Section.VIEW, "p", "show / hide the side panel"), "Panel",
        command=Command("Panel: show or hide", "Toggle the side panel")),
    Key("w", "cycle_panel_width", _row(Section.VIEW, "w", "side panel width: normal / wide"), "Width",
        command=Command("Panel: wide or normal", "Change the side panel width")),
    Key("1", "show_tab('tab-card')", _TABS),
    Key("2", "show_tab('tab-log')", _TABS),
    Key("3", "show_tab('tab-diff')", _TABS),
    Key("4", "show_tab('tab-tests')", _TABS),
    _row(Section.VIEW, "ctrl+p", "command palette (themes too)"),  # Textual's own binding
    Key("question_mark", "help", _row(Section.VIEW, "?", "this help"), "Help", footer=True,
        key_display="?", command=Command("Help: keys", "Every key binding")),
    Key("q", "request_quit", _row(Section.VIEW, "q", "quit"), "Quit", footer=True),
)  # fmt: skip


def keys(scope: Scope) -> Iterator[Key]:
    return (k for k in KEYS if isinstance(k, Key) and k.scope is scope)


def bindings(scope: Scope) -> list[Binding]:
    """The ``BINDINGS`` of the app or of the board view."""
    return [k.binding() for k in keys(scope)]


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """What ``?`` shows: (heading, [(keys, what they do)]) per section."""
    rows: dict[HelpRow, None] = {}  # insertion-ordered and without repeats
    for entry in KEYS:
        rows[entry.help if isinstance(entry, Key) else entry] = None
    return [
        (section.value, [(row.keys, row.text) for row in rows if row.section is section])
        for section in Section
    ]


def palette_commands() -> list[tuple[str, str, str]]:
    """(title, help, action) for the command palette: the app's keys that have a command."""
    return [
        (k.command.title, f"{k.command.help} ({k.shown_key})", k.action)
        for k in keys(Scope.APP)
        if k.command is not None
    ]


def footer_actions(card_state: str) -> set[str]:
    """The actions the footer shows for a card in this state (a run state, ``NO_RUN`` or
    ``NO_CARD``)."""
    return {k.action for k in KEYS if isinstance(k, Key) and k.in_footer(card_state)}


class StateFooter(Footer):
    """Textual's footer, showing only the keys that apply to the selected card (review: merge,
    send back, discard, tests; running: cancel...). The keys themselves stay bound: pressed in
    another state they say why they do nothing. Call ``app.refresh_bindings()`` when the
    selection or its state changes."""

    _shown_signature: tuple | None = None

    def bindings_changed(self, screen) -> None:
        """Textual recomposes the footer (a dozen widgets mounted, a layout pass) on every
        bindings signal; the board sends one per selection refresh, about once a second while
        agents run. Recompose only when what the footer would show has changed. Under a modal
        screen (help, a dialog) it keeps the board's keys: a signal then would fill it with the
        modal's bindings, or not, depending on the timing of the board's next refresh."""
        if self._under_a_modal():
            self._shown_signature = None  # whatever changed shows with the next signal
            return
        signature = self._signature(screen)
        if signature == self._shown_signature and self._bindings_ready:
            return
        self._shown_signature = signature
        super().bindings_changed(screen)

    def _under_a_modal(self) -> bool:
        return self.is_attached and self._bindings_ready and self.app.screen is not self.screen

    async def recompose(self) -> None:
        if self._under_a_modal():  # asked for just before the modal opened: once it closes
            self._shown_signature = None
            return
        await super().recompose()

    def _signature(self, screen) -> tuple:
        shown = footer_actions(self.card_state())
        return (
            shown,
            screen.app.app_focus,
            tuple(
                (binding.key, binding.action, binding.description, enabled, tooltip)
                for (_, binding, enabled, tooltip) in screen.active_bindings.values()
                if binding.show
            ),
        )

    def compose(self) -> ComposeResult:
        shown = footer_actions(self.card_state())
        kept = [
            widget
            for widget in super().compose()
            if getattr(widget, "action", None) not in FOOTER_ACTIONS
            or getattr(widget, "action", None) in shown
        ]
        self.styles.grid_size_columns = sum(
            not widget.has_class("-command-palette") for widget in kept
        )
        yield from kept

    def card_state(self) -> str:
        app = self.app
        board = getattr(app, "board", None)
        card_id = board.selected_card_id if board is not None else None
        if card_id is None:
            return NO_CARD
        status = app.session.status(card_id)
        if status is not None and status.state is not None:
            return str(status.state)
        view = board.selected_card
        return str(view.state) if view is not None and view.state else NO_RUN


FOOTER_ACTIONS = {k.action for k in KEYS if isinstance(k, Key) and k.footer}
