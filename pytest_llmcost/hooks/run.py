"""The run object: thin pytest hooks over one :class:`Run` per pytest run.

The run taps vcrpy so each exchange lands in the ledger of whoever owns it: the running test,
or a fixture wider than a test while it is set up or torn down. When a test's teardown is done
it measures the test (setup + call + teardown), asks the gate for the verdict, and applies it
to the test's own call report, which carries cost and verdict to the xdist controller. On the
controller :meth:`Run.finish` builds the results and the run verdict once; the terminal summary,
the results file, the reports and the baseline update all render those.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Generator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..fmt import plural
from ..meter import OWNER, Captured, Ledger, LLMCost, measure
from ..usage import TestCost
from .wake import SESSION_KEY

if TYPE_CHECKING:  # the rest loads when --llm-cost or the fixture needs it: an idle plugin costs nothing
    from ..capture.attribution import Attribution
    from ..capture.credentials import PlaceholderKeys
    from ..capture.network import LLMHostWatch, NetworkBlock
    from ..capture.recording import Tap
    from ..gate.baseline import Baseline, Entry
    from ..gate.budgets import Budget
    from ..gate.judge import Rules, RunVerdict, Verdict
    from ..gate.spend import Reservations, RunSpend
    from ..options import Settings
    from ..pricing import RateCard
    from ..providers.segments import Divergence
    from ..results import Results

__all__ = ["SESSION_KEY", "LLMCostWarning", "Run", "SpendLimitExceeded"]

LEDGER_KEY = pytest.StashKey[Ledger]()
CASSETTE_KEY = pytest.StashKey[str]()
GUARD_KEY = pytest.StashKey[str]()
OWNED_KEY = pytest.StashKey[bool]()
"""Set when :class:`Protocol` runs the test, and so settles it once its reports are all made."""
PHASE_KEY = pytest.StashKey[tuple[str, str]]()
"""The test's last setup or call phase and its outcome, for its cassette to know whether it passed."""
KEPT_KEY = pytest.StashKey[str]()
"""Why the test's cassette was kept as it was, to travel on its teardown report (xdist)."""

MEMO_KEY = "llm-cost/rate-card"
#: While recording, a progress line (calls and dollars so far) at most this often, in seconds.
LIVE_INTERVAL_S = 10.0


class LLMCostWarning(pytest.PytestWarning):
    """A pytest-llmcost finding that does not fail the test (an unpriced model under ``llm_cost_unpriced = warn``)."""


class SpendLimitExceeded(RuntimeError):
    """Raised instead of a live LLM call once a recording run has spent what it may."""


def budget_of(item: pytest.Item) -> Budget | None:
    """The test's ``cost_budget``, from its closest marker whatever added it; :class:`BudgetError` if invalid."""
    marker = item.get_closest_marker("cost_budget")
    if marker is None:
        return None
    from ..gate.budgets import parse_budget

    return parse_budget(marker.args, marker.kwargs)


def fixture_entry_id(fixturedef: Any, request: Any) -> str:
    """``tests/test_agent.py::[fixture warm_index]``: the node the fixture's instance belongs to, and its name."""
    name = fixturedef.argname
    param = getattr(request, "param", None)
    if hasattr(request, "param") and isinstance(param, (str, int, float, bool, type(None))):
        name += f"[{param}]"
    elif hasattr(request, "param"):
        name += f"[{getattr(request, 'param_index', 0)}]"
    base = getattr(request.node, "nodeid", "")
    return f"{base}::[fixture {name}]" if base else f"[fixture {name}]"


