"""The plugin before anything asks for it: no per-test hook, nothing of the run imported.

Without ``--llm-cost``, a record mode or ``llm_cost_autouse``, :class:`Dormant` is all the
plugin registers. It watches the collection (a few calls per run, none per test) and wakes the
:class:`~pytest_llmcost.hooks.run.Run` only when a collected test takes the ``llm_cost``
fixture or carries a ``cost_budget`` marker; a test that asks for the fixture by name at run
time (``request.getfixturevalue``) wakes it from the fixture. A suite that never uses the
plugin pays for importing this module, :mod:`pytest_llmcost.options` and the option table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..options import Settings
    from .run import Run

__all__ = ["SESSION_KEY", "Dormant", "default_cassette_path", "run_of", "wake"]

SESSION_KEY = pytest.StashKey["Run"]()


def wake(config: pytest.Config, settings: Settings, *, deselected: int = 0, collection_errors: bool = False) -> Run:
    """Make the run object and register its hooks; what the collection saw so far is handed over."""
    from .run import Run

    run = Run(config, settings)
    run.deselected = deselected
    run.collection_errors = collection_errors
    config.stash[SESSION_KEY] = run
    config.pluginmanager.register(run, "llm_cost_session")
    return run


def run_of(config: pytest.Config) -> Run:
    """The run object, woken now if the plugin was dormant (the fixture asked for by name)."""
    run = config.stash.get(SESSION_KEY, None)
    if run is not None:
        return run
    dormant = config.pluginmanager.get_plugin("llm_cost_dormant")
    assert isinstance(dormant, Dormant)  # registered at configure whenever the run was not
    return dormant.wake()


class Dormant:
    """Registered instead of the run while nothing uses the plugin; replaced by it once something does."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.deselected = 0
        self.collection_errors = False

    def wake(self) -> Run:
        self.config.pluginmanager.unregister(self, "llm_cost_dormant")
        return wake(self.config, self.settings, deselected=self.deselected, collection_errors=self.collection_errors)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors = True

    @pytest.hookimpl(trylast=True)  # after the hooks that add fixtures or markers to the items
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """A collected test takes ``llm_cost`` or has a ``cost_budget``: the run wakes, before any test runs."""
        for item in items:
            if "llm_cost" in getattr(item, "fixturenames", ()):
                self.wake()
                return
        for item in items:
            if item.get_closest_marker("cost_budget") is not None:  # valid or not, the run checks it
                self.wake()
                return


def default_cassette_path(item: pytest.Item) -> Path:
    """``<test folder>/cassettes/<module>/<test>.yaml`` (``<module>/<class>.<test>.yaml`` in a class)."""
    from ..capture.recording import cassette_path

    cls = getattr(item, "cls", None)
    return cassette_path(Path(item.path), item.name, cls.__name__ if cls is not None else None)
