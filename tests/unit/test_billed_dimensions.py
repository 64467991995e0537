"""Every billed dimension a provider reports is metered at genai-prices' own figure, to the last digit.

Each case is one response from a real provider host, metered with :func:`measure`, and compared
with genai-prices reading the same body (``extract_usage``) and pricing it (``calc_price``, with
the response's service tier as the price context). Where genai-prices' extractor misses a field
its price table covers, the reference is ``calc_price`` on the correct ``Usage`` built by hand,
and the case says why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from genai_prices import Usage, calc_price, extract_usage

from pytest_llmcost.meter import Captured, measure
from pytest_llmcost.pricing import RateCard
from pytest_llmcost.providers import extract
from pytest_llmcost.providers.base import Exchange, model_candidates, model_name, service_tier
from pytest_llmcost.usage import Call, Dims, Tokens

# After the dated price variants of genai-prices' card (flex and priority tiers) take effect.
WHEN = datetime(2026, 11, 1, tzinfo=UTC)
CARD = RateCard(when=WHEN)

OPENAI = "https://api.openai.com/v1"
ANTHROPIC = "https://api.anthropic.com/v1/messages"
GEMINI = "https://generativelanguage.googleapis.com/v1beta/models"
BEDROCK = "https://bedrock-runtime.us-east-1.amazonaws.com/model"


def meter(url: str, request: Any, response: Any, method: str = "POST", status: int = 200) -> list[Call]:
    exchange = Exchange(method, url, request, status, response)
    return list(measure("t.py::test", [Captured(exchange, None, None, None)], CARD).records)


def reference(
    body: Any, provider: str, flavor: str, *, model: str | None = None, context: dict[str, str] | None = None
) -> Decimal:
    """genai-prices' own price for ``body``: its extractor, then ``calc_price``."""
    extracted = extract_usage(body, provider_id=provider, api_flavor=flavor)
    model_ref = model or (extracted.model.id if extracted.model is not None else None)
    assert model_ref is not None
    return by_hand(extracted.usage, model_ref, provider, context)


def by_hand(usage: Usage, model: str, provider: str, context: dict[str, str] | None = None) -> Decimal:
    price = calc_price(usage, model, provider_id=provider, price_context=context, genai_request_timestamp=WHEN)
    return Decimal(price.total_price)


def multipart(**fields: str) -> bytes:
    boundary = "----llmcost"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n')
    parts.append("Content-Type: audio/mpeg\r\n\r\n\x00\x01binary\r\n")
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode("latin-1")


@dataclass(frozen=True)
class Case:
    name: str
    url: str
    request: Any
    response: Any
    expected: Callable[[], Decimal]
    issue_usd: str | None = None
    """The figure the issue reported from genai-prices (dollars), checked too when given."""
    tier: str | None = None
    dims: dict[str, int] | None = None


def _anthropic(usage: dict[str, Any], model: str = "claude-sonnet-4-20250514") -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [], "usage": usage}


