"""The one judge: every cost verdict of a run is decided here, once. Pure: no pytest, no I/O.

:func:`judge` takes what one test (or one fixture wider than a test) consumed, its budget, its
baseline entry, the run's rules and the rate card, and returns a :class:`Verdict`: a
:class:`Status`, whether it fails, the reasons in words and numbers, and the comparison with
the baseline per step. :func:`judge_run` sums a run's verdicts into a :class:`RunVerdict`
(new, stale and improved entries, price drift). The test's failure, the terminal summary,
``results.json``, the HTML report, the Markdown summary and the ``llm-cost`` commands render
these objects; none of them decides a status on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..fmt import format_usd, share, short_money
from ..pricing import RateCard, unpriced_snippet
from ..usage import TestCost
from .allowance import Allowance, parse_allowance
from .baseline import Entry, stale_entries
from .budgets import Budget, check, unknown_steps
from .compare import Comparison, StepDelta, compare
from .explain import cache_drop

if TYPE_CHECKING:
    from ..providers.segments import Divergence

__all__ = [
    "UPDATE_COMMAND",
    "Rules",
    "RunVerdict",
    "Status",
    "Verdict",
    "judge",
    "judge_run",
    "regression_line",
    "rejudge",
    "summarize",
]

UPDATE_COMMAND = "pytest --llm-cost --llm-cost-update"


class Status(StrEnum):
    """What the gate found for one test or fixture. The first six can fail it."""

    UNPRICED = "unpriced"
    OVER_BUDGET = "over_budget"
    UNKNOWN_STEP = "unknown_step"
    REGRESSED = "regressed"
    CACHE_REGRESSED = "cache_regressed"
    """The share of input read from a prompt cache fell by more than allowed."""
    NEW = "new"
    """No baseline entry: fails only under ``--llm-cost-strict``."""
    ACCEPTED = "accepted"
    """Over its allowance against the base branch's baseline, and accepted by this change's own."""
    IMPROVED = "improved"
    OK = "ok"

    @property
    def word(self) -> str:
        """The word pytest prints for a test that failed with this status: ``OVER-BUDGET``."""
        return "NO-BASELINE" if self is Status.NEW else self.value.upper().replace("_", "-")


@dataclass(frozen=True)
class Rules:
    """How a run judges: the settings every verdict of the run shares."""

    tolerance: Allowance = field(default_factory=lambda: parse_allowance("5%"))
    noise_floor: Decimal = Decimal("0.0001")
    cache_drop: Decimal = Decimal("0.1")
    """How far the share of input read from a prompt cache may fall (1: not gated)."""
    strict: bool = False
    updating: bool = False
    unpriced: str = "fail"
    """``fail`` or ``warn``."""
    prices: str = "llm-cost-prices.yaml"
    """Where a missing price is added, for the message."""

    def to_json(self) -> dict[str, Any]:
        return {
            "cache_drop": format_usd(self.cache_drop),
            "noise_floor": format_usd(self.noise_floor),
            "strict": self.strict,
            "tolerance": str(self.tolerance),
            "unpriced": self.unpriced,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rules:
        return cls(
            tolerance=parse_allowance(str(data.get("tolerance", "5%"))),
            noise_floor=Decimal(str(data.get("noise_floor", "0.0001"))),
            cache_drop=Decimal(str(data.get("cache_drop", "0.1"))),
            strict=bool(data.get("strict", False)),
            unpriced=str(data.get("unpriced", "fail")),
        )


@dataclass(frozen=True)
class Verdict:
    """The gate's finding for one test or fixture, as every surface shows it."""

    nodeid: str
    status: Status
    fails: bool = False
    findings: tuple[tuple[Status, str], ...] = ()
    """Why it fails, one line (or paragraph) each with numbers and units, and the status of each."""
    warnings: tuple[str, ...] = ()
    comparison: Comparison | None = None
    allowance: Allowance | None = None
    """The entry's own allowed delta (``cost_budget(delta=...)``), when it has one."""
    kind: str = "test"
    """``test``, or ``fixture`` for a fixture wider than a test."""

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.findings)

    @property
    def message(self) -> str:
        return "\n".join(self.reasons)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"fails": self.fails, "status": self.status.value}
        if self.findings:
            data["findings"] = [{"status": status.value, "text": text} for status, text in self.findings]
        if self.allowance is not None:
            data["allowed_delta"] = str(self.allowance)
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.comparison is not None:
            data["comparison"] = self.comparison.to_json()
        return data

    @classmethod
    def from_json(cls, nodeid: str, data: Mapping[str, Any], *, kind: str = "test") -> Verdict:
        comparison = data.get("comparison")
        allowance = data.get("allowed_delta")
        return cls(
            nodeid=nodeid,
            status=Status(data["status"]),
            fails=bool(data.get("fails", False)),
            findings=tuple((Status(item["status"]), str(item["text"])) for item in data.get("findings", ())),
            warnings=tuple(str(warning) for warning in data.get("warnings", ())),
            comparison=None if comparison is None else Comparison.from_json(nodeid, comparison),
            allowance=None if allowance is None else parse_allowance(str(allowance)),
            kind=kind,
        )


