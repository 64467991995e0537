"""The rate card: genai-prices through our fast path, the local price file, and unpriced models."""

from __future__ import annotations

import random
import warnings
from decimal import Decimal
from pathlib import Path

import pytest

from pytest_llmcost.pricing.card import (
    PriceFileError,
    RateCard,
    _FastPrice,
    _Resolved,
    load_local_prices,
    rate_card_label,
    unpriced_snippet,
)
from pytest_llmcost.usage import Tokens


def test_fast_path_matches_genai_prices_for_every_bundled_model() -> None:
    """Our reduced calculation gives genai-prices' own figures, tiers and per-request fees included."""
    from genai_prices import data_snapshot

    card = RateCard()
    rng = random.Random(7)
    checked = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            fast = _FastPrice.build(model.get_prices(card.when))
            if fast is None:
                continue
            for _ in range(3):
                total = rng.choice([0, 12, 4_000, 150_000, 250_000, 1_200_000])
                cached = rng.randint(0, total // 2)
                written = rng.randint(0, (total - cached) // 2)
                tokens = Tokens(input=total, cached_input=cached, cache_write=written, output=rng.randint(0, 9_000))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    expected = card._slow_usd(_Resolved(provider.id, model.id, None, (provider, model)), tokens)
                assert fast.usd(tokens) == expected, (provider.id, model.id, tokens)
                checked += 1
    assert checked > 3000


def test_openai_price_counts_cached_tokens_at_the_cache_rate() -> None:
    """gpt-4o: $2.50/M input, $1.25/M cached input, $10/M output."""
    card = RateCard()
    price = card.price("openai", "gpt-4o-2024-08-06", Tokens(input=1_000, cached_input=200, output=100))
    assert price.usd == Decimal("0.00325")  # 800 * 2.5 + 200 * 1.25 + 100 * 10, per million
    assert price.source == "genai-prices"
    assert price.model_id == "gpt-4o"


def test_anthropic_long_context_tier_depends_on_the_calls_own_input() -> None:
    """claude-sonnet-4-5 doubles its input rate above 200k input tokens, per call."""
    card = RateCard()
    small = card.price("anthropic", "claude-sonnet-4-5-20250929", Tokens(input=200_000))
    large = card.price("anthropic", "claude-sonnet-4-5-20250929", Tokens(input=200_001))
    assert small.usd == Decimal("0.6")  # 200,000 x $3/M
    assert large.usd == Decimal("1.200006")  # 200,001 x $6/M


def test_unknown_model_is_unpriced_never_zero() -> None:
    price = RateCard().price("openai", "acme-large-2", Tokens(input=10, output=10))
    assert price.usd is None
    assert price.source == "unpriced"


def test_no_model_is_unpriced() -> None:
    assert RateCard().price("openai", None, Tokens(input=1)).usd is None


def test_provider_from_host_beats_the_wire_format() -> None:
    """An Azure host prices as azure even though it speaks OpenAI's format; loopback falls back."""
    card = RateCard()
    azure = "https://acme.openai.azure.com/openai/deployments/x/chat/completions"
    assert card.provider_for("acme.openai.azure.com", azure, "openai") == "azure"
    assert card.provider_for("api.groq.com", "https://api.groq.com/openai/v1/chat/completions", "openai") == "groq"
    assert card.provider_for("127.0.0.1", "http://127.0.0.1:9/v1/chat/completions", "openai") == "openai"
    gemini = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    assert card.provider_for("generativelanguage.googleapis.com", gemini, "google") == "google"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "llm-cost-prices.yaml"
    path.write_text(text)
    return path


def test_local_file_adds_a_model_and_wins_over_genai_prices(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
version: 1
models:
  acme-large-*:
    input: 1.00
    cached_input: 0.10
    output: 4
  gpt-4o-mini:
    provider: openai
    input: "100"
    output: "100"
""",
    )
    card = RateCard(local=load_local_prices(path))
    acme = card.price("openai", "acme-large-2", Tokens(input=1_000_000, cached_input=500_000, output=250_000))
    assert acme.usd == Decimal("1.55")  # 0.5 + 0.05 + 1.0
    assert acme.source == "local"
    override = card.price("openai", "gpt-4o-mini", Tokens(input=10_000))
    assert override.usd == Decimal(1)
    # The override is for openai only: the same name elsewhere keeps genai-prices' price.
    assert card.price("azure", "gpt-4o-mini", Tokens(input=10_000)).source == "genai-prices"
    assert card.describe()["local_prices"]["path"] == "llm-cost-prices.yaml"
    assert len(card.describe()["local_prices"]["sha256"]) == 64
    assert "llm-cost-prices.yaml (sha256 " in rate_card_label(card.describe())


def test_local_file_charges_requests_by_url_pattern(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
requests:
  - match: "https://api.search.example.com/*"
    usd: 0.008
    name: web-search
""",
    )
    local = load_local_prices(path)
    fee = local.request_fee("https://api.search.example.com/v1/search?q=llm&key=secret")
    assert fee is not None
    assert fee.usd == Decimal("0.008")
    assert fee.name == "web-search"
    assert local.request_fee("https://example.org/v1/search") is None


def test_absent_local_file_is_empty(tmp_path: Path) -> None:
    local = load_local_prices(tmp_path / "missing.yaml")
    assert local.path is None
    assert local.models == ()
    assert local.requests == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [1, 2]", "'models' must map a model name to its prices"),
        ("models:\n  x:\n    input: 1\n", "models.x needs 'output'"),
        (
            "models:\n  x:\n    input: cheap\n    output: 1\n",
            "models.x.input must be a number of US dollars, got 'cheap'",
        ),
        ("models:\n  x:\n    input: -1\n    output: 1\n", "models.x.input must be a number of US dollars >= 0"),
        ("models:\n  x:\n    input: 1\n    outptu: 1\n    output: 1\n", "models.x has unknown key 'outptu'"),
        ("requests:\n  - usd: 1\n", "requests[0] needs 'match'"),
        ("version: 2\n", "version 2 is not supported"),
        ("pricing: {}\n", "unknown key 'pricing'"),
        ("models: {x: [\n", "not valid YAML"),
    ],
)
def test_bad_local_file_names_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PriceFileError) as excinfo:
        load_local_prices(path)
    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)


