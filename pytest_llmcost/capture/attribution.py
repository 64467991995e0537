"""Work a test starts stays that test's: threads and thread-pool work items carry their owner.

The owner of a call is a context variable (:data:`~pytest_llmcost.meter.OWNER`); asyncio tasks
and ``contextvars.copy_context()`` carry it already. A plain ``threading.Thread`` starts with an
empty context, and a thread pool's long-lived workers run work for many tests: while installed,
``Thread.start`` notes the starting context's owner on the thread, and
``ThreadPoolExecutor.submit`` runs each work item with the submitter's owner. A call a thread
makes after its test ended reaches a closed ledger and is reported as unattributed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..meter import OWNER, Ledger

__all__ = ["Attribution", "thread_owner"]

_ATTRIBUTE = "_llm_cost_owner"


def thread_owner() -> Ledger | None:
    """The owner noted on the current thread when it was started, if any."""
    return getattr(threading.current_thread(), _ATTRIBUTE, None)


class Attribution:
    owner = staticmethod(thread_owner)
    """The owner noted on the current thread when it was started, if any."""

    def __init__(self) -> None:
        self._saved: tuple[Any, Any] | None = None

    def install(self) -> None:
        if self._saved is not None:
            return
        original_start, original_submit = threading.Thread.start, ThreadPoolExecutor.submit

        def start(thread: threading.Thread) -> None:
            owner = OWNER.get()
            if owner is not None:
                setattr(thread, _ATTRIBUTE, owner)
            original_start(thread)

        def submit(executor: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            owner = OWNER.get()
            if owner is None:
                return original_submit(executor, fn, *args, **kwargs)

            def run(*inner_args: Any, **inner_kwargs: Any) -> Any:
                token = OWNER.set(owner)
                try:
                    return fn(*inner_args, **inner_kwargs)
                finally:
                    OWNER.reset(token)

            return original_submit(executor, run, *args, **kwargs)

        threading.Thread.start = start  # type: ignore[method-assign, assignment]
        ThreadPoolExecutor.submit = submit  # type: ignore[method-assign, assignment]
        self._saved = (original_start, original_submit)

    def uninstall(self) -> None:
        if self._saved is None:
            return
        threading.Thread.start, ThreadPoolExecutor.submit = self._saved  # type: ignore[method-assign]
        self._saved = None
