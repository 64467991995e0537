"""The results file: what one run metered, per test and per wide fixture, and how the gate judged it.

``.llm-cost/results.json`` is written by the pytest run (the xdist controller under xdist)
and read by the CLI (``llm-cost report``, ``update-baseline``, ``diff``, ``merge``). It carries
every verdict and the rules they were judged by, so a report made later renders the run's own
judgement instead of judging again.

Format 3 writes one test per line without default values and without what the reader derives
from the rest of the line (see "format 3" below); :func:`load_results` checks every line with the
file, and builds a test's calls and verdict only when they are first read. Formats 1 and 2 are
still read.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from itertools import zip_longest
from pathlib import Path
from typing import Any

from .files import FileFormatError, RawJSON, dump_json_lines, encode_compact, read_json, write_atomic
from .fmt import format_usd
from .gate.allowance import parse_allowance
from .gate.baseline import Book, Entry, book_of, books_of, entry_of, price_book
from .gate.compare import StepDelta
from .gate.explain import Cause, Profile, cause_text
from .gate.judge import Rules, RunVerdict, Status, Verdict, regression_line, summarize
from .pricing import RateCard
from .usage import TOKEN_KINDS, Call, StepCost, TestCost, Tokens, parse_money

__all__ = ["OUTCOMES", "RESULTS_FORMAT", "MergeConflict", "Results", "load_results", "merge_results"]

RESULTS_FORMAT = 3
READABLE_FORMATS = (1, 2, 3)


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
            "token_kinds": list(TOKEN_KINDS),
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
        """One test's line (format 3): its totals, its calls and its verdict, without the
        default values and without what the reader derives from the rest of the line."""
        known = self.raw.get(nodeid)
        data = pack_cost(known if known is not None else test.to_json())
        outcome = self.outcomes.get(nodeid, "passed")
        if outcome != "passed":
            data["outcome"] = outcome
        verdict = self.verdicts.get(nodeid)
        if verdict is not None:
            # The status and the test's own allowance stay where format 2 kept them, beside the usage.
            data["verdict"] = _pack_verdict(verdict, test, str(self.rules.tolerance))
            data["status"] = data["verdict"].pop("status")
            if "allowed_delta" in data["verdict"]:
                data["allowed_delta"] = data["verdict"].pop("allowed_delta")
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


# -- format 3: what a test's line holds ----------------------------------------------------------
#
# A call's token counts are a vector in ``token_kinds`` order, trailing zeros left out
# (``[1200, 0, 0, 80]``); the test's own totals stay an object of the five kinds.
# A call leaves out its default values (``api`` "", ``estimated``/``unpriced`` false, no step or
# model), its ``seq`` when it is its index in the list, its ``interaction`` when it equals its
# ``seq`` (null when there is none) and its ``cassette`` when the test names one for all its calls.
# A verdict's comparison leaves out ``now_usd`` and ``now_tokens`` when they are the test's (or the
# step's) own totals, ``base_usd`` and ``base_tokens`` when they equal the ``now`` ones, ``allowed``
# when true, the allowance when it is the run's tolerance; its causes and findings are arrays.
# Keys it does not know are copied as they are, both ways.

#: A call's fields that are left out when they hold these values.
_CALL_DEFAULTS: dict[str, Any] = {
    "api": "",
    "estimated": False,
    "unpriced": False,
    "billed": True,
    "requests": 0,
    "step": None,
    "model": None,
    "part": None,
    "note": None,
    "service_tier": None,
}
_COUNTS = ("attempts", "estimated", "requests", "unpriced")


def _vector(tokens: Mapping[str, Any]) -> list[Any]:
    vector = [tokens.get(kind, 0) for kind in TOKEN_KINDS]
    while vector and vector[-1] == 0:
        vector.pop()
    return vector


def _kinds(where: str, vector: Any) -> dict[str, Any]:
    """A token vector back to its object of kinds (checked by ``Tokens.from_json`` after)."""
    if not isinstance(vector, list) or len(vector) > len(TOKEN_KINDS):
        raise _Bad(where, f"must list up to {len(TOKEN_KINDS)} token counts ({', '.join(TOKEN_KINDS)}), got {vector!r}")
    return dict(zip(TOKEN_KINDS, vector, strict=False))


def _total_tokens(vector: list[Any]) -> Any:
    """Input plus output (``Tokens.total``) of a vector."""
    return (vector[0] if vector else 0) + (vector[3] if len(vector) > 3 else 0)


def pack_cost(cost: Mapping[str, Any]) -> dict[str, Any]:
    """A test's ``TestCost.to_json()`` as a format 3 line holds it (without its outcome and verdict)."""
    records = cost.get("records", ())
    cassettes = {record.get("cassette") for record in records}
    hoisted = next(iter(cassettes)) if len(cassettes) == 1 else None
    data: dict[str, Any] = {
        "calls": cost["calls"],
        "records": [_pack_call(record, index, hoisted) for index, record in enumerate(records)],
        "tokens": cost["tokens"],  # the test's own totals as an object, as a listing (or jq) reads them
        "usd": cost["usd"],
    }
    if hoisted is not None:
        data["cassette"] = hoisted
    # The counts a test is listed with, so that listing it reads none of its calls.
    seqs: dict[str, set[Any]] = {"attempts": set(), "estimated": set(), "unpriced": set()}
    requests = 0
    for record in records:
        if record.get("billed") is False:
            seqs["attempts"].add(record["seq"])
        if record.get("estimated"):
            seqs["estimated"].add(record["seq"])
        if record.get("unpriced"):
            seqs["unpriced"].add(record["seq"])
        requests += record.get("requests", 0)
    for name, found in seqs.items():
        if found:
            data[name] = len(found)
    if requests:
        data["requests"] = requests
    return data


