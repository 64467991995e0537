"""The report as plain, display-ready data, built once and rendered by every format.

:func:`build_report` turns a run's results and the gate's verdicts (each carrying its comparison
with the baseline) into a :class:`Report`: totals, counts, a Pareto of spend by step, the tests
sorted by dollars with their steps and calls, per-step statistics with outliers, the model mix
and monthly projections. Templates only loop over it and format; the clock is injected.

It reads each test's totals (dollars, tokens, calls, per step and per model) and verdict, and a
test's calls only for the ``detail_limit`` tests it lists with their steps and calls, so a
results file read lazily is decoded only that far.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..gate.compare import Comparison, StepDelta
from ..gate.explain import Cause, Profile
from ..gate.judge import RunVerdict
from ..pricing import rate_card_label
from ..results import Results
from ..usage import Call, Dims, StepCost, TestCost, Tokens, format_usd

__all__ = [
    "DETAIL_LIMIT",
    "OUTLIER_FACTOR",
    "PARETO_LIMIT",
    "CallRow",
    "ChartBar",
    "Counts",
    "ModelRow",
    "ParetoBar",
    "ParetoChart",
    "Projection",
    "Report",
    "StepChange",
    "StepRow",
    "StepStat",
    "TestRow",
    "Tick",
    "TokenBar",
    "build_report",
    "pareto_chart",
    "shared_cassette",
]

#: A test's cost for a step is an outlier when it is over this many times the step's median.
OUTLIER_FACTOR = 5
DAYS_PER_MONTH = 30
#: How many of the most expensive tests list their steps and calls. Each listed test adds about
#: 3 KB of HTML at 5 steps of 1-2 calls, so this bounds the report near 10 MB for 10,000 tests
#: (see benchmarks/report_scale.py); every test keeps its summary row either way.
DETAIL_LIMIT = 1000
NO_STEP = "(no step)"


@dataclass(frozen=True)
class TokenBar:
    """A token vector split into the four bar segments, as shares (0-100) of the widest bar."""

    uncached: float
    cached: float
    output: float
    reasoning: float
    tokens: Tokens

    @classmethod
    def of(cls, tokens: Tokens, widest: int) -> TokenBar:
        scale = 100 / widest if widest else 0
        return cls(
            uncached=round(max(tokens.uncached_input + tokens.cache_write, 0) * scale, 2),
            cached=round(tokens.cached_input * scale, 2),
            output=round((tokens.output - tokens.reasoning) * scale, 2),
            reasoning=round(tokens.reasoning * scale, 2),
            tokens=tokens,
        )


@dataclass(frozen=True)
class CallRow:
    step: str | None
    provider: str
    model: str
    part: str | None
    tokens: Tokens
    usd: Decimal
    estimated: bool
    unpriced: bool
    requests: int
    cassette: str | None
    interaction: int | None
    note: str | None
    dims: Dims = field(default_factory=Dims)
    service_tier: str | None = None

    @property
    def billed(self) -> str:
        """Billed dimensions and the service tier, for the calls table: ``web searches 3, flex tier``."""
        parts = [self.dims.describe()] if self.dims else []
        if self.service_tier:
            parts.append(f"{self.service_tier} tier")
        return ", ".join(parts)


@dataclass(frozen=True)
class StepRow:
    path: str
    base_usd: Decimal | None
    now_usd: Decimal
    delta_usd: Decimal | None
    delta_ratio: Decimal | None
    calls: int
    tokens: Tokens
    over: bool
    calls_detail: tuple[CallRow, ...]
    why: str = ""
    """Why it moved: ``input 238 -> 995 tokens per call (x4.2), same model, same calls``; empty when it did not."""
    base: Profile | None = None
    now: Profile | None = None
    causes: tuple[Cause, ...] = ()


@dataclass(frozen=True)
class TestRow:
    __test__ = False

    nodeid: str
    base_usd: Decimal | None
    now_usd: Decimal
    delta_usd: Decimal | None
    delta_ratio: Decimal | None
    status: str
    """The gate's status (``regressed``, ``over_budget``, ``unknown_step``, ``unpriced``, ``new``, ...)."""
    fails: bool
    calls: int
    tokens: Tokens
    bar: TokenBar
    estimated: int
    unpriced: int
    steps: tuple[StepRow, ...]
    details: bool
    """Whether this row carries its steps and calls (large reports keep them for the top tests)."""
    findings: tuple[str, ...] = ()
    """The gate's reasons, as the test's failure states them."""
    moved: tuple[str, ...] = ()
    """The steps whose cost moved, largest change first."""
    changes: tuple[StepDelta, ...] = field(default=(), repr=False)
    """The comparisons of the steps in ``moved`` (the test's total when it has no step)."""

    @property
    def why(self) -> tuple[str, ...]:
        """Why each step in ``moved`` moved (the test's total when it has no step): ``input 238 -> 995 tokens ...``.

        Worded when read: a summary shows it for the few tests it lists."""
        return tuple(delta.reasons for delta in self.changes)

    @property
    def label(self) -> str:
        """The status naming the step it concerns: ``regressed: synthesize``."""
        if self.moved and self.status in ("regressed", "cache_regressed", "accepted", "improved"):
            return f"{self.status}: {self.moved[0]}"
        return self.status


