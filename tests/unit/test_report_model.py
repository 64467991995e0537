"""The report model: totals, statuses, the Pareto of spend by step, step statistics, projections."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from pytest_llmcost.gate.baseline import Baseline, entry_of
from pytest_llmcost.gate.rejudge import judge_results
from pytest_llmcost.report.html import render_html
from pytest_llmcost.report.markdown import summary_markdown
from pytest_llmcost.report.model import (
    NO_STEP,
    OUTLIER_FACTOR,
    PARETO_MARK,
    ParetoBar,
    build_report,
    pareto_chart,
    shared_cassette,
)
from pytest_llmcost.results import Results
from pytest_llmcost.usage import Call, TestCost, Tokens
from tests.report_sample import CARD, CLOCK, judged_report, sample_report, sample_tests


def _test(nodeid: str, *calls: tuple[str | None, str], model: str = "m", **flags: bool) -> TestCost:
    """Calls as ``(step, dollars)``; each call uses 100 input and 10 output tokens."""
    return TestCost.from_calls(
        nodeid,
        (
            Call(seq, step, "openai", model, Tokens(input=100, output=10), Decimal(usd), cassette="c.yaml", **flags)
            for seq, (step, usd) in enumerate(calls)
        ),
    )


def _report(*tests: TestCost, **options: object) -> object:
    results = Results(tests={test.nodeid: test for test in tests}, rate_card={"genai_prices": "1"})
    return judged_report(results, clock=lambda: CLOCK, **options)  # type: ignore[arg-type]


def test_totals_and_counts_of_the_sample() -> None:
    """The run, the baseline at today's prices, the change (new tests count from $0) and the counts."""
    report = sample_report()
    tests, _ = sample_tests()
    assert report.now_usd == sum((test.usd for test in tests.values()), Decimal(0))
    assert report.base_usd is not None
    assert report.delta_usd is not None
    assert report.delta_usd == report.now_usd - report.base_usd
    assert report.delta_ratio == report.delta_usd / report.base_usd
    assert report.drift_usd < 0  # the baseline was written when gpt-4o cost more
    counts = report.counts
    assert (counts.tests, counts.calls) == (10, 22)  # per-request fees are not LLM calls
    assert (counts.regressed, counts.over_budget, counts.unpriced, counts.improved, counts.new) == (1, 1, 1, 1, 1)
    assert (counts.stale, counts.estimated) == (1, 1)
    assert report.generated == "2025-06-02 09:30 UTC"
    assert report.rate_card == "genai-prices 0.0.40 + llm-cost-prices.yaml (sha256 3f9a1c2e)"


def test_tests_are_sorted_by_spend() -> None:
    report = sample_report()
    dollars = [row.now_usd for row in report.tests]
    assert dollars == sorted(dollars, reverse=True)
    assert report.tests[0].nodeid == "tests/test_agent.py::test_refund_flow"


def test_status_rules() -> None:
    """A status the run reported wins; then unpriced; then new, regressed, improved, ok."""
    statuses = {row.nodeid.rsplit("::", 1)[1]: row.status for row in sample_report().tests}
    assert statuses == {
        "test_refund_flow": "regressed",  # its draft step is over the allowance
        "test_tool_loop": "over_budget",  # reported by the run, though also over its baseline
        "test_long_thread[claude-sonnet-4-5]": "ok",
        "test_long_thread[gpt-4o]": "improved",
        "test_answer_with_sources": "new",
        "test_escalation": "ok",
        "test_triage_batch": "ok",
        "test_invoice_fields": "ok",  # +0.9%: within 5%
        "test_hello": "ok",
        "test_internal_model": "unpriced",
    }


def test_without_a_baseline_every_test_is_new() -> None:
    """As the terminal says ("not in the baseline"): every surface shows the gate's one verdict."""
    report = _report(_test("t.py::a", ("s", "0.1")), _test("t.py::b", ("s", "0")))
    assert [row.status for row in report.tests] == ["new", "new"]  # type: ignore[attr-defined]
    assert report.base_usd is None
    assert report.delta_usd is None
    unpriced = _test("t.py::u", ("s", "0"), unpriced=True)
    assert _report(unpriced).tests[0].status == "unpriced"  # type: ignore[attr-defined]


