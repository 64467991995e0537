"""The reports a ``--llm-cost`` run writes: HTML, Markdown, the GitHub step summary, pytest-html's column."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmcost.report.markdown import MARKER

# Raw HTTP in OpenAI's wire format: a pytest subprocess starts fast without importing the SDK.
AGENT = """
import os

import httpx

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]


def chat(words):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": " ".join(["doc"] * words)}]}
    httpx.post(URL + "/v1/chat/completions", json=body, timeout=10).raise_for_status()


def test_agent(llm_cost):
    with step("plan"):
        chat(1000)
    with step("synthesize"):
        chat(1000)


def test_other(llm_cost):
    chat(int(os.environ.get("OTHER_WORDS", "2000")))
"""

# gpt-4o: $2.50 per million input tokens, $10 per million output tokens. A call of N words
# costs ((N + 3) x 2.5 + 7 x 10) / 1e6: the fake provider counts words, plus 3 per message,
# and answers with 7 words. test_agent: 2 x $0.0025775; test_other: $0.0050775 ($0.0063275 at 2500 words).
TOTAL_USD = "0.0102325"
LINK = "\n[Full HTML report](report.html)\n"


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs must not append to the step summary of a CI job running this suite."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def recorded(pytester: pytest.Pytester, fake_llm: Any) -> pytest.Pytester:
    pytester.makepyfile(test_flows=AGENT)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    return pytester


def _results(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / ".llm-cost" / "results.json").read_text())
    return data


def test_report_and_summary_are_written_and_named(recorded: pytest.Pytester) -> None:
    result = recorded.runpytest("--llm-cost")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        # A write that took over a second shows its time after the path.
        ["results: .llm-cost/results.json*", "report: .llm-cost/report.html*", "summary: .llm-cost/summary.md*"],
        consecutive=True,
    )
    page = (recorded.path / ".llm-cost" / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "<title>LLM cost report</title>" in page
    for nodeid, usd in [("test_flows.py::test_agent", "$0.005155"), ("test_flows.py::test_other", "$0.005078")]:
        row = re.search(f"<summary>{re.escape(nodeid)}</summary>((?!</tr>).)*</tr>", page)
        assert row is not None, nodeid
        assert f">{usd}</td>" in row.group(0)

    summary = (recorded.path / ".llm-cost" / "summary.md").read_text()
    lines = summary.splitlines()
    assert lines[0] == MARKER
    assert lines[3] == "LLM cost per test run: $0.0102 over 2 tests (no baseline to compare with)."
    assert "2 tests · 3 calls · 0 regressed · 0 over budget · 0 improved · 2 new · 0 stale" in lines
    # Relative to the summary, next to it; near the top: under the totals, before the tables.
    assert summary.count(LINK) == 1
    assert "</sub>\n" + LINK + "\n#### Biggest changes\n" in summary


@pytest.mark.parametrize(
    ("option", "written", "skipped"),
    [
        pytest.param("--llm-cost-report=none", "summary", "report", id="report"),
        pytest.param("--llm-cost-markdown=none", "report", "summary", id="markdown"),
    ],
)
def test_none_skips_one_report(recorded: pytest.Pytester, option: str, written: str, skipped: str) -> None:
    files = {
        "report": recorded.path / ".llm-cost" / "report.html",
        "summary": recorded.path / ".llm-cost" / "summary.md",
    }
    result = recorded.runpytest("--llm-cost", option)
    result.assert_outcomes(passed=2)
    assert files[written].is_file()
    assert not files[skipped].exists()
    assert f"{written}: {files[written].relative_to(recorded.path)}" in result.stdout.lines
    assert not [line for line in result.stdout.lines if line.startswith(f"{skipped}: ")]
    if written == "summary":
        assert "[Full HTML report]" not in files["summary"].read_text()  # no link to a report not written


def test_summary_is_appended_to_the_github_step_summary(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Appended on every run, after what earlier steps wrote, without the relative link to the HTML."""
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("## Lint\n\nclean\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    recorded.runpytest("--llm-cost").assert_outcomes(passed=2)
    recorded.runpytest("--llm-cost").assert_outcomes(passed=2)
    summary = (recorded.path / ".llm-cost" / "summary.md").read_text()
    assert summary.count(LINK) == 1
    assert "</sub>\n" + LINK + "\n#### " in summary
    once = summary.replace(LINK, "") + "\n"
    assert once.startswith(MARKER + "\n")
    assert step_summary.read_text() == "## Lint\n\nclean\n" + once + once


def test_summary_after_a_regression_says_raises_and_counts_the_failures(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    monkeypatch.setenv("OTHER_WORDS", "2500")
    recorded.runpytest("--llm-cost-record-mode=all").assert_outcomes(passed=2)
    recorded.runpytest("--llm-cost").assert_outcomes(passed=1, failed=1)
    lines = (recorded.path / ".llm-cost" / "summary.md").read_text().splitlines()
    # +$0.00125 on a baseline of $0.0102325; test_other alone grew 24.6%, over the 5% allowed: its
    # calls, outside any step, are what moved, and why.
    why = "input 2,003 -> 2,503 tokens per call (+25%)"
    assert lines[3] == (
        "This change raises LLM cost per test run by $0.00125 (+12.2%): "
        f"`(no step)` +$0.00125 (+24.6%) in 1 test ({why}). **1 test over its allowed delta.**"
    )
    assert "| **Total per run** | $0.0102 | $0.0115 | +$0.00125 | +12.2% |" in lines
    assert "2 tests · 3 calls · **1 regressed** · 0 over budget · 0 improved · 0 new · 0 stale" in lines
    steps = lines[lines.index("#### What moved, by step") + 2 :]
    assert steps[:3] == [
        "| step | base | head | Δ | Δ% | tests | why |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| `(no step)` | $0.00508 | $0.00633 | +$0.00125 | +24.6% | 1 | {why}, same model, same calls |",
    ]
    assert steps[3] == ""  # plan and synthesize did not move
    changes = lines[lines.index("#### Biggest changes") + 4 :]
    assert changes[0] == (
        "| `test_flows.py::test_other` | $0.00508 | $0.00633 | +$0.00125 | +24.6% "
        f"| ⚠️ regressed · {why}, same model, same calls |"
    )
    assert changes[1] == ""  # test_agent did not change


def _pytest_html(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """pytest-html's column headers, and each test's cells (rows are JSON inside the page)."""
    page = path.read_text()
    head = page[page.index('<thead id="results-table-head">') : page.index("</thead>")]
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", head)
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob is not None
    tests = json.loads(html.unescape(blob.group(1)))["tests"]
    cells = {
        nodeid: [cell for entry in entries for cell in entry["resultsTableRow"]] for nodeid, entries in tests.items()
    }
    return headers, cells


def test_pytest_html_gets_an_llm_cost_column(recorded: pytest.Pytester) -> None:
    recorded.runpytest("--html=report.html", "--self-contained-html", "--llm-cost").assert_outcomes(passed=2)
    headers, cells = _pytest_html(recorded.path / "report.html")
    assert headers == ["Result", "Test", "Duration", "LLM cost", "Links"]
    assert cells["test_flows.py::test_agent"][3] == '<td class="col-llmCost">$0.005155</td>'
    assert cells["test_flows.py::test_other"][3] == '<td class="col-llmCost">$0.005078</td>'


def test_pytest_html_has_no_llm_cost_column_without_llm_cost(recorded: pytest.Pytester) -> None:
    recorded.runpytest("--html=report.html", "--self-contained-html").assert_outcomes(passed=2)
    headers, cells = _pytest_html(recorded.path / "report.html")
    assert headers == ["Result", "Test", "Duration", "Links"]
    assert sorted(cells) == ["test_flows.py::test_agent", "test_flows.py::test_other"]
    assert not [cell for row in cells.values() for cell in row if "llmCost" in cell]


PROBE = """
import sys


def pytest_unconfigure(config):
    # The last hook of a run: after the reports and the terminal summary.
    (config.rootpath / "genai_prices_imported").write_text(str("genai_prices" in sys.modules))
"""


def test_rate_card_memo_spares_the_next_run_importing_genai_prices(recorded: pytest.Pytester) -> None:
    """The first run keeps the prices it resolved in pytest's cache; the next one prices from it alone."""
    recorded.makeconftest(PROBE)
    probe = recorded.path / "genai_prices_imported"
    recorded.runpytest("--llm-cost").assert_outcomes(passed=2)
    assert probe.read_text() == "True"
    memo = json.loads((recorded.path / ".pytest_cache" / "v" / "llm-cost" / "rate-card").read_text())
    assert memo["format"] == 1
    assert memo["key"].startswith("genai-prices ")
    (model,) = [key for key in memo["models"] if key.startswith("openai\tgpt-4o")]
    assert memo["models"][model]["price"]["input"] == "2.5"
    assert memo["models"][model]["price"]["output"] == "10"
    first = _results(recorded)
    assert first["summary"]["usd"] == TOTAL_USD

    probe.unlink()
    # In a fresh interpreter: this one imported genai_prices for the first run.
    result = recorded.runpytest_subprocess("--llm-cost")
    result.assert_outcomes(passed=2)
    assert probe.read_text() == "False"
    second = _results(recorded)
    assert second["summary"] == first["summary"]
    assert {nodeid: test["usd"] for nodeid, test in second["tests"].items()} == {
        "test_flows.py::test_agent": "0.005155",
        "test_flows.py::test_other": "0.0050775",
    }
    assert second["tests"] == first["tests"]
