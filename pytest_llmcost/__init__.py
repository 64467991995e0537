"""pytest-llmcost: record, replay and meter the LLM calls of a test suite, and gate its cost."""

from __future__ import annotations

from .meter import current_step, step
from .usage import Call, StepCost, TestCost, Tokens

__version__ = "0.1.0.dev0"

__all__ = ["Call", "StepCost", "TestCost", "Tokens", "__version__", "current_step", "step"]
