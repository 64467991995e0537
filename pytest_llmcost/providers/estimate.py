"""Token estimates for responses that carry no usage, with tiktoken.

Only used when a successful response reported no usage at all (an OpenAI stream without
``include_usage``, a cassette trimmed by hand). Every estimated call is labelled
``estimated`` wherever it appears. tiktoken is imported on first use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
from typing import Any

from ..usage import Tokens

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "ENCODINGS",
    "TokenizerUnavailable",
    "encoding_name",
    "estimate_tokens",
    "prepare",
    "provider_hint",
    "remember_failures",
    "worst_case",
]

#: Per-message overhead of the chat format (role markers), as OpenAI's cookbook counts it.
_MESSAGE_OVERHEAD = 3


def encoding_name(model: str | None) -> str:
    """o200k_base for OpenAI's current families, cl100k_base otherwise (an approximation for other vendors)."""
    name = (model or "").lower().rsplit("/", 1)[-1]
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o", "gpt-oss")):
        return "o200k_base"
    return "cl100k_base"


#: Every encoding :func:`encoding_name` can pick.
ENCODINGS = ("o200k_base", "cl100k_base")
#: Where tiktoken downloads an encoding from; its cache file is named by the sha1 of this URL.
_SOURCE = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
#: How long the session-start download may take before the run goes on without it.
PREPARE_TIMEOUT_S = 30.0

_unavailable: dict[str, str] = {}
"""Encodings that could not be had when the session started, with the reason: never fetched again."""


class TokenizerUnavailable(RuntimeError):
    """tiktoken's encoding could not be loaded (offline with a cold cache)."""


_remember = False


def remember_failures() -> None:
    """From now on an encoding that fails to load is not tried again: the command line fails once, not per call."""
    global _remember
    _remember = True


@functools.cache
def _encoding(name: str) -> Any:
    if name in _unavailable:
        raise TokenizerUnavailable(_unavailable[name])
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:
        if _remember:
            _unavailable[name] = _reason(exc)
        raise


def _cached(name: str) -> bool:
    """Whether tiktoken will load ``name`` without the network (its cache file is there, or it is loaded)."""
    if "tiktoken" in sys.modules:
        from tiktoken import registry

        if name in getattr(registry, "ENCODINGS", {}):
            return True
    folder = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
    if folder is None:
        folder = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not folder:  # tiktoken's cache is turned off: every load downloads
        return False
    key = hashlib.sha1(_SOURCE.format(name=name).encode()).hexdigest()
    return os.path.exists(os.path.join(folder, key))


def prepare(names: tuple[str, ...] = ENCODINGS, timeout: float = PREPARE_TIMEOUT_S) -> dict[str, str]:
    """Load the encodings tiktoken does not have cached yet, now, before any cassette or network block.

    Called when a metered session starts: an estimate made later, while a test's cassette is
    active, must not need the network (vcrpy would refuse the download). An encoding that
    cannot be had is remembered with its reason, and every estimate needing it is labelled
    instead of trying again. Returns those reasons. Costs nothing when the cache is warm.
    """
    missing = [name for name in names if name not in _unavailable and not _cached(name)]
    if not missing:
        return {}
    failed: dict[str, str] = {}

    def load() -> None:
        for name in missing:
            try:
                _encoding(name)
            except Exception as exc:  # offline, a proxy, a broken cache: labelled later, never a crash
                failed[name] = _reason(exc)

    worker = threading.Thread(target=load, name="llm-cost-tiktoken", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        failed.update({name: f"downloading it took over {timeout:.0f} s" for name in missing if name not in failed})
    _unavailable.update(failed)
    return failed


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
    output = max(limits) if limits else DEFAULT_MAX_OUTPUT
    return request_model(url, data), Tokens(input=len(raw) // 2 + 1, output=output)


def request_model(url: str, data: Any) -> str | None:
    """The model a request names: in its JSON body, else in its path (Gemini, Bedrock, Azure)."""
    model = data.get("model") if isinstance(data, dict) and isinstance(data.get("model"), str) else None
    if model is None:
        found = _MODEL_IN_PATH.search(url.split("?", 1)[0])
        model = found.group(1) if found else None
    return model


def _limits(data: Any, depth: int = 0) -> list[int]:
    """Every output limit set in a request body (top level, or Gemini's ``generationConfig``)."""
    if not isinstance(data, dict) or depth > 2:
        return []
    found = [value for key in _OUTPUT_LIMITS if isinstance(value := data.get(key), int) and value > 0]
    for nested in ("generationConfig", "generation_config", "inferenceConfig", "config"):
        found += _limits(data.get(nested), depth + 1)
    return found
