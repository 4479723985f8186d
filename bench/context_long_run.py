"""A 200-step run whose every tool output is 20 kB stays under ``context_tokens`` = 32k on
every model request (issue 13).

Run:
    python bench/context_long_run.py                  # 200 steps, 20 kB outputs, 32k context
    python bench/context_long_run.py --steps 400 --context 16000

Set-up: a temp git repo with a 20 kB ``big.txt`` and one card; a ``RunManager`` (no TUI) whose
built-in agent talks to a ``ScriptedServer``: each turn calls ``run("cat big.txt")`` (20 kB of
output into the conversation) until ``--steps`` turns are done, then edits calc.py and calls
``finish``; a request without tools (the context keeper's summary call) is answered with a short
summary. Every request's size is measured the way the agent estimates it: the JSON of its
messages plus its tool schemas, four characters a token. Without the context keeper the
conversation would reach about steps x 5k tokens. Results: ``bench/out/context_long_run.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import write_json

from kanban_agents.core.agent.context import estimate_tokens
from kanban_agents.core.agent.model import OpenAIModel
from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.board import BoardStore
from kanban_agents.core.events import LogLine, RunFinished
from kanban_agents.core.runs import RunManager

BIG = "\n".join(f"line {n:05d} " + "x" * 56 for n in range(300))  # 20,099 characters


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, context: int, steps: int) -> Path:
    repo = root / "repo"
    (repo / "board").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "bench")
    git(repo, "config", "user.email", "bench@example.com")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "big.txt").write_text(BIG)
    (repo / "board" / "kanban.toml").write_text(
        f"[agents.builtin]\ncontext_tokens = {context}\nmax_steps = {steps + 10}\n"
        "max_tokens = 100000000\nmax_wall_seconds = 3600\n"
    )
    (repo / "board" / "long.md").write_text(
        f"---\ntitle: Long run\nstatus: todo\nfiles: [calc.py]\n"
        f"tests: '{sys.executable} -c \"import calc; assert calc.sub(3, 1) == 2\"'\n---\n\n"
        "## Task\n\nRead big.txt many times, then add `sub(a, b)` to calc.py.\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "bench")
    return repo


def request_tokens(body: dict) -> int:
    return estimate_tokens(body["messages"]) + estimate_tokens(body.get("tools") or [])


async def main_async(options) -> int:
    turns = itertools.count()

    def model(body: dict) -> Reply:
        if not body.get("tools"):
            return Reply(text="Read big.txt repeatedly (300 lines of x); calc.py needs sub().")
        done = next(turns)
        if done < options.steps:
            return Reply(tool_calls=[ToolCallSpec("run", {"command": "cat big.txt"})])
        if done == options.steps:
            return Reply(tool_calls=[ToolCallSpec("edit_file", {
                "path": "calc.py", "old": "return a + b\n",
                "new": "return a + b\n\n\ndef sub(a, b):\n    return a - b\n"})])  # fmt: skip
        return Reply(tool_calls=[ToolCallSpec("finish", {"summary": "Added sub."})])

    with tempfile.TemporaryDirectory(prefix="context-bench-") as tmp:
        repo = make_repo(Path(tmp), options.context, options.steps)
        with ScriptedServer(model) as server:
            store = BoardStore.open(repo / "board")
            env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-x"}
            runs = RunManager(
                store,
                environ=env,
                model_factory=lambda p, e, on_retry: OpenAIModel(p, e, on_retry=on_retry),
            )
            events = []
            runs.subscribe(events.append)
            await runs.start()
            started = time.perf_counter()
            await asyncio.to_thread(store.move, "long", "in-progress")
            await asyncio.sleep(0.1)
            status = await runs.wait("long")
            took = time.perf_counter() - started
            await runs.stop()
            requests = list(server.requests)
    turns_sizes = [request_tokens(b) for b in requests if b.get("tools")]
    summary_sizes = [request_tokens(b) for b in requests if not b.get("tools")]
    context_lines = [
        e.text for e in events if isinstance(e, LogLine) and e.text.startswith("context:")
    ]
    shortenings = sum("shortened" in line for line in context_lines)
    summaries = sum("summarised" in line for line in context_lines)
    [finished] = [e for e in events if isinstance(e, RunFinished)]
    largest = max(turns_sizes + summary_sizes)
    print(f"run ended: {finished.state} ({finished.reason}) in {took:.1f}s")
    print(f"model requests: {len(turns_sizes)} turns + {len(summary_sizes)} summary calls")
    print(f"largest request: ~{largest} tokens (limit {options.context}); "
          f"median turn ~{sorted(turns_sizes)[len(turns_sizes) // 2]}")  # fmt: skip
    print(
        f"context log lines: {len(context_lines)} ({shortenings} shortening, {summaries} summary)"
    )
    for line in context_lines[:3]:
        print("  " + line)
    path = write_json("context_long_run", {
        "steps": options.steps, "context_tokens": options.context, "output_chars": len(BIG),
        "state": str(finished.state), "seconds": took, "turn_requests": len(turns_sizes),
        "summary_requests": len(summary_sizes), "max_request_tokens": largest,
        "max_turn_request_tokens": max(turns_sizes), "shortenings": shortenings,
        "summaries": summaries, "status_tokens": status.tokens if status else None,
    })  # fmt: skip
    print(f"written {path}")
    ok = finished.state == "review" and largest <= options.context
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--context", type=int, default=32_000)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
