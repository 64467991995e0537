"""The results file: what one run metered, per test and per wide fixture, and how the gate judged it.

``.llm-cost/results.json`` is written by the pytest run (the xdist controller under xdist)
and read by the CLI (``llm-cost report``, ``update-baseline``, ``diff``, ``merge``). It carries
every verdict and the rules they were judged by, so a report made later renders the run's own
judgement instead of judging again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .files import FileFormatError, dump_json, read_json, write_atomic
from .fmt import format_usd
from .gate.allowance import parse_allowance
from .gate.judge import Rules, RunVerdict, Status, Verdict, summarize
from .usage import TestCost, Tokens

__all__ = ["OUTCOMES", "RESULTS_FORMAT", "Results", "load_results"]

RESULTS_FORMAT = 2
READABLE_FORMATS = (1, 2)


#: What became of a metered test: ``passed``; ``cost`` (failed on its LLM cost alone, so its
#: usage may still be accepted into the baseline); ``failed``; ``skipped``.
OUTCOMES = ("passed", "cost", "failed", "skipped")


@dataclass(frozen=True)
class Results:
    tests: Mapping[str, TestCost] = field(default_factory=dict)
    """Every metered test, and every fixture wider than a test (``…::[fixture name]``)."""
    rate_card: Mapping[str, Any] = field(default_factory=dict)
    outcomes: Mapping[str, str] = field(default_factory=dict)
    collected: tuple[str, ...] | None = None
    """Every test id the run collected, when it collected the whole suite (None otherwise)."""
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    """The gate's verdict for each entry of ``tests``."""
    runs_per_day: Mapping[str, int] = field(default_factory=dict)
    """How often each workflow runs in production, for the report's projection."""
    rules: Rules = field(default_factory=Rules)
    """How the run judged: its tolerance, noise floor, strictness and unpriced policy."""
    run: Mapping[str, Any] = field(default_factory=dict)
    """The run verdict's own findings (baseline path, new and stale entries): ``RunVerdict.to_json()``."""
    unattributed: tuple[TestCost, ...] = ()
    """Calls that no running test owned (a thread that outlived its test), by the test that started them."""
    raw: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    """Each test's ``TestCost.to_json()`` when already at hand (the reports carry it), to write as is."""

    @property
    def statuses(self) -> dict[str, str]:
        """The entries that failed on cost, and why."""
        return {nodeid: verdict.status.value for nodeid, verdict in self.verdicts.items() if verdict.fails}

    def run_verdict(self) -> RunVerdict:
        """The run verdict as the run made it, summed again from the verdicts this file carries."""
        return summarize(
            self.verdicts.values(),
            self.tests,
            new=self.run.get("new", ()),
            stale=self.run.get("stale", ()),
            rules=self.rules,
            baseline=str(self.run.get("baseline", "llm-cost-baseline.json")),
            baseline_exists=bool(self.run.get("baseline_exists", any(v.comparison for v in self.verdicts.values()))),
        )

    def kind(self, nodeid: str) -> str:
        verdict = self.verdicts.get(nodeid)
        return verdict.kind if verdict is not None else "test"

    def accepted(self) -> dict[str, TestCost]:
        """The entries whose usage may update the baseline: passed, or failed on cost alone."""
        return {
            nodeid: test
            for nodeid, test in self.tests.items()
            if self.outcomes.get(nodeid, "passed") in ("passed", "cost")
        }

    @property
    def usd(self) -> Decimal:
        return sum((test.usd for test in self.tests.values()), Decimal(0))

    @property
    def tokens(self) -> Tokens:
        return Tokens.sum(test.tokens for test in self.tests.values())

    @property
    def calls(self) -> int:
        return sum(test.calls for test in self.tests.values())

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": RESULTS_FORMAT,
            "gate": self.rules.to_json(),
            "run": dict(self.run),
            "rate_card": dict(self.rate_card),
            "summary": {
                "attempts": sum(test.attempts for test in self.tests.values()),
                "calls": self.calls,
                "estimated": sum(test.estimated for test in self.tests.values()),
                "tests": len(self.tests),
                "tokens": self.tokens.to_json(),
                "unpriced": sum(test.unpriced for test in self.tests.values()),
                "usd": format_usd(self.usd),
            },
            "collection": {
                "complete": self.collected is not None,
                "tests": sorted(self.collected or ()),
            },
            "tests": {nodeid: self._test_json(nodeid, test) for nodeid, test in sorted(self.tests.items())},
        }
        if self.unattributed:
            data["unattributed"] = [
                {"started_by": lost.nodeid, **lost.to_json()} for lost in sorted(self.unattributed, key=_by_id)
            ]
        return data

    def _test_json(self, nodeid: str, test: TestCost) -> dict[str, Any]:
        known = self.raw.get(nodeid)
        data = dict(known) if known is not None else test.to_json()
        data["outcome"] = self.outcomes.get(nodeid, "passed")
        verdict = self.verdicts.get(nodeid)
        if verdict is not None:
            data["status"] = verdict.status.value
            data["verdict"] = verdict.to_json()
            if verdict.allowance is not None:
                data["allowed_delta"] = str(verdict.allowance)
            if verdict.kind != "test":
                data["kind"] = verdict.kind
        if nodeid in self.runs_per_day:
            data["runs_per_day"] = self.runs_per_day[nodeid]
        return data

    def write(self, path: Path) -> None:
        write_atomic(path, dump_json(self.to_json()))


