"""Help the user slice work well: tighten a vague card into operating instructions, or split a
large card into smaller ones with disjoint files. The model proposes; the user decides. Nothing
here writes a file unless ``apply`` is called."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import git
from .board import BoardStore
from .card import Card
from .frontmatter_edit import set_body, set_keys
from .paths import repo_root

MAX_FILES_IN_CONTEXT = 300
MAX_README_CHARS = 4000

TIGHTEN_SYSTEM = """\
You turn kanban cards into operating instructions for a coding agent that works alone in a git
worktree of the repository. Rewrite the card's body into exactly these markdown sections:
## Task (one or two imperative sentences: what to change, where), ## Files (the paths likely
affected, from the repository's file list), ## Constraints (what must not change), ## Tests (the
command that proves it works), ## Done when (the tests pass and the agent summarised its diff).
Keep every fact the card states; do not invent requirements. If something is unknown, say what to
check. Answer with one JSON object only:
{"body": "<the new markdown body>", "files": ["path", ...], "tests": "<shell command>",
 "constraints": ["...", ...]}"""

SPLIT_SYSTEM = """\
You split a large kanban card into 2 to 5 smaller cards that separate coding agents can work on in
parallel, each in its own git worktree. Each card is one independent diff: give the cards disjoint
"files" wherever possible, and a "depends_on" list (titles of other proposed cards) only where one
really needs another first. Each body uses the sections ## Task, ## Files, ## Constraints, ## Tests,
## Done when. Answer with one JSON object only:
{"cards": [{"title": "...", "body": "...", "files": ["..."], "tests": "...", "depends_on": ["<title>"]}]}"""


class PlanningError(Exception):
    pass


@dataclass(frozen=True)
class TightenProposal:
    card_id: str
    body: str
    files: list[str]
    tests: str
    constraints: list[str] = field(default_factory=list)

    def changes(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if self.files:
            changes["files"] = self.files
        if self.tests:
            changes["tests"] = self.tests
        if self.constraints:
            changes["constraints"] = self.constraints
        return changes

    def new_text(self, card: Card) -> str:
        """The card file as it would be: front matter edited in place, the body replaced."""
        body = self.body if self.body.startswith("\n") else "\n" + self.body
        if not body.endswith("\n"):
            body += "\n"
        return set_body(set_keys(card.text, self.changes()), body)

    def apply(self, store: BoardStore, card: Card) -> Card:
        return store.rewrite(card.id, self.new_text(card), expect=card)


@dataclass(frozen=True)
class SplitCard:
    title: str
    body: str
    files: list[str]
    tests: str
    depends_on: list[str]  # titles of other proposed cards


@dataclass(frozen=True)
class SplitProposal:
    card_id: str
    cards: list[SplitCard]

    def apply(
        self, store: BoardStore, original: Card, accepted: list[int] | None = None
    ) -> list[Card]:
        """Create the accepted cards (all by default) as files; dependencies on cards that were not
        accepted are dropped. The original card is left as it is."""
        chosen = [
            self.cards[i] for i in (accepted if accepted is not None else range(len(self.cards)))
        ]
        created: dict[str, Card] = {}
        for proposal in _dependency_order(chosen):
            meta: dict[str, Any] = {}
            if original.priority:
                meta["priority"] = original.priority
            if original.labels:
                meta["labels"] = original.labels
            if proposal.files:
                meta["files"] = proposal.files
            if proposal.tests:
                meta["tests"] = proposal.tests
            deps = [created[t].id for t in proposal.depends_on if t in created]
            if deps:
                meta["depends_on"] = deps
            meta["split_from"] = original.id
            body = proposal.body if proposal.body.startswith("\n") else "\n" + proposal.body
            created[proposal.title] = store.create(
                proposal.title,
                status=store.settings.first_column,
                meta=meta,
                body=body.rstrip("\n") + "\n",
            )
        return list(created.values())


def repo_context(board_dir: Path) -> str:
    """The repository's file list and README, so the model proposes real paths."""
    root = repo_root(board_dir)
    if root is None:
        return "(no git repository)"
    try:
        files = git.tracked_files(root)
    except git.GitError:
        files = []  # the model still gets the README; the proposal is only less precise
    shown = "\n".join(files[:MAX_FILES_IN_CONTEXT])
    more = (
        f"\n... and {len(files) - MAX_FILES_IN_CONTEXT} more files"
        if len(files) > MAX_FILES_IN_CONTEXT
        else ""
    )
    readme = ""
    for name in ("README.md", "README.rst", "README.txt", "README"):
        path = root / name
        if path.is_file():
            readme = path.read_text(encoding="utf-8", errors="replace")[:MAX_README_CHARS]
            break
    return f"## Repository files\n{shown}{more}\n\n## README\n{readme or '(none)'}\n"


