"""Fixtures for Pilot and snapshot tests: a board on disk and the app built by its factory."""

from __future__ import annotations

from pathlib import Path

import pytest

from kanban_agents.core.board import BoardStore
from kanban_agents.tui.app import KanbanApp

FIXED_NOW = 1_790_000_000.0  # a pinned clock for stable snapshots


def card(title: str, status: str, order: int, extra: str = "", body: str | None = None) -> str:
    if body is None:
        body = (
            f"\n## Task\n\nIn this worktree, {title.lower()}.\n\n## Files\n\n- `src/app.py`\n\n"
            "## Constraints\n\nKeep the public API.\n\n## Done when\n\n`pytest -q` passes.\n"
        )
    return f"---\ntitle: {title}\nstatus: {status}\norder: {order}\n{extra}---\n{body}"


SAMPLE = {
    "add-login-rate-limit": card("Add login rate limiting", "todo", 1000,
                                 "priority: P1\nlabels: [auth, api]\nfiles: [src/auth.py]\nconstraints: Keep the API.\ntests: pytest -q\n"),
    "fix-reset-token": card("Fix password reset token format", "todo", 2000,
                            "labels: [auth]\nfiles: [src/reset.py]\nconstraints: c\ntests: pytest -q\ndepends_on: [add-login-rate-limit]\n"),
    "improve-auth": card("Improve the auth system", "todo", 3000, "",
                         "\nCan you improve the auth system and maybe make it cleaner? Also check if anything breaks.\n"),
    "export-csv": card("Export the report as CSV", "in-progress", 1000,
                       "priority: P2\nlabels: [reports]\nfiles: [src/report.py]\nconstraints: c\ntests: pytest -q\n"),
    "dark-mode": card("Dark mode for the settings page", "review", 1000,
                      "labels: [ui]\nfiles: [web/settings.css]\nconstraints: c\ntests: npm test\n"),
    "setup-ci": card("Set up CI", "done", 1000, "files: [.ci/run]\nconstraints: c\ntests: .ci/run\n"),
}  # fmt: skip


@pytest.fixture
def sample_board(tmp_path: Path) -> Path:
    board = tmp_path / "board"
    board.mkdir()
    for card_id, text in SAMPLE.items():
        (board / f"{card_id}.md").write_text(text)
    (board / "broken.md").write_text("---\ntitle: Broken card\nlabels: [oops\n---\nbody\n")
    return board


@pytest.fixture
def make_test_app():
    def make(board: Path, **kwargs) -> KanbanApp:
        kwargs.setdefault("clock", lambda: FIXED_NOW)
        kwargs.setdefault("show_panel", False)
        kwargs.setdefault("agents", False)  # board tests: no run manager (tests/e2e run agents)
        return KanbanApp(BoardStore.open(board), **kwargs)

    return make
