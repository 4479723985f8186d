"""The run lifecycle end to end in core: real git repos, the real openai client against the
scripted server, real processes for tests and command agents."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from kanban_agents.core.agent.model import OpenAIModel
from kanban_agents.core.agent.scripted_server import (
    DropStream,
    HttpError,
    Reply,
    ScriptedServer,
    ToolCallSpec,
)
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import (
    LogLine,
    Notice,
    RunFinished,
    StateChanged,
    TestsFinished,
    ToolFinished,
)
from kanban_agents.core.runs import RunManager
from tests.helpers import git

PY = sys.executable
CALC = "def add(a, b):\n    return a + b\n"


def make_card(
    board: Path, card_id: str, *, tests: str | None = None, extra: str = "", status: str = "todo"
) -> None:
    tests = tests if tests is not None else f'{PY} -c "import calc; assert calc.sub(3, 1) == 2"'
    (board / f"{card_id}.md").write_text(
        f"---\ntitle: Add sub to {card_id}\nstatus: {status}\nfiles: [calc.py]\nconstraints: keep add\n"
        f"tests: '{tests}'\n{extra}---\n\n## Task\n\nAdd `sub(a, b)` to calc.py.\n"
    )


def calc_project(repo: Path) -> Path:
    """``repo`` with calc.py and a card ``sub`` asking for sub(), committed."""
    (repo / "calc.py").write_text(CALC)
    (repo / "board").mkdir()
    make_card(repo / "board", "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "calc.py").write_text(CALC)
    board = repo / "board"
    board.mkdir()
    (board / "kanban.toml").write_text("[runs]\ntest_attempts = 2\n")
    make_card(board, "sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def finish(summary: str = "Added sub.") -> Reply:
    return Reply(tool_calls=[ToolCallSpec("finish", {"summary": summary})])


def edit_sub(result: str = "a - b") -> Reply:
    return Reply(
        text="I'll add sub.",
        tool_calls=[
            ToolCallSpec(
                "edit_file",
                {
                    "path": "calc.py",
                    "old": "return a + b\n",
                    "new": f"return a + b\n\n\ndef sub(a, b):\n    return {result}\n",
                },
            )
        ],
    )


class Harness:
    def __init__(self, repo: Path, server: ScriptedServer, **environ):
        self.repo = repo
        self.board = repo / "board"
        self.server = server
        self.store = BoardStore.open(self.board)
        env = {
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test-secret-123456",
            "PATH": os.environ["PATH"],
            "HOME": os.environ["HOME"],
            **environ,
        }
        self.runs = RunManager(self.store, environ=env, model_factory=self.model)
        self.events = []
        self.runs.subscribe(self.events.append)

    @staticmethod
    def model(profile, environ, on_retry):
        return OpenAIModel(profile, environ, on_retry=on_retry, retry_delays=(0.01, 0.01, 0.01))

    async def start_card(self, card_id: str) -> None:
        await asyncio.to_thread(self.store.move, card_id, "in-progress")

    async def wait(self, card_id: str, timeout: float = 30):
        await asyncio.sleep(0.05)
        return await asyncio.wait_for(self.runs.wait(card_id), timeout)

    def of(self, kind, card_id=None):
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (card_id is None or e.card_id == card_id)
        ]

    def states(self, card_id: str) -> list[str]:
        return [
            e.state
            for e in self.events
            if isinstance(e, StateChanged | RunFinished) and e.card_id == card_id
        ]


@pytest.fixture
async def harness(project):
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        await h.runs.start()
        yield h
        await h.runs.stop()


async def test_happy_path_to_review_with_commit(harness):
    h = harness
    h.server.add(
        Reply(tool_calls=[ToolCallSpec("read_file", {"path": "calc.py"})]),
        edit_sub(),
        finish("Added sub to calc.py."),
    )
    await h.start_card("sub")
    status = await h.wait("sub")
    assert status.state == "review", status.reason
    assert h.states("sub") == ["queued", "preparing", "running", "testing", "review"]
    card = BoardStore.open(h.board).get("sub")
    assert card.status == "review" and card.branch == "kanban/sub"
    assert card.run["state"] == "review" and card.run["n"] == 1
    worktree = (h.repo / card.worktree).resolve()
    assert worktree == h.repo.parent / "repo-worktrees" / "sub"
    assert "def sub" in (worktree / "calc.py").read_text()
    assert "def sub" not in (h.repo / "calc.py").read_text()  # the main checkout is untouched
    log = git(h.repo, "log", "-1", "--format=%s%n%b", "kanban/sub")
    assert log.startswith("Add sub to sub") and "Added sub to calc.py." in log
    [tests] = h.of(TestsFinished)
    assert tests.passed and tests.attempt == 1
    # the first request carries the card as operating instructions, and the tools
    first = h.server.requests[0]
    prompt = first["messages"][1]["content"]
    assert "Add `sub(a, b)` to calc.py." in prompt and "calc.py" in prompt and "keep add" in prompt
    assert {t["function"]["name"] for t in first["tools"]} == {
        "list_files",
        "read_file",
        "write_file",
        "edit_file",
        "search",
        "run",
        "finish",
    }
    assert first["stream"] is True
    # the log is on disk under the git dir, without the API key
    records = (h.repo / ".git" / "kanban-agents" / "runs" / "sub" / "1.jsonl").read_text()
    assert '"kind": "tests"' in records and "sk-test-secret" not in records


async def test_tests_fail_then_pass_on_second_attempt(harness):
    h = harness
    h.server.add(
        edit_sub("b - a"),
        finish(),
        Reply(
            tool_calls=[
                ToolCallSpec(
                    "edit_file", {"path": "calc.py", "old": "return b - a", "new": "return a - b"}
                )
            ]
        ),
        finish(),
    )
    await h.start_card("sub")
    status = await h.wait("sub")
    assert status.state == "review", status.reason
    assert [t.passed for t in h.of(TestsFinished)] == [False, True]
    # the model saw the failing output as the result of its finish call
    third = h.server.requests[2]["messages"]
    assert third[-1]["role"] == "tool" and "tests failed" in third[-1]["content"]
    assert "AssertionError" in third[-1]["content"]


async def test_tests_keep_failing_ends_failed(harness):
    h = harness
    h.server.add(edit_sub("b - a"), finish(), finish())
    await h.start_card("sub")
    status = await h.wait("sub")
    assert status.state == "failed" and "tests still failing after 2 attempts" in status.reason
    card = BoardStore.open(h.board).get("sub")
    assert card.status == "in-progress" and card.run["state"] == "failed"


async def test_step_limit_ends_failed_with_reason(project):
    (project / "board" / "kanban.toml").write_text("[agents.builtin]\nmax_steps = 2\n")
    with ScriptedServer(
        [Reply(tool_calls=[ToolCallSpec("list_files", {"path": "."})])] * 3
    ) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "failed" and status.reason == "step limit of 2 reached"
    assert len(server.requests) == 2


async def test_cancel_by_moving_out_stops_the_agent_and_keeps_worktree(harness):
    h = harness
    h.server.add(edit_sub(), Reply(text="thinking...", delay=30))
    await h.start_card("sub")
    for _ in range(200):
        if len(h.server.requests) >= 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.to_thread(h.store.move, "sub", "todo")
    status = await h.wait("sub", timeout=10)
    assert status.state == "cancelled" and "moved to todo" in status.reason
    worktree = h.repo.parent / "repo-worktrees" / "sub"
    assert "def sub" in (worktree / "calc.py").read_text()  # work kept
    assert BoardStore.open(h.board).get("sub").status == "todo"


async def test_path_escape_is_refused_back_to_the_model(harness):
    h = harness
    (h.repo.parent / "secret.txt").write_text("top secret")
    h.server.add(
        Reply(tool_calls=[ToolCallSpec("read_file", {"path": "../secret.txt"})]),
        Reply(tool_calls=[ToolCallSpec("write_file", {"path": "/tmp/evil.txt", "content": "x"})]),
        edit_sub(),
        finish(),
    )
    await h.start_card("sub")
    assert (await h.wait("sub")).state == "review"
    results = [e for e in h.of(ToolFinished) if e.name in ("read_file", "write_file")]
    assert [r.ok for r in results] == [False, False]
    assert "outside the worktree" in h.server.requests[1]["messages"][-1]["content"]
    assert "top secret" not in json.dumps(h.server.requests)


@pytest.mark.parametrize(
    "trouble, expect_notice",
    [
        (HttpError(429, "slow down", retry_after=0.01), "429"),
        (HttpError(503, "overloaded"), "503"),
        (DropStream(Reply(text="partial answer that breaks"), after_chunks=1), "connection"),
    ],
)
async def test_transient_api_errors_are_retried(harness, trouble, expect_notice):
    h = harness
    h.server.add(trouble, edit_sub(), finish())
    await h.start_card("sub")
    assert (await h.wait("sub")).state == "review"
    notices = [n.text for n in h.of(Notice, "sub")]
    assert any(expect_notice in n and "retrying" in n for n in notices), notices


async def test_persistent_server_error_ends_failed_not_stuck(harness):
    h = harness
    h.server.add(*[HttpError(500, "boom")] * 4)
    await h.start_card("sub")
    status = await h.wait("sub")
    assert status.state == "failed" and "500" in status.reason and "boom" in status.reason


async def test_auth_error_is_not_retried(harness):
    h = harness
    h.server.add(HttpError(401, "invalid api key"))
    await h.start_card("sub")
    status = await h.wait("sub")
    assert (
        status.state == "failed" and "401" in status.reason and "check the API key" in status.reason
    )
    assert len(h.server.requests) == 1


async def test_malformed_tool_arguments_go_back_to_the_model(harness):
    h = harness
    h.server.add(
        Reply(tool_calls=[ToolCallSpec("write_file", '{"path": "x.py", "content": ')]),
        edit_sub(),
        finish(),
    )
    await h.start_card("sub")
    assert (await h.wait("sub")).state == "review"
    assert "Error" in h.server.requests[1]["messages"][-1]["content"]


async def test_no_api_key_and_no_base_url_fails_clearly(project):
    store = BoardStore.open(project / "board")
    runs = RunManager(store, environ={"PATH": os.environ["PATH"]})
    await runs.start()
    await asyncio.to_thread(store.move, "sub", "in-progress")
    await asyncio.sleep(0.05)
    status = await asyncio.wait_for(runs.wait("sub"), 20)
    await runs.stop()
    assert status.state == "failed" and "OPENAI_API_KEY" in status.reason
    # checked before any git work: no worktree, no branch left behind
    assert not (project.parent / "repo-worktrees" / "sub").exists()
    assert "kanban/sub" not in git(project, "branch", "--list")


async def test_ten_cards_with_concurrency_three(project):
    board = project / "board"
    (board / "kanban.toml").write_text("[runs]\nconcurrency = 3\n")
    (board / "sub.md").unlink()
    for i in range(10):
        make_card(
            board,
            f"c{i}",
            tests=f"{PY} -c pass",
            extra="files: [f{i}.txt]\n".replace("{i}", str(i)),
        )
        text = (board / f"c{i}.md").read_text().replace("files: [calc.py]\n", "")
        (board / f"c{i}.md").write_text(text)

    def responder(request):
        count = sum(1 for m in request["messages"] if m["role"] == "assistant")
        card = request["messages"][1]["content"].split(":")[0].split()[-1]
        if count == 0:
            return Reply(
                tool_calls=[ToolCallSpec("write_file", {"path": f"{card}.txt", "content": card})],
                delay=0.2,
            )
        return finish(f"wrote {card}.txt")

    with ScriptedServer(responder) as server:
        h = Harness(project, server)
        running, peak = set(), 0

        def track(event):
            nonlocal peak
            if isinstance(event, StateChanged) and event.state in (
                "preparing",
                "running",
                "testing",
            ):
                running.add(event.card_id)
            elif isinstance(event, RunFinished):
                running.discard(event.card_id)
            peak = max(peak, len(running))

        h.runs.subscribe(track)
        await h.runs.start()
        for i in range(10):
            await h.start_card(f"c{i}")
        await asyncio.sleep(0.1)
        assert sum(1 for s in h.runs.status.values() if s.state == "queued") >= 7 - 3
        results = await asyncio.wait_for(
            asyncio.gather(*(h.runs.wait(f"c{i}") for i in range(10))), 120
        )
        await h.runs.stop()
    assert [r.state for r in results] == ["review"] * 10
    assert peak == 3
    store = BoardStore.open(board)
    assert [c.id for c in store.column_cards("review")] == [f"c{i}" for i in range(10)] or len(
        store.column_cards("review")
    ) == 10
    for i in range(10):
        assert git(project, "show", f"kanban/c{i}:c{i}.txt") == f"c{i}"


async def test_dependencies_queue_until_done(harness):
    h = harness
    make_card(h.board, "later", extra="depends_on: [sub]\n")
    h.store.load()
    await h.start_card("later")
    await asyncio.sleep(0.2)
    status = h.runs.status["later"]
    assert status.state == "queued" and "waits on sub" in status.reason
    assert h.server.requests == []
    await asyncio.to_thread(h.store.move, "sub", "done")
    h.server.add(edit_sub(), finish())
    assert (await h.wait("later")).state == "review"


async def test_overlapping_files_warn_on_both_cards(harness):
    h = harness
    make_card(h.board, "other")
    h.store.load()
    h.server.add(Reply(text="slow", delay=2), Reply(text="slow", delay=2))
    await h.start_card("sub")
    await h.start_card("other")
    await asyncio.sleep(0.3)
    texts = {n.card_id: n.text for n in h.of(Notice)}
    assert (
        "other also touches calc.py" in texts["sub"]
        and "sub also touches calc.py" in texts["other"]
    )
    h.runs.cancel("sub")
    h.runs.cancel("other")


async def test_hold_on_overlap_queues_a_card_whose_files_a_running_card_touches(project):
    (project / "board" / "kanban.toml").write_text("[runs]\nhold_on_overlap = true\n")
    make_card(project / "board", "other")
    with ScriptedServer([Reply(text="slow", delay=2)]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        await asyncio.sleep(0.3)
        await h.start_card("other")
        await asyncio.sleep(0.3)
        status = h.runs.status["other"]
        assert status.state == "queued" and status.reason == "files overlap with running sub"
        assert len(server.requests) == 1  # only sub's agent asked the model
        h.runs.cancel("sub")
        h.runs.cancel("other")
        await h.runs.stop()


async def test_setup_commands_and_copy_files(project):
    (project / ".env").write_text("TOKEN=1\n")
    (project / "board" / "kanban.toml").write_text(
        '[worktrees]\ncopy_files = [".env"]\nsetup = ["echo setting up && touch .setup-done"]\n'
    )
    with ScriptedServer([edit_sub(), finish()]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        assert (await h.wait("sub")).state == "review"
        await h.runs.stop()
    worktree = project.parent / "repo-worktrees" / "sub"
    assert (worktree / ".env").read_text() == "TOKEN=1\n"
    setup_lines = [
        line for e in h.of(LogLine) if e.stream == "setup" for line in e.text.split("\n")
    ]
    assert "setting up" in setup_lines and "copied .env" in setup_lines


async def test_failing_setup_marks_failed_with_output(project):
    (project / "board" / "kanban.toml").write_text(
        '[worktrees]\nsetup = ["echo no such tool >&2; exit 3"]\n'
    )
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert (
        status.state == "failed" and "exited 3" in status.reason and "no such tool" in status.reason
    )


def write_agent_script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def test_command_agent_streams_lines_and_reaches_review(project, tmp_path):
    script = write_agent_script(
        tmp_path / "fake-agent",
        (
            'echo "reading $1"\n'
            "printf 'def add(a, b):\\n    return a + b\\n\\n\\ndef sub(a, b):\\n    return a - b\\n' > calc.py\n"
            'echo "done"'
        ),
    )
    (project / "board" / "kanban.toml").write_text(
        f'[agents.fake]\ncommand = ["{script}", "{{prompt_file}}"]\n'
    )
    card = project / "board" / "sub.md"
    card.write_text(card.read_text().replace("status: todo", "status: todo\nagent: fake"))
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "review", status.reason
    lines = [line for e in h.of(LogLine) if e.stream == "stdout" for line in e.text.split("\n")]
    assert lines[0].startswith("reading /") and lines[-1] == "done"
    assert "def sub" in git(project, "show", "kanban/sub:calc.py")


async def test_command_agent_exit_code_fails_the_run(project, tmp_path):
    script = write_agent_script(tmp_path / "bad-agent", "echo 'cannot do it' >&2; exit 7")
    (project / "board" / "kanban.toml").write_text(
        f'[agents]\ndefault = "bad"\n[agents.bad]\ncommand = ["{script}"]\n'
    )
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert (
        status.state == "failed" and "exited 7" in status.reason and "cannot do it" in status.reason
    )


async def test_missing_agent_command_is_a_clear_failure(project):
    (project / "board" / "kanban.toml").write_text('[agents]\ndefault = "codex"\n')
    with ScriptedServer([]) as server:
        h = Harness(project, server, PATH="/nonexistent")
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "failed" and "'codex' was not found" in status.reason


async def test_existing_worktree_is_reused_and_conversation_resumed(harness):
    h = harness
    h.server.add(edit_sub("b - a"), finish(), finish())
    await h.start_card("sub")
    assert (await h.wait("sub")).state == "failed"
    # the user moves it out and back in: same worktree, same branch, same conversation
    await asyncio.to_thread(h.store.move, "sub", "todo")
    h.server.add(
        Reply(
            tool_calls=[
                ToolCallSpec("edit_file", {"path": "calc.py", "old": "b - a", "new": "a - b"})
            ]
        ),
        finish(),
    )
    await h.start_card("sub")
    status = await h.wait("sub")
    assert status.state == "review" and status.run == 2
    resumed = h.server.requests[3]["messages"]
    assert (
        resumed[0]["role"] == "system" and "continue where you left off" in resumed[-1]["content"]
    )
    assert any(m["role"] == "assistant" for m in resumed)


async def test_run_not_in_git_repo_fails_clearly(tmp_path):
    board = tmp_path / "board"
    board.mkdir()
    make_card(board, "sub")
    store = BoardStore.open(board)
    runs = RunManager(store, environ={"OPENAI_API_KEY": "x", "PATH": os.environ["PATH"]})
    await runs.start()
    await asyncio.to_thread(store.move, "sub", "in-progress")
    await asyncio.sleep(0.05)
    status = await asyncio.wait_for(runs.wait("sub"), 10)
    await runs.stop()
    assert status.state == "failed" and "not inside a git repository" in status.reason


async def test_a_server_that_ignores_stream_still_works(project):
    """Some minimal OpenAI-compatible servers answer a streaming request with one JSON body (a
    stream reader would see nothing at all): it is read as the completion it is."""
    with ScriptedServer([edit_sub(), finish()], streaming=False) as server:
        h = Harness(project, server)
        await h.runs.start()
        await h.start_card("sub")
        status = await h.wait("sub")
        await h.runs.stop()
    assert status.state == "review", status.reason
    assert len(server.requests) == 2 and all(r.get("stream") for r in server.requests)
    assert status.tokens > 0
    assert "def sub" in git(project, "show", "kanban/sub:calc.py")


async def test_stop_ends_queued_runs_and_a_restart_queues_them_again(project):
    """A card still waiting for admission when the app closes ends 'interrupted' in its log (so
    `log --follow` and `run --wait` stop waiting) and is queued again by the next start."""
    with ScriptedServer([]) as server:
        h = Harness(project, server)
        make_card(h.board, "later", extra="depends_on: [sub]\n")
        h.store.load()
        await h.runs.start()
        await h.start_card("later")
        await asyncio.sleep(0.2)
        assert h.runs.status["later"].state == "queued"
        await h.runs.stop()
        last = list(h.runs.records.read_events("later"))[-1]
        assert last.kind == "finished" and last.state == "interrupted"
        assert "before it started" in last.reason
        again = Harness(project, server)
        await again.runs.start()
        await asyncio.sleep(0.2)
        assert again.runs.status["later"].state == "queued"
        await again.runs.stop()


async def test_a_minimal_json_body_is_read_leniently():
    """No id, created, object or index, finish_reason null, arguments as an object: what small
    hand-written OpenAI-compatible servers send. The turn still carries the text and the call."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from kanban_agents.config import AgentProfile

    body = json.dumps({
        "choices": [{
            "message": {"role": "assistant", "content": "Done.",
                        "tool_calls": [{"function": {"name": "finish",
                                                     "arguments": {"summary": "ok"}}}]},
            "finish_reason": None,
        }],
    }).encode()  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        model = OpenAIModel(AgentProfile("builtin", model="m"), {"OPENAI_BASE_URL": base_url})
        shown: list[str] = []
        turn = await model.complete([{"role": "user", "content": "hi"}], [], shown.append)
        await model.aclose()
    finally:
        httpd.shutdown()
    assert turn.text == "Done." and shown == ["Done."]
    [call] = turn.tool_calls
    assert call.name == "finish" and json.loads(call.arguments) == {"summary": "ok"}