@dataclass(frozen=True)
class ParetoBar:
    step: str
    usd: Decimal
    share: float
    cumulative: float
    calls: int


@dataclass(frozen=True)
class StepStat:
    step: str
    calls: int
    tests: int
    total_usd: Decimal
    mean_usd: Decimal
    p50_usd: Decimal
    p95_usd: Decimal
    outliers: tuple[tuple[str, Decimal], ...]
    """Tests whose cost for this step is over ``OUTLIER_FACTOR`` times its median, with that cost."""


@dataclass(frozen=True)
class ModelRow:
    provider: str
    model: str
    calls: int
    tokens: Tokens
    usd: Decimal
    share: float


@dataclass(frozen=True)
class Projection:
    nodeid: str
    usd_per_run: Decimal
    runs_per_day: int
    usd_per_day: Decimal
    usd_per_month: Decimal


@dataclass(frozen=True)
class Counts:
    tests: int = 0
    calls: int = 0
    regressed: int = 0
    improved: int = 0
    new: int = 0
    stale: int = 0
    over_budget: int = 0
    unpriced: int = 0
    estimated: int = 0
    cache_regressed: int = 0
    accepted: int = 0


@dataclass(frozen=True)
class StepChange:
    """One step's change summed over the tests that ran it: what the delta chart draws."""

    step: str
    base_usd: Decimal
    now_usd: Decimal
    tests: int
    """Tests whose cost for this step moved."""
    why: str
    """The causes in the test where it moved most."""
    width: float = 0.0
    gist: str = ""
    """The two largest of those causes, for a headline."""
    """Bar length, as a share (0-100) of the largest change."""

    @property
    def delta_usd(self) -> Decimal:
        return self.now_usd - self.base_usd

    @property
    def delta_ratio(self) -> Decimal | None:
        return self.delta_usd / self.base_usd if self.base_usd else None


@dataclass(frozen=True)
class Report:
    title: str
    generated: str
    rate_card: str
    now_usd: Decimal
    base_usd: Decimal | None
    delta_usd: Decimal | None
    delta_ratio: Decimal | None
    tokens: Tokens
    base_tokens: int | None
    """Tokens (input plus output) of the compared entries in the baseline."""
    drift_usd: Decimal
    counts: Counts
    tests: tuple[TestRow, ...]
    pareto: tuple[ParetoBar, ...]
    steps: tuple[StepStat, ...]
    models: tuple[ModelRow, ...]
    projections: tuple[Projection, ...]
    stale: tuple[str, ...]
    allowance: str
    truncated: int = 0
    """How many tests are listed without their steps and calls, to keep a large report small."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    step_changes: tuple[StepChange, ...] = ()
    """Steps whose cost moved, largest change first."""
    monthly_delta_usd: Decimal | None = None
    """The change a month at each test's ``runs_per_day`` (None when no test sets it)."""
    baseline_label: str = ""

    @property
    def changed(self) -> bool:
        """Whether anything a reviewer should see moved: a cost, a status, a test new or gone."""
        counts = self.counts
        return bool(
            self.delta_usd
            or self.step_changes
            or counts.regressed
            or counts.over_budget
            or counts.new
            or counts.stale
            or counts.accepted
            or counts.cache_regressed
            or counts.unpriced
            or any(test.fails for test in self.tests)
        )


