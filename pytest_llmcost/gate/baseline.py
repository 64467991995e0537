"""The committed cost baseline: load, compare, update. Pure functions over plain data.

``llm-cost-baseline.json`` holds, for each test, the token usage per model (and per step),
the call counts, and the dollars as priced when it was written (for reading only). A
comparison prices the baseline's usage and the current usage with one rate card, so a
price-list change never fails a test; it is reported apart, as price drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..files import FileFormatError, dump_json, read_json, write_atomic
from ..pricing import RateCard
from ..usage import TestCost, Tokens, format_usd

__all__ = [
    "BASELINE_FORMAT",
    "Allowance",
    "Baseline",
    "Book",
    "Comparison",
    "DiffRow",
    "Entry",
    "Line",
    "StepDelta",
    "UpdateSummary",
    "book_of",
    "compare",
    "diff_entries",
    "entry_of",
    "load_baseline",
    "parse_allowance",
    "price_book",
    "update",
]

BASELINE_FORMAT = 1
#: The provider name under which per-request fees (a web-search API) are kept.
REQUEST_FEES = "request"


# -- what a baseline holds ---------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """The usage of one model (or one per-request fee) within a test or a step."""

    calls: int = 0
    tokens: Tokens = field(default_factory=Tokens)
    requests: int = 0
    usd: Decimal = Decimal(0)
    """Dollars as priced when the baseline was written; comparisons re-price ``tokens``."""

    def __add__(self, other: Line) -> Line:
        return Line(
            self.calls + other.calls, self.tokens + other.tokens, self.requests + other.requests, self.usd + other.usd
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"calls": self.calls, "tokens": self.tokens.to_json(), "usd": format_usd(self.usd)}
        if self.requests:
            data["requests"] = self.requests
        return data


@dataclass(frozen=True)
class Book:
    """Usage per ``(provider, model)``, and the number of LLM interactions behind it."""

    models: Mapping[tuple[str, str], Line] = field(default_factory=dict)
    calls: int = 0

    @property
    def usd(self) -> Decimal:
        return sum((line.usd for line in self.models.values()), Decimal(0))

    @property
    def tokens(self) -> Tokens:
        return Tokens.sum(line.tokens for line in self.models.values())

    def to_json(self) -> dict[str, Any]:
        models: dict[str, dict[str, Any]] = {}
        for (provider, model), line in sorted(self.models.items()):
            models.setdefault(provider, {})[model] = line.to_json()
        return {"calls": self.calls, "models": models, "usd": format_usd(self.usd)}


@dataclass(frozen=True)
class Entry:
    """One test in the baseline: its total and its named steps."""

    total: Book
    steps: Mapping[str, Book] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = self.total.to_json()
        data["steps"] = {path: book.to_json() for path, book in sorted(self.steps.items())}
        return data


@dataclass(frozen=True)
class Baseline:
    path: Path | None = None
    entries: Mapping[str, Entry] = field(default_factory=dict)
    exists: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "format": BASELINE_FORMAT,
            "tests": {nodeid: entry.to_json() for nodeid, entry in sorted(self.entries.items())},
        }

    def write(self, path: Path) -> None:
        write_atomic(path, dump_json(self.to_json()))


def _bad(path: Path, where: str, problem: str) -> FileFormatError:
    return FileFormatError(
        f"{path}: {where}: {problem}. Fix the file by hand, or restore it from version control "
        "and run `pytest --llm-cost --llm-cost-update` to write it again"
    )


def _book_from_json(path: Path, where: str, data: Any) -> Book:
    if not isinstance(data, dict):
        raise _bad(path, where, "expected an object")
    models: dict[tuple[str, str], Line] = {}
    raw_models = data.get("models", {})
    if not isinstance(raw_models, dict):
        raise _bad(path, where, "'models' must map providers to models")
    for provider, by_model in raw_models.items():
        if not isinstance(by_model, dict):
            raise _bad(path, f"{where}.models.{provider}", "expected an object of models")
        for model, raw in by_model.items():
            here = f"{where}.models.{provider}.{model}"
            if not isinstance(raw, dict):
                raise _bad(path, here, "expected an object")
            try:
                models[(provider, model)] = Line(
                    calls=_count(raw.get("calls", 0)),
                    tokens=Tokens.from_json(raw.get("tokens", {})),
                    requests=_count(raw.get("requests", 0)),
                    usd=Decimal(str(raw.get("usd", "0"))),
                )
            except (ValueError, InvalidOperation) as exc:
                raise _bad(path, here, str(exc) or "not a number") from None
    try:
        calls = _count(data.get("calls", 0))
    except ValueError as exc:
        raise _bad(path, where, str(exc)) from None
    return Book(models=models, calls=calls)


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"a count must be a whole number >= 0, got {value!r}")
    return value


def load_baseline(path: Path) -> Baseline:
    """Read the baseline; an absent file is an empty baseline. Anything unreadable raises
    :class:`FileFormatError` naming the file: such a file is never overwritten."""
    if not path.exists():
        return Baseline(path=path)
    data = read_json(path, "baseline")
    if not isinstance(data, dict) or "format" not in data:
        raise FileFormatError(
            f"{path}: not an llm-cost baseline (no 'format'). Move it away, or point --llm-cost-baseline elsewhere"
        )
    if data["format"] != BASELINE_FORMAT:
        raise FileFormatError(
            f"{path}: baseline format {data['format']!r} is not supported by this pytest-llmcost "
            f"(it reads format {BASELINE_FORMAT}); upgrade pytest-llmcost"
        )
    tests = data.get("tests", {})
    if not isinstance(tests, dict):
        raise _bad(path, "tests", "expected an object of test ids")
    entries: dict[str, Entry] = {}
    for nodeid, raw in tests.items():
        if not isinstance(raw, dict):
            raise _bad(path, nodeid, "expected an object")
        steps_raw = raw.get("steps", {})
        if not isinstance(steps_raw, dict):
            raise _bad(path, f"{nodeid}.steps", "expected an object of step paths")
        entries[nodeid] = Entry(
            total=_book_from_json(path, nodeid, raw),
            steps={step: _book_from_json(path, f"{nodeid}.steps.{step}", book) for step, book in steps_raw.items()},
        )
    return Baseline(path=path, entries=entries, exists=True)


# -- from metered calls to books -------------------------------------------------------------


def book_of(cost: TestCost, step: str | None = None, *, within: bool = False) -> Book:
    """The usage of a test (``step`` None), of one step path, or (``within``) of a step and its sub-steps."""
    models: dict[tuple[str, str], Line] = {}
    seqs: set[int] = set()
    for record in cost.records:
        if step is not None:
            if record.step is None:
                continue
            if record.step != step and not (within and record.step.startswith(step + "/")):
                continue
        if record.requests:
            key = (REQUEST_FEES, record.model or record.provider)
        else:
            key = (record.provider, record.model or "?")
            seqs.add(record.seq)
        line = Line(calls=0 if record.requests else 1, tokens=record.tokens, requests=record.requests, usd=record.usd)
        models[key] = models[key] + line if key in models else line
    return Book(models=models, calls=len(seqs))


def entry_of(cost: TestCost) -> Entry:
    return Entry(total=book_of(cost), steps={path: book_of(cost, path) for path in cost.steps})


# -- pricing books with one card -------------------------------------------------------------


def price_book(book: Book, card: RateCard) -> tuple[Decimal, bool]:
    """The dollars of ``book`` at ``card``'s prices, and whether every line could be priced.

    Lines the card cannot price keep the dollars they were written with.
    """
    total = Decimal(0)
    complete = True
    for (provider, model), line in book.models.items():
        if provider == REQUEST_FEES:
            fee = card.local.fee_named(model)
            total += line.usd if fee is None else fee.usd * line.requests
            continue
        usd = card.price_aggregate(provider, model, line.tokens, line.calls)
        if usd is None:
            complete = False
            total += line.usd
        else:
            total += usd
    return total, complete


# -- allowed deltas ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    """How much more a test may cost than its baseline before it fails.

    Any combination of a percentage, a dollar amount and a token count; a change fails only
    when it exceeds every part given (the largest allowance wins), and never when the dollar
    increase is below the noise floor.
    """

    ratio: Decimal | None = None
    usd: Decimal | None = None
    tokens: int | None = None
    text: str = ""

    def exceeded(self, change_usd: Decimal, base_usd: Decimal, change_tokens: int) -> bool:
        """True when an increase of ``change_usd`` (and ``change_tokens``) is over every allowance given."""
        if change_usd <= 0:
            return False
        if self.ratio is not None and change_usd <= base_usd * self.ratio:
            return False
        if self.usd is not None and change_usd <= self.usd:
            return False
        return not (self.tokens is not None and change_tokens <= self.tokens)

    def __str__(self) -> str:
        return self.text


_TERM = re.compile(
    r"^\s*(?:(?P<pct>[0-9]*\.?[0-9]+)\s*%|\$\s*(?P<usd>[0-9]*\.?[0-9]+)|(?P<tok>[0-9][0-9_,]*)\s*tokens?"
    r"|(?P<frac>0?\.[0-9]+|0|1(?:\.0+)?))\s*$",
    re.IGNORECASE,
)


def parse_allowance(value: object) -> Allowance:
    """``"10%"``, ``0.1``, ``"$0.002"``, ``"500 tokens"``, or several joined by ``+``: ``"5% + $0.001"``."""
    if isinstance(value, Allowance):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(f"{value!r} is not an allowed delta; use e.g. '10%', '$0.002' or '500 tokens'")
    text = str(value).strip()
    ratio: Decimal | None = None
    usd: Decimal | None = None
    tokens: int | None = None
    parts = text.split("+")
    if not text or any(not part.strip() for part in parts):
        raise ValueError(f"{value!r} is not an allowed delta; use e.g. '10%', '$0.002' or '500 tokens'")
    for part in parts:
        match = _TERM.match(part)
        if match is None:
            raise ValueError(
                f"{part.strip()!r} in {text!r} is not an allowed delta; use a percentage ('10%'), "
                "a fraction (0.1), dollars ('$0.002') or tokens ('500 tokens'), joined by '+'"
            )
        if match["pct"] is not None:
            ratio = Decimal(match["pct"]) / 100
        elif match["frac"] is not None:
            ratio = Decimal(match["frac"])
        elif match["usd"] is not None:
            usd = Decimal(match["usd"])
        else:
            tokens = int(match["tok"].replace("_", "").replace(",", ""))
    return Allowance(ratio=ratio, usd=usd, tokens=tokens, text=text)


def describe_ratio(ratio: Decimal) -> str:
    """A ratio as a percentage with one decimal: ``Decimal('0.2461841')`` -> ``24.6%``."""
    return f"{ratio * 100:.1f}%"


# -- comparing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepDelta:
    """Baseline and current dollars of one step (or the test, ``path`` None), at today's prices."""

    path: str | None
    base_usd: Decimal | None
    now_usd: Decimal
    base_tokens: int
    now_tokens: int
    allowed: bool = True

    @property
    def delta_usd(self) -> Decimal:
        return self.now_usd - (self.base_usd or Decimal(0))

    @property
    def delta_ratio(self) -> Decimal | None:
        if not self.base_usd:
            return None
        return self.delta_usd / self.base_usd