def _chat(model: str, usage: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": model, "choices": [], "usage": usage, **extra}


ANTHROPIC_1H = _anthropic(
    {
        "input_tokens": 0,
        "cache_creation_input_tokens": 1_000_000,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1_000_000},
        "output_tokens": 0,
    }
)
ANTHROPIC_SEARCH = _anthropic(
    {"input_tokens": 1000, "output_tokens": 100, "server_tool_use": {"web_search_requests": 100}}
)
ANTHROPIC_BATCH = _anthropic(
    {"input_tokens": 20_000, "output_tokens": 3_000, "service_tier": "batch"}, "claude-haiku-4-5"
)
O3_FLEX = _chat("o3-2025-04-16", {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}, service_tier="flex")
GPT4O_PRIORITY = _chat(
    "gpt-4o-2024-08-06", {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}, service_tier="priority"
)
REALTIME_AUDIO = _chat(
    "gpt-realtime",
    {
        "prompt_tokens": 5_000,
        "completion_tokens": 2_000,
        "prompt_tokens_details": {"audio_tokens": 4_000, "cached_tokens": 0},
        "completion_tokens_details": {"audio_tokens": 1_500, "reasoning_tokens": 0},
    },
)
GEMINI_AUDIO = {
    "candidates": [],
    "modelVersion": "gemini-2.0-flash",
    "usageMetadata": {
        "promptTokenCount": 1_000_000,
        "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 1_000_000}],
    },
}
GEMINI_CACHED_AUDIO = {
    "candidates": [],
    "modelVersion": "gemini-2.0-flash",
    "usageMetadata": {
        "promptTokenCount": 600_000,
        "cachedContentTokenCount": 500_000,
        "candidatesTokenCount": 1_000,
        "promptTokensDetails": [
            {"modality": "AUDIO", "tokenCount": 550_000},
            {"modality": "TEXT", "tokenCount": 50_000},
        ],
        "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 500_000}],
    },
}
GEMINI_IMAGE_OUT = {
    "candidates": [],
    "modelVersion": "gemini-2.5-flash-image",
    "usageMetadata": {
        "promptTokenCount": 20,
        "candidatesTokenCount": 1_300,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1_290}, {"modality": "TEXT", "tokenCount": 10}],
    },
}
GEMINI_PREFIXED = {
    "candidates": [],
    "modelVersion": "models/gemini-2.5-pro",
    "usageMetadata": {"promptTokenCount": 1_000, "candidatesTokenCount": 10},
}
GEMINI_GROUNDED = {
    "candidates": [{"groundingMetadata": {"webSearchQueries": ["paris weather", "paris forecast"]}}],
    "modelVersion": "gemini-2.0-flash",
    "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 50},
}
COHERE_BILLED = {
    "id": "c1",
    "finish_reason": "COMPLETE",
    "message": {"role": "assistant", "content": []},
    "usage": {
        "billed_units": {"input_tokens": 5, "output_tokens": 10},
        "tokens": {"input_tokens": 71, "output_tokens": 10},
    },
}
IMAGE_USAGE = {
    "created": 1,
    "data": [{"b64_json": "AAAA"}],
    "usage": {
        "input_tokens": 50,
        "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
        "output_tokens": 4_160,
        "total_tokens": 4_210,
    },
}
RESPONSES_SEARCH = {
    "id": "resp_1",
    "object": "response",
    "model": "gpt-4o-2024-08-06",
    "status": "completed",
    "output": [
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"type": "web_search_call", "id": "ws_2", "status": "completed"},
        {"type": "file_search_call", "id": "fs_1", "status": "completed"},
        {"type": "message", "content": [{"type": "output_text", "text": "hi"}]},
    ],
    "usage": {"input_tokens": 900, "output_tokens": 80, "input_tokens_details": {"cached_tokens": 0}},
}
BEDROCK_1H = {
    "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
    "stopReason": "end_turn",
    "usage": {
        "inputTokens": 10,
        "outputTokens": 20,
        "cacheWriteInputTokens": 3_000,
        "cacheReadInputTokens": 0,
        "cacheDetails": [{"ttl": "1h", "inputTokens": 3_000}],
    },
}
DEEPSEEK = _chat(
    "deepseek-chat",
    {
        "prompt_tokens": 10_000,
        "completion_tokens": 500,
        "prompt_cache_hit_tokens": 8_000,
        "prompt_cache_miss_tokens": 2_000,
    },
)