def test_steps_and_calls_of_a_row() -> None:
    """A row's steps, most expensive first, carry their calls; calls outside steps come last under (no step)."""
    test = _test("t.py::a", ("cheap", "0.001"), ("dear", "0.01"), ("dear", "0.02"), (None, "0.0001"))
    (row,) = _report(test).tests  # type: ignore[attr-defined]
    assert [(step.path, step.now_usd, step.calls) for step in row.steps] == [
        ("dear", Decimal("0.03"), 2),
        ("cheap", Decimal("0.001"), 1),
        (NO_STEP, Decimal("0.0001"), 1),
    ]
    assert [call.usd for call in row.steps[0].calls_detail] == [Decimal("0.01"), Decimal("0.02")]
    assert shared_cassette(row) == "c.yaml"


def test_calls_outside_steps_count_as_named_steps_count() -> None:
    """The (no step) share counts LLM calls as a named step does: per-request fees and attempts billed
    nothing are not calls; its dollars and tokens are the test's own less its steps'."""
    records = [
        Call(0, "s", "openai", "m", Tokens(input=100, output=10), Decimal("0.01")),
        Call(1, None, "openai", "m", Tokens(input=40, output=4), Decimal("0.002")),
        Call(2, None, "api.search.example.com", "web-search", Tokens(), Decimal("0.008"), requests=1),
        Call(3, None, "openai", "m", Tokens(input=40), Decimal(0), billed=False),
    ]
    test = TestCost.from_calls("t.py::a", records)
    report = _report(test)
    (row,) = report.tests  # type: ignore[attr-defined]
    loose = next(step for step in row.steps if step.path == NO_STEP)
    assert (loose.now_usd, loose.calls, loose.tokens) == (Decimal("0.010"), 1, Tokens(input=80, output=4))
    assert len(loose.calls_detail) == 3  # every line is still listed
    bars = {bar.step: (bar.usd, bar.calls) for bar in report.pareto}  # type: ignore[attr-defined]
    assert bars == {"s": (Decimal("0.01"), 1), NO_STEP: (Decimal("0.010"), 1)}
    assert sum(bar.calls for bar in report.pareto) == report.counts.calls  # type: ignore[attr-defined]


class _Watched(tuple[Call, ...]):
    """A test's calls that note each test whose calls are read (as a lazily read results file decodes them)."""

    nodeid = ""
    read: list[str] = []  # shared on purpose: one list for the test below

    def __iter__(self) -> Iterator[Call]:
        self.read.append(self.nodeid)
        return super().__iter__()


def test_the_report_reads_calls_only_for_the_tests_it_lists() -> None:
    """Rows, totals, counts, the Pareto, step statistics and the model mix come from each test's totals and
    verdict; a test's calls are read only for the tests listed with their steps (HTML and Markdown alike)."""
    tests = {}
    for i in range(1, 7):
        calls = [(None, "0.001")] if i == 3 else [("s", str(i)), ("t", "0.5")]
        test = _test(f"t.py::t{i}", *calls, model=f"m{i % 2}")
        tests[test.nodeid] = test
    grown = {nodeid: _test(nodeid, ("s", "0.5"), ("t", "0.5")) for nodeid in list(tests)[:4]}
    baseline = Baseline(entries={nodeid: entry_of(cost) for nodeid, cost in grown.items()}, exists=True)
    judged, run = judge_results(Results(tests=tests), baseline, CARD)
    for test in judged.tests.values():  # the totals a results file carries, then calls that note their readers
        _ = (test.usd, test.tokens, test.calls, test.attempts, test.requests, test.estimated, test.unpriced)
        _ = test.models
        watched = _Watched(test.records)
        watched.nodeid = test.nodeid
        object.__setattr__(test, "records", watched)
    _Watched.read.clear()
    report = build_report(judged, run, clock=lambda: CLOCK, detail_limit=2)
    render_html(report)
    summary_markdown(report)
    assert set(_Watched.read) == {"t.py::t6", "t.py::t5"}
    assert [model.calls for model in report.models] == [6, 5]
    assert report.counts.calls == 11
    assert {stat.step: stat.tests for stat in report.steps} == {"s": 5, "t": 5, NO_STEP: 1}


