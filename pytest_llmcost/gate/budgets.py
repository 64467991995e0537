"""``@pytest.mark.cost_budget(...)``: absolute limits on a test's dollars and tokens.

Parsed and validated once, at collection; checked against a test's metered cost. Pure: the
plugin turns a :class:`BudgetError` into a usage error naming the test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..fmt import short_money
from ..usage import TestCost
from .allowance import Allowance, parse_allowance, parse_cache_drop

__all__ = ["Budget", "BudgetError", "Limit", "Violation", "check", "parse_budget", "unknown_steps"]

SIGNATURE = "cost_budget(usd=None, *, tokens=None, delta=None, steps=None, runs_per_day=None, cache_drop=None)"


class BudgetError(ValueError):
    """A ``cost_budget`` argument is invalid; the message says which and why."""


@dataclass(frozen=True)
class Limit:
    usd: Decimal | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class Budget:
    limit: Limit = field(default_factory=Limit)
    delta: Allowance | None = None
    steps: Mapping[str, Limit] = field(default_factory=dict)
    runs_per_day: int | None = None
    """How often the workflow runs in production, for the report's monthly projection."""
    cache_drop: Decimal | None = None
    """How far the share of input read from a prompt cache may fall (0.1 for ten points; 1: off)."""

    @property
    def has_limits(self) -> bool:
        return self.limit.usd is not None or self.limit.tokens is not None or bool(self.steps)


def _usd(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise BudgetError(f"{what} must be a number of US dollars, got {value!r}")
    text = str(value).strip().removeprefix("$").strip() if isinstance(value, str) else str(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BudgetError(f"{what} must be a number of US dollars, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise BudgetError(f"{what} must be a number of US dollars >= 0, got {value!r}")
    return amount


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BudgetError(f"{what} must be a whole number >= 0, got {value!r}")
    return value


def _limit(value: Any, what: str) -> Limit:
    if isinstance(value, Mapping):
        unknown = set(value) - {"usd", "tokens"}
        if unknown:
            raise BudgetError(f"{what} has unknown key {sorted(unknown)[0]!r}; use 'usd' and 'tokens'")
        if not value:
            raise BudgetError(f"{what} needs 'usd' or 'tokens'")
        return Limit(
            usd=None if value.get("usd") is None else _usd(value["usd"], f"{what}['usd']"),
            tokens=None if value.get("tokens") is None else _count(value["tokens"], f"{what}['tokens']"),
        )
    return Limit(usd=_usd(value, what))


def parse_budget(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Budget:
    """The budget a ``cost_budget`` marker describes; :class:`BudgetError` when an argument is invalid."""
    if len(args) > 1:
        raise BudgetError(f"takes at most one positional argument (usd), got {len(args)}; signature: {SIGNATURE}")
    unknown = set(kwargs) - {"usd", "tokens", "delta", "steps", "runs_per_day", "cache_drop"}
    if unknown:
        raise BudgetError(f"unknown argument {sorted(unknown)[0]!r}; signature: {SIGNATURE}")
    if args and "usd" in kwargs:
        raise BudgetError("usd given both by position and by name")
    usd = args[0] if args else kwargs.get("usd")
    tokens = kwargs.get("tokens")
    delta = kwargs.get("delta")
    steps = kwargs.get("steps")
    runs = kwargs.get("runs_per_day")
    cache = kwargs.get("cache_drop")
    if usd is None and tokens is None and delta is None and steps is None and runs is None and cache is None:
        raise BudgetError(f"needs at least one limit; signature: {SIGNATURE}")
    allowance = None
    if delta is not None:
        try:
            allowance = parse_allowance(delta)
        except ValueError as exc:
            raise BudgetError(f"delta: {exc}") from None
    step_limits: dict[str, Limit] = {}
    if steps is not None:
        if not isinstance(steps, Mapping) or not steps:
            raise BudgetError(
                f"steps must map step paths to limits, e.g. {{'synthesis': 0.02}} or "
                f"{{'synthesis': {{'usd': 0.02, 'tokens': 5000}}}}, got {steps!r}"
            )
        for path, value in steps.items():
            if not isinstance(path, str) or not path.strip("/"):
                raise BudgetError(f"steps: {path!r} is not a step path")
            step_limits[path] = _limit(value, f"steps[{path!r}]")
    return Budget(
        limit=Limit(
            usd=None if usd is None else _usd(usd, "usd"),
            tokens=None if tokens is None else _count(tokens, "tokens"),
        ),
        delta=allowance,
        steps=step_limits,
        runs_per_day=None if runs is None else _count(runs, "runs_per_day"),
        cache_drop=_cache_drop(cache),
    )


def _cache_drop(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_cache_drop(value)
    except ValueError as exc:
        raise BudgetError(f"cache_drop: {exc}") from None


@dataclass(frozen=True)
class Violation:
    """One limit a test went over."""

    step: str | None
    kind: str
    """``usd`` or ``tokens``."""
    limit: Decimal | int
    actual: Decimal | int

    def __str__(self) -> str:
        where = "LLM cost" if self.step is None else f"LLM cost of step {self.step}"
        if self.kind == "usd":
            return (
                f"{where} {short_money(Decimal(self.actual))} exceeds its budget of {short_money(Decimal(self.limit))}"
            )
        return f"{where} {self.actual:,} tokens exceeds its budget of {self.limit:,} tokens"


def _over(step: str | None, limit: Limit, usd: Decimal, tokens: int) -> list[Violation]:
    found = []
    if limit.usd is not None and usd > limit.usd:
        found.append(Violation(step, "usd", limit.usd, usd))
    if limit.tokens is not None and tokens > limit.tokens:
        found.append(Violation(step, "tokens", limit.tokens, tokens))
    return found


def check(budget: Budget, cost: TestCost) -> list[Violation]:
    """The limits ``cost`` goes over, test first then steps. A step limit covers its sub-steps."""
    from .baseline import book_of  # not at import: parsing a marker at collection needs none of it

    found = _over(None, budget.limit, cost.usd, cost.tokens.total)
    for path, limit in sorted(budget.steps.items()):
        book = book_of(cost, path, within=True)
        found += _over(path, limit, book.usd, book.tokens.total)
    return found


def unknown_steps(budget: Budget, cost: TestCost) -> list[str]:
    """The step paths ``budget`` limits that the test never ran (a typo, or a step renamed)."""
    ran = [record.step for record in cost.records if record.step is not None]
    return sorted(path for path in budget.steps if not any(step == path or step.startswith(path + "/") for step in ran))
