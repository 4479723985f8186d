"""Minimal-diff edits of a card's front matter.

A move must show in ``git diff`` as its ``status:``/``order:`` lines only, so we never re-emit the
YAML: each top-level key is located as a block of lines and only that block is replaced. Every
edit is verified by parsing the result; if the file is written in a style the line editor cannot
handle safely (flow-mapping front matter, duplicate keys ...), ruamel.yaml's round-trip mode is
the fallback, which still keeps comments and key order.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

from .card import CardParseError, front_matter_text, parse_meta, split_front_matter

DELETE = object()  # sentinel value: remove the key

_KEY_LINE = re.compile(
    r"""^(?P<key>"[^"]*"|'[^']*'|[^\s#'"\-?:,\[\]{}&*!|>%@`][^:#]*?)\s*:(?:\s|$)"""
)
_INLINE_COMMENT = re.compile(r"\s+#[^'\"]*$")


class FrontMatterEditError(Exception):
    pass


def set_keys(text: str, updates: dict[str, Any]) -> str:
    """Return ``text`` with top-level front-matter keys set (or removed with ``DELETE``).

    Lines outside the edited keys' own lines are left byte-for-byte as they were.
    """
    if not updates:
        return text
    old_meta, span = parse_meta(text)
    expected = dict(old_meta)
    for key, value in updates.items():
        if value is DELETE:
            expected.pop(key, None)
        else:
            expected[key] = value
    try:
        result = _line_edit(text, span, updates)
        if _meta_of(result) == expected:
            return result
    except FrontMatterEditError:
        pass
    result = _ruamel_edit(text, updates)
    if _meta_of(result) != expected:
        raise FrontMatterEditError("could not update the front matter without changing other keys")
    return result


def set_body(text: str, body: str) -> str:
    """Replace everything after the closing fence; the front matter stays byte-for-byte."""
    span = split_front_matter(text)
    return text[: span.body_offset] + body


def render_card(meta: dict[str, Any], body: str) -> str:
    """Text for a new card file: one line per key where it fits. Existing files are edited in
    place with ``set_keys``, never re-rendered."""
    import yaml  # on first use: see frontmatter_fast

    lines = []
    for key, value in meta.items():
        try:
            lines.append(f"{_plain_key(key)}: {format_value(value)}\n")
        except FrontMatterEditError:
            lines.append(yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True))
    if body and not body.startswith("\n"):
        body = "\n" + body
    return "---\n" + "".join(lines) + "---\n" + body


def format_value(value: Any) -> str:
    """One-line YAML for a scalar, list or mapping (flow style)."""
    import yaml  # on first use: see frontmatter_fast

    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        value = int(value)
    dumped = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=math.inf, sort_keys=False
    )
    if dumped.endswith("\n...\n"):
        dumped = dumped[: -len("\n...\n")]
    dumped = dumped.rstrip("\n")
    if "\n" in dumped:
        raise FrontMatterEditError("value does not fit on one line")
    return dumped


def _meta_of(text: str) -> dict[str, Any]:
    try:
        return parse_meta(text)[0]
    except CardParseError as exc:
        raise FrontMatterEditError(exc.message) from None


def _line_edit(text: str, span, updates: dict[str, Any]) -> str:
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines[span.open_line].endswith("\r\n") else "\n"
    start, end = span.open_line + 1, span.close_line
    blocks = _key_blocks(lines, start, end)
    names = [name for name, _, _ in blocks]
    if len(set(names)) != len(names):
        raise FrontMatterEditError("duplicate keys")
    by_name = {name: (first, last) for name, first, last in blocks}

    replacements: dict[int, tuple[int, list[str]]] = {}  # first line -> (last line, new lines)
    appended: list[str] = []
    for key, value in updates.items():
        if key in by_name:
            first, last = by_name[key]
            if value is DELETE:
                replacements[first] = (last, [])
            else:
                replacements[first] = (
                    last,
                    [_key_line(lines[first], key, value, last == first) + newline],
                )
        elif value is not DELETE:
            appended.append(f"{_plain_key(key)}: {format_value(value)}{newline}")

    out: list[str] = lines[:start]
    index = start
    while index < end:
        if index in replacements:
            last, new_lines = replacements[index]
            out.extend(new_lines)
            index = last + 1
        else:
            out.append(lines[index])
            index += 1
    if appended:
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += newline
        out.extend(appended)
    out.extend(lines[end:])
    return "".join(out)


def _key_blocks(lines: list[str], start: int, end: int) -> list[tuple[str, int, int]]:
    """Top-level keys as (name, first line, last line) inclusive, continuation lines included."""
    blocks: list[tuple[str, int, int]] = []
    index = start
    while index < end:
        line = lines[index]
        match = _KEY_LINE.match(line)
        if not match:
            stray = line.strip() and not line.lstrip().startswith("#") and not line[0].isspace()
            if stray and not line.startswith("- ") and line.rstrip("\r\n") != "-":
                raise FrontMatterEditError(f"unexpected line {index + 1}")
            index += 1
            continue
        name = match.group("key").strip()
        if name[:1] in "'\"":
            name = name[1:-1]
        last = index
        probe = index + 1
        while probe < end:
            nxt = lines[probe]
            stripped = nxt.strip()
            if not stripped:
                probe += 1
                continue
            if nxt[0].isspace() or nxt.startswith("- ") or nxt.rstrip("\r\n") == "-":
                last = probe
                probe += 1
                continue
            break
        blocks.append((name, index, last))
        index = last + 1
    return blocks


def _key_line(old_line: str, key: str, value: Any, single_line: bool) -> str:
    match = _KEY_LINE.match(old_line)
    assert match is not None
    head = old_line[: match.end("key")]
    rest = old_line[match.end("key") :].rstrip("\r\n")
    colon = rest.index(":")
    old_value = rest[colon + 1 :]
    comment = ""
    if single_line:
        found = _INLINE_COMMENT.search(old_value)
        if found:
            comment = found.group(0)
            old_value = old_value[: found.start()]
    formatted = _keep_quote_style(old_value.strip(), value)
    spacing = re.match(r"\s*", old_value).group(0) or " "
    return f"{head}{rest[: colon + 1]}{spacing}{formatted}{comment}"


def _keep_quote_style(old_value: str, value: Any) -> str:
    formatted = format_value(value)
    if isinstance(value, str) and old_value[:1] in ("'", '"'):
        quote = old_value[0]
        if quote == '"' and '"' not in value and "\\" not in value and value.isprintable():
            return f'"{value}"'
        if quote == "'" and value.isprintable():
            return "'" + value.replace("'", "''") + "'"
    return formatted


def _plain_key(key: str) -> str:
    import yaml  # on first use: see frontmatter_fast

    if re.fullmatch(r"[A-Za-z_][\w-]*", key) and yaml.safe_load(key) == key:
        return key
    return format_value(key)


def _ruamel_edit(text: str, updates: dict[str, Any]) -> str:
    from ruamel.yaml import YAML  # only needed for unusual files

    span = split_front_matter(text)
    source = front_matter_text(text, span)
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    data = rt.load(source)
    for key, value in updates.items():
        if value is DELETE:
            data.pop(key, None)
        else:
            data[key] = value
    buffer = io.StringIO()
    rt.dump(data, buffer)
    lines = text.splitlines(keepends=True)
    head = "".join(lines[: span.open_line + 1])
    tail = "".join(lines[span.close_line :])
    return head + buffer.getvalue() + tail
