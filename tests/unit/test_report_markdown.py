"""The Markdown summary for a pull request: headline, counts, the biggest changes, the folded details."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pytest_llmcost.gate.baseline import Baseline, entry_of
from pytest_llmcost.report.markdown import MARKER, MAX_CHANGES, MAX_DETAILS, summary_markdown
from pytest_llmcost.report.model import Report
from pytest_llmcost.results import Results
from pytest_llmcost.usage import Call, TestCost, Tokens
from tests.report_sample import CLOCK, judged_report, sample_report

#: gpt-4o input in the sample's price list: $2.50 per million tokens, so 4,000 tokens cost $0.01.
USD_PER_TOKEN = Decimal("2.5") / 1_000_000
#: Tests as ``{test id: {step (None: outside any step): input tokens}}``.
Suite = Mapping[str, Mapping[Any, int]]


def _test(nodeid: str, steps: Mapping[Any, int]) -> TestCost:
    """One gpt-4o call per step (None: outside any step), with that many input tokens."""
    return TestCost.from_calls(
        nodeid,
        [
            Call(seq, step, "openai", "gpt-4o", Tokens(input=tokens), tokens * USD_PER_TOKEN)
            for seq, (step, tokens) in enumerate(steps.items())
        ],
    )


def _report(
    now: Suite, base: Suite | None = None, statuses: Mapping[str, str] | None = None, **options: object
) -> Report:
    """A report of ``now`` compared with ``base`` (no baseline when None), at 5% allowed."""
    results = Results(
        tests={nodeid: _test(nodeid, steps) for nodeid, steps in now.items()},
        rate_card={"genai_prices": "0.0.40"},
    )
    baseline = None
    if base is not None:
        entries = {nodeid: entry_of(_test(nodeid, steps)) for nodeid, steps in base.items()}
        baseline = Baseline(path=Path("llm-cost-baseline.json"), entries=entries, exists=True)
    return judged_report(results, baseline=baseline, statuses=statuses, clock=lambda: CLOCK, **options)


def _table(text: str, title: str) -> list[str]:
    """The rows of the table under ``title``, without its header and separator."""
    lines = text.splitlines()
    start = lines.index(title) + 4
    end = lines.index("", start)
    return lines[start:end]


def _first_cells(rows: list[str]) -> list[str]:
    return [row.split(" | ")[0].removeprefix("| ") for row in rows]


FLAT: Suite = {"t.py::a": {None: 4000}, "t.py::b": {None: 4000}}  # $0.01 each


@pytest.mark.parametrize(
    ("now", "base", "statuses", "headline"),
    [
        pytest.param(
            {"t.py::a": {None: 4400}, "t.py::b": {None: 4800}},
            FLAT,
            {},
            "This change raises LLM cost per test run by $0.003 (+15.0%): `(no step)` +$0.003 (+15.0%) in 2 "
            "tests (input 4,000 -> 4,800 tokens per call (+20%)). **2 tests over their allowed delta.**",
            id="raise-2-regressed",
        ),
        pytest.param(
            {"t.py::a": {None: 4400}, "t.py::b": {None: 4000}},
            FLAT,
            {},
            "This change raises LLM cost per test run by $0.001 (+5.0%): `(no step)` +$0.001 (+10.0%) in 1 test "
            "(input 4,000 -> 4,400 tokens per call (+10%)). **1 test over its allowed delta.**",
            id="raise-1-regressed",
        ),
        pytest.param(
            {"t.py::a": {None: 4400}, "t.py::b": {None: 4000}, "t.py::c": {None: 4000}},
            {**FLAT, "t.py::c": {None: 4000}},
            {"t.py::b": "over_budget", "t.py::c": "over_budget"},
            "This change raises LLM cost per test run by $0.001 (+3.3%): `(no step)` +$0.001 (+10.0%) in 1 test "
            "(input 4,000 -> 4,400 tokens per call (+10%)). **1 test over its allowed delta; 2 over budget.**",
            id="raise-regressed-and-over-budget",
        ),
        pytest.param(
            {"t.py::a": {None: 4000}, "t.py::b": {None: 4000}},
            FLAT,
            {"t.py::b": "over_budget"},
            "This change leaves LLM cost per test run unchanged at $0.02. **1 test over budget.**",
            id="unchanged-1-over-budget",
        ),
        pytest.param(
            {"t.py::a": {None: 3600}, "t.py::b": {None: 4000}},
            FLAT,
            {},
            "This change lowers LLM cost per test run by $0.001 (-5.0%): `(no step)` -$0.001 (-10.0%) in 1 test "
            "(input 4,000 -> 3,600 tokens per call (-10%)).",
            id="lower",
        ),
        pytest.param(FLAT, FLAT, {}, "This change leaves LLM cost per test run unchanged at $0.02.", id="unchanged"),
        pytest.param(
            FLAT, None, {}, "LLM cost per test run: $0.02 over 2 tests (no baseline to compare with).", id="no-baseline"
        ),
        pytest.param(
            {"t.py::a": {None: 4000}},
            None,
            {"t.py::a": "over_budget"},
            "LLM cost per test run: $0.01 over 1 test (no baseline to compare with). **1 test over budget.**",
            id="no-baseline-1-test",
        ),
    ],
)
def test_headline(now: Suite, base: Suite | None, statuses: dict[str, str], headline: str) -> None:
    lines = summary_markdown(_report(now, base, statuses=statuses)).splitlines()
    assert lines[:5] == [MARKER, "### LLM cost", "", headline, ""]


def test_the_hidden_marker_is_the_first_line() -> None:
    """A workflow finds its one comment by this exact line, to update it rather than add another."""
    text = summary_markdown(sample_report(), report_link="report.html")
    assert text.splitlines()[0] == "<!-- pytest-llmcost:summary -->" == MARKER
    assert text.count(MARKER) == 1


def test_sample_summary_counts_and_links() -> None:
    text = summary_markdown(sample_report(), report_link="../report.html")
    lines = text.splitlines()
    assert lines[3] == (
        "This change raises LLM cost per test run by $0.0811 (+25.6%): `draft` +$0.0492 (+223.5%) in 1 test "
        "(input 11,600 -> 15,600 tokens per call (+34%), calls 1 -> 2); 6 other steps moved. "
        "That is +$1,777.72 a month at the runs per day set. **1 test over its allowed delta; 1 over budget.**"
    )
    assert "| **Total per run** | $0.317 | $0.398 | +$0.0811 | +25.6% |" in lines
    assert (
        "10 tests · 22 calls · **1 regressed** · **1 over budget** · 1 improved · 1 new · 1 stale"
        " · **1 unpriced call** · 1 estimated call"
    ) in lines
    assert (
        "<sub>Rate card: genai-prices 0.0.40 + llm-cost-prices.yaml (sha256 3f9a1c2e); allowed delta 5%; "
        "price drift -$0.0307 (not counted against any test)</sub>"
    ) in lines
    assert "1 baseline entry has no test; `pytest --llm-cost --llm-cost-update --llm-cost-prune` drops it." in lines
    assert "\n[Full HTML report](../report.html)\n" in text


@pytest.mark.parametrize(
    ("count", "tally"),
    [
        (1, "1 test · 1 call · 0 regressed · 0 over budget · 0 improved · 0 new · 2 stale"),
        (2, "2 tests · 2 calls · 0 regressed · 0 over budget · 0 improved · 0 new · 2 stale"),
    ],
)
def test_counts_are_pluralised(count: int, tally: str) -> None:
    now = {f"t.py::t{i}": {None: 4000} for i in range(count)}
    text = summary_markdown(_report(now, now, stale=["t.py::gone1", "t.py::gone2"]))
    assert tally in text.splitlines()
    assert "2 baseline entries have no test; `pytest --llm-cost --llm-cost-update --llm-cost-prune` drops them." in text


def test_biggest_changes_rank_tests_with_their_steps_under_them() -> None:
    """A test ranks by its largest change, its own or a step's; its changed steps follow it, largest first."""
    base: Suite = {
        "t.py::big": {"plan": 4000, "draft": 4000},
        "t.py::mid": {"s": 4000},
        "t.py::cheaper": {"s": 8000},
        "t.py::flat": {"plan": 4000, "synth": 2000},  # the total stays: plan -$0.005, synth +$0.005
        "t.py::same": {"s": 4000},
    }
    now: Suite = {
        "t.py::big": {"plan": 4000, "draft": 8000},  # +$0.01
        "t.py::mid": {"s": 7000},  # +$0.0075
        "t.py::cheaper": {"s": 5200},  # -$0.007
        "t.py::flat": {"plan": 2000, "synth": 4000},
        "t.py::same": {"s": 4000},
        "t.py::new": {"s": 1200},  # +$0.003, new
    }
    rows = _table(summary_markdown(_report(now, base)), "#### Biggest changes")
    # What fails comes first, then the rest by the size of the change; new tests last.
    assert _first_cells(rows) == [
        "`t.py::big`",
        "↳ `draft`",
        "`t.py::mid`",
        "↳ `s`",
        "`t.py::flat`",
        "↳ `synth`",
        "↳ `plan`",
        "`t.py::cheaper`",
        "↳ `s`",
        "`t.py::new`",
    ]
    assert rows[0] == "| `t.py::big` | $0.02 | $0.03 | +$0.01 | +50.0% | ⚠️ regressed: `draft` |"
    assert rows[1] == (
        "| ↳ `draft` | $0.01 | $0.02 | +$0.01 | +100.0% | over: input 4,000 -> 8,000 tokens per call (x2.0), "
        "same model, same calls |"
    )
    # The status names the step that regressed, not the one that moved as much the other way.
    assert rows[4] == "| `t.py::flat` | $0.015 | $0.015 | ±$0 | +0.0% | ⚠️ regressed: `synth` |"
    assert rows[7] == "| `t.py::cheaper` | $0.02 | $0.013 | -$0.007 | -35.0% | ✅ improved: `s` |"
    assert rows[9] == "| `t.py::new` | - | $0.003 | +$0.003 | - | 🆕 new |"


