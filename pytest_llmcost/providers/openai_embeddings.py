"""OpenAI-style embeddings (``POST …/embeddings``): input tokens only."""

from __future__ import annotations

from ..usage import Tokens
from .base import Exchange, Extracted, UsageLine, as_dict, as_int, collect_text, join_text, model_name

__all__ = ["API", "PROVIDER", "extract", "texts"]

API = "openai.embeddings"
PROVIDER = "openai"

_NO_KEYS: frozenset[str] = frozenset()


def extract(exchange: Exchange) -> Extracted:
    request = as_dict(exchange.request_json)
    body = as_dict(exchange.response_json)
    model = model_name(body.get("model")) or model_name(request.get("model"))
    if exchange.status >= 400:
        return Extracted(API, PROVIDER, model, "not_billed", reason=f"HTTP {exchange.status}")
    usage = body.get("usage")
    if isinstance(usage, dict) and usage:
        count = as_int(usage.get("prompt_tokens")) or as_int(usage.get("total_tokens"))
        return Extracted(API, PROVIDER, model, "ok", (UsageLine(Tokens(input=count)),))
    return Extracted(API, PROVIDER, model, "missing", reason="no usage in response")


def texts(exchange: Exchange) -> tuple[str, str]:
    # ``input`` is a string or a list of strings (lists of token ids are not text).
    return join_text(collect_text(as_dict(exchange.request_json).get("input"), _NO_KEYS)), ""