def test_unpriced_snippet_is_valid_yaml_that_prices_the_model(tmp_path: Path) -> None:
    snippet = unpriced_snippet("acme:large v2", "openai")
    path = _write(tmp_path, snippet)
    card = RateCard(local=load_local_prices(path))
    assert card.price("openai", "acme:large v2", Tokens(input=5)).usd == Decimal(0)
    assert card.price("openai", "acme:large v2", Tokens(input=5)).source == "local"


def test_a_memo_prices_the_next_run_without_genai_prices() -> None:
    """What one run resolved is plain JSON the next run prices from, to the same figures."""
    import json

    first = RateCard()
    tokens = Tokens(input=300_000, cached_input=1_000, cache_write=500, output=100)
    expected = first.price("anthropic", "claude-sonnet-4-5-20250929", tokens)
    assert first.price("openai", "acme-large-2", tokens).usd is None
    assert first.provider_for("api.openai.com", "https://api.openai.com/v1/chat/completions", "x") == "openai"
    memo = json.loads(json.dumps(first.memo()))

    second = RateCard(memo_in=memo, when=first.when)
    assert second.memo() is None  # nothing new was learned...
    assert second.price("anthropic", "claude-sonnet-4-5-20250929", tokens) == expected
    assert second.price("openai", "acme-large-2", tokens).usd is None
    assert second.provider_for("api.openai.com", "https://api.openai.com/v1/chat/completions", "x") == "openai"
    assert second.memo() is None  # ...and nothing was looked up again

    other_day = RateCard(memo_in=memo, when=first.when.replace(year=first.when.year + 1))
    assert other_day._models == {}  # a memo is only good for the day and version it was made on
    damaged = RateCard(memo_in={**memo, "models": {"openai\tx": {"provider": "openai"}}}, when=first.when)
    assert damaged._models == {}
