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

from ..files import FileFormatError, dump_json_lines, locked, read_json, write_atomic
from ..fmt import format_usd
from ..pricing import RateCard
from ..usage import TOKEN_KINDS, Call, Dims, TestCost, Tokens, parse_money

__all__ = [
    "BASELINE_FORMAT",
    "REQUEST_FEES",
    "Baseline",
    "Book",
    "CallUsage",
    "Entry",
    "Line",
    "UpdateSummary",
    "book_of",
    "books_of",
    "entry_of",
    "load_baseline",
    "price_book",
    "rebase",
    "save_update",
    "stale_entries",
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
class CallUsage:
    """What one call is priced on: its token vector, its billed dimensions and its service tier.

    In the file it is the vector of counts in ``token_kinds`` order, followed by an object of the
    dimensions and the tier when there are any: ``[1000, 0, 0, 50, 0, {"tier": "flex", "web_searches": 2}]``.
    """

    tokens: Tokens
    dims: Dims = field(default_factory=Dims)
    tier: str | None = None

    @property
    def plain(self) -> bool:
        return not self.dims and self.tier is None

    def to_json(self) -> list[Any]:
        vector: list[Any] = [getattr(self.tokens, kind) for kind in TOKEN_KINDS]
        extra: dict[str, Any] = self.dims.to_json()
        if self.tier is not None:
            extra["tier"] = self.tier
        if extra:
            vector.append(extra)
        return vector

    @classmethod
    def from_json(cls, vector: list[Any], kinds: tuple[str, ...]) -> CallUsage:
        extra: dict[str, Any] = {}
        if len(vector) == len(kinds) + 1 and isinstance(vector[-1], dict):
            extra = dict(vector[-1])
            vector = vector[:-1]
        if len(vector) != len(kinds):
            raise ValueError(
                f"each 'per_call' vector must have {len(kinds)} counts ({', '.join(kinds)}), then optionally an object"
            )
        tier = extra.pop("tier", None)
        if tier is not None and not isinstance(tier, str):
            raise ValueError(f"a call's 'tier' must be a service tier name, got {tier!r}")
        return cls(Tokens.from_json(dict(zip(kinds, vector, strict=True))), Dims.from_json(extra), tier)


@dataclass(frozen=True)
class Line:
    """The usage of one model (or one per-request fee) within a test or a step."""

    calls: int = 0
    tokens: Tokens = field(default_factory=Tokens)
    requests: int = 0
    usd: Decimal = Decimal(0)
    """Dollars as priced when the baseline was written; comparisons re-price the usage."""
    per_call: tuple[CallUsage, ...] = ()
    """Each call's own usage (kept when there is more than one call, or when a call has billed
    dimensions or a service tier), to re-price exactly."""

    def __add__(self, other: Line) -> Line:
        return Line(
            self.calls + other.calls,
            self.tokens + other.tokens,
            self.requests + other.requests,
            self.usd + other.usd,
            self.calls_usage() + other.calls_usage(),
        )

    def calls_usage(self) -> tuple[CallUsage, ...]:
        """Each call's usage: ``per_call``, or the one call's; empty when unknown (format 1)."""
        if self.per_call:
            return self.per_call
        return (CallUsage(self.tokens),) if self.calls == 1 else ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"calls": self.calls, "tokens": self.tokens.to_json(), "usd": format_usd(self.usd)}
        if self.requests:
            data["requests"] = self.requests
        if len(self.per_call) == self.calls and (self.calls > 1 or any(not call.plain for call in self.per_call)):
            data["per_call"] = [call.to_json() for call in self.per_call]
        return data


@dataclass(frozen=True)
class Book:
    """Usage per ``(provider, model)``, and the number of LLM interactions behind it."""

    models: Mapping[tuple[str, str], Line] = field(default_factory=dict)
    calls: int = 0
    segments: Mapping[str, int] = field(default_factory=dict)
    """Estimated prompt tokens per segment (tool definitions, system prompt, earlier conversation,
    latest message), summed over the calls; empty when they were not measured."""

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
        data: dict[str, Any] = {"calls": self.calls, "models": models, "usd": format_usd(self.usd)}
        if self.segments:
            data["segments"] = dict(sorted(self.segments.items()))
        return data

    def same_usage(self, other: Book) -> bool:
        """Whether two books hold the same calls and usage, model by model (whatever their dollars and segments)."""
        if self.calls != other.calls or self.models.keys() != other.models.keys():
            return False
        for key, line in self.models.items():
            theirs = other.models[key]
            if (line.calls, line.tokens, line.requests) != (theirs.calls, theirs.tokens, theirs.requests):
                return False
            if line.calls_usage() != theirs.calls_usage():
                return False
        return True


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
        # One test per line, compact: a changed test is a changed line of a pull request's diff, and
        # the file is about a third of its indented size. Both layouts are the same JSON to a reader.
        write_atomic(path, dump_json_lines(self.to_json(), lines=("tests",)))


