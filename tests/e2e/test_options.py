"""Options as users meet them: ``pytest --help``, ini twins, precedence, and bad values."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmcost.options import OPTIONS


def test_help_lists_every_option_and_ini_twin(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    text = result.stdout.str()
    assert "LLM cost (pytest-llmcost):" in text
    for option in OPTIONS:
        assert option.flag in text
        assert f"{option.ini} (" in text
    assert "llm_cost_runs_per_day (linelist)" in text


def test_every_option_has_an_ini_twin_named_after_it() -> None:
    for option in OPTIONS:
        assert option.flag.startswith("--llm-cost")
        name = option.flag.removeprefix("--").replace("-", "_")
        assert option.ini == name or (option.multiple and option.ini == name + "s")  # --llm-cost-record-host


def test_ini_can_turn_metering_on(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_x="def test_x(llm_cost):\n    pass\n")
    pytester.makeini("[pytest]\nllm_cost = true\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*= LLM cost =*", "no LLM calls were metered"])


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("llm_cost = maybe", "ini option llm_cost: 'maybe' is not a boolean (use true or false)"),
        ("llm_cost_tolerance = lots", "ini option llm_cost_tolerance: 'lots' in 'lots' is not an allowed delta"),
        ("llm_cost_noise_floor = cheap", "ini option llm_cost_noise_floor: 'cheap' is not an amount of US dollars"),
        ("llm_cost_unpriced = ignore", "ini option llm_cost_unpriced: 'ignore' is not one of fail, warn"),
        (
            "llm_cost_runs_per_day = tests/*  5000",
            "ini option llm_cost_runs_per_day: 'tests/*  5000' is not '<test id pattern> = <runs per day>'",
        ),
    ],
)
def test_bad_ini_values_are_usage_errors_that_quote_them(pytester: pytest.Pytester, ini: str, message: str) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_bad_command_line_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llm-cost-max-record-spend=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-cost-max-record-spend: 'lots' is not an amount of US dollars*"])