def _pack_call(record: Mapping[str, Any], index: int, hoisted: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    seq = record.get("seq")
    for key, value in record.items():
        if key in _CALL_DEFAULTS:
            default = _CALL_DEFAULTS[key]
            if value is default or (value == default and type(value) is type(default)):
                continue
        elif key == "seq":
            if value == index:
                continue
        elif key == "interaction":
            if value == seq and value is not None:
                continue
        elif key == "cassette":
            if hoisted is not None or value is None:
                continue
        elif key == "tokens":
            value = _vector(value)
            if not value:
                continue
        data[key] = value
    return data


def _unpack_call(where: str, raw: Mapping[str, Any], index: int, hoisted: str | None) -> dict[str, Any]:
    """A format 3 call as format 2 wrote it (``where`` names it if its tokens are not a vector)."""
    data = dict(raw)
    if "tokens" in data:
        data["tokens"] = _kinds(f"{where}.tokens", data["tokens"])
    seq = data.setdefault("seq", index)
    data.setdefault("interaction", seq)
    if hoisted is not None:
        data.setdefault("cassette", hoisted)
    return data


def _now_of(path: str | None, cost: TestCost) -> tuple[str, int, int, Tokens] | None:
    """What a comparison's delta for ``path`` (None: the test) derives from the test's own totals:
    its ``now_usd``, ``now_tokens``, and the calls and tokens of its ``now`` profile."""
    if path is None:
        return format_usd(cost.usd), cost.tokens.total, cost.calls, cost.tokens
    step = cost.steps.get(path)
    if step is None:
        return None
    return format_usd(step.usd), step.tokens.total, step.calls, step.tokens


def _pack_delta(delta: StepDelta, data: Mapping[str, Any], cost: TestCost) -> Any:
    """One delta of a comparison as a format 3 line holds it: its path alone when nothing moved."""
    derived = _now_of(delta.path, cost)
    # What the test's own calls consumed in this step: the ``now`` side, unless a known entry lent it segments.
    whole = Profile.of(_book(cost, delta.path)).to_json() if isinstance(data.get("now"), dict) else None
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "allowed" and value is True:
            continue
        if derived is not None and (
            (key == "now_usd" and value == derived[0]) or (key == "now_tokens" and value == derived[1])
        ):
            continue
        if key == "base_tokens" and delta.base is not None and value == delta.base.tokens.total:
            continue
        if key == "now" and value == whole:
            value = {}
        elif key in ("base", "now") and isinstance(value, dict):
            value = {**value, "tokens": _vector(value["tokens"])}
            if key == "base" and delta.now is not None and value.get("models") == list(delta.now.models):
                del value["models"]
            if (
                key == "now"
                and derived is not None
                and (value["calls"], value["tokens"])
                == (
                    derived[2],
                    _vector(derived[3].to_json()),
                )
            ):
                del value["calls"], value["tokens"]
        elif key == "causes" and delta.base is not None and delta.now is not None:
            value = [
                _pack_cause(cause, item, delta.base, delta.now) for cause, item in zip(delta.causes, value, strict=True)
            ]
        out[key] = value
    if (data.get("base_usd"), data.get("base_tokens")) == (data.get("now_usd"), data.get("now_tokens")):
        out.pop("base_usd", None)
        out.pop("base_tokens", None)
    if set(out) == {"path"} and isinstance(delta.path, str):
        return delta.path
    return out


def _book(cost: TestCost, path: str | None) -> Book:
    """The test's (path None) or one step's usage, every step's built in one pass over the calls
    and kept with the cost: a comparison asks for each of its steps in turn."""
    books = cost.__dict__.get("_books")
    if books is None:
        books = cost.__dict__["_books"] = books_of(cost)
    whole, by_step = books
    if path is None:
        return whole
    found = by_step.get(path)
    return found if found is not None else book_of(cost, path)


def _pack_cause(cause: Cause, data: Mapping[str, Any], base: Profile, now: Profile) -> Any:
    if set(data) != {"delta_usd", "kind", "text"}:
        return data
    if cause_text(cause.kind, base, now) == cause.text:
        return [data["kind"], data["delta_usd"]]
    return [data["kind"], data["delta_usd"], data["text"]]


def _pack_verdict(verdict: Verdict, cost: TestCost, tolerance: str) -> dict[str, Any]:
    data = verdict.to_json()
    comparison = verdict.comparison
    if isinstance(data.get("findings"), list):
        regressions = list(comparison.regressions) if comparison is not None else []
        findings: list[Any] = []
        for (status, text), item in zip(verdict.findings, data["findings"], strict=True):
            if set(item) != {"status", "text"}:
                findings.append(item)
                continue
            said = (
                regression_line(regressions.pop(0), comparison.allowance)
                if status is Status.REGRESSED and comparison is not None and regressions
                else None
            )
            if said == text:
                findings.append([item["status"]])
                continue
            findings.append([item["status"], item["text"]])
        data["findings"] = findings
    if comparison is not None and isinstance(data.get("comparison"), dict):
        packed = dict(data["comparison"])
        packed["steps"] = [
            _pack_delta(delta, item, cost) for delta, item in zip(comparison.steps, packed["steps"], strict=True)
        ]
        packed["total"] = _pack_delta(comparison.total, packed["total"], cost)
        if packed.get("allowance") == tolerance:
            del packed["allowance"]
        if packed.get("drift_usd") == "0":
            del packed["drift_usd"]
        if packed.get("improved") is False:
            del packed["improved"]
        data["comparison"] = packed
    return data


def _unpack_profile(where: str, profile: Any, derived: tuple[str, int, int, Tokens] | None) -> Any:
    if not isinstance(profile, dict):
        return profile
    data = dict(profile)
    if "tokens" not in data and "calls" not in data and derived is not None:
        data["calls"], data["tokens"] = derived[2], derived[3].to_json()
    elif "tokens" in data and not isinstance(data["tokens"], dict):
        data["tokens"] = _kinds(f"{where}.tokens", data["tokens"])
    return data


def _unpack_delta(where: str, delta: Any, cost: TestCost) -> dict[str, Any]:
    if isinstance(delta, str):
        delta = {"path": delta}
    if not isinstance(delta, dict):
        raise _Bad(where, f"must be an object, got {delta!r}")
    data = dict(delta)
    data.setdefault("allowed", True)
    path = data.get("path")
    derived = _now_of(path, cost) if path is None or isinstance(path, str) else None
    if "now_usd" not in data or "now_tokens" not in data:
        if derived is None:
            raise _Bad(where, f"has no 'now_usd', and the test has no step {path!r} to take it from")
        data.setdefault("now_usd", derived[0])
        data.setdefault("now_tokens", derived[1])
    if data.get("now") == {}:
        data["now"] = Profile.of(_book(cost, path)).to_json()
    for key in ("now", "base"):
        if key in data:
            data[key] = _unpack_profile(f"{where}.{key}", data[key], derived if key == "now" else None)
    if isinstance(data.get("base"), dict) and "models" not in data["base"] and isinstance(data.get("now"), dict):
        data["base"]["models"] = data["now"].get("models", [])
    if "base_tokens" not in data and isinstance(data.get("base"), dict) and "base_usd" in data:
        data["base_tokens"] = Tokens.from_json(data["base"]["tokens"]).total
    data.setdefault("base_usd", data["now_usd"])
    data.setdefault("base_tokens", data["now_tokens"])
    causes = data.get("causes")
    if isinstance(causes, list):
        profiles: list[Profile] = []
        if isinstance(data.get("base"), dict) and isinstance(data.get("now"), dict):
            profiles = [Profile.from_json(data["base"]), Profile.from_json(data["now"])]
        found = []
        for number, cause in enumerate(causes):
            if isinstance(cause, list) and len(cause) == 2 and profiles:
                text = cause_text(str(cause[0]), profiles[0], profiles[1])
                if text is None:
                    raise _Bad(f"{where}.causes[{number}]", f"has no text, and {cause[0]!r} is no kind of cause")
                cause = [*cause, text]
            if isinstance(cause, list) and len(cause) == 3:
                cause = {"kind": cause[0], "delta_usd": cause[1], "text": cause[2]}
            found.append(cause)
        data["causes"] = found
    return data


def _read_verdict(nodeid: str, line: Mapping[str, Any], cost: TestCost, tolerance: str) -> Verdict:
    """A format 3 verdict, read back to the object that was written."""
    data = dict(line["verdict"])
    data.setdefault("status", line.get("status"))
    if "allowed_delta" in line:
        data.setdefault("allowed_delta", line["allowed_delta"])
    findings = data.get("findings")
    said: list[bool] = []
    if isinstance(findings, list):
        said = [not (isinstance(item, list) and len(item) == 1) for item in findings]
        data["findings"] = [
            {"status": item[0], "text": item[1] if len(item) == 2 else ""} if isinstance(item, list) else item
            for item in findings
        ]
    comparison = data.get("comparison")
    if isinstance(comparison, dict):
        unpacked = dict(comparison)
        unpacked.setdefault("allowance", tolerance)
        unpacked.setdefault("drift_usd", "0")
        unpacked.setdefault("improved", False)
        steps = comparison.get("steps", [])
        if not isinstance(steps, list):
            raise _Bad("verdict.comparison.steps", f"must be a list, got {steps!r}")
        unpacked["steps"] = [
            _unpack_delta(f"verdict.comparison.steps[{index}]", delta, cost) for index, delta in enumerate(steps)
        ]
        unpacked["total"] = _unpack_delta("verdict.comparison.total", comparison.get("total"), cost)
        data["comparison"] = unpacked
    verdict = Verdict.from_json(nodeid, data, kind=str(line.get("kind", "test")))
    if all(said):
        return verdict
    if verdict.comparison is None:
        raise _Bad("verdict.findings", "a finding has no text, and the verdict no comparison to say it from")
    regressions = list(verdict.comparison.regressions)
    restored = []
    for (status, text), known in zip(verdict.findings, said, strict=True):
        if status is Status.REGRESSED and regressions:
            line_ = regression_line(regressions.pop(0), verdict.comparison.allowance)
            text = text if known else line_
        elif not known:
            raise _Bad("verdict.findings", f"a {status.value} finding has no text")
        restored.append((status, text))
    return dataclasses.replace(verdict, findings=tuple(restored))


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
    verdicts: Mapping[str, Verdict] = {}
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
    if version == 3:
        if data.get("token_kinds", list(TOKEN_KINDS)) != list(TOKEN_KINDS):
            raise _Bad("token_kinds", f"must be {list(TOKEN_KINDS)!r}, got {data.get('token_kinds')!r}")
        tests, outcomes, verdicts, runs = _read_lines(path, raw_tests, str(rules.tolerance))
    else:
        verdicts = _read_old_lines(path, raw_tests, tests, outcomes, runs)
    return _finish(data, tests, outcomes, verdicts, runs, rules)


def _read_old_lines(
    path: Path, raw_tests: dict[str, Any], tests: dict[str, TestCost], outcomes: dict[str, str], runs: dict[str, int]
) -> dict[str, Verdict]:
    """The tests of a format 1 or 2 file: every call and verdict read at once."""
    verdicts: dict[str, Verdict] = {}
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
    return verdicts


def _finish(
    data: dict[str, Any],
    tests: Mapping[str, TestCost],
    outcomes: dict[str, str],
    verdicts: Mapping[str, Verdict],
    runs: dict[str, int],
    rules: Rules,
) -> Results:
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


#: A dollar amount as ``format_usd`` writes it; anything else is checked (and named) the slow way.
_AMOUNT = re.compile(r"\d+(?:\.\d+)?")
_SIGNED = re.compile(r"-?\d+(?:\.\d+)?")
#: A call with only these fields (most calls) is checked without building anything.
_PLAIN_CALL = frozenset(("model", "provider", "seq", "step", "tokens", "usd"))


def _money(where: str, value: Any) -> Decimal:
    if type(value) is str and _AMOUNT.fullmatch(value):
        return Decimal(value)
    try:
        return parse_money(value)
    except ValueError as exc:
        raise _Bad(where, str(exc)) from None


_INT = frozenset((int,))


def _check_calls(records: Any, hoisted: Any) -> tuple[Decimal, Tokens, int] | None:
    """Every call of a format 3 line is well formed: the usual ones by their types, at once; any
    other is read whole, and the first wrong field named. When every call is a usual one, what
    they add up to (dollars, tokens, calls), for the line's totals to be checked against."""
    if type(records) is not list:
        raise _Bad("records", f"must be a list of calls, got {records!r}")
    if hoisted is not None and type(hoisted) is not str:
        raise _Bad("cassette", f"must be text, got {hoisted!r}")
    amounts: list[str] = []
    vectors: list[list[int]] = []
    seqs: set[int] = set()
    plain = True
    for index, raw in enumerate(records):
        if (
            type(raw) is dict
            and raw.keys() <= _PLAIN_CALL
            and type(raw.get("provider")) is str
            and type(usd := raw.get("usd")) is str
            and _AMOUNT.fullmatch(usd)
            and type(raw.get("model", "")) is str
            and type(raw.get("step", "")) is str
            and type(seq := raw.get("seq", index)) is int
            and seq >= 0
            and type(vector := raw.get("tokens", [])) is list
            and len(vector) <= len(TOKEN_KINDS)
            and set(map(type, vector)) <= _INT  # whole counts (``bool`` is none), checked in C
            and min(vector, default=0) >= 0
        ):
            amounts.append(usd)
            vectors.append(vector)
            seqs.add(seq)
            continue
        where = f"records[{index}]"
        _check_record(where, _unpack_call(where, raw, index, hoisted) if type(raw) is dict else raw)
        plain = False
    if not plain:
        return None
    tokens = Tokens(*(sum(counts) for counts in zip_longest(*vectors, fillvalue=0)))
    return sum(map(Decimal, amounts), Decimal(0)), tokens, len(seqs)


def _check_causes(verdict: Mapping[str, Any]) -> None:
    """The dollars of a format 3 verdict's causes (arrays: kind, change, text), which may be negative."""
    comparison = verdict.get("comparison")
    if not isinstance(comparison, dict):
        return
    steps = comparison.get("steps")
    deltas = [("total", comparison.get("total"))]
    if isinstance(steps, list):
        deltas += [(f"steps[{index}]", delta) for index, delta in enumerate(steps)]
    for name, delta in deltas:
        causes = delta.get("causes") if isinstance(delta, dict) else None
        for number, cause in enumerate(causes if isinstance(causes, list) else ()):
            amount = cause[1] if isinstance(cause, list) and len(cause) == 3 else None
            if amount is not None and not (type(amount) is str and _SIGNED.fullmatch(amount)):
                _amount(f"verdict.comparison.{name}.causes[{number}][1]", cause[1], signed=True)


_STATUSES = frozenset(status.value for status in Status)


@functools.lru_cache(maxsize=256)
def _allowance_ok(text: Any) -> bool:
    if type(text) is not str:
        return False
    try:
        parse_allowance(text)
    except ValueError:
        return False
    return True


_VERDICT_KEYS = frozenset(("allowed_delta", "comparison", "fails", "findings", "status", "warnings"))
_COMPARISON_KEYS = frozenset(("allowance", "drift_usd", "improved", "steps", "total"))
_DELTA_KEYS = frozenset(
    ("allowed", "base", "base_tokens", "base_usd", "causes", "now", "now_tokens", "now_usd", "path")
)


def _plain_verdict(verdict: dict[str, Any], steps_run: set[Any]) -> bool:
    """Whether a format 3 verdict has the shape this version writes, every amount, count, status
    and step in it valid, checked without building it (a verdict per test: this runs for every
    line of the file). ``steps_run`` are the step paths of the test's calls, which a delta that
    leaves out its ``now`` side takes it from. A verdict of any other shape is read whole with the
    file, so that a bad one is named there, never when a report first reads it."""
    if not verdict.keys() <= _VERDICT_KEYS:
        return False
    if type(verdict.get("fails", False)) is not bool:
        return False
    for item in verdict.get("findings", ()):
        if type(item) is not list or not 1 <= len(item) <= 2 or item[0] not in _STATUSES:
            return False
        if len(item) == 2 and type(item[1]) is not str:
            return False
    comparison = verdict.get("comparison")
    if comparison is None:
        return True
    if type(comparison) is not dict or not comparison.keys() <= _COMPARISON_KEYS:
        return False
    drift = comparison.get("drift_usd", "0")
    steps = comparison.get("steps", [])
    if type(drift) is not str or not _SIGNED.fullmatch(drift) or type(steps) is not list:
        return False
    if type(comparison.get("improved", False)) is not bool or "total" not in comparison:
        return False
    for delta in (comparison["total"], *steps):
        if type(delta) is str:
            if delta not in steps_run:
                return False
            continue
        if type(delta) is not dict or not delta.keys() <= _DELTA_KEYS:
            return False
        path = delta.get("path")
        if path is not None and (type(path) is not str or ("now_usd" not in delta and path not in steps_run)):
            return False
        if type(delta.get("allowed", True)) is not bool:
            return False
        for key in ("base_tokens", "now_tokens"):
            if type(delta.get(key, 0)) is not int:
                return False
        for key in ("base_usd", "now_usd"):
            amount = delta.get(key)
            if amount is not None and not (type(amount) is str and _AMOUNT.fullmatch(amount)):
                return False
        for key in ("base", "now"):
            if type(delta.get(key, {})) is not dict:
                return False
        for cause in delta.get("causes", ()):
            if type(cause) is not list or len(cause) not in (2, 3) or type(cause[0]) is not str:
                return False
            if cause[1] is not None and not (type(cause[1]) is str and _SIGNED.fullmatch(cause[1])):
                return False
    return True


def _plain_call(raw: dict[str, Any], index: int, hoisted: str | None) -> Call:
    """A call with only the usual fields, which :func:`_check_calls` checked with the file."""
    seq = raw.get("seq", index)
    return Call(
        seq,
        raw.get("step"),
        raw["provider"],
        raw.get("model"),
        Tokens(*raw.get("tokens", ())),
        Decimal(raw["usd"]),
        cassette=hoisted,
        interaction=seq,
    )


class _FileCost(TestCost):
    """A test's cost as a format 3 line holds it: its totals read with the file, its calls (and
    the steps summed from them) only when first read: a report lists most tests by their totals."""

    __test__ = False

    @cached_property
    def records(self) -> tuple[Call, ...]:
        line: dict[str, Any] = self.__dict__["_line"]
        hoisted = line.get("cassette")
        try:
            return tuple(
                _plain_call(raw, index, hoisted)
                if raw.keys() <= _PLAIN_CALL  # checked with the file: built as it is
                else _check_record(f"records[{index}]", _unpack_call(f"records[{index}]", raw, index, hoisted))
                for index, raw in enumerate(line.get("records", ()))
            )
        except _Bad as exc:
            raise FileFormatError(
                f"{self.__dict__['_path']}: entry for {self.nodeid!r} is malformed: {exc}; {_FIX}"
            ) from None

    @cached_property
    def steps(self) -> Mapping[str, StepCost]:
        return TestCost.from_calls(self.nodeid, self.records).steps

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TestCost):
            return NotImplemented
        return (self.nodeid, self.records, self.steps) == (other.nodeid, other.records, other.steps)

    __hash__ = TestCost.__hash__


