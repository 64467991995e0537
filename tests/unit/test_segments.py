"""A prompt's parts, and where consecutive requests stop sharing a cacheable prefix."""

from __future__ import annotations

import json

from pytest_llmcost.providers.base import Exchange
from pytest_llmcost.providers.segments import find_divergence, prompt_parts


def _exchange(body: dict[str, object], url: str = "https://api.openai.com/v1/chat/completions") -> Exchange:
    return Exchange("POST", url, json.dumps(body).encode())


def test_openai_chat_parts() -> None:
    parts = prompt_parts(
        _exchange(
            {
                "model": "gpt-4o",
                "tools": [{"type": "function", "function": {"name": "search", "description": "web search"}}],
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "first question"},
                    {"role": "assistant", "content": "first answer"},
                    {"role": "tool", "tool_call_id": "c1", "content": "tool result"},
                ],
            }
        )
    )
    assert parts == {
        "tools": "search\nweb search",
        "system": "be brief",
        "history": "first question\nfirst answer",
        "latest": "tool result",
    }


def test_anthropic_gemini_and_responses_parts() -> None:
    anthropic = prompt_parts(
        _exchange(
            {"system": [{"type": "text", "text": "rules"}], "messages": [{"role": "user", "content": "hi"}]},
            "https://api.anthropic.com/v1/messages",
        )
    )
    assert anthropic == {"system": "rules", "latest": "hi"}
    gemini = prompt_parts(
        _exchange(
            {
                "systemInstruction": {"parts": [{"text": "rules"}]},
                "contents": [
                    {"role": "user", "parts": [{"text": "q1"}]},
                    {"role": "model", "parts": [{"text": "a1"}]},
                    {"role": "user", "parts": [{"text": "q2"}]},
                ],
            },
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
        )
    )
    assert gemini == {"system": "rules", "history": "q1\na1", "latest": "q2"}
    responses = prompt_parts(_exchange({"instructions": "rules", "input": "question"}))
    assert responses == {"system": "rules", "latest": "question"}
    assert prompt_parts(_exchange({"input": ["text to embed"], "model": "text-embedding-3-small"})) == {
        "latest": "text to embed"
    }
    assert prompt_parts(Exchange("GET", "https://api.openai.com/v1/models")) is None


def test_a_timestamp_in_the_system_prompt_is_where_requests_diverge() -> None:
    def parts(stamp: str, question: str) -> dict[str, str]:
        return {"system": f"Current time: {stamp}. Follow the policy.", "latest": question}

    found = find_divergence(
        [
            (1, "gpt-4o", parts("12:00:01", "a")),
            (2, "gpt-4o", parts("12:00:02", "b")),
            (3, "gpt-4o", parts("12:00:03", "c")),
        ]
    )
    assert found is not None
    assert (found.first, found.second, found.segment, found.offset) == (1, 2, "system", 21)
    assert "12:00:01" in found.before
    assert "12:00:02" in found.after
    assert "at character 21 of the system prompt" in found.describe()


def test_an_agent_loop_that_appends_turns_never_diverges() -> None:
    first = {"system": "rules", "latest": "question"}
    second = {"system": "rules", "history": "question\nanswer", "latest": "tool result"}
    assert find_divergence([(1, "m", first), (2, "m", second)]) is None
    # Requests to another model share no cache with these.
    assert find_divergence([(1, "m", first), (2, "other", {"system": "different"})]) is None
