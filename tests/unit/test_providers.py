"""The provider readers on small hand-made exchanges: routing, streams, status rules and texts."""

from __future__ import annotations

import base64
import gzip
import json
import struct
import zlib
from typing import Any

import pytest

from pytest_llmcost.providers import extract, route, settle, texts
from pytest_llmcost.providers.base import (
    Exchange,
    Extracted,
    UsageLine,
    collect_text,
    first_sse,
    iter_sse,
    iter_sse_reversed,
)
from pytest_llmcost.providers.bedrock import iter_frames, parse_headers
from pytest_llmcost.usage import Tokens

OPENAI = "https://api.openai.com/v1/chat/completions"
RESPONSES = "https://api.openai.com/v1/responses"
ANTHROPIC = "https://api.anthropic.com/v1/messages"
GEMINI = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
BEDROCK = "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"


def sse(*events: Any, done: bool = False, named: bool = False) -> str:
    """An SSE body: each event is a JSON value, or ``(event name, JSON value)``."""
    out = []
    for item in events:
        if isinstance(item, tuple):
            name, data = item
            out.append(f"event: {name}\ndata: {json.dumps(data)}\n\n")
        elif named:
            out.append(f"event: {item['type']}\ndata: {json.dumps(item)}\n\n")
        else:
            out.append(f"data: {json.dumps(item)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out)


def post(url: str, request: Any, response: Any, status: int = 200, **headers: str) -> Exchange:
    return Exchange("POST", url, request, status, response, {k.replace("_", "-"): [v] for k, v in headers.items()})


def ok(got: Extracted | None) -> Tokens:
    """The tokens of the single line of a successful extraction."""
    assert got is not None
    assert got.status == "ok", got.reason
    assert len(got.lines) == 1
    return got.lines[0].tokens


def chunk(delta: dict[str, Any] | None, usage: Any = None, **extra: Any) -> dict[str, Any]:
    """A chat completion chunk; ``delta=None`` gives the final ``choices: []`` chunk."""
    body: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18"}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}] if delta is not None else []
    body["usage"] = usage
    body.update(extra)
    return body


CHAT_USAGE = {
    "prompt_tokens": 54,
    "completion_tokens": 20,
    "total_tokens": 74,
    "prompt_tokens_details": {"cached_tokens": 12, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 5},
}


# --- OpenAI chat completions ------------------------------------------------------------------


def test_chat_stream_without_include_usage_is_missing() -> None:
    body = sse(chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo"}), done=True)
    got = extract(post(OPENAI, {"model": "gpt-4o-mini", "stream": True}, body))
    assert got is not None
    assert (got.status, got.lines, got.streaming) == ("missing", (), True)
    assert (got.model, got.response_id) == ("gpt-4o-mini-2024-07-18", "chatcmpl-1")
    assert "include_usage" in (got.reason or "")


def test_chat_stream_with_usage_reads_the_final_chunk() -> None:
    body = sse(chunk({"content": "Hi"}), chunk({}), chunk(None, CHAT_USAGE), done=True)
    got = extract(post(OPENAI, {"model": "gpt-4o-mini", "stream": True}, body))
    assert ok(got) == Tokens(input=54, cached_input=12, output=20, reasoning=5)
    assert got is not None
    assert got.streaming


def test_chat_stream_with_crlf_line_ends() -> None:
    body = sse(chunk({"content": "Hi"}), chunk(None, CHAT_USAGE), done=True).replace("\n", "\r\n")
    assert ok(extract(post(OPENAI, {"stream": True}, body))).input == 54


def test_groq_usage_given_twice_is_counted_once() -> None:
    groq = {"prompt_tokens": 304, "completion_tokens": 49, "completion_tokens_details": {"reasoning_tokens": 23}}
    last = chunk({}, groq, x_groq={"id": "req_1", "usage": groq})
    body = sse(chunk({"content": "x"}), last, done=True)
    assert ok(extract(post("https://api.groq.com/openai/v1/chat/completions", {}, body))) == Tokens(
        input=304, output=49, reasoning=23
    )


def test_groq_usage_only_under_x_groq() -> None:
    last = {"id": "stub", "model": "groq/compound", "choices": [], "x_groq": {"usage": CHAT_USAGE}}
    got = extract(post("https://api.groq.com/openai/v1/chat/completions", {}, sse(chunk({"content": "x"}), last)))
    assert ok(got).input == 54
    assert got is not None
    # The stream's id is the first chunk's: the usage chunk may carry a placeholder.
    assert (got.model, got.response_id) == ("groq/compound", "chatcmpl-1")


def test_chat_in_stream_error_without_usage_is_not_billed() -> None:
    body = sse(chunk({"content": "x"})) + 'event: error\ndata: {"error":{"code":"tool_use_failed"}}\n\n'
    got = extract(post("https://api.groq.com/openai/v1/chat/completions", {"stream": True}, body))
    assert got is not None
    assert (got.status, got.lines) == ("not_billed", ())
    assert got.reason == "stream error (tool_use_failed) before usage was reported"


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 77, "completion_tokens": 12, "num_cached_tokens": 76},
            Tokens(input=77, cached_input=76, output=12),
            id="mistral-num_cached_tokens",
        ),
        pytest.param(
            {"prompt_tokens": 4, "completion_tokens": 258, "cached_tokens": 3},
            Tokens(input=4, cached_input=3, output=258),
            id="huggingface-cached_tokens",
        ),
        pytest.param(
            {
                "prompt_tokens": 563,
                "completion_tokens": 116,
                "prompt_cache_hit_tokens": 512,
                "prompt_cache_miss_tokens": 51,
                "prompt_tokens_details": {"cached_tokens": 512},
                "completion_tokens_details": {"reasoning_tokens": 60},
            },
            Tokens(input=563, cached_input=512, output=116, reasoning=60),
            id="deepseek-hit-and-details-once",
        ),
        pytest.param(
            {
                "prompt_tokens": 3329,
                "completion_tokens": 53,
                "prompt_tokens_details": {"cached_tokens": 3211, "cache_write_tokens": 115},
            },
            Tokens(input=3329, cached_input=3211, cache_write=115, output=53),
            id="cache_write_tokens",
        ),
        pytest.param(
            {"completion_tokens": 122, "prompt_tokens": 134, "total_tokens": 256},
            Tokens(input=134, output=122),
            id="minimal",
        ),
    ],
)
def test_chat_usage_variants(usage: dict[str, Any], expected: Tokens) -> None:
    body = {"id": "c1", "model": "m", "choices": [{"message": {"content": "hi"}}], "usage": usage}
    assert ok(extract(post(OPENAI, {"model": "m"}, body))) == expected