def _by_id(cost: TestCost) -> str:
    return cost.nodeid


def load_results(path: Path) -> Results:
    """Read a results file, or raise :class:`FileFormatError` naming the file and what is wrong."""
    data = read_json(path, "results")
    if not isinstance(data, dict) or "tests" not in data:
        raise FileFormatError(
            f"{path}: not an llm-cost results file (no 'tests'); pass the file `pytest --llm-cost` wrote"
        )
    version = data.get("format")
    if version not in READABLE_FORMATS:
        raise FileFormatError(
            f"{path}: results format {version!r} is not supported by this pytest-llmcost (reads formats "
            f"{', '.join(map(str, READABLE_FORMATS))}); write it again with `pytest --llm-cost`"
        )
    tests: dict[str, TestCost] = {}
    outcomes: dict[str, str] = {}
    verdicts: dict[str, Verdict] = {}
    runs: dict[str, int] = {}
    raw_tests = data["tests"]
    if not isinstance(raw_tests, dict):
        raise FileFormatError(f"{path}: 'tests' must map test ids to their costs")
    try:
        rules = Rules.from_json(data.get("gate") or {})
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise FileFormatError(f"{path}: 'gate' is malformed: {exc}") from None
    for nodeid, entry in raw_tests.items():
        if not isinstance(entry, dict):
            raise FileFormatError(f"{path}: entry for {nodeid!r} is malformed: expected an object")
        try:
            tests[nodeid] = TestCost.from_json(nodeid, entry)
            own = entry.get("allowed_delta")
            allowance = parse_allowance(own) if isinstance(own, str) else None
            kind = str(entry.get("kind", "test"))
            if isinstance(entry.get("verdict"), dict):
                verdicts[nodeid] = Verdict.from_json(nodeid, entry["verdict"], kind=kind)
            elif isinstance(entry.get("status"), str):  # format 1: the failing status only
                verdicts[nodeid] = Verdict(nodeid, Status(entry["status"]), fails=True, allowance=allowance)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise FileFormatError(f"{path}: entry for {nodeid!r} is malformed: {exc}") from None
        outcome = entry.get("outcome", "passed")
        if outcome not in OUTCOMES:
            raise FileFormatError(f"{path}: entry for {nodeid!r} has unknown outcome {outcome!r}")
        outcomes[nodeid] = outcome
        if isinstance(entry.get("runs_per_day"), int):
            runs[nodeid] = entry["runs_per_day"]
    unattributed = []
    for lost in data.get("unattributed") or ():
        try:
            unattributed.append(TestCost.from_json(str(lost.get("started_by", "")), lost))
        except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise FileFormatError(f"{path}: 'unattributed' is malformed: {exc}") from None
    rate_card = data.get("rate_card") or {}
    collection = data.get("collection") or {}
    collected = None
    if isinstance(collection, dict) and collection.get("complete"):
        collected = tuple(str(nodeid) for nodeid in collection.get("tests", ()))
    return Results(
        tests=tests,
        rate_card=rate_card if isinstance(rate_card, dict) else {},
        outcomes=outcomes,
        collected=collected,
        verdicts=verdicts,
        runs_per_day=runs,
        rules=rules,
        run=data["run"] if isinstance(data.get("run"), dict) else {},
        unattributed=tuple(unattributed),
    )
