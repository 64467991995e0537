"""The plugin object: every stateful hook of a run lives here.

One :class:`LLMCostSession` is registered per pytest run. It taps vcrpy so each exchange a
test consumes lands in that test's ledger, turns the ledger into a :class:`TestCost` when the
test's call phase is reported, judges it (unpriced models, ``cost_budget`` limits, the
baseline), and attaches it to the report, so it crosses from xdist workers to the controller
and survives a worker that crashes later. On the controller it prints the summary and writes
the results file and, when asked, the baseline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ..capture.recording import (
    Tap,
    cassette_path,
    exception_chain,
    find_miss,
    secure_recording_cassettes,
    use_cassette,
)
from ..files import FileFormatError
from ..gate.baseline import Baseline, Comparison, compare, load_baseline, update
from ..gate.budgets import Budget, BudgetError, check, parse_budget
from ..gate.spend import RunSpend
from ..meter import Ledger, LLMCost, measure
from ..options import Settings
from ..pricing import PriceFileError, RateCard, load_local_prices, unpriced_snippet
from ..results import Results
from ..usage import TestCost, format_usd, short_money

__all__ = ["SESSION_KEY", "LLMCostSession", "LLMCostWarning", "SpendLimitExceeded"]

SESSION_KEY = pytest.StashKey["LLMCostSession"]()
LEDGER_KEY = pytest.StashKey[Ledger]()
CASSETTE_KEY = pytest.StashKey[str]()
REPORTED_KEY = pytest.StashKey[int]()

#: ``report.llm_cost_status`` values that mean "failed on cost", and the word pytest shows for each.
STATUS_WORDS = {"regressed": "REGRESSED", "over_budget": "OVER-BUDGET", "unpriced": "UNPRICED", "new": "NO-BASELINE"}

UPDATE_COMMAND = "pytest --llm-cost --llm-cost-update"
MEMO_KEY = "llm-cost/rate-card"


class LLMCostWarning(pytest.PytestWarning):
    """A pytest-llmcost finding that does not fail the test (an unpriced model under ``llm_cost_unpriced = warn``)."""


class SpendLimitExceeded(RuntimeError):
    """Raised instead of a live LLM call once a recording run has spent what it may."""


class LLMCostSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.current: Ledger | None = None
        self.current_budget: Budget | None = None
        self.current_item: pytest.Item | None = None
        self.tap = Tap(self._capture, self._before_live_call)
        self._card: RateCard | None = None
        self._baseline: Baseline | None = None
        self._names: dict[str, str] = {}
        self.budgets: dict[str, Budget] = {}
        # Controller state, from reports.
        self.results: dict[str, TestCost] = {}
        self.statuses: dict[str, str] = {}
        self.outcomes: dict[str, str] = {}
        # What this process measured and compared, so the controller of a run without xdist
        # neither parses the reports' JSON back nor compares a test twice.
        self._measured: dict[str, TestCost] = {}
        self._compared: dict[str, Comparison] = {}
        self._raw: dict[str, dict[str, Any]] = {}
        self._last: dict[str, TestCost] = {}
        self.collected: set[str] = set()
        self.deselected = 0
        self.collection_errors = False
        workerinput = getattr(config, "workerinput", {})
        shared = workerinput.get("llm_cost_spend")
        self.spend = RunSpend(Path(shared) if shared else None, workerinput.get("workerid", "main"))
        self._spend_folder: Path | None = None  # the controller's, shared with its xdist workers
        self.written: list[tuple[str, Path]] = []
        self.update_message: str | None = None

    # -- lazily loaded inputs ----------------------------------------------------------

    @property
    def card(self) -> RateCard:
        if self._card is None:
            try:
                local = load_local_prices(self.settings.prices_path)
            except PriceFileError as exc:
                raise pytest.UsageError(str(exc)) from None
            cache = getattr(self.config, "cache", None)
            memo = cache.get(MEMO_KEY, None) if cache is not None else None
            self._card = RateCard(local=local, memo_in=memo if isinstance(memo, dict) else None)
        return self._card

    def _save_memo(self) -> None:
        """Keep what the rate card resolved for the next run (pytest's cache), sparing it genai-prices' import."""
        cache = getattr(self.config, "cache", None)
        memo = self._card.memo() if self._card is not None else None
        if cache is not None and memo is not None:
            cache.set(MEMO_KEY, memo)

    @property
    def baseline(self) -> Baseline:
        if self._baseline is None:
            try:
                self._baseline = load_baseline(self.settings.baseline_path)
            except FileFormatError as exc:
                raise pytest.UsageError(str(exc)) from None
        return self._baseline

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

    def _before_live_call(self) -> None:
        """The spend guard: called just before a request goes to the real API while recording."""
        if not self.settings.enabled:
            return
        ledger = self.current
        spent_in_test = Decimal(0)
        if ledger is not None and len(ledger):
            spent_in_test = measure(ledger.nodeid, ledger.snapshot(), self.card).usd
        budget = self.current_budget
        if budget is not None and budget.limit.usd is not None and spent_in_test > budget.limit.usd:
            raise SpendLimitExceeded(
                f"LLM spend guard: this test has spent ${format_usd(spent_in_test)} recording, over its "
                f"cost_budget of ${format_usd(budget.limit.usd)}; the next live call was stopped"
            )
        cap = self.settings.max_record_spend
        if cap is not None and (spent := self.spend.total(spent_in_test)) > cap:
            raise SpendLimitExceeded(
                f"LLM spend guard: this run has spent ${format_usd(spent)} recording, over "
                f"--llm-cost-max-record-spend ${format_usd(cap)}; the next live call was stopped"
            )

    # -- session and collection ------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not self.settings.enabled:
            return
        self.card  # noqa: B018 - a broken price file stops the run before any test
        self.baseline  # noqa: B018 - so does a baseline that cannot be read
        if self.settings.prune and not self.settings.update:
            raise pytest.UsageError("--llm-cost-prune only works with --llm-cost-update")
        if self.settings.prune and not self.is_worker and self._selection_options():
            raise pytest.UsageError(
                f"--llm-cost-prune needs the whole suite, but this run selects tests ({self._selection_options()}); "
                "run it without selecting tests"
            )
        self.tap.install()

    def _selection_options(self) -> str:
        option = self.config.option
        used = [
            flag
            for flag, on in (
                ("-k", getattr(option, "keyword", "")),
                ("-m", getattr(option, "markexpr", "")),
                ("--deselect", getattr(option, "deselect", None)),
                ("--lf", getattr(option, "lf", False)),
                ("--sw", getattr(option, "stepwise", False)),
            )
            if on
        ]
        if self.config.args_source == pytest.Config.ArgsSource.ARGS and not self._args_cover_suite():
            used.append("test paths " + " ".join(self.config.args))
        return ", ".join(used)

    def _args_cover_suite(self) -> bool:
        roots = {Path(self.config.rootpath).resolve()}
        for path in self.config.getini("testpaths") or ():
            roots.add((Path(self.config.rootpath) / path).resolve())
        given = {(Path(self.config.invocation_params.dir) / arg).resolve() for arg in self.config.args}
        return bool(given) and given <= roots

    def pytest_unconfigure(self) -> None:
        self.tap.uninstall()
        if self._spend_folder is not None:
            shutil.rmtree(self._spend_folder, ignore_errors=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: the workers of a recording run share one spend cap."""
        settings = self.settings
        if not (settings.enabled and settings.recording and settings.max_record_spend is not None):
            return
        if self._spend_folder is None:
            self._spend_folder = Path(tempfile.mkdtemp(prefix="llm-cost-spend-"))
        node.workerinput["llm_cost_spend"] = str(self._spend_folder)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Validate every ``cost_budget`` marker before any test runs."""
        errors = []
        for item in items:
            marker = item.get_closest_marker("cost_budget")
            if marker is None:
                continue
            try:
                self.budgets[item.nodeid] = parse_budget(marker.args, marker.kwargs)
            except BudgetError as exc:
                errors.append(f"{item.nodeid}: cost_budget: {exc}")
        if errors:
            raise pytest.UsageError("invalid cost_budget marker:\n  " + "\n  ".join(errors))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors = True

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected.update(item.nodeid for item in session.items)
        if self.settings.enabled and self.settings.prune and self.deselected:
            raise pytest.UsageError(
                f"--llm-cost-prune needs the whole suite, but this run deselected {self.deselected} "
                f"test{'s' if self.deselected != 1 else ''}; run it without selecting tests"
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_recording_configure(self, config: pytest.Config, vcr: Any) -> None:
        """A test taking ``llm_cost`` under ``@pytest.mark.vcr`` records through pytest-recording's
        cassette: it gets the same secret stripping as the plugin's own cassettes."""
        item = self.current_item
        if item is not None and "llm_cost" in getattr(item, "fixturenames", ()):
            secure_recording_cassettes(vcr)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        """pytest-html: an "LLM cost" column, after the duration."""
        if self.settings.enabled:
            cells.insert(3, '<th class="sortable" data-column-type="llmCost">LLM cost</th>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        if not self.settings.enabled:
            return
        import html

        from ..report.terminal import money

        data = getattr(report, "llm_cost", None)
        text = money(Decimal(data["usd"])) if data is not None else ""
        cells.insert(3, f'<td class="col-llmCost">{html.escape(text)}</td>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.collected.update(ids)

    @property
    def complete_collection(self) -> bool:
        """Whether this run collected the whole suite, so that a missing test really is gone."""
        return not (self.deselected or self.collection_errors or self._selection_options())

    # -- each test ---------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        ledger = Ledger(item.nodeid)
        item.stash[LEDGER_KEY] = ledger
        self.current = ledger
        self.current_budget = self.budgets.get(item.nodeid)
        self.current_item = item
        try:
            return (yield)
        finally:
            self.current = None
            self.current_budget = None
            self.current_item = None
            final = self._last.pop(item.nodeid, None)
            if final is not None and item.stash.get(REPORTED_KEY, -1) == len(ledger):
                if self.settings.recording:
                    self.spend.add(final.usd)
                # Items live as long as the session: drop the exchanges now that the test is measured.
                ledger.close(final)
            elif self.settings.enabled and self.settings.recording and len(ledger):
                self.spend.add(measure(item.nodeid, ledger.snapshot(), self.card).usd)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report: pytest.TestReport = yield
        if report.failed and call.excinfo is not None:
            self._explain_failure(item, report, call.excinfo)
        if not self.settings.enabled:
            return report
        ledger = item.stash.get(LEDGER_KEY, None)
        if ledger is None:
            return report
        count = len(ledger)
        if call.when == "call" or (call.when == "teardown" and count and count != item.stash.get(REPORTED_KEY, None)):
            item.stash[REPORTED_KEY] = count
            cost = measure(item.nodeid, ledger.snapshot(), self.card)
            report.llm_cost = cost.to_json()  # type: ignore[attr-defined]
            self._measured[item.nodeid] = cost
            self._last[item.nodeid] = cost
            if call.when == "call":
                self._judge(item, report, cost)
        return report

    def _explain_failure(
        self, item: pytest.Item, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[Any]
    ) -> None:
        """Replace an SDK's "connection error" by what really happened: a cassette miss or the spend guard."""
        original = excinfo.exconly().splitlines()[0][:300]
        for link in exception_chain(excinfo.value):
            if isinstance(link, SpendLimitExceeded):
                report.longrepr = f"{link}\n(the client raised {original})"
                report.llm_cost_status = "over_budget"  # type: ignore[attr-defined]
                return
        if CASSETTE_KEY not in item.stash:
            return
        miss = find_miss(excinfo.value)
        if miss is not None and os.path.abspath(miss.path) == item.stash[CASSETTE_KEY]:
            explanation = miss.explain(item.nodeid, self._cassette_name(miss.path))
            report.longrepr = f"{explanation}\n(the client raised {original})"

    def _judge(self, item: pytest.Item, report: pytest.TestReport, cost: TestCost) -> None:
        """Fail the test through its own report when it is over a limit; at most one status."""
        from ..report.terminal import comparison_table, regression_line

        messages: list[str] = []
        status: str | None = None
        unpriced = self._unpriced(item, cost)
        if unpriced:
            messages.append(unpriced)
            status = "unpriced"
        budget = self.budgets.get(item.nodeid)
        if budget is not None:
            violations = check(budget, cost)
            if violations:
                messages += [str(violation) for violation in violations]
                status = status or "over_budget"
        comparison: Comparison | None = None
        entry = self.baseline.entries.get(item.nodeid)
        if entry is not None and cost.records:
            allowance = budget.delta if budget is not None and budget.delta is not None else self.settings.tolerance
            comparison = compare(item.nodeid, entry, cost, self.card, allowance, self.settings.noise_floor)
            self._compared[item.nodeid] = comparison
            if comparison.regressed and not self.settings.update:
                messages += [regression_line(delta, allowance) for delta in comparison.regressions]
                status = status or "regressed"
        elif entry is None and cost.records and self.settings.strict and not self.settings.update:
            messages.append(
                f"LLM cost {short_money(cost.usd)} has no baseline entry (--llm-cost-strict); "
                f"accept it with `{UPDATE_COMMAND}`"
            )
            status = status or "new"
        if status is None:
            return
        if comparison is not None:
            report.sections.append(("LLM cost vs baseline", comparison_table(comparison)))
        text = "\n".join(messages)
        if report.passed:
            report.outcome = "failed"
            report.longrepr = text
            report.llm_cost_status = status  # type: ignore[attr-defined]
            report.llm_cost_only = True  # type: ignore[attr-defined]
        else:
            report.sections.append(("LLM cost findings", text))

    def _unpriced(self, item: pytest.Item, cost: TestCost) -> str | None:
        unpriced = sorted({(call.provider, call.model or "?") for call in cost.records if call.unpriced})
        if not unpriced:
            return None
        models = ", ".join(f"{model} ({provider})" for provider, model in unpriced)
        prices = self.settings.prices_path
        if self.settings.unpriced == "warn":
            warning = f"no price for {models}: counted as $0 and labelled unpriced; price it in {prices}"
            item.warn(LLMCostWarning(warning))
            return None
        provider, model = unpriced[0]
        return (
            f"LLM cost unknown: no price for model {model} ({provider}). "
            f"Add it to {prices}:\n\n{unpriced_snippet(model, provider)}\n\n"
            "or set llm_cost_unpriced = warn to count it as $0 with a warning."
        )

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        status = getattr(report, "llm_cost_status", None)
        if status in STATUS_WORDS and report.when == "call" and report.failed:
            return "failed", "$", STATUS_WORDS[status]
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        nodeid = report.nodeid
        status = getattr(report, "llm_cost_status", None)
        if status is not None:
            self.statuses[nodeid] = status
        # Only tests that passed, or failed on nothing but cost, may update the baseline.
        if report.skipped and self.outcomes.get(nodeid) != "failed":
            self.outcomes[nodeid] = "skipped"
        elif report.failed:
            cost_only = getattr(report, "llm_cost_only", False) and self.outcomes.get(nodeid) in (None, "passed")
            self.outcomes[nodeid] = "cost" if cost_only else "failed"
        else:
            self.outcomes.setdefault(nodeid, "passed")
        data = getattr(report, "llm_cost", None)
        if data is None:
            return
        cost = self._measured.pop(nodeid, None) or TestCost.from_json(nodeid, data)
        self.results[nodeid] = cost
        self._raw[nodeid] = data
        if self.config.get_verbosity() > 0:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                from ..report.terminal import call_line

                reporter.ensure_newline()
                for record in cost.records:
                    reporter.write_line(call_line(record))

    # -- the end of the run ----------------------------------------------------------------

    def results_object(self) -> Results:
        return Results(
            tests=dict(self.results),
            rate_card=self.card.describe(),
            outcomes={nodeid: self.outcomes.get(nodeid, "passed") for nodeid in self.results},
            collected=tuple(sorted(self.collected)) if self.complete_collection else None,
            statuses={nodeid: status for nodeid, status in self.statuses.items() if nodeid in self.results},
            runs_per_day=self._runs_per_day(),
            allowed_deltas={
                nodeid: str(budget.delta)
                for nodeid, budget in self.budgets.items()
                if budget.delta is not None and nodeid in self.results
            },
            gate={"tolerance": str(self.settings.tolerance), "noise_floor": format_usd(self.settings.noise_floor)},
            raw=self._raw,
        )

    def _runs_per_day(self) -> dict[str, int]:
        """From ``cost_budget(runs_per_day=...)``, else the first matching ``llm_cost_runs_per_day`` line."""
        import fnmatch

        found: dict[str, int] = {}
        for nodeid in self.results:
            budget = self.budgets.get(nodeid)
            if budget is not None and budget.runs_per_day is not None:
                found[nodeid] = budget.runs_per_day
                continue
            for pattern, runs in self.settings.runs_per_day:
                if fnmatch.fnmatchcase(nodeid, pattern):
                    found[nodeid] = runs
                    break
        return found

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._save_memo()
        if not self.settings.enabled or self.is_worker:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        results = self.results_object()
        path = self.settings.results_path
        if path is not None:
            results.write(path)
            self.written.append(("results", path))
        if self.settings.report_path or self.settings.markdown_path or os.environ.get("GITHUB_STEP_SUMMARY"):
            self._write_reports(results)
        if self.settings.update:
            self._update_baseline()

    def _write_reports(self, results: Results) -> None:
        from ..files import write_atomic
        from ..report.html import write_html
        from ..report.markdown import summary_markdown
        from ..report.model import build_report

        findings = self.findings()
        comparisons = {comparison.nodeid: comparison for comparison in self.comparisons()}
        allowances = {nodeid: budget.delta for nodeid, budget in self.budgets.items() if budget.delta is not None}
        report = build_report(
            results,
            baseline=self.baseline if self.baseline.exists else None,
            card=self.card,
            allowance=self.settings.tolerance,
            allowances=allowances,
            noise_floor=self.settings.noise_floor,
            stale=findings["stale"],
            comparisons=comparisons,
        )
        if self.settings.report_path is not None:
            write_html(report, self.settings.report_path)
            self.written.append(("report", self.settings.report_path))
        if self.settings.markdown_path is not None:
            link = None
            if self.settings.report_path is not None:
                link = os.path.relpath(self.settings.report_path, self.settings.markdown_path.parent)
            write_atomic(self.settings.markdown_path, summary_markdown(report, report_link=link))
            self.written.append(("summary", self.settings.markdown_path))
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(summary_markdown(report) + "\n")

    def _update_baseline(self) -> None:
        results = self.results_object()
        prune: set[str] = set()
        if self.settings.prune and results.collected is not None:
            prune = set(self.baseline.entries) - set(results.collected)
        new, summary = update(self.baseline, results.accepted(), prune=prune)
        path = self.settings.baseline_path
        if summary.any:
            new.write(path)
        self.update_message = f"baseline {_display(path)}: {summary}" + ("" if summary.any else " (unchanged)")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.settings.enabled or self.is_worker:
            return
        from ..report.terminal import findings_lines, summary_lines

        results = self.results_object()
        terminalreporter.write_sep("=", "LLM cost")
        for line in summary_lines(results, width=terminalreporter._tw.fullwidth):
            terminalreporter.write_line(line)
        for line in findings_lines(self.findings()):
            terminalreporter.write_line(line)
        for label, path in self.written:
            terminalreporter.write_line(f"{label}: {_display(path)}")
        if self.update_message is not None:
            terminalreporter.write_line(self.update_message)

    def findings(self) -> dict[str, Any]:
        """Session-level counts: failed, new, stale and improved tests, and price drift."""
        baseline = self.baseline
        comparisons = self.comparisons()
        metered = {nodeid for nodeid, cost in self.results.items() if cost.records}
        stale: list[str] = []
        if self.complete_collection and baseline.exists:
            stale = sorted(set(baseline.entries) - self.collected)
        return {
            "regressed": sorted(n for n, s in self.statuses.items() if s == "regressed"),
            "over_budget": sorted(n for n, s in self.statuses.items() if s == "over_budget"),
            "unpriced": sorted(n for n, s in self.statuses.items() if s == "unpriced"),
            "new": sorted(metered - set(baseline.entries)),
            "stale": stale,
            "improved": sorted(c.nodeid for c in comparisons if c.improved),
            "drift_usd": sum((c.drift_usd for c in comparisons), Decimal(0)),
            "updating": self.settings.update,
            "strict": self.settings.strict,
            "baseline": _display(self.settings.baseline_path),
            "baseline_exists": baseline.exists,
        }

    def comparisons(self) -> list[Comparison]:
        baseline = self.baseline
        found = []
        for nodeid, cost in sorted(self.results.items()):
            entry = baseline.entries.get(nodeid)
            if entry is None or not cost.records:
                continue
            known = self._compared.get(nodeid)
            if known is not None and known.total.now_tokens == cost.tokens.total:
                found.append(known)
                continue
            budget = self.budgets.get(nodeid)
            allowance = budget.delta if budget is not None and budget.delta is not None else self.settings.tolerance
            found.append(compare(nodeid, entry, cost, self.card, allowance, self.settings.noise_floor))
        return found

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
