"""Token estimates for responses that carry no usage, with tiktoken.

Only used when a successful response reported no usage at all (an OpenAI stream without
``include_usage``, a cassette trimmed by hand). Every estimated call is labelled
``estimated`` wherever it appears. tiktoken is imported on first use.
"""

from __future__ import annotations

import functools
from typing import Any

from ..usage import Tokens

__all__ = ["encoding_name", "estimate_tokens"]

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
