"""The loopback fake provider speaks the real wire formats: proven through the real SDKs."""

from __future__ import annotations

import asyncio
import base64
import gzip
import http.client
import json
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.fakes.clients import (
    FAKE_ANTHROPIC_KEY,
    FAKE_AZURE_KEY,
    FAKE_GEMINI_KEY,
    FAKE_OPENAI_KEY,
    anthropic_client,
    azure_openai_client,
    genai_client,
    openai_client,
)
from tests.fakes.provider import (
    EMBEDDING_DIMENSIONS,
    MESSAGE_OVERHEAD,
    REASONING_TOKENS,
    TOOL_TOKENS,
    FakeProvider,
    Prompt,
    count_tokens,
    message_tokens,
    reply_for,
)

QUESTION = "What is the capital of France?"
SYSTEM = "Be brief."
REPLY = "Answer to: What is the capital of"
REPLY_TOKENS = 7
CLAUDE = "claude-haiku-4-5"
GEMINI = "gemini-2.5-flash"


@pytest.fixture
def fake(fake_llm: object) -> FakeProvider:
    """The session's fake provider, reset for this test."""
    assert isinstance(fake_llm, FakeProvider)
    return fake_llm


def sse_events(text: str) -> list[tuple[str | None, Any]]:
    """Split an SSE body into (event name, parsed data) pairs."""
    events: list[tuple[str | None, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name = next((line[7:] for line in block.splitlines() if line.startswith("event: ")), None)
        data = next((line[6:] for line in block.splitlines() if line.startswith("data: ")), None)
        if data is not None:
            events.append((name, data if data == "[DONE]" else json.loads(data)))
    return events


# -- token and reply rules -------------------------------------------------------------------------


def test_token_and_reply_rules() -> None:
    assert count_tokens("  one two\nthree\tfour ") == 4
    assert count_tokens("") == 0
    assert message_tokens(QUESTION) == 6 + MESSAGE_OVERHEAD
    assert reply_for(QUESTION) == REPLY
    assert reply_for("") == "Answer to:"
    assert reply_for(QUESTION, 3) == "Answer to: What"
    assert reply_for("hi", 5) == "Answer to: hi lorem lorem"
    assert reply_for("hi [reply_words=4] there") == "Answer to: hi there"


def test_reply_overrides(fake: FakeProvider) -> None:
    messages: Any = [{"role": "user", "content": QUESTION}]
    with openai_client(fake.url) as client:
        fake.reply_words = 12
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert resp.usage is not None
        assert resp.usage.completion_tokens == 12
        seen: list[Prompt] = []

        def reply(prompt: Prompt) -> str:
            seen.append(prompt)
            return f"custom reply for {prompt.model}"

        fake.reply_text = reply
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert resp.choices[0].message.content == "custom reply for gpt-4o-mini"
        assert seen[0].api == "openai-chat"
        assert seen[0].last_user_text == QUESTION
        assert seen[0].prompt_tokens == message_tokens(QUESTION)
        fake.reset()
        directive: Any = [{"role": "user", "content": "[reply_words=30] go"}]
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=directive)
        assert resp.usage is not None
        assert resp.usage.completion_tokens == 30
    assert fake.reply_words is None
    assert fake.reply_text is None


# -- OpenAI chat completions -----------------------------------------------------------------------


def test_openai_chat_json(fake: FakeProvider) -> None:
    messages: Any = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    with openai_client(fake.url) as client:
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        again = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert resp.model == "gpt-4o-mini-2024-07-18"
    assert resp.choices[0].message.content == REPLY
    assert resp.choices[0].finish_reason == "stop"
    usage = resp.usage
    assert usage is not None
    assert usage.prompt_tokens == message_tokens(SYSTEM) + message_tokens(QUESTION) == 14
    assert usage.completion_tokens == REPLY_TOKENS
    assert usage.total_tokens == 14 + REPLY_TOKENS
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    assert resp.id == again.id  # derived from the body only
    request = fake.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.header("Authorization") == f"Bearer {FAKE_OPENAI_KEY}"
    assert request.json()["model"] == "gpt-4o-mini"


def test_openai_chat_stream_usage_chunk(fake: FakeProvider) -> None:
    messages: Any = [{"role": "user", "content": QUESTION}]
    with openai_client(fake.url) as client:
        stream = client.chat.completions.create(
            model="o3-mini", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks[:-1])
    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert final.usage.prompt_tokens == message_tokens(QUESTION)
    assert final.usage.completion_tokens == REPLY_TOKENS + REASONING_TOKENS
    assert final.usage.completion_tokens_details is not None
    assert final.usage.completion_tokens_details.reasoning_tokens == REASONING_TOKENS
    assert final.model == "o3-mini-2025-01-31"


def test_openai_chat_stream_raw_usage_keys(fake: FakeProvider) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client() as http:
        plain = http.post(f"{fake.url}/v1/chat/completions", json=body)
        with_usage = http.post(
            f"{fake.url}/v1/chat/completions", json={**body, "stream_options": {"include_usage": True}}
        )
    assert plain.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert plain.headers["transfer-encoding"] == "chunked"
    events = sse_events(plain.text)
    assert events[-1] == (None, "[DONE]")
    assert all("usage" not in data for _, data in events[:-1])
    events = sse_events(with_usage.text)
    assert all(data["usage"] is None for _, data in events[:-2])
    assert events[-2][1]["choices"] == []
    assert events[-2][1]["usage"]["total_tokens"] == message_tokens("hi") + 3


def test_openai_chat_async_and_length_limit(fake: FakeProvider) -> None:
    async def run() -> None:
        async with openai_client(fake.url, async_=True) as client:
            resp = await client.chat.completions.create(
                model="gpt-5", messages=[{"role": "user", "content": QUESTION}], max_completion_tokens=20
            )
            assert resp.choices[0].finish_reason == "length"
            assert resp.choices[0].message.content == "Answer to: What is"
            assert resp.usage is not None
            assert resp.usage.completion_tokens == 20
            assert resp.usage.completion_tokens_details is not None
            assert resp.usage.completion_tokens_details.reasoning_tokens == REASONING_TOKENS
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": QUESTION}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
            assert chunks[-1].usage is not None
            assert chunks[-1].usage.completion_tokens == REPLY_TOKENS

    asyncio.run(run())
    assert fake.requests[0].header("x-stainless-async") is not None


def test_openai_prompt_cache(fake: FakeProvider) -> None:
    fake.openai_cache_min_tokens = 20
    system = " ".join(["context"] * 30)
    with openai_client(fake.url) as client:
        usages = []
        for question in ("first question", "second question"):
            messages: Any = [{"role": "system", "content": system}, {"role": "user", "content": question}]
            resp = client.chat.completions.create(model="gpt-4o", messages=messages)
            assert resp.usage is not None
            usages.append(resp.usage)
    assert usages[0].prompt_tokens_details is not None
    assert usages[0].prompt_tokens_details.cached_tokens == 0
    assert usages[1].prompt_tokens_details is not None
    assert usages[1].prompt_tokens_details.cached_tokens == message_tokens(system) == 33
    assert usages[1].prompt_tokens == 33 + message_tokens("second question")  # includes the cached part


def test_azure_openai(fake: FakeProvider) -> None:
    with azure_openai_client(fake.url) as client:
        resp = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with azure_openai_client(fake.url, azure_deployment="prod-4o") as client:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert resp.model == "gpt-4o-2024-08-06"
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == message_tokens(QUESTION)
    first, second = fake.requests
    assert first.path == "/openai/deployments/gpt-4o/chat/completions"
    assert second.path == "/openai/deployments/prod-4o/chat/completions"
    assert first.query_params == {"api-version": ["2024-12-01-preview"]}
    assert first.header("api-key") == FAKE_AZURE_KEY


# -- OpenAI Responses ------------------------------------------------------------------------------


def test_openai_responses_json(fake: FakeProvider) -> None:
    with openai_client(fake.url) as client:
        resp = client.responses.create(model="gpt-5", instructions=SYSTEM, input=QUESTION)
        cut = client.responses.create(model="gpt-4o", input=QUESTION, max_output_tokens=4)
    assert resp.output_text == REPLY
    assert [item.type for item in resp.output] == ["reasoning", "message"]
    assert resp.status == "completed"
    assert resp.model == "gpt-5-2025-08-07"
    usage = resp.usage
    assert usage is not None
    assert usage.input_tokens == message_tokens(SYSTEM) + message_tokens(QUESTION)
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens == REPLY_TOKENS + REASONING_TOKENS
    assert usage.output_tokens_details.reasoning_tokens == REASONING_TOKENS
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"
    assert cut.output_text == "Answer to: What is"
    assert cut.usage is not None
    assert cut.usage.output_tokens == 4


def test_openai_responses_stream(fake: FakeProvider) -> None:
    with openai_client(fake.url) as client, client.responses.stream(model="o4-mini", input=QUESTION) as stream:
        names = [event.type for event in stream]
        final = stream.get_final_response()
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed"
    assert names.count("response.output_text.delta") == REPLY_TOKENS
    assert final.output_text == REPLY
    assert final.usage is not None
    assert final.usage.output_tokens == REPLY_TOKENS + REASONING_TOKENS

    body = {"model": "gpt-4o", "input": "hi", "stream": True}
    with httpx.Client() as http:
        raw = http.post(f"{fake.url}/v1/responses", json=body)
    events = sse_events(raw.text)
    assert all(name == data["type"] for name, data in events)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert events[0][1]["response"]["usage"] is None
    assert events[-1][1]["response"]["usage"]["input_tokens"] == message_tokens("hi")


def test_openai_responses_async_stream(fake: FakeProvider) -> None:
    async def run() -> None:
        async with openai_client(fake.url, async_=True) as client:
            async with client.responses.stream(model="gpt-4o-mini", input=QUESTION) as stream:
                async for _ in stream:
                    pass
                final = await stream.get_final_response()
            assert final.usage is not None
            assert final.usage.output_tokens == REPLY_TOKENS
            resp = await client.responses.create(model="gpt-4o-mini", input=[{"role": "user", "content": QUESTION}])
            assert resp.usage is not None
            assert resp.usage.input_tokens == message_tokens(QUESTION)

    asyncio.run(run())


# -- OpenAI embeddings -----------------------------------------------------------------------------


def test_openai_embeddings(fake: FakeProvider) -> None:
    with openai_client(fake.url) as client:
        resp = client.embeddings.create(model="text-embedding-3-small", input=["hello world", "one two three"])
        floats = client.embeddings.create(model="text-embedding-3-small", input="hello world", encoding_format="float")
    assert fake.requests[0].json()["encoding_format"] == "base64"  # the SDK's default
    assert resp.usage.prompt_tokens == resp.usage.total_tokens == 5
    assert [len(item.embedding) for item in resp.data] == [EMBEDDING_DIMENSIONS] * 2
    assert floats.data[0].embedding == resp.data[0].embedding  # base64 decodes to the same floats
    body = {"model": "text-embedding-3-small", "input": "hi", "encoding_format": "base64", "dimensions": 4}
    with httpx.Client() as http:
        raw = http.post(f"{fake.url}/v1/embeddings", json=body).json()
    vector = struct.unpack("<4f", base64.b64decode(raw["data"][0]["embedding"]))
    assert len(vector) == 4
    assert raw["usage"] == {"prompt_tokens": 1, "total_tokens": 1}


# -- Anthropic -------------------------------------------------------------------------------------


def test_anthropic_json_and_stream_agree(fake: FakeProvider) -> None:
    params: Any = {
        "model": CLAUDE,
        "max_tokens": 256,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    with anthropic_client(fake.url) as client:
        message = client.messages.create(**params)
        with client.messages.stream(**params) as stream:
            streamed_text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert message.model == "claude-haiku-4-5-20251001"
    assert message.content[0].type == "text"
    assert message.content[0].text == REPLY
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == message_tokens(SYSTEM) + message_tokens(QUESTION)
    assert message.usage.output_tokens == REPLY_TOKENS
    assert message.usage.cache_read_input_tokens == message.usage.cache_creation_input_tokens == 0
    assert streamed_text == REPLY
    assert final.usage.output_tokens == message.usage.output_tokens
    assert final.usage.input_tokens == message.usage.input_tokens
    assert fake.requests[0].header("authorization") == f"Bearer {FAKE_ANTHROPIC_KEY}"  # not x-api-key in 2.x
    assert fake.requests[0].header("anthropic-version") is not None


def test_anthropic_raw_event_sequence(fake: FakeProvider) -> None:
    body = {"model": CLAUDE, "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi there"}]}
    with httpx.Client() as http:
        raw = http.post(f"{fake.url}/v1/messages", json=body, headers={"x-api-key": "raw-key"})
    assert fake.requests[0].header("X-API-Key") == "raw-key"
    assert raw.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert raw.headers["request-id"].startswith("req_")
    events = sse_events(raw.text)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    start_usage = events[0][1]["message"]["usage"]
    final_usage = events[-2][1]["usage"]
    assert start_usage["input_tokens"] == message_tokens("hi there")
    assert start_usage["output_tokens"] == 1  # partial, never to be added to the final count
    assert final_usage == {
        "input_tokens": message_tokens("hi there"),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 4,
    }