CASES = [
    Case(
        "anthropic-cache-write-1h",
        ANTHROPIC,
        {"model": "claude-sonnet-4-20250514"},
        ANTHROPIC_1H,
        lambda: reference(ANTHROPIC_1H, "anthropic", "default"),
        issue_usd="6.00",
        dims={"cache_write_1h_tokens": 1_000_000},
    ),
    Case(
        "openai-o3-flex",
        f"{OPENAI}/chat/completions",
        {"model": "o3"},
        O3_FLEX,
        lambda: reference(O3_FLEX, "openai", "chat", context={"service_tier": "flex"}),
        issue_usd="5.00",
        tier="flex",
    ),
    Case(
        "openai-gpt-4o-priority",
        f"{OPENAI}/chat/completions",
        {"model": "gpt-4o"},
        GPT4O_PRIORITY,
        lambda: reference(GPT4O_PRIORITY, "openai", "chat", context={"service_tier": "priority"}),
        issue_usd="21.25",
        tier="priority",
    ),
    Case(
        "gemini-audio-prompt",
        f"{GEMINI}/gemini-2.0-flash:generateContent",
        {"contents": []},
        GEMINI_AUDIO,
        lambda: reference(GEMINI_AUDIO, "google", "default"),
        issue_usd="0.70",
        dims={"input_audio_tokens": 1_000_000},
    ),
    Case(
        "anthropic-web-search",
        ANTHROPIC,
        {"model": "claude-sonnet-4-20250514"},
        ANTHROPIC_SEARCH,
        lambda: reference(ANTHROPIC_SEARCH, "anthropic", "default"),
        issue_usd="1.0045",
        dims={"web_searches": 100},
    ),
    Case(
        "cohere-billed-units",
        "https://api.cohere.com/v2/chat",
        {"model": "command-a-03-2025", "messages": []},
        COHERE_BILLED,
        # genai-prices' default Cohere extractor reads billed_units; the body names no model.
        lambda: reference(COHERE_BILLED, "cohere", "default", model="command-a-03-2025"),
        issue_usd="0.0001125",
        dims={"billed_input_tokens": 5},
    ),
    Case(
        "openai-image-generation",
        f"{OPENAI}/images/generations",
        {"model": "gpt-image-1", "prompt": "a cat"},
        IMAGE_USAGE,
        # The images body names no model: it is the request's.
        lambda: reference(IMAGE_USAGE, "openai", "images", model="gpt-image-1"),
        dims={"input_image_tokens": 10},
    ),
    Case(
        "gemini-models-prefix",
        f"{GEMINI}/gemini-2.5-pro:generateContent",
        {"contents": []},
        GEMINI_PREFIXED,
        # genai-prices' extract_usage cannot look up "models/gemini-2.5-pro" itself: the usage is its own.
        lambda: by_hand(
            extract_usage({**GEMINI_PREFIXED, "modelVersion": "gemini-2.5-pro"}, provider_id="google").usage,
            "gemini-2.5-pro",
            "google",
        ),
    ),
    Case(
        "openai-chat-audio-in-and-out",
        f"{OPENAI}/chat/completions",
        {"model": "gpt-realtime"},
        REALTIME_AUDIO,
        lambda: reference(REALTIME_AUDIO, "openai", "chat"),
        dims={"input_audio_tokens": 4_000, "output_audio_tokens": 1_500},
    ),
    Case(
        "anthropic-batch-tier",
        ANTHROPIC,
        {"model": "claude-haiku-4-5"},
        ANTHROPIC_BATCH,
        lambda: reference(ANTHROPIC_BATCH, "anthropic", "default", context={"processing": "batch"}),
        tier="batch",
    ),
    Case(
        "gemini-cached-audio",
        f"{GEMINI}/gemini-2.0-flash:generateContent",
        {"contents": []},
        GEMINI_CACHED_AUDIO,
        lambda: reference(GEMINI_CACHED_AUDIO, "google", "default"),
        dims={"input_audio_tokens": 550_000, "cache_audio_read_tokens": 500_000},
    ),
    Case(
        "gemini-image-output",
        f"{GEMINI}/gemini-2.5-flash-image:generateContent",
        {"contents": []},
        GEMINI_IMAGE_OUT,
        lambda: reference(GEMINI_IMAGE_OUT, "google", "default"),
        dims={"output_image_tokens": 1_290},
    ),
    Case(
        "gemini-grounding-searches",
        f"{GEMINI}/gemini-2.0-flash:generateContent",
        {"contents": []},
        GEMINI_GROUNDED,
        # genai-prices' Gemini extractor does not count groundingMetadata.webSearchQueries.
        lambda: by_hand(Usage(input_tokens=100, output_tokens=50, web_searches=2), "gemini-2.0-flash", "google"),
        dims={"web_searches": 2},
    ),
    Case(
        "openai-responses-hosted-searches",
        f"{OPENAI}/responses",
        {"model": "gpt-4o"},
        RESPONSES_SEARCH,
        # genai-prices' Responses extractor does not count web_search_call / file_search_call items.
        lambda: by_hand(
            Usage(input_tokens=900, output_tokens=80, cache_read_tokens=0, web_searches=2, storage_searches=1),
            "gpt-4o-2024-08-06",
            "openai",
        ),
        dims={"web_searches": 2, "storage_searches": 1},
    ),
    Case(
        "bedrock-cache-write-1h",
        f"{BEDROCK}/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
        {"messages": []},
        BEDROCK_1H,
        # Converse bodies name no model: it is the URL's.
        lambda: reference(BEDROCK_1H, "aws", "default", model="us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        dims={"cache_write_1h_tokens": 3_000},
    ),
    Case(
        "deepseek-cache-hits",
        "https://api.deepseek.com/chat/completions",
        {"model": "deepseek-chat"},
        DEEPSEEK,
        # genai-prices' DeepSeek extractor misses prompt_cache_hit_tokens, which its price table covers.
        lambda: by_hand(
            Usage(input_tokens=10_000, cache_read_tokens=8_000, cache_write_tokens=0, output_tokens=500),
            "deepseek-chat",
            "deepseek",
        ),
    ),
    Case(
        "openai-transcription-tokens",
        f"{OPENAI}/audio/transcriptions",
        multipart(model="gpt-4o-transcribe", response_format="json"),
        {
            "text": "hello",
            "usage": {
                "type": "tokens",
                "input_tokens": 120,
                "input_token_details": {"text_tokens": 20, "audio_tokens": 100},
                "output_tokens": 5,
                "total_tokens": 125,
            },
        },
        # genai-prices has no transcription extractor.
        lambda: by_hand(
            Usage(input_tokens=120, input_audio_tokens=100, output_tokens=5), "gpt-4o-transcribe", "openai"
        ),
        dims={"input_audio_tokens": 100},
    ),
    Case(
        "openai-transcription-seconds",
        f"{OPENAI}/audio/translations",
        multipart(model="whisper-1"),
        {"text": "hello", "usage": {"type": "duration", "seconds": 42}},
        # As genai-prices' "live" extractor reads a duration: seconds of audio.
        lambda: by_hand(Usage(audio_seconds=42), "whisper-1", "openai"),
        dims={"audio_seconds": 42},
    ),
    Case(
        "openai-speech-characters",
        f"{OPENAI}/audio/speech",
        {"model": "tts-1", "input": "Hello there, world.", "voice": "alloy"},
        b"ID3\x00binary-audio",
        # Speech responses are audio: tts-1 bills the request's characters.
        lambda: by_hand(Usage(input_characters=19), "tts-1", "openai"),
        dims={"input_characters": 19},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_metered_dollars_equal_genai_prices(case: Case) -> None:
    (call,) = meter(case.url, case.request, case.response)
    expected = case.expected()
    assert not call.unpriced, call.note
    assert call.usd == expected
    assert str(call.usd) == str(expected)  # to the last digit, exponent included
    if case.issue_usd is not None:
        assert call.usd == Decimal(case.issue_usd)
    assert call.service_tier == case.tier
    assert call.dims == Dims.from_counts(case.dims or {})


def test_openai_batch_output_file_is_priced_at_batch_rates() -> None:
    """A Batch API output file: one line per request, each at genai-prices' batch price."""
    lines = [
        {"id": "b1", "custom_id": f"req-{n}", "response": {"status_code": 200, "body": _chat("gpt-4o-mini", usage)}}
        for n, usage in enumerate(
            [{"prompt_tokens": 1_000, "completion_tokens": 100}, {"prompt_tokens": 50, "completion_tokens": 5}]
        )
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    calls = meter(f"{OPENAI}/files/file-abc/content", None, body, method="GET")
    assert [call.part for call in calls] == ["req-0", "req-1"]
    for call, line in zip(calls, lines, strict=True):
        usage = extract_usage(line["response"]["body"], provider_id="openai", api_flavor="chat").usage
        assert call.service_tier == "batch"
        assert call.usd == by_hand(usage, "gpt-4o-mini", "openai", {"processing": "batch"})
    assert calls[0].usd < by_hand(Usage(input_tokens=1_000, output_tokens=100), "gpt-4o-mini", "openai")


def test_a_file_that_is_not_batch_output_is_not_a_call() -> None:
    assert meter(f"{OPENAI}/files/file-abc/content", None, "just,a,csv\n", method="GET") == []


def test_moderation_is_a_free_call() -> None:
    (call,) = meter(
        f"{OPENAI}/moderations", {"input": "hi"}, {"id": "modr-1", "model": "omni-moderation-latest", "results": []}
    )
    assert (call.usd, call.unpriced, call.billed, call.api) == (Decimal(0), False, True, "openai.moderations")


def test_dall_e_images_are_unpriced_with_a_note() -> None:
    """DALL·E reports no usage: the call is kept, unpriced, with how to price it per request."""
    (call,) = meter(f"{OPENAI}/images/generations", {"model": "dall-e-3", "prompt": "x"}, {"created": 1, "data": []})
    assert call.unpriced
    assert call.model == "dall-e-3"
    assert call.note is not None
    assert "requests:" in call.note
    assert "images/generations" in call.note


@pytest.mark.parametrize(
    "url",
    [
        f"{OPENAI}/some/new/endpoint",
        "https://api.anthropic.com/v1/agents/run",
        "https://my-resource.openai.azure.com/openai/deployments/d/new-thing?api-version=2025-01-01",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/x/new-op",
        "https://api.mistral.ai/v1/ocr",
    ],
)
def test_an_unknown_endpoint_on_an_llm_host_is_unpriced_never_dropped(url: str) -> None:
    (call,) = meter(url, {"model": "whatever"}, {"result": "ok"})
    assert call.unpriced
    assert call.usd == 0
    assert call.api == "unknown"
    assert call.note is not None
    assert "no reader for POST" in call.note
    assert 'match: "' + url.split("?")[0] + '"' in call.note  # the local-price snippet, without the query


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", f"{OPENAI}/models"),
        ("POST", "https://api.anthropic.com/v1/messages/count_tokens"),
        ("POST", f"{OPENAI}/files"),
        ("POST", f"{OPENAI}/batches"),
        ("DELETE", f"{GEMINI}/../cachedContents/abc"),
        ("POST", "https://generativelanguage.googleapis.com/v1beta/cachedContents"),
        ("POST", "https://example.com/v1/anything"),
    ],
)
def test_free_endpoints_and_other_hosts_are_not_calls(method: str, url: str) -> None:
    assert meter(url, {}, {"ok": True}, method=method) == []


def test_an_unknown_endpoint_priced_per_request_in_the_local_file_is_charged(tmp_path: Any) -> None:
    from pytest_llmcost.pricing import load_local_prices

    path = tmp_path / "llm-cost-prices.yaml"
    path.write_text(f'requests:\n  - match: "{OPENAI}/some/*"\n    usd: 0.02\n    name: some\n')
    card = RateCard(local=load_local_prices(path), when=WHEN)
    exchange = Exchange("POST", f"{OPENAI}/some/new", {}, 200, {"ok": 1})
    (call,) = measure("t", [Captured(exchange, None, None, None)], card).records
    assert (call.usd, call.requests, call.unpriced) == (Decimal("0.02"), 1, False)


# -- model names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("publishers/anthropic/models/claude-sonnet-4-5@20250929", "claude-sonnet-4-5@20250929"),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        (
            "arn:aws:bedrock:us-east-1:123:application-inference-profile/abc",
            "arn:aws:bedrock:us-east-1:123:application-inference-profile/abc",
        ),
        ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("ft:gpt-4o-mini:org::id", "ft:gpt-4o-mini:org::id"),
        ("openai/gpt-oss-120b", "openai/gpt-oss-120b"),
        ("", None),
    ],
)
def test_model_name_removes_wrappers_only(raw: str, name: str | None) -> None:
    assert model_name(raw) == name


