"""pytest entry point: options and their ini twins, markers, fixtures. No logic lives here.

Registered as the ``llm_cost`` plugin (``-p no:llm_cost`` disables it).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .hooks.wake import Dormant, default_cassette_path, run_of, wake
from .options import OPTIONS, OptionError, Settings

if TYPE_CHECKING:  # the run, the meter and what they use load only when something uses the plugin
    from .meter import LLMCost


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm-cost", "LLM cost (pytest-llmcost)")
    for option in OPTIONS:
        cli_help = option.help.replace("%", "%%")  # argparse formats help strings with %
        if option.is_flag:
            group.addoption(option.flag, action="store_true", default=None, dest=option.dest, help=cli_help)
        else:
            group.addoption(
                option.flag,
                action="append" if option.multiple else "store",
                default=None,
                dest=option.dest,
                type=option.parse,
                metavar=option.metavar,
                help=cli_help,
            )
        if option.multiple:
            ini_help = f"default for {option.flag}, one a line: {option.help}"
            parser.addini(option.ini, ini_help, type="linelist", default=[])
        else:
            parser.addini(option.ini, f"default for {option.flag}: {option.help}", default=None)
    parser.addini(
        "llm_cost_runs_per_day",
        "lines of '<test id pattern> = <runs per day>': how often a workflow runs in production, "
        "for the report's monthly projection (cost_budget(runs_per_day=...) wins)",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        settings = Settings.from_config(config)
    except (OptionError, argparse.ArgumentTypeError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.addinivalue_line(
        "markers",
        "cost_budget(usd=None, *, tokens=None, delta=None, steps=None, runs_per_day=None, cache_drop=None): "
        "limit a test's LLM cost under --llm-cost: absolute dollars and tokens, an allowed delta over its "
        "baseline ('10%', '$0.002', '500 tokens'), per-step limits ({'synthesis': 0.02}), and how far "
        "its prompt-cache share may fall ('10%' of input, or 'off')",
    )
    if settings.enabled or settings.recording or settings.autouse:
        wake(config, settings)
    else:  # nothing per test until a collected test takes the fixture or has a cost_budget
        config.pluginmanager.register(Dormant(config, settings), "llm_cost_dormant")


@pytest.fixture
def llm_cost_vcr_config() -> dict[str, Any]:
    """Extra ``vcr.VCR`` options for the ``llm_cost`` cassettes; override it to add yours.

    Secrets are stripped and bodies matched as JSON whatever this returns.
    """
    return {}


@pytest.fixture
def llm_cost_cassette_path(request: pytest.FixtureRequest) -> Path:
    """Where the ``llm_cost`` fixture records and replays: ``<test folder>/cassettes/<module>/<test>.yaml``.

    Override it to share a cassette between tests or to move it.
    """
    return default_cassette_path(request.node)


@pytest.fixture
def llm_cost(
    request: pytest.FixtureRequest, llm_cost_cassette_path: Path, llm_cost_vcr_config: dict[str, Any]
) -> Iterator[LLMCost]:
    """Record or replay this test's LLM calls in its cassette and meter them.

    ``llm_cost.step("name")`` attributes calls to a step; ``llm_cost.usd``, ``.tokens`` and
    ``.calls`` tell what the test has consumed so far.
    """
    yield from run_of(request.config).fixture(request, llm_cost_cassette_path, llm_cost_vcr_config)
