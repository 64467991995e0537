"""Google Gemini ``:generateContent`` and ``:streamGenerateContent``, on the Developer API and Vertex AI.

``usageMetadata`` is proto3 JSON: a count equal to 0 is omitted, so an absent count is 0.
``promptTokenCount`` includes cache hits but not ``toolUsePromptTokenCount``;
``candidatesTokenCount`` excludes ``thoughtsTokenCount``. A stream's ``usageMetadata`` is
cumulative, so the last one wins; a stream is either SSE (``alt=sse``) or one JSON array.
"""

from __future__ import annotations

import json
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
    iter_sse,
    iter_sse_reversed,
    join_text,
    model_name,
    parse_json,
)

__all__ = ["API", "PROVIDER", "dims_from_usage", "extract", "texts", "tokens_from_usage"]

API = "gemini"
PROVIDER = "google"

_COUNTS = (
    "promptTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
    "cachedContentTokenCount",
    "totalTokenCount",
)
_TEXT_KEYS = frozenset({"text", "code", "output"})
_OUTPUT_KEYS = frozenset({"text", "code", "output", "name"})
_JSON_KEYS = frozenset({"args", "response"})


def tokens_from_usage(usage: dict[str, Any]) -> Tokens:
    """Normalise a ``usageMetadata`` object."""
    thoughts = as_int(usage.get("thoughtsTokenCount"))
    return Tokens(
        input=as_int(usage.get("promptTokenCount")) + as_int(usage.get("toolUsePromptTokenCount")),
        cached_input=as_int(usage.get("cachedContentTokenCount")),
        output=as_int(usage.get("candidatesTokenCount")) + thoughts,
        reasoning=thoughts,
    )


#: The billed dimension of each non-text modality, per details list (as genai-prices reads them:
#: a document is priced as image tokens).
_MODALITY = {"AUDIO": "audio", "IMAGE": "image", "DOCUMENT": "image", "VIDEO": "video"}
_DETAILS = {
    "promptTokensDetails": "input_{}_tokens",
    "toolUsePromptTokensDetails": "input_{}_tokens",
    "cacheTokensDetails": "cache_{}_read_tokens",
    "candidatesTokensDetails": "output_{}_tokens",
}


def dims_from_usage(usage: dict[str, Any], chunk: dict[str, Any] | None = None) -> Dims:
    """Audio, image and video tokens from the per-modality details (text is the rest), and the
    grounding web searches of the response (``webSearchQueries``)."""
    counts: dict[str, int] = {}
    for field, template in _DETAILS.items():
        for item in as_list(usage.get(field)):
            detail = as_dict(item)
            modality = _MODALITY.get(str(detail.get("modality")))
            if modality is not None:
                key = template.format(modality)
                counts[key] = counts.get(key, 0) + as_int(detail.get("tokenCount"))
    searches = 0
    for candidate in as_list(as_dict(chunk).get("candidates")):
        searches += len(as_list(as_dict(as_dict(candidate).get("groundingMetadata")).get("webSearchQueries")))
    counts["web_searches"] = searches
    return Dims.from_counts(counts)


def url_model(path: str) -> str | None:
    """The model in ``…/models/{model}:generateContent`` (or the endpoint id of a tuned model)."""
    last = path.rpartition("/")[2]
    return model_name(unquote(last.partition(":")[0]))


def extract(exchange: Exchange) -> Extracted:
    model = url_model(exchange.path)
    streaming = exchange.path.endswith(":streamGenerateContent")
    if exchange.status >= 400:
        return Extracted(API, PROVIDER, model, "not_billed", reason=f"HTTP {exchange.status}", streaming=streaming)
    body = exchange.response_json
    error = False
    chunk: dict[str, Any] = {}
    if isinstance(body, dict):
        chunk = body
    elif isinstance(body, list):
        # A stream served as one JSON array of responses.
        for item in reversed(body):
            if isinstance(item, dict) and "usageMetadata" in item:
                chunk = item
                break
        else:
            chunk = next((item for item in body if isinstance(item, dict)), {})
    else:
        streaming = True
        for _event, data in iter_sse_reversed(exchange.response_text):
            if chunk and '"usageMetadata"' not in data and '"error"' not in data:
                continue
            item = as_dict(parse_json(data))
            error = error or "error" in item
            if "usageMetadata" in item or not chunk:
                # The last chunk names the model even when no chunk carries usage.
                chunk = item
                if "usageMetadata" in item:
                    break
    error = error or "error" in chunk
    model = model_name(chunk.get("modelVersion")) or model
    response_id = as_str(chunk.get("responseId"))
    usage = chunk.get("usageMetadata")
    if not isinstance(usage, dict):
        if error:
            return Extracted(
                API, PROVIDER, model, "not_billed", response_id=response_id, reason="error body", streaming=streaming
            )
        return Extracted(
            API, PROVIDER, model, "missing", response_id=response_id, reason="no usageMetadata", streaming=streaming
        )
    if not any(key in usage for key in _COUNTS):
        block = as_str(as_dict(chunk.get("promptFeedback")).get("blockReason"))
        if block is not None:
            # The prompt was refused before the model ran (e.g. by a Model Armor template).
            # usageMetadata is there, and proto3 omits zero counts: the provider reported 0
            # tokens, not "unknown". Estimating from the prompt text would invent a charge
            # Google did not make, so nothing is billed. (A response stopped by the safety
            # settings, finishReason SAFETY, does report its promptTokenCount: billed as is.)
            return Extracted(
                API,
                PROVIDER,
                model,
                "not_billed",
                response_id=response_id,
                reason=f"prompt blocked ({block}) before the model ran; no tokens reported",
                streaming=streaming,
            )
        return Extracted(
            API, PROVIDER, model, "missing", response_id=response_id, reason="no token counts", streaming=streaming
        )
    line = UsageLine(tokens_from_usage(usage), dims=dims_from_usage(usage, chunk))
    return Extracted(API, PROVIDER, model, "ok", (line,), response_id, streaming=streaming)


def _candidates_text(chunk: object) -> list[str]:
    return collect_text(as_dict(chunk).get("candidates"), _OUTPUT_KEYS, _JSON_KEYS)


def texts(exchange: Exchange) -> tuple[str, str]:
    request = as_dict(exchange.request_json)
    prompt = collect_text(request.get("systemInstruction") or request.get("system_instruction"), _TEXT_KEYS)
    prompt.extend(collect_text(request.get("contents"), _TEXT_KEYS, _JSON_KEYS))
    if request.get("tools"):
        prompt.append(json.dumps(request["tools"], separators=(",", ":"), ensure_ascii=False))
    body = exchange.response_json
    if isinstance(body, dict):
        return join_text(prompt), join_text(_candidates_text(body))
    parts: list[str] = []
    if isinstance(body, list):
        for item in body:
            parts.extend(_candidates_text(item))
    else:
        for _event, data in iter_sse(exchange.response_text):
            parts.extend(_candidates_text(parse_json(data)))
    return join_text(prompt), "".join(parts)