@pytest.mark.parametrize(
    ("provider", "model", "model_id"),
    [
        ("google", "models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("google", "publishers/google/models/gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("anthropic", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("aws", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0"),
        ("aws", "apac.amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0"),
        ("openai", "gpt-4o-2099-01-01", "gpt-4o"),
        ("openai", "ft:gpt-4o-mini:org::id", "ft:gpt-4o-mini"),
        ("openai", "ft:gpt-4o-mini-2024-07-18:org::id", "ft:gpt-4o-mini"),
    ],
)
def test_the_rate_card_finds_every_form_of_a_model_name(provider: str, model: str, model_id: str) -> None:
    price = CARD.price(provider, model, Tokens(input=1_000, output=10))
    assert price.usd is not None
    assert price.model_id == model_id


def test_a_fine_tune_is_never_priced_as_its_base_model() -> None:
    tuned = CARD.price("openai", "ft:gpt-4o-mini:org::id", Tokens(input=1_000_000)).usd
    base = CARD.price("openai", "gpt-4o-mini", Tokens(input=1_000_000)).usd
    assert tuned is not None
    assert base is not None
    assert tuned > base


def test_model_candidates_keep_the_reported_name_first() -> None:
    assert model_candidates("us.anthropic.claude-x@2025") == [
        "us.anthropic.claude-x@2025",
        "us.anthropic.claude-x-2025",
        "us.anthropic.claude-x",
        "anthropic.claude-x",
    ]


@pytest.mark.parametrize(
    ("raw", "tier"),
    [
        ("default", None),
        ("auto", None),
        ("standard", None),
        ("FLEX", "flex"),
        ({"type": "priority"}, "priority"),
        (None, None),
    ],
)
def test_service_tier_names_the_default_none(raw: Any, tier: str | None) -> None:
    assert service_tier(raw) == tier


# -- the reader's view ---------------------------------------------------------------------


def test_anthropic_stream_carries_tier_and_tools_from_its_events() -> None:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "model": "claude-sonnet-4-20250514",
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 500,
                "cache_creation": {"ephemeral_1h_input_tokens": 500},
                "output_tokens": 1,
                "service_tier": "priority",
            },
        },
    }
    delta = {"type": "message_delta", "usage": {"output_tokens": 30, "server_tool_use": {"web_search_requests": 3}}}
    body = "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in (start, delta))
    got = extract(Exchange("POST", ANTHROPIC, {"stream": True}, 200, body))
    assert got is not None
    assert got.status == "ok"
    assert got.service_tier == "priority"
    assert got.lines[0].dims == Dims.of(cache_write_1h_tokens=500, web_searches=3)
    assert got.lines[0].tokens == Tokens(input=510, cache_write=500, output=30)


