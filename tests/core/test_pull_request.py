"""Pull requests instead of a local merge: ``pr`` pushes the card's branch (only it) to a real
remote (a local bare repository) and opens a PR with a stand-in ``gh`` put on PATH here, which
records its arguments and answers like gh; ``status`` moves a card whose PR is merged to done."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from kanban_agents.core.board import BoardStore
from tests.core.test_review import kanban, reviewed
from tests.helpers import git

PR_URL = "https://github.com/acme/calc/pull/7"

FAKE_GH = """#!{python}
# A stand-in for GitHub's gh: records its arguments, answers like gh.
import json, pathlib, sys
here = pathlib.Path(__file__).parent
with open(here / "gh-calls.jsonl", "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["pr", "create"]:
    print("Creating pull request for kanban/sub into main in acme/calc\\n")
    print("{url}")
elif sys.argv[1:3] == ["pr", "view"]:
    print((here / "pr-state.json").read_text())
else:
    sys.exit("gh stand-in: unexpected arguments")
"""


@pytest.fixture
def remote(project: Path) -> Path:
    bare = project.parent / "remote.git"
    git(project.parent, "init", "-q", "--bare", str(bare))
    git(project, "remote", "add", "origin", str(bare))
    return bare


@pytest.fixture
def project(repo):
    from tests.core.test_runs import make_card

    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    board = repo / "board"
    board.mkdir()
    make_card(board, "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


@pytest.fixture
def gh(tmp_path, monkeypatch) -> Path:
    """The stand-in gh, first on PATH (the CLI runs in a subprocess that inherits it)."""
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gh"
    script.write_text(FAKE_GH.format(python=sys.executable, url=PR_URL))
    script.chmod(0o755)
    (bin_dir / "pr-state.json").write_text('{"state": "OPEN"}')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def gh_calls(bin_dir: Path) -> list[list[str]]:
    path = bin_dir / "gh-calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def remote_refs(bare: Path) -> dict[str, str]:
    out = git(bare, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split() for line in out.splitlines())


async def test_pr_pushes_only_the_card_branch_and_opens_a_pull_request(project, remote, gh):
    await reviewed(project)
    before = (project / "board" / "sub.md").read_text()
    proc = kanban(project, "pr", "sub", "--draft")
    assert proc.returncode == 0, proc.stderr
    assert "pushed kanban/sub to origin" in proc.stdout
    assert f"opened a draft pull request for sub: {PR_URL}" in proc.stdout
    # the card's branch, and nothing else, is on the remote
    assert remote_refs(remote) == {
        "refs/heads/kanban/sub": git(project, "rev-parse", "kanban/sub").strip()
    }
    [create] = gh_calls(gh)
    assert create[:2] == ["pr", "create"] and "--draft" in create
    options = dict(zip(create[2::2], create[3::2], strict=False))
    assert options["--title"] == "Add sub to sub"
    assert options["--head"] == "kanban/sub" and options["--base"] == "main"
    body = options["--body"]
    assert "Add `sub(a, b)` to calc.py." in body  # the card's task
    assert "Added sub to calc.py." in body  # the agent's summary
    assert "passed (run 1, attempt 1)" in body  # the test result
    # the card records the URL with a one-line change to its front matter
    after = (project / "board" / "sub.md").read_text()
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == [f"pr: {PR_URL}"]
    # again: the push updates the same pull request, no second one
    proc = kanban(project, "pr", "sub")
    assert proc.returncode == 0 and "already has a pull request, now updated" in proc.stdout
    assert len(gh_calls(gh)) == 1


async def test_status_moves_a_card_with_a_merged_pull_request_to_done(project, remote, gh):
    await reviewed(project)
    assert kanban(project, "pr", "sub").returncode == 0
    proc = kanban(project, "status")
    assert proc.returncode == 0, proc.stderr
    assert f"sub  open  {PR_URL}" in proc.stdout
    assert BoardStore.open(project / "board").get("sub").status == "review"
    (gh / "pr-state.json").write_text('{"state": "MERGED"}')
    proc = kanban(project, "status", "--json")
    [check] = json.loads(proc.stdout)["pull_requests"]
    assert check["state"] == "MERGED" and check["moved_to_done"] is True
    assert BoardStore.open(project / "board").get("sub").status == "done"
    assert gh_calls(gh)[-1] == ["pr", "view", PR_URL, "--json", "state"]
    # done: no more questions to gh
    calls = len(gh_calls(gh))
    kanban(project, "status")
    assert len(gh_calls(gh)) == calls


async def test_without_gh_the_push_still_happens_and_the_message_says_what_is_missing(
    project, remote, monkeypatch
):
    await reviewed(project)
    path = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "gh").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    assert shutil.which("gh") is None
    proc = kanban(project, "pr", "sub")
    assert proc.returncode == 1
    assert "pushed kanban/sub to origin" in proc.stdout
    assert "gh (GitHub CLI) is not installed" in proc.stderr and "Traceback" not in proc.stderr
    assert "refs/heads/kanban/sub" in remote_refs(remote)
    assert "pr" not in BoardStore.open(project / "board").get("sub").meta


async def test_without_a_remote_nothing_is_pushed_and_the_message_says_how(project, gh):
    await reviewed(project)
    proc = kanban(project, "pr", "sub")
    assert proc.returncode == 1
    assert "no git remote 'origin'" in proc.stderr and "git remote add origin URL" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert gh_calls(gh) == []


async def test_a_live_session_polls_gh_and_says_once_when_it_cannot(
    project, remote, gh, monkeypatch
):
    """The app's session asks every PR_POLL seconds (here: often); a gh failure reaches the
    user once (BackgroundFailed), not at every poll; a merged PR moves the card to done."""
    import asyncio

    from kanban_agents.core import session as session_module
    from kanban_agents.core.session import BackgroundFailed, BoardSession

    await reviewed(project)
    assert kanban(project, "pr", "sub").returncode == 0
    (gh / "pr-state.json").unlink()  # the stand-in fails: like gh logged out
    monkeypatch.setattr(session_module, "PR_POLL", 0.05)
    session = BoardSession(BoardStore.open(project / "board"), agents=False)
    events = []
    session.subscribe(events.append)
    session._started = True  # what start() sets for a live view (no agents needed here)
    poller = asyncio.ensure_future(session._poll_pull_requests())
    try:
        for _ in range(200):
            await asyncio.sleep(0.05)
            if len(gh_calls(gh)) >= 5:
                break
        failures = [e for e in events if isinstance(e, BackgroundFailed)]
        assert len(failures) == 1 and "gh pr view failed" in failures[0].error
        (gh / "pr-state.json").write_text('{"state": "MERGED"}')
        for _ in range(200):
            await asyncio.sleep(0.05)
            if BoardStore.open(project / "board").get("sub").status == "done":
                break
    finally:
        session._started = False
        poller.cancel()
    assert BoardStore.open(project / "board").get("sub").status == "done"
