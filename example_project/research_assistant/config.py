"""Settings from the environment, the way the application runs in production."""

from __future__ import annotations

import os
from dataclasses import dataclass

#: How many corpus chunks the synthesis step reads. None sends the whole corpus.
TOP_K_CHUNKS: int | None = 3


@dataclass(frozen=True)
class Settings:
    classify_model: str = "gpt-4o-mini"
    plan_model: str = "gpt-4o-mini"
    research_model: str = "claude-haiku-4-5"
    synthesis_model: str = "claude-sonnet-4-6"
    summary_model: str = "gpt-4o-mini"
    search_url: str = "https://api.search.example.com/v1/search"
    search_key: str = ""
    top_k: int | None = TOP_K_CHUNKS

    @classmethod
    def from_env(cls) -> Settings:
        """The OpenAI and Anthropic SDKs read their own keys and base URLs (OPENAI_API_KEY,
        OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL); the search API is ours."""
        return cls(
            search_url=os.environ.get("SEARCH_API_URL", cls.search_url),
            search_key=os.environ.get("SEARCH_API_KEY", ""),
        )