def test_anthropic_thinking_and_async(fake: FakeProvider) -> None:
    params: Any = {
        "model": CLAUDE,
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": QUESTION}],
    }

    async def run() -> None:
        async with anthropic_client(fake.url, async_=True) as client:
            message = await client.messages.create(**params)
            async with client.messages.stream(**params) as stream:
                async for _ in stream:
                    pass
                final = await stream.get_final_message()
        assert [block.type for block in message.content] == ["thinking", "text"]
        assert message.usage.output_tokens == REPLY_TOKENS + REASONING_TOKENS
        assert [block.type for block in final.content] == ["thinking", "text"]
        assert final.usage.output_tokens == message.usage.output_tokens
        assert final.content[0].type == "thinking"
        assert final.content[0].signature

    asyncio.run(run())


def test_anthropic_cache_write_then_read(fake: FakeProvider) -> None:
    system = " ".join(["rules"] * 40)
    system_tokens = message_tokens(system)

    def ask(client: anthropic.Anthropic, question: str, ttl: str | None = None) -> anthropic.types.Usage:
        cache_control: Any = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
        return client.messages.create(
            model=CLAUDE,
            max_tokens=64,
            system=[{"type": "text", "text": system, "cache_control": cache_control}],
            messages=[{"role": "user", "content": question}],
        ).usage

    with anthropic_client(fake.url) as client:
        write = ask(client, "first question")
        read = ask(client, "second question")
        fake.reset()
        long_write = ask(client, "first question", ttl="1h")
    assert write.cache_creation_input_tokens == system_tokens
    assert write.cache_creation is not None
    assert write.cache_creation.ephemeral_5m_input_tokens == system_tokens
    assert write.cache_read_input_tokens == 0
    assert write.input_tokens == message_tokens("first question")  # excludes cache writes
    assert read.cache_read_input_tokens == system_tokens
    assert read.cache_creation_input_tokens == 0
    assert read.input_tokens == message_tokens("second question")  # excludes cache reads
    assert long_write.cache_creation is not None
    assert long_write.cache_creation.ephemeral_1h_input_tokens == system_tokens
    assert long_write.cache_creation.ephemeral_5m_input_tokens == 0


