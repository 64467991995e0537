"""Metering under ``--llm-cost``: every consumed interaction exactly once, per test and step."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.results_view import full_view

HEADER = """
import asyncio
import contextvars
import os
import threading

import pytest

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]


def openai_client(async_=False):
    import openai
    cls = openai.AsyncOpenAI if async_ else openai.OpenAI
    return cls(base_url=URL + "/v1", api_key="sk-test", max_retries=0)


def anthropic_client():
    import anthropic
    return anthropic.Anthropic(base_url=URL, api_key="sk-ant-test", max_retries=0)


def genai_client():
    from google import genai
    from google.genai import types
    return genai.Client(
        api_key="AIza-test",
        http_options=types.HttpOptions(base_url=URL + "/", api_version="v1beta"),
    )


def chat(text, model="gpt-4o-mini", **kwargs):
    return openai_client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], **kwargs
    )
"""


def _results(pytester: pytest.Pytester) -> dict[str, Any]:
    return full_view((pytester.path / ".llm-cost" / "results.json").read_text())


CLIENTS = (
    HEADER
    + """

def test_openai_sync(llm_cost):
    chat("Plan the research on caching")


def test_openai_async(llm_cost):
    async def main():
        await openai_client(async_=True).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Plan the research on caching"}]
        )
    asyncio.run(main())


def test_requests_library(llm_cost):
    import requests
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Plan the research on caching"}]}
    requests.post(URL + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-x"}).raise_for_status()


def test_httpx_library(llm_cost):
    import httpx
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Plan the research on caching"}]}
    httpx.post(URL + "/v1/chat/completions", json=body).raise_for_status()


def test_aiohttp_library(llm_cost):
    import aiohttp
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Plan the research on caching"}]}

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.post(URL + "/v1/chat/completions", json=body) as response:
                await response.read()
    asyncio.run(main())
"""
)


def test_every_http_client_is_metered_exactly_once(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """openai sync and async (httpx2), httpx, requests and aiohttp: one call each, same usage."""
    pytester.makepyfile(test_clients=CLIENTS)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=5)
    recorded = len(fake_llm.requests)
    assert recorded == 5
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(passed=5)
    assert len(fake_llm.requests) == recorded
    tests = _results(pytester)["tests"]
    assert sorted(tests) == [
        f"test_clients.py::test_{name}"
        for name in ("aiohttp_library", "httpx_library", "openai_async", "openai_sync", "requests_library")
    ]
    for nodeid, entry in tests.items():
        assert entry["calls"] == 1, nodeid
        # "Plan the research on caching": 5 words + 3 per message; reply "Answer to: <5 words>".
        assert entry["tokens"] == {"cache_write": 0, "cached_input": 0, "input": 8, "output": 7, "reasoning": 0}
        # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
        assert entry["usd"] == "0.0000054", nodeid


def test_recording_run_meters_what_it_records(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """A recording run under --llm-cost meters the live responses the same way replay does."""
    pytester.makepyfile(test_clients=CLIENTS)
    pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once").assert_outcomes(passed=5)
    live = _results(pytester)
    pytester.runpytest("--llm-cost").assert_outcomes(passed=5)
    assert _results(pytester) == live


STEPS = (
    HEADER
    + """

@pytest.fixture
def warmed_up(llm_cost):
    chat("Warm the cache for the agent")


def test_agent(llm_cost, warmed_up):
    with step("plan"):
        chat("Plan the research on caching")
    with step("research"):
        with step("search"):
            chat("Search for caching papers")

        async def one(n):
            await openai_client(async_=True).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"Read paper {n}"}]
            )

        async def both():
            await asyncio.gather(asyncio.create_task(one(1)), asyncio.create_task(one(2)))

        asyncio.run(both())

    with step("synthesize"):
        context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(chat, "Synthesize the findings"))
    worker.start()
    worker.join()

    plain = threading.Thread(target=chat, args=("Background note",))
    plain.start()
    plain.join()

    assert llm_cost.tokens.input > 0
    assert len(llm_cost.calls) == 7
    assert set(llm_cost.steps) == {"plan", "research/search", "research", "synthesize"}
    assert llm_cost.usd == sum(call.usd for call in llm_cost.calls)
