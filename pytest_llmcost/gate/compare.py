"""Comparing metered usage with a baseline, and two files with each other. Pure functions.

The current side is what the meter priced, call by call: a comparison's "now" is the metered
cost to the last Decimal digit. The baseline side is re-priced call by call with the same
rate card, so a price-list change never fails a test; the difference between that and the
dollars the baseline was written with is reported apart, as price drift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..fmt import format_usd, short_money
from ..pricing import RateCard
from ..usage import TestCost
from .allowance import Allowance, parse_allowance
from .baseline import Book, Entry, books_of, price_book
from .explain import Cause, Profile, describe, explain, reasons, sameness

__all__ = ["Comparison", "DiffRow", "StepDelta", "compare", "diff_entries", "over_allowance"]


@dataclass(frozen=True)
class StepDelta:
    """Baseline and current dollars of one step (or the test, ``path`` None), at today's prices."""

    path: str | None
    base_usd: Decimal | None
    now_usd: Decimal
    base_tokens: int
    now_tokens: int
    allowed: bool = True
    base: Profile | None = None
    """What the baseline consumed (None for a step new to it)."""
    now: Profile | None = None
    causes: tuple[Cause, ...] = ()
    """Why the cost moved, largest first; empty when nothing did."""

    @property
    def changed(self) -> bool:
        return bool(self.causes) or self.base_usd != self.now_usd

    @property
    def reasons(self) -> str:
        """``input 238 -> 995 tokens per call (x4.2), same model, same calls``; empty for a step new to the baseline."""
        if self.base is None or self.now is None:
            return ""
        return reasons(self.causes, sameness(self.base, self.now))

    @property
    def why(self) -> str:
        """``synthesize +$0.0023 (+141%): input 238 -> 995 tokens per call (x4.2), same model, same calls``."""
        if self.base is None:
            calls = self.now.calls if self.now is not None else 0
            return f"{self.path or 'total'} new ({calls} call{'' if calls == 1 else 's'}, {short_money(self.now_usd)})"
        return describe(self.path, self.base_usd, self.now_usd, self.reasons)

    @property
    def delta_usd(self) -> Decimal:
        return self.now_usd - (self.base_usd or Decimal(0))

    @property
    def delta_ratio(self) -> Decimal | None:
        if not self.base_usd:
            return None
        return self.delta_usd / self.base_usd

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "allowed": self.allowed,
            "base_tokens": self.base_tokens,
            "base_usd": None if self.base_usd is None else format_usd(self.base_usd),
            "now_tokens": self.now_tokens,
            "now_usd": format_usd(self.now_usd),
            "path": self.path,
        }
        if self.changed:  # an unchanged entry keeps its results line short
            if self.base is not None:
                data["base"] = self.base.to_json()
            if self.now is not None:
                data["now"] = self.now.to_json()
            if self.causes:
                data["causes"] = [cause.to_json() for cause in self.causes]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepDelta:
        base = data.get("base_usd")
        return cls(
            path=data.get("path"),
            base_usd=None if base is None else Decimal(str(base)),
            now_usd=Decimal(str(data["now_usd"])),
            base_tokens=int(data.get("base_tokens", 0)),
            now_tokens=int(data.get("now_tokens", 0)),
            allowed=bool(data.get("allowed", True)),
            base=Profile.from_json(data["base"]) if data.get("base") else None,
            now=Profile.from_json(data["now"]) if data.get("now") else None,
            causes=tuple(Cause.from_json(cause) for cause in data.get("causes", ())),
        )


@dataclass(frozen=True)
class Comparison:
    nodeid: str
    total: StepDelta
    steps: tuple[StepDelta, ...]
    allowance: Allowance
    drift_usd: Decimal = Decimal(0)
    """How much more today's prices charge for the baseline's usage than when it was written."""
    improved: bool = False
    """Cheaper than the baseline by more than the allowance: a hint to update it."""

    @property
    def regressions(self) -> tuple[StepDelta, ...]:
        """The total and the steps whose increase is over the allowance."""
        return tuple(delta for delta in (self.total, *self.steps) if not delta.allowed)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def to_json(self) -> dict[str, Any]:
        return {
            "allowance": str(self.allowance),
            "drift_usd": format_usd(self.drift_usd),
            "improved": self.improved,
            "steps": [delta.to_json() for delta in self.steps],
            "total": self.total.to_json(),
        }

    @classmethod
    def from_json(cls, nodeid: str, data: Mapping[str, Any]) -> Comparison:
        return cls(
            nodeid=nodeid,
            total=StepDelta.from_json(data["total"]),
            steps=tuple(StepDelta.from_json(step) for step in data.get("steps", ())),
            allowance=parse_allowance(data.get("allowance") or "5%"),
            drift_usd=Decimal(str(data.get("drift_usd", "0"))),
            improved=bool(data.get("improved", False)),
        )


def over_allowance(
    allowance: Allowance, noise_floor: Decimal, change_usd: Decimal, base_usd: Decimal, change_tokens: int
) -> bool:
    """The one rule for "too much more": an increase at or over the noise floor and over every allowance."""
    return change_usd >= noise_floor and allowance.exceeded(change_usd, base_usd, change_tokens)


