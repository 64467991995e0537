"""The results file: what one run metered, per test, priced by a named rate card.

``.llm-cost/results.json`` is written by the pytest run (the xdist controller under xdist)
and read by the CLI (``llm-cost report``, ``update-baseline``, ``diff``, ``merge``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .files import FileFormatError, dump_json, read_json, write_atomic
from .usage import TestCost, Tokens, format_usd

__all__ = ["OUTCOMES", "RESULTS_FORMAT", "Results", "load_results"]

RESULTS_FORMAT = 1


#: What became of a metered test: ``passed``; ``cost`` (failed on its LLM cost alone, so its
#: usage may still be accepted into the baseline); ``failed``; ``skipped``.
OUTCOMES = ("passed", "cost", "failed", "skipped")


@dataclass(frozen=True)
class Results:
    tests: Mapping[str, TestCost] = field(default_factory=dict)
    rate_card: Mapping[str, Any] = field(default_factory=dict)
    outcomes: Mapping[str, str] = field(default_factory=dict)
    collected: tuple[str, ...] | None = None
    """Every test id the run collected, when it collected the whole suite (None otherwise)."""
    statuses: Mapping[str, str] = field(default_factory=dict)
    """Why a test failed on cost: ``regressed``, ``over_budget``, ``unpriced``, ``new``."""
    runs_per_day: Mapping[str, int] = field(default_factory=dict)
    """How often each workflow runs in production, for the report's projection."""
    allowed_deltas: Mapping[str, str] = field(default_factory=dict)
    """A test's own allowed delta, from its ``cost_budget(delta=...)``."""
    gate: Mapping[str, str] = field(default_factory=dict)
    """The run's ``tolerance`` and ``noise_floor``, so a report made later judges as the run did."""
    raw: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    """Each test's ``TestCost.to_json()`` when already at hand (the reports carry it), to write as is."""

    def accepted(self) -> dict[str, TestCost]:
        """The tests whose usage may update the baseline: passed, or failed on cost alone."""
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
        return {
            "format": RESULTS_FORMAT,
            "gate": dict(self.gate),
            "rate_card": dict(self.rate_card),
            "summary": {
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

    def _test_json(self, nodeid: str, test: TestCost) -> dict[str, Any]:
        known = self.raw.get(nodeid)
        data = dict(known) if known is not None else test.to_json()
        data["outcome"] = self.outcomes.get(nodeid, "passed")
        if nodeid in self.statuses:
            data["status"] = self.statuses[nodeid]
        if nodeid in self.runs_per_day:
            data["runs_per_day"] = self.runs_per_day[nodeid]
        if nodeid in self.allowed_deltas:
            data["allowed_delta"] = self.allowed_deltas[nodeid]
        return data

    def write(self, path: Path) -> None:
        write_atomic(path, dump_json(self.to_json()))


def load_results(path: Path) -> Results:
    """Read a results file, or raise :class:`FileFormatError` naming the file and what is wrong."""
    data = read_json(path, "results")
    if not isinstance(data, dict) or "tests" not in data:
        raise FileFormatError(
            f"{path}: not an llm-cost results file (no 'tests'); pass the file `pytest --llm-cost` wrote"
        )
    version = data.get("format")
    if version != RESULTS_FORMAT:
        raise FileFormatError(
            f"{path}: results format {version!r} is not supported by this pytest-llmcost (reads format "
            f"{RESULTS_FORMAT}); write it again with `pytest --llm-cost`"
        )
    tests: dict[str, TestCost] = {}
    outcomes: dict[str, str] = {}
    statuses: dict[str, str] = {}
    runs: dict[str, int] = {}
    deltas: dict[str, str] = {}
    raw_tests = data["tests"]
    if not isinstance(raw_tests, dict):
        raise FileFormatError(f"{path}: 'tests' must map test ids to their costs")
    for nodeid, entry in raw_tests.items():
        try:
            tests[nodeid] = TestCost.from_json(nodeid, entry)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise FileFormatError(f"{path}: entry for {nodeid!r} is malformed: {exc}") from None
        outcome = entry.get("outcome", "passed")
        if outcome not in OUTCOMES:
            raise FileFormatError(f"{path}: entry for {nodeid!r} has unknown outcome {outcome!r}")
        outcomes[nodeid] = outcome
        if isinstance(entry.get("status"), str):
            statuses[nodeid] = entry["status"]
        if isinstance(entry.get("runs_per_day"), int):
            runs[nodeid] = entry["runs_per_day"]
        if isinstance(entry.get("allowed_delta"), str):
            deltas[nodeid] = entry["allowed_delta"]
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
        statuses=statuses,
        runs_per_day=runs,
        allowed_deltas=deltas,
        gate={str(k): str(v) for k, v in gate.items()} if isinstance(gate := data.get("gate"), dict) else {},
    )