@dataclass(frozen=True)
class Comparison:
    nodeid: str
    total: StepDelta
    steps: tuple[StepDelta, ...]
    allowance: Allowance
    drift_usd: Decimal = Decimal(0)
    """How much more today's prices charge for the baseline's usage than when it was written."""

    @property
    def regressions(self) -> tuple[StepDelta, ...]:
        """The total and the steps whose increase is over the allowance."""
        return tuple(delta for delta in (self.total, *self.steps) if not delta.allowed)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    improved: bool = False
    """Cheaper than the baseline by more than the allowance: a hint to update it."""


def compare(
    nodeid: str, entry: Entry, cost: TestCost, card: RateCard, allowance: Allowance, noise_floor: Decimal
) -> Comparison:
    """Compare a test's metered cost with its baseline entry, both priced by ``card``."""

    def over(change_usd: Decimal, base_usd: Decimal, change_tokens: int) -> bool:
        return change_usd >= noise_floor and allowance.exceeded(change_usd, base_usd, change_tokens)

    def delta(path: str | None, base: Book | None, now: Book) -> StepDelta:
        base_usd = price_book(base, card)[0] if base is not None else None
        now_usd = price_book(now, card)[0]
        base_tokens = base.tokens.total if base is not None else 0
        now_tokens = now.tokens.total
        allowed = base_usd is None or not over(now_usd - base_usd, base_usd, now_tokens - base_tokens)
        return StepDelta(path, base_usd, now_usd, base_tokens, now_tokens, allowed)

    total = delta(None, entry.total, book_of(cost))
    steps = tuple(delta(path, book, book_of(cost, path)) for path, book in sorted(entry.steps.items()))
    new_steps = tuple(delta(path, None, book_of(cost, path)) for path in sorted(set(cost.steps) - set(entry.steps)))
    base_usd = total.base_usd or Decimal(0)
    improved = over(base_usd - total.now_usd, base_usd, total.base_tokens - total.now_tokens)
    drift = base_usd - entry.total.usd
    return Comparison(nodeid, total, steps + new_steps, allowance, drift, improved)


