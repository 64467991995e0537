"""Read the usage an LLM provider reported in one recorded HTTP exchange.

:func:`extract` routes an exchange to the reader of its wire format by method and URL path,
never by host, so every OpenAI-compatible host is read by the OpenAI readers. It returns None
for anything that is not a billed call (auth, model listing, token counting, files,
cache management, unknown paths); :func:`is_free_endpoint` tells the known free ones on an
LLM host from an endpoint no reader knows. :func:`settle` then drops usage a test saw twice
for the same response.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from types import ModuleType

from . import anthropic, bedrock, cohere, gemini, openai_chat, openai_embeddings, openai_media, openai_responses
from .base import Exchange, Extracted, UsageLine, as_dict, is_llm_host

__all__ = [
    "Exchange",
    "Extracted",
    "UsageLine",
    "extract",
    "is_free_endpoint",
    "is_llm_host",
    "route",
    "settle",
    "texts",
]

_MEDIA = (
    "/images/generations",
    "/images/edits",
    "/images/variations",
    "/audio/transcriptions",
    "/audio/translations",
    "/audio/speech",
    "/moderations",
)
_FILE_CONTENT = re.compile(r"/files/[^/]+/content$")
#: POST endpoints of LLM hosts that bill nothing themselves: token counting, uploads, jobs and
#: caches created or cancelled (what they later produce is billed by the calls that use it).
_FREE_POST = re.compile(
    r"(?:count_tokens|:countTokens|/input_tokens|/files|/uploads(?:/.*)?|/batches(?:/.*)?|/cachedContents(?:/.*)?"
    r"|/cancel|/vector_stores(?:/.*)?|/fine_tuning/.*|/fine-tuning/.*|/containers(?:/.*)?|/conversations(?:/.*)?"
    r"|/assistants(?:/.*)?|/threads(?:/[^/]+)?(?:/messages.*)?|/realtime/(?:sessions|client_secrets|transcription_sessions)"
    r"|/oauth2?/token|/tokenize|/detokenize|/auth.*)$"
)


def _is_anthropic_body(exchange: Exchange) -> bool:
    """A Bedrock InvokeModel call whose body is an Anthropic Messages request or response."""
    body = as_dict(exchange.response_json)
    if body.get("type") == "message" and "usage" in body:
        return True
    return "anthropic_version" in as_dict(exchange.request_json)


def route(exchange: Exchange) -> ModuleType | None:
    """The module reading this exchange's wire format, or None when it is not a generation call."""
    method = exchange.method.upper()
    path = exchange.path
    if method == "POST":
        if path.endswith("/chat/completions"):
            return openai_chat
        if path.endswith(("/responses", "/responses/compact")):
            return openai_responses
        if path.endswith("/v1/messages"):
            return anthropic
        if path.endswith((":generateContent", ":streamGenerateContent")):
            return gemini
        if "/model/" in path:
            if path.endswith(("/converse", "/converse-stream", "/invoke-with-response-stream")):
                return bedrock
            if path.endswith("/invoke"):
                return anthropic if _is_anthropic_body(exchange) else bedrock
            return None
        if path.endswith((":rawPredict", ":streamRawPredict")) and "/publishers/anthropic/" in path:
            return anthropic
        if path.endswith("/embeddings"):
            return openai_embeddings
        if path.endswith("/v2/chat"):
            return cohere
        if path.endswith(_MEDIA):
            return openai_media
        return None
    if method == "GET":
        if _FILE_CONTENT.search(path):
            return openai_media  # a Batch API output file (other files are not read)
        # GET …/responses/{id}: a background response polled, or its stream resumed.
        _, found, tail = path.rpartition("/responses/")
        if found and tail and "/" not in tail:
            return openai_responses
    return None


def extract(exchange: Exchange) -> Extracted | None:
    """The usage reported in ``exchange``, or None when it is not an LLM generation call."""
    module = route(exchange)
    if module is None:
        return None
    result: Extracted | None = module.extract(exchange)
    return result


def is_free_endpoint(exchange: Exchange) -> bool:
    """A call to an LLM host that bills nothing: a read (``GET``, ``HEAD``, ``DELETE``…), token
    counting, a file upload, a batch or cache created. Any other unread ``POST`` may bill."""
    if exchange.method.upper() != "POST":
        return True
    return exchange.status >= 400 or _FREE_POST.search(exchange.path.rstrip("/")) is not None


def texts(exchange: Exchange) -> tuple[str, str]:
    """``(prompt, completion)`` text of an LLM exchange, to estimate tokens when usage is missing.

    The prompt includes system text, messages and tool definitions; the completion includes
    streamed deltas, reasoning text and tool call arguments. ``("", "")`` for other exchanges.
    """
    module = route(exchange)
    if module is None:
        return "", ""
    prompt, completion = module.texts(exchange)
    return str(prompt), str(completion)


def settle(items: Sequence[Extracted | None]) -> list[Extracted | None]:
    """Count each response's usage once within one test's extractions, given in order.

    A retrieval (``GET /responses/{id}``, a resumed stream) of a response whose usage an
    earlier item already reported is replaced by a ``not_billed`` copy without lines.
    """
    reported: dict[str, int] = {}
    settled: list[Extracted | None] = []
    for index, item in enumerate(items):
        response_id = item.response_id if item is not None else None
        if item is not None and response_id is not None:
            first = reported.get(response_id)
            if item.retrieval and first is not None:
                item = dataclasses.replace(
                    item,
                    status="not_billed",
                    lines=(),
                    reason=f"usage already reported by interaction #{first} for response {response_id}",
                )
            elif item.status == "ok" and item.lines:
                reported.setdefault(response_id, index)
        settled.append(item)
    return settled
