"""Why a cost moved: the causes add up to the change, each names its before and after."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pytest_llmcost.gate.allowance import parse_cache_drop
from pytest_llmcost.gate.baseline import Book, book_of
from pytest_llmcost.gate.explain import Profile, cache_drop, explain
from pytest_llmcost.pricing import RateCard
from pytest_llmcost.usage import Call, TestCost, Tokens

CARD = RateCard()


def _book(*calls: tuple[str, int, int, int], segments: tuple[tuple[str, int], ...] = ()) -> Book:
    """Calls of ``(model, input, cached, output)``, priced by the card, as a book."""
    records = []
    for seq, (model, input_, cached, output) in enumerate(calls):
        tokens = Tokens(input=input_, cached_input=cached, output=output)
        usd = CARD.price("openai", model, tokens).usd
        assert usd is not None
        records.append(Call(seq, None, "openai", model, tokens, usd, segments=segments))
    return book_of(TestCost.from_calls("t", records))


def _explain(base: Book, now: Book) -> tuple[list[str], Decimal, Decimal]:
    causes = explain(base, now, base.usd, now.usd, CARD)
    assert all(cause.usd is not None for cause in causes)
    total = sum((cause.usd or Decimal(0) for cause in causes), Decimal(0))
    return [cause.text for cause in causes], total, now.usd - base.usd


def test_a_longer_prompt_is_the_input_and_names_the_segment_that_grew() -> None:
    base = _book(("gpt-4o-mini", 238, 0, 50), ("gpt-4o-mini", 238, 0, 50), segments=(("system", 200), ("latest", 38)))
    now = _book(("gpt-4o-mini", 995, 0, 50), ("gpt-4o-mini", 995, 0, 50), segments=(("system", 200), ("latest", 795)))
    texts, total, delta = _explain(base, now)
    assert texts == ["input 238 -> 995 tokens per call (x4.2: latest message 38 -> 795, estimated)"]
    assert total == delta  # the causes add up to the change, to the last digit


def test_more_calls_a_model_switch_and_lost_cache_hits_each_get_their_share() -> None:
    base = _book(("gpt-4o-mini", 1000, 900, 50), ("gpt-4o-mini", 1000, 900, 50))
    now = _book(("gpt-4o", 1000, 0, 50), ("gpt-4o", 1000, 0, 50), ("gpt-4o", 1000, 0, 50))
    causes = explain(base, now, base.usd, now.usd, CARD)
    kinds = {cause.kind: cause for cause in causes}
    assert set(kinds) == {"model", "calls", "cache_read"}
    assert kinds["model"].text.startswith("model gpt-4o-mini -> gpt-4o")
    assert kinds["calls"].text == "calls 2 -> 3"
    assert kinds["cache_read"].text == "cache reads 90% -> 0% of input"
    assert all((cause.usd or 0) > 0 for cause in causes)
    assert sum((cause.usd or Decimal(0) for cause in causes), Decimal(0)) == now.usd - base.usd
    assert [abs(cause.usd or 0) for cause in causes] == sorted((abs(c.usd or 0) for c in causes), reverse=True)


def test_nothing_moved_explains_nothing() -> None:
    book = _book(("gpt-4o-mini", 100, 0, 10))
    assert explain(book, book, book.usd, book.usd, CARD) == ()


@pytest.mark.parametrize(
    ("base", "now", "drop"),
    [
        ((1000, 920), (1010, 0), Decimal("0.92")),  # the cache is gone
        ((1000, 920), (2000, 920), None),  # a longer prompt around the same cached prefix: no cache regression
        ((1000, 0), (1000, 0), None),  # never cached
        ((1000, 500), (1000, 700), None),  # more cached
    ],
)
def test_a_cache_drop_needs_fewer_cache_reads(
    base: tuple[int, int], now: tuple[int, int], drop: Decimal | None
) -> None:
    before = Profile(calls=1, tokens=Tokens(input=base[0], cached_input=base[1]))
    after = Profile(calls=1, tokens=Tokens(input=now[0], cached_input=now[1]))
    assert cache_drop(before, after) == drop


@pytest.mark.parametrize(
    ("text", "value"),
    [("10%", Decimal("0.1")), ("25 points", Decimal("0.25")), (5, Decimal("0.05")), ("off", Decimal(1))],
)
def test_allowed_cache_drop(text: object, value: Decimal) -> None:
    assert parse_cache_drop(text) == value


@pytest.mark.parametrize("text", ["ten", "150%", "-5%", True])
def test_allowed_cache_drop_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="allowed cache drop"):
        parse_cache_drop(text)


def test_the_baseline_keeps_prompt_segments_a_run_did_not_measure() -> None:
    """``llm-cost update-baseline`` from a run that measured no segments (nothing changed) keeps them."""
    from pytest_llmcost.gate.baseline import Baseline, update

    measured = TestCost.from_calls(
        "t",
        [
            Call(
                0,
                "s",
                "openai",
                "gpt-4o-mini",
                Tokens(input=100, output=5),
                Decimal("0.0001"),
                segments=(("latest", 97),),
            )
        ],
    )
    plain = TestCost.from_calls(
        "t", [Call(0, "s", "openai", "gpt-4o-mini", Tokens(input=100, output=5), Decimal("0.0001"))]
    )
    first, _ = update(Baseline(), {"t": measured})
    assert first.entries["t"].steps["s"].segments == {"latest": 97}
    again, summary = update(first, {"t": plain})
    assert again.entries["t"].steps["s"].segments == {"latest": 97}
    assert not summary.changed
    grown = TestCost.from_calls(
        "t", [Call(0, "s", "openai", "gpt-4o-mini", Tokens(input=200, output=5), Decimal("0.0002"))]
    )
    changed, _ = update(first, {"t": grown})
    assert changed.entries["t"].steps["s"].segments == {}  # other usage: the old parts no longer describe it