def test_biggest_changes_are_capped() -> None:
    now = {f"t.py::t{i:02}": {None: 4000 + 40 * i} for i in range(1, 16)}  # t15 grew most
    base = {nodeid: {None: 4000} for nodeid in now}
    rows = _table(summary_markdown(_report(now, base)), "#### Biggest changes")
    assert len(rows) == MAX_CHANGES == 10
    assert _first_cells(rows) == [f"`t.py::t{i:02}`" for i in range(15, 5, -1)]


def test_no_change_is_said_in_words() -> None:
    text = summary_markdown(_report(FLAT, FLAT))
    assert "#### Biggest changes" not in text
    assert "No test's LLM cost changed." in text.splitlines()


@pytest.mark.parametrize(("tests", "more"), [(MAX_DETAILS, None), (MAX_DETAILS + 5, 5)])
def test_details_are_capped_with_a_count_of_the_rest(tests: int, more: int | None) -> None:
    now = {f"t.py::t{i:03}": {None: 4 * (i + 1)} for i in range(tests)}
    text = summary_markdown(_report(now))
    lines = text.splitlines()
    assert f"<details><summary>All {tests} tests, by cost</summary>" in lines
    rows = _table(text, f"<details><summary>All {tests} tests, by cost</summary>")
    assert len(rows) == MAX_DETAILS == 200
    assert _first_cells(rows[:2]) == [f"`t.py::t{tests - 1:03}`", f"`t.py::t{tests - 2:03}`"]  # by cost
    if more is None:
        assert "more in results.json" not in text
        assert lines[lines.index(rows[-1]) + 1 : lines.index(rows[-1]) + 3] == ["", "</details>"]
    else:
        assert lines[lines.index(rows[-1]) + 1 : lines.index(rows[-1]) + 5] == [
            "",
            "…and 5 more in results.json.",
            "",
            "</details>",
        ]


