"""The sandbox, probed from inside: an agent's `run` tool tries to escape its worktree. Under bwrap
each probe fails; with ``mode = "off"`` the same probes show what is not confined (the opposite
assertion), so this file documents the difference. Real bwrap, real git worktrees, the real
``run`` tool; a scripted-model run reaches review under bwrap."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from kanban_agents.config import SandboxSettings
from kanban_agents.core import sandbox
from kanban_agents.core.agent.tools import Toolbox
from kanban_agents.core.runs.errors import RunError
from kanban_agents.core.runs.workspace import LocalRuntime, Workspaces
from kanban_agents.core.sandbox import SandboxRuntime, choose, probe
from tests.helpers import git

BWRAP = probe()
needs_bwrap = pytest.mark.skipif(
    not BWRAP.works, reason=f"bwrap cannot run here ({BWRAP.error}); install bubblewrap"
)
SECRET = "kanban-sandbox-probe-secret-4711"


@pytest.fixture
def world(repo: Path, tmp_path: Path, monkeypatch):
    """A repo, the card's worktree, another card's worktree, a $HOME with a private file."""
    trees = tmp_path / "repo-worktrees"
    git(repo, "worktree", "add", "-q", "-b", "kanban/card", str(trees / "card"))
    git(repo, "worktree", "add", "-q", "-b", "kanban/other", str(trees / "other"))
    home = tmp_path / "home"
    home.mkdir()
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text(SECRET)
    # A process of the host holding a key in its environment, like the app holding its API keys
    # (this process's own /proc environ shows only what it started with).
    holder = subprocess.Popen(
        ["sleep", "60"], env={**os.environ, "KANBAN_PROBE_HOST_SECRET": SECRET}
    )
    yield {
        "repo": repo,
        "card": trees / "card",
        "other": trees / "other",
        "home": home,
        "git": repo / ".git",
        "holder": holder.pid,
    }
    holder.kill()
    holder.wait()


def toolbox(world, mode: str, **settings) -> Toolbox:
    chosen = SandboxSettings(**{"mode": mode, **settings})
    runtime = SandboxRuntime(lambda _cwd: chosen) if mode == "bwrap" else LocalRuntime()
    env = {"PATH": os.environ["PATH"], "HOME": str(world["home"]), "GIT_CONFIG_NOSYSTEM": "1"}
    return Toolbox(world["card"], env=env, runtime=runtime, command_timeout=20)


async def run(box: Toolbox, command: str) -> str:
    result = await box.call("run", {"command": command})
    return result.output


MODES = [pytest.param("bwrap", marks=needs_bwrap), "off"]


@pytest.mark.parametrize("mode", MODES)
async def test_writes_outside_the_worktree(world, mode):
    box = toolbox(world, mode)
    repo, other, git_dir, home = world["repo"], world["other"], world["git"], world["home"]
    probes = {
        "relative ../../x": ("echo x > ../../escaped-relative", world["card"].parents[1] / "escaped-relative"),
        "absolute path": (f"echo x > {repo}/escaped-absolute", repo / "escaped-absolute"),
        "~/x": ("echo x > ~/escaped-home", home / "escaped-home"),
        "main checkout": (f"echo x >> {repo}/README.md", None),
        "another worktree": (f"echo x > {other}/escaped-other", other / "escaped-other"),
        ".git/hooks": (
            f"printf '#!/bin/sh\\necho pwned\\n' > {git_dir}/hooks/post-merge",
            git_dir / "hooks" / "post-merge",
        ),
    }  # fmt: skip
    before = (repo / "README.md").read_text()
    for name, (command, target) in probes.items():
        await run(box, command)
        if target is not None:
            assert target.exists() == (mode == "off"), f"{name}: {mode}"
    assert ((repo / "README.md").read_text() == before) == (mode == "bwrap")
    # Inside its own worktree the command writes as usual.
    await run(box, "echo ok > inside.txt")
    assert (world["card"] / "inside.txt").read_text() == "ok\n"


@pytest.mark.parametrize("mode", MODES)
async def test_reads_of_home_and_the_apps_environment(world, mode):
    box = toolbox(world, mode)
    output = await run(box, "cat ~/.ssh/id_rsa")
    assert (SECRET in output) == (mode == "off")
    # The app's environment, through /proc: the host's processes are not visible in a PID
    # namespace of its own.
    output = await run(
        box, f"tr '\\0' '\\n' < /proc/{world['holder']}/environ; cat /proc/1/environ"
    )
    assert (SECRET in output) == (mode == "off")
    output = await run(box, "grep -a -l kanban-sandbox-probe /proc/*/environ 2>/dev/null | head -3")
    assert ("/proc/" in output) == (mode == "off")


@pytest.fixture
def tcp_server():
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.sendall(b"hello\n")
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("mode", MODES)
async def test_network_off_means_no_connection(world, mode, tcp_server):
    box = toolbox(world, mode, network="off")
    connect = (
        f"{sys.executable} -c \"import socket; s = socket.create_connection(('127.0.0.1', "
        f"{tcp_server}), timeout=3); print('got', s.recv(10))\""
    )
    output = await run(box, connect)
    assert ("got b'hello" in output) == (mode == "off"), output
    if mode == "bwrap":
        assert "Network is unreachable" in output or "Errno" in output
        # network = "on" shares the host's network.
        assert "got b'hello" in await run(toolbox(world, mode, network="on"), connect)


@pytest.mark.parametrize("mode", MODES)
async def test_no_process_outlives_the_command(world, mode):
    """Both confine this one: unconfined commands run below the reaper, sandboxed ones in a PID
    namespace that ends with them."""
    box = toolbox(world, mode)
    marker = world["card"] / "late"
    await run(box, f"(setsid sh -c 'sleep 1; touch {marker}' &) ; echo started")
    await asyncio.sleep(1.6)
    assert not marker.exists()


@needs_bwrap
async def test_git_in_the_sandbox_reads_but_cannot_commit_move_refs_or_switch(world):
    box = toolbox(world, "bwrap")
    card, repo = world["card"], world["repo"]
    (card / "README.md").write_text("# changed\n")
    status = await run(box, "git status --short && git diff --stat && git log --oneline -1")
    assert "exit code 0" in status and "README.md" in status
    head = git(repo, "rev-parse", "main")
    for command in (
        "git add README.md",  # objects are read-only: kanban-agents commits, outside
        "git commit -qam sneaky",
        "git update-ref refs/heads/main HEAD~0",
        "git config core.fsmonitor 'touch /tmp/pwned'",
        "git symbolic-ref HEAD refs/heads/main",
        f"echo 'gitdir: {world['git']}' > .git",
    ):
        output = await run(box, command)
        assert not output.startswith("exit code 0"), f"{command}: {output}"
    assert git(repo, "rev-parse", "main") == head
    assert git(card, "symbolic-ref", "HEAD").strip() == "refs/heads/kanban/card"
    assert (card / ".git").read_text().startswith("gitdir:") and "worktrees" in (
        card / ".git"
    ).read_text()
    assert "fsmonitor" not in (world["git"] / "config").read_text()


@needs_bwrap
async def test_allowed_paths_and_hide(world):
    home = world["home"]
    (home / ".cache").mkdir()
    (home / "tools").mkdir()
    (home / "tools" / "note").write_text("readable")
    (world["card"] / "private.env").write_text(SECRET)
    box = toolbox(
        world, "bwrap", read_write=("~/.cache",), read_only=("~/tools",), hide=("private.env",)
    )
    hide_abs = replace(SandboxSettings(), hide=(str(world["card"] / "private.env"),))
    box.runtime = SandboxRuntime(
        lambda _cwd: replace(hide_abs, read_write=("~/.cache",), read_only=("~/tools",))
    )
    output = await run(
        box, "echo c > ~/.cache/x && cat ~/tools/note && cat private.env; touch ~/tools/y"
    )
    assert (home / ".cache" / "x").read_text() == "c\n"
    assert "readable" in output and SECRET not in output
    assert not (home / "tools" / "y").exists()


@needs_bwrap
async def test_memory_limit_is_reported(world):
    box = toolbox(world, "bwrap", max_memory_mb=200)
    output = await run(box, f'{sys.executable} -c "x = bytearray(400 * 1024 * 1024)"')
    assert "MemoryError" in output and "max_memory_mb = 200" in output


def test_mode_choice_is_never_silent(monkeypatch):
    off = choose(SandboxSettings(mode="off"))
    assert off[0] is False and "UNCONFINED" in off[1]
    monkeypatch.setattr(
        sandbox,
        "probe",
        lambda bwrap=None: sandbox.Probe(
            False, "bwrap failed: setting up uid map: Permission denied"
        ),
    )
    confined, message = choose(SandboxSettings(mode="auto"))
    assert not confined and "uid map" in message and "UNCONFINED" in message
    with pytest.raises(sandbox.SandboxUnavailable) as caught:
        choose(SandboxSettings(mode="bwrap"))
    assert "uid map" in str(caught.value) and "AppArmor" in str(caught.value)


def test_missing_bwrap_probe_says_not_installed(tmp_path):
    found = probe(str(tmp_path / "no-bwrap"))
    assert not found.works and "did not start" in found.error


async def test_mode_bwrap_without_bwrap_fails_the_run_before_any_git_work(
    project_with_card, monkeypatch
):
    from kanban_agents.core.agent.scripted_server import ScriptedServer
    from tests.core.test_runs import Harness

    repo = project_with_card
    (repo / "board" / "kanban.toml").write_text('[sandbox]\nmode = "bwrap"\n')
    monkeypatch.setattr(
        sandbox,
        "probe",
        lambda bwrap=None: sandbox.Probe(
            False, "bwrap failed: setting up uid map: Permission denied"
        ),
    )
    with ScriptedServer([]) as server:
        h = Harness(repo, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "failed"
    assert "uid map" in status.reason and "AppArmor" in status.reason
    assert not (repo.parent / "repo-worktrees" / "sub").exists()


@pytest.fixture
def project_with_card(repo):
    from tests.core.test_runs import calc_project

    return calc_project(repo)


@pytest.mark.parametrize("mode", MODES)
async def test_scripted_run_reaches_review_and_says_how_it_ran(project_with_card, mode):
    from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
    from kanban_agents.core.events import LogLine, Notice
    from tests.core.test_runs import Harness, edit_sub, finish

    repo = project_with_card
    (repo / "board" / "kanban.toml").write_text(f'[sandbox]\nmode = "{mode}"\nnetwork = "off"\n')
    probe_home = Reply(
        tool_calls=[ToolCallSpec("run", {"command": "ls -a ~ | wc -l; touch ../outside"})]
    )
    with ScriptedServer([probe_home, edit_sub(), finish()]) as server:
        h = Harness(repo, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "review", status.reason
    assert "def sub" in git(repo, "show", "kanban/sub:calc.py")
    assert (repo.parent / "repo-worktrees" / "outside").exists() == (mode == "off")
    state = json.loads(
        (repo / ".git" / "kanban-agents" / "runs" / "sub" / "state.json").read_text()
    )
    assert state["extra"]["sandbox"] == mode
    notices = [e.text for e in h.of(Notice)]
    lines = [e.text for e in h.of(LogLine)]
    if mode == "off":
        assert any("UNCONFINED" in text for text in notices)
    else:
        assert not any("UNCONFINED" in text for text in notices)
        assert any("sandbox: bwrap (network off)" in text for text in lines)


def test_workspaces_mode_bwrap_unavailable_is_a_run_error(monkeypatch, tmp_path):
    from kanban_agents.config import Settings

    monkeypatch.setattr(sandbox, "probe", lambda bwrap=None: sandbox.Probe(False, "no"))
    settings = replace(Settings(), sandbox=SandboxSettings(mode="bwrap"))
    spaces = Workspaces(tmp_path, lambda: settings, None, {}, [])
    with pytest.raises(RunError, match='mode = "bwrap"'):
        _ = spaces.runtime


def test_network_of_profile_and_card_override_the_board():
    from kanban_agents.config import AgentProfile
    from kanban_agents.core.sandbox import SandboxSettingError, for_card

    board = SandboxSettings(network="on")
    quiet = AgentProfile(name="quiet", sandbox_network="off")
    assert for_card(board).network == "on"
    assert for_card(board, quiet).network == "off"
    assert for_card(board, quiet, {"sandbox": {"network": True}}).network == "on"  # YAML `on`
    assert for_card(board, None, {"sandbox": {"network": False}}).network == "off"  # YAML `off`
    with pytest.raises(SandboxSettingError, match="network must be on or off"):
        for_card(board, None, {"sandbox": {"network": "maybe"}})
    with pytest.raises(SandboxSettingError, match="only network"):
        for_card(board, None, {"sandbox": {"mode": "off"}})


@needs_bwrap
async def test_a_card_that_says_network_off_gets_none(project_with_card, tcp_server):
    """The board shares the network; the card's front matter takes it away for its run: the
    agent's `run` cannot reach a server on this machine."""
    from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
    from kanban_agents.core.events import LogLine, ToolFinished
    from tests.core.test_runs import Harness, edit_sub, finish

    repo = project_with_card
    card = repo / "board" / "sub.md"
    card.write_text(
        card.read_text().replace("status: todo", "status: todo\nsandbox: {network: off}")
    )
    git(repo, "commit", "-qam", "card without network")
    (repo / "board" / "kanban.toml").write_text('[sandbox]\nmode = "bwrap"\nnetwork = "on"\n')
    connect = (
        f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', "
        f"{tcp_server}), timeout=3); print('CONNECTED')\""
    )
    turns = [Reply(tool_calls=[ToolCallSpec("run", {"command": connect})]), edit_sub(), finish()]
    with ScriptedServer(turns) as server:
        h = Harness(repo, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "review", status.reason
    ran = [e for e in h.of(ToolFinished) if e.name == "run"]
    # A network namespace of its own: only its own loopback, where nothing listens.
    assert ran and "CONNECTED" not in ran[0].output and "Connection refused" in ran[0].output
    assert any("sandbox: bwrap (network off)" in e.text for e in h.of(LogLine))


@needs_bwrap
async def test_a_toolchain_on_path_under_tmp_still_runs(world, tmp_path):
    """A venv made with mktemp (CI's own) lives under /tmp, which the sandbox replaces: the
    folders on PATH there stay readable, so the card's tests can run its python."""
    tools = Path(tempfile.mkdtemp(prefix="toolchain-", dir="/tmp"))
    try:
        (tools / "bin").mkdir()
        script = tools / "bin" / "hello-tool"
        script.write_text("#!/bin/sh\necho toolchain ran\n")
        script.chmod(0o755)
        chosen = SandboxSettings(mode="bwrap")
        env = {"PATH": f"{tools / 'bin'}:{os.environ['PATH']}", "HOME": str(world["home"])}
        box = Toolbox(world["card"], env=env, runtime=SandboxRuntime(lambda _c: chosen),
                      command_timeout=20)  # fmt: skip
        assert "toolchain ran" in await run(box, "hello-tool")
    finally:
        shutil.rmtree(tools)