def test_chat_success_without_usage_is_missing() -> None:
    got = extract(post(OPENAI, {"model": "m"}, {"id": "c1", "choices": [{"message": {"content": "hi"}}]}))
    assert got is not None
    assert (got.status, got.model, got.streaming) == ("missing", "m", False)


def test_gzip_compressed_bodies() -> None:
    body = {"id": "c1", "model": "m", "choices": [], "usage": CHAT_USAGE}
    got = extract(post(OPENAI, {}, gzip.compress(json.dumps(body).encode())))
    assert ok(got).output == 20
    stream = sse(chunk({"content": "Hi"}), chunk(None, CHAT_USAGE), done=True)
    got = extract(post(OPENAI, json.dumps({"stream": True}).encode(), gzip.compress(stream.encode())))
    assert ok(got).input == 54
    assert texts(post(OPENAI, {}, gzip.compress(stream.encode())))[1] == "Hi"


@pytest.mark.parametrize(
    "url",
    [
        "https://x.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-12-01-preview",
        "https://api.z.ai/api/paas/v4/chat/completions",
        "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        "https://router.huggingface.co/together/v1/chat/completions",
        "https://api.mistral.ai/v1/chat/completions#stream",
        "http://localhost:11434/v1/chat/completions",
    ],
)
def test_openai_compatible_hosts_route_by_path(url: str) -> None:
    got = extract(post(url, {}, {"model": "m", "choices": [], "usage": CHAT_USAGE}))
    assert got is not None
    assert (got.api, got.provider) == ("openai.chat", "openai")


