"""The committed cost baseline: what it holds, reading, pricing and updating it. Pure functions.

``llm-cost-baseline.json`` holds, for each test (and each fixture wider than a test), the token
usage per model and per step, the call counts, the dollars as priced when it was written (for
reading only), and each call's own token vector, so that the baseline is re-priced call by
call exactly as the calls were metered: long-context tiers follow each call's own input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..files import FileFormatError, dump_json, read_json, write_atomic
from ..fmt import format_usd
from ..pricing import RateCard
from ..usage import TOKEN_KINDS, TestCost, Tokens

__all__ = [
    "BASELINE_FORMAT",
    "REQUEST_FEES",
    "Baseline",
    "Book",
    "Entry",
    "Line",
    "UpdateSummary",
    "book_of",
    "entry_of",
    "load_baseline",
    "price_book",
    "update",
]

BASELINE_FORMAT = 2
#: Formats this version reads. Format 1 kept no per-call usage: its multi-call lines are priced
#: on their average input per call, exact unless their calls straddle a long-context tier.
READABLE_FORMATS = (1, 2)
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
    """Dollars as priced when the baseline was written; comparisons re-price the usage."""
    per_call: tuple[Tokens, ...] = ()
    """Each call's own token vector (kept when there is more than one call), to re-price exactly."""

    def __add__(self, other: Line) -> Line:
        return Line(
            self.calls + other.calls,
            self.tokens + other.tokens,
            self.requests + other.requests,
            self.usd + other.usd,
            self.calls_tokens() + other.calls_tokens(),
        )

    def calls_tokens(self) -> tuple[Tokens, ...]:
        """Each call's tokens: ``per_call``, or the one call's; empty when unknown (format 1)."""
        if self.per_call:
            return self.per_call
        return (self.tokens,) if self.calls == 1 else ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"calls": self.calls, "tokens": self.tokens.to_json(), "usd": format_usd(self.usd)}
        if self.requests:
            data["requests"] = self.requests
        if self.calls > 1 and len(self.per_call) == self.calls:
            data["per_call"] = [[getattr(tokens, kind) for kind in TOKEN_KINDS] for tokens in self.per_call]
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
    """One test (or wide fixture) in the baseline: its total and its named steps."""

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
            "token_kinds": list(TOKEN_KINDS),
            "tests": {nodeid: entry.to_json() for nodeid, entry in sorted(self.entries.items())},
        }

    def write(self, path: Path) -> None:
        write_atomic(path, dump_json(self.to_json()))


# -- reading ------------------------------------------------------------------------------------


def _bad(path: Path, where: str, problem: str) -> FileFormatError:
    return FileFormatError(
        f"{path}: {where}: {problem}. Fix the file by hand, or restore it from version control "
        "and run `pytest --llm-cost --llm-cost-update` to write it again"
    )


def _usd(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"a dollar amount must be a decimal string, got {value!r}")
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"a dollar amount must be a finite number >= 0, got {value!r}")
    return amount


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"a count must be a whole number >= 0, got {value!r}")
    return value


def _per_call(raw: Any, kinds: tuple[str, ...], calls: int) -> tuple[Tokens, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) != calls:
        raise ValueError(f"'per_call' must list one token vector for each of the {calls} calls")
    found = []
    for vector in raw:
        if not isinstance(vector, list) or len(vector) != len(kinds):
            raise ValueError(f"each 'per_call' vector must have {len(kinds)} counts ({', '.join(kinds)})")
        found.append(Tokens.from_json(dict(zip(kinds, vector, strict=True))))
    return tuple(found)


def _book_from_json(path: Path, where: str, data: Any, kinds: tuple[str, ...]) -> Book:
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
                calls = _count(raw.get("calls", 0))
                models[(provider, model)] = Line(
                    calls=calls,
                    tokens=Tokens.from_json(raw.get("tokens", {})),
                    requests=_count(raw.get("requests", 0)),
                    usd=_usd(raw.get("usd", "0")),
                    per_call=_per_call(raw.get("per_call"), kinds, calls),
                )
            except (ValueError, InvalidOperation) as exc:
                raise _bad(path, here, str(exc) or "not a number") from None
    try:
        calls = _count(data.get("calls", 0))
    except ValueError as exc:
        raise _bad(path, where, str(exc)) from None
    return Book(models=models, calls=calls)


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
    if data["format"] not in READABLE_FORMATS:
        raise FileFormatError(
            f"{path}: baseline format {data['format']!r} is not supported by this pytest-llmcost "
            f"(it reads formats {', '.join(map(str, READABLE_FORMATS))}); upgrade pytest-llmcost"
        )
    kinds_raw = data.get("token_kinds", list(TOKEN_KINDS))
    if not isinstance(kinds_raw, list) or not all(isinstance(kind, str) for kind in kinds_raw):
        raise _bad(path, "token_kinds", "expected a list of token kind names")
    kinds = tuple(kinds_raw)
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
            total=_book_from_json(path, nodeid, raw, kinds),
            steps={
                step: _book_from_json(path, f"{nodeid}.steps.{step}", book, kinds) for step, book in steps_raw.items()
            },
        )
    return Baseline(path=path, entries=entries, exists=True)


# -- from metered calls to books -------------------------------------------------------------


def book_of(cost: TestCost, step: str | None = None, *, within: bool = False) -> Book:
    """The usage of a test (``step`` None), of one step path, or (``within``) of a step and its sub-steps.

    Attempts that billed nothing (an HTTP 429 or 5xx) are not part of it.
    """
    models: dict[tuple[str, str], Line] = {}
    seqs: set[int] = set()
    for record in cost.records:
        if not record.billed:
            continue
        if step is not None:
            if record.step is None:
                continue
            if record.step != step and not (within and record.step.startswith(step + "/")):
                continue
        if record.requests:
            key = (REQUEST_FEES, record.model or record.provider)
            line = Line(requests=record.requests, usd=record.usd)
        else:
            key = (record.provider, record.model or "?")
            seqs.add(record.seq)
            line = Line(calls=1, tokens=record.tokens, usd=record.usd)
        models[key] = models[key] + line if key in models else line
    return Book(models=models, calls=len(seqs))


def entry_of(cost: TestCost) -> Entry:
    return Entry(total=book_of(cost), steps={path: book_of(cost, path) for path in cost.steps})


# -- pricing a book with one card ----------------------------------------------------------------


def price_book(book: Book, card: RateCard) -> tuple[Decimal, bool]:
    """The dollars of ``book`` at ``card``'s prices, call by call, and whether every line could be priced.

    Lines the card cannot price keep the dollars they were written with.
    """
    total = Decimal(0)
    complete = True
    for (provider, model), line in book.models.items():
        usd = _price_line(provider, model, line, card)
        if usd is None:
            complete = False
            total += line.usd
        else:
            total += usd
    return total, complete


def _price_line(provider: str, model: str, line: Line, card: RateCard) -> Decimal | None:
    if provider == REQUEST_FEES:
        fee = card.local.fee_named(model)
        return line.usd if fee is None else fee.usd * line.requests  # a fee no longer listed: as written
    calls = line.calls_tokens()
    if not calls and line.calls:  # format 1: only the total is known
        return card.price_aggregate(provider, model, line.tokens, line.calls)
    total = Decimal(0)
    for tokens in calls:
        usd = card.price(provider, model, tokens).usd
        if usd is None:
            return None
        total += usd
    return total


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
        if not cost.calls and not cost.requests:
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
