"""A fast path for the front matter most cards have: ``key: scalar``, ``key: [a, b]`` and
``key:`` followed by ``- item`` lines.

Even libyaml costs about 100 µs per card, which is most of the time ``list`` spends on a
10,000-card board. Simple lines are parsed here with PyYAML's own scalar resolver and
constructors, so a value means exactly what it means to PyYAML (``yes`` is true, ``1e3`` a float,
``2026-01-01`` a date). Anything else (quotes with escapes, nested mappings, anchors, multi-line
scalars, tabs, a comment inside a quoted value ...) returns None and the caller uses the full
YAML parser. A differential property test holds the two to the same results.
"""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: +|$)")
_STR_TAG = "tag:yaml.org,2002:str"
# Characters that give a plain scalar's first character a special meaning in YAML.
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
# PyYAML's resolver and constructors, imported on first use: importing yaml compiles a dozen
# regular expressions, time a `list` served from the card cache need not spend.
_resolver: Any = None
_constructor: Any = None
_ScalarNode: Any = None
_ConstructorError: type[Exception] = Exception
_IMPLICIT_FIRST_CHARS: frozenset[str] = frozenset()


def _load_yaml() -> None:
    global _resolver, _constructor, _ScalarNode, _ConstructorError, _IMPLICIT_FIRST_CHARS
    from yaml.constructor import ConstructorError, SafeConstructor
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    _constructor, _ScalarNode, _ConstructorError = SafeConstructor(), ScalarNode, ConstructorError
    _IMPLICIT_FIRST_CHARS = frozenset(
        ch for ch in Resolver.yaml_implicit_resolvers if ch is not None
    ) | {""}
    _resolver = Resolver()  # last: it marks the whole set as loaded


_STRING_KEYS: set[str] = set()  # keys already known to be plain strings to YAML


def _string_key(key: str) -> bool:
    if key in _STRING_KEYS:
        return True
    if key[0] in _IMPLICIT_FIRST_CHARS and _resolve(key) != _STR_TAG:
        return False
    if len(_STRING_KEYS) < 1000:
        _STRING_KEYS.add(key)
    return True


def _resolve(text: str) -> str:
    return _resolver.resolve(_ScalarNode, text, (True, False))


def parse_simple(source: str) -> dict[str, Any] | None:
    """The front matter as PyYAML would load it, or None when it is not simple enough."""
    if _resolver is None:
        _load_yaml()
    if "\t" in source or "\r" in source:
        return None
    if not source.replace("\n", "").isprintable():
        return None  # YAML rejects some characters Python prints: let the full parser decide
    lines = source.split("\n")
    result: dict[str, Any] = {}
    index, count = 0, len(lines)
    while index < count:
        line = lines[index]
        index += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0] == " " or line.startswith(("-", "---", "...")):
            return None  # a continuation we did not expect, or a document marker
        match = _KEY.match(line)
        if match is None:
            return None
        key = match.group(1)
        if not _string_key(key):
            return None  # keys like `yes` or `null` are not strings to YAML
        rest = _strip_comment(line[match.end() :])
        if rest is None:
            return None
        if rest:
            value = _cached_value(rest)
            if value is _NOT_SIMPLE:
                return None
            following = lines[index] if index < count else ""
            if following[:1] == " " or (not following.strip() and _continues(lines, index)):
                return None  # a multi-line scalar or a nested block: not simple
            result[key] = value
            continue
        if _next_is_mapping(lines, index):
            items, index = _block_mapping(lines, index)
        else:
            items, index = _block_list(lines, index)
        if items is _NOT_SIMPLE:
            return None
        result[key] = items
    return result or None


_NOT_SIMPLE = object()
_VALUES: dict[str, Any] = {}  # inline value text -> parsed (boards repeat statuses, labels, ...)


def _cached_value(text: str) -> Any:
    cached = _VALUES.get(text)
    if cached is None:
        cached = _inline_value(text)
        if isinstance(cached, list):
            cached = tuple(cached)
        elif isinstance(cached, dict):
            return cached  # rare and mutable: not cached
        if len(_VALUES) < 50_000:
            _VALUES[text] = cached
    return list(cached) if isinstance(cached, tuple) else cached


def _continues(lines: list[str], index: int) -> bool:
    """Is the next non-blank line indented (a multi-line scalar, or a nested block)?"""
    while index < len(lines):
        line = lines[index]
        if line.strip():
            return line[0] == " "
        index += 1
    return False


def _next_is_mapping(lines: list[str], index: int) -> bool:
    while index < len(lines):
        stripped = lines[index].strip()
        if stripped and not stripped.startswith("#"):
            return lines[index][0] == " " and not stripped.startswith("-")
        index += 1
    return False