def _line_cost(path: Path, nodeid: str, line: dict[str, Any]) -> TestCost:
    """A test's totals from its line, every field of it checked; its calls are read when asked for."""
    usd = _money("usd", line.get("usd"))
    raw_tokens = line.get("tokens", {})
    if type(raw_tokens) is not dict:
        raise _Bad("tokens", f"must map token kinds to counts, got {raw_tokens!r}")
    try:
        tokens = Tokens.from_json(raw_tokens)
    except ValueError as exc:
        raise _Bad("tokens", str(exc)) from None
    totals: dict[str, Any] = {"usd": usd, "tokens": tokens}
    for name in ("calls", *_COUNTS):
        value = line.get(name, 0)
        if type(value) is not int or value < 0:
            _whole(name, value)
        totals[name] = value
    records = line.get("records", [])
    cost = object.__new__(_FileCost)
    cost.__dict__.update(totals, nodeid=nodeid, _line=line, _path=path)
    sums = _check_calls(records, line.get("cassette"))
    if sums is not None:  # the usual calls, summed without building them
        found: dict[str, Any] = dict.fromkeys(_COUNTS, 0)
        found["usd"], found["tokens"], found["calls"] = sums
    else:
        whole = TestCost.from_calls(nodeid, cost.records)
        found = {name: getattr(whole, name) for name in ("usd", "tokens", "calls", *_COUNTS)}
    for name, value in found.items():
        if totals[name] != value:
            raise _Bad(name, f"is {line.get(name, 0)!r}, but the test's calls add up to {value!r}")
    return cost


