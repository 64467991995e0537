"""A small research assistant: the example application pytest-llmcost tests."""

from __future__ import annotations

from .workflow import Answer, answer, classify

__all__ = ["Answer", "answer", "classify"]
