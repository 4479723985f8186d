"""Keeping a long run's conversation inside the model's context (``context_tokens``).

Before each model turn, when the request would be larger than the budget (the context less the
tool schemas and room for the answer):

1. older tool outputs are shortened, oldest first: the call stays, and its output keeps its first
   and last lines with a note of what was elided;
2. if that is not enough, the older turns are summarised by the model in one call and replaced by
   that summary.

Never touched: the system prompt, the card's task (the first user message), the reviewer's notes
and messages (kept word for word, after the summary), and the last ``keep_turns`` turns. Each
step is told in the log with the tokens it freed. Tokens are estimated as four characters each,
as the model module does for servers that report no usage.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

DEFAULT_CONTEXT_TOKENS = 128_000
KEEP_TURNS = 4  # the last turns (an assistant message and its tool results) kept whole
KEPT_LINES = 8  # lines kept at each end of a shortened tool output
SHORTEN_ABOVE = 1_200  # characters: shorter outputs are left alone
SUMMARY_PREFIX = "[Summary of your earlier work on this card"
ELIDED = (
    "[... {lines} lines ({chars} characters) of this output elided to stay within the context ...]"
)

SUMMARY_REQUEST = (
    "Summarise the work below for yourself, to continue it with less context: what you found "
    "out (files, functions, facts), what you changed and where, what failed and why, and what "
    "is left to do. Keep file paths, names and error messages exact. Plain text, at most about "
    "{words} words."
)


def estimate_tokens(messages: list[dict] | list) -> int:
    return max(1, len(json.dumps(messages, ensure_ascii=False)) // 4)


@dataclass(frozen=True)
class Fitted:
    """What one fit did: how, and the estimated tokens before and after."""

    how: str
    before: int
    after: int

    def describe(self, limit: int) -> str:
        return (
            f"context: {self.how}; freed ~{_k(self.before - self.after)} tokens "
            f"(~{_k(self.before)} -> ~{_k(self.after)}, limit {_k(limit)})"
        )


class ContextKeeper:
    def __init__(
        self,
        context_tokens: int,
        tools: list[dict],
        summarise: Callable[[list[dict]], Awaitable[str]],
        keep_turns: int = KEEP_TURNS,
    ):
        self.context_tokens = context_tokens
        # Room for the tool schemas (sent with every request) and for the answer.
        reserve = min(4_096, context_tokens // 8)
        self.budget = max(context_tokens - estimate_tokens(tools) - reserve, context_tokens // 4)
        self.summarise = summarise  # one model call: the messages to summarise -> the summary
        self.keep_turns = keep_turns

    async def fit(self, messages: list[dict]) -> list[Fitted]:
        """Shrink ``messages`` in place until it fits the budget; what was done, in order."""
        done: list[Fitted] = []
        before = estimate_tokens(messages)
        if before <= self.budget:
            return done
        count = self._shorten(messages, self._tail_start(messages), before)
        after = estimate_tokens(messages)
        if count:
            done.append(Fitted(f"shortened {count} older tool output(s)", before, after))
        if after > self.budget:
            summarised = await self._summarise(messages)
            if summarised:
                done.append(Fitted(summarised, after, estimate_tokens(messages)))
                after = estimate_tokens(messages)
        if after > self.budget:
            # The kept turns alone are too large: shorten their outputs too, but the last turn's.
            count = self._shorten(messages, self._last_turn_start(messages), after)
            if count:
                how = f"shortened {count} recent tool output(s) (the last turn kept whole)"
                done.append(Fitted(how, after, estimate_tokens(messages)))
        return done

    # ------------------------------------------------------------------ 1: tool outputs

    def _shorten(self, messages: list[dict], end: int, size: int) -> int:
        """Shorten tool outputs before ``end``, oldest first, until under the budget."""
        count = 0
        for index in range(end):
            if size <= self.budget:
                break
            message = messages[index]
            content = message.get("content")
            if message.get("role") != "tool" or not isinstance(content, str):
                continue
            shorter = shortened(content)
            if shorter is None:
                continue
            messages[index] = {**message, "content": shorter}
            size -= (len(content) - len(shorter)) // 4
            count += 1
        return count

    # ------------------------------------------------------------------ 2: older turns

    async def _summarise(self, messages: list[dict]) -> str | None:
        head = self._head_end(messages)
        tail = self._tail_start(messages)
        if tail - head < 2:
            return None  # nothing old enough to summarise
        older = messages[head:tail]
        kept = [m for m in older if _kept_word_for_word(m)]
        summarised = [m for m in older if not _kept_word_for_word(m)]
        if not summarised:
            return None
        turns = sum(1 for m in summarised if m.get("role") == "assistant")
        words = max(100, min(800, self.budget // 20))
        request = [
            {"role": "system", "content": SUMMARY_REQUEST.format(words=words)},
            {"role": "user", "content": _transcript(summarised, self.budget * 2)},
        ]
        summary = (await self.summarise(request)).strip() or "(the model gave no summary)"
        note = {
            "role": "user",
            "content": f"{SUMMARY_PREFIX} ({turns} turns, summarised to stay within the "
            f"context)]\n{summary}",
        }
        messages[head:tail] = [note, *kept]
        return f"summarised {turns} older turn(s) in one model call"

    # ------------------------------------------------------------------ what is protected

    @staticmethod
    def _head_end(messages: list[dict]) -> int:
        """After the system prompt and the card's task (the first user message)."""
        for index, message in enumerate(messages):
            if message.get("role") == "user":
                return index + 1
        return len(messages)

    def _last_turn_start(self, messages: list[dict]) -> int:
        for index in range(len(messages) - 1, -1, -1):
            if messages[index].get("role") == "assistant":
                return index
        return len(messages)

    def _tail_start(self, messages: list[dict]) -> int:
        """Where the last ``keep_turns`` turns start (at an assistant message, so every tool
        result stays with its call)."""
        seen = 0
        for index in range(len(messages) - 1, -1, -1):
            if messages[index].get("role") == "assistant":
                seen += 1
                if seen == self.keep_turns:
                    return index
        return self._head_end(messages)


