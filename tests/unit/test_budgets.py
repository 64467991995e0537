"""``cost_budget`` arguments and limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pytest_llmcost.gate.budgets import BudgetError, Limit, check, parse_budget
from pytest_llmcost.usage import Call, TestCost, Tokens


def test_positional_usd_and_every_keyword() -> None:
    budget = parse_budget((0.05,), {"tokens": 5000, "delta": "10%", "steps": {"synthesis": 0.02}, "runs_per_day": 10})
    assert budget.limit == Limit(usd=Decimal("0.05"), tokens=5000)
    assert budget.delta is not None
    assert budget.delta.ratio == Decimal("0.1")
    assert budget.steps == {"synthesis": Limit(usd=Decimal("0.02"))}
    assert budget.runs_per_day == 10
    assert parse_budget((), {"usd": "$0.10"}).limit.usd == Decimal("0.10")
    assert parse_budget((), {"steps": {"s": {"tokens": 10}}}).steps["s"] == Limit(tokens=10)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "needs at least one limit"),
        ((1, 2), {}, "takes at most one positional argument"),
        ((1,), {"usd": 1}, "usd given both by position and by name"),
        ((), {"usd": True}, "usd must be a number of US dollars, got True"),
        ((), {"usd": float("nan")}, "usd must be a number of US dollars >= 0"),
        ((), {"tokens": -1}, "tokens must be a whole number >= 0, got -1"),
        ((), {"delta": "twice"}, "delta: 'twice' in 'twice' is not an allowed delta"),
        ((), {"steps": {}}, "steps must map step paths to limits"),
        ((), {"steps": {"": 1}}, "steps: '' is not a step path"),
        ((), {"steps": {"s": {}}}, "steps['s'] needs 'usd' or 'tokens'"),
        ((), {"runs_per_day": 1.5}, "runs_per_day must be a whole number"),
        ((), {"budget": 1}, "unknown argument 'budget'"),
    ],
)
def test_invalid_arguments_say_what_is_wrong(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BudgetError) as excinfo:
        parse_budget(args, kwargs)
    assert message in str(excinfo.value)


def _cost() -> TestCost:
    def call(seq: int, step: str | None, usd: str, tokens: int) -> Call:
        return Call(seq, step, "openai", "gpt-4o", Tokens(input=tokens), Decimal(usd))

    return TestCost.from_calls(
        "t.py::test",
        [call(0, "research/search", "0.01", 100), call(1, "research", "0.01", 100), call(2, "synthesis", "0.03", 50)],
    )


def test_check_reports_every_limit_passed_and_step_limits_cover_sub_steps() -> None:
    budget = parse_budget((0.04,), {"tokens": 300, "steps": {"research": 0.015, "synthesis": {"tokens": 60}}})
    violations = [str(v) for v in check(budget, _cost())]
    assert violations == [
        "LLM cost $0.05 exceeds its budget of $0.04",
        "LLM cost of step research $0.02 exceeds its budget of $0.015",
    ]
    assert check(parse_budget((1,), {}), _cost()) == []