class _Verdicts(Mapping[str, Verdict]):
    """The verdicts of a format 3 file, each read when first asked for (their amounts are checked with the file)."""

    def __init__(
        self,
        path: Path,
        lines: dict[str, dict[str, Any]],
        tests: Mapping[str, TestCost],
        tolerance: str,
        read: dict[str, Verdict],
    ) -> None:
        self._path, self._lines, self._tests, self._tolerance = path, lines, tests, tolerance
        self._read = read
        """Those read already: the verdicts of an unusual shape, read whole with the file."""

    def __getitem__(self, nodeid: str) -> Verdict:
        verdict = self._read.get(nodeid)
        if verdict is not None:
            return verdict
        line = self._lines[nodeid]
        try:
            verdict = _read_verdict(nodeid, line, self._tests[nodeid], self._tolerance)
        except _Bad as exc:
            raise FileFormatError(f"{self._path}: entry for {nodeid!r} is malformed: {exc}; {_FIX}") from None
        except Exception as exc:  # any corruption the checks with the file did not see
            raise FileFormatError(
                f"{self._path}: entry for {nodeid!r} is malformed: verdict: {exc!r}; {_FIX}"
            ) from None
        self._read[nodeid] = verdict
        return verdict

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def __contains__(self, nodeid: object) -> bool:
        return nodeid in self._lines