"""
)


def test_steps_follow_tasks_copied_contexts_and_threads(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Fixture calls and plain threads belong to the test; tasks and copied contexts keep their step."""
    pytester.makepyfile(test_steps=STEPS)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
    entry = _results(pytester)["tests"]["test_steps.py::test_agent"]
    assert entry["calls"] == 7
    assert {name: step["calls"] for name, step in entry["steps"].items()} == {
        "plan": 1,
        "research": 2,
        "research/search": 1,
        "synthesize": 1,
    }
    steps_of = sorted((r["step"] or "") for r in entry["records"])
    assert steps_of == ["", "", "plan", "research", "research", "research/search", "synthesize"]
    assert sum(Decimal(r["usd"]) for r in entry["records"]) == Decimal(entry["usd"])


SEMANTICS = (
    HEADER
    + """

LONG = " ".join(["context"] * 40)


def test_anthropic_cache(llm_cost):
    client = anthropic_client()
    system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
    for question in ("first question", "second question"):
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=100, system=system,
            messages=[{"role": "user", "content": question}],
        )


def test_anthropic_stream(llm_cost):
    with anthropic_client().messages.stream(
        model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "Stream a reply please"}]
    ) as stream:
        stream.get_final_message()


def test_openai_reasoning_stream(llm_cost):
    stream = chat("Think about caching", model="o3-mini", stream=True, stream_options={"include_usage": True})
    for _ in stream:
        pass


def test_openai_stream_without_usage(llm_cost):
    for _ in chat("Stream without usage please", stream=True):
        pass


def test_gemini_thinking(llm_cost):
    from google.genai import types
    client = genai_client()
    client.models.generate_content(
        model="gemini-2.5-flash",
        contents="Explain prompt caching",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=64)),
    )


def test_gemini_stream(llm_cost):
    client = genai_client()
    for _ in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Stream it"):
        pass


def test_embeddings(llm_cost):
    openai_client().embeddings.create(model="text-embedding-3-small", input=["one two three", "four five"])


def test_responses(llm_cost):
    openai_client().responses.create(model="gpt-4o-mini", input="Answer with the responses API")
"""
)


def _tokens(entry: dict[str, Any]) -> list[dict[str, int]]:
    return [record["tokens"] for record in entry["records"]]