def regression_line(delta: StepDelta, allowance: Allowance) -> str:
    """``LLM cost of step synthesize $0.0039 exceeds baseline $0.0016 by 141.0% (allowed 5%): input
    238 -> 995 tokens per call (x4.2), same model, same calls``."""
    where = "LLM cost" if delta.path is None else f"LLM cost of step {delta.path}"
    base = delta.base_usd or Decimal(0)
    by = f"{abs(delta.delta_usd / base) * 100:.1f}%" if base else short_money(delta.delta_usd)
    line = f"{where} {short_money(delta.now_usd)} exceeds baseline {short_money(base)} by {by} (allowed {allowance})"
    return f"{line}: {delta.reasons}" if delta.reasons else line


def _cache_findings(
    comparison: Comparison, allowed: Decimal, divergence: Callable[[], Divergence | None] | None
) -> list[tuple[Status, str]]:
    """A prompt-cache regression per step (the test's total when it has no step) whose cached share fell too far."""
    deltas = [delta for delta in comparison.steps if delta.base is not None] or [comparison.total]
    found = []
    for delta in deltas:
        if delta.base is None or delta.now is None:
            continue
        drop = cache_drop(delta.base, delta.now)
        if drop is None or drop <= allowed:
            continue
        where = "prompt cache" if delta.path is None else f"prompt cache of step {delta.path}"
        text = (
            f"{where}: cache reads {share(delta.base.cached_share)} -> {share(delta.now.cached_share)} "
            f"of input (allowed drop {allowed * 100:.0f} points)"
        )
        found.append((Status.CACHE_REGRESSED, text))
    if found and divergence is not None:
        where_ = divergence()
        if where_ is not None:
            status, text = found[0]
            found[0] = (status, f"{text}; {where_.describe()}")
    return found


def _unpriced_reason(cost: TestCost, rules: Rules) -> tuple[str | None, str | None]:
    """The failure reason (or, under ``warn``, the warning) for calls to models without a price."""
    unpriced = sorted({(call.provider, call.model or "?") for call in cost.records if call.unpriced})
    if not unpriced:
        return None, None
    if rules.unpriced == "warn":
        models = ", ".join(f"{model} ({provider})" for provider, model in unpriced)
        return None, f"no price for {models}: counted as $0 and labelled unpriced; price it in {rules.prices}"
    endpoint = next((call for call in cost.records if call.unpriced and call.model is None and call.note), None)
    if endpoint is not None:  # a call to an LLM host that no reader understands: priced per request
        return (
            f"LLM cost unknown: {endpoint.note}\n\nor set llm_cost_unpriced = warn to count it as $0 with a warning."
        ), None
    provider, model = unpriced[0]
    return (
        f"LLM cost unknown: no price for model {model} ({provider}). "
        f"Add it to {rules.prices}:\n\n{unpriced_snippet(model, provider)}\n\n"
        "or set llm_cost_unpriced = warn to count it as $0 with a warning."
    ), None


_ORDER = {status: rank for rank, status in enumerate(Status)}


def _worst(findings: Iterable[tuple[Status, str]]) -> Status:
    """The status a verdict shows for its failing findings: the first of :class:`Status`'s order."""
    return min((status for status, _ in findings), key=_ORDER.__getitem__)


