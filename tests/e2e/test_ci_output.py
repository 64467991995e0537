"""Output that fits a CI log: ids cut from the left, a quiet progress line while recording, slow reports timed."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from pytest_llmcost.report.terminal import _fit, written_line

TESTS = """
import os

import openai
import pytest

URL = os.environ["FAKE_LLM_URL"] + "/v1"


@pytest.mark.parametrize("question", ["what should the research workflow do when it runs out of budget?"])
def test_research_workflow(llm_cost, question):
    client = openai.OpenAI(base_url=URL, api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])


def test_second(llm_cost):
    client = openai.OpenAI(base_url=URL, api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
"""


@pytest.mark.parametrize(
    ("nodeid", "width", "shown"),
    [
        ("tests/test_research.py::test_research_workflow", 60, "tests/test_research.py::test_research_workflow"),
        ("tests/agents/test_research.py::test_research_workflow", 40, "…est_research.py::test_research_workflow"),
        ("tests/test_research.py::test_workflow[small model]", 33, "…h.py::test_workflow[small model]"),
        (
            "tests/test_research.py::test_workflow[should it use a small model?]",
            33,
            "…test_workflow[should i…l model?]",
        ),
        ("tests/test_a.py::test_a_very_long_function_name_indeed[x]", 20, "…tion_name_indeed[x]"),
    ],
)
def test_ids_are_cut_from_the_left_keeping_the_function_and_parameters(nodeid: str, width: int, shown: str) -> None:
    fitted = _fit(nodeid, width)
    assert len(fitted) <= width
    assert fitted == shown
    if len(nodeid) > width:
        assert fitted.startswith("…")


def test_a_report_shows_its_time_only_when_it_took_long() -> None:
    assert written_line("report", ".llm-cost/report.html", 0.3) == "report: .llm-cost/report.html"
    assert written_line("report", ".llm-cost/report.html", 1.44) == "report: .llm-cost/report.html (1.4 s)"
    assert written_line("results", ".llm-cost/results.json") == "results: .llm-cost/results.json"


def test_at_80_columns_the_summary_keeps_the_function_name(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_research=TESTS)
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once")
    result.assert_outcomes(passed=2)
    (row,) = [line for line in result.outlines if "test_research_workflow[" in line]
    assert row.startswith("…test_research_workflow[wha…get?] ")
    assert len(row) <= 80


def test_recording_prints_a_progress_line_now_and_then(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While recording: calls and dollars so far, at most every LIVE_INTERVAL_S; none under -q, none in replay."""
    import pytest_llmcost.hooks.run as run

    pytester.makepyfile(test_research=TESTS)
    monkeypatch.setattr(run, "LIVE_INTERVAL_S", 0.0)
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once")
    result.assert_outcomes(passed=2)
    progress = [line for line in result.outlines if line.startswith("llm-cost: recording")]
    assert progress[-1].startswith("llm-cost: recording, 2 LLM calls in 2 tests so far, $0.0000")
    assert re.fullmatch(r"llm-cost: recording, 2 LLM calls in 2 tests so far, \$[0-9.]+ spent", progress[-1])

    quiet = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=all", "-q")
    assert not [line for line in quiet.outlines if line.startswith("llm-cost: recording")]
    replay = pytester.runpytest("--llm-cost")
    assert not [line for line in replay.outlines if line.startswith("llm-cost: recording")]

    monkeypatch.setattr(run, "LIVE_INTERVAL_S", 3600.0)  # the default keeps a CI log quiet
    calm = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=all")
    assert not [line for line in calm.outlines if line.startswith("llm-cost: recording")]


def test_a_slow_report_says_how_long_it_took(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytest_llmcost.report.html as html

    pytester.makepyfile(test_research=TESTS)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    write_html = html.write_html

    def slow_write_html(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.2)
        return write_html(*args, **kwargs)

    monkeypatch.setattr(html, "write_html", slow_write_html)
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines(
        [r"report: \.llm-cost/report\.html \(1\.[0-9] s\)$", r"summary: \.llm-cost/summary\.md$"]
    )
