"""What every wire-format module shares: the exchange it reads and the usage it returns.

A provider module is a pure function of one HTTP exchange: it never sees vcrpy, pytest or a
price. It reports the usage exactly as the provider did, normalised to :class:`Tokens`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit

from ..usage import Dims, Tokens

__all__ = [
    "Exchange",
    "Extracted",
    "UsageLine",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "collect_text",
    "decode_body",
    "first_sse",
    "is_llm_host",
    "iter_sse",
    "iter_sse_reversed",
    "join_text",
    "model_candidates",
    "model_name",
    "parse_json",
    "service_tier",
]

Status = Literal["ok", "missing", "not_billed", "unpriced"]


def decode_body(body: object) -> str:
    """The text of a recorded body: bytes (gzip/deflate sniffed by magic), str, or None."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
        if data[:2] == b"\x1f\x8b":
            with contextlib.suppress(OSError, EOFError):
                data = gzip.decompress(data)
        elif data[:1] == b"\x78":
            with contextlib.suppress(zlib.error):
                data = zlib.decompress(data)
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


def _unix_lines(text: str) -> str:
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _sse_event(block: str) -> tuple[str | None, str] | None:
    """The ``(event, data)`` of one blank-line separated block, or None when it has no data."""
    if "data" not in block:
        return None
    event: str | None = None
    data: list[str] = []
    for line in block.split("\n"):
        if not line or line[0] == ":":
            continue
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if not data:
        return None
    return event, "\n".join(data)


def _event_break(text: str) -> str:
    """The blank line that ends an SSE event in this stream: CRLF (Gemini) or LF, from its first line end."""
    newline = text.find("\n")
    if newline > 0 and text[newline - 1] == "\r":
        return "\r\n\r\n"
    if newline < 0 and "\r" in text:
        return "\r\r"
    return "\n\n"


def iter_sse_reversed(text: str) -> Iterator[tuple[str | None, str]]:
    """Yield the events of ``iter_sse(text)`` from the last to the first.

    A stream reports its usage at or near its end: reading backwards finds it without
    splitting, let alone decoding, the whole stream. Line ends are normalised per event.
    """
    mark = _event_break(text)
    size = len(mark)
    end = len(text)
    while end > 0:
        start = text.rfind(mark, 0, end)
        item = _sse_event(_unix_lines(text[start + size if start >= 0 else 0 : end]))
        if item is not None:
            yield item
        if start < 0:
            return
        end = start


def first_sse(text: str) -> tuple[str | None, str] | None:
    """The first ``(event, data)`` of a stream, reading no further than its first data block."""
    mark = _event_break(text)
    start = 0
    size = len(text)
    while start < size:
        end = text.find(mark, start)
        if end < 0:
            end = size
        item = _sse_event(_unix_lines(text[start:end]))
        if item is not None:
            return item
        start = end + len(mark)
    return None


def parse_json(text: str) -> Any:
    """``text`` parsed as JSON, or None when it is not a JSON object or array."""
    return _loads_or_none(text)


def as_dict(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty dict (absent and null fields read as empty)."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` when it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def collect_text(
    value: object,
    keys: frozenset[str],
    json_keys: frozenset[str] = frozenset(),
) -> list[str]:
    """The strings found under ``keys`` anywhere in a JSON value, in document order.

    A top-level string, and the strings of an array found under one of ``keys``, count too.
    Objects and arrays found under ``json_keys`` (tool call arguments given as objects) are
    added as compact JSON; other nested values are searched. Used to estimate tokens when a
    response carries no usage, so binary payloads (images, audio) must not be under ``keys``.
    """
    out: list[str] = []
    _collect(value, keys, json_keys, out, True)
    return out