def _ran_steps(cost: TestCost) -> str:
    steps = sorted(cost.steps)
    return ", ".join(steps) if steps else "none (no call was made inside a step)"


def judge(
    nodeid: str,
    cost: TestCost,
    *,
    entry: Entry | None,
    budget: Budget | None,
    rules: Rules,
    card: RateCard,
    kind: str = "test",
    stopped: str | None = None,
    divergence: Callable[[], Divergence | None] | None = None,
    known: Entry | None = None,
) -> Verdict:
    """Judge one test (or wide fixture): the first failing status wins; every reason is kept.

    ``stopped`` is why the test could not be judged on its budget alone: the spend guard
    stopped a live call, or its ``cost_budget`` marker is invalid. ``divergence`` finds, from the
    test's own requests, where they stop sharing a prompt prefix: asked only for a cache regression.
    """
    failing: list[tuple[Status, str]] = []
    if stopped is not None:
        failing.append((Status.OVER_BUDGET, stopped))
    warnings: list[str] = []
    reason, warning = _unpriced_reason(cost, rules)
    if reason is not None:
        failing.append((Status.UNPRICED, reason))
    if warning is not None:
        warnings.append(warning)
    if budget is not None:
        failing += [(Status.OVER_BUDGET, str(violation)) for violation in check(budget, cost)]
        failing += [
            (
                Status.UNKNOWN_STEP,
                f"cost_budget limits step {path!r}, which this test never ran; the steps it ran: {_ran_steps(cost)}",
            )
            for path in unknown_steps(budget, cost)
        ]
    own = budget.delta if budget is not None else None
    allowance = own if own is not None else rules.tolerance
    comparison: Comparison | None = None
    if entry is not None and cost.records:
        comparison = compare(nodeid, entry, cost, card, allowance, rules.noise_floor, known=known)
        if comparison.regressed and not rules.updating:
            failing += [(Status.REGRESSED, regression_line(delta, allowance)) for delta in comparison.regressions]
        cache_allowed = budget.cache_drop if budget is not None and budget.cache_drop is not None else rules.cache_drop
        if not rules.updating:
            failing += _cache_findings(comparison, cache_allowed, divergence)
    elif entry is None and cost.records and rules.strict and not rules.updating:
        failing.append(
            (
                Status.NEW,
                f"LLM cost {short_money(cost.usd)} has no baseline entry (--llm-cost-strict); "
                f"accept it with `{UPDATE_COMMAND}`",
            )
        )
    if failing:
        return Verdict(
            nodeid,
            _worst(failing),
            fails=True,
            findings=tuple(failing),
            warnings=tuple(warnings),
            comparison=comparison,
            allowance=own,
            kind=kind,
        )
    if warnings:
        status = Status.UNPRICED
    elif entry is None:
        status = Status.NEW
    elif comparison is not None and comparison.improved:
        status = Status.IMPROVED
    else:
        status = Status.OK
    return Verdict(nodeid, status, warnings=tuple(warnings), comparison=comparison, allowance=own, kind=kind)


@dataclass(frozen=True)
class RunVerdict:
    """The session-level findings of a run, summed once from its verdicts."""

    failing: Mapping[Status, tuple[str, ...]]
    """The ids that fail, by status."""
    new: tuple[str, ...]
    """Metered entries with no baseline entry."""
    stale: tuple[str, ...]
    """Baseline entries the run did not meet although it collected the whole suite."""
    improved: tuple[str, ...]
    drift_usd: Decimal
    base_usd: Decimal | None
    """The compared entries' baseline cost at today's prices (None without a baseline)."""
    now_usd: Decimal
    rules: Rules
    baseline: str
    """The baseline's path as shown to the user."""
    baseline_exists: bool

    @property
    def fails(self) -> bool:
        return any(self.failing.values())

    def count(self, status: Status) -> int:
        return len(self.failing.get(status, ()))

    def to_json(self) -> dict[str, Any]:
        """What the results file keeps of it; the rest is summed again from the verdicts."""
        return {
            "baseline": self.baseline,
            "baseline_exists": self.baseline_exists,
            "new": list(self.new),
            "stale": list(self.stale),
        }


