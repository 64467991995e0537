"""OpenAI Chat Completions (``POST …/chat/completions``), JSON and streamed.

The same wire format is served by Azure OpenAI, Groq, Mistral, DeepSeek, OpenRouter, Ollama,
the Hugging Face router, Z.ai and Gemini's OpenAI-compatible endpoint; their deviations in
where usage sits are handled here.
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
    service_tier,
)

__all__ = ["API", "PROVIDER", "dims_from_usage", "extract", "texts", "tokens_from_usage"]

API = "openai.chat"
PROVIDER = "openai"

# A chunk worth decoding: it has a usage object (top level or Groq's ``x_groq.usage``), not ``"usage": null``.
_HAS_USAGE = re.compile(r'"usage"\s*:\s*\{')
_IS_ERROR = re.compile(r'^\s*\{\s*"error"\s*:')

_PROMPT_KEYS = frozenset({"content", "text", "arguments", "refusal", "reasoning_content"})
_COMPLETION_KEYS = frozenset(
    {"content", "text", "name", "arguments", "refusal", "reasoning", "reasoning_content", "transcript"}
)


def tokens_from_usage(usage: dict[str, Any]) -> Tokens:
    """Normalise an OpenAI-style ``usage`` object: prompt and completion counts already include
    cached, cache-write and reasoning tokens."""
    prompt_details = as_dict(usage.get("prompt_tokens_details"))
    completion_details = as_dict(usage.get("completion_tokens_details"))
    # Cache reads are reported under one of several names depending on the host (OpenAI,
    # Mistral, the Hugging Face router, DeepSeek); hosts that give two names give the same
    # value twice, so take the largest rather than a sum.
    cached = max(
        as_int(prompt_details.get("cached_tokens")),
        as_int(usage.get("num_cached_tokens")),
        as_int(usage.get("cached_tokens")),
        as_int(usage.get("prompt_cache_hit_tokens")),
    )
    return Tokens(
        input=as_int(usage.get("prompt_tokens")),
        cached_input=cached,
        cache_write=as_int(prompt_details.get("cache_write_tokens")),
        output=as_int(usage.get("completion_tokens")),
        reasoning=as_int(completion_details.get("reasoning_tokens")),
    )


def dims_from_usage(usage: dict[str, Any]) -> Dims:
    """Audio and image tokens, parts of the prompt and completion counts (``*_tokens_details``)."""
    prompt_details = as_dict(usage.get("prompt_tokens_details"))
    completion_details = as_dict(usage.get("completion_tokens_details"))
    return Dims.of(
        input_audio_tokens=as_int(prompt_details.get("audio_tokens")),
        input_image_tokens=as_int(prompt_details.get("image_tokens")),
        output_audio_tokens=as_int(completion_details.get("audio_tokens")),
        output_image_tokens=as_int(completion_details.get("image_tokens")),
    )


def _line(usage: dict[str, Any]) -> UsageLine:
    return UsageLine(tokens_from_usage(usage), dims=dims_from_usage(usage))


def _usage_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The usage object of a body or chunk; Groq repeats it under ``x_groq`` (counted once)."""
    usage = body.get("usage")
    if isinstance(usage, dict) and usage:
        return usage
    groq = as_dict(body.get("x_groq")).get("usage")
    if isinstance(groq, dict) and groq:
        return groq
    return None


def _error_reason(data: str) -> str:
    error = as_dict(parse_json(data)).get("error")
    if isinstance(error, dict):
        kind = as_str(error.get("code")) or as_str(error.get("type"))
        if kind:
            return f"stream error ({kind}) before usage was reported"
    return "stream error before usage was reported"


def _requested_model(exchange: Exchange) -> str | None:
    # The request is parsed only when the response does not name the model: it can be large.
    return model_name(as_dict(exchange.request_json).get("model"))


def extract(exchange: Exchange) -> Extracted:
    body = exchange.response_json
    if exchange.status >= 400:
        request = as_dict(exchange.request_json)
        return Extracted(
            API,
            PROVIDER,
            model_name(as_dict(body).get("model")) or model_name(request.get("model")),
            "not_billed",
            reason=f"HTTP {exchange.status}",
            streaming=request.get("stream") is True,
        )
    if isinstance(body, dict):
        model = model_name(body.get("model")) or _requested_model(exchange)
        response_id = as_str(body.get("id"))
        usage = _usage_of(body)
        if usage is not None:
            tier = service_tier(body.get("service_tier"))
            return Extracted(API, PROVIDER, model, "ok", (_line(usage),), response_id, service_tier=tier)
        if "error" in body and "choices" not in body:
            return Extracted(API, PROVIDER, model, "not_billed", response_id=response_id, reason="error body")
        return Extracted(API, PROVIDER, model, "missing", response_id=response_id, reason="no usage in response")
    return _extract_stream(exchange)


def _extract_stream(exchange: Exchange) -> Extracted:
    text = exchange.response_text
    usage_chunk: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    for event, data in iter_sse_reversed(text):
        if event == "error" or _IS_ERROR.match(data):
            error = error or _error_reason(data)
            continue
        if _HAS_USAGE.search(data) is None:
            continue
        chunk = parse_json(data)
        if isinstance(chunk, dict):
            usage = _usage_of(chunk)
            if usage is not None:
                usage_chunk = chunk
                break
    # The stream's id and model are on every chunk; the first chunk's id is the stream's own
    # (Groq's final usage chunk may carry a placeholder id).
    first = first_sse(text)
    first_chunk = as_dict(parse_json(first[1])) if first is not None else {}
    response_id = as_str(first_chunk.get("id")) or as_str(as_dict(usage_chunk).get("id"))
    model = (
        model_name(as_dict(usage_chunk).get("model"))
        or model_name(first_chunk.get("model"))
        or _requested_model(exchange)
    )
    if usage is not None:
        tier = service_tier(as_dict(usage_chunk).get("service_tier") or first_chunk.get("service_tier"))
        return Extracted(API, PROVIDER, model, "ok", (_line(usage),), response_id, streaming=True, service_tier=tier)
    if error is not None:
        return Extracted(API, PROVIDER, model, "not_billed", response_id=response_id, reason=error, streaming=True)
    return Extracted(
        API,
        PROVIDER,
        model,
        "missing",
        response_id=response_id,
        reason="no usage in stream (stream_options.include_usage not set)",
        streaming=True,
    )


def texts(exchange: Exchange) -> tuple[str, str]:
    request = as_dict(exchange.request_json)
    prompt = collect_text(request.get("messages"), _PROMPT_KEYS)
    for key in ("tools", "functions"):
        if request.get(key):
            prompt.append(json.dumps(request[key], separators=(",", ":"), ensure_ascii=False))
    body = exchange.response_json
    if isinstance(body, dict):
        return join_text(prompt), join_text(collect_text(body.get("choices"), _COMPLETION_KEYS))
    deltas: list[str] = []
    for _event, data in iter_sse(exchange.response_text):
        chunk = parse_json(data)
        if isinstance(chunk, dict):
            deltas.extend(collect_text(chunk.get("choices"), _COMPLETION_KEYS))
    return join_text(prompt), "".join(deltas)
