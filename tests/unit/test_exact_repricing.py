"""The gate re-prices a baseline exactly as the meter priced it, whatever the mix of calls.

Long-context tiers apply per call: a baseline written from any calls to a tiered model, read
back and compared with the same calls, shows the metered cost to the last Decimal digit on both
sides and no price drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmcost.gate.allowance import parse_allowance
from pytest_llmcost.gate.baseline import Baseline, entry_of, load_baseline
from pytest_llmcost.gate.compare import compare
from pytest_llmcost.pricing import RateCard
from pytest_llmcost.usage import Call, TestCost, Tokens

WHEN = datetime(2026, 6, 1, tzinfo=UTC)
CARD = RateCard(when=WHEN)


def _tiered_models() -> list[tuple[str, str, int]]:
    """Every ``(provider, model, highest tier start)`` of the rate card with a long-context tier."""
    from genai_prices import data_snapshot

    found = []
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            prices = model.get_prices(WHEN)
            starts = [
                tier.start
                for value in vars(prices).values()
                if value is not None and hasattr(value, "tiers")
                for tier in value.tiers
            ]
            # Models the card finds by their own id (a few are only matched by the names APIs report).
            if starts and CARD.price(str(provider.id), str(model.id), Tokens(input=1)).usd is not None:
                found.append((str(provider.id), str(model.id), max(starts)))
    return sorted(found)


TIERED = _tiered_models()


def test_the_rate_card_has_tiered_models() -> None:
    """The property below draws from a real list: a card with no tiers would make it vacuous."""
    assert len(TIERED) > 20
    assert any(model.startswith("gemini-2.5-pro") for _, model, _ in TIERED)


@st.composite
def _calls(draw: Any) -> tuple[str, str, list[Tokens]]:
    provider, model, start = draw(st.sampled_from(TIERED))
    vectors = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        # Inputs on both sides of the tier, and right at its edge.
        total = draw(st.one_of(st.integers(0, 2 * start), st.sampled_from([start - 1, start, start + 1])))
        cached = draw(st.integers(0, total))
        written = draw(st.integers(0, total - cached))
        output = draw(st.integers(0, 64_000))
        reasoning = draw(st.integers(0, output))
        vectors.append(Tokens(total, cached, written, output, reasoning))
    return provider, model, vectors


@settings(max_examples=300, deadline=None)
@given(_calls())
def test_the_comparison_equals_the_metered_cost_for_any_mix_of_calls(drawn: tuple[str, str, list[Tokens]]) -> None:
    provider, model, vectors = drawn
    records = []
    for seq, tokens in enumerate(vectors):
        usd = CARD.price(provider, model, tokens).usd
        assert usd is not None, (provider, model)
        records.append(Call(seq, "step" if seq % 2 else None, provider, model, tokens, usd))
    cost = TestCost.from_calls("t.py::test", records)

    # Through the file and back, as a committed baseline is read by the next run.
    path = _tmp() / "baseline.json"
    Baseline(entries={"t.py::test": entry_of(cost)}).write(path)
    entry = load_baseline(path).entries["t.py::test"]

    comparison = compare("t.py::test", entry, cost, CARD, parse_allowance("0%"), Decimal(0))
    assert comparison.total.now_usd == cost.usd
    assert comparison.total.base_usd == cost.usd
    assert comparison.drift_usd == 0
    assert not comparison.regressed
    for delta in comparison.steps:
        assert delta.base_usd == delta.now_usd


def test_calls_across_a_tier_are_not_averaged() -> None:
    """Two calls of 199k tokens cost less than 1k + 397k: the second lands in the long-context tier."""
    provider, model = "google", "gemini-2.5-pro"

    def cost_of(*inputs: int) -> TestCost:
        calls = []
        for seq, tokens_in in enumerate(inputs):
            tokens = Tokens(input=tokens_in, output=100)
            usd = CARD.price(provider, model, tokens).usd
            assert usd is not None
            calls.append(Call(seq, None, provider, model, tokens, usd))
        return TestCost.from_calls("t.py::test", calls)

    before, after = cost_of(199_000, 199_000), cost_of(1_000, 397_000)
    assert before.tokens == after.tokens
    comparison = compare("t.py::test", entry_of(before), after, CARD, parse_allowance("5%"), Decimal(0))
    assert comparison.total.base_usd == before.usd
    assert comparison.total.now_usd == after.usd > before.usd * Decimal("1.5")
    assert comparison.regressed
    assert comparison.drift_usd == 0


_TMP: list[Path] = []


def _tmp() -> Path:
    if not _TMP:
        import tempfile

        _TMP.append(Path(tempfile.mkdtemp(prefix="llm-cost-reprice-")))
    return _TMP[0]


@pytest.fixture(scope="module", autouse=True)
def _clean_tmp() -> Any:
    yield
    import shutil

    for path in _TMP:
        shutil.rmtree(path, ignore_errors=True)