def test_openai_stream_reports_its_tier() -> None:
    chunks = [
        {"id": "c", "model": "o3-2025-04-16", "service_tier": "flex", "choices": [{"delta": {"content": "hi"}}]},
        {
            "id": "c",
            "model": "o3-2025-04-16",
            "service_tier": "flex",
            "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2},
        },
    ]
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    got = extract(Exchange("POST", f"{OPENAI}/chat/completions", {"stream": True}, 200, body))
    assert got is not None
    assert got.service_tier == "flex"


def test_a_plain_call_keeps_the_fast_path_and_the_memo() -> None:
    """A call with no dimension and no tier is priced from the memo without genai-prices' objects;
    a call with dimensions to the same memoised model still gets genai-prices' figure."""
    first = RateCard(when=WHEN)
    plain = first.price("anthropic", "claude-sonnet-4-20250514", Tokens(input=1_000, output=10))
    memo = first.memo()
    assert memo is not None
    second = RateCard(when=WHEN, memo_in=memo)
    assert second.price("anthropic", "claude-sonnet-4-20250514", Tokens(input=1_000, output=10)) == plain
    searched = second.price(
        "anthropic", "claude-sonnet-4-20250514", Tokens(input=1_000, output=10), Dims.of(web_searches=2)
    )
    assert searched.usd == by_hand(
        Usage(input_tokens=1_000, output_tokens=10, web_searches=2), "claude-sonnet-4-20250514", "anthropic"
    )