def test_anthropic_automatic_cache_grows(fake: FakeProvider) -> None:
    turn1: Any = [{"role": "user", "content": "one two three"}]
    turn2: Any = [*turn1, {"role": "assistant", "content": "four five"}, {"role": "user", "content": "six"}]
    with anthropic_client(fake.url) as client:
        first = client.messages.create(
            model=CLAUDE, max_tokens=64, messages=turn1, extra_body={"cache_control": {"type": "ephemeral"}}
        )
        second = client.messages.create(
            model=CLAUDE, max_tokens=64, messages=turn2, extra_body={"cache_control": {"type": "ephemeral"}}
        )
    assert first.usage.cache_creation_input_tokens == message_tokens("one two three")
    assert second.usage.cache_read_input_tokens == message_tokens("one two three")
    assert second.usage.cache_creation_input_tokens == message_tokens("four five") + message_tokens("six")
    assert second.usage.input_tokens == 0


def test_anthropic_count_tokens_and_tools(fake: FakeProvider) -> None:
    tool: Any = {"name": "get_weather", "description": "Weather now", "input_schema": {"type": "object"}}
    call: Any = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    result: Any = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny and warm"}
    messages: Any = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [result]},
    ]
    with anthropic_client(fake.url) as client:
        counted = client.messages.count_tokens(model=CLAUDE, tools=[tool], messages=messages)
    # tool inputs count as their compact JSON text: '{"city":"Paris"}' is one word
    expected = (
        TOOL_TOKENS + message_tokens(QUESTION) + message_tokens('{"city":"Paris"}') + message_tokens("sunny and warm")
    )
    assert counted.input_tokens == expected


