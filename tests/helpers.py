"""Helpers for tests: real git, real card files."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def write_card(board: Path, card_id: str, text: str) -> Path:
    path = board / f"{card_id}.md"
    path.write_text(text, encoding="utf-8")
    return path


def screen_text(app) -> str:
    """What a person would read on the app's screen right now, as plain text lines."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)
