"""What a request's prompt is made of, and where consecutive requests stop sharing a prefix.

A prompt is split into four segments, in the order the providers cache them: the tool
definitions, the system text (instructions), the earlier conversation, and the latest turn (the
messages after the model's last reply: the new question, or the tool results it asked for).
Token counts per segment come from tiktoken for every provider: an estimate of each segment's
share of the input, never a billed count. Nothing here is run unless a change must be explained
or a baseline written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..fmt import SEGMENT_LABELS
from .base import Exchange

__all__ = ["SEGMENTS", "Divergence", "find_divergence", "prompt_parts", "segment_tokens"]

#: The segments of a prompt, in prompt order.
SEGMENTS = ("tools", "system", "history", "latest")

_SYSTEM_ROLES = frozenset({"system", "developer"})
_MODEL_ROLES = frozenset({"assistant", "model"})


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, in order; keys are skipped (except a tool's name, kept as a value)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("type", "role", "cache_control", "id", "tool_call_id", "tool_use_id", "signature"):
                continue
            yield from _strings(item)


def _text(value: Any) -> str:
    return "\n".join(text for text in _strings(value) if text)


def prompt_parts(exchange: Exchange) -> dict[str, str] | None:
    """The text of each segment of an LLM request (empty segments left out); None when the body
    is not a prompt this module understands (an embedding, an image, a GET)."""
    body = exchange.request_json
    if not isinstance(body, dict):
        return None
    system: list[Any] = []
    for key in ("instructions", "system", "systemInstruction", "system_instruction"):
        if body.get(key):
            system.append(body[key])
    tools: list[Any] = [body[key] for key in ("tools", "functions") if body.get(key)]
    tool_config = body.get("toolConfig")
    if isinstance(tool_config, dict) and tool_config.get("tools"):
        tools.append(tool_config["tools"])
    messages: Any = next((body[key] for key in ("messages", "contents", "input") if key in body), None)
    if messages is None and not system:
        return None
    if isinstance(messages, (str, dict)):
        messages = [messages]
    if not isinstance(messages, list):
        messages = []
    turns: list[Any] = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") in _SYSTEM_ROLES:
            system.append(message.get("content"))
        else:
            turns.append(message)
    last_reply = max(
        (i for i, turn in enumerate(turns) if isinstance(turn, dict) and turn.get("role") in _MODEL_ROLES), default=-1
    )
    parts = {
        "tools": _text(tools),
        "system": _text(system),
        "history": _text(turns[: last_reply + 1]),
        "latest": _text(turns[last_reply + 1 :]),
    }
    return {name: text for name, text in parts.items() if text}


def segment_tokens(parts: Mapping[str, str], model: str | None) -> dict[str, int]:
    """Tokens per segment by tiktoken; four characters a token when its encoding cannot be loaded."""
    from .estimate import count

    counts: dict[str, int] = {}
    for name in SEGMENTS:
        text = parts.get(name)
        if not text:
            continue
        try:
            counts[name] = count(text, model)
        except Exception:  # the tokenizer's data cannot be had: a share needs no exact count
            counts[name] = max(1, len(text) // 4)
    return counts


@dataclass(frozen=True)
class Divergence:
    """Where two consecutive requests of a test stop sharing a prompt prefix: the cache breaks there."""

    first: int
    """The earlier request's number in the test, from 1."""
    second: int
    segment: str
    """The segment the first difference falls in."""
    offset: int
    """Characters into that segment."""
    shared: int
    """Characters the two prompts share from the start."""
    before: str
    """The earlier request's text around the difference."""
    after: str

    def describe(self) -> str:
        label = SEGMENT_LABELS.get(self.segment, self.segment)
        return (
            f"requests {self.first} and {self.second} stop sharing a prefix at character {self.offset:,} "
            f"of the {label} ({self.shared:,} characters shared): {self.before!r} -> {self.after!r}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "after": self.after,
            "before": self.before,
            "first": self.first,
            "offset": self.offset,
            "second": self.second,
            "segment": self.segment,
            "shared": self.shared,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Divergence:
        return cls(
            first=int(data["first"]),
            second=int(data["second"]),
            segment=str(data["segment"]),
            offset=int(data["offset"]),
            shared=int(data["shared"]),
            before=str(data["before"]),
            after=str(data["after"]),
        )


_CONTEXT = 24


def _flat(parts: Mapping[str, str]) -> tuple[str, list[tuple[str, int]]]:
    """The prompt as one text in segment order, and where each segment starts in it."""
    text = ""
    starts: list[tuple[str, int]] = []
    for name in SEGMENTS:
        if name in parts:
            starts.append((name, len(text)))
            text += parts[name] + "\n"
    return text, starts


def find_divergence(prompts: Sequence[tuple[int, str | None, Mapping[str, str]]]) -> Divergence | None:
    """The earliest point where a request stops extending the prompt of the one before it.

    ``prompts`` are ``(number, model, parts)`` in the order the test sent them. Only requests
    to the same model share a cache. A request that extends the one before (an agent loop
    appending turns) shares all of it; a request that changes an earlier part breaks the cache
    at the first character that differs. The break nearest the start is returned.
    """
    earliest: Divergence | None = None
    previous: dict[str | None, tuple[int, str]] = {}
    for number, model, parts in prompts:
        text, starts = _flat(parts)
        before = previous.get(model)
        previous[model] = (number, text)
        if before is None:
            continue
        first, old = before
        shared = _common_prefix(old, text)
        if shared >= len(old) - 1:  # the new prompt extends the old one (its trailing newline aside)
            continue
        if earliest is not None and shared >= earliest.shared:
            continue
        segment, start = next(((name, at) for name, at in reversed(starts) if at <= shared), starts[0])
        earliest = Divergence(
            first=first,
            second=number,
            segment=segment,
            offset=shared - start,
            shared=shared,
            before=old[max(0, shared - _CONTEXT) : shared + _CONTEXT],
            after=text[max(0, shared - _CONTEXT) : shared + _CONTEXT],
        )
    return earliest


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix, by halving (fast on long prompts)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[low:mid] == b[low:mid]:
            low = mid
        else:
            high = mid - 1
    return low