def test_provider_semantics_come_out_right(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Cache tokens add to Anthropic input, reasoning stays inside output, Gemini thoughts add to output."""
    pytester.makepyfile(test_semantics=SEMANTICS)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=8)
    result = pytester.runpytest("--llm-cost", "-v")
    result.assert_outcomes(passed=8)
    tests = _results(pytester)["tests"]

    def entry(name: str) -> dict[str, Any]:
        found: dict[str, Any] = tests[f"test_semantics.py::test_{name}"]
        return found

    # 40 system words + 3 = 43 cached tokens, written by the first call and read by the second.
    first, second = _tokens(entry("anthropic_cache"))
    assert first == {"input": 48, "cached_input": 0, "cache_write": 43, "output": 4, "reasoning": 0}
    assert second == {"input": 48, "cached_input": 43, "cache_write": 0, "output": 4, "reasoning": 0}

    # message_start carries a partial output count; message_delta's is cumulative and wins.
    assert _tokens(entry("anthropic_stream")) == [
        {"input": 7, "cached_input": 0, "cache_write": 0, "output": 6, "reasoning": 0}
    ]
    # o3-mini reasons 16 tokens, part of the 21 output tokens.
    assert _tokens(entry("openai_reasoning_stream")) == [
        {"input": 6, "cached_input": 0, "cache_write": 0, "output": 21, "reasoning": 16}
    ]
    # Gemini: 16 thought tokens are added to the 5 candidate tokens.
    assert _tokens(entry("gemini_thinking")) == [
        {"input": 6, "cached_input": 0, "cache_write": 0, "output": 21, "reasoning": 16}
    ]
    assert _tokens(entry("gemini_stream")) == [
        {"input": 5, "cached_input": 0, "cache_write": 0, "output": 4, "reasoning": 0}
    ]
    assert _tokens(entry("embeddings")) == [
        {"input": 5, "cached_input": 0, "cache_write": 0, "output": 0, "reasoning": 0}
    ]
    assert _tokens(entry("responses")) == [
        {"input": 8, "cached_input": 0, "cache_write": 0, "output": 7, "reasoning": 0}
    ]

    # A stream without usage is estimated with tiktoken, and labelled so everywhere.
    (estimated,) = entry("openai_stream_without_usage")["records"]
    assert estimated["estimated"] is True
    assert estimated["tokens"]["input"] > 0
    assert estimated["tokens"]["output"] > 0
    assert Decimal(estimated["usd"]) > 0
    result.stdout.fnmatch_lines(
        [
            "*test_openai_stream_without_usage PASSED*",
            "*llm-cost [[]-] gpt-4o-mini-2024-07-18: * in (0 cached), * out $0.0000* [[]estimated]",
        ]
    )
    result.stdout.fnmatch_lines(["1 call estimated (no usage reported); 0 calls unpriced (counted as $0)"])
    assert _results(pytester)["summary"]["estimated"] == 1


def test_results_file_is_deterministic_and_complete(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_steps=STEPS)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
    path = pytester.path / ".llm-cost" / "results.json"
    first = path.read_bytes()
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
    assert path.read_bytes() == first
    assert first.endswith(b"}\n")
    data = json.loads(first)
    assert data["format"] == 3
    assert data["rate_card"]["genai_prices"]
    assert data["rate_card"]["local_prices"] is None
    record = full_view(first)["tests"]["test_steps.py::test_agent"]["records"][1]
    assert set(record) >= {
        "api",
        "cassette",
        "estimated",
        "interaction",
        "model",
        "provider",
        "step",
        "tokens",
        "unpriced",
        "usd",
    }
    assert record["cassette"] == "cassettes/test_steps/test_agent.yaml"
    assert record["interaction"] == 1
    assert record["step"] == "plan"
    # Compact and sorted, one test per line: a changed test is a changed line.
    lines = first.decode().splitlines()
    assert lines[lines.index('"tests":{') + 1].startswith('"test_steps.py::test_agent":{')
    assert json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).replace("\n", "") == "".join(
        lines
    )


def test_terminal_summary_sorts_tests_by_dollars(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(
        test_cost=HEADER
        + """
def test_cheap(llm_cost):
    chat("One short question")

def test_expensive(llm_cost):
    with step("synthesize"):
        chat("A longer question for the expensive model", model="gpt-4o")
"""
    )
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    result = pytester.runpytest("--llm-cost")
    result.stdout.fnmatch_lines(
        [
            "*= LLM cost =*",
            "test * calls * input * cached * output * $",
            # gpt-4o: 10 in x $2.50/M + 7 out x $10/M; gpt-4o-mini: 6 x $0.15/M + 5 x $0.60/M.
            "test_cost.py::test_expensive * 1 * 10 * 0 * 7 * $0.000095",
            "test_cost.py::test_cheap * 1 * 6 * 0 * 5 * $0.000004",
            "",
            "most expensive steps *",
            "synthesize * 1 * 10 * 0 * 7 * $0.000095",
            "",
            "total: 2 tests, 2 calls, 16 input tokens (0 cached), 12 output tokens, $0.000099",
            "0 calls estimated (no usage reported); 0 calls unpriced (counted as $0)",
            "rate card: genai-prices *",
            "results: .llm-cost/results.json",
        ]
    )


def test_without_llm_cost_nothing_is_metered_or_written(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Plain pytest replays; the fixture still answers what the test consumed."""
    pytester.makepyfile(
        test_plain=HEADER
        + """
def test_plain(llm_cost):
    chat("Plan the research on caching")
    assert llm_cost.tokens.input == 8
    assert str(llm_cost.usd) == "0.0000054"
    assert repr(llm_cost) == "<LLMCost 1 calls, 15 tokens, $0.0000054>"
"""
    )
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "LLM cost" not in result.stdout.str()
    assert not (pytester.path / ".llm-cost").exists()


def test_inactive_plugin_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    """Installed but not used, the plugin imports neither vcrpy nor tiktoken nor genai-prices, nor
    its own readers, pricing, gate or capture code: not at start, not for a failing test, not to
    check the markers at collection."""
    pytester.makepyfile(
        test_imports="""
import sys

import pytest

LIGHT = {
    "pytest_llmcost",
    "pytest_llmcost.gate",
    "pytest_llmcost.gate.allowance",
    "pytest_llmcost.hooks",
    "pytest_llmcost.hooks.wake",
    "pytest_llmcost.options",
    "pytest_llmcost.plugin",
}


def test_a_failure():
    assert False


@pytest.mark.filterwarnings("ignore")
def test_nothing_heavy(request):
    assert not {"vcr", "tiktoken", "genai_prices"} & set(sys.modules)
    loaded = {name for name in sys.modules if name.startswith("pytest_llmcost")}
    assert loaded <= LIGHT, sorted(loaded - LIGHT)
    # Nothing runs per test: the run object and its hooks are not registered.
    assert request.config.pluginmanager.get_plugin("llm_cost_session") is None
    assert request.config.pluginmanager.get_plugin("llm_cost_dormant") is not None
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:recording", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)


DORMANT_WAKES = """
import pytest


def test_runs_first(request):
    # A later test takes the fixture: the run woke at collection, before any test ran.
    assert request.config.pluginmanager.get_plugin("llm_cost_session") is not None


def test_takes_it(llm_cost):
    assert llm_cost.calls == ()
"""

ASKS_BY_NAME = """
def test_asks_by_name(request):
    manager = request.config.pluginmanager
    assert manager.get_plugin("llm_cost_session") is None
    llm_cost = request.getfixturevalue("llm_cost")
    assert llm_cost.calls == ()
    assert manager.get_plugin("llm_cost_session") is not None
    assert manager.get_plugin("llm_cost_dormant") is None


def test_after(request):
    assert request.config.pluginmanager.get_plugin("llm_cost_session") is not None
"""


BY_NAME_METERED = (
    HEADER
    + """

def test_by_name(request):
    llm_cost = request.getfixturevalue("llm_cost")
    chat("Plan the research on caching")
    assert llm_cost.tokens.input > 0 and len(llm_cost.calls) == 1
    with step("again"):
        chat("Plan the research on caching, again")
    assert set(llm_cost.steps) == {"again"}
"""
)


def test_the_idle_plugin_wakes_when_a_test_takes_the_fixture(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Dormant until used: a collected test taking ``llm_cost`` wakes the run before any test runs;
    a test asking for it by name at run time wakes it from the fixture, which then meters the
    test's calls as it would have from the start."""
    pytester.makepyfile(test_wakes=DORMANT_WAKES, test_by_name=ASKS_BY_NAME, test_metered=BY_NAME_METERED)
    pytester.runpytest("-p", "no:randomly", "test_wakes.py").assert_outcomes(passed=2)
    pytester.runpytest("-p", "no:randomly", "test_by_name.py").assert_outcomes(passed=2)
    pytester.runpytest("test_metered.py", "--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.runpytest("test_metered.py").assert_outcomes(passed=1)  # replayed, woken by name
    pytester.runpytest_subprocess("test_metered.py").assert_outcomes(passed=1)


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(llm_cost):\n    pass\n")
    result = pytester.runpytest("-p", "no:llm_cost")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'llm_cost' not found*"])


UNPRICED = (
    HEADER
    + """
def test_unknown_model(llm_cost):
    chat("Ask the private model", model="acme-large-2")
"""
)


def test_unpriced_model_fails_with_the_yaml_that_prices_it(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_unpriced=UNPRICED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "LLM cost unknown: no price for model acme-large-2 (openai). Add it to */llm-cost-prices.yaml:",
            "",
            "models:",
            "  acme-large-2:",
            "    provider: openai",
            "    input: 0.00    # USD per million input tokens",
            "    output: 0.00   # USD per million output tokens",
        ]
    )
    # The snippet, pasted with real prices, prices it.
    pytester.makefile(".yaml", **{"llm-cost-prices": "models:\n  acme-large-2:\n    input: 1\n    output: 2\n"})
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
    assert (
        _results(pytester)["tests"]["test_unpriced.py::test_unknown_model"]["usd"] == "0.000019"
    )  # 7 x $1 + 6 x $2, per million
    assert len(_results(pytester)["rate_card"]["local_prices"]["sha256"]) == 64


def test_unpriced_warn_labels_the_call(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_unpriced=UNPRICED)
    pytester.makeini("[pytest]\nllm_cost_unpriced = warn\n")
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*LLMCostWarning: no price for acme-large-2 (openai): counted as $0 and labelled unpriced*",
            "0 calls estimated (no usage reported); 1 call unpriced (counted as $0)",
        ]
    )
    (record,) = _results(pytester)["tests"]["test_unpriced.py::test_unknown_model"]["records"]
    assert record["unpriced"] is True
    assert record["usd"] == "0"


