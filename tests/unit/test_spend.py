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