def compare(
    nodeid: str,
    entry: Entry,
    cost: TestCost,
    card: RateCard,
    allowance: Allowance,
    noise_floor: Decimal,
    *,
    known: Entry | None = None,
) -> Comparison:
    """Compare a test's metered cost with its baseline entry, the baseline re-priced by ``card``.

    ``known`` is another entry (the run's own baseline) whose prompt segments stand in for the
    ones the run did not measure, where its usage is the same.
    """

    def delta(path: str | None, base: Book | None, now: Book) -> StepDelta:
        now_usd = now.usd  # summed once: a book's dollars and tokens are sums over its models
        base_usd = price_book(base, card)[0] if base is not None else None
        base_tokens = base.tokens.total if base is not None else 0
        now_tokens = now.tokens.total
        allowed = base_usd is None or not over_allowance(
            allowance, noise_floor, now_usd - base_usd, base_usd, now_tokens - base_tokens
        )
        if base is None or base_usd is None:
            return StepDelta(path, base_usd, now_usd, base_tokens, now_tokens, allowed, None, Profile.of(now))
        if base_usd == now_usd and base.same_usage(now):  # the common case: nothing to explain
            return StepDelta(path, base_usd, now_usd, base_tokens, now_tokens, allowed)
        lent = (known.total if path is None else known.steps.get(path)) if known is not None else None
        if not now.segments and lent is not None and lent.segments and lent.same_usage(now):
            now = Book(models=now.models, calls=now.calls, segments=lent.segments)
        causes = explain(base, now, base_usd, now_usd, card)
        return StepDelta(
            path, base_usd, now_usd, base_tokens, now_tokens, allowed, Profile.of(base), Profile.of(now), causes
        )

    now_total, now_steps = books_of(cost)
    total = delta(None, entry.total, now_total)
    steps = tuple(delta(path, book, now_steps.get(path) or Book()) for path, book in sorted(entry.steps.items()))
    new_steps = tuple(
        delta(path, None, now_steps.get(path) or Book()) for path in sorted(set(cost.steps) - set(entry.steps))
    )
    base_usd = total.base_usd or Decimal(0)
    improved = over_allowance(
        allowance, noise_floor, base_usd - total.now_usd, base_usd, total.base_tokens - total.now_tokens
    )
    drift = base_usd - entry.total.usd
    return Comparison(nodeid, total, steps + new_steps, allowance, drift, improved)


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
    why: str = ""
    """The causes of the change: ``input 238 -> 995 tokens per call (x4.2), same model, same calls``."""

    @property
    def delta_usd(self) -> Decimal:
        return (self.head_usd or Decimal(0)) - (self.base_usd or Decimal(0))

    @property
    def delta_ratio(self) -> Decimal | None:
        return self.delta_usd / self.base_usd if self.base_usd else None

    def over(self, allowance: Allowance, noise_floor: Decimal) -> bool:
        """Whether this row grew by more than ``allowance`` (the gate's own rule)."""
        return over_allowance(
            allowance, noise_floor, self.delta_usd, self.base_usd or Decimal(0), self.head_tokens - self.base_tokens
        )

    def to_json(self) -> dict[str, Any]:
        ratio = self.delta_ratio
        return {
            "base_usd": None if self.base_usd is None else format_usd(self.base_usd),
            "delta_ratio": None if ratio is None else float(round(ratio, 6)),
            "delta_usd": format_usd(self.delta_usd),
            "head_usd": None if self.head_usd is None else format_usd(self.head_usd),
            "step": self.step,
            "test": self.nodeid,
            "why": self.why,
        }


def diff_entries(
    base: Mapping[str, Entry],
    head: Mapping[str, Entry],
    card: RateCard,
    *,
    unchanged: Callable[[str], Sequence[tuple[str | None, Decimal, int]] | None] | None = None,
) -> list[DiffRow]:
    """Every test in either file, each followed by its steps, largest change first.

    ``unchanged(nodeid)``, for a test in both files, says whether it made the same calls in both
    without building either entry: it returns the test's and each step's dollars (priced once, by
    ``card``) and tokens, or None when the calls differ. Nothing is explained for such a test; the
    mappings may build their entries when first asked for (``results.entries``), so neither is built.
    """

    def priced(book: Book | None) -> Decimal | None:
        return None if book is None else price_book(book, card)[0]

    def why(old: Book | None, new: Book | None, old_usd: Decimal | None, new_usd: Decimal | None) -> str:
        if old is None or new is None or old_usd is None or new_usd is None:
            return ""
        if old.same_usage(new) and old_usd == new_usd:
            return ""
        return reasons(explain(old, new, old_usd, new_usd, card), sameness(Profile.of(old), Profile.of(new)))

    groups: list[tuple[Decimal, list[DiffRow]]] = []
    for nodeid in sorted(set(base) | set(head)):
        same = unchanged(nodeid) if unchanged is not None and nodeid in base and nodeid in head else None
        if same is not None:
            rows = [DiffRow(nodeid, path, usd, usd, tokens, tokens) for path, usd, tokens in same]
            groups.append((Decimal(0), rows))
            continue
        old, new = base.get(nodeid), head.get(nodeid)
        old_usd, new_usd = priced(old.total if old else None), priced(new.total if new else None)
        rows = [
            DiffRow(
                nodeid,
                None,
                old_usd,
                new_usd,
                old.total.tokens.total if old else 0,
                new.total.tokens.total if new else 0,
                why(old.total if old else None, new.total if new else None, old_usd, new_usd)
                if not (old and old.steps)
                else "",
            )
        ]
        paths = sorted(set(old.steps if old else ()) | set(new.steps if new else ()))
        for path in paths:
            old_step = old.steps.get(path) if old else None
            new_step = new.steps.get(path) if new else None
            old_step_usd, new_step_usd = priced(old_step), priced(new_step)
            rows.append(
                DiffRow(
                    nodeid,
                    path,
                    old_step_usd,
                    new_step_usd,
                    old_step.tokens.total if old_step else 0,
                    new_step.tokens.total if new_step else 0,
                    why(old_step, new_step, old_step_usd, new_step_usd),
                )
            )
        groups.append((abs(rows[0].delta_usd), rows))
    groups.sort(key=lambda group: (-group[0], group[1][0].nodeid))
    return [row for _, rows in groups for row in rows]