# -- reading ------------------------------------------------------------------------------------


_FIX = (
    "Fix the file by hand, or restore it from version control "
    "and run `pytest --llm-cost --llm-cost-update` to write it again"
)


def _bad(path: Path, where: str, problem: str) -> FileFormatError:
    return FileFormatError(f"{path}: {where}: {problem}. {_FIX}")


def _tokens(raw: Any) -> Tokens:
    if not isinstance(raw, dict):
        raise ValueError(f"'tokens' must map token kinds to counts, got {raw!r}")
    return Tokens.from_json(raw)


def _usd(value: Any) -> Decimal:
    return parse_money(value)


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"a count must be a whole number >= 0, got {value!r}")
    return value


def _per_call(raw: Any, kinds: tuple[str, ...], calls: int) -> tuple[CallUsage, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) != calls:
        raise ValueError(f"'per_call' must list one token vector for each of the {calls} calls")
    found = []
    for vector in raw:
        if not isinstance(vector, list):
            raise ValueError(f"each 'per_call' vector must have {len(kinds)} counts ({', '.join(kinds)})")
        found.append(CallUsage.from_json(vector, kinds))
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
                    tokens=_tokens(raw.get("tokens", {})),
                    requests=_count(raw.get("requests", 0)),
                    usd=_usd(raw.get("usd", "0")),
                    per_call=_per_call(raw.get("per_call"), kinds, calls),
                )
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise _bad(path, here, str(exc) or f"not a number: {raw.get('usd')!r}") from None
    segments = data.get("segments", {})
    if not isinstance(segments, dict):
        raise _bad(path, f"{where}.segments", "expected an object of prompt segments and token counts")
    for name, count in segments.items():
        try:
            _count(count)
        except ValueError as exc:
            raise _bad(path, f"{where}.segments.{name}", str(exc)) from None
    try:
        calls = _count(data.get("calls", 0))
        if "usd" in data:  # the sum of the lines, written for reading: never read back, but never NaN either
            _usd(data["usd"])
    except (ValueError, InvalidOperation) as exc:
        raise _bad(path, where, str(exc) or f"not a number: {data.get('usd')!r}") from None
    return Book(models=models, calls=calls, segments=segments)


def load_baseline(path: Path) -> Baseline:
    """Read the baseline; an absent file is an empty baseline. Anything unreadable raises
    :class:`FileFormatError` naming the file: such a file is never overwritten."""
    if not path.exists():
        return Baseline(path=path)
    data = read_json(path, "baseline", fix=_FIX[0].lower() + _FIX[1:])
    if not isinstance(data, dict) or "format" not in data:
        raise FileFormatError(
            f"{path}: not an llm-cost baseline (no 'format'). Move it away, or point --llm-cost-baseline elsewhere"
        )
    if isinstance(data["format"], bool) or data["format"] not in READABLE_FORMATS:
        raise FileFormatError(
            f"{path}: baseline format {data['format']!r} is not supported by this pytest-llmcost "
            f"(it reads formats {', '.join(map(str, READABLE_FORMATS))}); upgrade pytest-llmcost"
        )
    kinds_raw = data.get("token_kinds", list(TOKEN_KINDS))
    if not isinstance(kinds_raw, list) or not all(isinstance(kind, str) for kind in kinds_raw):
        raise _bad(path, "token_kinds", "expected a list of token kind names")
    for kind in kinds_raw:
        if kind not in TOKEN_KINDS or kinds_raw.count(kind) > 1:
            problem = "unknown token kind" if kind not in TOKEN_KINDS else "repeated token kind"
            raise _bad(path, "token_kinds", f"{problem} {kind!r}; expected {', '.join(TOKEN_KINDS)}")
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
    records: Iterable[Call] = cost.records
    if step is not None:
        prefix = step + "/"
        records = [
            record
            for record in cost.records
            if record.step is not None and (record.step == step or (within and record.step.startswith(prefix)))
        ]
    return _book(records)


def books_of(cost: TestCost) -> tuple[Book, dict[str, Book]]:
    """``book_of(cost)`` and ``book_of(cost, path)`` for each step path the test ran, in two passes."""
    by_step: dict[str, list[Call]] = {}
    for record in cost.records:
        if record.step is not None:
            by_step.setdefault(record.step, []).append(record)
    return _book(cost.records), {path: _book(records) for path, records in by_step.items()}


