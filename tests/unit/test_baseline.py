"""The baseline as pure functions: allowances, books, comparisons at one price, updates."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from pytest_llmcost.files import FileFormatError, dump_json_lines
from pytest_llmcost.gate.allowance import Allowance, parse_allowance
from pytest_llmcost.gate.baseline import Baseline, book_of, entry_of, load_baseline, price_book, update
from pytest_llmcost.gate.compare import compare
from pytest_llmcost.pricing import LocalPrices, RateCard, RequestFee
from pytest_llmcost.usage import Call, TestCost, Tokens

CARD = RateCard()


def _cost(nodeid: str = "t.py::test", *calls: tuple[str | None, str, int, int]) -> TestCost:
    """Calls as ``(step, model, input tokens, output tokens)``, priced by genai-prices like the meter does."""
    records = []
    for seq, (step, model, tokens_in, tokens_out) in enumerate(calls):
        tokens = Tokens(input=tokens_in, output=tokens_out)
        usd = CARD.price("openai", model, tokens).usd
        assert usd is not None
        records.append(Call(seq=seq, step=step, provider="openai", model=model, tokens=tokens, usd=usd))
    return TestCost.from_calls(nodeid, records)


@pytest.mark.parametrize(
    ("text", "ratio", "usd", "tokens"),
    [
        ("10%", Decimal("0.1"), None, None),
        ("2.5 %", Decimal("0.025"), None, None),
        ("0.1", Decimal("0.1"), None, None),
        (0.1, Decimal("0.1"), None, None),
        ("$0.002", None, Decimal("0.002"), None),
        ("500 tokens", None, None, 500),
        ("1,000 tokens", None, None, 1000),
        ("5% + $0.001 + 200 tokens", Decimal("0.05"), Decimal("0.001"), 200),
    ],
)
def test_parse_allowance(text: object, ratio: Decimal | None, usd: Decimal | None, tokens: int | None) -> None:
    allowance = parse_allowance(text)
    assert (allowance.ratio, allowance.usd, allowance.tokens) == (ratio, usd, tokens)
    assert str(allowance) == str(text).strip()


@pytest.mark.parametrize("text", ["", "lots", "10", "5% +", "$", "-5%", "5%, $1", True, None, [1]])
def test_parse_allowance_rejects_nonsense(text: object) -> None:
    with pytest.raises(ValueError, match="is not an allowed delta"):
        parse_allowance(text)


def test_the_largest_allowance_wins() -> None:
    """A change fails only when it is over every allowance given."""
    allowance = parse_allowance("10% + $0.01")
    base = Decimal("0.05")
    assert not allowance.exceeded(Decimal("0.005"), base, 0)  # within 10%
    assert not allowance.exceeded(Decimal("0.009"), base, 0)  # over 10%, within $0.01
    assert allowance.exceeded(Decimal("0.011"), base, 0)
    assert not allowance.exceeded(Decimal("-1"), base, 0)
    assert not Allowance(tokens=100).exceeded(Decimal(1), base, 100)
    assert Allowance(tokens=100).exceeded(Decimal(1), base, 101)


def test_book_of_groups_by_model_and_step() -> None:
    cost = _cost(
        "t.py::test",
        ("plan", "gpt-4o-mini", 100, 10),
        ("research/search", "gpt-4o", 200, 20),
        ("research", "gpt-4o", 300, 30),
        (None, "gpt-4o", 50, 5),
    )
    total = book_of(cost)
    assert total.calls == 4
    assert total.models[("openai", "gpt-4o")].tokens == Tokens(input=550, output=55)
    assert total.models[("openai", "gpt-4o")].calls == 3
    assert book_of(cost, "research").calls == 1
    assert book_of(cost, "research", within=True).calls == 2
    assert book_of(cost, "research", within=True).tokens == Tokens(input=500, output=50)
    assert book_of(cost, "res", within=True).calls == 0  # prefixes are whole step names
    assert price_book(total, CARD) == (cost.usd, True)


def test_identical_usage_compares_equal_and_a_grown_step_is_named() -> None:
    before = _cost("t.py::test", ("plan", "gpt-4o", 1000, 10), ("synthesize", "gpt-4o", 1000, 10))
    after = _cost("t.py::test", ("plan", "gpt-4o", 500, 10), ("synthesize", "gpt-4o", 1500, 10))
    entry = entry_of(before)
    same = compare("t.py::test", entry, before, CARD, parse_allowance("5%"), Decimal(0))
    assert not same.regressed
    assert not same.improved
    moved = compare("t.py::test", entry, after, CARD, parse_allowance("5%"), Decimal(0))
    assert moved.total.delta_usd == 0
    assert [delta.path for delta in moved.regressions] == ["synthesize"]
    assert moved.regressions[0].delta_ratio == Decimal("1250") / Decimal("2600")


def test_noise_floor_lets_tiny_increases_through() -> None:
    before = _cost("t.py::test", (None, "gpt-4o-mini", 10, 1))
    after = _cost("t.py::test", (None, "gpt-4o-mini", 20, 1))
    entry = entry_of(before)
    assert compare("t.py::test", entry, after, CARD, parse_allowance("5%"), Decimal(0)).regressed
    assert not compare("t.py::test", entry, after, CARD, parse_allowance("5%"), Decimal("0.0001")).regressed


def test_new_steps_are_reported_but_never_fail() -> None:
    before = _cost("t.py::test", ("plan", "gpt-4o", 1000, 10))
    after = _cost("t.py::test", ("plan", "gpt-4o", 1000, 10), ("review", "gpt-4o-mini", 10, 1))
    comparison = compare("t.py::test", entry_of(before), after, CARD, parse_allowance("50%"), Decimal(0))
    review = [delta for delta in comparison.steps if delta.path == "review"]
    assert review[0].base_usd is None
    assert review[0].allowed


def test_price_drift_is_the_baselines_usage_repriced() -> None:
    cost = _cost("t.py::test", (None, "gpt-4o", 1_000_000, 0))
    entry = entry_of(cost)
    dearer = RateCard(local=LocalPrices(models=(_local("gpt-4o", "5", "10"),)))
    comparison = compare("t.py::test", entry, cost, dearer, parse_allowance("5%"), Decimal(0))
    assert comparison.drift_usd == Decimal("2.5")  # $2.50 then, $5 now
    assert not comparison.regressed


def _local(pattern: str, input_usd: str, output_usd: str) -> object:
    from pytest_llmcost.pricing import LocalModelPrice

    return LocalModelPrice(pattern=pattern, input=Decimal(input_usd), output=Decimal(output_usd))


def test_request_fees_are_repriced_by_name() -> None:
    fee = RequestFee(pattern="https://search.example/*", usd=Decimal("0.008"), name="web-search")
    record = Call(
        seq=0, step="research", provider="search.example", model="web-search", tokens=Tokens(), usd=fee.usd, requests=1
    )
    cost = TestCost.from_calls("t.py::test", [record, record])
    book = book_of(cost)
    assert book.calls == 0
    card = RateCard(local=LocalPrices(requests=(RequestFee(fee.pattern, Decimal("0.01"), "web-search"),)))
    assert price_book(book, card) == (Decimal("0.02"), True)
    assert price_book(book, CARD) == (Decimal("0.016"), True)  # fee gone: the written price stands


def test_update_adds_changes_removes_and_keeps_the_rest() -> None:
    a = _cost("t.py::a", (None, "gpt-4o", 10, 1))
    b = _cost("t.py::b", (None, "gpt-4o", 10, 1))
    c = _cost("t.py::c", (None, "gpt-4o", 10, 1))
    baseline, summary = update(Baseline(), {"t.py::a": a, "t.py::b": b})
    assert str(summary) == "2 added, 0 changed, 0 removed"
    b2 = _cost("t.py::b", (None, "gpt-4o", 20, 1))
    new, summary = update(baseline, {"t.py::b": b2, "t.py::c": c}, prune=["t.py::a", "t.py::gone"])
    assert (summary.added, summary.changed, summary.removed) == (("t.py::c",), ("t.py::b",), ("t.py::a",))
    assert sorted(new.entries) == ["t.py::b", "t.py::c"]
    same, summary = update(new, {"t.py::b": b2})
    assert not summary.any
    assert same.to_json() == new.to_json()
    empty = TestCost("t.py::d")
    assert not update(new, {"t.py::d": empty})[1].any


def test_an_indented_baseline_from_an_earlier_version_is_read_as_it_was(tmp_path: Path) -> None:
    """Earlier versions wrote the baseline indented: the same JSON, read the same way."""
    cost = _cost("t.py::test", ("plan", "gpt-4o", 1000, 10), (None, "gpt-4o-mini", 5, 5))
    baseline, _ = update(Baseline(), {"t.py::test": cost})
    path = tmp_path / "llm-cost-baseline.json"
    path.write_text(json.dumps(baseline.to_json(), indent=2, sort_keys=True) + "\n")
    assert load_baseline(path).to_json() == baseline.to_json()


def test_baseline_round_trips_through_its_file(tmp_path: Path) -> None:
    cost = _cost("t.py::test", ("plan", "gpt-4o", 1000, 10), (None, "gpt-4o-mini", 5, 5))
    baseline, _ = update(Baseline(), {"t.py::test": cost})
    path = tmp_path / "llm-cost-baseline.json"
    baseline.write(path)
    text = path.read_text()
    assert text.endswith("}\n")
    assert text == dump_json_lines(json.loads(text), lines=("tests",))  # one test per line, sorted, compact
    assert [line.split('":', 1)[0] for line in text.splitlines() if line.startswith('"t.py::')] == ['"t.py::test']
    loaded = load_baseline(path)
    assert loaded.exists
    assert loaded.to_json() == baseline.to_json()
    assert not load_baseline(tmp_path / "absent.json").exists


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "not an llm-cost baseline (no 'format')"),
        ('{"format": 3}', "baseline format 3 is not supported"),
        ('{"format": 1, "tests": []}', "tests: expected an object of test ids"),
        (
            '{"format": 1, "tests": {"t": {"models": {"openai": {"m": {"tokens": {"input": -1}}}}}}}',
            "t.models.openai.m",
        ),
        ('{"format": 1, "tests": {"t": {"steps": []}}}', "t.steps: expected an object of step paths"),
        ("{", "is not valid JSON"),
    ],
)
def test_unreadable_baseline_names_the_file_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "llm-cost-baseline.json"
    path.write_text(text)
    with pytest.raises(FileFormatError) as excinfo:
        load_baseline(path)
    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)
