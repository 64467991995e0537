"""Test doubles: a loopback fake LLM provider and real SDK clients pointed at it."""

from __future__ import annotations

from tests.fakes.clients import anthropic_client, azure_openai_client, genai_client, openai_client
from tests.fakes.provider import FakeProvider, Prompt, RecordedRequest, count_tokens, message_tokens, reply_for

__all__ = [
    "FakeProvider",
    "Prompt",
    "RecordedRequest",
    "anthropic_client",
    "azure_openai_client",
    "count_tokens",
    "genai_client",
    "message_tokens",
    "openai_client",
    "reply_for",
]