def test_detail_limit_keeps_steps_for_the_most_expensive_tests_only() -> None:
    tests = [_test(f"t.py::t{i}", ("s", str(i))) for i in range(1, 6)]
    report = _report(*tests, detail_limit=2)
    assert [(row.nodeid, row.details, bool(row.steps)) for row in report.tests] == [  # type: ignore[attr-defined]
        ("t.py::t5", True, True),
        ("t.py::t4", True, True),
        ("t.py::t3", False, False),
        ("t.py::t2", False, False),
        ("t.py::t1", False, False),
    ]
    assert report.truncated == 3  # type: ignore[attr-defined]
    assert shared_cassette(report.tests[4]) is None  # type: ignore[attr-defined]


def test_pareto_shares_sum_to_100_and_cumulate_to_100() -> None:
    pareto = sample_report().pareto
    assert sum(bar.share for bar in pareto) == pytest.approx(100)
    assert pareto[-1].cumulative == pytest.approx(100)
    dollars = [bar.usd for bar in pareto]
    assert dollars == sorted(dollars, reverse=True)
    cumulative = [bar.cumulative for bar in pareto]
    assert cumulative == sorted(cumulative)
    assert sum((bar.usd for bar in pareto), Decimal(0)) == sample_report().now_usd


def test_outliers_are_over_five_times_the_median() -> None:
    """A test whose cost for a step is over OUTLIER_FACTOR times the step's median; exactly 5x is not."""
    assert OUTLIER_FACTOR == 5
    tests = [_test(f"t.py::t{i}", ("s", "1")) for i in range(4)]
    tests += [_test("t.py::five", ("s", "5")), _test("t.py::six", ("s", "6")), _test("t.py::huge", ("s", "50"))]
    (stat,) = _report(*tests).steps  # type: ignore[attr-defined]
    assert stat.p50_usd == 1
    assert stat.outliers == (("t.py::huge", Decimal(50)), ("t.py::six", Decimal(6)))


def test_step_statistics() -> None:
    """Mean, p50 and p95 (linear interpolation) of the tests' costs for a step; calls and tests counted."""
    costs = ["1", "2", "3", "4", "100"]
    tests = [_test(f"t.py::t{i}", ("s", usd), ("s", "0")) for i, usd in enumerate(costs)]
    (stat,) = _report(*tests).steps  # type: ignore[attr-defined]
    assert (stat.calls, stat.tests) == (10, 5)
    assert stat.total_usd == 110
    assert stat.mean_usd == 22
    assert stat.p50_usd == 3
    assert stat.p95_usd == Decimal("80.8")  # 4 + (100 - 4) * 0.8


def test_projections() -> None:
    """$/run x runs/day = $/day, x 30 = $/month, dearest first; tests that did not run are left out."""
    projections = sample_report().projections
    assert [(p.nodeid.rsplit("::", 1)[1], p.runs_per_day) for p in projections] == [
        ("test_answer_with_sources", 5000),
        ("test_refund_flow", 1200),
        ("test_triage_batch", 300),
    ]
    for projection in projections:
        assert projection.usd_per_day == projection.usd_per_run * projection.runs_per_day
        assert projection.usd_per_month == projection.usd_per_day * 30
    test = _test("t.py::a", ("s", "0.01"))
    results = Results(tests={test.nodeid: test}, runs_per_day={"t.py::a": 0, "t.py::gone": 10})
    assert judged_report(results).projections == ()


def test_model_mix() -> None:
    """Dollars, tokens and calls per model, dearest first; per-request fees apart; shares sum to 100."""
    models = sample_report().models
    assert sum(model.share for model in models) == pytest.approx(100)
    assert models[0].model == "claude-sonnet-4-5"
    fees = [model for model in models if model.model == "web-search"]
    assert [(fee.provider, fee.calls, fee.usd) for fee in fees] == [("request", 3, Decimal("0.024"))]