def _quantile(values: list[Decimal], q: float) -> Decimal:
    """The ``q`` quantile by linear interpolation (the "exclusive" method's inclusive sibling)."""
    if not values:
        return Decimal(0)
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = Decimal(str(q)) * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _calls_of(records: Iterable[Call]) -> tuple[CallRow, ...]:
    return tuple(
        CallRow(
            step=record.step,
            provider=record.provider,
            model=record.model or "?",
            part=record.part,
            tokens=record.tokens,
            usd=record.usd,
            estimated=record.estimated,
            unpriced=record.unpriced,
            requests=record.requests,
            cassette=record.cassette,
            interaction=record.interaction,
            note=record.note,
            dims=record.dims,
            service_tier=record.service_tier,
        )
        for record in records
    )


def build_report(
    results: Results,
    run: RunVerdict | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    title: str = "LLM cost report",
    detail_limit: int = DETAIL_LIMIT,
) -> Report:
    """Everything a report shows, computed once from the run's results and verdicts; nothing is judged here.

    ``run`` is the run verdict (stale entries, price drift); without it the report knows only
    what the results file holds.
    """
    tests = {nodeid: test for nodeid, test in results.tests.items() if _metered(test)}
    verdicts = results.verdicts
    compared: dict[str, Comparison] = {}
    for nodeid in tests:
        verdict = verdicts.get(nodeid)
        if verdict is not None and verdict.comparison is not None:
            compared[nodeid] = verdict.comparison
    has_baseline = run.baseline_exists if run is not None else bool(compared)

    widest = max((test.tokens.total for test in tests.values()), default=0)
    ordered = sorted(tests.values(), key=lambda test: (-test.usd, test.nodeid))
    rows = []
    for rank, test in enumerate(ordered):
        verdict = verdicts.get(test.nodeid)
        status = verdict.status.value if verdict is not None else ("new" if has_baseline else "ok")
        fails = verdict is not None and verdict.fails
        findings = verdict.reasons if verdict is not None and verdict.findings else ()
        rows.append(
            _test_row(test, compared.get(test.nodeid), status, fails, widest, findings, details=rank < detail_limit)
        )

    # Both sides of a delta are priced by one card, today's: the tests with a baseline entry
    # compare with it, the tests new to the baseline count from zero.
    base_usd: Decimal | None = None
    base_tokens: int | None = None
    delta: Decimal | None = None
    drift = Decimal(0)
    if has_baseline:
        in_order = [compared[nodeid] for nodeid in sorted(compared)]
        base_usd = sum((c.total.base_usd or Decimal(0) for c in in_order), Decimal(0))
        base_tokens = sum(c.total.base_tokens for c in in_order)
        drift = sum((c.drift_usd for c in in_order), Decimal(0))
        now_compared = sum((c.total.now_usd for c in in_order), Decimal(0))
        new_usd = sum((test.usd for nodeid, test in tests.items() if nodeid not in compared), Decimal(0))
        delta = now_compared + new_usd - base_usd
    ratio = delta / base_usd if delta is not None and base_usd else None

    stale_ids = tuple(run.stale) if run is not None else ()
    statuses = Counter(row.status for row in rows)
    counts = Counts(
        tests=len(tests),
        calls=sum(test.calls for test in tests.values()),
        regressed=statuses["regressed"],
        improved=statuses["improved"],
        new=statuses["new"],
        stale=len(stale_ids),
        over_budget=statuses["over_budget"] + statuses["unknown_step"],
        unpriced=sum(row.unpriced for row in rows),
        estimated=sum(row.estimated for row in rows),
        cache_regressed=sum(  # a test can regress in dollars and in its cache at once
            1
            for v in verdicts.values()
            if v.fails and any(status.value == "cache_regressed" for status, _ in v.findings)
        ),
        accepted=statuses["accepted"],
    )
    monthly: Decimal | None = None
    for nodeid, per_day in results.runs_per_day.items():
        comparison = compared.get(nodeid)
        if comparison is not None and per_day:
            monthly = (monthly or Decimal(0)) + comparison.total.delta_usd * per_day * DAYS_PER_MONTH
    per_step = _per_step(tests.values())
    return Report(
        title=title,
        generated=clock().strftime("%Y-%m-%d %H:%M UTC"),
        rate_card=rate_card_label(results.rate_card or {}),
        now_usd=results.usd,
        base_usd=base_usd,
        delta_usd=delta,
        delta_ratio=ratio,
        tokens=results.tokens,
        base_tokens=base_tokens,
        drift_usd=drift,
        counts=counts,
        tests=tuple(rows),
        pareto=_pareto(per_step),
        steps=_step_stats(per_step),
        models=_models(tests.values()),
        projections=_projections(tests, results.runs_per_day),
        stale=stale_ids,
        allowance=str(results.rules.tolerance),
        truncated=max(len(rows) - detail_limit, 0),
        step_changes=_step_changes(compared.values()),
        monthly_delta_usd=monthly,
        baseline_label=run.baseline if run is not None else "",
    )


