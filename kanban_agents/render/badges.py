"""How a run state looks: its glyph and word, and its colour in a plain terminal.

The TUI colours the states from its theme (``state--<name>`` component classes); the terminal
colours below follow the same meaning: waiting in yellow, working in cyan or green, done in
green or blue, broken in red.
"""

from __future__ import annotations

from rich.style import Style

STATE_BADGES = {
    "queued": ("◷", "queued"),
    "preparing": ("◌", "preparing"),
    "running": ("●", "running"),
    "testing": ("◎", "testing"),
    "review": ("✔", "review"),
    "failed": ("✖", "failed"),
    "cancelled": ("■", "stopped"),
    "interrupted": ("‖", "interrupted"),
    "merged": ("✓", "merged"),
}

# What else a card in review may need a look at (``tui/card.py`` draws them, ``?`` explains them).
SCOPE_BADGE = "⊘ scope"  # its work changes files outside its ``files``, or its own tests
PR_BADGE = "⇡ PR"  # a pull request is open for it (front matter ``pr:``)


def base_behind_badge(commits: int) -> str:
    """The card's base branch moved on by ``commits`` since its branch left it."""
    return f"base +{commits}"


STATE_STYLES = {
    "queued": Style(color="yellow"),
    "preparing": Style(color="cyan"),
    "running": Style(color="green", bold=True),
    "testing": Style(color="cyan", bold=True),
    "review": Style(color="blue", bold=True),
    "failed": Style(color="red", bold=True),
    "cancelled": Style(dim=True),
    "interrupted": Style(color="yellow", bold=True),
    "merged": Style(color="green"),
}
