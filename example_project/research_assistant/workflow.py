"""The research workflow: classify -> plan -> research -> synthesize -> summarize.

Each stage is a named step, so pytest-llmcost can tell which one a cost change came from.
``step`` only sets a context variable (it imports neither pytest nor vcrpy); without
pytest-llmcost installed the steps are plain labels.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import anthropic
import httpx
import openai

from .config import Settings
from .corpus import retrieve

try:
    from pytest_llmcost import step
except ImportError:  # pragma: no cover - production without the test tooling
    from ._steps import step


@dataclass(frozen=True)
class Answer:
    kind: str
    queries: tuple[str, ...]
    report: str
    summary: str


async def _chat(client: openai.AsyncOpenAI, model: str, system: str, user: str) -> str:
    response = await client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
    )
    return response.choices[0].message.content or ""


@step("classify")
async def classify(question: str, client: openai.AsyncOpenAI, settings: Settings) -> str:
    """A cheap model decides what kind of question this is."""
    return await _chat(
        client,
        settings.classify_model,
        "Classify the question as one of: factual, comparison, how-to. Answer with the label only.",
        question,
    )


@step("plan")
async def plan(question: str, kind: str, client: openai.AsyncOpenAI, settings: Settings) -> tuple[str, ...]:
    """Three web searches that would answer the question."""
    text = await _chat(
        client,
        settings.plan_model,
        f"You plan research for a {kind} question. Give three short web search queries, one per line.",
        question,
    )
    queries = [line.strip(" -*0123456789.") for line in text.splitlines() if line.strip()]
    return tuple([*queries, question, f"{question} pricing", f"{question} best practices"][:3])


async def _search(http: httpx.AsyncClient, query: str, settings: Settings) -> list[dict[str, str]]:
    response = await http.get(settings.search_url, params={"q": query, "key": settings.search_key})
    response.raise_for_status()
    results: list[dict[str, str]] = response.json()["results"]
    return results


async def research(
    queries: tuple[str, ...], http: httpx.AsyncClient, client: anthropic.AsyncAnthropic, settings: Settings
) -> str:
    """Search the web for each query (a paid API), then have a small model write notes."""
    with step("research"):
        batches = await asyncio.gather(*(_search(http, query, settings) for query in queries))
        hits = "\n".join(f"- {hit['title']} ({hit['url']})" for batch in batches for hit in batch)
        message = await client.messages.create(
            model=settings.research_model,
            max_tokens=400,
            system="Write research notes from these search results.",
            messages=[{"role": "user", "content": hits}],
        )
        return "".join(block.text for block in message.content if block.type == "text")


async def synthesize(question: str, notes: str, client: anthropic.AsyncAnthropic, settings: Settings) -> str:
    """The expensive model writes the report from the notes and the best corpus chunks, streamed."""
    with step("synthesize"):
        documents = "\n\n".join(retrieve(question, settings.top_k))
        async with client.messages.stream(
            model=settings.synthesis_model,
            max_tokens=1024,
            system="You are a careful analyst. Answer from the documents and notes only.",
            messages=[
                {"role": "user", "content": f"Documents:\n{documents}\n\nNotes:\n{notes}\n\nQuestion: {question}"}
            ],
        ) as stream:
            return await stream.get_final_text()


@step("summarize")
async def summarize(report: str, client: openai.AsyncOpenAI, settings: Settings) -> str:
    return await _chat(client, settings.summary_model, "Summarise the report in two sentences.", report)


async def answer(question: str, settings: Settings | None = None) -> Answer:
    """Answer a research question with the whole workflow."""
    settings = settings or Settings.from_env()
    async with (
        openai.AsyncOpenAI(max_retries=0) as chat_client,
        anthropic.AsyncAnthropic(max_retries=0) as claude,
        httpx.AsyncClient(timeout=30) as http,
    ):
        kind = await classify(question, chat_client, settings)
        queries = await plan(question, kind, chat_client, settings)
        notes = await research(queries, http, claude, settings)
        report = await synthesize(question, notes, claude, settings)
        summary = await summarize(report, chat_client, settings)
    return Answer(kind=kind, queries=queries, report=report, summary=summary)