# --- HTTP errors and non-LLM exchanges --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "api", "model"),
    [
        (OPENAI, "openai.chat", "the-model"),
        (RESPONSES, "openai.responses", "the-model"),
        (ANTHROPIC, "anthropic.messages", "the-model"),
        (GEMINI + ":generateContent", "gemini", "gemini-2.5-flash"),
        (BEDROCK + "/converse-stream", "bedrock.converse", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("https://api.cohere.com/v2/chat", "cohere.chat", "the-model"),
        ("https://api.openai.com/v1/embeddings", "openai.embeddings", "the-model"),
    ],
)
def test_http_error_is_not_billed(url: str, api: str, model: str) -> None:
    """An error response bills nothing; the model comes from the request (or the URL)."""
    error = {"error": {"type": "invalid_request_error", "message": "bad"}}
    got = extract(post(url, {"model": "the-model", "stream": True}, error, status=400))
    assert got is not None
    assert (got.api, got.model, got.status, got.reason, got.lines) == (api, model, "not_billed", "HTTP 400", ())


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "https://oauth2.googleapis.com/token"),
        ("GET", "https://api.openai.com/v1/models"),
        ("POST", "https://api.anthropic.com/v1/messages/count_tokens"),
        ("POST", "https://api.anthropic.com/v1/messages/batches"),
        ("POST", "https://generativelanguage.googleapis.com/v1beta/cachedContents"),
        ("DELETE", "https://generativelanguage.googleapis.com/v1beta/cachedContents/abc"),
        ("POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens"),
        ("POST", "https://api.openai.com/v1/files"),
        ("HEAD", "https://example.com/image.png"),
        ("GET", "https://api.openai.com/v1/responses/resp_1/input_items"),
        ("POST", "https://api.openai.com/v1/responses/input_tokens"),
        ("POST", "https://api.openai.com/v1/threads/thread_1/messages"),
        ("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/count-tokens"),
        ("POST", "https://example.com/anything"),
        ("GET", "https://api.openai.com/v1/chat/completions"),
    ],
)
def test_non_llm_exchanges_are_ignored(method: str, url: str) -> None:
    exchange = Exchange(method, url, {"model": "m"}, 200, {"usage": {"input_tokens": 3}})
    assert route(exchange) is None
    assert extract(exchange) is None
    assert texts(exchange) == ("", "")


# --- OpenAI Responses -------------------------------------------------------------------------

RESPONSE_USAGE = {
    "input_tokens": 4020,
    "input_tokens_details": {"cache_write_tokens": 12, "cached_tokens": 4000},
    "output_tokens": 469,
    "output_tokens_details": {"reasoning_tokens": 448},
    "total_tokens": 4489,
}
RESPONSE_TOKENS = Tokens(input=4020, cached_input=4000, cache_write=12, output=469, reasoning=448)


def response(status: str = "completed", usage: Any = RESPONSE_USAGE, **extra: Any) -> dict[str, Any]:
    body = {"id": "resp_1", "object": "response", "model": "gpt-5-2025-08-07", "status": status, "usage": usage}
    body["output"] = [{"type": "message", "content": [{"type": "output_text", "text": "Paris"}]}]
    body.update(extra)
    return body


def test_responses_json() -> None:
    got = extract(post(RESPONSES, {"model": "gpt-5", "input": "hi"}, response()))
    assert ok(got) == RESPONSE_TOKENS
    assert got is not None
    assert (got.api, got.model, got.response_id, got.retrieval, got.streaming) == (
        "openai.responses",
        "gpt-5-2025-08-07",
        "resp_1",
        False,
        False,
    )


def test_responses_compact_takes_the_model_from_the_request() -> None:
    body = {"id": "resp_2", "object": "response.compaction", "output": [], "usage": RESPONSE_USAGE}
    got = extract(post(RESPONSES + "/compact", {"model": "gpt-4o-mini", "input": []}, body))
    assert ok(got) == RESPONSE_TOKENS
    assert got is not None
    assert got.model == "gpt-4o-mini"


@pytest.mark.parametrize("status", ["queued", "in_progress"])
def test_background_response_not_run_yet_is_not_billed(status: str) -> None:
    got = extract(post(RESPONSES, {"background": True}, response(status, None)))
    assert got is not None
    assert (got.status, got.lines, got.response_id) == ("not_billed", (), "resp_1")
    assert status in (got.reason or "")