def test_call_json_carries_dims_and_tier_and_reads_back() -> None:
    call = Call(0, None, "openai", "o3", Tokens(input=1), Decimal(1), dims=Dims.of(web_searches=2), service_tier="flex")
    data = call.to_json()
    assert data["dims"] == {"web_searches": 2}
    assert data["service_tier"] == "flex"
    assert Call.from_json(data) == call
    plain = Call(0, None, "openai", "o3", Tokens(input=1), Decimal(1)).to_json()
    assert "dims" not in plain
    assert "service_tier" not in plain
    assert Call.from_json(plain).dims == Dims()


def test_dims_sum_and_reject_unknown_keys() -> None:
    assert Dims.of(web_searches=1) + Dims.of(web_searches=2, input_audio_tokens=5) == Dims.of(
        input_audio_tokens=5, web_searches=3
    )
    assert not Dims.of(web_searches=0)
    with pytest.raises(ValueError, match="unknown billed dimension 'bogus'"):
        Dims.from_json({"bogus": 1})
    with pytest.raises(ValueError, match="whole number"):
        Dims.from_json({"web_searches": -1})


# -- where people look -----------------------------------------------------------------------


def test_verbose_line_shows_cache_writes_dimensions_and_tier() -> None:
    from pytest_llmcost.report.terminal import call_line

    call = Call(
        0,
        "plan",
        "anthropic",
        "claude-sonnet-4-5",
        Tokens(input=3_000, cache_write=2_048, output=10),
        Decimal("0.02"),
        dims=Dims.of(cache_write_1h_tokens=2_048, web_searches=3),
        service_tier="batch",
    )
    line = call_line(call)
    assert "2,048 cache write" in line
    assert "cache write 1h 2,048, web searches 3" in line
    assert "batch tier" in line


def test_html_call_row_carries_dimensions_and_tier() -> None:
    from pytest_llmcost.report.model import _calls_of

    call = Call(0, None, "openai", "o3", Tokens(input=1), Decimal(1), dims=Dims.of(web_searches=2), service_tier="flex")
    (row,) = _calls_of([call])
    assert row.billed == "web searches 2, flex tier"
