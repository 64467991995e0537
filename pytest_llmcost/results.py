"""The results file: what one run metered, per test and per wide fixture, and how the gate judged it.

``.llm-cost/results.json`` is written by the pytest run (the xdist controller under xdist)
and read by the CLI (``llm-cost report``, ``update-baseline``, ``diff``, ``merge``). It carries
every verdict and the rules they were judged by, so a report made later renders the run's own
judgement instead of judging again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .files import FileFormatError, RawJSON, dump_json_lines, encode_compact, read_json, write_atomic
from .fmt import format_usd
from .gate.allowance import parse_allowance
from .gate.judge import Rules, RunVerdict, Status, Verdict, summarize
from .usage import Call, TestCost, Tokens, parse_money

__all__ = ["OUTCOMES", "RESULTS_FORMAT", "MergeConflict", "Results", "load_results", "merge_results"]

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
        # Compact, one test per line: a fifth of the indented size, written by the C encoder.
        write_atomic(path, dump_json_lines(self.to_json(), lines=("tests",)))


def _by_id(cost: TestCost) -> str:
    return cost.nodeid


_FIX = "write it again with `pytest --llm-cost`"


class _Bad(ValueError):
    """A field of a results file is wrong: where it is, and what is wrong with it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def _amount(where: str, value: Any, *, signed: bool = False) -> None:
    """A dollar amount: a decimal string (or number), finite, and >= 0 unless ``signed`` (a change)."""
    try:
        parse_money(value, signed=signed)
    except ValueError as exc:
        raise _Bad(where, str(exc)) from None


