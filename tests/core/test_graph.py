"""Dependency validation and critical path, checked against brute force on random DAGs."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kanban_agents.core.card import parse_card
from kanban_agents.core.graph import dependency_findings, find_cycles, plan


def make(card_id: str, deps=(), status="todo", estimate=None):
    extra = f"estimate: {estimate}\n" if estimate is not None else ""
    text = f"---\ntitle: {card_id}\nstatus: {status}\ndepends_on: [{', '.join(deps)}]\n{extra}---\nbody\n"
    return parse_card(Path(f"{card_id}.md"), text.encode())


def board(*cards):
    return {c.id: c for c in cards}


def status_of(card):
    return card.status


def test_unknown_and_cycles_reported_on_cards_involved():
    cards = board(
        make("a", ["b"]), make("b", ["c"]), make("c", ["a"]), make("d", ["ghost"]), make("e", ["e"])
    )
    findings = dependency_findings(cards)
    assert [f.code for f in findings["d"]] == ["deps-unknown"] and "ghost" in findings["d"][
        0
    ].message
    for cid in "abc":
        assert [f.code for f in findings[cid]] == ["deps-cycle"]
        assert "a -> b -> c -> a" in findings[cid][0].message
    assert [f.code for f in findings["e"]] == ["deps-cycle"]


def test_critical_path_and_parallelism_on_known_dag():
    cards = board(
        make("schema"),
        make("api", ["schema"], estimate=3),
        make("ui", ["api"]),
        make("docs"),
        make("cli", ["schema"]),
        make("old", status="done"),
        make("uses-old", ["old"]),
    )
    p = plan(cards, status_of, "done", {"in-progress", "review"})
    assert p.critical_path == ["schema", "api", "ui"]
    assert p.critical_length == 5
    assert sorted(p.ready) == ["docs", "schema", "uses-old"]
    assert p.blocked["api"] == ["schema"]
    assert p.layers["ui"] == 2 and p.layers["docs"] == 0
    assert "old" not in p.nodes
    assert p.parallelism == (5 + 1 + 1 + 1) / 5 + 0  # total 8 units over a chain of 5


def test_started_cards_are_not_ready():
    cards = board(make("a", status="in-progress"), make("b"))
    assert plan(cards, status_of, "done", {"in-progress"}).ready == ["b"]


def brute_force_longest(nodes, deps, est):
    best = 0.0

    # every path is a sequence of distinct nodes following edges; small graphs only
    def extend(path, total):
        nonlocal best
        best = max(best, total)
        last = path[-1]
        for nxt in nodes:
            if last in deps[nxt] and nxt not in path:
                extend([*path, nxt], total + est[nxt])

    for n in nodes:
        extend([n], est[n])
    return best


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 7).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12),
            st.lists(st.integers(1, 5), min_size=n, max_size=n),
        )
    )
)
def test_critical_path_matches_brute_force(data):
    n, raw_edges, estimates = data
    names = [f"c{i}" for i in range(n)]
    deps = {name: [] for name in names}
    for a, b in raw_edges:
        if a < b:  # edges from lower to higher index: always a DAG
            deps[names[b]].append(names[a])
    cards = board(*(make(nm, deps[nm], estimate=estimates[i]) for i, nm in enumerate(names)))
    p = plan(cards, status_of, "done", set())
    est = {nm: float(estimates[i]) for i, nm in enumerate(names)}
    assert p.critical_length == brute_force_longest(names, deps, est)
    # the reported path is a real chain with that length
    assert sum(est[c] for c in p.critical_path) == p.critical_length
    for before, after in itertools.pairwise(p.critical_path):
        assert before in deps[after]
    assert p.cycles == []


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), st.lists(st.sampled_from("abcdef"), max_size=3)))
def test_find_cycles_matches_reachability(deps):
    deps = {k: v for k, v in deps.items()}
    for k in "abcdef":
        deps.setdefault(k, [])

    def reaches(src, dst):
        seen, todo = set(), [src]
        while todo:
            node = todo.pop()
            for nxt in deps[node]:
                if nxt == dst:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    in_cycle = {node for cycle in find_cycles(deps) for node in cycle}
    assert in_cycle == {k for k in deps if reaches(k, k)}