def _step_changes(comparisons: Iterable[Comparison]) -> tuple[StepChange, ...]:
    """Each step's change summed over the tests, with the causes where it moved most."""
    sums: dict[str, list[Any]] = {}
    for comparison in comparisons:
        deltas = [delta for delta in comparison.steps if delta.base_usd is not None] or [comparison.total]
        for delta in deltas:
            base = delta.base_usd
            if base is None or delta.now_usd == base:
                continue
            size = abs(delta.now_usd - base)
            entry = sums.get(delta.path or NO_STEP)
            if entry is None:
                sums[delta.path or NO_STEP] = [base, delta.now_usd, 1, delta, size]
                continue
            entry[0] += base
            entry[1] += delta.now_usd
            entry[2] += 1
            if size > entry[4]:
                entry[3], entry[4] = delta, size
    changes = [
        StepChange(path, base, now, count, top.reasons, gist=", ".join(cause.text for cause in top.causes[:2]))
        for path, (base, now, count, top, _) in sums.items()
    ]
    changes.sort(key=lambda change: (-abs(change.delta_usd), change.step))
    widest = max((abs(change.delta_usd) for change in changes), default=Decimal(0))
    return tuple(
        dataclasses.replace(change, width=round(float(abs(change.delta_usd) / widest) * 100, 2) if widest else 0.0)
        for change in changes
    )


def _metered(test: TestCost) -> bool:
    """Whether the test made any call (an LLM call, a billed request, or an attempt billed nothing)."""
    return bool(test.calls or test.requests or test.attempts)


def _loose(test: TestCost) -> StepCost | None:
    """A test's totals outside every step (its own totals less its steps'), or None when it has none."""
    if not test.steps:
        return StepCost(test.usd, test.tokens, test.calls)
    usd, calls, tokens = test.usd, test.calls, test.tokens
    uncached, cached, written, output, reasoning = (
        tokens.input,
        tokens.cached_input,
        tokens.cache_write,
        tokens.output,
        tokens.reasoning,
    )
    for step in test.steps.values():
        usd -= step.usd
        calls -= step.calls
        part = step.tokens
        uncached -= part.input
        cached -= part.cached_input
        written -= part.cache_write
        output -= part.output
        reasoning -= part.reasoning
    if not (usd or calls or uncached or cached or written or output or reasoning):
        return None
    return StepCost(usd, Tokens(uncached, cached, written, output, reasoning), calls)


