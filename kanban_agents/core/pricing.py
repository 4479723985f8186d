"""What a run costs: tokens times the ``[pricing."<model>"]`` prices of kanban.toml (dollars per
million tokens). A model without prices has no cost (None), never a guessed one: views then show
tokens only. A command agent's cost is what its own output reports (aider's ``Cost:`` line), else
unknown."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# aider: "Tokens: 2.3k sent, 151 received. Cost: $0.0071 message, $0.0214 session."
AIDER_COST = re.compile(r"Cost: \$([0-9.]+) message, \$([0-9.]+) session")


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # part of prompt_tokens the server served from its cache


def cost_of(usage: Usage, model: str, pricing: Mapping[str, Any]) -> float | None:
    """Dollars for ``usage`` on ``model``; None when kanban.toml has no price for it."""
    price = pricing.get(model)
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = price.input if price.cached_input is None else price.cached_input
    dollars = (
        (usage.prompt_tokens - cached) * price.input
        + cached * cached_price
        + usage.completion_tokens * price.output
    )
    return dollars / 1_000_000


def command_agent_cost(output: str) -> float | None:
    """The session cost a command agent printed last (aider), or None."""
    matches = AIDER_COST.findall(output)
    return float(matches[-1][1]) if matches else None


# ---------------------------------------------------------------------------- run records

# ``RunState.extra["costs"]``: one entry per finished run with a known cost, so a card's cost
# over all its runs, and a day's total, are known without reading every run's log.


def record_run_cost(extra: dict[str, Any], run: int, cost: float | None) -> None:
    costs = [c for c in extra.get("costs") or [] if isinstance(c, dict) and c.get("run") != run]
    if cost is not None:
        costs.append({"run": run, "cost": round(cost, 6), "at": time.time()})
    extra["costs"] = costs


def earlier_cost(extra: Mapping[str, Any], run: int) -> float:
    """What the card's runs before ``run`` cost (those with a known cost)."""
    return sum(
        float(c.get("cost") or 0)
        for c in extra.get("costs") or []
        if isinstance(c, dict) and (c.get("run") or 0) < run
    )


def card_cost(extra: Mapping[str, Any]) -> float | None:
    """The card's cost over all its runs with a known cost; None when none is known."""
    costs = [c for c in extra.get("costs") or [] if isinstance(c, dict)]
    return sum(float(c.get("cost") or 0) for c in costs) if costs else None


def cost_since(extras: Iterable[Mapping[str, Any]], since: float) -> float:
    """The cost of the runs that ended after ``since`` (a day's start), over cards."""
    return sum(
        float(c.get("cost") or 0)
        for extra in extras
        for c in extra.get("costs") or []
        if isinstance(c, dict) and float(c.get("at") or 0) >= since
    )


def start_of_today(now: float | None = None) -> float:
    local = time.localtime(now)
    return time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
