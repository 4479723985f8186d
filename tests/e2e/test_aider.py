"""The built-in ``aider`` profile driving the real aider CLI (PyPI ``aider-chat``) against the
scripted model server: the card reaches review with only its own change committed, the user's
~/.aider settings are left as they were, and a model error says what went wrong.

aider is found at ``$KANBAN_AGENTS_TEST_AIDER`` or on PATH (``python -m venv /some/venv &&
/some/venv/bin/pip install aider-chat``: its dependencies would clash with ours, so it lives in
a venv of its own; ``.ci/run`` keeps one in its cache). Skips, saying why, when it is missing.
With ``openai/gpt-4o-mini`` aider asks for whole files, so the scripted answers are whole files.
A run takes 5-40 s here, most of it aider starting up.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from kanban_agents.core.agent.scripted_server import HttpError, Reply, ScriptedServer
from tests.core.test_command_agents import project  # noqa: F401 (the fixture)
from tests.core.test_runs import Harness
from tests.helpers import git

AIDER = os.environ.get("KANBAN_AGENTS_TEST_AIDER") or shutil.which("aider")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        AIDER is None,
        reason="aider is not installed (python -m venv V && V/bin/pip install aider-chat, then "
        "KANBAN_AGENTS_TEST_AIDER=V/bin/aider)",
    ),
]

WHOLE_FILE = (
    "calc.py\n```python\ndef add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n"
    "    return a - b\n```\n\nSummary: calc.py gains sub(a, b).\n"
)
# A user id aider would ask the analytics question of (it asks ~10% of users, by id).
ASKED_USER = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def aider_home(project, monkeypatch):  # noqa: F811
    """The built-in profile (its command is plain ``aider``), on PATH, with a user whose
    ~/.aider says aider has not asked about analytics yet and would."""
    monkeypatch.setenv("PATH", f"{Path(AIDER).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AIDER_MODEL", "openai/gpt-4o-mini")
    home = Path(os.environ["HOME"])  # the tests' own empty HOME (tests/conftest.py)
    settings = home / ".aider" / "analytics.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"uuid": ASKED_USER, "permanently_disable": None,
                                    "asked_opt_in": False}))  # fmt: skip
    (project / "board" / "kanban.toml").write_text(
        '[runs]\ntest_attempts = 1\n[agents]\ndefault = "aider"\n'
    )
    return home


async def run_with(project: Path, monkeypatch, turns):  # noqa: F811
    with ScriptedServer(turns, model="gpt-4o-mini") as server:
        # A command agent gets this process's environment, as a user's shell would give it.
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-aider")
        h = Harness(project, server, AIDER_MODEL="openai/gpt-4o-mini")
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub", timeout=300)
        await h.runs.stop()
    return status, server


async def test_aider_reaches_review_with_only_the_cards_change(project, aider_home, monkeypatch):  # noqa: F811
    status, server = await run_with(project, monkeypatch, [Reply(text=WHOLE_FILE)])
    assert status.state == "review", status.reason
    # The card's files reached aider: calc.py is in the chat from the first request on.
    sent = json.dumps(server.requests[0]["messages"])
    assert "I have *added these files to the chat*" in sent and "calc.py" in sent
    assert "finish(summary)" not in sent and "Summary:" in sent
    assert git(project, "show", "kanban/sub:calc.py").endswith("return a - b\n")
    changed = git(project, "diff", "--name-only", "main", "kanban/sub").split()
    assert changed == ["calc.py"]  # no .gitignore, no .aider.chat.history.md, no tags cache
    message = git(project, "log", "-1", "--format=%B", "kanban/sub").strip()
    assert message == "Add sub to sub\n\ncalc.py gains sub(a, b).\n\nCard: sub"
    # --yes-always answered nothing about the user's own settings: analytics still not asked.
    settings = json.loads((aider_home / ".aider" / "analytics.json").read_text())
    assert not settings.get("asked_opt_in") and not settings.get("permanently_disable")
    assert settings["uuid"] == ASKED_USER


async def test_aider_on_a_401_says_the_agent_made_no_changes_and_why(
    project,  # noqa: F811
    aider_home,
    monkeypatch,
):
    status, _ = await run_with(project, monkeypatch, [HttpError(401, "Incorrect API key")])
    assert status.state == "failed"
    assert "the agent made no changes" in status.reason
    assert "refused the API key (401)" in status.reason
    assert "tests fail" not in status.reason
