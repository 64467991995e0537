"""Anthropic Messages (``POST …/v1/messages``), JSON and streamed.

The same body is returned by Bedrock ``/model/{id}/invoke`` and Vertex ``:rawPredict`` for
Claude models. ``input_tokens`` excludes cache reads and writes, which are added to the
normalised input. In a stream, ``message_start`` holds the input side and ``message_delta``
the final, cumulative counts.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from ..usage import Dims, Tokens
from .base import (
    Exchange,
    Extracted,
    UsageLine,
    as_dict,
    as_int,
    as_list,
    as_str,
    collect_text,
    first_sse,
    iter_sse,
    iter_sse_reversed,
    join_text,
    model_name,
    parse_json,
    service_tier,
)

__all__ = ["API", "PROVIDER", "dims_from_usage", "extract", "texts", "tokens_from_usage"]

API = "anthropic.messages"
PROVIDER = "anthropic"

_INPUT_SIDE = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation",
    "service_tier",
)
_EVENT_TYPE = re.compile(r'"type"\s*:\s*"(message_delta|message_start|error)"')

_PROMPT_KEYS = frozenset({"content", "text", "thinking"})
_COMPLETION_KEYS = frozenset({"text", "thinking", "name", "partial_json", "content"})
_JSON_KEYS = frozenset({"input"})


def tokens_from_usage(usage: dict[str, Any]) -> Tokens:
    """Normalise an Anthropic ``usage`` object (or one of its ``iterations``)."""
    cache_read = as_int(usage.get("cache_read_input_tokens"))
    if "cache_creation_input_tokens" in usage:
        cache_write = as_int(usage.get("cache_creation_input_tokens"))
    else:
        cache_write = sum(as_int(value) for value in as_dict(usage.get("cache_creation")).values())
    return Tokens(
        input=as_int(usage.get("input_tokens")) + cache_read + cache_write,
        cached_input=cache_read,
        cache_write=cache_write,
        output=as_int(usage.get("output_tokens")),
        reasoning=as_int(as_dict(usage.get("output_tokens_details")).get("thinking_tokens")),
    )


def dims_from_usage(usage: dict[str, Any]) -> Dims:
    """The billed dimensions of an Anthropic ``usage``: 1-hour cache writes and server tool uses.

    ``cache_creation`` splits the cache writes by duration; the 5-minute ones are the rest of
    ``cache_write`` (priced as cache writes). ``server_tool_use`` counts web searches (billed
    per thousand) and code executions.
    """
    tools = as_dict(usage.get("server_tool_use"))
    return Dims.of(
        cache_write_1h_tokens=as_int(as_dict(usage.get("cache_creation")).get("ephemeral_1h_input_tokens")),
        web_searches=as_int(tools.get("web_search_requests")),
        code_executions=as_int(tools.get("code_execution_requests")),
    )


def _lines(usage: dict[str, Any]) -> tuple[UsageLine, ...]:
    """The response's own line, then one line per billed iteration that the top level leaves out.

    The top-level usage is the sum of the ``message`` iterations only; ``compaction`` and
    ``advisor_message`` iterations (the latter on another model) are billed in addition.
    """
    lines = [UsageLine(tokens_from_usage(usage), dims=dims_from_usage(usage))]
    for item in as_list(usage.get("iterations")):
        iteration = as_dict(item)
        kind = as_str(iteration.get("type"))
        if kind is None or kind == "message":
            continue
        lines.append(
            UsageLine(
                tokens_from_usage(iteration),
                part=kind,
                model=model_name(iteration.get("model")),
                dims=dims_from_usage(iteration),
            )
        )
    return tuple(lines)


def url_model(path: str) -> str | None:
    """The model id in a Bedrock (``/model/{id}/invoke``) or Vertex (``/models/{id}:rawPredict``) path."""
    _, found, rest = path.partition("/model/")
    if found:
        return unquote(rest.rsplit("/", 1)[0]) or None
    _, found, rest = path.rpartition("/models/")
    if found:
        return unquote(rest.partition(":")[0]) or None
    return None


def _requested_model(exchange: Exchange) -> str | None:
    """The request's model, else the URL's (Bedrock, Vertex). Read only when the response names
    none: a request body can be large."""
    return model_name(as_dict(exchange.request_json).get("model")) or model_name(url_model(exchange.path))


def extract(exchange: Exchange) -> Extracted:
    body = exchange.response_json
    if exchange.status >= 400:
        streaming = as_dict(exchange.request_json).get("stream") is True
        model = _requested_model(exchange)
        return Extracted(API, PROVIDER, model, "not_billed", reason=f"HTTP {exchange.status}", streaming=streaming)
    if isinstance(body, dict):
        model = model_name(body.get("model")) or _requested_model(exchange)
        response_id = as_str(body.get("id"))
        usage = body.get("usage")
        if body.get("type") == "error":
            return Extracted(API, PROVIDER, model, "not_billed", response_id=response_id, reason="error body")
        if isinstance(usage, dict) and usage:
            tier = service_tier(usage.get("service_tier"))
            return Extracted(API, PROVIDER, model, "ok", _lines(usage), response_id, service_tier=tier)
        return Extracted(API, PROVIDER, model, "missing", response_id=response_id, reason="no usage in response")
    return _extract_stream(exchange)


def _event_kind(event: str | None, data: str) -> str | None:
    if event is not None:
        return event
    match = _EVENT_TYPE.search(data)
    return match.group(1) if match else None


def _extract_stream(exchange: Exchange) -> Extracted:
    text = exchange.response_text
    delta_usage: dict[str, Any] | None = None
    error: str | None = None
    for event, data in iter_sse_reversed(text):
        kind = _event_kind(event, data)
        if kind == "message_delta":
            usage = as_dict(parse_json(data)).get("usage")
            if isinstance(usage, dict):
                delta_usage = usage
                break
        elif kind == "error":
            error = error or _error_reason(data)
    message = _message_start(text)
    model = model_name(message.get("model")) or _requested_model(exchange)
    response_id = as_str(message.get("id"))
    if delta_usage is None:
        if error is not None:
            return Extracted(API, PROVIDER, model, "not_billed", response_id=response_id, reason=error, streaming=True)
        return Extracted(
            API,
            PROVIDER,
            model,
            "missing",
            response_id=response_id,
            reason="stream ended without a final message_delta",
            streaming=True,
        )
    # message_delta is cumulative: its input-side counts win over message_start's (which can
    # describe an earlier iteration), and its output_tokens is the total, never added to
    # message_start's partial output_tokens.
    usage = dict(delta_usage)
    start_usage = as_dict(message.get("usage"))
    for key in _INPUT_SIDE:
        if usage.get(key) is None and key in start_usage:
            usage[key] = start_usage[key]
    tier = service_tier(usage.get("service_tier"))
    return Extracted(API, PROVIDER, model, "ok", _lines(usage), response_id, streaming=True, service_tier=tier)


def _message_start(text: str) -> dict[str, Any]:
    """The ``message`` of the stream's ``message_start`` event: normally its first event."""
    first = first_sse(text)
    if first is not None and _event_kind(*first) == "message_start":
        return as_dict(as_dict(parse_json(first[1])).get("message"))
    for event, data in iter_sse(text):
        if _event_kind(event, data) == "message_start":
            return as_dict(as_dict(parse_json(data)).get("message"))
    return {}


def _error_reason(data: str) -> str:
    kind = as_str(as_dict(as_dict(parse_json(data)).get("error")).get("type"))
    return f"stream error ({kind}) before usage was reported" if kind else "stream error before usage was reported"


def texts(exchange: Exchange) -> tuple[str, str]:
    request = as_dict(exchange.request_json)
    prompt = collect_text(request.get("system"), _PROMPT_KEYS)
    prompt.extend(collect_text(request.get("messages"), _PROMPT_KEYS, _JSON_KEYS))
    if request.get("tools"):
        prompt.append(json.dumps(request["tools"], separators=(",", ":"), ensure_ascii=False))
    body = exchange.response_json
    if isinstance(body, dict):
        return join_text(prompt), join_text(collect_text(body.get("content"), _COMPLETION_KEYS, _JSON_KEYS))
    deltas: list[str] = []
    for _event, data in iter_sse(exchange.response_text):
        chunk = as_dict(parse_json(data))
        if chunk.get("type") == "content_block_delta":
            deltas.extend(collect_text(chunk.get("delta"), _COMPLETION_KEYS))
    return join_text(prompt), "".join(deltas)
