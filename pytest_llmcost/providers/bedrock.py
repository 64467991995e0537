"""AWS Bedrock Runtime: Converse (``/model/{id}/converse``, ``/converse-stream``) and InvokeModel.

Converse reports ``inputTokens`` without the cache reads and writes, which are added to the
normalised input. Its responses name no model: the model is the URL-encoded ``{id}`` of the
path (a model id, an inference profile or an ARN). A stream is AWS event-stream binary
framing; its usage is in the ``metadata`` event.

InvokeModel returns the model's native body. Claude bodies are Anthropic Messages and are
read by :mod:`.anthropic`; for other models the usage is read from a Converse-style ``usage``
object or the ``x-amzn-bedrock-*-token-count`` response headers.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import struct
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from ..usage import Dims, Tokens
from . import anthropic
from .base import (
    Exchange,
    Extracted,
    UsageLine,
    as_dict,
    as_int,
    as_list,
    collect_text,
    join_text,
    model_name,
    parse_json,
    service_tier,
)

__all__ = ["API", "INVOKE_API", "PROVIDER", "extract", "iter_frames", "texts", "tokens_from_usage"]

API = "bedrock.converse"
INVOKE_API = "bedrock.invoke"
PROVIDER = "aws"

_PRELUDE = struct.Struct(">II")
_EVENT_MESSAGE = b"\x0d:message-type\x07\x00\x05event"
_TEXT_KEYS = frozenset({"text"})
_JSON_KEYS = frozenset({"input", "json"})


def tokens_from_usage(usage: dict[str, Any]) -> Tokens:
    """Normalise a Converse ``usage`` object.

    Newer responses give each cache count twice (``cacheReadInputTokens`` and
    ``cacheReadInputTokenCount``, same value): the larger is taken, never the sum.
    """
    cache_read = max(as_int(usage.get("cacheReadInputTokens")), as_int(usage.get("cacheReadInputTokenCount")))
    cache_write = max(as_int(usage.get("cacheWriteInputTokens")), as_int(usage.get("cacheWriteInputTokenCount")))
    return Tokens(
        input=as_int(usage.get("inputTokens")) + cache_read + cache_write,
        cached_input=cache_read,
        cache_write=cache_write,
        output=as_int(usage.get("outputTokens")),
    )


def dims_from_usage(usage: dict[str, Any]) -> Dims:
    """1-hour cache writes, from ``cacheDetails`` (one entry per cache duration)."""
    hour = sum(
        as_int(as_dict(item).get("inputTokens"))
        for item in as_list(usage.get("cacheDetails"))
        if as_dict(item).get("ttl") == "1h"
    )
    return Dims.of(cache_write_1h_tokens=hour)


def _line(usage: dict[str, Any]) -> UsageLine:
    return UsageLine(tokens_from_usage(usage), dims=dims_from_usage(usage))


def url_model(path: str) -> str | None:
    """The decoded ``{id}`` of ``…/model/{id}/converse`` (an ARN's ``/`` stays encoded until here)."""
    _, found, rest = path.partition("/model/")
    if not found:
        return None
    return model_name(unquote(rest.rsplit("/", 1)[0]))


def _raw_bytes(body: object) -> bytes:
    if isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
    elif isinstance(body, str):
        data = body.encode("utf-8", "surrogateescape")
    else:
        return b""
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError):
            data = gzip.decompress(data)
    return data


def _header_value(data: bytes, pos: int) -> tuple[object, int]:
    kind = data[pos]
    pos += 1
    if kind in (0, 1):
        return kind == 0, pos
    if kind == 2:
        return data[pos], pos + 1
    if kind == 3:
        return struct.unpack_from(">h", data, pos)[0], pos + 2
    if kind == 4:
        return struct.unpack_from(">i", data, pos)[0], pos + 4
    if kind in (5, 8):
        return struct.unpack_from(">q", data, pos)[0], pos + 8
    if kind == 9:
        return data[pos : pos + 16], pos + 16
    (length,) = struct.unpack_from(">H", data, pos)
    value = data[pos + 2 : pos + 2 + length]
    return (value.decode("utf-8", "replace") if kind == 7 else value), pos + 2 + length


