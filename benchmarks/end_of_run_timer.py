"""A pytest plugin for ``controller.py``: the controller's CPU seconds at the end of the run.

Loaded with ``-p end_of_run_timer`` (``benchmarks/`` on ``PYTHONPATH``), it wraps every
implementation of ``pytest_sessionfinish`` and ``pytest_terminal_summary`` and writes the CPU
time (``time.process_time``: this process only, so the workers' time and any waiting are not
in it) they took to the file named by ``LLM_COST_BENCH_TIMES``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator

import pytest

SPENT: dict[str, float] = {}


def _timed(name: str) -> Generator[None, object, object]:
    started = time.process_time()
    try:
        return (yield)
    finally:
        SPENT[name] = SPENT.get(name, 0.0) + time.process_time() - started


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish() -> Generator[None, object, object]:
    return (yield from _timed("sessionfinish"))


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary() -> Generator[None, object, object]:
    return (yield from _timed("terminal_summary"))


def pytest_unconfigure(config: pytest.Config) -> None:
    target = os.environ.get("LLM_COST_BENCH_TIMES")
    if target and not hasattr(config, "workerinput"):
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(SPENT, handle)
