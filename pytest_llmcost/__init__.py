"""pytest-llmcost: record, replay and meter the LLM calls of a test suite, and gate its cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .meter import current_step, step
    from .usage import Call, StepCost, TestCost, Tokens

__version__ = "0.1.0.dev0"

__all__ = ["Call", "StepCost", "TestCost", "Tokens", "__version__", "current_step", "step"]

_LAZY = {
    "current_step": "meter",
    "step": "meter",
    "Call": "usage",
    "StepCost": "usage",
    "TestCost": "usage",
    "Tokens": "usage",
}


def __getattr__(name: str) -> Any:
    """The public names load with their module on first use: pytest loads this package for its entry
    point in every run, used or not. Not cached here: a module re-imported (pytester's in-process
    runs restore ``sys.modules``) must hand out its own ``step``, whose context variable it reads."""
    import importlib

    if name in ("meter", "usage"):  # the modules of the public names, imported with the package before
        return importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