def test_local_price_file_charges_non_llm_requests(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """A web-search API at $0.008 a call lands in the same ledger as the LLM calls."""
    pytester.makepyfile(
        test_search=HEADER
        + """
def test_research(llm_cost):
    import requests
    with step("research"):
        for query in ("llm cost", "prompt caching"):
            requests.get(URL + "/search", params={"q": query, "key": "search-secret"}).raise_for_status()
        chat("Summarise the search results")
"""
    )
    fee = 'requests:\n  - match: "http://127.0.0.1:*/search*"\n    usd: 0.008\n    name: web-search\n'
    pytester.makefile(".yaml", **{"llm-cost-prices": fee})
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
    entry = _results(pytester)["tests"]["test_search.py::test_research"]
    fees = [r for r in entry["records"] if r.get("requests")]
    assert [(r["model"], r["usd"], r["step"]) for r in fees] == [("web-search", "0.008", "research")] * 2
    assert entry["calls"] == 1  # the LLM call; the two searches are fees
    assert Decimal(entry["steps"]["research"]["usd"]) == Decimal("0.016") + Decimal("0.00000465")
    cassette = (pytester.path / "cassettes" / "test_search" / "test_research.yaml").read_text()
    assert "search-secret" not in cassette


def test_bad_price_file_stops_the_run_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    pytester.makefile(".yaml", **{"llm-cost-prices": "models:\n  x:\n    input: cheap\n    output: 1\n"})
    result = pytester.runpytest("--llm-cost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llm-cost-prices.yaml: models.x.input must be a number of US dollars, got 'cheap'"])


