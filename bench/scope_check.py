"""The review's scope check on a large diff: 20,000 changed paths against a card's patterns.

Run:
    . .venv/bin/activate
    python bench/scope_check.py            # 20,000 paths, 7 runs

Goal: < 100 ms on a quiet machine, so the Diff tab and each radar scan can afford it. The same
run times ``sum(range(10**7))`` as a yardstick of how busy the machine is (about 0.2 s when it
is quiet). Results go to ``bench/out/scope_check.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchutil import ms, print_table, summarize, verdict, write_json

from kanban_agents.core.card import parse_card
from kanban_agents.core.scope import check_scope

GOAL = 0.100
CARD = (
    b"---\ntitle: T\nfiles: [src/auth/, src/**/*.py, docs/auth.md, tests/test_auth.py, web/*.css]\n"
    b"tests: pytest -q tests/test_auth.py tests/test_login.py\n---\nbody\n"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    card = parse_card(Path("c.md"), CARD)
    paths = [f"pkg{i % 50}/mod{i}.py" for i in range(args.paths // 2)]
    paths += [f"src/auth/m{i}.py" for i in range(args.paths - len(paths))]
    checks, yardstick = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        report = check_scope(card, paths)
        checks.append(time.perf_counter() - start)
        start = time.perf_counter()
        sum(range(10**7))
        yardstick.append(time.perf_counter() - start)
    assert len(report.out_of_scope) == args.paths // 2
    results = {"check_scope": summarize(checks), "yardstick_sum_1e7": summarize(yardstick)}
    print_table(
        ["what", "median", "min"],
        [
            [f"check_scope, {args.paths:,} paths", ms(results["check_scope"]["median"]),
             ms(results["check_scope"]["min"])],
            ["sum(range(10**7)) (machine load)", ms(results["yardstick_sum_1e7"]["median"]),
             ms(results["yardstick_sum_1e7"]["min"])],
        ],
    )  # fmt: skip
    print(f"goal median < {ms(GOAL)} ms: {verdict(results['check_scope']['median'], GOAL)}")
    write_json("scope_check", results)


if __name__ == "__main__":
    main()
