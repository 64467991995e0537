"""What every wire-format module shares: the exchange it reads and the usage it returns.

A provider module is a pure function of one HTTP exchange: it never sees vcrpy, pytest or a
price. It reports the usage exactly as the provider did, normalised to :class:`Tokens`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit

from ..usage import Tokens

__all__ = [
    "Exchange",
    "Extracted",
    "UsageLine",
    "as_int",
    "decode_body",
    "iter_sse",
]

Status = Literal["ok", "missing", "not_billed"]


def decode_body(body: object) -> str:
    """The text of a recorded body: bytes (gzip/deflate sniffed by magic), str, or None."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                pass
        elif data[:1] == b"\x78":
            try:
                data = zlib.decompress(data)
            except zlib.error:
                pass
        return data.decode("utf-8", errors="replace")
    # An already parsed body (a cassette serializer that stores JSON as a mapping).
    return json.dumps(body)


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and the response the code under test received for it.

    Bodies are kept as recorded (bytes, str, or an already parsed JSON value); the
    decoded text and the parsed JSON are computed once, on first use.
    """

    method: str
    url: str
    request_body: object = None
    status: int = 200
    response_body: object = None
    response_headers: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def parts(self) -> tuple[str, str, str]:
        """(host, path, query) of the URL; host lowercased, no port."""
        split = urlsplit(self.url)
        return (split.hostname or "", split.path, split.query)

    @property
    def host(self) -> str:
        return self.parts[0]

    @property
    def path(self) -> str:
        return self.parts[1]

    @property
    def query(self) -> str:
        return self.parts[2]

    @cached_property
    def response_text(self) -> str:
        return decode_body(self.response_body)

    @cached_property
    def request_text(self) -> str:
        return decode_body(self.request_body)

    @cached_property
    def request_json(self) -> Any:
        """The request body parsed as JSON, or None when it is not JSON."""
        body = self.request_body
        if isinstance(body, (dict, list)):
            return body
        return _loads_or_none(self.request_text)

    @cached_property
    def response_json(self) -> Any:
        """The response body parsed as JSON, or None when it is not JSON (an SSE stream)."""
        body = self.response_body
        if isinstance(body, (dict, list)):
            return body
        return _loads_or_none(self.response_text)

    @property
    def content_type(self) -> str:
        for name, value in self.response_headers.items():
            if name.lower() == "content-type":
                if isinstance(value, (list, tuple)):
                    value = value[0] if value else ""
                return str(value).lower()
        return ""


def _loads_or_none(text: str) -> Any:
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def iter_sse(text: str) -> Iterator[tuple[str | None, str]]:
    """Yield ``(event, data)`` for each server-sent event in ``text``.

    Multi-line ``data:`` fields are joined with newlines, as the SSE specification says.
    """
    event: str | None = None
    data: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield event, "\n".join(data)


def as_int(value: object) -> int:
    """A usage count as an int: missing, null and non-numbers count as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return 0


@dataclass(frozen=True)
class UsageLine:
    """One billed line of an interaction: the main response, or an extra billed part."""

    tokens: Tokens
    part: str | None = None
    """None for the response itself; a name (``advisor_message``, ``compaction``) for extra lines."""
    model: str | None = None
    """The model billed for this line when it differs from the response's model."""


@dataclass(frozen=True)
class Extracted:
    """What a provider module read from one LLM exchange."""

    api: str
    """The wire format: ``openai.chat``, ``openai.responses``, ``anthropic.messages``, ``gemini``..."""
    provider: str
    """The provider the wire format belongs to (a genai-prices provider id), used when the host is unknown."""
    model: str | None
    status: Status
    """``ok``: usage was reported (``lines``). ``missing``: a successful response without usage, to
    be estimated. ``not_billed``: an error, a queued background job, or usage already reported
    for the same response (``reason`` says which)."""
    lines: tuple[UsageLine, ...] = ()
    response_id: str | None = None
    reason: str | None = None
    streaming: bool = False
    retrieval: bool = False
    """The exchange fetched a response created earlier (OpenAI Responses ``GET /responses/{id}``,
    a resumed stream): it is billed only if no earlier exchange of the test reported usage for
    the same ``response_id``."""
