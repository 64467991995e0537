"""The shortcuts of the per-test work under ``--llm-cost`` give exactly what the long way gives."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmcost.gate.baseline import Book, book_of, books_of
from pytest_llmcost.pricing import RateCard, card
from pytest_llmcost.usage import Call, Dims, TestCost, Tokens

WHEN = datetime(2026, 6, 1, tzinfo=UTC)
MODELS = (("openai", "gpt-4o-mini"), ("anthropic", "claude-haiku-4-5"), ("google", "gemini-2.5-flash"))

_tokens = st.builds(
    Tokens,
    input=st.integers(0, 300_000),
    output=st.integers(0, 5_000),
)


@st.composite
def _costs(draw: st.DrawFn) -> TestCost:
    """Calls in and out of (nested) steps, multi-line interactions, unbilled attempts, fees, segments."""
    records = []
    for seq in range(draw(st.integers(0, 8))):
        provider, model = draw(st.sampled_from(MODELS))
        step = draw(st.sampled_from([None, "plan", "research", "research/search"]))
        for part in range(draw(st.integers(1, 2))):
            kind = draw(st.sampled_from(["call", "call", "attempt", "fee"]))
            records.append(
                Call(
                    seq=seq,
                    step=step,
                    provider="api.search.example" if kind == "fee" else provider,
                    model="search" if kind == "fee" else model,
                    tokens=Tokens() if kind == "fee" else draw(_tokens),
                    usd=Decimal(draw(st.integers(0, 10_000))) / 10**6,
                    part=f"part{part}" if part else None,
                    requests=1 if kind == "fee" else 0,
                    billed=kind != "attempt",
                    dims=Dims.of(web_searches=draw(st.integers(0, 2))),
                    service_tier=draw(st.sampled_from([None, None, "flex"])),
                    segments=(("system", 10), ("latest", seq)) if draw(st.booleans()) else (),
                )
            )
    return TestCost.from_calls("t.py::test", records)


@settings(max_examples=300, deadline=None)
@given(_costs())
def test_books_of_one_pass_equals_book_of_each_step(cost: TestCost) -> None:
    """A comparison builds the test's and every step's usage in one go: the same books, step by step."""
    total, steps = books_of(cost)
    assert total == book_of(cost)
    assert steps.keys() == cost.steps.keys()
    for path, book in steps.items():
        assert book == book_of(cost, path)
    assert book_of(cost, "never-ran") == Book()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODELS), _tokens, st.sampled_from([None, "flex"]), st.integers(0, 3))
def test_a_price_kept_for_a_usage_is_the_price_computed_afresh(
    model: tuple[str, str], tokens: Tokens, tier: str | None, searches: int
) -> None:
    """The rate card keeps each usage's price: asked again, and asked of a new card, the same Price."""
    kept = RateCard(when=WHEN)
    dims = Dims.of(web_searches=searches)
    first = kept.price(*model, tokens, dims, tier)
    assert kept.price(*model, tokens, dims, tier) is first
    assert first == RateCard(when=WHEN).price(*model, tokens, dims, tier)
    assert first.usd is not None


def test_the_kept_prices_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(card, "PRICES_KEPT", 3)
    priced = RateCard(when=WHEN)
    fresh = RateCard(when=WHEN)
    for count in range(1, 10):
        usage = Tokens(input=count, output=count)
        assert priced.price("openai", "gpt-4o-mini", usage) == fresh.price("openai", "gpt-4o-mini", usage)
    assert len(priced._prices) == 3
    # Past the bound, prices are still computed, only not kept.
    usage = Tokens(input=9, output=9)
    assert priced.price("openai", "gpt-4o-mini", usage) == fresh.price("openai", "gpt-4o-mini", usage)
    assert len(priced._prices) == 3
