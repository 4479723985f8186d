"""Generate a realistic board of N card files, deterministically from a seed.

Run:
    . .venv/bin/activate
    python bench/gen_board.py /tmp/board-1k -n 1000 --seed 1

Goal: give the other bench scripts boards that look like real ones: varied titles, labels,
priorities, files, tests and constraints, bodies of 50-400 words, statuses spread over the four
default columns with shuffled ``order`` values, and some ``depends_on`` links. No
``kanban.toml`` is written (the defaults apply).

Every title starts with a short unique tag, ``C00001 ...``, so a script watching a terminal can
find a given card even when its title is truncated to the card's width. ``generate_board``
returns a ``BoardInfo`` that says which card each column shows first.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = ("todo", "in-progress", "review", "done")
COLUMN_WEIGHTS = (0.40, 0.15, 0.15, 0.30)
TAG_WIDTH = 5  # C00001 .. C99999

VERBS = ("Add", "Fix", "Refactor", "Speed up", "Document", "Test", "Remove", "Rename", "Split",
         "Harden", "Cache", "Log", "Validate", "Migrate", "Simplify", "Retry", "Paginate")  # fmt: skip
OBJECTS = ("login rate limiting", "session expiry", "CSV export", "search index", "webhook retries",
           "password reset flow", "audit log", "billing reconciliation", "image thumbnails",
           "feature flags", "tenant isolation", "API pagination", "email templates",
           "background job queue", "config loader", "health checks", "user avatars",
           "invoice PDFs", "OAuth callback", "metrics endpoint", "dark mode toggle",
           "notification settings", "import wizard", "cache invalidation", "DB connection pool")  # fmt: skip
QUALIFIERS = ("", "", "", "for admins", "in the mobile API", "on slow networks", "behind the proxy",
              "for large accounts", "in the worker", "before release", "without downtime")  # fmt: skip
LABELS = ("auth", "api", "ui", "db", "perf", "docs", "infra", "billing", "search", "security",
          "tests", "mobile", "ops", "tech-debt")  # fmt: skip
MODULES = ("auth", "billing", "search", "export", "jobs", "api", "models", "views", "config",
           "mail", "storage", "metrics", "webhooks", "users", "flags")  # fmt: skip
CONSTRAINTS = ("Do not change public API signatures.", "Keep the database schema unchanged.",
               "No new dependencies.", "Keep response times under 200 ms.",
               "Stay backwards compatible with v2 clients.")  # fmt: skip
WORDS = ("the", "handler", "request", "should", "return", "a", "clear", "error", "when", "input",
         "is", "missing", "and", "log", "context", "so", "support", "can", "trace", "it", "we",
         "need", "to", "keep", "existing", "behaviour", "for", "current", "users", "while", "new",
         "path", "covers", "edge", "cases", "like", "empty", "lists", "timeouts", "retries",
         "unicode", "names", "large", "files", "concurrent", "writes", "check", "that", "tests",
         "cover", "both", "branches", "measure", "before", "after", "change", "document", "in",
         "README", "update", "changelog", "entry", "with", "migration", "notes")  # fmt: skip


@dataclass
class CardSpec:
    id: str
    title: str
    status: str
    order: int
    path: Path


@dataclass
class BoardInfo:
    root: Path
    cards: list[CardSpec] = field(default_factory=list)

    def column(self, status: str) -> list[CardSpec]:
        """The cards of a column in display order (all generated cards have an ``order``)."""
        return sorted((c for c in self.cards if c.status == status), key=lambda c: (c.order, c.id))

    def first_in(self, status: str) -> CardSpec:
        return self.column(status)[0]

    @property
    def first_card(self) -> CardSpec:
        """The card the app selects on start: the first of the first column."""
        return self.first_in(COLUMNS[0])


def tag(index: int) -> str:
    return f"C{index:0{TAG_WIDTH}d}"


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48].rstrip("-")


def _sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    return chosen[0].capitalize() + " " + " ".join(chosen[1:]) + "."


def _body(rng: random.Random, words: int, title: str, deps: list[str]) -> str:
    """A body of about ``words`` words: a Task section, maybe Notes, and Done-when bullets."""
    paragraphs: list[str] = []
    left = words
    while left > 0:
        size = min(left, rng.randint(30, 90))
        sentences, count = [], 0
        while count < size:
            n = min(size - count, rng.randint(6, 16))
            sentences.append(_sentence(rng, n))
            count += n
        paragraphs.append(" ".join(sentences))
        left -= size
    done = [f"- {_sentence(rng, rng.randint(4, 9))}" for _ in range(rng.randint(1, 4))]
    parts = ["", "## Task", "", paragraphs[0], ""]
    if len(paragraphs) > 1:
        parts += ["## Notes", "", *(p + "\n" for p in paragraphs[1:])]
    if deps:
        parts += [f"Builds on {', '.join(deps)}; {title.lower()} reuses that work.", ""]
    parts += ["## Done when", "", *done, ""]
    return "\n".join(parts)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' if ":" in value else value


def card_text(
    rng: random.Random, index: int, status: str, order: int, ids: list[str]
) -> tuple[str, str]:
    """(title, file text) of one generated card."""
    qualifier = rng.choice(QUALIFIERS)
    title = f"{tag(index)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}" + (
        f" {qualifier}" if qualifier else ""
    )
    lines = ["---", f"title: {_quote(title)}", f"status: {status}", f"order: {order}"]
    if rng.random() < 0.85:
        lines.append(f"priority: P{rng.choices(range(4), weights=(1, 3, 5, 3))[0]}")
    labels = rng.sample(LABELS, rng.choice((0, 1, 1, 2, 2, 3)))
    if labels:
        lines.append(f"labels: [{', '.join(labels)}]")
    if rng.random() < 0.9:
        module = rng.choice(MODULES)
        files = [f"src/{module}.py", f"tests/test_{module}.py"][: rng.randint(1, 2)]
        lines.append(f"files: [{', '.join(files)}]")
        if rng.random() < 0.8:
            lines.append(f"tests: pytest -q tests/test_{module}.py")
    if rng.random() < 0.6:
        lines.append(f"constraints: {rng.choice(CONSTRAINTS)}")
    deps: list[str] = []
    if ids and rng.random() < 0.15:
        deps = rng.sample(ids[-200:], min(len(ids[-200:]), rng.randint(1, 2)))
        lines.append(f"depends_on: [{', '.join(deps)}]")
    if status == "review" and rng.random() < 0.5:
        lines += ["run:", "  state: review", f"  tokens: {rng.randint(2_000, 90_000)}"]
    elif status == "done" and rng.random() < 0.3:
        lines += ["run:", "  state: merged", f"  tokens: {rng.randint(2_000, 90_000)}"]
    lines.append("---")
    body = _body(rng, rng.randint(50, 400), title, deps)
    return title, "\n".join(lines) + "\n" + body


def generate_board(directory: Path | str, n: int, seed: int = 0) -> BoardInfo:
    """Write ``n`` card files into ``directory`` (created if needed) and describe them."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    statuses = rng.choices(COLUMNS, weights=COLUMN_WEIGHTS, k=n)
    # Shuffled orders per column, so display order differs from file-name order.
    orders: dict[int, int] = {}
    for status in COLUMNS:
        members = [i for i, s in enumerate(statuses) if s == status]
        slots = list(range(1, len(members) + 1))
        rng.shuffle(slots)
        for i, slot in zip(members, slots, strict=True):
            orders[i] = slot * 1000
    info = BoardInfo(root.resolve())
    ids: list[str] = []
    for i in range(n):
        title, text = card_text(rng, i + 1, statuses[i], orders[i], ids)
        card_id = slug(title)
        path = root / f"{card_id}.md"
        path.write_text(text, encoding="utf-8")
        ids.append(card_id)
        info.cards.append(CardSpec(card_id, title, statuses[i], orders[i], path.resolve()))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("-n", "--cards", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clean", action="store_true", help="empty the directory first")
    args = parser.parse_args()
    if args.clean and args.directory.exists():
        shutil.rmtree(args.directory)
    start = time.perf_counter()
    info = generate_board(args.directory, args.cards, args.seed)
    elapsed = time.perf_counter() - start
    counts = {s: len(info.column(s)) for s in COLUMNS}
    print(f"wrote {len(info.cards)} cards to {info.root} in {elapsed:.2f} s: "
          + ", ".join(f"{s} {c}" for s, c in counts.items()))  # fmt: skip
    print(f"first card shown: {info.first_card.title!r} ({info.first_card.id}.md)")


if __name__ == "__main__":
    main()