def shortened(content: str) -> str | None:
    """A tool output's first and last lines with a note of what was elided; None if short."""
    if len(content) <= SHORTEN_ABOVE or ELIDED.split("{")[0] in content:
        return None
    lines = content.splitlines()
    if len(lines) <= 2 * KEPT_LINES:
        # Few long lines: keep characters instead.
        keep = SHORTEN_ABOVE // 2
        note = ELIDED.format(lines=max(len(lines) - 2, 0), chars=len(content) - 2 * keep)
        return f"{content[:keep]}\n{note}\n{content[-keep:]}"
    head, tail = lines[:KEPT_LINES], lines[-KEPT_LINES:]
    elided = lines[KEPT_LINES:-KEPT_LINES]
    note = ELIDED.format(lines=len(elided), chars=sum(len(line) + 1 for line in elided))
    text = "\n".join([*(line[:300] for line in head), note, *(line[:300] for line in tail)])
    return text if len(text) < len(content) else None


def _kept_word_for_word(message: dict) -> bool:
    """The reviewer's notes and messages, and earlier summaries, are never summarised away."""
    if message.get("role") != "user":
        return False
    content = str(message.get("content") or "")
    return content.startswith(
        ("The reviewer sent this card back", "[Message from the reviewer", SUMMARY_PREFIX)
    )


def _transcript(messages: list[dict], max_chars: int) -> str:
    parts = []
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            calls = [
                f"{c['function']['name']}({c['function']['arguments'][:400]})"
                for c in message.get("tool_calls") or []
            ]
            text = str(message.get("content") or "")
            parts.append("assistant: " + " ".join([text, *calls]).strip())
        elif role == "tool":
            parts.append("tool result: " + str(message.get("content") or "")[:2_000])
        else:
            parts.append(f"{role}: " + str(message.get("content") or "")[:2_000])
    text = "\n\n".join(parts)
    if len(text) > max_chars:
        half = max_chars // 2
        text = text[:half] + "\n[... middle of the transcript left out ...]\n" + text[-half:]
    return text


def _k(tokens: int) -> str:
    return f"{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)
