"""The dependency graph of the cards: validation, layers, critical path, useful parallelism.

"Parallelize by dependency boundaries": the longest chain of unfinished work bounds how much
running more agents can help, and the cards whose dependencies are all done are the ones worth
starting now.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from .card import Card
from .lint import LintFinding


@dataclass(frozen=True)
class GraphPlan:
    nodes: list[str]  # cards not done, in a stable topological order (cycle members last)
    edges: list[tuple[str, str]]  # (dependency, dependent) among ``nodes``
    layers: dict[str, int]  # left-to-right column for each node
    critical_path: list[str]  # ids along the longest (by estimate) chain of unfinished cards
    critical_length: float
    ready: list[str]  # not started, all dependencies done: can start now
    blocked: dict[str, list[str]]  # card -> unfinished or unknown dependencies
    cycles: list[list[str]]
    unknown: dict[str, list[str]]  # card -> ids it depends on that do not exist
    total_work: float = 0.0
    parallelism: float = 0.0  # total work / critical length: the most agents that can help
    estimates: dict[str, float] = field(default_factory=dict)


def find_cycles(deps: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one card, or a card depending on itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    for root in sorted(deps):
        if root in index:
            continue
        # iterative Tarjan, so long chains do not hit the recursion limit
        work = [(root, iter(sorted(d for d in deps.get(root, []) if d in deps)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(d for d in deps.get(child, []) if d in deps))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in deps.get(node, []):
                    cycles.append(sorted(component))
    return sorted(cycles)


def dependency_findings(cards: Mapping[str, Card]) -> dict[str, list[LintFinding]]:
    """Unknown ids and cycles in ``depends_on``, reported on every card involved."""
    deps = {card_id: card.depends_on for card_id, card in cards.items()}
    findings: dict[str, list[LintFinding]] = {}
    for card_id, wanted in deps.items():
        unknown = [d for d in wanted if d not in cards]
        if unknown:
            findings.setdefault(card_id, []).append(
                LintFinding(
                    "deps-unknown",
                    f"depends_on names unknown card(s): {', '.join(unknown)}",
                    "error",
                )
            )
    for cycle in find_cycles(deps):
        text = " -> ".join([*cycle, cycle[0]]) if len(cycle) > 1 else f"{cycle[0]} -> {cycle[0]}"
        for card_id in cycle:
            findings.setdefault(card_id, []).append(
                LintFinding("deps-cycle", f"dependency cycle: {text}", "error")
            )
    return findings


def plan(
    cards: Mapping[str, Card], status_of, done_column: str, started_columns: set[str]
) -> GraphPlan:
    """Layers and critical path over the cards that are not done.

    ``status_of(card)`` gives a card's column; ``started_columns`` are columns whose cards are
    already being worked (agent, review): they are not "ready", but they are still on the path.
    """
    pending = {cid: c for cid, c in cards.items() if status_of(c) != done_column}
    deps = {cid: [d for d in c.depends_on if d in pending] for cid, c in pending.items()}
    unknown = {cid: [d for d in c.depends_on if d not in cards] for cid, c in pending.items()}
    unknown = {k: v for k, v in unknown.items() if v}
    cycles = find_cycles(deps)
    in_cycle = {cid for cycle in cycles for cid in cycle}
    estimates = {cid: c.estimate for cid, c in pending.items()}

    order = _topological(deps, in_cycle)
    finish: dict[str, float] = {}
    best_pred: dict[str, str | None] = {}
    layers: dict[str, int] = {}
    for cid in order:
        preds = (
            [] if cid in in_cycle else [d for d in deps[cid] if d in finish and d not in in_cycle]
        )
        best = max(preds, key=lambda d: (finish[d], d), default=None)
        finish[cid] = estimates[cid] + (finish[best] if best else 0.0)
        best_pred[cid] = best
        layers[cid] = 1 + max((layers[d] for d in preds), default=-1)

    path: list[str] = []
    if finish:
        end = max(sorted(finish), key=lambda c: finish[c])
        node: str | None = end
        while node is not None:
            path.append(node)
            node = best_pred[node]
        path.reverse()
    critical_length = finish[path[-1]] if path else 0.0
    total = sum(estimates.values())

    blocked: dict[str, list[str]] = {}
    ready: list[str] = []
    for cid in order:
        waiting = deps[cid] + unknown.get(cid, [])
        if waiting or cid in in_cycle:
            blocked[cid] = waiting
        elif status_of(pending[cid]) not in started_columns:
            ready.append(cid)
    edges = [(d, cid) for cid in order for d in deps[cid]]
    return GraphPlan(
        nodes=order,
        edges=edges,
        layers=layers,
        critical_path=path,
        critical_length=critical_length,
        ready=ready,
        blocked=blocked,
        cycles=cycles,
        unknown=unknown,
        total_work=total,
        parallelism=(total / critical_length) if critical_length else 0.0,
        estimates=estimates,
    )


def _topological(deps: Mapping[str, list[str]], in_cycle: set[str]) -> list[str]:
    """Kahn's algorithm, smallest id first for a stable result; cycle members go last."""
    remaining = {
        cid: {d for d in ds if d not in in_cycle} for cid, ds in deps.items() if cid not in in_cycle
    }
    dependents: dict[str, list[str]] = {cid: [] for cid in remaining}
    for cid, ds in remaining.items():
        for d in ds:
            dependents[d].append(cid)
    heap = [cid for cid, ds in remaining.items() if not ds]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        cid = heapq.heappop(heap)
        order.append(cid)
        for child in dependents[cid]:
            remaining[child].discard(cid)
            if not remaining[child]:
                heapq.heappush(heap, child)
    # Cards downstream of a cycle never become free in Kahn's pass: append them in id order.
    leftovers = sorted(cid for cid in remaining if cid not in order)
    return order + leftovers + sorted(in_cycle)