def _test_row(
    test: TestCost,
    comparison: Comparison | None,
    status: str,
    fails: bool,
    widest: int,
    findings: tuple[str, ...],
    *,
    details: bool,
) -> TestRow:
    steps = []
    if details:  # only here are a test's calls read
        by_path = {delta.path: delta for delta in comparison.steps} if comparison is not None else {}
        records: dict[str | None, list[Call]] = {}
        for record in test.records:
            records.setdefault(record.step, []).append(record)
        paths = sorted(set(test.steps) | {p for p in by_path if p is not None})
        for path in paths:
            cost = test.steps.get(path)
            delta = by_path.get(path)
            step_records = records.get(path, ())
            steps.append(
                StepRow(
                    path=path,
                    base_usd=None if delta is None else delta.base_usd,
                    now_usd=cost.usd if cost is not None else Decimal(0),
                    delta_usd=None if delta is None or delta.base_usd is None else delta.delta_usd,
                    delta_ratio=None if delta is None else delta.delta_ratio,
                    calls=cost.calls if cost is not None else 0,
                    tokens=cost.tokens if cost is not None else Tokens(),
                    over=delta is not None and not delta.allowed,
                    calls_detail=_calls_of(step_records),
                    why=delta.reasons if delta is not None and delta.base_usd is not None and delta.changed else "",
                    base=None if delta is None else delta.base,
                    now=None if delta is None else delta.now,
                    causes=() if delta is None else delta.causes,
                )
            )
        loose = records.get(None)
        if loose:
            outside = _loose(test) or StepCost()
            steps.append(
                StepRow(
                    path=NO_STEP,
                    base_usd=None,
                    now_usd=outside.usd,
                    delta_usd=None,
                    delta_ratio=None,
                    calls=outside.calls,
                    tokens=outside.tokens,
                    over=False,
                    calls_detail=_calls_of(loose),
                )
            )
        steps.sort(key=lambda row: (-row.now_usd, row.path))
    total = comparison.total if comparison is not None else None
    moved: list[StepDelta] = []
    if comparison is not None:
        moved = [delta for delta in comparison.steps if delta.base_usd is not None and delta.now_usd != delta.base_usd]
        if len(moved) > 1:  # a step over its allowance first
            moved.sort(key=lambda delta: (delta.allowed, -abs(delta.delta_usd)))
        elif not moved and not comparison.steps and comparison.total.delta_usd:
            moved = [comparison.total]
    return TestRow(
        nodeid=test.nodeid,
        base_usd=None if total is None else total.base_usd,
        now_usd=test.usd,
        delta_usd=None if total is None else total.delta_usd,
        delta_ratio=None if total is None else total.delta_ratio,
        status=status,
        fails=fails,
        calls=test.calls,
        tokens=test.tokens,
        bar=TokenBar.of(test.tokens, widest),
        estimated=test.estimated,
        unpriced=test.unpriced,
        steps=tuple(steps),
        details=details,
        findings=findings,
        changes=tuple(moved),
        moved=tuple(delta.path for delta in moved if delta.path is not None),
    )


def _per_step(tests: Iterable[TestCost]) -> dict[str, list[tuple[str, Decimal, int]]]:
    """For each step path, each test's ``(nodeid, dollars, calls)`` in it; calls outside steps under NO_STEP."""
    found: dict[str, list[tuple[str, Decimal, int]]] = {}
    for test in tests:
        for path, cost in test.steps.items():
            found.setdefault(path, []).append((test.nodeid, cost.usd, cost.calls))
        outside = _loose(test)
        if outside is not None:
            found.setdefault(NO_STEP, []).append((test.nodeid, outside.usd, outside.calls))
    return found


def _pareto(per_step: Mapping[str, list[tuple[str, Decimal, int]]]) -> tuple[ParetoBar, ...]:
    totals = sorted(
        (
            (path, sum((usd for _, usd, _ in rows), Decimal(0)), sum(c for _, _, c in rows))
            for path, rows in per_step.items()
        ),
        key=lambda item: (-item[1], item[0]),
    )
    grand = sum((usd for _, usd, _ in totals), Decimal(0))
    bars = []
    running = Decimal(0)
    for path, usd, calls in totals:
        running += usd
        bars.append(
            ParetoBar(
                step=path,
                usd=usd,
                share=float(usd / grand * 100) if grand else 0.0,
                cumulative=float(running / grand * 100) if grand else 0.0,
                calls=calls,
            )
        )
    return tuple(bars)


def _step_stats(per_step: Mapping[str, list[tuple[str, Decimal, int]]]) -> tuple[StepStat, ...]:
    stats = []
    for path, rows in per_step.items():
        values = sorted(usd for _, usd, _ in rows)
        middle = len(values) // 2
        median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
        outliers = tuple(
            sorted(
                ((nodeid, usd) for nodeid, usd, _ in rows if median and usd > median * OUTLIER_FACTOR),
                key=lambda x: -x[1],
            )
        )
        total = sum(values, Decimal(0))
        stats.append(
            StepStat(
                step=path,
                calls=sum(c for _, _, c in rows),
                tests=len(rows),
                total_usd=total,
                mean_usd=total / len(values),
                p50_usd=median,
                p95_usd=_quantile(values, 0.95),
                outliers=outliers,
            )
        )
    stats.sort(key=lambda stat: (-stat.total_usd, stat.step))
    return tuple(stats)