def _block_mapping(lines: list[str], index: int) -> tuple[Any, int]:
    """One level of ``  key: scalar`` lines under a key (e.g. the ``run:`` record)."""
    mapping: dict[str, Any] = {}
    indent: int | None = None
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        width = len(line) - len(line.lstrip(" "))
        if width == 0:
            break
        if indent is None:
            indent = width
        match = _KEY.match(stripped)
        if width != indent or match is None or not _string_key(match.group(1)):
            return _NOT_SIMPLE, index
        rest = _strip_comment(stripped[match.end() :])
        if not rest:
            return _NOT_SIMPLE, index
        value = _inline_value(rest)
        if value is _NOT_SIMPLE or isinstance(value, list | dict):
            return _NOT_SIMPLE, index
        mapping[match.group(1)] = value
        index += 1
    return mapping, index


def _block_list(lines: list[str], index: int) -> tuple[Any, int]:
    """``- item`` lines after ``key:``; no items at all means the value is null."""
    items: list[Any] = []
    indent: int | None = None
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):  # comments never end a YAML collection
            index += 1
            continue
        width = len(line) - len(line.lstrip(" "))
        if not stripped.startswith("- ") and stripped != "-":
            if width == 0:
                break  # the next key
            return _NOT_SIMPLE, index
        if indent is None:
            indent = width
        elif width != indent:
            return _NOT_SIMPLE, index
        text = _strip_comment(stripped[1:].strip())
        if text is None or not text:
            return _NOT_SIMPLE, index
        value = _inline_value(text)
        if value is _NOT_SIMPLE or isinstance(value, list):
            return _NOT_SIMPLE, index
        items.append(value)
        index += 1
        if _continues_item(lines, index, width):
            return _NOT_SIMPLE, index
    return (items if items else None), index


def _continues_item(lines: list[str], index: int, item_indent: int) -> bool:
    while index < len(lines):
        line = lines[index]
        if line.strip():
            width = len(line) - len(line.lstrip(" "))
            return width > item_indent
        index += 1
    return False


def _strip_comment(text: str) -> str | None:
    """The value without a trailing `` # comment``; None if a comment may sit inside quotes."""
    text = text.strip()
    if not text:
        return ""
    if text[0] in "'\"":
        quote = text[0]
        end = text.find(quote, 1)
        if quote == "'":
            while end != -1 and text[end + 1 : end + 2] == "'":
                end = text.find("'", end + 2)
        if end == -1:
            return None
        tail = text[end + 1 :].strip()
        if tail and not tail.startswith("#"):
            return None
        return text[: end + 1]
    position = text.find(" #")
    if text.startswith("#"):
        return ""
    return text[:position].rstrip() if position != -1 else text


def _inline_value(text: str) -> Any:
    first = text[0]
    if first == "[":
        return _flow_list(text)
    if first == "{":
        return _flow_mapping(text)
    if first == "'":
        return _single_quoted(text)
    if first == '"':
        inner = text[1:-1]
        if len(text) < 2 or text[-1] != '"' or '"' in inner or "\\" in inner:
            return _NOT_SIMPLE
        return inner
    return _plain(text)


def _plain(text: str) -> Any:
    if text[0] in _INDICATORS or text.endswith(":") or ": " in text or " #" in text:
        return _NOT_SIMPLE
    if text[0] not in _IMPLICIT_FIRST_CHARS:
        return text  # no implicit type starts with this character: a string, as PyYAML decides
    tag = _resolve(text)
    if tag == _STR_TAG:
        return text
    try:
        return _constructor.yaml_constructors[tag](_constructor, _ScalarNode(tag, text))
    except (KeyError, _ConstructorError, ValueError):
        return _NOT_SIMPLE


def _single_quoted(text: str) -> Any:
    if len(text) < 2 or text[-1] != "'":
        return _NOT_SIMPLE
    inner = text[1:-1]
    if "'" in inner.replace("''", ""):
        return _NOT_SIMPLE
    return inner.replace("''", "'")


def _flow_mapping(text: str) -> Any:
    """``{state: review, n: 1}``: plain keys and plain values only."""
    if not text.endswith("}") or any(c in text[1:-1] for c in "{}[]'\"#"):
        return _NOT_SIMPLE
    inner = text[1:-1].strip()
    mapping: dict[str, Any] = {}
    if not inner:
        return mapping
    for part in inner.split(","):
        part = part.strip()
        key, colon, value = part.partition(": ")
        if not colon or not _KEY.fullmatch(key + ": ") or not _string_key(key) or not value.strip():
            return _NOT_SIMPLE
        parsed = _plain(value.strip())
        if parsed is _NOT_SIMPLE:
            return _NOT_SIMPLE
        mapping[key] = parsed
    return mapping


def _flow_list(text: str) -> Any:
    if not text.endswith("]") or "{" in text or "'" in text or '"' in text:
        return _NOT_SIMPLE
    inner = text[1:-1].strip()
    if "[" in inner or "]" in inner:
        return _NOT_SIMPLE
    if not inner:
        return []
    parts = [p.strip() for p in inner.split(",")]
    if parts and not parts[-1]:
        parts.pop()  # a trailing comma is allowed
    items = []
    for part in parts:
        if not part or part.startswith("#"):
            return _NOT_SIMPLE
        value = _plain(part)
        if value is _NOT_SIMPLE:
            return _NOT_SIMPLE
        items.append(value)
    return items