# -- Gemini ----------------------------------------------------------------------------------------


def test_gemini_json_and_stream(fake: FakeProvider) -> None:
    config = genai_types.GenerateContentConfig(system_instruction=SYSTEM)
    with genai_client(fake.url) as client:
        resp = client.models.generate_content(model=GEMINI, contents=QUESTION, config=config)
        chunks = list(client.models.generate_content_stream(model=GEMINI, contents=QUESTION, config=config))
    usage = resp.usage_metadata
    assert resp.text == REPLY
    assert resp.model_version == GEMINI
    assert resp.response_id
    assert usage is not None
    assert usage.prompt_token_count == message_tokens(SYSTEM) + message_tokens(QUESTION)
    assert usage.candidates_token_count == REPLY_TOKENS
    assert usage.thoughts_token_count is None
    assert usage.cached_content_token_count is None
    assert usage.total_token_count == usage.prompt_token_count + REPLY_TOKENS
    assert "".join(chunk.text or "" for chunk in chunks) == REPLY
    assert len(chunks) > 1
    last = chunks[-1].usage_metadata
    assert last is not None
    assert last.candidates_token_count == REPLY_TOKENS
    assert chunks[-1].candidates is not None
    assert chunks[-1].candidates[0].finish_reason == "STOP"
    request = fake.requests[1]
    assert request.path == f"/v1beta/models/{GEMINI}:streamGenerateContent"
    assert request.query == "alt=sse"
    assert request.header("x-goog-api-key") == FAKE_GEMINI_KEY