def _collect(value: object, keys: frozenset[str], json_keys: frozenset[str], out: list[str], take: bool) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                if key in keys or key in json_keys:
                    out.append(item)
            elif key in json_keys and isinstance(item, (dict, list)):
                out.append(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
            elif isinstance(item, (dict, list)):
                _collect(item, keys, json_keys, out, key in keys)
    elif isinstance(value, list):
        for item in value:
            _collect(item, keys, json_keys, out, take)
    elif isinstance(value, str) and take:
        out.append(value)


def join_text(parts: Iterable[str]) -> str:
    """Non-empty parts joined with newlines."""
    return "\n".join(part for part in parts if part)


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
    dims: Dims = field(default_factory=Dims)
    """Billed dimensions beyond the tokens (cache writes by duration, audio, images, tool uses)."""


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
    for the same response (``reason`` says which). ``unpriced``: billed, but the response says
    nothing the rate card can price (a DALL·E image, speech audio): $0, labelled unpriced."""
    lines: tuple[UsageLine, ...] = ()
    response_id: str | None = None
    reason: str | None = None
    streaming: bool = False
    service_tier: str | None = None
    """The service tier the response reports, when not the default (see :func:`service_tier`)."""
    retrieval: bool = False
    """The exchange fetched a response created earlier (OpenAI Responses ``GET /responses/{id}``,
    a resumed stream): it is billed only if no earlier exchange of the test reported usage for
    the same ``response_id``."""


# -- model names, service tiers and hosts, the same for every reader and the rate card ---------

_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)/(?P<id>.+)$")
_VERTEX = re.compile(r"^(?:projects/[^/]+/locations/[^/]+/)?publishers/[^/]+/models/(?P<id>[^/:]+)")
_REGION = re.compile(r"^(?:us|eu|apac|au|jp|ca|global|us-gov)\.(?=[a-z0-9-]+\.)")
_DATE = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{2}-\d{4}|\d{4})$")
_FINE_TUNE = re.compile(r"^ft:(?P<base>[^:]+):")


def model_name(raw: object) -> str | None:
    """A model name as the rate card and the reports use it, from what an API reported.

    Wrappers around the model id are removed: Gemini's ``models/``, a Vertex resource path
    (``projects/…/publishers/google/models/gemini-2.5-pro``) and the ARN of a Bedrock model or
    inference profile (``arn:aws:bedrock:…:inference-profile/us.anthropic.claude-…``; an
    application inference profile or a provisioned model is named by its whole ARN). The id itself (a dated
    snapshot, a Bedrock region prefix, a ``@version``, a fine-tune id) is kept as reported;
    :func:`model_candidates` lists the names the rate card tries for it.

    >>> model_name("models/gemini-2.5-pro")
    'gemini-2.5-pro'
    """
    name = as_str(raw)
    if name is None:
        return None
    name = name.strip()
    match = _ARN.match(name)
    if match:
        name = match.group("id")
    match = _VERTEX.match(name)
    if match:
        name = match.group("id")
    if name.startswith("models/"):
        name = name[len("models/") :]
    return name or None


def model_candidates(name: str) -> list[str]:
    """The names the rate card looks a model up by, most specific first, each found or not.

    ``claude-sonnet-4-5@20250929`` (Vertex) is also tried as ``claude-sonnet-4-5-20250929`` and
    ``claude-sonnet-4-5``; ``us.amazon.nova-micro-v1:0`` without its region prefix;
    ``gpt-4o-2099-01-01`` without its date; ``ft:gpt-4o-mini:org::id`` as ``ft:gpt-4o-mini``
    (the fine-tune price, never the base model's).
    """
    first = model_name(name) or name
    found: list[str] = []

    def add(candidate: str) -> None:
        if candidate and candidate not in found:
            found.append(candidate)

    add(first)
    fine_tune = _FINE_TUNE.match(first)
    if fine_tune:
        add("ft:" + fine_tune.group("base"))
        return found
    base, at, version = first.partition("@")
    if at:
        add(f"{base}-{version}")
        add(base)
    add(_REGION.sub("", base))
    add(_DATE.sub("", base))
    return found


_DEFAULT_TIERS = frozenset({"default", "auto", "standard", "on_demand", "on-demand", "none"})


def service_tier(raw: object) -> str | None:
    """The service tier a response reports, lowercased; None for the default tier under any of its names."""
    if isinstance(raw, dict):  # Bedrock: {"type": "flex"}
        raw = raw.get("type")
    tier = as_str(raw)
    if tier is None:
        return None
    tier = tier.strip().lower()
    return None if tier in _DEFAULT_TIERS else tier


#: Hosts that serve only LLM APIs: a call to one that no reader understands is recorded as unpriced.
_LLM_HOSTS = frozenset(
    {
        "api.openai.com",
        "api.anthropic.com",
        "generativelanguage.googleapis.com",
        "aiplatform.googleapis.com",
        "api.cohere.com",
        "api.cohere.ai",
        "api.mistral.ai",
        "api.groq.com",
        "api.deepseek.com",
        "api.x.ai",
        "openrouter.ai",
        "api.together.xyz",
        "api.fireworks.ai",
        "api.perplexity.ai",
        "router.huggingface.co",
        "api.cerebras.ai",
        "api.moonshot.ai",
        "api.z.ai",
    }
)
_LLM_SUFFIXES = (".openai.azure.com", ".services.ai.azure.com", "-aiplatform.googleapis.com")


def is_llm_host(host: str) -> bool:
    """True for a host that serves LLM APIs only (OpenAI, Anthropic, Gemini, Azure OpenAI, Bedrock Runtime…)."""
    host = host.lower()
    if host in _LLM_HOSTS or host.endswith(_LLM_SUFFIXES):
        return True
    return host.startswith(("bedrock-runtime.", "bedrock-runtime-fips.", "bedrock-mantle.")) and host.endswith(
        ".amazonaws.com"
    )
