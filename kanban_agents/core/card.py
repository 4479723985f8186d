"""A card: one markdown file with YAML front matter. Parsing keeps the raw text, so writes can
change only the lines they mean to (see ``frontmatter_edit``)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .frontmatter_fast import parse_simple

CARD_SUFFIX = ".md"
KNOWN_KEYS = (
    "title",
    "status",
    "order",
    "priority",
    "labels",
    "agent",
    "files",
    "constraints",
    "tests",
    "depends_on",
    "estimate",
    "branch",
    "worktree",
    "run",
    "merged",
)
_FENCE = re.compile(r"^---[ \t]*\r?$")


def digest_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class FrontMatterSpan:
    """Where the front matter sits in the text: lines [start, end) between the fences."""

    open_line: int  # index of the opening '---' line
    close_line: int  # index of the closing '---' line
    body_offset: int  # character offset where the body starts


@dataclass(frozen=True, eq=False)
class Card:
    """A parsed card. ``text`` (the whole file) is read lazily when the card came from the card
    cache: listing a big board needs only the front matter."""

    id: str
    path: Path
    meta: dict[str, Any]
    body_offset: int
    digest: str
    _text: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        text = self._text
        if text is None:
            # From the cache, unchanged on disk by every stat we keep (ctime included). If it
            # changed anyway, the digest check before any write still refuses to clobber it.
            text = self.path.read_bytes().decode("utf-8", "replace")
            object.__setattr__(self, "_text", text)
        return text

    @property
    def body(self) -> str:
        return self.text[self.body_offset :]

    @property
    def title(self) -> str:
        return str(self.meta.get("title", self.id))

    @property
    def status(self) -> str | None:
        value = self.meta.get("status")
        return None if value is None else str(value)

    @property
    def order(self) -> float | None:
        value = self.meta.get("order")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value

    @property
    def priority(self) -> str | None:
        value = self.meta.get("priority")
        return None if value is None else str(value)

    @property
    def priority_rank(self) -> tuple[int, float, str]:
        """Sort key of ``priority``, most urgent first: ``P0``/``p1``/a number (lower first),
        then words (critical, urgent, high, medium, low), then anything else, then none."""
        return priority_rank(self.priority)

    @property
    def labels(self) -> list[str]:
        return _str_list(self.meta.get("labels"))

    @property
    def agent(self) -> str | None:
        value = self.meta.get("agent")
        return None if value is None else str(value)

    @property
    def files(self) -> list[str]:
        return _str_list(self.meta.get("files"))

    @property
    def constraints(self) -> list[str]:
        return _str_list(self.meta.get("constraints"), split_commas=False)

    @property
    def tests(self) -> list[str]:
        """The acceptance commands; all must pass for the card to be done."""
        return _str_list(self.meta.get("tests"), split_commas=False)

    @property
    def depends_on(self) -> list[str]:
        return _str_list(self.meta.get("depends_on"))

    @property
    def estimate(self) -> float:
        value = self.meta.get("estimate", 1)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            return 1.0
        return float(value)

    @property
    def branch(self) -> str | None:
        value = self.meta.get("branch")
        return None if value is None else str(value)

    @property
    def worktree(self) -> str | None:
        value = self.meta.get("worktree")
        return None if value is None else str(value)

    @property
    def run(self) -> dict[str, Any]:
        value = self.meta.get("run")
        return value if isinstance(value, dict) else {}

    @property
    def run_state(self) -> str | None:
        state = self.run.get("state")
        return None if state is None else str(state)


@dataclass(frozen=True)
class CardError:
    """A file in the board directory that could not be read as a card. Never written to."""

    id: str
    path: Path
    message: str
    line: int | None = None
    digest: str = ""
    text: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        title = self.meta.get("title")
        return str(title) if isinstance(title, str) and title else self.path.name

    @property
    def status(self) -> str | None:
        value = self.meta.get("status")
        return value if isinstance(value, str) else None

    def describe(self) -> str:
        where = f"{self.path.name}:{self.line}" if self.line else self.path.name
        return f"{where}: {self.message}"


class CardParseError(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def card_id_for(path: Path) -> str:
    return path.name[: -len(CARD_SUFFIX)] if path.name.endswith(CARD_SUFFIX) else path.stem


def is_card_file_name(name: str) -> bool:
    """Card files are ``*.md`` directly in the board dir; editor swap and temp files are not."""
    if not name.endswith(CARD_SUFFIX) or name.startswith((".", "#", "~")):
        return False
    return not name.endswith(("~", ".tmp", ".swp", ".swx")) and name != "README.md"


_HEAD = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?:.*?\n)??---[ \t]*(?:\r?\n|\r?\Z)", re.DOTALL)


def split_front_matter(text: str) -> FrontMatterSpan:
    """Find the front matter fences. Raises CardParseError with a line number when absent."""
    head = _HEAD.match(text)
    if head is not None:
        # Only the head is split into lines: bodies can be long.
        lines = text[: head.end()].splitlines(keepends=True)
        if (
            len(lines) >= 2
            and _FENCE.match(lines[-1].rstrip("\n"))
            and sum(map(len, lines)) == head.end()
        ):
            return FrontMatterSpan(0, len(lines) - 1, head.end())
    return _split_front_matter_slowly(text)


def _split_front_matter_slowly(text: str) -> FrontMatterSpan:
    lines = text.splitlines(keepends=True)
    first = lines[0].lstrip("\ufeff") if lines else ""
    if not lines or not _FENCE.match(first.rstrip("\n")):
        raise CardParseError(
            "no front matter: a card starts with a '---' line, then YAML with at least "
            "'title:', then another '---' line",
            1,
        )
    offset = len(lines[0])
    for index in range(1, len(lines)):
        if _FENCE.match(lines[index].rstrip("\n")):
            return FrontMatterSpan(0, index, offset + len(lines[index]))
        offset += len(lines[index])
    raise CardParseError("front matter is never closed: add a '---' line after the YAML", 1)


def front_matter_text(text: str, span: FrontMatterSpan) -> str:
    lines = text[: span.body_offset].splitlines(keepends=True)
    return "".join(lines[span.open_line + 1 : span.close_line])


def parse_meta(text: str) -> tuple[dict[str, Any], FrontMatterSpan]:
    span = split_front_matter(text)
    source = front_matter_text(text, span)
    meta = parse_simple(source)
    if meta is None and source.strip():
        meta = _load_yaml(source)
    if meta is None:
        raise CardParseError("front matter is empty: it needs at least 'title:'", 2)
    if not isinstance(meta, dict):
        kind = type(meta).__name__
        raise CardParseError(
            f"front matter must be 'key: value' lines (a mapping), not a {kind}", 2
        )
    return meta, span


# How many values aliases may add to the front matter once each is copied out. Aliases share
# one object when loaded, but everything after (JSON output, lint, comparing metadata) walks the
# copies: nine lines of nine aliases each make 9**9 values, minutes and gigabytes for `list`.
MAX_ALIAS_EXPANSION = 10_000


def _load_yaml(source: str) -> Any:
    """The full YAML parser, for front matter the fast path declines (imported on first use)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in source:  # no alias without one
            _check_alias_expansion(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise CardParseError(*_yaml_problem(exc, source)) from None
    finally:
        loader.dispose()


def _check_alias_expansion(root: Any) -> None:
    """Refuse front matter whose aliases, copied out, add more than MAX_ALIAS_EXPANSION values,
    or that holds a value containing itself. Points at the top-level key where it happens."""
    from yaml.nodes import MappingNode

    sizes: dict[int, int] = {}  # node id -> values once expanded; -1 while walking it
    parts = root.value if isinstance(root, MappingNode) else [(root,)]
    expanded = 0
    for part in parts:
        try:
            expanded += sum(_expanded_size(node, sizes) for node in part)
        except _ContainsItself:
            raise CardParseError(
                "front matter uses a YAML alias inside the value it names (a value that "
                "contains itself): write the value out without the alias",
                part[0].start_mark.line + 2,
            ) from None
        if expanded - len(sizes) > MAX_ALIAS_EXPANSION:
            raise CardParseError(
                f"front matter uses YAML aliases that expand too far (more than "
                f"{MAX_ALIAS_EXPANSION:,} values once copied out): write the values out, or "
                "use fewer '*' aliases",
                part[0].start_mark.line + 2,
            )


class _ContainsItself(Exception):
    pass


def _expanded_size(root: Any, sizes: dict[int, int]) -> int:
    """Nodes under ``root`` with every alias copied out (a Python int never overflows; it has
    at most a few thousand digits, libyaml caps nesting). Iterative: the nesting libyaml allows
    is deeper than Python's recursion limit."""
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = _children(node)
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        known = sizes.get(id(node))
        if known == -1:
            raise _ContainsItself  # met again while walking its own children
        if known is not None:
            continue
        sizes[id(node)] = -1
        stack.append((node, True))
        stack.extend((child, False) for child in children)
    return sizes[id(root)]


def _children(node: Any) -> list[Any]:
    value = node.value
    if isinstance(value, str):
        return []
    if value and isinstance(value[0], tuple):  # a mapping's (key, value) pairs
        return [child for pair in value for child in pair]
    return value


def _yaml_problem(exc: Exception, source: str) -> tuple[str, int | None]:
    """A plain message and the file line for a YAML error. When the parser only notices the
    problem at the end of the front matter (an unclosed bracket), point at where it started."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    if context_mark is not None and (mark is None or mark.line >= source.count("\n")):
        mark = context_mark
    message = f"invalid YAML in front matter: {problem}"
    if context:
        message += f" ({context})"
    return message, (mark.line + 2 if mark is not None else None)


def parse_card(path: Path, data: bytes) -> Card:
    """Parse one card file. Raises CardParseError with a plain message and line if it is bad."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardParseError(f"not UTF-8 text (byte {exc.start})") from None
    meta, span = parse_meta(text)
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        line = _key_line(text, span, "title")
        raise CardParseError("'title:' is missing or empty", line or 2)
    for key in ("labels", "files", "depends_on"):
        value = meta.get(key)
        if value is not None and not isinstance(value, str | list):
            raise CardParseError(f"'{key}:' must be a list", _key_line(text, span, key))
    return Card(
        id=card_id_for(path),
        path=path,
        meta=meta,
        body_offset=span.body_offset,
        digest=digest_of(data),
        _text=text,
    )


def slugify(title: str, max_length: int = 48) -> str:
    """A card id from its title: lower-case letters and digits of any script, words joined by
    '-' (NFC, so 'é' typed either way is one id). An id is a file name and part of a git branch
    name; letters, digits and combining marks are safe in both, while every character git or a
    file system treats specially ('.', '/', '~', '^', ':', spaces, emoji ...) becomes a '-'."""
    kept = [ch if _slug_char(ch) else "-" for ch in unicodedata.normalize("NFC", title.lower())]
    slug = "-".join(part for part in "".join(kept).split("-") if part)
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug.strip("-") or "card"


def _slug_char(ch: str) -> bool:
    # L: letters, N: digits, M: the vowel signs and accents that are part of a word (Devanagari)
    if ch.isascii():
        return ch.isalnum()
    return unicodedata.category(ch)[0] in "LNM"


def _key_line(text: str, span: FrontMatterSpan, key: str) -> int | None:
    lines = text.splitlines()
    for index in range(span.open_line + 1, span.close_line):
        if re.match(rf"^['\"]?{re.escape(key)}['\"]?\s*:", lines[index]):
            return index + 1
    return None


def _str_list(value: Any, split_commas: bool = True) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        if split_commas:
            return [part.strip() for part in value.split(",") if part.strip()]
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [str(value)]


_PRIORITY_WORDS = {"critical": 0, "blocker": 0, "urgent": 1, "high": 2, "medium": 3, "normal": 3,
                   "low": 4, "lowest": 5}  # fmt: skip


def priority_rank(priority: str | None) -> tuple[int, float, str]:
    """(kind, value, text): numbered priorities (P0, p2, 1) first by number, then the usual
    words by urgency, then other text alphabetically, then cards without a priority."""
    if priority is None or not priority.strip():
        return (3, 0.0, "")
    text = priority.strip().lower()
    number = text[1:] if text[:1] == "p" else text
    try:
        return (0, float(number), text)
    except ValueError:
        pass
    if text in _PRIORITY_WORDS:
        return (1, float(_PRIORITY_WORDS[text]), text)
    return (2, 0.0, text)