RECORDING = """
import os
import pytest
import vcr
import openai

URL = os.environ["FAKE_LLM_URL"]


def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


@pytest.mark.vcr
def test_with_marker():
    ask(os.environ.get("PROMPT", "Plan the research on caching"))


def test_with_use_cassette(tmp_path):
    with vcr.use_cassette(os.path.join(os.path.dirname(__file__), "direct.yaml")):
        ask("Plan the research on caching")
"""


def test_pytest_recording_tests_are_metered_without_changing_their_matching(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``@pytest.mark.vcr`` and ``vcr.use_cassette`` are metered; their own matching rules still apply."""
    pytester.makepyfile(test_rec=RECORDING)
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=2)
    assert len(fake_llm.requests) == 2
    # pytest-recording matches on method and URI only: a changed body still replays there.
    monkeypatch.setenv("PROMPT", "A different prompt")
    result = pytester.runpytest("--llm-cost", "--record-mode=none")
    result.assert_outcomes(passed=2)
    assert len(fake_llm.requests) == 2
    tests = _results(pytester)["tests"]
    assert tests["test_rec.py::test_with_marker"]["usd"] == "0.0000054"
    assert tests["test_rec.py::test_with_use_cassette"]["usd"] == "0.0000054"
    assert (
        tests["test_rec.py::test_with_marker"]["records"][0]["cassette"] == "cassettes/test_rec/test_with_marker.yaml"
    )


def test_llm_cost_fixture_defers_to_the_vcr_marker(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """A test with both the ``vcr`` marker and ``llm_cost`` uses pytest-recording's one cassette."""
    pytester.makepyfile(
        test_both=RECORDING
        + """

@pytest.mark.vcr
def test_both(llm_cost):
    ask("Plan the research on caching")
    assert llm_cost.cassette is None
    assert len(llm_cost.calls) == 1
"""
    )
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=3)
    pytester.runpytest("--llm-cost", "--record-mode=none").assert_outcomes(passed=3)
    assert sorted(p.name for p in (pytester.path / "cassettes" / "test_both").iterdir()) == [
        "test_both.yaml",
        "test_with_marker.yaml",
    ]


def test_results_path_is_configurable(pytester: pytest.Pytester, fake_llm: Any, tmp_path: Path) -> None:
    pytester.makepyfile(test_plain=HEADER + "\ndef test_a(llm_cost):\n    chat('hello there')\n")
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    target = tmp_path / "out" / "cost.json"
    pytester.runpytest("--llm-cost", f"--llm-cost-results={target}").assert_outcomes(passed=1)
    assert json.loads(target.read_text())["summary"]["calls"] == 1
    assert not (pytester.path / ".llm-cost" / "results.json").exists()
    shutil.rmtree(pytester.path / ".llm-cost")
    pytester.makeini("[pytest]\nllm_cost_results = none\nllm_cost_report = none\nllm_cost_markdown = none\n")
    result = pytester.runpytest("--llm-cost")
    assert "results:" not in result.stdout.str()
    assert "report:" not in result.stdout.str()
    assert not (pytester.path / ".llm-cost").exists()