def _read_lines(
    path: Path, raw_tests: dict[str, Any], tolerance: str
) -> tuple[dict[str, TestCost], dict[str, str], Mapping[str, Verdict], dict[str, int]]:
    """The tests of a format 3 file: each line checked, its totals read; calls and verdicts when asked for."""
    tests: dict[str, TestCost] = {}
    outcomes: dict[str, str] = {}
    runs: dict[str, int] = {}
    judged: dict[str, dict[str, Any]] = {}
    read: dict[str, Verdict] = {}
    for nodeid, line in raw_tests.items():
        if type(line) is not dict:
            raise FileFormatError(f"{path}: entry for {nodeid!r} is malformed: expected an object")
        try:
            tests[nodeid] = _line_cost(path, nodeid, line)
            verdict = line.get("verdict")
            if verdict is not None:
                if type(verdict) is not dict:
                    raise _Bad("verdict", f"must be an object, got {verdict!r}")
                if line.get("status") not in _STATUSES:
                    raise _Bad("status", f"must be one of {', '.join(sorted(_STATUSES))}, got {line.get('status')!r}")
                if "allowed_delta" in line and not _allowance_ok(line["allowed_delta"]):
                    raise _Bad("allowed_delta", f"must be an allowance such as '10%', got {line['allowed_delta']!r}")
                steps_run = {record.get("step") for record in line.get("records", ())}
                if not _plain_verdict(verdict, steps_run):  # another shape: read whole now, a bad field named
                    _check_amounts("verdict", verdict)
                    _check_causes(verdict)
                    try:
                        read[nodeid] = _read_verdict(nodeid, line, tests[nodeid], tolerance)
                    except _Bad:
                        raise
                    except Exception as exc:  # any corruption of its shape
                        raise _Bad("verdict", f"cannot be read ({type(exc).__name__}: {exc})") from None
                judged[nodeid] = line
            if "runs_per_day" in line:
                _whole("runs_per_day", line["runs_per_day"])
                runs[nodeid] = line["runs_per_day"]
        except _Bad as exc:
            raise FileFormatError(f"{path}: entry for {nodeid!r} is malformed: {exc}; {_FIX}") from None
        outcome = line.get("outcome", "passed")
        if outcome not in OUTCOMES:
            raise FileFormatError(f"{path}: entry for {nodeid!r} has unknown outcome {outcome!r}")
        outcomes[nodeid] = outcome
    return tests, outcomes, _Verdicts(path, judged, tests, tolerance, read), runs


