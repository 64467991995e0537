"""OpenAI Responses API: ``POST …/responses``, ``POST …/responses/compact`` and ``GET …/responses/{id}``.

Also served by Azure OpenAI, Bedrock Mantle, DeepSeek and OpenRouter. A stream reports usage
only in its terminal event (``response.completed``, ``response.incomplete``,
``response.failed``). A background response is created ``queued`` without usage and is
fetched again later (polled, or its stream resumed): those fetches are marked ``retrieval``
so that :func:`pytest_llmcost.providers.settle` counts a response's usage once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..usage import Dims, Tokens
from .base import (
    Exchange,
    Extracted,
    Status,
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
    service_tier,
)

__all__ = ["API", "PROVIDER", "dims_of", "extract", "texts", "tokens_from_usage"]

API = "openai.responses"
PROVIDER = "openai"

_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
# Used only when a stream names no events: the type is then inside the data, possibly last.
_TERMINAL_TYPE = re.compile(r'"type"\s*:\s*"(response\.(?:completed|incomplete|failed)|error)"')
_PENDING = frozenset({"queued", "in_progress"})
_UNFINISHED = frozenset({"failed", "cancelled"})

_PROMPT_KEYS = frozenset({"content", "text", "arguments", "output", "instructions"})
_OUTPUT_KEYS = frozenset({"content", "text", "name", "arguments", "summary", "code"})


def tokens_from_usage(usage: dict[str, Any]) -> Tokens:
    """Normalise a Responses ``usage`` object: input and output already include cached,
    cache-write and reasoning tokens."""
    input_details = as_dict(usage.get("input_tokens_details"))
    output_details = as_dict(usage.get("output_tokens_details"))
    return Tokens(
        input=as_int(usage.get("input_tokens")),
        cached_input=as_int(input_details.get("cached_tokens")),
        cache_write=as_int(input_details.get("cache_write_tokens")),
        output=as_int(usage.get("output_tokens")),
        reasoning=as_int(output_details.get("reasoning_tokens")),
    )


#: Output items of a hosted tool call, billed per call, and the billed dimension counting them.
_TOOL_CALLS = {"web_search_call": "web_searches", "file_search_call": "storage_searches"}


def dims_of(response: dict[str, Any]) -> Dims:
    """Audio and image tokens of the usage, and the hosted web and file searches the response ran.

    A web search is billed per call (``web_search_call`` output items), a file search per
    call too (``file_search_call``); neither is in ``usage``.
    """
    usage = as_dict(response.get("usage"))
    input_details = as_dict(usage.get("input_tokens_details"))
    output_details = as_dict(usage.get("output_tokens_details"))
    counts = {
        "input_audio_tokens": as_int(input_details.get("audio_tokens")),
        "input_image_tokens": as_int(input_details.get("image_tokens")),
        "output_audio_tokens": as_int(output_details.get("audio_tokens")),
        "output_image_tokens": as_int(output_details.get("image_tokens")),
    }
    for item in response.get("output") or ():
        key = _TOOL_CALLS.get(as_dict(item).get("type"))  # type: ignore[arg-type]
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    return Dims.from_counts(counts)


def _retrieved_id(path: str) -> str | None:
    """The ``{id}`` of ``…/responses/{id}``."""
    _, found, tail = path.rstrip("/").rpartition("/responses/")
    return tail if found and tail and "/" not in tail else None


def _requested_model(exchange: Exchange) -> str | None:
    """The request's model, for responses that name none (``/responses/compact``).

    Read only when needed: a request body can be large.
    """
    if exchange.method.upper() == "GET":
        return None
    return model_name(as_dict(exchange.request_json).get("model"))


def _from_response(
    response: dict[str, Any],
    exchange: Exchange,
    *,
    response_id: str | None,
    streaming: bool,
    retrieval: bool,
) -> Extracted:
    model = model_name(response.get("model")) or _requested_model(exchange)
    response_id = as_str(response.get("id")) or response_id
    usage = response.get("usage")
    if isinstance(usage, dict) and usage:
        line = UsageLine(tokens_from_usage(usage), dims=dims_of(response))
        return Extracted(
            API,
            PROVIDER,
            model,
            "ok",
            (line,),
            response_id,
            streaming=streaming,
            retrieval=retrieval,
            service_tier=service_tier(response.get("service_tier")),
        )
    status = as_str(response.get("status"))
    result: Status = "not_billed"
    if status in _PENDING:
        # A background response not run yet: nothing is billed for it until it completes, and
        # the usage is reported by the fetch that sees it completed.
        reason = f"background response {status}: usage is reported when it completes"
    elif status in _UNFINISHED:
        reason = f"response {status} without usage"
    else:
        reason, result = "no usage in response", "missing"
    return Extracted(
        API, PROVIDER, model, result, response_id=response_id, reason=reason, streaming=streaming, retrieval=retrieval
    )


def extract(exchange: Exchange) -> Extracted:
    retrieval = exchange.method.upper() == "GET"
    response_id = _retrieved_id(exchange.path) if retrieval else None
    body = exchange.response_json
    if exchange.status >= 400:
        request = {} if retrieval else as_dict(exchange.request_json)
        model = model_name(request.get("model"))
        streaming = request.get("stream") is True or (retrieval and "stream=true" in exchange.query)
        return Extracted(
            API,
            PROVIDER,
            model,
            "not_billed",
            response_id=response_id,
            reason=f"HTTP {exchange.status}",
            streaming=streaming,
            retrieval=retrieval,
        )
    if isinstance(body, dict):
        if "error" in body and "usage" not in body and "id" not in body:
            model = _requested_model(exchange)
            return Extracted(
                API, PROVIDER, model, "not_billed", response_id=response_id, reason="error body", retrieval=retrieval
            )
        return _from_response(body, exchange, response_id=response_id, streaming=False, retrieval=retrieval)
    return _extract_stream(exchange, response_id, retrieval)


def _extract_stream(exchange: Exchange, response_id: str | None, retrieval: bool) -> Extracted:
    text = exchange.response_text
    error: str | None = None
    for event, data in iter_sse_reversed(text):
        if event is None:
            match = _TERMINAL_TYPE.search(data)
            kind = match.group(1) if match else None
        else:
            kind = event
        if kind == "error":
            error = error or _error_reason(data)
        elif kind in _TERMINAL:
            response = as_dict(as_dict(parse_json(data)).get("response"))
            if response:
                return _from_response(response, exchange, response_id=response_id, streaming=True, retrieval=retrieval)
    # No terminal event: take the id and model from the first event (response.created/queued).
    first = first_sse(text)
    response = as_dict(as_dict(parse_json(first[1])).get("response")) if first is not None else {}
    model = model_name(response.get("model")) or _requested_model(exchange)
    response_id = as_str(response.get("id")) or response_id
    if error is not None:
        return Extracted(
            API,
            PROVIDER,
            model,
            "not_billed",
            response_id=response_id,
            reason=error,
            streaming=True,
            retrieval=retrieval,
        )
    return Extracted(
        API,
        PROVIDER,
        model,
        "missing",
        response_id=response_id,
        reason="stream ended without a terminal event",
        streaming=True,
        retrieval=retrieval,
    )


def _error_reason(data: str) -> str:
    error = as_dict(parse_json(data))
    nested = as_dict(error.get("error"))
    code = as_str(error.get("code")) or as_str(nested.get("code")) or as_str(nested.get("type"))
    return f"stream error ({code}) before usage was reported" if code else "stream error before usage was reported"


def texts(exchange: Exchange) -> tuple[str, str]:
    request = {} if exchange.method.upper() == "GET" else as_dict(exchange.request_json)
    prompt = collect_text([request.get("instructions"), request.get("input")], _PROMPT_KEYS)
    if request.get("tools"):
        prompt.append(json.dumps(request["tools"], separators=(",", ":"), ensure_ascii=False))
    body = exchange.response_json
    if isinstance(body, dict):
        return join_text(prompt), join_text(collect_text(body.get("output"), _OUTPUT_KEYS))
    deltas: list[str] = []
    final: list[str] | None = None
    for _event, data in iter_sse(exchange.response_text):
        chunk = as_dict(parse_json(data))
        kind = as_str(chunk.get("type")) or ""
        if kind in _TERMINAL:
            final = collect_text(as_dict(chunk.get("response")).get("output"), _OUTPUT_KEYS)
        elif kind.endswith(".delta") and ("text" in kind or "arguments" in kind):
            delta = chunk.get("delta")
            if isinstance(delta, str):
                deltas.append(delta)
    completion = join_text(final) if final else "".join(deltas)
    return join_text(prompt), completion