# -- updating -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateSummary:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def __str__(self) -> str:
        return f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"


def update(
    baseline: Baseline, accepted: Mapping[str, TestCost], *, prune: Iterable[str] = ()
) -> tuple[Baseline, UpdateSummary]:
    """A new baseline with the entries of ``accepted`` tests rewritten and ``prune`` ids dropped.

    Entries of tests neither accepted nor pruned are kept exactly as they were.
    """
    entries = dict(baseline.entries)
    added: list[str] = []
    changed: list[str] = []
    for nodeid, cost in sorted(accepted.items()):
        if not cost.records:
            continue
        new = entry_of(cost)
        old = entries.get(nodeid)
        if old is None:
            added.append(nodeid)
        elif old.to_json() != new.to_json():
            changed.append(nodeid)
        entries[nodeid] = new
    removed = [nodeid for nodeid in sorted(set(prune)) if entries.pop(nodeid, None) is not None]
    summary = UpdateSummary(tuple(added), tuple(changed), tuple(removed))
    return Baseline(path=baseline.path, entries=entries, exists=baseline.exists), summary


# -- comparing two files ----------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    """One test (or one of its steps, ``step`` set) in two files, both priced by one card."""

    nodeid: str
    step: str | None
    base_usd: Decimal | None
    head_usd: Decimal | None
    base_tokens: int
    head_tokens: int

    @property
    def delta_usd(self) -> Decimal:
        return (self.head_usd or Decimal(0)) - (self.base_usd or Decimal(0))

    @property
    def delta_ratio(self) -> Decimal | None:
        return self.delta_usd / self.base_usd if self.base_usd else None

    def to_json(self) -> dict[str, Any]:
        ratio = self.delta_ratio
        return {
            "base_usd": None if self.base_usd is None else format_usd(self.base_usd),
            "delta_ratio": None if ratio is None else float(round(ratio, 6)),
            "delta_usd": format_usd(self.delta_usd),
            "head_usd": None if self.head_usd is None else format_usd(self.head_usd),
            "step": self.step,
            "test": self.nodeid,
        }


