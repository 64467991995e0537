"""Cohere v2 chat (``POST …/v2/chat``), JSON and streamed.

``usage.tokens`` holds the raw counts (Cohere's prompt template included) and
``usage.billed_units`` the billed ones; ``cached_tokens`` is measured against the raw input
count and can exceed the billed input. The normalised input is the raw input count, so that
the cache reads stay a part of it, and the output is the billed output count. The billed input
count, when it differs, is kept as the ``billed_input_tokens`` dimension: it is what is priced
(Cohere bills ``billed_units``, its cache discount included). The response names no model: it is
taken from the request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..usage import Dims, Tokens
from .base import (
    Exchange,
    Extracted,
    UsageLine,
    as_dict,
    as_int,
    as_str,
    collect_text,
    first_sse,
    iter_sse,
    iter_sse_reversed,
    join_text,
    model_name,
    parse_json,
)

__all__ = ["API", "PROVIDER", "dims_from_usage", "extract", "texts", "tokens_from_usage"]

API = "cohere.chat"
PROVIDER = "cohere"

_MESSAGE_END = re.compile(r'"type"\s*:\s*"message-end"')
_TEXT_KEYS = frozenset({"content", "text", "arguments", "tool_plan"})


def tokens_from_usage(usage: dict[str, Any]) -> Tokens:
    """Normalise a Cohere v2 ``usage`` object."""
    raw = as_dict(usage.get("tokens"))
    billed = as_dict(usage.get("billed_units"))
    input_count = as_int(raw["input_tokens"] if "input_tokens" in raw else billed.get("input_tokens"))
    output_count = as_int(billed["output_tokens"] if "output_tokens" in billed else raw.get("output_tokens"))
    cached = min(as_int(usage.get("cached_tokens")), input_count)
    return Tokens(input=input_count, cached_input=cached, output=output_count)


def dims_from_usage(usage: dict[str, Any]) -> Dims:
    """The billed input count when Cohere bills another input count than the raw one."""
    raw = as_dict(usage.get("tokens"))
    billed = as_dict(usage.get("billed_units"))
    if "input_tokens" not in billed or "input_tokens" not in raw:
        return Dims()
    billed_input = as_int(billed.get("input_tokens"))
    if billed_input == as_int(raw.get("input_tokens")):
        return Dims()
    # A dimension of 0 is not kept: a billed input of 0 (never seen) would be priced on the raw count.
    return Dims.of(billed_input_tokens=billed_input)


def extract(exchange: Exchange) -> Extracted:
    request = as_dict(exchange.request_json)
    model = model_name(request.get("model"))
    body = exchange.response_json
    streaming = request.get("stream") is True or (body is None and bool(exchange.response_text))
    if exchange.status >= 400:
        return Extracted(API, PROVIDER, model, "not_billed", reason=f"HTTP {exchange.status}", streaming=streaming)
    response_id: str | None = None
    usage: object = None
    if isinstance(body, dict):
        response_id = as_str(body.get("id"))
        usage = body.get("usage")
    else:
        for event, data in iter_sse_reversed(exchange.response_text):
            if event == "message-end" or _MESSAGE_END.search(data):
                usage = as_dict(as_dict(parse_json(data)).get("delta")).get("usage")
                break
        first = first_sse(exchange.response_text)
        if first is not None:
            response_id = as_str(as_dict(parse_json(first[1])).get("id"))
    if isinstance(usage, dict) and usage:
        line = UsageLine(tokens_from_usage(usage), dims=dims_from_usage(usage))
        return Extracted(API, PROVIDER, model, "ok", (line,), response_id, streaming=streaming)
    return Extracted(API, PROVIDER, model, "missing", response_id=response_id, reason="no usage", streaming=streaming)


def texts(exchange: Exchange) -> tuple[str, str]:
    request = as_dict(exchange.request_json)
    prompt = collect_text(request.get("messages"), _TEXT_KEYS)
    if request.get("tools"):
        prompt.append(json.dumps(request["tools"], separators=(",", ":"), ensure_ascii=False))
    body = exchange.response_json
    if isinstance(body, dict):
        return join_text(prompt), join_text(collect_text(body.get("message"), _TEXT_KEYS))
    deltas: list[str] = []
    for _event, data in iter_sse(exchange.response_text):
        chunk = as_dict(parse_json(data))
        if chunk.get("type") in ("content-delta", "tool-plan-delta", "tool-call-delta"):
            deltas.extend(collect_text(as_dict(chunk.get("delta")).get("message"), _TEXT_KEYS))
    return join_text(prompt), "".join(deltas)