def _book(records: Iterable[Call]) -> Book:
    models: dict[tuple[str, str], Line] = {}
    seqs: set[int] = set()
    segments: dict[str, int] = {}
    measured: set[int] = set()
    for record in records:
        if not record.billed:
            continue
        if record.requests:
            key = (REQUEST_FEES, record.model or record.provider)
            line = Line(requests=record.requests, usd=record.usd)
        else:
            key = (record.provider, record.model or "?")
            seqs.add(record.seq)
            if record.segments and record.seq not in measured:
                measured.add(record.seq)
                for name, count in record.segments:
                    segments[name] = segments.get(name, 0) + count
            usage = CallUsage(record.tokens, record.dims, record.service_tier)
            line = Line(calls=1, tokens=record.tokens, usd=record.usd, per_call=() if usage.plain else (usage,))
        models[key] = models[key] + line if key in models else line
    return Book(models=models, calls=len(seqs), segments=segments if measured >= seqs else {})


def stale_entries(entry_ids: Iterable[str], collected: Iterable[str], metered: Iterable[str]) -> list[str]:
    """The entries a run that collected the whole suite neither collected nor metered (a wide
    fixture's entry is metered, never collected): stale, and what ``--llm-cost-prune`` drops."""
    return sorted(set(entry_ids) - set(collected) - set(metered))


def entry_of(cost: TestCost) -> Entry:
    total, steps = books_of(cost)
    return Entry(total=total, steps=steps)


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
    calls = line.calls_usage()
    if not calls and line.calls:  # format 1: only the total is known
        return card.price_aggregate(provider, model, line.tokens, line.calls)
    total = Decimal(0)
    for call in calls:
        usd = card.price(provider, model, call.tokens, call.dims, call.tier).usd
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


def _merge(current: Baseline, changes: Mapping[str, Entry], removals: Iterable[str]) -> tuple[Baseline, UpdateSummary]:
    """``current`` with ``changes`` written over it and ``removals`` dropped; the summary of what differs."""
    entries = dict(current.entries)
    added: list[str] = []
    changed: list[str] = []
    for nodeid, entry in sorted(changes.items()):
        now = entries.get(nodeid)
        if now is None:
            added.append(nodeid)
        elif now.to_json() != entry.to_json():
            changed.append(nodeid)
        entries[nodeid] = entry
    removed = [nodeid for nodeid in sorted(set(removals)) if entries.pop(nodeid, None) is not None]
    summary = UpdateSummary(tuple(added), tuple(changed), tuple(removed))
    return Baseline(path=current.path, entries=entries, exists=current.exists), summary


def update(
    baseline: Baseline, accepted: Mapping[str, TestCost], *, prune: Iterable[str] = ()
) -> tuple[Baseline, UpdateSummary]:
    """A new baseline with the entries of ``accepted`` tests rewritten and ``prune`` ids dropped.

    Entries of tests neither accepted nor pruned are kept exactly as they were.
    """
    changes = {
        nodeid: _keep_segments(baseline.entries.get(nodeid), entry_of(cost))
        for nodeid, cost in accepted.items()
        if cost.calls or cost.requests
    }
    return _merge(baseline, changes, prune)


def _keep_segments(old: Entry | None, new: Entry) -> Entry:
    """``new``, with the prompt segments of ``old`` kept for the books whose usage did not change
    (a run measures segments only where a change needs explaining)."""
    if old is None:
        return new

    def kept(before: Book | None, now: Book) -> Book:
        if now.segments or before is None or not before.segments or not before.same_usage(now):
            return now
        return Book(models=now.models, calls=now.calls, segments=before.segments)

    steps = {path: kept(old.steps.get(path), book) for path, book in new.steps.items()}
    return Entry(total=kept(old.total, new.total), steps=steps)


def rebase(start: Baseline, new: Baseline, current: Baseline) -> tuple[Baseline, UpdateSummary]:
    """``new`` is ``start`` updated by one run; the same changes applied to ``current`` instead.

    ``current`` is the file as it is now: another update may have written it since ``start`` was
    read. Only this run's own changes are applied (the entries it added or rewrote differently,
    the entries it removed), so nothing the other update wrote is lost. The summary says what
    changed in ``current``.
    """
    changes = {
        nodeid: entry
        for nodeid, entry in new.entries.items()
        if (before := start.entries.get(nodeid)) is None or before.to_json() != entry.to_json()
    }
    return _merge(current, changes, set(start.entries) - set(new.entries))


def save_update(path: Path, start: Baseline, new: Baseline) -> UpdateSummary:
    """Write ``new`` (``start`` updated by this run) to ``path``, merged with updates made meanwhile.

    Under a lock beside the file, the baseline is read again and :func:`rebase` applies this run's
    changes to it: two updates at the same time both keep their entries. Nothing is written when
    nothing changes. Raises :class:`FileFormatError` if the file became unreadable, and
    :class:`~pytest_llmcost.files.FileWriteError` if it cannot be written; it is left as it was.
    """
    with locked(path):
        current = load_baseline(path)
        merged, summary = rebase(start, new, current)
        if summary.any:
            merged.write(path)
    return summary