def card_for_model(card: Card) -> str:
    front = "\n".join(
        f"{k}: {json.dumps(v, default=str)}"
        for k, v in card.meta.items()
        if k not in ("run", "order")
    )
    return f"## The card ({card.id}.md)\n{front}\n\n{card.body.strip()}\n"


async def propose_tighten(model, card: Card, context: str) -> TightenProposal:
    data = await _ask(model, TIGHTEN_SYSTEM, f"{context}\n{card_for_model(card)}")
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        raise PlanningError("the model's answer has no 'body'")
    return TightenProposal(
        card.id,
        body.strip() + "\n",
        _strings(data.get("files")),
        _tests(data.get("tests")),
        _strings(data.get("constraints")),
    )


async def propose_split(model, card: Card, context: str) -> SplitProposal:
    data = await _ask(model, SPLIT_SYSTEM, f"{context}\n{card_for_model(card)}")
    raw = data.get("cards")
    if not isinstance(raw, list) or not raw:
        raise PlanningError("the model proposed no cards")
    cards = []
    for item in raw:
        if not isinstance(item, dict) or not str(item.get("title", "")).strip():
            continue
        cards.append(
            SplitCard(
                str(item["title"]).strip(),
                str(item.get("body", "")).strip() + "\n",
                _strings(item.get("files")),
                _tests(item.get("tests")),
                _strings(item.get("depends_on")),
            )
        )
    if not cards:
        raise PlanningError("the model proposed no usable cards (each needs a title)")
    return SplitProposal(card.id, cards)


async def _ask(model, system: str, user: str) -> dict[str, Any]:
    from .agent.model import ModelError

    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        turn = await model.complete(messages, [], on_text=lambda _t: None)
    except ModelError as exc:
        raise PlanningError(exc.message) from None
    return parse_json_answer(turn.text)


def parse_json_answer(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer, tolerating code fences and chatter around it."""
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.DOTALL)
    candidate = fenced.group(1) if fenced else text[text.find("{") : text.rfind("}") + 1]
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError:
        raise PlanningError(f"the model did not answer with JSON: {text.strip()[:200]!r}") from None
    if not isinstance(data, dict):
        raise PlanningError("the model's answer is not a JSON object")
    return data


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return []


def _tests(value: Any) -> str:
    if isinstance(value, list):
        return " && ".join(str(v) for v in value if str(v).strip())
    return str(value).strip() if value else ""


def _dependency_order(cards: list[SplitCard]) -> list[SplitCard]:
    """Dependencies first, so their ids exist when the dependent card is written."""
    by_title = {c.title: c for c in cards}
    ordered: list[SplitCard] = []
    visiting: set[str] = set()

    def visit(card: SplitCard) -> None:
        if card in ordered or card.title in visiting:
            return
        visiting.add(card.title)
        for dep in card.depends_on:
            if dep in by_title:
                visit(by_title[dep])
        ordered.append(card)

    for card in cards:
        visit(card)
    return ordered


def planning_model(settings, environ=None):
    """The model used for planning: the default agent's if it is the built-in kind."""
    from .agent.model import OpenAIModel

    profile = settings.agent_profile()
    if profile.kind != "openai":
        profile = settings.agents["builtin"]
    return OpenAIModel(profile, environ)
