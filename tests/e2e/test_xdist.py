"""Metering under pytest-xdist: the controller gathers every worker's costs, even a crashed worker's."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.results_view import full_view

# Raw HTTP in the providers' wire formats: workers start fast without importing the SDKs.
HEADER = """
import os

import httpx

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]


def post(path, body):
    httpx.post(URL + path, json=body, timeout=10).raise_for_status()


def chat(text, model="gpt-4o-mini", **extra):
    post("/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": text}], **extra})


def claude(text):
    body = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}
    post("/v1/messages", body)


def gemini(text):
    post("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"role": "user", "parts": [{"text": text}]}]})
"""

MODULES = {
    "test_plan": HEADER
    + """

def test_plan(llm_cost):
    with step("plan"):
        chat("Plan the research on caching")
        chat("Plan the second pass", model="gpt-4o")
    with step("synthesize"):
        claude("Synthesize the plan")


def test_estimated(llm_cost):
    chat("Stream without usage please", stream=True)
""",
    "test_research": HEADER
    + """

def test_search(llm_cost):
    with step("research"):
        with step("search"):
            gemini("Search for caching papers")
        gemini("Read the first paper")
    chat("Summarise the papers")


def test_review(llm_cost):
    claude("Review the draft")
    claude("Review the second draft")


def test_without_llm_calls():
    assert True
""",
    "test_report": HEADER
    + """

def test_report(llm_cost):
    with step("write"):
        chat("Write the report")
        gemini("Check the report")


def test_title(llm_cost):
    chat("Suggest a title")
""",
}
TESTS = 7
METERED = 6  # every test but test_without_llm_calls
CALLS = 12


def _results(pytester: pytest.Pytester) -> bytes:
    return (pytester.path / ".llm-cost" / "results.json").read_bytes()


def _summary(result: pytest.RunResult) -> list[str]:
    """The lines of the ``LLM cost`` terminal section."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ LLM cost =+", line))
    end = next(i for i, line in enumerate(lines[start:], start) if line.startswith("results: "))
    return lines[start : end + 1]


def test_results_and_summary_are_the_same_with_and_without_workers(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """``-n 2`` writes a results file byte-identical to ``-n 0`` and prints one identical summary."""
    pytester.makepyfile(**MODULES)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=TESTS)
    recorded = len(fake_llm.requests)
    assert recorded == CALLS

    serial = pytester.runpytest("--llm-cost", "-n", "0", "-v")
    serial.assert_outcomes(passed=TESTS)
    expected = _results(pytester)
    data = full_view(expected)
    assert sum(bool(test["calls"]) for test in data["tests"].values()) == METERED
    assert data["summary"]["calls"] == CALLS
    assert data["summary"]["estimated"] == 1
    assert set(data["tests"]["test_research.py::test_search"]["steps"]) == {"research", "research/search"}

    (pytester.path / ".llm-cost" / "results.json").unlink()
    parallel = pytester.runpytest("--llm-cost", "-n", "2", "-v")
    parallel.assert_outcomes(passed=TESTS)
    assert len(fake_llm.requests) == recorded, "a worker reached the provider"
    output = parallel.stdout.str()
    assert re.search(r"\[gw0\].* PASSED", output)
    assert re.search(r"\[gw1\].* PASSED", output), "only one worker ran tests"

    assert _results(pytester) == expected
    # The summary is printed once, by the controller, and reads as without workers.
    assert sum(bool(re.fullmatch(r"=+ LLM cost =+", line)) for line in parallel.outlines) == 1
    assert _summary(parallel) == _summary(serial)

    # -v prints each metered call under its test, as the worker's report reaches the controller.
    call_lines = [line for line in parallel.outlines if line.startswith("    llm-cost [")]
    assert len(call_lines) == CALLS
    # "Plan the research on caching": 5 words + 3 in, "Answer to:" + 5 words out; gpt-4o-mini.
    assert "    llm-cost [plan] gpt-4o-mini-2024-07-18: 8 in (0 cached), 7 out $0.000005" in call_lines
    # "Synthesize the plan": 3 + 3 in, 2 + 3 out; claude-haiku-4-5 at $1 and $5 per million.
    assert "    llm-cost [synthesize] claude-haiku-4-5-20251001: 6 in (0 cached), 5 out $0.000031" in call_lines
    assert "    llm-cost [research/search] gemini-2.5-flash: 7 in (0 cached), 6 out $0.000017" in call_lines
    assert sum(line.endswith("[estimated]") for line in call_lines) == 1


CRASH = {
    "test_crash": HEADER
    + """

def test_finishes(llm_cost):
    with step("plan"):
        chat("Plan the research on caching")


def test_crashes():
    if os.environ.get("CRASH_WORKER") and os.environ.get("PYTEST_XDIST_WORKER"):
        os._exit(1)
""",
    "test_other": HEADER
    + """

def test_one(llm_cost):
    chat("Review the findings")


def test_two(llm_cost):
    chat("Suggest a title")
""",
}


def test_a_crashed_worker_keeps_the_cost_of_the_tests_it_finished(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies in a later test; the costs it reported before reach results.json."""
    pytester.makepyfile(**CRASH)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=4)
    monkeypatch.setenv("CRASH_WORKER", "1")
    # Four tests on two workers: xdist sends each worker two consecutive tests, so the worker
    # that runs test_finishes runs test_crashes next.
    result = pytester.runpytest("--llm-cost", "-n", "2", "-v")
    result.assert_outcomes(passed=3, failed=1)
    finished = re.search(r"\[(gw\d)\] .*PASSED test_crash\.py::test_finishes", result.stdout.str())
    assert finished is not None
    result.stdout.fnmatch_lines([f"*worker '{finished[1]}' crashed while running 'test_crash.py::test_crashes'*"])

    tests = {nodeid: test for nodeid, test in full_view(_results(pytester))["tests"].items() if test["calls"]}
    assert sorted(tests) == ["test_crash.py::test_finishes", "test_other.py::test_one", "test_other.py::test_two"]
    finished_cost = tests["test_crash.py::test_finishes"]
    assert finished_cost["tokens"] == {"cache_write": 0, "cached_input": 0, "input": 8, "output": 7, "reasoning": 0}
    assert finished_cost["usd"] == "0.0000054"
    assert finished_cost["steps"]["plan"]["calls"] == 1
    # "Review the findings": 3 + 3 in, "Answer to:" + 3 out: 6 x $0.15 + 5 x $0.60 per million.
    assert tests["test_other.py::test_one"]["usd"] == "0.0000039"
    result.stdout.fnmatch_lines(["total: 3 tests, 3 calls, 20 input tokens (0 cached), 17 output tokens, $0.000013"])
