"""Token estimates for responses that carry no usage, with tiktoken.

Only used when a successful response reported no usage at all (an OpenAI stream without
``include_usage``, a cassette trimmed by hand). Every estimated call is labelled
``estimated`` wherever it appears. tiktoken is imported on first use.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from ..usage import Tokens

__all__ = ["DEFAULT_MAX_OUTPUT", "encoding_name", "estimate_tokens", "provider_hint", "worst_case"]

#: Per-message overhead of the chat format (role markers), as OpenAI's cookbook counts it.
_MESSAGE_OVERHEAD = 3


def encoding_name(model: str | None) -> str:
    """o200k_base for OpenAI's current families, cl100k_base otherwise (an approximation for other vendors)."""
    name = (model or "").lower().rsplit("/", 1)[-1]
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")):
        return "o200k_base"
    return "cl100k_base"


@functools.cache
def _encoding(name: str) -> Any:
    import tiktoken

    return tiktoken.get_encoding(name)


def count(text: str, model: str | None) -> int:
    if not text:
        return 0
    return len(_encoding(encoding_name(model)).encode(text, disallowed_special=()))


def estimate_tokens(prompt: str, completion: str, model: str | None) -> Tokens:
    """Input and output tokens estimated from the recorded prompt and completion text."""
    prompt_tokens = count(prompt, model) + (_MESSAGE_OVERHEAD if prompt else 0)
    return Tokens(input=prompt_tokens, output=count(completion, model))


#: Output tokens assumed for a request that sets no output limit, when reserving its worst case.
DEFAULT_MAX_OUTPUT = 4096
_OUTPUT_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "maxOutputTokens", "maxTokens")
_MODEL_IN_PATH = re.compile(r"/(?:models|model|deployments)/([^/:?]+)")


_PROVIDER_HINTS = (
    ("anthropic", re.compile(r"/messages\b|^claude", re.IGNORECASE)),
    ("google", re.compile(r":(?:stream)?generateContent|^gemini", re.IGNORECASE)),
    ("openai", re.compile(r"/(?:chat/)?completions\b|/responses\b|/embeddings\b|^(?:gpt|o\d|text-embedding)")),
)


def provider_hint(url: str, model: str | None) -> str | None:
    """The provider a request's path or model name suggests, for a host no price list knows (a proxy)."""
    path = url.split("?", 1)[0]
    for provider, pattern in _PROVIDER_HINTS:
        if pattern.search(path) or (model and pattern.search(model)):
            return provider
    return None


def worst_case(url: str, body: bytes | str | None) -> tuple[str | None, Tokens]:
    """The model a request names and a cautious bound on what it can bill, without a tokenizer.

    Input: one token per two bytes of the request body (JSON included, so it overstates a
    prompt); output: the request's own limit, or :data:`DEFAULT_MAX_OUTPUT`. Used to reserve
    spend before a live call while recording.
    """
    raw = body.encode("utf-8", errors="replace") if isinstance(body, str) else (body or b"")
    data: Any = None
    if raw[:1] in (b"{", b"["):
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
    limits = _limits(data)
    model = data.get("model") if isinstance(data, dict) and isinstance(data.get("model"), str) else None
    if model is None:
        found = _MODEL_IN_PATH.search(url.split("?", 1)[0])
        model = found.group(1) if found else None
    output = max(limits) if limits else DEFAULT_MAX_OUTPUT
    return model, Tokens(input=len(raw) // 2 + 1, output=output)


def _limits(data: Any, depth: int = 0) -> list[int]:
    """Every output limit set in a request body (top level, or Gemini's ``generationConfig``)."""
    if not isinstance(data, dict) or depth > 2:
        return []
    found = [value for key in _OUTPUT_LIMITS if isinstance(value := data.get(key), int) and value > 0]
    for nested in ("generationConfig", "generation_config", "inferenceConfig", "config"):
        found += _limits(data.get(nested), depth + 1)
    return found
