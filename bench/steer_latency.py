"""Time from ``say`` to the message appearing in the running agent's next model request.

Run:
    python bench/steer_latency.py              # 20 messages, said in-process (BoardSession.say)
    python bench/steer_latency.py --via cli    # each message a `kanban-agents say` process
    python bench/steer_latency.py -n 50 --turn 1.0

Set-up: a temp git repo with one card; its built-in agent runs in a `kanban-agents run --wait`
process (the headless host; the board app hosts the same way, through the same records) against
a ``ScriptedServer`` that answers every request after ``--turn`` seconds (default 1 s) with a
cheap tool call (``list_files``), and with ``finish`` once every message has arrived. This
process sends N messages, one at a time, each at a random moment of the agent's turn (a random
wait of 0 to 1.2 turns after the previous one arrived). The clock starts just before the send
(``BoardSession.say``, or spawning the ``say`` command) and stops when the server receives the
first request whose messages hold that text. Goal (issue 13): within one turn, every time. Two
readings of it are reported: the message is in the first request that arrives after the send
after the message was written (else in the one after: a request the agent had already put
together when the message landed),
and latency <= the longest turn (model delay plus the agent's own work between requests, which is
measured too: the time between consecutive requests). Results: ``bench/out/steer_latency.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, write_json

from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer, ToolCallSpec
from kanban_agents.core.board import BoardStore
from kanban_agents.core.session import BoardSession


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "board").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "bench")
    git(repo, "config", "user.email", "bench@example.com")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "board" / "kanban.toml").write_text("[agents.builtin]\nmax_steps = 1000\n")
    (repo / "board" / "steer.md").write_text(
        "---\ntitle: Steer me\nstatus: todo\nfiles: [calc.py]\ntests: 'true'\n---\n\n"
        "## Task\n\nListen to the reviewer.\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "bench")
    return repo


class Model:
    """The scripted model: notes when each request arrives and which messages it holds."""

    def __init__(self, turn: float, count: int):
        self.turn = turn
        self.count = count
        self.arrivals: list[float] = []
        self.seen: dict[str, float] = {}  # message text -> first request holding it
        self.lock = threading.Lock()

    def __call__(self, body: dict) -> Reply:
        now = time.perf_counter()
        with self.lock:
            self.arrivals.append(now)
            for message in body.get("messages", []):
                content = str(message.get("content") or "")
                if message.get("role") == "user" and "Message from the reviewer" in content:
                    self.seen.setdefault(content.splitlines()[-1], now)
            done = len(self.seen) >= self.count
        if done:
            return Reply(tool_calls=[ToolCallSpec("finish", {"summary": "listened"})])
        return Reply(tool_calls=[ToolCallSpec("list_files", {"path": "."})], delay=self.turn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="messages to send")
    parser.add_argument("--turn", type=float, default=1.0, help="model delay per turn (s)")
    parser.add_argument("--via", choices=("session", "cli"), default="session")
    options = parser.parse_args()
    rng = random.Random(13)
    with tempfile.TemporaryDirectory(prefix="steer-bench-") as tmp:
        repo = make_repo(Path(tmp))
        board = repo / "board"
        model = Model(options.turn, options.n)
        with ScriptedServer(model) as server:
            env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-x"}
            host = subprocess.Popen(
                [sys.executable, "-m", "kanban_agents", "--board", str(board), "run", "steer",
                 "--wait", "--quiet"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            session = BoardSession(BoardStore.open(board), agents=False)
            latencies: list[float] = []
            skipped: list[int] = []  # requests that arrived after the send without the message
            try:
                while not model.arrivals:
                    time.sleep(0.01)
                for k in range(options.n):
                    time.sleep(rng.uniform(0, 1.2 * options.turn))
                    text = f"steer #{k}"
                    start = time.perf_counter()
                    if options.via == "cli":
                        subprocess.run(
                            [sys.executable, "-m", "kanban_agents", "--board", str(board), "say",
                             "steer", "-m", text],
                            env=env, check=True, capture_output=True,
                        )  # fmt: skip
                    else:
                        session.say("steer", text)
                    written = time.perf_counter()  # the message is in the inbox (fsync'd)
                    deadline = start + 10 * options.turn + 10
                    while text not in model.seen:
                        if time.perf_counter() > deadline or host.poll() is not None:
                            raise SystemExit(f"message {k} never reached the model")
                        time.sleep(0.002)
                    latencies.append(model.seen[text] - start)
                    with model.lock:
                        skipped.append(
                            sum(1 for t in model.arrivals if written < t < model.seen[text])
                        )
                output, _ = host.communicate(timeout=60)
            finally:
                host.kill()
    gaps = [b - a for a, b in zip(model.arrivals, model.arrivals[1:], strict=False)]
    turn = summarize(gaps)
    result = summarize(latencies)
    within = sum(1 for value in latencies if value <= turn["max"])
    next_request = skipped.count(0)
    print_table(
        ["", "n", "median ms", "p90 ms", "max ms"],
        [
            [f"say -> next request ({options.via})", result["n"], ms(result["median"]),
             ms(result["p90"]), ms(result["max"])],
            ["turn (request to request)", turn["n"], ms(turn["median"]), ms(turn["p90"]),
             ms(turn["max"])],
        ],
    )  # fmt: skip
    print(f"in the first request after it was written: {next_request} of {len(latencies)} "
          f"(others: in the one after, {skipped.count(1)}); latency <= the longest turn: "
          f"{within} of {len(latencies)}   host said: {output.strip()[-60:]}")  # fmt: skip
    write_json(
        f"steer_latency_{options.via}",
        {
            "turn_delay": options.turn,
            "latency": result,
            "turn": turn,
            "within_one_turn": within,
            "requests_skipped": skipped,
        },
    )
    return 0 if max(skipped, default=0) <= 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
