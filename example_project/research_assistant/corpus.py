"""The knowledge base: markdown documents split into paragraph chunks, ranked by word overlap."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


@cache
def chunks() -> tuple[str, ...]:
    found = []
    for path in sorted(CORPUS.glob("*.md")):
        for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
            text = paragraph.strip()
            if text and not text.startswith("#"):
                found.append(text)
    return tuple(found)


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z]+", text.lower()) if len(word) > 3}


def retrieve(question: str, top_k: int | None) -> list[str]:
    """The ``top_k`` chunks sharing most words with the question (every chunk when None)."""
    if top_k is None:
        return list(chunks())
    wanted = _words(question)
    ranked = sorted(chunks(), key=lambda chunk: (-len(wanted & _words(chunk)), chunk))
    return ranked[:top_k]
