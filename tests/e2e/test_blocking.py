"""Strict asyncio suites: nothing on a request's path blocks the event loop.

A suite that runs with blockbuster (it raises on a filesystem call, file I/O, a sleep or a
contended lock inside a running event loop) keeps its outcomes under ``--llm-cost``, recording
and replaying, through the openai, anthropic and google-genai async clients, streams included.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("blockbuster")

SUITE = """
import os

import pytest
from blockbuster import BlockingError, blockbuster_ctx

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]
pytestmark = pytest.mark.anyio
PROMPT = [{"role": "user", "content": "Plan the research on caching"}]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def strict_event_loop():
    with blockbuster_ctx():
        yield


# The clients are built outside the event loop: the SDKs read their package metadata then.
@pytest.fixture
def openai_client():
    import openai
    return openai.AsyncOpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)


@pytest.fixture
def anthropic_client():
    import anthropic
    return anthropic.AsyncAnthropic(base_url=URL, api_key="sk-ant-test", max_retries=0)


@pytest.fixture
def genai_client():
    from google import genai
    from google.genai import types
    return genai.Client(
        api_key="AIza-test",
        http_options=types.HttpOptions(base_url=URL + "/", api_version="v1beta"),
    )


async def test_blockbuster_is_active(llm_cost):
    with pytest.raises(BlockingError):
        os.stat(".")


async def test_openai(llm_cost, openai_client):
    client = openai_client
    with step("plan"):
        await client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=PROMPT, stream=True, stream_options={"include_usage": True}
    )
    async for _ in stream:
        pass


@pytest.mark.cost_budget(usd=1)
async def test_anthropic(llm_cost, anthropic_client):
    client = anthropic_client
    await client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=PROMPT)
    with step("stream"):
        async with client.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=PROMPT) as stream:
            async for _ in stream.text_stream:
                pass


async def test_gemini(llm_cost, genai_client):
    client = genai_client
    await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Plan the research on caching")
    async for _ in await client.aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents="Plan the research on caching"
    ):
        pass
"""

CALLS = {"test_blockbuster_is_active": 0, "test_openai": 2, "test_anthropic": 2, "test_gemini": 2}


def _outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {key: value for key, value in result.parseoutcomes().items() if key in ("passed", "failed", "errors")}


def test_async_clients_under_blockbuster_record_and_replay(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Recording and replaying with --llm-cost pass under blockbuster, as they do without --llm-cost."""
    pytester.makepyfile(test_async_agent=SUITE)
    # A spend cap: the guard prices every live call before it goes, inside the event loop.
    recorded = pytester.runpytest(
        "-p", "no:randomly", "--llm-cost", "--llm-cost-record-mode=once", "--llm-cost-max-record-spend=5"
    )
    assert _outcomes(recorded) == {"passed": 4}, recorded.stdout.str()
    assert len(fake_llm.requests) == 6
    results = json.loads((pytester.path / ".llm-cost" / "results.json").read_text())
    assert {nodeid.rpartition("::")[2]: entry["calls"] for nodeid, entry in results["tests"].items()} == CALLS

    without = pytester.runpytest("-p", "no:randomly")
    replayed = pytester.runpytest("-p", "no:randomly", "--llm-cost")
    assert _outcomes(without) == _outcomes(replayed) == {"passed": 4}, replayed.stdout.str()
    assert len(fake_llm.requests) == 6, "replay reached the provider"
    assert json.loads((pytester.path / ".llm-cost" / "results.json").read_text())["tests"] == results["tests"]


def test_recording_without_metering_under_blockbuster(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Recording without --llm-cost passes under blockbuster too: the same outcomes as with it."""
    pytester.makepyfile(test_async_agent=SUITE)
    recorded = pytester.runpytest("-p", "no:randomly", "--llm-cost-record-mode=once")
    assert _outcomes(recorded) == {"passed": 4}, recorded.stdout.str()
    assert len(fake_llm.requests) == 6