@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
def test_gemini_thinking_async(fake: FakeProvider) -> None:
    thinking = genai_types.ThinkingConfig(thinking_budget=512, include_thoughts=True)
    config = genai_types.GenerateContentConfig(thinking_config=thinking)

    async def run(transport: Any) -> None:
        with genai_client(fake.url, async_transport=transport) as client:
            async with client.aio as aio:
                resp = await aio.models.generate_content(model=GEMINI, contents=QUESTION, config=config)
                stream = await aio.models.generate_content_stream(model=GEMINI, contents=QUESTION, config=config)
                chunks = [chunk async for chunk in stream]
        assert resp.usage_metadata is not None
        assert resp.usage_metadata.thoughts_token_count == REASONING_TOKENS
        assert resp.usage_metadata.candidates_token_count == REPLY_TOKENS  # excludes thoughts
        assert resp.usage_metadata.total_token_count == message_tokens(QUESTION) + REPLY_TOKENS + REASONING_TOKENS
        assert resp.text == REPLY  # thought parts are not text
        last = chunks[-1].usage_metadata
        assert last is not None
        assert last.thoughts_token_count == REASONING_TOKENS

    asyncio.run(run("aiohttp"))
    asyncio.run(run("httpx"))
    assert len(fake.requests) == 4


def test_gemini_raw_streams(fake: FakeProvider) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hello big world"}]}]}
    url = f"{fake.url}/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    with httpx.Client() as http:
        sse = http.post(url, params={"alt": "sse", "key": "query-key"}, json=body)
        array = http.post(url, json=body)
    assert sse.headers["content-type"] == "text/event-stream"
    events = [data for _, data in sse_events(sse.text)]
    assert array.headers["content-type"] == "application/json; charset=UTF-8"
    items = json.loads(array.text)
    assert isinstance(items, list)
    assert items == events
    usages = [item["usageMetadata"] for item in items]
    assert [u["candidatesTokenCount"] for u in usages] == sorted(u["candidatesTokenCount"] for u in usages)
    assert usages[-1] == {
        "promptTokenCount": message_tokens("hello big world"),
        "candidatesTokenCount": 5,
        "totalTokenCount": message_tokens("hello big world") + 5,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 5}],
    }
    assert fake.requests[0].query_params["key"] == ["query-key"]


def test_gemini_cached_content(fake: FakeProvider) -> None:
    with genai_client(fake.url) as client:
        cache = client.caches.create(
            model="gemini-2.0-flash",
            config=genai_types.CreateCachedContentConfig(contents=["one two three four"], system_instruction="sys"),
        )
        config = genai_types.GenerateContentConfig(cached_content=cache.name)
        resp = client.models.generate_content(model="gemini-2.0-flash", contents="hi", config=config)
        client.caches.delete(name=cache.name or "")
    cached = message_tokens("one two three four") + message_tokens("sys")
    assert cache.usage_metadata is not None
    assert cache.usage_metadata.total_token_count == cached
    usage = resp.usage_metadata
    assert usage is not None
    assert usage.cached_content_token_count == cached
    assert usage.prompt_token_count == cached + message_tokens("hi")  # includes the cached part