def judge_run(
    verdicts: Iterable[Verdict],
    costs: Mapping[str, TestCost],
    *,
    baseline_ids: Iterable[str],
    baseline_exists: bool,
    collected: Iterable[str] | None,
    rules: Rules,
    baseline: str = "llm-cost-baseline.json",
) -> RunVerdict:
    """Sum a run's verdicts: ``collected`` is None when the run did not collect the whole suite."""
    verdicts = list(verdicts)
    known = set(baseline_ids)
    metered = {verdict.nodeid for verdict in verdicts if (cost := costs.get(verdict.nodeid)) and cost.records}
    stale: list[str] = []
    if collected is not None and baseline_exists:
        stale = stale_entries(known, collected, (verdict.nodeid for verdict in verdicts))
    return summarize(
        verdicts,
        costs,
        new=sorted(metered - known),
        stale=stale,
        rules=rules,
        baseline=baseline,
        baseline_exists=baseline_exists,
    )


def summarize(
    verdicts: Iterable[Verdict],
    costs: Mapping[str, TestCost],
    *,
    new: Iterable[str],
    stale: Iterable[str],
    rules: Rules,
    baseline: str,
    baseline_exists: bool,
) -> RunVerdict:
    """The run verdict from verdicts already made and the entries new to, or missing from, the baseline."""
    verdicts = list(verdicts)
    failing: dict[Status, list[str]] = {}
    for verdict in verdicts:
        if verdict.fails:
            failing.setdefault(verdict.status, []).append(verdict.nodeid)
    comparisons = [verdict.comparison for verdict in verdicts if verdict.comparison is not None]
    return RunVerdict(
        failing={status: tuple(sorted(ids)) for status, ids in failing.items()},
        new=tuple(sorted(new)),
        stale=tuple(sorted(stale)),
        improved=tuple(sorted(verdict.nodeid for verdict in verdicts if verdict.status is Status.IMPROVED)),
        drift_usd=sum((c.drift_usd for c in comparisons), Decimal(0)),
        base_usd=sum((c.total.base_usd or Decimal(0) for c in comparisons), Decimal(0)) if baseline_exists else None,
        now_usd=sum((cost.usd for cost in costs.values()), Decimal(0)),
        rules=rules,
        baseline=baseline,
        baseline_exists=baseline_exists,
    )


_COMPARED = (Status.REGRESSED, Status.CACHE_REGRESSED, Status.NEW, Status.ACCEPTED)


def rejudge(
    verdict: Verdict | None,
    nodeid: str,
    cost: TestCost,
    *,
    entry: Entry | None,
    rules: Rules,
    card: RateCard,
    known: Entry | None = None,
    accept: bool = False,
) -> Verdict:
    """``verdict`` judged again against another baseline entry: its budget and price findings stay as they were.

    With ``accept`` (``entry`` is the base branch's), an increase the run's own verdict did not
    find was accepted in the change's own baseline: it shows as ``accepted`` and fails nothing.
    ``known`` (the run's own entry) lends its prompt segments to the usage it matches.
    """
    kept = tuple(finding for finding in (verdict.findings if verdict else ()) if finding[0] not in _COMPARED)
    allowance = verdict.allowance if verdict is not None else None
    fresh = judge(
        nodeid,
        cost,
        entry=entry,
        budget=Budget(delta=allowance) if allowance is not None else None,
        rules=rules,
        card=card,
        kind=verdict.kind if verdict is not None else "test",
        known=known,
    )
    compared = [f for f in fresh.findings if f[0] in _COMPARED]
    if accept:
        found_by_run = {status for status, _ in (verdict.findings if verdict else ())}
        compared = [
            (Status.ACCEPTED, f"accepted in this change's baseline: {text}")
            if status in (Status.REGRESSED, Status.CACHE_REGRESSED) and status not in found_by_run
            else (status, text)
            for status, text in compared
        ]
    findings = kept + tuple(compared)
    failing = [finding for finding in findings if finding[0] is not Status.ACCEPTED]
    if failing:
        return dataclasses.replace(fresh, status=_worst(failing), fails=True, findings=findings)
    if findings:
        return dataclasses.replace(fresh, status=Status.ACCEPTED, fails=False, findings=findings)
    return fresh