def test_responses_retrieval_is_marked() -> None:
    exchange = Exchange("GET", "https://api.openai.com/v1/responses/resp_1?stream=false", "", 200, response())
    got = extract(exchange)
    assert ok(got) == RESPONSE_TOKENS
    assert got is not None
    assert (got.retrieval, got.response_id, got.streaming) == (True, "resp_1", False)


def test_responses_stream_reads_the_terminal_event() -> None:
    created = {"type": "response.created", "response": response("in_progress", None)}
    delta = {"type": "response.output_text.delta", "delta": "Paris"}
    done = {"type": "response.completed", "response": response()}
    got = extract(post(RESPONSES, {"stream": True}, sse(created, delta, done, named=True)))
    assert ok(got) == RESPONSE_TOKENS
    assert got is not None
    assert got.streaming


def test_responses_stream_without_event_names_and_type_last() -> None:
    """Some hosts name no events, or put ``type`` after a large ``response``."""
    body = "".join(
        f"data: {json.dumps({'response': r, 'type': t})}\n\n"
        for t, r in (("response.created", response("in_progress", None)), ("response.incomplete", response()))
    )
    assert ok(extract(post(RESPONSES, {}, body))) == RESPONSE_TOKENS


def test_responses_resumed_stream_is_a_retrieval_settled_once() -> None:
    done = sse({"type": "response.completed", "response": response()}, named=True)
    first = extract(post(RESPONSES, {"stream": True, "background": True}, done))
    resumed = Exchange("GET", "https://api.openai.com/v1/responses/resp_1?starting_after=0&stream=true", "", 200, done)
    again = extract(resumed)
    assert again is not None
    assert (again.retrieval, again.streaming, again.status) == (True, True, "ok")
    settled = settle([None, first, again])
    assert settled[:2] == [None, first]
    assert settled[2] is not None
    assert (settled[2].status, settled[2].lines) == ("not_billed", ())
    assert settled[2].reason == "usage already reported by interaction #1 for response resp_1"


def test_responses_stream_error_and_truncation() -> None:
    created = {"type": "response.created", "response": response("in_progress", None)}
    error = {"type": "error", "code": "server_error", "message": "boom"}
    got = extract(post(RESPONSES, {"stream": True}, sse(created, error, named=True)))
    assert got is not None
    assert (got.status, got.response_id, got.model) == ("not_billed", "resp_1", "gpt-5-2025-08-07")
    got = extract(post(RESPONSES, {"stream": True}, sse(created, named=True)))
    assert got is not None
    assert got.status == "missing"


def test_settle_only_drops_retrievals_of_responses_already_reported() -> None:
    line = (UsageLine(Tokens(input=1)),)
    post_ok = Extracted("openai.responses", "openai", "m", "ok", line, "resp_1")
    poll_ok = Extracted("openai.responses", "openai", "m", "ok", line, "resp_1", retrieval=True)
    other = Extracted("openai.responses", "openai", "m", "ok", line, "resp_2", retrieval=True)
    queued = Extracted("openai.responses", "openai", "m", "not_billed", (), "resp_3", reason="queued")
    polled = Extracted("openai.responses", "openai", "m", "ok", line, "resp_3", retrieval=True)
    assert settle([queued, polled, other]) == [queued, polled, other]
    settled = settle([post_ok, other, poll_ok])
    assert settled[:2] == [post_ok, other]
    assert settled[2] is not None
    assert settled[2].status == "not_billed"


# --- Anthropic --------------------------------------------------------------------------------


