"""Tighten and split through the scripted model server; the conflict radar on real branches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kanban_agents.core import git as gitops
from kanban_agents.core.agent.model import OpenAIModel
from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer
from kanban_agents.core.board import BoardStore
from kanban_agents.core.planning import (
    PlanningError,
    parse_json_answer,
    propose_split,
    propose_tighten,
    repo_context,
)
from kanban_agents.core.radar import BASE, Branch, ConflictRadar
from kanban_agents.demo import create_demo_repo
from tests.helpers import git

VAGUE = "---\ntitle: Improve auth\nstatus: todo   # keep this comment\nlabels: [auth]\n---\n\nCan you improve the auth system and maybe make it cleaner?\n"


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "src").mkdir()
    (repo / "src" / "auth.py").write_text("def login():\n    pass\n")
    (repo / "README.md").write_text("# Auth service\n\nHandles logins.\n")
    board = repo / "board"
    board.mkdir()
    (board / "improve-auth.md").write_text(VAGUE)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def model_for(server: ScriptedServer) -> OpenAIModel:
    from kanban_agents.config import AgentProfile

    return OpenAIModel(
        AgentProfile("builtin"), {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "x"}
    )


TIGHTENED = {
    "body": "## Task\n\nMove password hashing into src/auth.py.\n\n## Files\n\n- src/auth.py\n\n## Constraints\n\nKeep login().\n\n"
    "## Tests\n\n`pytest -q`\n\n## Done when\n\nTests pass.\n",
    "files": ["src/auth.py"],
    "tests": "pytest -q",
}


async def test_tighten_request_has_card_and_repo_context_and_accept_writes_minimal_diff(project):
    store = BoardStore.open(project / "board")
    card = store.get("improve-auth")
    with ScriptedServer(
        [Reply(text="Here you go:\n```json\n" + json.dumps(TIGHTENED) + "\n```")]
    ) as server:
        model = model_for(server)
        proposal = await propose_tighten(model, card, repo_context(store.root))
        await model.aclose()
        request = server.requests[0]
    prompt = request["messages"][1]["content"]
    assert (
        "Can you improve the auth system" in prompt
        and "src/auth.py" in prompt
        and "Handles logins." in prompt
    )
    assert "## Task" in request["messages"][0]["content"]
    assert proposal.files == ["src/auth.py"] and proposal.tests == "pytest -q"
    proposal.apply(store, card)
    text = (project / "board" / "improve-auth.md").read_text()
    assert text.startswith(
        "---\ntitle: Improve auth\nstatus: todo   # keep this comment\nlabels: [auth]\n"
    )
    assert "files: [src/auth.py]\ntests: pytest -q\n---\n\n## Task\n\nMove password hashing" in text
    assert BoardStore.open(project / "board").get("improve-auth").tests == ["pytest -q"]


async def test_rejected_tighten_leaves_file_byte_identical(project):
    path = project / "board" / "improve-auth.md"
    before = path.read_bytes()
    env = {**os.environ}
    with ScriptedServer([Reply(text=json.dumps(TIGHTENED))]) as server:
        env.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="x")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kanban_agents",
                "--board",
                str(project / "board"),
                "tighten",
                "improve-auth",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    assert (
        "+## Task" in proc.stdout
        and "-Can you improve" in proc.stdout
        and "not applied" in proc.stderr
    )
    assert path.read_bytes() == before
    with ScriptedServer([Reply(text=json.dumps(TIGHTENED))]) as server:
        env.update(OPENAI_BASE_URL=server.base_url)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kanban_agents",
                "--board",
                str(project / "board"),
                "tighten",
                "improve-auth",
                "--apply",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert proc.returncode == 0 and "Move password hashing" in path.read_text()


async def test_tighten_bad_answer_is_a_clear_error(project):
    store = BoardStore.open(project / "board")
    with ScriptedServer([Reply(text="I think the card is fine as it is.")]) as server:
        model = model_for(server)
        with pytest.raises(PlanningError, match="did not answer with JSON"):
            await propose_tighten(model, store.get("improve-auth"), "")
        await model.aclose()


async def test_split_creates_accepted_cards_with_dependencies(project):
    store = BoardStore.open(project / "board")
    cards = {
        "cards": [
            {
                "title": "Hash passwords",
                "body": "## Task\nHash.",
                "files": ["src/hash.py"],
                "tests": "pytest -q",
                "depends_on": [],
            },
            {
                "title": "Use hashing in login",
                "body": "## Task\nUse it.",
                "files": ["src/auth.py"],
                "tests": "pytest -q",
                "depends_on": ["Hash passwords"],
            },
            {
                "title": "Document auth",
                "body": "## Task\nDocs.",
                "files": ["README.md"],
                "tests": "",
                "depends_on": [],
            },
        ]
    }
    with ScriptedServer([Reply(text=json.dumps(cards))]) as server:
        model = model_for(server)
        proposal = await propose_split(model, store.get("improve-auth"), repo_context(store.root))
        await model.aclose()
    before = (project / "board" / "improve-auth.md").read_bytes()
    created = proposal.apply(store, store.get("improve-auth"), accepted=[1, 0])
    assert [c.id for c in created] == ["hash-passwords", "use-hashing-in-login"]
    fresh = BoardStore.open(project / "board")
    use = fresh.get("use-hashing-in-login")
    assert (
        use.depends_on == ["hash-passwords"]
        and use.files == ["src/auth.py"]
        and use.labels == ["auth"]
    )
    assert use.meta["split_from"] == "improve-auth"
    assert "document-auth" not in fresh.cards
    assert (project / "board" / "improve-auth.md").read_bytes() == before


def test_parse_json_answer_variants():
    assert parse_json_answer('{"a": 1}') == {"a": 1}
    assert parse_json_answer('Sure!\n```json\n{"a": [1, 2]}\n```\nDone.') == {"a": [1, 2]}
    assert parse_json_answer('text {"a": {"b": 2}} more') == {"a": {"b": 2}}
    with pytest.raises(PlanningError):
        parse_json_answer("[1, 2]")


# ---------------------------------------------------------------- radar on real branches


def make_branch(repo: Path, name: str, edits: dict[str, str]) -> Branch:
    path = repo.parent / "wt" / name
    gitops.ensure_worktree(repo, path, f"kanban/{name}", "main")
    for file, content in edits.items():
        (path / file).parent.mkdir(parents=True, exist_ok=True)
        (path / file).write_text(content)
    return Branch(name, path, "main")


def test_radar_reports_same_lines_and_not_disjoint_edits(project):
    a = make_branch(project, "a", {"src/auth.py": "def login():\n    return 'a'\n"})
    b = make_branch(project, "b", {"src/auth.py": "def login():\n    return 'b'\n"})
    c = make_branch(project, "c", {"README.md": "# Auth service\n\nHandles logins and logouts.\n"})
    radar = ConflictRadar(project)
    report = radar.scan([a, b, c])
    assert [(x.card, x.other, x.files) for x in report.conflicts] == [("a", "b", ("src/auth.py",))]
    assert report.for_card("b")[0].other == "a" and report.for_card("c") == []
    assert "would conflict with a in src/auth.py" in report.for_card("b")[0].describe()
    # the base moves and touches c's lines; only c is recomputed
    (project / "README.md").write_text("# Auth service\n\nHandles logins. Fast.\n")
    git(project, "commit", "-qam", "base readme")
    report = radar.scan([a, b, c], changed=set())
    assert ("c", BASE, ("README.md",)) in [(x.card, x.other, x.files) for x in report.conflicts]
    # a fixes its edit: the pair disappears after an incremental scan
    (a.worktree / "src" / "auth.py").write_text("def login():\n    return 'b'\n")
    report = radar.scan([a, b, c], changed={"a"})
    assert [(x.card, x.other) for x in report.conflicts] == [("c", BASE)]


def test_demo_repo_and_headless_demo(tmp_path):
    board = create_demo_repo(tmp_path / "demo")
    store = BoardStore.open(board)
    assert {"add-line-count", "add-char-count", "cli-entry-point", "improve-the-code"} <= set(
        store.cards
    )
    assert store.errors == []
    proc = subprocess.run(
        [sys.executable, "-m", "kanban_agents", "demo", "--dir", str(tmp_path / "d2"), "--no-tui"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "DEMO MODE" in proc.stdout and "merged add-line-count into main" in proc.stdout
    assert "line_count" in (tmp_path / "d2" / "textstats.py").read_text()


def test_repo_context_lists_file_names_as_they_are(project):
    (project / "src" / "café.py").write_text("x = 1\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "accent")
    context = repo_context(project / "board")
    assert "src/café.py" in context.splitlines() and "src/auth.py" in context.splitlines()
    assert repo_context(project.parent / "elsewhere") == "(no git repository)"


def test_a_demo_repository_reopened_later_still_runs_on_the_demo_model(tmp_path):
    """Issue 17: the demo writes its model into kanban.toml, so `kanban-agents run` from a fresh
    shell (no OPENAI_* variables, no demo process around) still runs the scripted demo model."""
    board = create_demo_repo(tmp_path / "demo")
    settings = BoardStore.open(board).settings
    assert settings.default_agent == "demo" and settings.agent_profile().kind == "demo"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "kanban_agents", "--board", str(board), "run", "add-line-count",
         "--wait", "--quiet"],
        capture_output=True, text=True, timeout=180, env=environ,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert proc.stdout.strip().endswith("add-line-count: review (tests passed)")