UNPIPED = re.compile(r"(?<!\\)\|")


def test_pipes_and_backticks_in_test_ids_do_not_break_tables() -> None:
    nodeid = "t.py::test_route[a|b`c`]"
    now: Suite = {nodeid: {"x|y": 4400}, "t.py::plain": {None: 4000}}
    base: Suite = {nodeid: {"x|y": 4000}, "t.py::plain": {None: 4000}}
    text = summary_markdown(_report(now, base))
    changes = _table(text, "#### Biggest changes")
    details = _table(text, "<details><summary>All 2 tests, by cost</summary>")
    assert (len(changes), len(details)) == (2, 2)
    # Every row has the six cells of the header, no more.
    assert [len(UNPIPED.findall(row)) for row in changes + details] == [7, 7, 7, 7]
    assert changes[0].startswith("| `t.py::test_route[a\\|b'c']` | $0.01 | $0.011 |")
    assert changes[1].startswith("| ↳ `x\\|y` | $0.01 | $0.011 |")
    # One code span per cell: no backtick of the id is left to close it early.
    assert changes[0].split(" | ")[0].count("`") == 2


def test_ten_thousand_tests_fit_in_a_pull_request_comment() -> None:
    """Even with long parametrised ids; a GitHub comment allows 65,536 characters."""
    suffix = "[" + "case-" * 50 + "]"  # a 252-character parameter id
    now = {f"tests/test_m{i % 40}.py::test_case_{i}{suffix}": {None: 400 + i} for i in range(10_000)}
    base = {nodeid: {None: 400} for nodeid in now}
    text = summary_markdown(_report(now, base), report_link="report.html")
    assert len(text) < 60_000
    assert len(_table(text, "#### Biggest changes")) == MAX_CHANGES
    details = _table(text, "<details><summary>All 10,000 tests, by cost</summary>")
    assert 100 < len(details) < MAX_DETAILS  # as many as fit
    assert f"…and {10_000 - len(details):,} more in the [HTML report](report.html)." in text
    assert text.endswith("</details>\n")
    assert "\n[Full HTML report](report.html)\n" in text