def _whole(where: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(where, f"must be a whole number >= 0{' or null' if optional else ''}, got {value!r}")


def _check_record(where: str, raw: Any) -> Call:
    """One metered call of a results file, checked field by field before it is read."""
    if not isinstance(raw, dict):
        raise _Bad(where, f"must be an object (one call), got {raw!r}")
    for name in ("seq", "provider", "usd"):
        if name not in raw:
            raise _Bad(where, f"has no {name!r}")
    _whole(f"{where}.seq", raw["seq"])
    if not isinstance(raw["provider"], str):
        raise _Bad(f"{where}.provider", f"must be text, got {raw['provider']!r}")
    for name in ("model", "step", "part", "cassette", "note"):
        if not isinstance(raw.get(name), (str, type(None))):
            raise _Bad(f"{where}.{name}", f"must be text or null, got {raw[name]!r}")
    if not isinstance(raw.get("api", ""), str):
        raise _Bad(f"{where}.api", f"must be text, got {raw['api']!r}")
    for name in ("estimated", "unpriced", "billed"):
        if not isinstance(raw.get(name, False), bool):
            raise _Bad(f"{where}.{name}", f"must be true or false, got {raw[name]!r}")
    tokens = raw.get("tokens", {})
    if not isinstance(tokens, dict):
        raise _Bad(f"{where}.tokens", f"must map token kinds to counts, got {tokens!r}")
    try:
        Tokens.from_json(tokens)
    except ValueError as exc:
        raise _Bad(f"{where}.tokens", str(exc)) from None
    _amount(f"{where}.usd", raw["usd"])
    _whole(f"{where}.requests", raw.get("requests", 0))
    _whole(f"{where}.interaction", raw.get("interaction"), optional=True)
    try:
        return Call.from_json(raw)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:  # billed dimensions, say
        raise _Bad(where, str(exc)) from None


def _check_cost(prefix: str, entry: dict[str, Any]) -> list[Call]:
    """A test's (or unattributed) calls, each read once, and the amounts written beside them;
    ``prefix`` ends with a dot."""
    records = entry.get("records", [])
    if not isinstance(records, list):
        raise _Bad(f"{prefix}records", f"must be a list of calls, got {records!r}")
    calls = [_check_record(f"{prefix}records[{index}]", record) for index, record in enumerate(records)]
    if "usd" in entry:
        _amount(f"{prefix}usd", entry["usd"])
    return calls


def _check_amounts(where: str, data: Any) -> None:
    """Every ``*usd`` field of a verdict is a finite amount (a drift or a change may be negative)."""
    if not _amounts_ok(data):  # the fast walk found a bad one: walk again to name it
        _name_bad_amount(where, data)


def _amounts_ok(data: Any) -> bool:
    """Whether every ``*usd`` field under ``data`` is a valid amount (no path built: this runs per test)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("usd") if isinstance(key, str) else False:
                if value is not None and not _valid_amount(value, key in ("drift_usd", "delta_usd")):
                    return False
            elif isinstance(value, (dict, list)) and not _amounts_ok(value):
                return False
    elif isinstance(data, list):
        return all(_amounts_ok(item) for item in data if isinstance(item, (dict, list)))
    return True


def _valid_amount(value: Any, signed: bool) -> bool:
    try:
        parse_money(value, signed=signed)
    except ValueError:
        return False
    return True


def _name_bad_amount(where: str, data: Any) -> None:
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        here = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else str(key)
        if isinstance(key, str) and key.endswith("usd") and value is not None:
            _amount(here, value, signed=key in ("drift_usd", "delta_usd"))
        else:
            _name_bad_amount(here, value)


def load_results(path: Path, data: Any = None) -> Results:
    """Read a results file, or raise :class:`FileFormatError` naming the file, the field and the fix.

    Every call's numbers are checked (finite dollars >= 0, whole token counts), so that a
    broken file stops here with one line instead of a traceback later, and is never copied
    into a baseline. ``data`` is the file already parsed (by :func:`~pytest_llmcost.files.read_json`),
    so a caller that looked inside it does not parse it twice.
    """
    try:
        return _load_results(path, read_json(path, "results", fix=_FIX) if data is None else data)
    except _Bad as exc:
        raise FileFormatError(f"{path}: {exc}; {_FIX}") from None


def _load_results(path: Path, data: Any) -> Results:
    if not isinstance(data, dict) or "tests" not in data:
        raise FileFormatError(
            f"{path}: not an llm-cost results file (no 'tests'); pass the file `pytest --llm-cost` wrote"
        )
    version = data.get("format")
    if isinstance(version, bool) or version not in READABLE_FORMATS:
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
    gate = data.get("gate") or {}
    if not isinstance(gate, dict):
        raise _Bad("gate", f"must be an object, got {gate!r}")
    if "noise_floor" in gate:
        _amount("gate.noise_floor", gate["noise_floor"])
    try:
        rules = Rules.from_json(gate)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise FileFormatError(f"{path}: 'gate' is malformed: {exc}") from None
    for nodeid, entry in raw_tests.items():
        if not isinstance(entry, dict):
            raise FileFormatError(f"{path}: entry for {nodeid!r} is malformed: expected an object")
        try:
            calls = _check_cost("", entry)
            _check_amounts("verdict", entry.get("verdict"))
            if "runs_per_day" in entry:
                _whole("runs_per_day", entry["runs_per_day"])
        except _Bad as exc:
            raise FileFormatError(f"{path}: entry for {nodeid!r} is malformed: {exc}; {_FIX}") from None
        try:
            tests[nodeid] = TestCost.from_calls(nodeid, calls)
            own = entry.get("allowed_delta")
            allowance = parse_allowance(own) if isinstance(own, str) else None
            kind = str(entry.get("kind", "test"))
            if isinstance(entry.get("verdict"), dict):
                verdicts[nodeid] = Verdict.from_json(nodeid, entry["verdict"], kind=kind)
            elif isinstance(entry.get("status"), str):  # format 1: the failing status only
                status = Status(entry["status"])
                finding = (status, f"{status.value.replace('_', ' ')} (as judged by the run)")
                verdicts[nodeid] = Verdict(nodeid, status, fails=True, findings=(finding,), allowance=allowance)
            elif allowance is not None:  # format 1: a test's own allowed delta, kept for a new comparison
                verdicts[nodeid] = Verdict(nodeid, Status.OK, allowance=allowance)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise FileFormatError(f"{path}: entry for {nodeid!r} is malformed: {exc}") from None
        outcome = entry.get("outcome", "passed")
        if outcome not in OUTCOMES:
            raise FileFormatError(f"{path}: entry for {nodeid!r} has unknown outcome {outcome!r}")
        outcomes[nodeid] = outcome
        if "runs_per_day" in entry:
            runs[nodeid] = entry["runs_per_day"]
    unattributed = []
    raw_lost = data.get("unattributed") or []
    if not isinstance(raw_lost, list) or not all(isinstance(lost, dict) for lost in raw_lost):
        raise _Bad("unattributed", f"must be a list of calls by the test that started them, got {raw_lost!r}")
    for index, lost in enumerate(raw_lost):
        calls = _check_cost(f"unattributed[{index}].", lost)
        unattributed.append(TestCost.from_calls(str(lost.get("started_by", "")), calls))
    rate_card = data.get("rate_card") or {}
    collection = data.get("collection") or {}
    collected = None
    if isinstance(collection, dict) and collection.get("complete"):
        listed = collection.get("tests", [])
        if not isinstance(listed, list) or not all(isinstance(nodeid, str) for nodeid in listed):
            raise _Bad("collection.tests", f"must be a list of test ids, got {listed!r}")
        collected = tuple(listed)
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


class MergeConflict(ValueError):
    """Shards that cannot be merged (one test in two, another rate card or gate); the message names both files."""


def _rules_text(rules: Rules) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(rules.to_json().items()))


def merge_results(paths: Sequence[Path], output: Path) -> int:
    """Merge the results files of a sharded run into ``output``; return the number of entries.

    Shards are read one at a time (each checked whole, as :func:`load_results` does) and each
    entry is kept as the one line it is written as, never as objects: memory grows with the
    merged file's size, not with the calls it holds. Raises :class:`MergeConflict` (and writes
    nothing) when a test is in two shards, or the shards were priced or judged differently.
    """
    from .pricing import rate_card_label

    lines: dict[str, RawJSON] = {}
    origin: dict[str, Path] = {}
    unattributed: list[TestCost] = []
    new: set[str] = set()
    stale: set[str] | None = None
    collected: set[str] | None = set()
    first: Results | None = None
    first_path: Path | None = None
    attempts = calls = estimated = unpriced = 0
    usd = Decimal(0)
    tokens: list[Tokens] = []
    for path in paths:
        data = read_json(path, "results", fix=_FIX)
        results = load_results(path, data)
        if first is None:
            first, first_path = results, path
        elif dict(results.rate_card) != dict(first.rate_card):
            raise MergeConflict(
                f"{path} was priced by {rate_card_label(results.rate_card)}, {first_path} by "
                f"{rate_card_label(first.rate_card)}; merge the results of one run"
            )
        elif results.rules.to_json() != first.rules.to_json():
            raise MergeConflict(
                f"{path} was judged with {_rules_text(results.rules)}, {first_path} with {_rules_text(first.rules)}; "
                "run every shard with the same llm-cost options"
            )
        current = data.get("format") == RESULTS_FORMAT
        for nodeid, test in results.tests.items():
            if nodeid in lines:
                if results.kind(nodeid) == "fixture":  # a wide fixture set up in two shards: one entry
                    continue
                raise MergeConflict(
                    f"{nodeid} is in both {origin[nodeid]} and {path}: a test must run in one shard only"
                )
            # A current file's entry is written again as it is; an older one's as this version writes it.
            lines[nodeid] = encode_compact(data["tests"][nodeid] if current else results._test_json(nodeid, test))
            origin[nodeid] = path
            attempts, calls = attempts + test.attempts, calls + test.calls
            estimated, unpriced = estimated + test.estimated, unpriced + test.unpriced
            usd += test.usd
            tokens.append(test.tokens)
        unattributed += results.unattributed
        new |= set(results.run.get("new", ()))
        shard_stale = set(results.run.get("stale", ()))
        stale = shard_stale if stale is None else stale & shard_stale
        collected = None if results.collected is None or collected is None else collected | set(results.collected)
        del data, results
    if first is None:
        raise MergeConflict("no results files to merge")
    head = Results(
        rate_card=first.rate_card,
        collected=None if collected is None else tuple(sorted(collected)),
        rules=first.rules,
        run={**first.run, "new": sorted(new), "stale": sorted(stale or ())},
        unattributed=tuple(unattributed),
    ).to_json()
    head["summary"] = {
        "attempts": attempts,
        "calls": calls,
        "estimated": estimated,
        "tests": len(lines),
        "tokens": Tokens.sum(tokens).to_json(),
        "unpriced": unpriced,
        "usd": format_usd(usd),
    }
    head["tests"] = {nodeid: lines[nodeid] for nodeid in sorted(lines)}
    write_atomic(output, dump_json_lines(head, lines=("tests",)))
    return len(lines)
