"""The plugin object: every stateful hook of a run lives here.

One :class:`LLMCostSession` is registered per pytest run. It taps vcrpy so each exchange a
test consumes lands in that test's ledger, turns the ledger into a :class:`TestCost` when the
test's call phase is reported, attaches it to the report (so it crosses from xdist workers to
the controller, and survives a worker that crashes later), and on the controller prints the
summary and writes the results file.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .meter import Ledger, LLMCost, measure
from .options import Settings
from .pricing import PriceFileError, RateCard, load_local_prices, unpriced_snippet
from .recording import Tap, cassette_path, find_miss, use_cassette
from .results import Results
from .usage import TestCost

__all__ = ["SESSION_KEY", "LLMCostSession", "LLMCostWarning"]

SESSION_KEY = pytest.StashKey["LLMCostSession"]()
LEDGER_KEY = pytest.StashKey[Ledger]()
CASSETTE_KEY = pytest.StashKey[str]()
REPORTED_KEY = pytest.StashKey[int]()


class LLMCostWarning(pytest.PytestWarning):
    """A pytest-llmcost finding that does not fail the test (an unpriced model under ``llm_cost_unpriced = warn``)."""


class LLMCostSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.current: Ledger | None = None
        self.tap = Tap(self._capture)
        self._card: RateCard | None = None
        self.results: dict[str, TestCost] = {}
        self.results_written: Path | None = None
        self._names: dict[str, str] = {}

    # -- capture ---------------------------------------------------------------------

    def _capture(self, exchange: Any, cassette: str | None, interaction: int | None) -> None:
        ledger = self.current
        if ledger is not None:
            ledger.add(exchange, self._cassette_name(cassette), interaction)

    def _cassette_name(self, path: str | None) -> str | None:
        """A cassette path relative to the rootdir (posix), so results read the same on every machine."""
        if path is None:
            return None
        try:
            return self._names[path]
        except KeyError:
            pass
        absolute = os.path.abspath(path)
        try:
            name = Path(absolute).relative_to(self.config.rootpath).as_posix()
        except ValueError:
            name = absolute
        self._names[path] = name
        return name

    @property
    def card(self) -> RateCard:
        if self._card is None:
            try:
                local = load_local_prices(self.settings.prices_path)
            except PriceFileError as exc:
                raise pytest.UsageError(str(exc)) from None
            self._card = RateCard(local=local)
        return self._card

    # -- hooks -----------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.settings.enabled:
            self.card  # noqa: B018 - a broken price file stops the run before any test
            self.tap.install()

    def pytest_unconfigure(self) -> None:
        self.tap.uninstall()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        ledger = Ledger(item.nodeid)
        item.stash[LEDGER_KEY] = ledger
        self.current = ledger
        try:
            return (yield)
        finally:
            self.current = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report: pytest.TestReport = yield
        if report.failed and call.excinfo is not None and CASSETTE_KEY in item.stash:
            miss = find_miss(call.excinfo.value)
            if miss is not None and os.path.abspath(miss.path) == item.stash[CASSETTE_KEY]:
                original = call.excinfo.exconly().splitlines()[0]
                explanation = miss.explain(item.nodeid, self._cassette_name(miss.path))
                report.longrepr = f"{explanation}\n(the client raised {original[:300]})"
        if not self.settings.enabled:
            return report
        ledger = item.stash.get(LEDGER_KEY, None)
        if ledger is None:
            return report
        count = len(ledger)
        reported = item.stash.get(REPORTED_KEY, None)
        if call.when == "call" or (call.when == "teardown" and count and count != reported):
            item.stash[REPORTED_KEY] = count
            cost = measure(item.nodeid, ledger.snapshot(), self.card)
            report.llm_cost = cost.to_json()  # type: ignore[attr-defined]
            self._judge_unpriced(item, report, cost)
        return report

    def _judge_unpriced(self, item: pytest.Item, report: pytest.TestReport, cost: TestCost) -> None:
        unpriced = sorted({(call.provider, call.model or "?") for call in cost.records if call.unpriced})
        if not unpriced:
            return
        models = ", ".join(f"{model} ({provider})" for provider, model in unpriced)
        prices = self.settings.prices_path
        if self.settings.unpriced == "warn":
            item.warn(
                LLMCostWarning(f"no price for {models}: counted as $0 and labelled unpriced; price it in {prices}")
            )
            return
        provider, model = unpriced[0]
        message = (
            f"LLM cost unknown: no price for model {model} ({provider}). "
            f"Add it to {prices}:\n\n{unpriced_snippet(model, provider)}\n\n"
            "or set llm_cost_unpriced = warn to count it as $0 with a warning."
        )
        if report.passed:
            report.outcome = "failed"
            report.longrepr = message
        else:
            report.sections.append(("LLM cost: unpriced model", message))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "llm_cost", None)
        if data is None or self.is_worker:
            return
        cost = TestCost.from_json(report.nodeid, data)
        self.results[report.nodeid] = cost
        if self.config.get_verbosity() > 0:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                from .report.terminal import call_line

                reporter.ensure_newline()
                for record in cost.records:
                    reporter.write_line(call_line(record))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.settings.enabled or self.is_worker:
            return
        from .report.terminal import summary_lines

        terminalreporter.section("LLM cost")
        for line in summary_lines(self.results_object(), width=terminalreporter._tw.fullwidth):
            terminalreporter.write_line(line)
        if self.results_written is not None:
            terminalreporter.write_line(f"results: {_display(self.results_written)}")

    def results_object(self) -> Results:
        return Results(tests=dict(self.results), rate_card=self.card.describe())

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.settings.enabled or self.is_worker:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        path = self.settings.results_path
        if path is not None:
            self.results_object().write(path)
            self.results_written = path

    # -- the fixture -----------------------------------------------------------------

    def fixture(self, request: pytest.FixtureRequest, path: Path, vcr_config: dict[str, Any]) -> Iterator[LLMCost]:
        item = request.node
        ledger = item.stash.get(LEDGER_KEY, None)
        if ledger is None:  # the fixture requested outside a test's run protocol
            ledger = Ledger(item.nodeid)
        self.tap.install()
        owned_by_recording = item.get_closest_marker("vcr") is not None and self.config.pluginmanager.hasplugin(
            "recording"
        )
        if owned_by_recording:
            yield LLMCost(ledger, lambda: self.card, None)
            return
        path = Path(os.path.abspath(path))
        item.stash[CASSETTE_KEY] = str(path)
        with use_cassette(path, self.settings.record_mode, vcr_config):
            yield LLMCost(ledger, lambda: self.card, path)


def default_cassette_path(item: pytest.Item) -> Path:
    cls = getattr(item, "cls", None)
    return cassette_path(Path(item.path), item.name, cls.__name__ if cls is not None else None)


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
