"""The value types: token vectors, calls, per-test totals and their JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pytest_llmcost.usage import Call, TestCost, Tokens, format_usd


def test_tokens_add_and_sum() -> None:
    a = Tokens(input=10, cached_input=4, cache_write=2, output=5, reasoning=1)
    b = Tokens(input=1, output=2)
    assert a + b == Tokens(input=11, cached_input=4, cache_write=2, output=7, reasoning=1)
    assert sum([a, b]) == a + b
    assert Tokens.sum([]) == Tokens()
    assert a.uncached_input == 4
    assert a.total == 15
    assert not Tokens()
    assert a


def test_tokens_json_round_trip_and_validation() -> None:
    tokens = Tokens(input=3, output=4, reasoning=1)
    assert Tokens.from_json(tokens.to_json()) == tokens
    assert list(tokens.to_json()) == ["input", "cached_input", "cache_write", "output", "reasoning"]
    with pytest.raises(ValueError, match="unknown token kind 'inputs'"):
        Tokens.from_json({"inputs": 1})
    with pytest.raises(ValueError, match="'output' must be a whole number >= 0, got -1"):
        Tokens.from_json({"output": -1})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.000219"), "0.000219"),
        (Decimal("2.19E-4"), "0.000219"),
        (Decimal("1.500"), "1.5"),
        (Decimal(0), "0"),
        (Decimal("0.0000"), "0"),
        (Decimal("12"), "12"),
    ],
)
def test_format_usd_is_exact_and_has_no_exponent(value: Decimal, text: str) -> None:
    assert format_usd(value) == text
    assert Decimal(text) == value


def _call(seq: int, step: str | None, usd: str, tokens: Tokens, **kw: object) -> Call:
    return Call(seq=seq, step=step, provider="openai", model="gpt-4o", tokens=tokens, usd=Decimal(usd), **kw)  # type: ignore[arg-type]


def test_test_cost_totals_per_step_and_counts_interactions_once() -> None:
    records = [
        _call(0, "plan", "0.001", Tokens(input=10, output=2)),
        _call(1, "research/search", "0.002", Tokens(input=20, output=4)),
        _call(1, "research/search", "0.003", Tokens(input=5, output=1), part="advisor_message"),
        _call(2, None, "0.0005", Tokens(input=1), estimated=True),
    ]
    cost = TestCost.from_calls("t.py::test", records)
    assert cost.usd == Decimal("0.0065")
    assert cost.calls == 3
    assert cost.estimated == 1
    assert cost.steps["research/search"].calls == 1
    assert cost.steps["research/search"].usd == Decimal("0.005")
    assert "plan" in cost.steps
    assert None not in cost.steps
    round_trip = TestCost.from_json("t.py::test", cost.to_json())
    assert round_trip == cost
    assert cost.to_json()["usd"] == "0.0065"