def anthropic_stream(start_usage: dict[str, Any], delta_usage: dict[str, Any] | None, *, named: bool = True) -> str:
    message = {"id": "msg_1", "type": "message", "model": "claude-haiku-4-5", "content": [], "usage": start_usage}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        {"type": "content_block_stop", "index": 0},
    ]
    if delta_usage is not None:
        events.append({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": delta_usage})
        events.append({"type": "message_stop"})
    return sse(*events, named=named)


@pytest.mark.parametrize("named", [True, False])
def test_anthropic_stream_output_comes_from_the_cumulative_message_delta(named: bool) -> None:
    start = {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20, "output_tokens": 2}
    body = anthropic_stream(start, {"output_tokens": 4}, named=named)
    got = extract(post(ANTHROPIC + "?beta=true", {"model": "claude-haiku-4-5", "stream": True}, body))
    assert ok(got) == Tokens(input=130, cached_input=100, cache_write=20, output=4)
    assert got is not None
    assert (got.model, got.response_id, got.streaming) == ("claude-haiku-4-5", "msg_1", True)


def test_anthropic_message_delta_input_side_wins_over_message_start() -> None:
    start = {"input_tokens": 100, "cache_read_input_tokens": 55096, "output_tokens": 7}
    delta = {
        "input_tokens": 181,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "output_tokens": 8,
        "iterations": [
            {"type": "compaction", "input_tokens": 100, "output_tokens": 83, "cache_read_input_tokens": 55096},
            {"type": "message", "input_tokens": 181, "output_tokens": 8},
        ],
    }
    got = extract(post(ANTHROPIC, {"stream": True}, anthropic_stream(start, delta)))
    assert got is not None
    assert got.lines == (
        UsageLine(Tokens(input=181, output=8)),
        UsageLine(Tokens(input=55196, cached_input=55096, output=83), part="compaction"),
    )


def test_anthropic_json_with_cache_thinking_and_advisor_iteration() -> None:
    usage = {
        "input_tokens": 3,
        "cache_read_input_tokens": 1111,
        "cache_creation_input_tokens": 418,
        "output_tokens": 121,
        "output_tokens_details": {"thinking_tokens": 28},
        "iterations": [
            {"type": "message", "input_tokens": 1, "output_tokens": 100},
            {"type": "advisor_message", "model": "claude-opus-4-8", "input_tokens": 2518, "output_tokens": 22},
        ],
    }
    body = {"id": "msg_1", "type": "message", "model": "claude-sonnet-5", "content": [], "usage": usage}
    got = extract(post(ANTHROPIC, {"model": "claude-sonnet-5"}, body))
    assert got is not None
    assert got.status == "ok"
    assert got.lines == (
        UsageLine(Tokens(input=1532, cached_input=1111, cache_write=418, output=121, reasoning=28)),
        UsageLine(Tokens(input=2518, output=22), part="advisor_message", model="claude-opus-4-8"),
    )


def test_anthropic_cache_writes_from_the_ttl_split_only() -> None:
    usage = {"input_tokens": 5, "cache_creation": {"ephemeral_5m_input_tokens": 7, "ephemeral_1h_input_tokens": 3}}
    body = {"type": "message", "model": "claude", "usage": usage}
    assert ok(extract(post(ANTHROPIC, {}, body))) == Tokens(input=15, cache_write=10)


def test_anthropic_stream_error_before_final_usage_is_not_billed() -> None:
    body = anthropic_stream({"input_tokens": 10, "output_tokens": 1}, None)
    body += 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n'
    got = extract(post(ANTHROPIC, {"stream": True}, body))
    assert got is not None
    assert (got.status, got.reason) == ("not_billed", "stream error (overloaded_error) before usage was reported")
    truncated = extract(post(ANTHROPIC, {"stream": True}, anthropic_stream({"input_tokens": 10}, None)))
    assert truncated is not None
    assert truncated.status == "missing"


def test_bedrock_invoke_with_anthropic_body() -> None:
    body = {"id": "msg_bdrk_1", "type": "message", "content": [], "usage": {"input_tokens": 68, "output_tokens": 508}}
    request = {"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "hi"}]}
    got = extract(
        post("https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-opus-4-8/invoke", request, body)
    )
    assert ok(got) == Tokens(input=68, output=508)
    assert got is not None
    # No model in the body: the URL's.
    assert (got.api, got.model) == ("anthropic.messages", "us.anthropic.claude-opus-4-8")


# --- Gemini -----------------------------------------------------------------------------------


def gemini_chunk(text: str, usage: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}]}
    if usage is not None:
        body["usageMetadata"] = usage
    body.update({"modelVersion": "gemini-2.0-flash-exp", "responseId": "r1"}, **extra)
    return body


def test_gemini_sse_stream_last_usage_wins() -> None:
    body = sse(
        gemini_chunk("The", {"promptTokenCount": 15, "totalTokenCount": 15}),
        gemini_chunk(" end", {"promptTokenCount": 13, "candidatesTokenCount": 8, "totalTokenCount": 21}),
    )
    got = extract(post(GEMINI + ":streamGenerateContent?alt=sse", {}, body))
    assert ok(got) == Tokens(input=13, output=8)
    assert got is not None
    assert (got.model, got.response_id, got.streaming) == ("gemini-2.0-flash-exp", "r1", True)
    assert texts(post(GEMINI + ":streamGenerateContent?alt=sse", {}, body))[1] == "The end"


def test_gemini_stream_as_one_json_array() -> None:
    body = [
        gemini_chunk("The", {"promptTokenCount": 11, "totalTokenCount": 11}),
        gemini_chunk(" end", {"promptTokenCount": 11, "candidatesTokenCount": 2, "thoughtsTokenCount": 291}),
    ]
    raw = gzip.compress(json.dumps(body).encode())
    got = extract(post(GEMINI + ":streamGenerateContent", {}, raw))
    assert ok(got) == Tokens(input=11, output=293, reasoning=291)
    assert got is not None
    assert got.streaming


def test_gemini_counts_tool_use_prompt_and_cache_hits() -> None:
    usage = {
        "promptTokenCount": 3520,
        "cachedContentTokenCount": 3512,
        "toolUsePromptTokenCount": 119,
        "candidatesTokenCount": 2,
        "thoughtsTokenCount": 42,
    }
    got = extract(post(GEMINI + ":generateContent", {}, gemini_chunk("ok", usage)))
    assert ok(got) == Tokens(input=3639, cached_input=3512, output=44, reasoning=42)
    assert got is not None
    assert not got.streaming


def test_gemini_vertex_path_and_model_from_url() -> None:
    url = "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:generateContent"
    body = {"candidates": [], "usageMetadata": {"promptTokenCount": 14, "totalTokenCount": 14}}
    got = extract(post(url, {}, body))
    assert ok(got) == Tokens(input=14)
    assert got is not None
    assert got.model == "gemini-2.5-pro"


def test_gemini_blocked_prompt_without_counts_is_not_billed() -> None:
    body = {
        "promptFeedback": {"blockReason": "MODEL_ARMOR"},
        "usageMetadata": {"trafficType": "ON_DEMAND"},
        "modelVersion": "gemini-2.5-flash",
    }
    got = extract(post(GEMINI + ":generateContent", {}, body))
    assert got is not None
    assert (got.status, got.lines) == ("not_billed", ())
    assert "MODEL_ARMOR" in (got.reason or "")


def test_gemini_without_usage_metadata_is_missing() -> None:
    got = extract(post(GEMINI + ":streamGenerateContent?alt=sse", {}, sse(gemini_chunk("hi", None))))
    assert got is not None
    assert (got.status, got.model) == ("missing", "gemini-2.0-flash-exp")


# --- Bedrock ----------------------------------------------------------------------------------


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream frame with string headers."""
    raw = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 16 + len(raw) + len(payload), len(raw))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(payload).encode())


def test_bedrock_converse_does_not_add_duplicate_cache_counts() -> None:
    usage = {
        "inputTokens": 2,
        "outputTokens": 5,
        "cacheReadInputTokens": 0,
        "cacheReadInputTokenCount": 0,
        "cacheWriteInputTokens": 1322,
        "cacheWriteInputTokenCount": 1322,
        "totalTokens": 1329,
    }
    got = extract(post(BEDROCK + "/converse", '{"messages": []}', {"output": {}, "usage": usage}))
    assert ok(got) == Tokens(input=1324, cache_write=1322, output=5)
    assert got is not None
    assert (got.api, got.provider, got.model) == (
        "bedrock.converse",
        "aws",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    )


def test_bedrock_converse_stream_frames() -> None:
    body = (
        event("messageStart", {"role": "assistant"})
        + event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Paris"}})
        + event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a":1}'}}})
        + event("messageStop", {"stopReason": "end_turn"})
        + event("metadata", {"usage": {"inputTokens": 13, "outputTokens": 82, "cacheReadInputTokens": 4}})
    )
    arn = "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.amazon.nova-micro-v1%3A0"
    exchange = post(f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{arn}/converse-stream", {}, body)
    got = extract(exchange)
    assert ok(got) == Tokens(input=17, cached_input=4, output=82)
    assert got is not None
    # The ARN of an inference profile is named by the profile's model id (see model_name).
    assert (got.model, got.streaming) == ("us.amazon.nova-micro-v1:0", True)
    assert texts(exchange)[1] == 'Paris{"a":1}'


def test_bedrock_stream_exception_is_not_billed() -> None:
    exception = frame(
        {":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception"},
        b'{"message": "slow down"}',
    )
    got = extract(post(BEDROCK + "/converse-stream", {}, event("messageStart", {"role": "assistant"}) + exception))
    assert got is not None
    assert (got.status, got.reason) == ("not_billed", "stream error (throttlingException) before usage was reported")


def test_event_stream_frames_and_headers() -> None:
    data = event("metadata", {"usage": {}}) + frame({}, b"x")
    frames = list(iter_frames(data))
    assert [payload for _raw, payload in frames] == [b'{"usage": {}}', b"x"]
    assert parse_headers(frames[0][0])[":event-type"] == "metadata"
    # A truncated frame ends the stream rather than raising.
    assert len(list(iter_frames(data[:-3]))) == 1


def test_bedrock_invoke_stream_of_claude_events() -> None:
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 9}}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 3}},
    ]
    body = b"".join(
        frame(
            {":event-type": "chunk", ":message-type": "event"},
            json.dumps({"bytes": base64.b64encode(json.dumps(e).encode()).decode()}).encode(),
        )
        for e in events
    )
    got = extract(post(BEDROCK + "/invoke-with-response-stream", {}, body))
    assert ok(got) == Tokens(input=9, output=3)


def test_bedrock_invoke_of_other_models_reads_the_token_count_headers() -> None:
    url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/meta.llama3-8b-instruct-v1%3A0/invoke"
    exchange = post(
        url,
        {"prompt": "hi"},
        {"generation": "hello"},
        x_amzn_bedrock_input_token_count="5",
        x_amzn_bedrock_output_token_count="7",
    )
    got = extract(exchange)
    assert ok(got) == Tokens(input=5, output=7)
    assert got is not None
    assert (got.api, got.model) == ("bedrock.invoke", "meta.llama3-8b-instruct-v1:0")
    assert texts(exchange) == ("hi", "hello")


# --- Cohere and embeddings --------------------------------------------------------------------


def test_cohere_raw_input_and_billed_output() -> None:
    usage = {
        "billed_units": {"input_tokens": 2406, "output_tokens": 2},
        "cached_tokens": 2928,
        "tokens": {"input_tokens": 2935, "output_tokens": 4},
    }
    body = {
        "id": "c1",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
        "usage": usage,
    }
    got = extract(post("https://api.cohere.com/v2/chat", {"model": "command-r7b-12-2024", "messages": []}, body))
    assert ok(got) == Tokens(input=2935, cached_input=2928, output=2)
    assert got is not None
    assert (got.model, got.provider) == ("command-r7b-12-2024", "cohere")


def test_cohere_stream_message_end() -> None:
    usage = {
        "billed_units": {"input_tokens": 5, "output_tokens": 3},
        "tokens": {"input_tokens": 70, "output_tokens": 3},
    }
    body = sse(
        {"type": "message-start", "id": "c1"},
        {"type": "content-delta", "delta": {"message": {"content": {"text": "Hi"}}}},
        {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage}},
        named=True,
    )
    exchange = post("https://api.cohere.com/v2/chat", {"model": "command-a", "stream": True}, body)
    got = extract(exchange)
    assert ok(got) == Tokens(input=70, output=3)
    assert got is not None
    assert (got.response_id, got.streaming) == ("c1", True)
    assert texts(exchange)[1] == "Hi"


def test_embeddings_count_input_only() -> None:
    body = {
        "object": "list",
        "data": [],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }
    exchange = post(
        "https://api.openai.com/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a b", "c"]}, body
    )
    got = extract(exchange)
    assert ok(got) == Tokens(input=8)
    assert got is not None
    assert (got.api, got.model) == ("openai.embeddings", "text-embedding-3-small")
    assert texts(exchange) == ("a b\nc", "")


# --- texts() ----------------------------------------------------------------------------------


def test_texts_openai_chat() -> None:
    request = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hi"}, {"type": "image_url", "image_url": {"url": "data:x"}}],
            },
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    call = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
    body = {"choices": [{"message": {"content": "Hello", "tool_calls": [call]}}]}
    prompt, completion = texts(post(OPENAI, request, body))
    assert prompt == 'Be brief.\nHi\n[{"type":"function","function":{"name":"f"}}]'
    assert completion == 'Hello\nf\n{"x":1}'
    stream = sse(
        chunk({"role": "assistant", "reasoning_content": "Think. "}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x"'}}]}),
        done=True,
    )
    assert texts(post(OPENAI, request, stream))[1] == 'Think. Hello{"x"'


def test_texts_openai_responses() -> None:
    request = {
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Capital?"}]},
            {"type": "function_call_output", "output": "42"},
        ],
    }
    prompt, completion = texts(post(RESPONSES, request, response()))
    assert (prompt, completion) == ("Be brief.\nCapital?\n42", "Paris")
    deltas = sse(
        {"type": "response.output_text.delta", "delta": "Par"},
        {"type": "response.output_text.delta", "delta": "is"},
        named=True,
    )
    assert texts(post(RESPONSES, {"input": "Capital?"}, deltas)) == ("Capital?", "Paris")


def test_texts_anthropic() -> None:
    request = {
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {"x": 1}}]},
        ],
    }
    body = {
        "type": "message",
        "content": [{"type": "thinking", "thinking": "Hmm", "signature": "sig"}, {"type": "text", "text": "Hello"}],
    }
    assert texts(post(ANTHROPIC, request, body)) == ('Be brief.\nHi\n{"x":1}', "Hmm\nHello")
    assert texts(post(ANTHROPIC, {"messages": []}, anthropic_stream({}, {"output_tokens": 1})))[1] == "Hello"


def test_texts_gemini() -> None:
    request = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}
        ],
    }
    call = {"functionCall": {"name": "f", "args": {"x": 1}}}
    body = {"candidates": [{"content": {"parts": [{"text": "Hello"}, call]}}]}
    assert texts(post(GEMINI + ":generateContent", request, body)) == ("Be brief.\nHi", 'Hello\nf\n{"x":1}')


def test_texts_bedrock_converse_and_cohere() -> None:
    request = {"system": [{"text": "Be brief."}], "messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    body = {"output": {"message": {"content": [{"text": "Hello"}, {"toolUse": {"name": "f", "input": {"x": 1}}}]}}}
    assert texts(post(BEDROCK + "/converse", json.dumps(request), body)) == ("Be brief.\nHi", 'Hello\n{"x":1}')
    cohere = {"message": {"content": [{"type": "text", "text": "Hello"}]}}
    request = {"model": "command-a", "messages": [{"role": "user", "content": "Hi"}]}
    assert texts(post("https://api.cohere.com/v2/chat", request, cohere)) == ("Hi", "Hello")


# --- Shared helpers ---------------------------------------------------------------------------


def test_sse_readers_agree() -> None:
    text = ": comment\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\n\r\n\r\ndata: 3\r\n\r\nevent: b\ndata:4"
    forward = list(iter_sse(text))
    assert forward == [("a", "1\n2"), (None, "3"), ("b", "4")]
    assert list(iter_sse_reversed(text)) == forward[::-1]
    assert first_sse(text) == ("a", "1\n2")
    assert first_sse(": nothing\n\n") is None


def test_collect_text_takes_only_named_fields() -> None:
    value = {"content": ["a", {"text": "b", "url": "u"}], "required": ["x"], "input": {"k": 1}, "name": "n"}
    assert collect_text(value, frozenset({"content", "text"}), frozenset({"input"})) == ["a", "b", '{"k":1}']