def parse_headers(data: bytes) -> dict[str, object]:
    """The headers of one event-stream frame."""
    headers: dict[str, object] = {}
    pos = 0
    try:
        while pos < len(data):
            size = data[pos]
            name = data[pos + 1 : pos + 1 + size].decode("utf-8", "replace")
            headers[name], pos = _header_value(data, pos + 1 + size)
    except (IndexError, struct.error):
        pass
    return headers


def _frame_spans(data: bytes) -> Iterator[tuple[int, int, int]]:
    """``(headers start, payload start, payload end)`` of each frame, without copying."""
    offset = 0
    size = len(data)
    while offset + 16 <= size:
        total, headers_len = _PRELUDE.unpack_from(data, offset)
        if total < 16 or offset + total > size or headers_len > total - 16:
            return
        yield offset + 12, offset + 12 + headers_len, offset + total - 4
        offset += total


def iter_frames(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(raw headers, payload)`` for each frame of an AWS event stream.

    A frame is ``total_len:u32, headers_len:u32, prelude_crc:u32, headers, payload, crc:u32``
    (big-endian). Stops at the first truncated or malformed frame.
    """
    for start, middle, end in _frame_spans(data):
        yield data[start:middle], data[middle:end]


def _event_type(headers: dict[str, object]) -> str | None:
    message_type = headers.get(":message-type")
    if message_type in ("exception", "error"):
        name = headers.get(":exception-type") or headers.get(":error-code") or message_type
        return f"!{name}"
    value = headers.get(":event-type")
    return value if isinstance(value, str) else None


def extract(exchange: Exchange) -> Extracted:
    path = exchange.path
    model = url_model(path)
    if path.endswith("/invoke-with-response-stream"):
        return _extract_invoke_stream(exchange, model)
    if path.endswith("/invoke"):
        return _extract_invoke(exchange, model)
    streaming = path.endswith("/converse-stream")
    if exchange.status >= 400:
        return Extracted(API, PROVIDER, model, "not_billed", reason=f"HTTP {exchange.status}", streaming=streaming)
    body = exchange.response_json
    if isinstance(body, dict):
        usage = body.get("usage")
        if isinstance(usage, dict) and usage:
            tier = service_tier(body.get("serviceTier"))
            return Extracted(API, PROVIDER, model, "ok", (_line(usage),), streaming=streaming, service_tier=tier)
        return Extracted(API, PROVIDER, model, "missing", reason="no usage in response", streaming=streaming)
    error: str | None = None
    data = _raw_bytes(exchange.response_body)
    for start, middle, end in _frame_spans(data):
        # Only the metadata event and exceptions matter: skip other events (``:message-type``
        # ``event``) without decoding their headers.
        if data.find(b"metadata", start, middle) < 0 and data.find(_EVENT_MESSAGE, start, middle) >= 0:
            continue
        kind = _event_type(parse_headers(data[start:middle]))
        if kind == "metadata":
            metadata = as_dict(parse_json(data[middle:end].decode("utf-8", "replace")))
            usage = metadata.get("usage")
            if isinstance(usage, dict) and usage:
                tier = service_tier(metadata.get("serviceTier"))
                return Extracted(API, PROVIDER, model, "ok", (_line(usage),), streaming=True, service_tier=tier)
        elif kind is not None and kind.startswith("!"):
            error = error or f"stream error ({kind[1:]}) before usage was reported"
    if error is not None:
        return Extracted(API, PROVIDER, model, "not_billed", reason=error, streaming=True)
    return Extracted(API, PROVIDER, model, "missing", reason="no metadata event in stream", streaming=True)


def _header(exchange: Exchange, name: str) -> int:
    for key, value in exchange.response_headers.items():
        if key.lower() == name:
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
            try:
                return int(str(value))
            except ValueError:
                return 0
    return 0


def _extract_invoke(exchange: Exchange, model: str | None) -> Extracted:
    """InvokeModel with a non-Claude body (Claude bodies are routed to the Anthropic reader)."""
    if exchange.status >= 400:
        return Extracted(INVOKE_API, PROVIDER, model, "not_billed", reason=f"HTTP {exchange.status}")
    usage = as_dict(exchange.response_json).get("usage")
    if isinstance(usage, dict) and "inputTokens" in usage:
        return Extracted(INVOKE_API, PROVIDER, model, "ok", (_line(usage),))
    input_count = _header(exchange, "x-amzn-bedrock-input-token-count")
    output_count = _header(exchange, "x-amzn-bedrock-output-token-count")
    if input_count or output_count:
        return Extracted(INVOKE_API, PROVIDER, model, "ok", (UsageLine(Tokens(input_count, output=output_count)),))
    return Extracted(INVOKE_API, PROVIDER, model, "missing", reason="no usage in response")


def _invoke_chunks(exchange: Exchange) -> Iterator[str]:
    """The model's own events carried base64-encoded in the ``chunk`` frames of an invoke stream."""
    for raw, payload in iter_frames(_raw_bytes(exchange.response_body)):
        if b"chunk" not in raw:
            continue
        encoded = as_dict(parse_json(payload.decode("utf-8", "replace"))).get("bytes")
        if isinstance(encoded, str):
            try:
                yield base64.b64decode(encoded).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                continue


def _extract_invoke_stream(exchange: Exchange, model: str | None) -> Extracted:
    if exchange.status >= 400:
        return Extracted(INVOKE_API, PROVIDER, model, "not_billed", reason=f"HTTP {exchange.status}", streaming=True)
    chunks = list(_invoke_chunks(exchange))
    if chunks and '"message_start"' in chunks[0]:
        # Claude: the chunks are Anthropic stream events.
        events = "".join(f"data: {chunk}\n\n" for chunk in chunks)
        return anthropic.extract(
            Exchange(exchange.method, exchange.url, exchange.request_body, exchange.status, events)
        )
    for chunk in reversed(chunks):
        metrics = as_dict(as_dict(parse_json(chunk)).get("amazon-bedrock-invocationMetrics"))
        if metrics:
            tokens = tokens_from_usage(
                {
                    "inputTokens": metrics.get("inputTokenCount"),
                    "outputTokens": metrics.get("outputTokenCount"),
                    "cacheReadInputTokenCount": metrics.get("cacheReadInputTokenCount"),
                    "cacheWriteInputTokenCount": metrics.get("cacheWriteInputTokenCount"),
                }
            )
            return Extracted(INVOKE_API, PROVIDER, model, "ok", (UsageLine(tokens),), streaming=True)
    return Extracted(INVOKE_API, PROVIDER, model, "missing", reason="no invocation metrics in stream", streaming=True)


def texts(exchange: Exchange) -> tuple[str, str]:
    request = as_dict(exchange.request_json)
    prompt = collect_text(request.get("system"), _TEXT_KEYS)
    prompt.extend(collect_text(request.get("messages"), _TEXT_KEYS, _JSON_KEYS))
    if request.get("toolConfig"):
        prompt.append(json.dumps(request["toolConfig"], separators=(",", ":"), ensure_ascii=False))
    if exchange.path.endswith(("/invoke", "/invoke-with-response-stream")):
        prompt.extend(collect_text(request.get("prompt") or request.get("inputText"), _TEXT_KEYS))
    body = exchange.response_json
    if isinstance(body, dict):
        completion = collect_text(body.get("output"), _TEXT_KEYS, _JSON_KEYS)
        completion.extend(collect_text(body.get("generation") or body.get("outputText"), _TEXT_KEYS))
        return join_text(prompt), join_text(completion)
    deltas: list[str] = []
    if exchange.path.endswith("/invoke-with-response-stream"):
        for chunk in _invoke_chunks(exchange):
            item = as_dict(parse_json(chunk))
            text = item.get("delta") or item.get("generation") or item.get("outputText")
            deltas.extend(collect_text(text, _TEXT_KEYS))
        return join_text(prompt), "".join(deltas)
    for raw, payload in iter_frames(_raw_bytes(exchange.response_body)):
        if b"contentBlock" not in raw:
            continue
        event = as_dict(parse_json(payload.decode("utf-8", "replace")))
        # contentBlockDelta: text, toolUse.input (a JSON string), reasoningContent.text;
        # contentBlockStart: the tool name.
        deltas.extend(collect_text(event.get("delta"), _TEXT_KEYS, _JSON_KEYS))
    return join_text(prompt), "".join(deltas)