def _models(tests: Iterable[TestCost]) -> tuple[ModelRow, ...]:
    merged: dict[tuple[str, str], list[Any]] = {}
    for test in tests:
        for key, cost in test.models.items():
            tokens = cost.tokens
            entry = merged.get(key)
            if entry is None:
                entry = merged[key] = [0, Decimal(0), 0, 0, 0, 0, 0]
            entry[0] += cost.calls
            entry[1] += cost.usd
            entry[2] += tokens.input
            entry[3] += tokens.cached_input
            entry[4] += tokens.cache_write
            entry[5] += tokens.output
            entry[6] += tokens.reasoning
    grand = sum((usd for _, usd, *_ in merged.values()), Decimal(0))
    rows = [
        ModelRow(provider, model, calls, Tokens(*counts), usd, float(usd / grand * 100) if grand else 0.0)
        for (provider, model), (calls, usd, *counts) in merged.items()
    ]
    rows.sort(key=lambda row: (-row.usd, row.provider, row.model))
    return tuple(rows)


def _projections(tests: Mapping[str, TestCost], runs: Mapping[str, int]) -> tuple[Projection, ...]:
    found = []
    for nodeid, per_day in sorted(runs.items()):
        test = tests.get(nodeid)
        if test is None or not per_day:
            continue
        daily = test.usd * per_day
        found.append(Projection(nodeid, test.usd, per_day, daily, daily * DAYS_PER_MONTH))
    found.sort(key=lambda p: (-p.usd_per_month, p.nodeid))
    return tuple(found)


# -- display geometry: the Pareto chart, computed here so the template only draws ----------------

#: Bars the Pareto chart draws; beyond it the cheapest steps fold into one "other" bar.
PARETO_LIMIT = 20
#: The cumulative share the chart marks with a reference line (the "vital few").
PARETO_MARK = 80
LABEL_CHARS = 24
_LEFT, _RIGHT, _TOP, _PLOT_HEIGHT, _PLOT_WIDTH = 64, 52, 28, 200, 844
_SLOT_MAX = 84
_CHAR_WIDTH = 6.2
"""Width in px of an average character of the chart's 11px labels, to size the label band."""
_LABEL_ANGLE = 40


@dataclass(frozen=True)
class Tick:
    pos: float
    """The tick's y in the chart's coordinates."""
    label: str


@dataclass(frozen=True)
class ChartBar:
    """One bar of the Pareto chart, with its geometry in the chart's coordinates (px)."""

    step: str
    label: str
    """``step`` shortened to fit under the axis; the full name goes in the bar's tooltip."""
    usd: Decimal
    share: float
    cumulative: float
    calls: int
    steps: int
    """How many steps the bar stands for: 1, or how many were folded into "other"."""
    x: float
    y: float
    width: float
    height: float
    cx: float
    """The bar's centre: where its label and its cumulative point sit."""
    cy: float
    """The y of the cumulative share after this bar."""


@dataclass(frozen=True)
class ParetoChart:
    """An SVG Pareto chart of spend by step: bars by dollars, and the cumulative share as a line."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    """The plot area: ``left``/``right`` are x, ``top``/``bottom`` are y (``bottom`` is the zero line)."""
    label_y: float
    bars: tuple[ChartBar, ...]
    line: str
    """The cumulative-share polyline's ``points``."""
    usd_ticks: tuple[Tick, ...]
    share_ticks: tuple[Tick, ...]
    mark_y: float
    """The y of the ``PARETO_MARK`` per cent reference line."""
    folded: int
    """How many steps the "other" bar stands for (0 when every step has its own bar)."""
    desc: str
    """A sentence describing the chart, for screen readers."""