class Run:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.current: Ledger | None = None
        """Who owns a call made where no context says otherwise: the running test, or a wide fixture."""
        self.current_budget: Budget | None = None
        self.current_item: pytest.Item | None = None
        self.network_block: NetworkBlock | LLMHostWatch | None = None
        """Set under --llm-cost: while replaying, tests reach loopback and the allowed hosts only; while
        recording, a test without the fixture that calls an LLM host is warned about."""
        self._placeholders: PlaceholderKeys | None = None
        self._unfixtured: set[tuple[str, str]] = set()
        self._card: RateCard | None = None
        self._baseline: Baseline | None = None
        self._names: dict[str, str] = {}
        self._attribution: Attribution | None = None
        """Under --llm-cost: threads and thread-pool work carry the owner of the test (or fixture) that started them."""
        self._lost: list[tuple[str, Captured]] = []
        """Calls that reached a ledger after its test ended: nobody's, reported apart."""
        self._fixtures_done: list[Ledger] = []
        self._open_fixtures: list[Ledger] = []
        """Wide fixtures set up and not yet torn down: their recording counts toward the run's cap."""
        # Controller state, from reports.
        self.results: dict[str, TestCost] = {}
        self.verdicts: dict[str, Verdict] = {}
        self.outcomes: dict[str, str] = {}
        self.unattributed: list[TestCost] = []
        self._raw: dict[str, dict[str, Any]] = {}
        self._measured: dict[str, tuple[TestCost, Verdict]] = {}
        self._runs: dict[str, int] = {}
        self.collected: set[str] = set()
        self.deselected = 0
        self.collection_errors = False
        self._spend_folder: Path | None = None  # the controller's, shared with its xdist workers
        self.written: list[tuple[str, Path]] = []
        self.took: dict[str, float] = {}
        """Seconds each report took to write, by label: shown when long."""
        self._live_last = time.monotonic()
        self.update_message: str | None = None
        self.cassettes_kept: list[str] = []
        """One line per cassette a test that did not pass left as it was (this process's, or a worker's)."""
        self.final: tuple[Results, RunVerdict] | None = None

    # -- lazily loaded parts and inputs ---------------------------------------------------

    @functools.cached_property
    def rules(self) -> Rules:
        return self.settings.rules()

    @functools.cached_property
    def tap(self) -> Tap:
        from ..capture.recording import Tap

        return Tap(self._capture, self._before_live_call, self._after_live_call)

    @functools.cached_property
    def spend(self) -> RunSpend:
        """What a recording run has spent, shared with the other xdist workers when there are any."""
        from ..gate.spend import RunSpend

        workerinput = getattr(self.config, "workerinput", {})
        shared = workerinput.get("llm_cost_spend")
        return RunSpend(Path(shared) if shared else None, workerinput.get("workerid", "main"))

    @functools.cached_property
    def _reserved(self) -> Reservations:
        from ..gate.spend import Reservations

        return Reservations()

    @property
    def card(self) -> RateCard:
        if self._card is None:
            from ..pricing import PriceFileError, RateCard, load_local_prices

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
            from ..files import FileFormatError
            from ..gate.baseline import load_baseline

            try:
                self._baseline = load_baseline(self.settings.baseline_path)
            except FileFormatError as exc:
                raise pytest.UsageError(str(exc)) from None
        return self._baseline

    # -- capture ---------------------------------------------------------------------

    def _owner(self) -> Ledger | None:
        """The ledger a call made here and now belongs to."""
        ledger = OWNER.get()
        if ledger is None and self._attribution is not None:
            ledger = self._attribution.owner()
        return ledger if ledger is not None else self.current

    def _capture(self, exchange: Any, cassette: str | None, interaction: int | None) -> None:
        ledger = self._owner()
        if ledger is None:
            return
        name = self._cassette_name(cassette)
        if ledger.closed:
            self._lost.append((ledger.nodeid, Captured(exchange, None, name, interaction)))
        else:
            ledger.add(exchange, name, interaction)

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

    def _before_live_call(self, request: Any) -> None:
        """The spend guard: called with vcrpy's request just before it goes to the real API while recording.

        What the test (and the run) spent, plus the worst case of the calls in flight, must be
        within its limit for the call to go; the call then reserves its own worst case until
        its response is recorded.
        """
        if not self.settings.enabled:
            return
        budget = self.current_budget
        cap = self.settings.max_record_spend
        if (budget is None or budget.limit.usd is None) and cap is None:
            return
        ledger = self._owner()
        worst = self._worst_case(request)
        with self._reserved.lock:
            spent_in_test = Decimal(0)
            if ledger is not None and len(ledger):
                spent_in_test = measure(ledger.nodeid, ledger.snapshot(), self.card).usd
            committed = spent_in_test + self._reserved.usd
            in_flight = committed
            # What wide fixtures still set up have recorded: theirs until they finish, then the run's.
            for fixture in self._open_fixtures:
                if fixture is not ledger and len(fixture) and not fixture.closed:
                    in_flight += measure(fixture.nodeid, fixture.snapshot(), self.card).usd
            from ..gate.spend import guard

            stop = guard(
                committed,
                budget.limit.usd if budget is not None else None,
                self.spend.total(in_flight) if cap is not None else None,
                cap,
            )
            if stop is not None:
                raise SpendLimitExceeded(stop)
            if request is not None:
                self._reserved.hold(_request_key(request), worst)

    def _worst_case(self, request: Any) -> Decimal:
        """A cautious bound on what ``request`` can bill, at the rate card's price ($0 when unpriced)."""
        if request is None:
            return Decimal(0)
        from urllib.parse import urlsplit

        from ..providers.estimate import provider_hint, worst_case

        body = request.body if isinstance(request.body, (bytes, str)) else None
        model, tokens = worst_case(request.uri, body)
        host = urlsplit(request.uri).hostname or ""
        provider = self.card.provider_for(host, request.uri, provider_hint(request.uri, model) or host)
        usd = self.card.price(provider, model, tokens).usd
        return usd or Decimal(0)

    def _after_live_call(self, request: Any) -> None:
        """A live call's response is recorded: its reservation gives way to what it billed."""
        self._reserved.release(_request_key(request))

    # -- session and collection ------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not self.settings.enabled:
            return
        self.card  # noqa: B018 - a broken price file stops the run before any test
        if self.settings.recording:  # the spend guard prices live calls, maybe inside an event loop
            self.card.preload()
        self.baseline  # noqa: B018 - so does a baseline that cannot be read
        if _on_ci() and not self.baseline.exists and not self.settings.update and not self.is_worker:
            raise pytest.UsageError(
                f"LLM cost baseline {_display(self.settings.baseline_path)} does not exist, and CI is set: every "
                "test would pass as new, with the gate off. Create it where the cassettes are and commit it "
                "(`pytest --llm-cost --llm-cost-update`), or fix the path (--llm-cost-baseline / llm_cost_baseline)"
            )
        self._check_outputs_writable()
        if self.settings.prune and not self.settings.update:
            raise pytest.UsageError("--llm-cost-prune only works with --llm-cost-update")
        if self.settings.prune and not self.is_worker and self._selection_options():
            raise pytest.UsageError(
                f"--llm-cost-prune needs the whole suite, but this run selects tests ({self._selection_options()}); "
                "run it without selecting tests"
            )
        from ..capture.attribution import Attribution
        from ..capture.network import NetworkBlock
        from ..providers.estimate import prepare

        prepare()  # tiktoken's data, fetched now if not cached: no cassette or network block is active yet
        self.tap.install()
        self._attribution = Attribution()
        self._attribution.install()
        if not self.settings.recording:
            self.network_block = NetworkBlock(self.settings.allow_hosts, self._blocked_message)
            if self.settings.placeholder_keys:  # replayed calls never send a key, but the SDKs want one
                from ..capture.credentials import PlaceholderKeys

                self._placeholders = PlaceholderKeys()
                self._placeholders.install()
        else:
            from ..capture.network import LLMHostWatch

            self.network_block = LLMHostWatch(self._unfixtured_call)
        self.config.pluginmanager.register(Protocol(self), "llm_cost_protocol")

    def _unfixtured_test(self) -> pytest.Item | None:
        """The running test when it makes a call itself (not a wide fixture) without the ``llm_cost`` fixture."""
        item = self.current_item
        if item is None or "llm_cost" in getattr(item, "fixturenames", ()):
            return None
        if self.current is not item.stash.get(LEDGER_KEY, None):  # a wide fixture is being set up
            return None
        return item

    def _unfixtured_call(self, host: str) -> None:
        """While recording: a test without the fixture reaches an LLM host; nothing records or meters it."""
        item = self._unfixtured_test()
        if item is None or (item.nodeid, host) in self._unfixtured:
            return
        self._unfixtured.add((item.nodeid, host))
        import warnings

        warnings.warn(  # under filterwarnings = error, this fails the call, and so the test
            LLMCostWarning(
                f"{item.nodeid} calls {host} without the llm_cost fixture: the call is neither recorded nor "
                "metered, and will fail when replayed. Add llm_cost to the test's arguments, or list its "
                "directory in llm_cost_autouse"
            ),
            stacklevel=2,
        )

    def _blocked_message(self, host: str) -> str:
        item = self.current_item
        nodeid = item.nodeid if item is not None else "a fixture"
        from ..providers.base import is_llm_host

        if item is not None and is_llm_host(host) and self._unfixtured_test() is not None:
            return (
                f"LLM cost replay: {nodeid} calls {host} without the llm_cost fixture, so no cassette answers "
                "it and its cost is not metered. Add llm_cost to the test's arguments (or list its directory in "
                f"llm_cost_autouse), then record it (`pytest '{nodeid}' --llm-cost-record-mode=once`)"
            )
        return (
            f"LLM cost replay: {nodeid} tried to reach {host}, which no cassette serves: a replaying "
            "--llm-cost run never uses the network. Give the test the llm_cost fixture and record it "
            f"(`pytest '{nodeid}' --llm-cost-record-mode=once`), or allow the host with "
            f"--llm-cost-allow-hosts={host}"
        )

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
        if self._placeholders is not None:
            self._placeholders.uninstall()
        if "tap" in self.__dict__:  # made only when a cassette or --llm-cost needed it
            self.tap.uninstall()
        if self._attribution is not None:
            self._attribution.uninstall()
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

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """``llm_cost_autouse``: each test under those directories takes the fixture, as ``usefixtures`` adds it."""
        folders = self.settings.autouse
        if not folders:
            return
        for item in items:
            names = getattr(item, "fixturenames", None)
            if names is None or "llm_cost" in names:  # parametrized tests share one list
                continue
            if any(Path(item.path).is_relative_to(folder) for folder in folders):
                names.insert(0, "llm_cost")  # first: it records what the test's other fixtures call too

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Every ``cost_budget`` marker is valid, whichever plugin or conftest hook added it, before any test runs."""
        errors = []
        for item in session.items:
            if item.get_closest_marker("cost_budget") is None:
                continue
            from ..gate.budgets import BudgetError

            try:
                budget_of(item)
            except BudgetError as exc:
                errors.append(f"{item.nodeid}: cost_budget: {exc}")
            else:
                if "llm_cost" not in getattr(item, "fixturenames", ()):
                    errors.append(
                        f"{item.nodeid}: cost_budget on a test without the llm_cost fixture limits nothing: "
                        "add llm_cost to the test's arguments, or list its directory in llm_cost_autouse"
                    )
        if errors and self.is_worker:
            # A usage error would only stop this worker: the controller shows a collection error.
            message = "invalid cost_budget marker:\n  " + "\n  ".join(errors)
            session.config.hook.pytest_collectreport(report=pytest.CollectReport("", "failed", message, []))
            session.shouldfail = "invalid cost_budget marker"
        elif errors:
            raise pytest.UsageError("invalid cost_budget marker:\n  " + "\n  ".join(errors))
        self.collected.update(item.nodeid for item in session.items)
        if self.settings.enabled and self.settings.prune and self.deselected:
            raise pytest.UsageError(
                f"--llm-cost-prune needs the whole suite, but this run deselected "
                f"{plural(self.deselected, 'test')}; run it without selecting tests"
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_recording_configure(self, config: pytest.Config, vcr: Any) -> None:
        """A test taking ``llm_cost`` under ``@pytest.mark.vcr`` records through pytest-recording's
        cassette: it gets the same secret stripping as the plugin's own cassettes."""
        item = self.current_item
        if item is not None and "llm_cost" in getattr(item, "fixturenames", ()):
            from ..capture.recording import secure_recording_cassettes

            secure_recording_cassettes(vcr, self.settings.record_hosts)

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

        from ..fmt import money

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
        token = OWNER.set(ledger)
        self.current = ledger
        if self.settings.enabled and self.settings.recording:  # the spend guard's budget
            from ..gate.budgets import BudgetError

            try:
                self.current_budget = budget_of(item)
            except BudgetError:
                self.current_budget = None  # judged (and failed) when the test is settled
        self.current_item = item
        block = self.network_block
        if block is not None and not _reruns_wanted(item):
            block = None  # Protocol blocks the network around the tests it runs
        if block is not None:
            block.install()
        try:
            return (yield)
        finally:
            if block is not None:
                block.uninstall()
            OWNER.reset(token)
            if "_reserved" in self.__dict__:  # calls that never got an answer reserve nothing past their test
                self._reserved.clear()
            self.current = None
            self.current_budget = None
            self.current_item = None
            if not ledger.closed:  # not settled: the plugin is off, or the test was interrupted
                cost = measure(item.nodeid, ledger.snapshot(), self.card) if self.settings.enabled else None
                if cost is not None and self.settings.recording:
                    self.spend.add(cost.usd)
                ledger.close(cost)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report: pytest.TestReport = yield
        if call.when in ("setup", "call"):
            item.stash[PHASE_KEY] = (call.when, report.outcome)
        elif self.is_worker and KEPT_KEY in item.stash:
            report.llm_cost_cassette_kept = item.stash[KEPT_KEY]  # type: ignore[attr-defined]
        if report.failed and call.excinfo is not None:
            self._explain_failure(item, report, call.excinfo)
        if call.when == "teardown" and self.settings.enabled and not item.stash.get(OWNED_KEY, False):
            # Another plugin runs this test's phases (pytest-rerunfailures): judge each attempt at
            # its teardown report, and give the next attempt a ledger of its own.
            self.settle(item, [report])
            fresh = Ledger(item.nodeid)
            item.stash[LEDGER_KEY] = fresh
            self.current = fresh
            OWNER.set(fresh)  # the protocol wrapper restores the owner from before the test
        return report

    def _explain_failure(
        self, item: pytest.Item, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[Any]
    ) -> None:
        """Replace an SDK's "connection error" by what really happened: a cassette miss, the spend
        guard, or the network closed to a replaying run."""
        if not self.settings.enabled and CASSETTE_KEY not in item.stash:
            return  # neither this plugin's cassette nor its guards were involved
        from ..capture.network import NetworkBlocked
        from ..capture.recording import exception_chain, find_miss

        original = excinfo.exconly().splitlines()[0][:300]
        self._credential_hint(item, report, excinfo)
        for link in exception_chain(excinfo.value):
            if isinstance(link, (SpendLimitExceeded, NetworkBlocked, LLMCostWarning)):  # the plugin stopped the call
                raised = "" if str(link)[:120] in original else f"\n(the client raised {original})"
                report.longrepr = f"{link}{raised}"
                if isinstance(link, SpendLimitExceeded):
                    item.stash[GUARD_KEY] = str(link)
                return
        if CASSETTE_KEY not in item.stash:
            return
        miss = find_miss(excinfo.value)
        if miss is not None and os.path.abspath(miss.path) == item.stash[CASSETTE_KEY]:
            explanation = miss.explain(item.nodeid, self._cassette_name(miss.path))
            report.longrepr = f"{explanation}\n(the client raised {original})"

    def _credential_hint(
        self, item: pytest.Item, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[Any]
    ) -> None:
        """A replaying test that failed for want of an API key (or on a replayed 401): one line naming the variable."""
        if self.settings.recording:
            return
        from ..capture.credentials import credential_hint

        hint = credential_hint(
            excinfo.value, metering=self.settings.enabled, placeholders=self.settings.placeholder_keys
        )
        if hint is not None:
            report.sections.append(("LLM cost hint", hint))

    def settle(self, item: pytest.Item, reports: list[pytest.TestReport]) -> None:
        """The test is over, teardown included: measure it, have the gate judge it, apply the verdict.

        The verdict goes on the test's call report (its setup report when it never ran), which
        carries it to the controller; wide fixtures finished meanwhile go on the teardown report.
        """
        from ..gate.budgets import BudgetError
        from ..gate.judge import judge

        ledger = item.stash[LEDGER_KEY]
        captured = ledger.snapshot()
        entry = self.baseline.entries.get(item.nodeid)
        cost = measure(item.nodeid, captured, self.card)
        if cost.records and self._needs_segments(entry, cost):  # rare: a change to explain, or a baseline to write
            cost = measure(item.nodeid, captured, self.card, segments=True)
        ledger.close(cost)
        if self.settings.recording:
            self.spend.add(cost.usd)
        try:
            budget, bad_budget = budget_of(item), None
        except BudgetError as exc:
            budget, bad_budget = None, f"invalid cost_budget marker: {exc}"
        verdict = judge(
            item.nodeid,
            cost,
            entry=entry,
            budget=budget,
            rules=self.rules,
            card=self.card,
            stopped=item.stash.get(GUARD_KEY, None) or bad_budget,
            divergence=lambda: _divergence(captured),
        )
        target = next((report for report in reports if report.when == "call"), reports[0])
        if target.skipped and verdict.fails:  # skipped or xfailed: shown, but it fails nothing
            verdict = dataclasses.replace(verdict, fails=False)
            target.sections.append(("LLM cost findings", verdict.message))
        verdict = self._apply(item, target, verdict)
        target.llm_cost = cost.to_json()  # type: ignore[attr-defined]
        target.llm_cost_verdict = verdict.to_json()  # type: ignore[attr-defined]
        if budget is not None and budget.runs_per_day is not None:
            target.llm_cost_runs_per_day = budget.runs_per_day  # type: ignore[attr-defined]
        self._measured[item.nodeid] = (cost, verdict)
        finished = [
            {"id": nodeid, "cost": fixture_cost.to_json(), "verdict": fixture_verdict.to_json()}
            for nodeid, fixture_cost, fixture_verdict in self._judge_fixtures(item, reports[-1])
        ]
        if finished:
            reports[-1].llm_cost_fixtures = finished  # type: ignore[attr-defined]
        if self.is_worker and self._lost:  # calls nobody owned travel to the controller with this report
            shipped = [lost.to_json() | {"started_by": lost.nodeid} for lost in self._unattributed()]
            reports[-1].llm_cost_unattributed = shipped  # type: ignore[attr-defined]

    def _needs_segments(self, entry: Entry | None, cost: TestCost) -> bool:
        """Whether to measure prompts by part: when the baseline is being written, or a test's usage
        differs from its entry (or it has none yet), so that the change can be explained."""
        if self.settings.update:
            return True
        if entry is None:
            return self.baseline.exists
        if (
            cost.calls != entry.total.calls
            or cost.tokens != entry.total.tokens
            or cost.steps.keys() != entry.steps.keys()
        ):
            return True
        return any(  # a flat total can hide a step that grew and one that shrank
            step.calls != entry.steps[path].calls or step.tokens != entry.steps[path].tokens
            for path, step in cost.steps.items()
        )

    def _judge_fixtures(
        self, item: pytest.Item | None, report: pytest.TestReport | None
    ) -> list[tuple[str, TestCost, Verdict]]:
        """Judge the wide fixtures finished since the last call; a failing one fails ``report`` (a teardown)."""
        from ..gate.judge import judge

        fixtures, self._fixtures_done = self._fixtures_done, []
        judged = []
        for fixture in fixtures:
            assert fixture.final is not None
            verdict = judge(
                fixture.nodeid,
                fixture.final,
                entry=self.baseline.entries.get(fixture.nodeid),
                budget=None,
                rules=self.rules,
                card=self.card,
                kind="fixture",
            )
            if item is not None and report is not None:
                verdict = self._apply(item, report, verdict, prefix=f"fixture {fixture.nodeid}: ")
            self._measured[fixture.nodeid] = (fixture.final, verdict)
            judged.append((fixture.nodeid, fixture.final, verdict))
        return judged

    def _apply(self, item: pytest.Item, report: pytest.TestReport, verdict: Verdict, prefix: str = "") -> Verdict:
        """Fail ``report`` with the verdict's reasons (or add them as a section when it failed already).

        Its warnings are issued here; under ``filterwarnings = error`` a warning fails the test
        instead, and the verdict returned says so.
        """
        from ..report.terminal import comparison_table

        for warning in verdict.warnings:
            try:
                item.warn(LLMCostWarning(prefix + warning))
            except Exception as exc:  # filterwarnings = error: the warning fails the test
                verdict = dataclasses.replace(
                    verdict, fails=True, findings=(*verdict.findings, (verdict.status, str(exc)))
                )
        if not verdict.fails:
            return verdict
        if verdict.comparison is not None:
            report.sections.append(("LLM cost vs baseline", comparison_table(verdict.comparison)))
        text = prefix + verdict.message.replace("\n", "\n" + " " * len(prefix) if prefix else "\n")
        report.llm_cost_status = verdict.status.value  # type: ignore[attr-defined]
        if report.passed:
            report.outcome = "failed"
            report.longrepr = text
            report.llm_cost_only = True  # type: ignore[attr-defined]
        else:
            report.sections.append(("LLM cost findings", text))
        return verdict

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        status = getattr(report, "llm_cost_status", None)
        if status is None or not report.failed or report.when != "call":
            return None
        from ..gate.judge import Status

        if getattr(report, "llm_cost_only", False) or status == Status.OVER_BUDGET:
            return "failed", "$", Status(status).word
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        kept = getattr(report, "llm_cost_cassette_kept", None)
        if kept:  # from an xdist worker
            self.cassettes_kept.append(kept)
        if not self.settings.enabled:
            return
        nodeid = report.nodeid
        # Only tests that passed, or failed on nothing but cost, may update the baseline.
        if report.skipped and self.outcomes.get(nodeid) != "failed":
            self.outcomes[nodeid] = "skipped"
        elif report.failed and not getattr(report, "llm_cost_only", False):
            self.outcomes[nodeid] = "failed"
        elif report.failed and report.when != "teardown":  # failed on its own cost alone
            if self.outcomes.get(nodeid) in (None, "passed"):
                self.outcomes[nodeid] = "cost"
        else:  # passed, or a wide fixture's cost failed the teardown report: the test itself did not fail
            self.outcomes.setdefault(nodeid, "passed")
        for lost in getattr(report, "llm_cost_unattributed", ()):
            self.unattributed.append(TestCost.from_json(str(lost.get("started_by", "")), lost))
        for fixture in getattr(report, "llm_cost_fixtures", ()):
            self._receive(fixture["id"], fixture["cost"], fixture["verdict"], kind="fixture")
        data = getattr(report, "llm_cost", None)
        if data is None:
            return
        cost = self._receive(nodeid, data, report.llm_cost_verdict)
        runs = getattr(report, "llm_cost_runs_per_day", None)
        if runs is not None:
            self._runs[nodeid] = runs
        self._live_progress()
        if self.config.get_verbosity() > 0:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                from ..report.terminal import call_line

                reporter.ensure_newline()
                for record in cost.records:
                    reporter.write_line(call_line(record))

    def _live_progress(self) -> None:
        """While recording, one line now and then (every LIVE_INTERVAL_S at most) with what the run has spent."""
        if not self.settings.recording or self.config.get_verbosity() < 0:
            return
        now = time.monotonic()
        if now - self._live_last < LIVE_INTERVAL_S:
            return
        self._live_last = now
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        from ..report.terminal import live_line

        tests = [cost for cost in self.results.values() if cost.records]
        usd = sum((cost.usd for cost in tests), Decimal(0))
        reporter.ensure_newline()
        reporter.write_line(live_line(sum(cost.calls for cost in tests), usd, len(tests)))

    def _receive(self, nodeid: str, data: dict[str, Any], verdict_data: dict[str, Any], kind: str = "test") -> TestCost:
        """A measured test or fixture reaches the controller (from this process, or a worker's report)."""
        from ..gate.judge import Verdict

        known = self._measured.pop(nodeid, None)
        cost = known[0] if known is not None else TestCost.from_json(nodeid, data)
        if kind == "fixture" and nodeid in self.results and self.results[nodeid].usd >= cost.usd:
            # The same fixture instance set up in two xdist workers: one entry, the dearer if they differ.
            return cost
        verdict = known[1] if known is not None else Verdict.from_json(nodeid, verdict_data, kind=kind)
        self.results[nodeid] = cost
        self.verdicts[nodeid] = verdict
        self._raw[nodeid] = data
        if kind == "fixture":
            self.outcomes[nodeid] = "cost" if verdict.fails else "passed"
        return cost

    # -- the end of the run ----------------------------------------------------------------

    def _runs_per_day(self) -> dict[str, int]:
        """From ``cost_budget(runs_per_day=...)``, else the first matching ``llm_cost_runs_per_day`` line."""
        import fnmatch

        found: dict[str, int] = {}
        for nodeid in self.results:
            if nodeid in self._runs:
                found[nodeid] = self._runs[nodeid]
                continue
            for pattern, runs in self.settings.runs_per_day:
                if fnmatch.fnmatchcase(nodeid, pattern):
                    found[nodeid] = runs
                    break
        return found

    def _unattributed(self) -> list[TestCost]:
        """This process's calls that arrived after their test ended, measured per starting test."""
        by_origin: dict[str, list[Captured]] = {}
        for origin, captured in self._lost:
            by_origin.setdefault(origin, []).append(captured)
        self._lost = []
        return [measure(origin, captured, self.card) for origin, captured in sorted(by_origin.items())]

    def finish(self) -> tuple[Results, RunVerdict]:
        """The run's results and verdict, built once (on the controller) and rendered by every surface."""
        if self.final is not None:
            return self.final
        from ..gate.judge import judge_run
        from ..results import Results

        # Session-scoped fixtures torn down after the last test's report (a run stopped by -x).
        for nodeid, cost, verdict in self._judge_fixtures(None, None):
            self._receive(nodeid, cost.to_json(), verdict.to_json(), kind="fixture")
        self.unattributed += self._unattributed()
        collected = tuple(sorted(self.collected)) if self.complete_collection else None
        results = Results(
            tests=dict(self.results),
            rate_card=self.card.describe(),
            outcomes={nodeid: self.outcomes.get(nodeid, "passed") for nodeid in self.results},
            collected=collected,
            verdicts=dict(self.verdicts),
            runs_per_day=self._runs_per_day(),
            rules=self.rules,
            unattributed=tuple(self.unattributed),
            raw=self._raw,
        )
        baseline = self.baseline
        run = judge_run(
            results.verdicts.values(),
            results.tests,
            baseline_ids=baseline.entries,
            baseline_exists=baseline.exists,
            collected=collected,
            rules=self.rules,
            baseline=_display(self.settings.baseline_path),
        )
        results = dataclasses.replace(results, run=run.to_json())
        self.final = (results, run)
        return self.final

    @pytest.hookimpl(trylast=True)  # after pytest tore down what the last test left set up
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._save_memo()
        if not self.settings.enabled or self.is_worker:
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        from ..files import FileFormatError, FileWriteError

        results, run = self.finish()
        path = self.settings.results_path
        try:
            if path is not None:
                started = time.perf_counter()
                results.write(path)
                self.written.append(("results", path))
                self.took["results"] = time.perf_counter() - started
            if self.settings.report_path or self.settings.markdown_path or os.environ.get("GITHUB_STEP_SUMMARY"):
                self._write_reports(results, run)
            if self.settings.update:
                self._update_baseline(results)
        except (FileFormatError, FileWriteError) as exc:  # the file is left as it was
            raise pytest.UsageError(str(exc)) from None
        if not self.settings.update and run.fails and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_reports(self, results: Results, run: RunVerdict) -> None:
        from ..files import write_atomic
        from ..report.html import write_html
        from ..report.markdown import summary_markdown
        from ..report.model import build_report

        report = build_report(results, run)
        if self.settings.report_path is not None:
            started = time.perf_counter()
            write_html(report, self.settings.report_path)
            self.written.append(("report", self.settings.report_path))
            self.took["report"] = time.perf_counter() - started
        if self.settings.markdown_path is not None:
            started = time.perf_counter()
            link = None
            if self.settings.report_path is not None:
                link = os.path.relpath(self.settings.report_path, self.settings.markdown_path.parent)
            write_atomic(self.settings.markdown_path, summary_markdown(report, report_link=link))
            self.written.append(("summary", self.settings.markdown_path))
            self.took["summary"] = time.perf_counter() - started
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(summary_markdown(report) + "\n")

    def _check_outputs_writable(self) -> None:
        """A read-only file the run would replace stops it before any test runs, not after them all."""
        if self.is_worker:
            return
        from ..files import FileWriteError, check_writable

        settings = self.settings
        outputs = [
            (settings.results_path, "results", "--llm-cost-results"),
            (settings.report_path, "report", "--llm-cost-report"),
            (settings.markdown_path, "summary", "--llm-cost-markdown"),
        ]
        try:
            if settings.update:
                check_writable(
                    settings.baseline_path,
                    "--llm-cost-update",
                    "make it writable (chmod u+w), or leave out --llm-cost-update",
                )
            for path, what, flag in outputs:
                if path is not None:
                    check_writable(
                        path, "the run", f"make it writable (chmod u+w), or write the {what} elsewhere with {flag}"
                    )
        except FileWriteError as exc:
            raise pytest.UsageError(str(exc)) from None

    def _update_baseline(self, results: Results) -> None:
        """Accept the run's usage into the baseline, merged under a lock with any update made meanwhile."""
        from ..gate.baseline import save_update, stale_entries, update

        start = self.baseline
        prune: set[str] = set()
        not_pruned = ""
        if self.settings.prune and results.collected is not None:
            if results.collected:
                prune = set(stale_entries(start.entries, results.collected, results.tests))
            else:  # a run that found no test cannot tell a removed test from a misconfigured run
                not_pruned = "; not pruned: this run collected no test"
        new, summary = update(start, results.accepted(), prune=prune)
        path = self.settings.baseline_path
        created = ""
        if summary.any:
            summary = save_update(path, start, new)
        elif not start.exists and not path.exists():  # empty, but there: in CI, a missing baseline fails the run
            new.write(path)
            created = " (created)"
        self.update_message = (
            f"baseline {_display(path)}: {summary}" + (created or ("" if summary.any else " (unchanged)")) + not_pruned
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        if not self.settings.enabled:
            if self.cassettes_kept:  # recording without --llm-cost
                terminalreporter.write_sep("=", "LLM cost")
                for line in self.cassettes_kept:
                    terminalreporter.write_line(line)
            return
        from ..report.terminal import findings_lines, summary_lines, written_line

        results, run = self.finish()
        terminalreporter.write_sep("=", "LLM cost")
        for line in summary_lines(results, width=terminalreporter._tw.fullwidth):
            terminalreporter.write_line(line)
        for line in findings_lines(run, results):
            terminalreporter.write_line(line)
        for label, path in self.written:
            terminalreporter.write_line(written_line(label, _display(path), self.took.get(label)))
        if self.update_message is not None:
            terminalreporter.write_line(self.update_message)
        for line in self.cassettes_kept:
            terminalreporter.write_line(line)

    # -- the fixture -----------------------------------------------------------------

    def fixture(self, request: pytest.FixtureRequest, path: Path, vcr_config: dict[str, Any]) -> Iterator[LLMCost]:
        item = request.node
        if LEDGER_KEY in item.stash:
            yield from self._fixture(item, item.stash[LEDGER_KEY], path, vcr_config)
            return
        # The run's protocol wrapper did not run for this test: the fixture, asked for by name, woke
        # the plugin in the middle of it. The test's ledger starts here and owns its calls until teardown.
        ledger = item.stash[LEDGER_KEY] = Ledger(item.nodeid)
        token = OWNER.set(ledger)
        self.current, self.current_item = ledger, item
        try:
            yield from self._fixture(item, ledger, path, vcr_config)
        finally:
            self.current = self.current_item = None
            try:
                OWNER.reset(token)
            except ValueError:  # torn down in another context than it was set up in
                OWNER.set(None)

    def _fixture(self, item: pytest.Item, ledger: Ledger, path: Path, vcr_config: dict[str, Any]) -> Iterator[LLMCost]:
        self.tap.install()
        owned_by_recording = item.get_closest_marker("vcr") is not None and self.config.pluginmanager.hasplugin(
            "recording"
        )
        if owned_by_recording:
            yield LLMCost(ledger, lambda: self.card, None)
            return
        from ..capture.persister import CassettePersister, CassetteReadError
        from ..capture.recording import use_cassette

        path = Path(os.path.abspath(path))
        item.stash[CASSETTE_KEY] = str(path)
        name = self._cassette_name(str(path)) or str(path)
        # Written atomically, and only added to until the test has passed.
        persister = CassettePersister(lambda: _unfinished(item))
        try:
            hosts = self.settings.record_hosts
            with use_cassette(path, self.settings.record_mode, vcr_config, persister=persister, record_hosts=hosts):
                yield LLMCost(ledger, lambda: self.card, path)
        except CassetteReadError as exc:  # never recorded over
            pytest.fail(str(exc).replace(str(path), name, 1), pytrace=False)
        if persister.error is not None:
            pytest.fail(persister.error.replace(str(path), name, 1), pytrace=False)
        if persister.kept is not None:
            line = f"cassette {name} kept as it was: {persister.kept}"
            item.stash[KEPT_KEY] = line
            self.cassettes_kept.append(line)


class Protocol:
    """Registered only under ``--llm-cost``: runs each test's phases, then settles it before its reports are logged.

    A test's cost is its setup, call and teardown together; its verdict can only be known once
    the teardown is done, and must still fail the test's own call report. pytest's
    ``runtestprotocol(log=False)`` (as pytest-rerunfailures uses it) runs the phases without
    logging, so the reports are logged once the verdict is applied. Fixtures wider than a test
    get ledgers of their own while they are set up and torn down.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self._frozen = False

    def _freeze(self) -> None:
        """Move every object alive now out of the garbage collector's sight until the session ends.

        Called once the tests are collected (modules, items, the baseline, the rate card) and once
        they have all run, before the end-of-run reports: what is alive then lives as long as the
        run, and each full collection would otherwise walk it all again (a tenth of a replayed
        suite's CPU). Never while the tests run: what a test or a fixture creates is collected as
        it would be without the plugin. Cyclic garbage frozen with it is freed when the session
        ends. A program that froze objects itself is left alone.
        """
        import gc

        if not self._frozen and gc.get_freeze_count():
            return
        gc.freeze()
        self._frozen = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        self._freeze()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._freeze()

    def pytest_unconfigure(self) -> None:
        if self._frozen:
            import gc

            gc.unfreeze()
            self._frozen = False

    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        if _reruns_wanted(item):
            return None  # pytest-rerunfailures runs it; the run settles it at its teardown report
        from _pytest.runner import runtestprotocol

        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        item.stash[OWNED_KEY] = True
        block = self.run.network_block
        if block is not None:
            block.install()
        try:
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
        finally:
            if block is not None:
                block.uninstall()
        self.run.settle(item, reports)
        for report in reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None, object, object]:
        if fixturedef.scope == "function":
            return (yield)
        run = self.run
        ledger = Ledger(fixture_entry_id(fixturedef, request))
        tokens: list[Any] = []
        saved: list[Ledger | None] = []

        def enter() -> None:
            saved.append(run.current)
            run.current = ledger
            tokens.append(OWNER.set(ledger))

        def leave() -> None:
            if tokens:
                OWNER.reset(tokens.pop())
                run.current = saved.pop()

        def done() -> None:
            leave()
            if ledger in run._open_fixtures:
                run._open_fixtures.remove(ledger)
            if len(ledger) and not ledger.closed:
                cost = measure(ledger.nodeid, ledger.snapshot(), run.card)
                ledger.close(cost)
                if run.settings.recording:
                    run.spend.add(cost.usd)  # a fixture's recording counts toward the run's cap
                run._fixtures_done.append(ledger)

        fixturedef.addfinalizer(done)  # finalizers run last-in first-out: this one last
        run._open_fixtures.append(ledger)
        enter()
        try:
            return (yield)
        finally:
            leave()
            fixturedef.addfinalizer(enter)  # ...and this one first, before the fixture's own teardown


def _divergence(captured: list[Captured]) -> Divergence | None:
    """Where the test's requests stop sharing a prompt prefix: read only for a cache regression."""
    from ..meter import prompts
    from ..providers.segments import find_divergence

    return find_divergence(prompts(captured))


def _reruns_wanted(item: pytest.Item) -> bool:
    if not item.config.pluginmanager.hasplugin("rerunfailures"):
        return False
    return bool(getattr(item.config.option, "reruns", 0)) or item.get_closest_marker("flaky") is not None


def _request_key(request: Any) -> int:
    """One reservation per request in flight from a thread: an SDK's retry of a request that got no
    answer takes the place of the first attempt's reservation instead of adding to it."""
    body = request.body if isinstance(request.body, (bytes, str)) else None
    return hash((threading.get_ident(), request.method, request.uri, body))


def _unfinished(item: pytest.Item) -> str | None:
    """Why ``item`` has not passed (so its cassette may only be added to), or None when its call passed."""
    when, outcome = item.stash.get(PHASE_KEY, ("setup", "passed"))
    if when == "call" and outcome == "passed":
        return None
    if when == "call":
        return f"the test {'failed' if outcome == 'failed' else 'was skipped'} while recording"
    if outcome == "passed":  # its call never reported: an interrupt (KeyboardInterrupt, SIGINT)
        return "the test was interrupted while recording"
    return "the test's setup did not finish while recording"


def _on_ci() -> bool:
    """``CI`` is set to a true value, as GitHub Actions, GitLab CI, CircleCI and most others set it."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
