"""The results file: what a run metered, and how it judged, written and read back."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from pytest_llmcost.files import FileFormatError
from pytest_llmcost.gate.allowance import parse_allowance
from pytest_llmcost.gate.judge import Rules, Status, Verdict
from pytest_llmcost.results import Results, _check_amounts, load_results
from pytest_llmcost.usage import Call, TestCost, Tokens


def _cost(nodeid: str, usd: str) -> TestCost:
    call = Call(0, "plan", "openai", "gpt-4o", Tokens(input=10, output=2), Decimal(usd))
    return TestCost.from_calls(nodeid, [call])


def test_results_round_trip_with_how_the_run_judged(tmp_path: Path) -> None:
    results = Results(
        tests={"t.py::a": _cost("t.py::a", "0.001"), "t.py::b": _cost("t.py::b", "0.002")},
        rate_card={"genai_prices": "0.2.3", "local_prices": None},
        outcomes={"t.py::a": "cost", "t.py::b": "failed"},
        collected=("t.py::a", "t.py::b", "t.py::c"),
        verdicts={
            "t.py::a": Verdict(
                "t.py::a",
                Status.REGRESSED,
                True,
                ((Status.REGRESSED, "LLM cost $0.001 exceeds baseline $0.0005 by 100.0% (allowed 10%)"),),
                allowance=parse_allowance("10%"),
            ),
            "t.py::b": Verdict("t.py::b", Status.NEW),
        },
        runs_per_day={"t.py::a": 5000},
        rules=Rules(tolerance=parse_allowance("5%"), noise_floor=Decimal("0.0001")),
        run={"baseline": "llm-cost-baseline.json", "baseline_exists": True, "new": ["t.py::b"], "stale": []},
    )
    path = tmp_path / "results.json"
    results.write(path)
    data = json.loads(path.read_text())
    assert data["format"] == 3
    assert data["gate"] == {
        "cache_drop": "0.1",  # the share of input read from a prompt cache may fall 10 points
        "noise_floor": "0.0001",
        "strict": False,
        "tolerance": "5%",
        "unpriced": "fail",
    }
    assert data["tests"]["t.py::a"]["status"] == "regressed"
    assert data["tests"]["t.py::a"]["verdict"]["fails"] is True
    assert data["tests"]["t.py::a"]["allowed_delta"] == "10%"
    assert data["summary"]["usd"] == "0.003"
    loaded = load_results(path)
    assert loaded == results
    assert list(loaded.accepted()) == ["t.py::a"]  # failed on cost alone; t.py::b failed otherwise


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"tests": {}}', "results format None is not supported"),
        ("[]", "not an llm-cost results file"),
        ('{"format": 1, "tests": {"t": {"records": [{"seq": "x"}]}}}', "entry for 't' is malformed"),
        ('{"format": 1, "tests": {"t": {"records": [], "outcome": "exploded"}}}', "unknown outcome 'exploded'"),
    ],
)
def test_bad_results_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(FileFormatError) as excinfo:
        load_results(path)
    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)


def test_a_format_1_results_file_keeps_its_statuses_and_allowances(tmp_path: Path) -> None:
    """An older run's file: its failing status survives a new comparison, and a test's own delta is kept."""
    call = Call(0, None, "openai", "gpt-4o", Tokens(input=10, output=2), Decimal("0.001")).to_json()
    data = {
        "format": 1,
        "gate": {"tolerance": "5%", "noise_floor": "0.0001"},
        "tests": {
            "t.py::over": {"records": [call], "status": "over_budget", "outcome": "cost"},
            "t.py::loose": {"records": [call], "allowed_delta": "100%", "outcome": "passed"},
            "t.py::plain": {"records": [call], "outcome": "passed"},
        },
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    loaded = load_results(path)
    over = loaded.verdicts["t.py::over"]
    assert (over.status, over.fails, len(over.findings)) == (Status.OVER_BUDGET, True, 1)
    assert str(loaded.verdicts["t.py::loose"].allowance) == "100%"
    assert "t.py::plain" not in loaded.verdicts
    assert loaded.run == {}  # so `llm-cost report` compares it with the baseline again


@pytest.mark.parametrize(
    ("verdict", "where", "loads"),
    [
        ({"comparison": {"delta_usd": "-0.5", "base_usd": "1"}}, None, True),
        ({"comparison": {"base_usd": "-1"}}, "verdict.comparison.base_usd", False),
        ({"comparison": {"steps": [{"causes": [{"delta_usd": "-0.1"}]}]}}, None, True),  # a cause is a change
        (
            {"comparison": {"steps": [{"causes": [{"usd": "-0.1"}]}]}},
            "verdict.comparison.steps[0].causes[0].usd",
            False,
        ),
        ({"comparison": {"steps": [{"head_usd": "NaN"}]}}, "verdict.comparison.steps[0].head_usd", False),
    ],
)
def test_a_verdicts_amounts_are_checked_and_a_bad_one_named(
    tmp_path: Path, verdict: dict[str, object], where: str | None, loads: bool
) -> None:
    """Every ``*usd`` of a verdict is a finite amount, >= 0 unless it is a change; a bad one is named."""
    path = tmp_path / "results.json"
    Results(tests={"t.py::a": _cost("t.py::a", "0.001")}, verdicts={"t.py::a": Verdict("t.py::a", Status.OK)}).write(
        path
    )
    data = json.loads(path.read_text())
    data["tests"]["t.py::a"]["verdict"].update(verdict)
    path.write_text(json.dumps(data))
    if loads:  # the verdict's other fields may not read back: its amounts pass the check
        _check_amounts("verdict", data["tests"]["t.py::a"]["verdict"])
        return
    with pytest.raises(FileFormatError, match=re.escape(f"entry for 't.py::a' is malformed: {where}: ")):
        load_results(path)