# -- errors, gzip, plumbing ------------------------------------------------------------------------


def test_errors_surface_as_sdk_exceptions(fake: FakeProvider) -> None:
    with openai_client(fake.url) as client, pytest.raises(openai.BadRequestError) as oai:
        client.chat.completions.create(model="error-400", messages=[{"role": "user", "content": "x"}])
    assert oai.value.status_code == 400
    assert oai.value.type == "invalid_request_error"
    with anthropic_client(fake.url) as client, pytest.raises(anthropic.BadRequestError) as ant:
        client.messages.create(model="error-400", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert isinstance(ant.value.body, dict)
    assert ant.value.body["error"]["type"] == "invalid_request_error"
    with anthropic_client(fake.url) as client, pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="error-429", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    with genai_client(fake.url) as client, pytest.raises(genai_errors.ClientError) as gem:
        client.models.generate_content(model="error-400", contents="x")
    assert gem.value.code == 400
    assert gem.value.status == "INVALID_ARGUMENT"
    assert len(fake.requests) == 4  # no retries


def test_gzip_bodies() -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}]}
    with FakeProvider(gzip=True, gzip_streams=True) as fake, httpx.Client() as http:
        raw = http.post(f"{fake.url}/v1/chat/completions", json=body, headers={"Accept-Encoding": "gzip"})
        plain = http.post(f"{fake.url}/v1/chat/completions", json=body, headers={"Accept-Encoding": "identity"})
        with http.stream(
            "POST",
            f"{fake.url}/v1/chat/completions",
            json={**body, "stream": True},
            headers={"Accept-Encoding": "gzip"},
        ) as streamed:
            compressed = b"".join(streamed.iter_raw())
        with openai_client(fake.url) as client:
            resp = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
        with (
            anthropic_client(fake.url) as claude,
            claude.messages.stream(
                model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": QUESTION}]
            ) as stream,
        ):
            assert stream.get_final_message().usage.output_tokens == REPLY_TOKENS
    assert raw.headers["content-encoding"] == "gzip"
    assert int(raw.headers["content-length"]) < len(raw.content)
    assert raw.json()["choices"][0]["message"]["content"] == REPLY
    assert "content-encoding" not in plain.headers
    assert streamed.headers["content-encoding"] == "gzip"
    assert sse_events(gzip.decompress(compressed).decode())[-1] == (None, "[DONE]")
    assert resp.choices[0].message.content == REPLY


def test_secretish_response_headers(fake: FakeProvider) -> None:
    with openai_client(fake.url) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert raw.headers["openai-organization"]
    assert raw.headers["openai-project"]
    assert len(raw.headers.get_list("set-cookie")) == 2
    with anthropic_client(fake.url) as claude:
        message = claude.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert message.headers["anthropic-organization-id"]
    assert message.headers["request-id"]
    assert message.headers["content-type"] == "application/json"


def test_keep_alive_and_speed(fake: FakeProvider) -> None:
    host, port = fake.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    payload = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    try:
        started = time.perf_counter()
        sockets = set()
        for _ in range(20):
            conn.request("POST", "/v1/chat/completions", body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200
            assert response.read().endswith(b"data: [DONE]\n\n")
            sockets.add(id(conn.sock))
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    assert len(sockets) == 1  # one connection served every request
    assert elapsed / 20 < 0.025


def test_unknown_endpoint_is_404(fake: FakeProvider) -> None:
    with httpx.Client() as http:
        resp = http.get(f"{fake.url}/v1/nothing-here")
    assert resp.status_code == 404
    assert "error" in resp.json()


def test_stop_closes_pooled_connections_and_threads() -> None:
    before = set(threading.enumerate())
    provider = FakeProvider().start()
    client = openai_client(provider.url)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    started = time.perf_counter()
    provider.stop()  # the client still holds a keep-alive connection
    assert time.perf_counter() - started < 1
    assert set(threading.enumerate()) - before == set()
    client.close()
    provider.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = provider.url


@pytest.fixture
def _no_thread_leak() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) - before == set()


@pytest.mark.usefixtures("_no_thread_leak")
def test_context_manager_restart() -> None:
    with FakeProvider() as provider, httpx.Client() as http:
        assert http.get(f"{provider.url}/v1/x").status_code == 404
    with FakeProvider() as provider, httpx.Client() as http:
        assert http.get(f"{provider.url}/v1/x").status_code == 404
