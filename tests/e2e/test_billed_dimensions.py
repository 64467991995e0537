"""Billed dimensions end to end: the real SDKs against the fake provider, dollars in results.json.

A service tier, web searches and 1-hour cache writes reach the results file with genai-prices'
price for them, streaming included; a call to an endpoint no reader knows on a provider host is
listed as unpriced, never dropped.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pytest_llmcost.pricing import RateCard
from pytest_llmcost.results import load_results
from pytest_llmcost.usage import Dims, Tokens

TESTS = """
import os

import httpx

URL = os.environ["FAKE_LLM_URL"]


def openai_client():
    import openai
    return openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)


def anthropic_client():
    import anthropic
    return anthropic.Anthropic(base_url=URL, api_key="sk-ant-test", max_retries=0)


def test_openai_flex(llm_cost):
    openai_client().chat.completions.create(
        model="o3", messages=[{"role": "user", "content": "plan a trip"}], service_tier="flex"
    )


def test_openai_priority_stream(llm_cost):
    stream = openai_client().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "plan a trip"}],
        service_tier="priority",
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass


SEARCH = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]
LONG = " ".join(["context"] * 3000)


def test_anthropic_search_and_hour_cache(llm_cost):
    anthropic_client().messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        tools=SEARCH,
        system=[{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        messages=[{"role": "user", "content": "news today"}],
    )


def test_anthropic_search_stream(llm_cost):
    with anthropic_client().messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=100,
        tools=SEARCH,
        messages=[{"role": "user", "content": "news today"}],
    ) as stream:
        stream.get_final_message()
"""

UNKNOWN = """
import os

import httpx


def test_unknown_endpoint(llm_cost):
    url = os.environ.get("FANCY_URL") or os.environ["FAKE_LLM_URL"] + "/v1/fancy"
    assert httpx.post(url, json={"model": "fancy-1"}).json()["ok"] is True
"""


def _records(pytester: pytest.Pytester) -> dict[str, list[dict[str, Any]]]:
    """Each test's calls, every field of each (the file leaves out default values)."""
    results = load_results(pytester.path / ".llm-cost" / "results.json")
    return {nodeid.split("::")[-1]: [call.to_json() for call in test.records] for nodeid, test in results.tests.items()}


def _expected(record: dict[str, Any]) -> Decimal:
    """genai-prices' price (through the rate card's calc_price path) for what the record says was used."""
    price = RateCard().price(
        record["provider"],
        record["model"],
        Tokens.from_json(record["tokens"]),
        Dims.from_json(record.get("dims", {})),
        record.get("service_tier"),
    )
    assert price.usd is not None
    return price.usd


def test_tiers_searches_and_hour_cache_writes_are_priced(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_agent=TESTS)
    pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "-p", "no:randomly").assert_outcomes(passed=4)
    records = _records(pytester)

    (flex,) = records["test_openai_flex"]
    assert flex["service_tier"] == "flex"
    (priority,) = records["test_openai_priority_stream"]
    assert priority["service_tier"] == "priority"
    (cached,) = records["test_anthropic_search_and_hour_cache"]
    assert cached["dims"]["web_searches"] == 1
    assert cached["dims"]["cache_write_1h_tokens"] == cached["tokens"]["cache_write"] > 3000
    (streamed,) = records["test_anthropic_search_stream"]
    assert streamed["dims"] == {"web_searches": 1}

    for record in (flex, priority, cached, streamed):
        assert not record["unpriced"]
        assert Decimal(record["usd"]) == _expected(record)
    # The tier and the dimensions change the price: priced without them it would differ.
    for record in (flex, priority, cached, streamed):
        plain = RateCard().price(record["provider"], record["model"], Tokens.from_json(record["tokens"])).usd
        assert plain is not None
        assert plain != Decimal(record["usd"])

    # The same dollars when the cassettes are replayed.
    pytester.runpytest("--llm-cost", "-p", "no:randomly").assert_outcomes(passed=4)
    assert _records(pytester) == records


def test_an_unknown_endpoint_on_a_provider_host_is_unpriced(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_agent=UNKNOWN)
    pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once").assert_outcomes(passed=1)
    # The same call made to api.openai.com: the cassette is moved there and replayed.
    cassette = pytester.path / "cassettes" / "test_agent" / "test_unknown_endpoint.yaml"
    text = cassette.read_text()
    assert fake_llm.url in text
    cassette.write_text(text.replace(fake_llm.url, "https://api.openai.com"))
    monkeypatch.setenv("FANCY_URL", "https://api.openai.com/v1/fancy")

    result = pytester.runpytest("--llm-cost", "--llm-cost-unpriced=warn")
    result.assert_outcomes(passed=1)
    (call,) = _records(pytester)["test_unknown_endpoint"]
    assert call["unpriced"] is True
    assert call["api"] == "unknown"
    assert call["usd"] == "0"
    assert "no reader for POST /v1/fancy on api.openai.com" in call["note"]
    assert 'match: "https://api.openai.com/v1/fancy"' in call["note"]


def test_the_unknown_call_fails_the_test_by_default(pytester: pytest.Pytester, fake_llm: Any, monkeypatch: Any) -> None:
    pytester.makepyfile(test_agent=UNKNOWN)
    pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once").assert_outcomes(passed=1)
    cassette = Path(pytester.path / "cassettes" / "test_agent" / "test_unknown_endpoint.yaml")
    cassette.write_text(cassette.read_text().replace(fake_llm.url, "https://api.openai.com"))
    monkeypatch.setenv("FANCY_URL", "https://api.openai.com/v1/fancy")
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(failed=1)
    # The failure gives the snippet that prices the endpoint per request, not a model snippet.
    result.stdout.fnmatch_lines(
        [
            "LLM cost unknown: no reader for POST /v1/fancy on api.openai.com; price it per request*",
            '*match: "https://api.openai.com/v1/fancy"*',
        ]
    )
