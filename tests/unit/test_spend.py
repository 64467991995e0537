"""The run's recording spend, shared by pytest-xdist workers through a folder."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pytest_llmcost.gate.spend import RunSpend


def test_one_process_counts_its_own_tests_and_the_one_in_flight() -> None:
    spend = RunSpend()
    spend.add(Decimal("0.25"))
    spend.add(Decimal("0.5"))
    assert spend.total() == Decimal("0.75")
    assert spend.total(Decimal("0.1")) == Decimal("0.85")
    assert spend.total() == Decimal("0.75")  # what was in flight is not kept


def test_workers_see_each_others_spend_including_tests_in_flight(tmp_path: Path) -> None:
    gw0, gw1 = RunSpend(tmp_path, "gw0"), RunSpend(tmp_path, "gw1")
    gw0.add(Decimal("0.003"))
    assert gw1.total() == Decimal("0.003")
    assert gw1.total(Decimal("0.002")) == Decimal("0.005")
    # gw1's test in flight shows in gw0's view until gw1 publishes again.
    assert gw0.total(Decimal("0.001")) == Decimal("0.006")
    gw1.add(Decimal("0.004"))
    assert gw0.total() == Decimal("0.007")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gw0.usd", "gw1.usd"]


def test_an_unreadable_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "gw9.usd").write_text("not a number\n")
    spend = RunSpend(tmp_path, "gw0")
    spend.add(Decimal("1"))
    assert spend.total() == Decimal("1")


def test_worst_case_reads_the_model_and_the_output_limit() -> None:
    """Input bounded by the body's size, output by the request's own limit (Gemini's nested one too)."""
    from pytest_llmcost.providers.estimate import DEFAULT_MAX_OUTPUT, provider_hint, worst_case

    body = b'{"model": "gpt-4o", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}'
    model, tokens = worst_case("https://api.openai.com/v1/chat/completions", body)
    assert (model, tokens.input, tokens.output) == ("gpt-4o", len(body) // 2 + 1, 50)
    gemini = b'{"contents": [], "generationConfig": {"maxOutputTokens": 64}}'
    model, tokens = worst_case("http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent", gemini)
    assert (model, tokens.output) == ("gemini-2.5-flash", 64)
    assert worst_case("http://proxy/v1/messages", None)[1].output == DEFAULT_MAX_OUTPUT
    assert provider_hint("http://127.0.0.1:9/v1/messages", None) == "anthropic"
    assert provider_hint("http://127.0.0.1:9/v1/chat/completions", "gpt-4o") == "openai"
    assert provider_hint("http://127.0.0.1:9/other", None) is None


def test_guard_counts_what_is_reserved() -> None:
    """A call goes live while spent plus reserved is within the limit; the message says which limit."""
    from pytest_llmcost.gate.spend import Reservations, guard

    reserved = Reservations()
    reserved.hold(1, Decimal("0.004"))
    reserved.hold(2, Decimal("0.003"))
    assert reserved.usd == Decimal("0.007")
    assert guard(Decimal("0.001") + reserved.usd, Decimal("0.01"), None, None) is None
    stop = guard(Decimal("0.004") + reserved.usd, Decimal("0.01"), None, None)
    assert stop is not None
    assert "over its cost_budget of $0.01" in stop
    reserved.release(1)
    assert reserved.usd == Decimal("0.003")
    stop = guard(Decimal(0), None, Decimal("0.02"), Decimal("0.015"))
    assert stop is not None
    assert "--llm-cost-max-record-spend $0.015" in stop
    reserved.clear()
    assert reserved.usd == 0