def _shorten(text: str, width: int = LABEL_CHARS) -> str:
    """Keep the end of a step path, where its most specific part is: ``…plan/retrieve``."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _nice_ticks(top: Decimal, count: int = 4) -> list[Decimal]:
    """Round axis values from 0 to at least ``top``, in steps of 1, 2, 2.5 or 5 times a power of ten."""
    if top <= 0:
        return [Decimal(0)]
    raw = top / count
    base = Decimal(1).scaleb(raw.adjusted())
    step = next(base * m for m in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)) if base * m >= raw)
    return [step * i for i in range(math.ceil(top / step) + 1)]


def _px(value: float) -> float:
    return round(value, 1)


def pareto_chart(bars: Sequence[ParetoBar], limit: int = PARETO_LIMIT) -> ParetoChart | None:
    """The geometry of the Pareto chart of ``bars`` (as :func:`build_report` sorts them), or None without any.

    At most ``limit`` bars are drawn: past that, the cheapest steps share one last "other" bar.
    """
    if not bars:
        return None
    shown = [(bar.step, bar.usd, bar.share, bar.cumulative, bar.calls, 1) for bar in bars]
    folded = 0
    if len(shown) > limit:
        rest = bars[limit - 1 :]
        folded = len(rest)
        other = (
            f"other ({folded} steps)",
            sum((bar.usd for bar in rest), Decimal(0)),
            sum(bar.share for bar in rest),
            rest[-1].cumulative,
            sum(bar.calls for bar in rest),
            folded,
        )
        shown = [*shown[: limit - 1], other]

    ticks = _nice_ticks(max(usd for _, usd, *_ in shown))
    top_usd = ticks[-1]
    slot = min(_SLOT_MAX, _PLOT_WIDTH / len(shown))
    right = _LEFT + slot * len(shown)
    bottom = _TOP + _PLOT_HEIGHT

    def y_of_share(share: float) -> float:
        return _px(bottom - _PLOT_HEIGHT * share / 100)

    chart_bars = []
    for i, (step, usd, share, cumulative, calls, steps) in enumerate(shown):
        height = float(usd / top_usd) * _PLOT_HEIGHT if top_usd else 0.0
        cx = _LEFT + slot * (i + 0.5)
        chart_bars.append(
            ChartBar(
                step=step,
                label=_shorten(step),
                usd=usd,
                share=share,
                cumulative=cumulative,
                calls=calls,
                steps=steps,
                x=_px(cx - slot * 0.35),
                y=_px(bottom - height),
                width=_px(slot * 0.7),
                height=_px(height),
                cx=_px(cx),
                cy=y_of_share(cumulative),
            )
        )
    longest = max(len(bar.label) for bar in chart_bars)
    angle = math.radians(_LABEL_ANGLE)
    band = 16 + longest * _CHAR_WIDTH * math.sin(angle) + 11 * math.cos(angle)
    vital = next((i + 1 for i, bar in enumerate(bars) if bar.cumulative >= PARETO_MARK - 1e-9), len(bars))
    first = bars[0]
    desc = (
        f"Spend by step, most expensive first, with the cumulative share of the total: {_step_count(len(bars))}. "
        f"The most expensive, {first.step}, costs ${format_usd(first.usd)} ({first.share:.1f}% of the spend)"
    )
    if vital > 1:
        desc += f"; the {vital} most expensive make {bars[vital - 1].cumulative:.0f}%"
    desc += "."
    return ParetoChart(
        width=_px(right + _RIGHT),
        height=_px(bottom + band),
        left=_LEFT,
        right=_px(right),
        top=_TOP,
        bottom=bottom,
        label_y=bottom + 14,
        bars=tuple(chart_bars),
        line=" ".join(f"{bar.cx:g},{bar.cy:g}" for bar in chart_bars),
        usd_ticks=tuple(
            Tick(_px(bottom - float(tick / top_usd) * _PLOT_HEIGHT) if top_usd else bottom, f"${format_usd(tick)}")
            for tick in ticks
        ),
        share_ticks=tuple(Tick(y_of_share(share), f"{share}%") for share in (0, 25, 50, 75, 100)),
        mark_y=y_of_share(PARETO_MARK),
        folded=folded,
        desc=desc,
    )


def _step_count(count: int) -> str:
    return f"{count} step{'' if count == 1 else 's'}"


def shared_cassette(row: TestRow) -> str | None:
    """The one cassette all of a test's listed calls were replayed from, or None (several, or none)."""
    found = {call.cassette for step in row.steps for call in step.calls_detail}
    return found.pop() if len(found) == 1 else None