def diff_entries(base: Mapping[str, Entry], head: Mapping[str, Entry], card: RateCard) -> list[DiffRow]:
    """Every test in either file, each followed by its steps, largest change first."""

    def priced(book: Book | None) -> Decimal | None:
        return None if book is None else price_book(book, card)[0]

    groups: list[tuple[Decimal, list[DiffRow]]] = []
    for nodeid in sorted(set(base) | set(head)):
        old, new = base.get(nodeid), head.get(nodeid)
        rows = [
            DiffRow(
                nodeid,
                None,
                priced(old.total if old else None),
                priced(new.total if new else None),
                old.total.tokens.total if old else 0,
                new.total.tokens.total if new else 0,
            )
        ]
        paths = sorted(set(old.steps if old else ()) | set(new.steps if new else ()))
        for path in paths:
            old_step = old.steps.get(path) if old else None
            new_step = new.steps.get(path) if new else None
            rows.append(
                DiffRow(
                    nodeid,
                    path,
                    priced(old_step),
                    priced(new_step),
                    old_step.tokens.total if old_step else 0,
                    new_step.tokens.total if new_step else 0,
                )
            )
        groups.append((abs(rows[0].delta_usd), rows))
    groups.sort(key=lambda group: (-group[0], group[1][0].nodeid))
    return [row for _, rows in groups for row in rows]