def has_calls(test: TestCost) -> bool:
    """Whether a test metered anything (read from its line when it has not been read whole)."""
    line = test.__dict__.get("_line") if "records" not in test.__dict__ else None
    return bool(line.get("records")) if line is not None else bool(test.records)


def unchanged_prices(one: TestCost, other: TestCost, card: RateCard) -> list[tuple[str | None, Decimal, int]] | None:
    """For ``llm-cost diff``: None when the two tests made different calls; else the dollars (at
    ``card``'s prices) and tokens of the test and of each of its steps, as ``diff_entries`` lists them.

    Priced as ``price_book`` prices ``entry_of(one)``: call by call, a model with a call the card
    cannot price at the dollars it was written with. The usual calls are priced straight from the
    line; a test with any other call is read whole.
    """
    if not same_calls(one, other):
        return None
    line = one.__dict__.get("_line")
    records = line.get("records", []) if line is not None and "records" not in one.__dict__ else None
    if records is None or not all(record.keys() <= _PLAIN_CALL for record in records):
        entry = entry_of(one)
        books = [(None, entry.total), *sorted(entry.steps.items())]
        return [(path, price_book(book, card)[0], book.tokens.total) for path, book in books]
    # Per model, for the test and each step: the priced dollars (None once a call has no price)
    # and the calls' written dollars, summed only for a model the card cannot price.
    lines: dict[str | None, dict[tuple[str, str], list[Any]]] = {None: {}}
    tokens: dict[str | None, int] = {None: 0}
    for record in records:
        key = (record["provider"], record.get("model") or "?")
        vector = record.get("tokens", [])
        usd = card.price(key[0], key[1], Tokens(*vector)).usd
        used = _total_tokens(vector)
        step = record.get("step")
        for path in (None, step) if step is not None else (None,):
            sums = lines.setdefault(path, {}).setdefault(key, [Decimal(0), []])
            sums[0] = None if usd is None or sums[0] is None else sums[0] + usd
            sums[1].append(record["usd"])
            tokens[path] = tokens.get(path, 0) + used
    found: list[tuple[str | None, Decimal, int]] = []
    for path in [None, *sorted(path for path in lines if path is not None)]:
        usd = Decimal(0)
        for priced, written in lines[path].values():
            usd += priced if priced is not None else sum(map(Decimal, written), Decimal(0))
        found.append((path, usd, tokens[path]))
    return found


