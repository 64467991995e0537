"""OpenAI endpoints that bill but are not chat: images, audio, moderations and Batch API results.

- ``POST …/images/generations``, ``…/images/edits``, ``…/images/variations``: GPT image models
  report token ``usage`` (text and image input tokens, image output tokens). DALL·E models
  report none and are billed per image: ``unpriced``.
- ``POST …/audio/transcriptions`` and ``…/audio/translations`` (multipart requests): token usage
  (``type: tokens``, audio input tokens apart) or seconds of audio (``type: duration``, Whisper).
  A plain-text response (``response_format=text``) carries no usage: ``unpriced``.
- ``POST …/audio/speech``: the response is the audio itself. ``tts-1`` models bill per character
  of the input, which the request gives exactly; token-billed speech models report no usage: ``unpriced``.
- ``POST …/moderations``: free; recorded at $0 (genai-prices prices moderation models at $0).
- ``GET …/files/{id}/content`` of a Batch API output file: one line per request, at batch prices.
"""

from __future__ import annotations

import math
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
    iter_sse_reversed,
    model_name,
    parse_json,
)
from .openai_chat import dims_from_usage as chat_dims
from .openai_chat import tokens_from_usage as chat_tokens
from .openai_responses import dims_of as responses_dims
from .openai_responses import tokens_from_usage as responses_tokens

__all__ = ["PROVIDER", "extract", "form_field", "texts"]

PROVIDER = "openai"
IMAGES = "openai.images"
AUDIO = "openai.audio"
SPEECH = "openai.speech"
MODERATIONS = "openai.moderations"
BATCH = "openai.batch"

_CHARACTER_BILLED = re.compile(r"^tts-1")


def form_field(exchange: Exchange, name: str) -> str | None:
    """A text field of a JSON or ``multipart/form-data`` request body (the model of an upload)."""
    request = exchange.request_json
    if isinstance(request, dict):
        return as_str(request.get(name))
    text = exchange.request_text
    match = re.search(rf'name="{re.escape(name)}"\r?\n(?:[^\r\n]+\r?\n)*\r?\n([^\r\n]*)\r?\n', text)
    return match.group(1).strip() or None if match else None


def _kind(exchange: Exchange) -> str:
    path = exchange.path
    if "/images/" in path:
        return IMAGES
    if path.endswith("/audio/speech"):
        return SPEECH
    if "/audio/" in path:
        return AUDIO
    if path.endswith("/moderations"):
        return MODERATIONS
    return BATCH


def _usage_in_stream(text: str) -> dict[str, Any] | None:
    for _event, data in iter_sse_reversed(text):
        if '"usage"' in data:
            usage = as_dict(parse_json(data)).get("usage")
            if isinstance(usage, dict):
                return usage
    return None


def _token_usage(usage: dict[str, Any]) -> UsageLine:
    """An images or audio ``usage``: ``input_tokens_details`` splits text from image or audio tokens."""
    input_details = as_dict(usage.get("input_tokens_details") or usage.get("input_token_details"))
    output_details = as_dict(usage.get("output_tokens_details") or usage.get("output_token_details"))
    tokens = Tokens(
        input=as_int(usage.get("input_tokens")),
        cached_input=as_int(input_details.get("cached_tokens")),
        output=as_int(usage.get("output_tokens")),
    )
    dims = Dims.of(
        input_audio_tokens=as_int(input_details.get("audio_tokens")),
        input_image_tokens=as_int(input_details.get("image_tokens")),
        output_audio_tokens=as_int(output_details.get("audio_tokens")),
        output_image_tokens=as_int(output_details.get("image_tokens")),
    )
    return UsageLine(tokens, dims=dims)


def extract(exchange: Exchange) -> Extracted | None:
    kind = _kind(exchange)
    if kind == BATCH:
        return _extract_batch(exchange)
    model = model_name(form_field(exchange, "model"))
    body = exchange.response_json
    if kind == MODERATIONS:
        model = model_name(as_dict(body).get("model")) or model or "omni-moderation-latest"
    if exchange.status >= 400:
        return Extracted(kind, PROVIDER, model, "not_billed", reason=f"HTTP {exchange.status}")
    if kind == MODERATIONS:
        return Extracted(kind, PROVIDER, model, "ok", (UsageLine(Tokens()),), as_str(as_dict(body).get("id")))
    if kind == SPEECH:
        if model is not None and _CHARACTER_BILLED.match(model):
            characters = len(form_field(exchange, "input") or "")
            return Extracted(
                kind, PROVIDER, model, "ok", (UsageLine(Tokens(), dims=Dims.of(input_characters=characters)),)
            )
        return Extracted(kind, PROVIDER, model, "unpriced", reason="speech responses report no usage")
    usage = as_dict(body).get("usage") if isinstance(body, dict) else _usage_in_stream(exchange.response_text)
    if not isinstance(usage, dict) or not usage:
        what = "image" if kind == IMAGES else "audio"
        return Extracted(kind, PROVIDER, model, "unpriced", reason=f"no usage in the {what} response")
    if usage.get("type") == "duration":
        seconds = usage.get("seconds")
        counted = math.ceil(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0
        return Extracted(kind, PROVIDER, model, "ok", (UsageLine(Tokens(), dims=Dims.of(audio_seconds=counted)),))
    return Extracted(kind, PROVIDER, model, "ok", (_token_usage(usage),), streaming=not isinstance(body, dict))


def _extract_batch(exchange: Exchange) -> Extracted | None:
    """The lines of a Batch API output file, each priced at batch rates; None for any other file."""
    if exchange.status >= 400 or '"custom_id"' not in exchange.response_text[:2000]:
        return None
    lines: list[UsageLine] = []
    model: str | None = None
    for raw in exchange.response_text.splitlines():
        item = as_dict(parse_json(raw))
        body = as_dict(as_dict(item.get("response")).get("body"))
        usage = as_dict(body.get("usage"))
        if not usage:
            continue
        line_model = model_name(body.get("model"))
        model = model or line_model
        part = as_str(item.get("custom_id"))
        if "prompt_tokens" in usage and "choices" in body:
            lines.append(UsageLine(chat_tokens(usage), part=part, model=line_model, dims=chat_dims(usage)))
        elif "input_tokens" in usage:
            lines.append(UsageLine(responses_tokens(usage), part=part, model=line_model, dims=responses_dims(body)))
        else:  # embeddings
            count = as_int(usage.get("prompt_tokens")) or as_int(usage.get("total_tokens"))
            lines.append(UsageLine(Tokens(input=count), part=part, model=line_model))
    if not lines:
        return None
    return Extracted(BATCH, PROVIDER, model, "ok", tuple(lines), service_tier="batch")


def texts(exchange: Exchange) -> tuple[str, str]:
    kind = _kind(exchange)
    if kind in (IMAGES, SPEECH, MODERATIONS):
        field = "prompt" if kind == IMAGES else "input"
        return form_field(exchange, field) or "", ""
    if kind == AUDIO:
        return "", as_str(as_dict(exchange.response_json).get("text")) or ""
    return "", ""
