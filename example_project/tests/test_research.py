"""Cost tests of the research assistant: each replays its cassette and is metered per step."""

from __future__ import annotations

import asyncio

import openai
import pytest
from research_assistant import answer, classify
from research_assistant.config import Settings

QUESTION = "How does prompt caching cut the cost of an LLM agent?"


@pytest.mark.cost_budget(usd=0.05, delta="10%", steps={"synthesize": 0.02, "research": {"tokens": 2000}})
def test_research_workflow(llm_cost):
    """The whole workflow, within its budget and within 10% of its baseline."""
    result = asyncio.run(answer(QUESTION))

    assert result.summary
    assert len(result.queries) == 3
    assert set(llm_cost.steps) == {"classify", "plan", "research", "synthesize", "summarize"}
    # The expensive model is only used for the synthesis.
    synthesis = [call for call in llm_cost.calls if call.step == "synthesize"]
    assert [call.model for call in synthesis] == ["claude-sonnet-4-6"]


@pytest.mark.parametrize(
    "question",
    [
        "Which steps of a workflow should use a small model?",
        "How should an agent stop when it runs out of budget?",
    ],
)
@pytest.mark.cost_budget(0.05)
def test_other_questions(llm_cost, question):
    result = asyncio.run(answer(question))
    assert result.report


@pytest.mark.cost_budget(usd=0.0001, tokens=200)
def test_classification_is_cheap(llm_cost):
    """Classifying a question stays a one-call job for the small model."""

    async def run() -> str:
        async with openai.AsyncOpenAI(max_retries=0) as client:
            return await classify(QUESTION, client, Settings.from_env())

    assert asyncio.run(run())
    assert len(llm_cost.calls) == 1
