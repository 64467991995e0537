"""Named steps, and the per-test ledger that collects the exchanges a test consumed.

The current step lives in a :class:`contextvars.ContextVar`, so it follows asyncio tasks and
threads started with :func:`contextvars.copy_context`. Capturing an exchange only appends a
reference to a list; reading usage and pricing happen later, once per test.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from .providers.base import Exchange

__all__ = ["Captured", "Ledger", "current_step", "step"]

_STEP: contextvars.ContextVar[str | None] = contextvars.ContextVar("llm_cost_step", default=None)

F = TypeVar("F", bound=Callable[..., Any])


def current_step() -> str | None:
    """The path of the step the caller is in (``research/search``), or None outside any step."""
    return _STEP.get()


class step:  # noqa: N801 - used like a function: ``with step("plan"):``
    """Attribute the LLM calls made inside to a named step.

    Use it as a context manager or a decorator (sync or async). Steps nest: a step
    ``search`` inside ``research`` is recorded as ``research/search``.

    >>> with step("plan"):
    ...     current_step()
    'plan'
    """

    __slots__ = ("name", "_tokens")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip() or name.strip("/") != name or "//" in name:
            raise ValueError(
                f"step name must be a non-empty string without leading, trailing or doubled '/', got {name!r}"
            )
        self.name = name
        self._tokens: list[contextvars.Token[str | None]] = []

    def __enter__(self) -> str:
        parent = _STEP.get()
        path = self.name if parent is None else f"{parent}/{self.name}"
        self._tokens.append(_STEP.set(path))
        return path

    def __exit__(self, *exc_info: object) -> None:
        _STEP.reset(self._tokens.pop())

    async def __aenter__(self) -> str:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)

    def __call__(self, func: F) -> F:
        name = self.name
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with step(name):
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with step(name):
                return func(*args, **kwargs)

        return cast(F, wrapper)

    def __repr__(self) -> str:
        return f"step({self.name!r})"


@dataclass(frozen=True, slots=True)
class Captured:
    """One exchange as the test consumed it, with where it came from."""

    exchange: Exchange
    step: str | None
    cassette: str | None
    interaction: int | None


class Ledger:
    """The exchanges one test consumed, in order. Appending is thread-safe and cheap."""

    __slots__ = ("nodeid", "captured", "_lock")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.captured: list[Captured] = []
        self._lock = threading.Lock()

    def add(self, exchange: Exchange, cassette: str | None, interaction: int | None) -> None:
        item = Captured(exchange, _STEP.get(), cassette, interaction)
        with self._lock:
            self.captured.append(item)

    def snapshot(self) -> list[Captured]:
        with self._lock:
            return list(self.captured)

    def __len__(self) -> int:
        return len(self.captured)


@contextmanager
def no_step() -> Iterator[None]:
    """Run a block outside any step (used by the plugin around fixture setup)."""
    token = _STEP.set(None)
    try:
        yield
    finally:
        _STEP.reset(token)
