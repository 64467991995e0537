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
from pytest_llmcost.gate.compare import Comparison, compare
from pytest_llmcost.pricing import RateCard
from pytest_llmcost.usage import Call, Dims, TestCost, Tokens

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


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the baselines of this module go (module-scoped: the property tests draw many examples)."""
    return tmp_path_factory.mktemp("baselines")


def _reread(cost: TestCost, card: RateCard, path: Path) -> tuple[Comparison, str]:
    """``cost`` written to ``path`` as a baseline and read back, as the next run reads it, then
    compared with ``cost`` itself at ``card``'s prices; and the file's text."""
    Baseline(entries={"t.py::test": entry_of(cost)}).write(path)
    entry = load_baseline(path).entries["t.py::test"]
    return compare("t.py::test", entry, cost, card, parse_allowance("0%"), Decimal(0)), path.read_text()


def _assert_exact(comparison: Comparison, cost: TestCost) -> None:
    """Both sides are the metered cost to the last digit, step by step, and no drift is invented."""
    assert comparison.total.now_usd == cost.usd
    assert comparison.total.base_usd == cost.usd
    assert comparison.drift_usd == 0
    assert not comparison.regressed
    for delta in comparison.steps:
        assert delta.base_usd == delta.now_usd


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
def test_the_comparison_equals_the_metered_cost_for_any_mix_of_calls(
    folder: Path, drawn: tuple[str, str, list[Tokens]]
) -> None:
    provider, model, vectors = drawn
    records = []
    for seq, tokens in enumerate(vectors):
        usd = CARD.price(provider, model, tokens).usd
        assert usd is not None, (provider, model)
        records.append(Call(seq, "step" if seq % 2 else None, provider, model, tokens, usd))
    cost = TestCost.from_calls("t.py::test", records)

    _assert_exact(_reread(cost, CARD, folder / "baseline.json")[0], cost)


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


# -- service tiers and billed dimensions ------------------------------------------------------

#: After genai-prices' dated tier prices (flex, priority, batch) take effect.
LATER = RateCard(when=datetime(2026, 11, 1, tzinfo=UTC))

#: Models whose price depends on a tier or a billed dimension, with the tiers and dimensions drawn.
_PRICED_EXTRAS = [
    ("openai", "o3", ("flex", "priority", "batch", "scale"), ("web_searches", "storage_searches")),
    ("openai", "gpt-4o", ("priority", "batch"), ("web_searches",)),
    ("openai", "gpt-realtime", (), ("input_audio_tokens", "output_audio_tokens", "input_image_tokens")),
    ("anthropic", "claude-sonnet-4-5", ("batch", "priority"), ("cache_write_1h_tokens", "web_searches")),
    ("google", "gemini-2.0-flash", ("batch",), ("input_audio_tokens", "cache_audio_read_tokens", "web_searches")),
    ("google", "gemini-2.5-pro", ("batch",), ("web_searches",)),
    ("cohere", "command-a", (), ("billed_input_tokens",)),
]


@st.composite
def _extra_calls(draw: Any) -> tuple[str, str, list[tuple[Tokens, Dims, str | None]]]:
    provider, model, tiers, keys = draw(st.sampled_from(_PRICED_EXTRAS))
    calls = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        total = draw(st.integers(0, 400_000))
        cached = draw(st.integers(0, total))
        written = draw(st.integers(0, total - cached))
        output = draw(st.integers(0, 20_000))
        counts = {}
        for key in draw(st.lists(st.sampled_from(keys), unique=True)):
            if key == "cache_write_1h_tokens":
                counts[key] = draw(st.integers(0, written))
            elif key == "cache_audio_read_tokens":
                counts[key] = draw(st.integers(0, cached))
            elif key in ("input_audio_tokens", "input_image_tokens"):
                counts[key] = draw(st.integers(0, max(0, total - cached - written)))
            elif key == "output_audio_tokens":
                counts[key] = draw(st.integers(0, output))
            else:
                counts[key] = draw(st.integers(0, 200))
        if "input_audio_tokens" in counts and "input_image_tokens" in counts:
            counts["input_image_tokens"] = min(
                counts["input_image_tokens"], total - cached - written - counts["input_audio_tokens"]
            )
        tier = draw(st.sampled_from((None, *tiers)))
        calls.append((Tokens(total, cached, written, output, 0), Dims.from_counts(counts), tier))
    return provider, model, calls


@settings(max_examples=150, deadline=None)
@given(_extra_calls())
def test_tiers_and_billed_dimensions_are_re_priced_exactly(
    folder: Path, drawn: tuple[str, str, list[tuple[Tokens, Dims, str | None]]]
) -> None:
    """Each call's dimensions and tier travel in ``per_call``: the baseline re-prices to the metered cost."""
    provider, model, calls = drawn
    records = []
    for seq, (tokens, dims, tier) in enumerate(calls):
        usd = LATER.price(provider, model, tokens, dims, tier).usd
        assert usd is not None, (provider, model)
        records.append(
            Call(seq, "step" if seq % 2 else None, provider, model, tokens, usd, dims=dims, service_tier=tier)
        )
    cost = TestCost.from_calls("t.py::test", records)

    _assert_exact(_reread(cost, LATER, folder / "baseline-extras.json")[0], cost)


def test_a_tier_changes_the_price_and_survives_the_file(folder: Path) -> None:
    """One flex call: the file keeps its tier after the counts, and the re-priced total is the flex price."""
    tokens = Tokens(input=1_000_000, output=1_000_000)
    card = LATER
    flex = card.price("openai", "o3", tokens, tier="flex").usd
    default = card.price("openai", "o3", tokens).usd
    assert flex is not None
    assert default is not None
    assert flex < default
    cost = TestCost.from_calls("t.py::test", [Call(0, None, "openai", "o3", tokens, flex, service_tier="flex")])
    comparison, raw = _reread(cost, card, folder / "baseline-flex.json")
    assert '"tier":"flex"' in raw
    assert comparison.total.base_usd == flex