def same_calls(one: TestCost, other: TestCost) -> bool:
    """Whether two tests made the same calls: compared as their lines hold them when both were read
    from format 3 files (so neither is read whole), else call by call."""
    lines = one.__dict__.get("_line"), other.__dict__.get("_line")
    if lines[0] is not None and lines[1] is not None:
        return bool(lines[0].get("records") == lines[1].get("records"))
    return one.records == other.records


class _Entries(Mapping[str, Entry]):
    """The tests that metered something, as baseline entries, each built when first asked for."""

    def __init__(self, tests: Mapping[str, TestCost]) -> None:
        self._tests = {nodeid: test for nodeid, test in tests.items() if has_calls(test)}
        self._built: dict[str, Entry] = {}

    def __getitem__(self, nodeid: str) -> Entry:
        entry = self._built.get(nodeid)
        if entry is None:
            entry = self._built[nodeid] = entry_of(self._tests[nodeid])
        return entry

    def __iter__(self) -> Iterator[str]:
        return iter(self._tests)

    def __len__(self) -> int:
        return len(self._tests)

    def __contains__(self, nodeid: object) -> bool:
        return nodeid in self._tests


def entries(results: Results) -> Mapping[str, Entry]:
    """The usage of every test that metered something, as baseline entries (``llm-cost diff``)."""
    return _Entries(results.tests)


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
                kind = data["tests"][nodeid].get("kind", "test") if current else results.kind(nodeid)
                if kind == "fixture":  # a wide fixture set up in two shards: one entry
                    continue
                raise MergeConflict(
                    f"{nodeid} is in both {origin[nodeid]} and {path}: a test must run in one shard only"
                )
            # A current file's line is copied as it is (checked, never read into objects); an older
            # one's is written as this version writes it.
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
