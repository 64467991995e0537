"""A stand-in for ``pytest_llmcost.step`` when the test tooling is not installed: a plain label."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


class step:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> str:
        return self.name

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                return await func(*args, **kwargs)

            return run_async

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        return run