def test_token_bars_are_to_scale_across_tests() -> None:
    report = sample_report()
    widest = max(report.tests, key=lambda row: row.tokens.total)
    bar = widest.bar
    assert bar.uncached + bar.cached + bar.output + bar.reasoning == pytest.approx(100, abs=0.05)
    for row in report.tests:
        total = row.bar.uncached + row.bar.cached + row.bar.output + row.bar.reasoning
        assert total == pytest.approx(100 * row.tokens.total / widest.tokens.total, abs=0.05)


def test_comparison_uses_the_allowance() -> None:
    """The same usage under a wider allowance is no longer a regression."""
    tests, written = sample_tests()
    baseline = Baseline(entries={nodeid: entry_of(cost) for nodeid, cost in written.items()}, exists=True)
    results = Results(tests=tests)
    tight = judged_report(results, baseline=baseline, allowance="5%")
    loose = judged_report(results, baseline=baseline, allowance="300%")
    assert tight.counts.regressed == 2
    assert loose.counts.regressed == 0
    assert loose.allowance == "300%"


# -- the Pareto chart's geometry -------------------------------------------------------------------


def _bars(*dollars: str) -> tuple[ParetoBar, ...]:
    tests = [_test(f"t.py::t{i}", (f"step-{i:02d}", usd)) for i, usd in enumerate(dollars)]
    return _report(*tests).pareto  # type: ignore[attr-defined, no-any-return]


def test_chart_bars_are_to_scale_and_the_line_ends_at_100() -> None:
    chart = pareto_chart(_bars("0.012", "0.006", "0.002"))
    assert chart is not None
    assert [tick.label for tick in chart.usd_ticks] == ["$0", "$0.005", "$0.01", "$0.015"]
    first, second, third = chart.bars
    assert first.height / second.height == pytest.approx(2, rel=0.01)
    assert first.height / third.height == pytest.approx(6, rel=0.02)
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(chart.bottom)
        assert chart.top <= bar.y
    assert third.cy == chart.top  # 100% cumulative
    assert chart.share_ticks[0].pos == chart.bottom
    assert chart.share_ticks[-1].pos == chart.top
    assert chart.mark_y == pytest.approx(chart.bottom - (chart.bottom - chart.top) * PARETO_MARK / 100)
    assert chart.line.split() == [f"{bar.cx:g},{bar.cy:g}" for bar in chart.bars]
    assert "3 steps" in chart.desc
    assert "step-00" in chart.desc


def test_chart_folds_the_long_tail_into_other() -> None:
    bars = _bars(*(str(100 - i) for i in range(25)))
    chart = pareto_chart(bars, limit=20)
    assert chart is not None
    assert len(chart.bars) == 20
    other = chart.bars[-1]
    assert (other.step, other.steps, chart.folded) == ("other (6 steps)", 6, 6)
    assert other.usd == sum((bar.usd for bar in bars[19:]), Decimal(0))
    assert other.cumulative == pytest.approx(100)
    assert chart.bars[-2].step == bars[18].step


def test_chart_shortens_long_step_names_from_the_left() -> None:
    name = "agent/research/" + "x" * 40 + "/retrieve"
    test = _test("t.py::a", (name, "0.01"))
    chart = pareto_chart(_report(test).pareto)  # type: ignore[attr-defined]
    assert chart is not None
    (bar,) = chart.bars
    assert bar.step == name
    assert bar.label.startswith("…")
    assert bar.label.endswith("x/retrieve")
    assert len(bar.label) == 24


def test_chart_of_nothing_and_of_zero_dollars() -> None:
    assert pareto_chart(()) is None
    chart = pareto_chart(_bars("0", "0"))
    assert chart is not None
    assert [tick.label for tick in chart.usd_ticks] == ["$0"]
    assert all(bar.height == 0 for bar in chart.bars)
