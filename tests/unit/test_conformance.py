"""The provider readers against cassettes recorded from real APIs and the usage each provider reported.

The corpus lives outside the repository (``shared/real-cassettes`` beside it, or the folder
named by ``LLM_COST_REAL_CASSETTES``); without it this module is skipped.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_llmcost.capture.cassettes import read_cassette
from pytest_llmcost.providers import extract, settle, texts
from pytest_llmcost.providers.base import Exchange, Extracted
from pytest_llmcost.usage import Tokens


def _corpus() -> Path | None:
    override = os.environ.get("LLM_COST_REAL_CASSETTES")
    path = Path(override) if override else Path(__file__).resolve().parents[3] / "shared" / "real-cassettes"
    return path if (path / "truth.jsonl").is_file() else None


_FOUND = _corpus()
if _FOUND is None:
    pytest.skip("real-cassette corpus not found (set LLM_COST_REAL_CASSETTES)", allow_module_level=True)
assert _FOUND is not None
CORPUS: Path = _FOUND


def _jsonl(name: str) -> list[dict[str, Any]]:
    with (CORPUS / name).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


TRUTH = _jsonl("truth.jsonl")
SKIPPED = _jsonl("skipped.jsonl")


def _id(line: dict[str, Any]) -> str:
    return f"{Path(line['file']).name}#{line['interaction_index']}"


@functools.cache
def _exchanges(file: str) -> tuple[Exchange, ...]:
    return tuple(exchange for _index, exchange in read_cassette(CORPUS / file))


@functools.cache
def _extracted(file: str) -> tuple[Extracted | None, ...]:
    return tuple(extract(exchange) for exchange in _exchanges(file))


def _tokens(usage: dict[str, int]) -> Tokens:
    """An Anthropic-style iteration from truth.jsonl as a normalised vector."""
    cache_read = usage["cache_read_input_tokens"]
    cache_write = usage["cache_creation_input_tokens"]
    return Tokens(
        input=usage["input_tokens"] + cache_read + cache_write,
        cached_input=cache_read,
        cache_write=cache_write,
        output=usage["output_tokens"],
    )


def test_corpus_is_complete() -> None:
    assert len(TRUTH) == 98
    assert len({_id(line) for line in TRUTH}) == len(TRUTH)


@pytest.mark.parametrize("line", TRUTH, ids=_id)
def test_truth_line(line: dict[str, Any]) -> None:
    got = _extracted(line["file"])[line["interaction_index"]]
    assert got is not None, "an LLM interaction was not recognised"
    assert got.model == line["model"]
    assert got.streaming is line["streaming"]
    if line.get("response_id"):
        assert got.response_id == line["response_id"]
    if line.get("usage_missing"):
        assert got.status != "ok", got
        assert got.lines == ()
        assert got.reason
        return
    assert got.status == "ok", got.reason
    expected = Tokens(
        input=line["total_input_tokens"],
        cached_input=line["cached_input_tokens"] or 0,
        cache_write=line["cache_creation_input_tokens"] or 0,
        output=line["total_output_tokens"],
        reasoning=line["reasoning_tokens"] or 0,
    )
    main, *extra = got.lines
    assert (main.part, main.model) == (None, None)
    assert main.tokens == expected
    # truth.jsonl leaves Gemini's tool-use prompt out of its uncached count; it is billed as input.
    assert main.tokens.uncached_input == line["uncached_input_tokens"] + (line.get("tool_use_prompt_tokens") or 0)
    expected_extra = {key: _tokens(usage) for key, usage in (line.get("iterations_other_billable") or {}).items()}
    assert {f"{x.part}@{x.model}" if x.model else x.part: x.tokens for x in extra} == expected_extra


@pytest.mark.parametrize("line", [line for line in TRUTH if "same_response_as_interaction" in line], ids=_id)
def test_usage_reported_twice_for_one_response_is_settled_once(line: dict[str, Any]) -> None:
    items = settle(_extracted(line["file"]))
    first = line["same_response_as_interaction"]
    earlier = items[first]
    again = items[line["interaction_index"]]
    assert earlier is not None
    assert earlier.status == "ok"
    assert again is not None
    assert again.status == "not_billed"
    assert again.lines == ()
    assert again.reason == f"usage already reported by interaction #{first} for response {line['response_id']}"


def test_settle_leaves_every_other_line_as_extracted() -> None:
    twice = {(line["file"], line["interaction_index"]) for line in TRUTH if "same_response_as_interaction" in line}
    for file in {line["file"] for line in TRUTH}:
        for index, (raw, settled) in enumerate(zip(_extracted(file), settle(_extracted(file)), strict=True)):
            if (file, index) not in twice:
                assert settled == raw, f"{file}#{index}"


@pytest.mark.parametrize("line", SKIPPED, ids=_id)
def test_skipped_interaction_is_not_an_llm_call(line: dict[str, Any]) -> None:
    exchange = _exchanges(line["file"])[line["interaction_index"]]
    assert exchange.url == line["uri"]
    assert extract(exchange) is None
    assert texts(exchange) == ("", "")


def test_no_interaction_is_silently_dropped() -> None:
    """Every interaction of every cassette is either an LLM call in truth.jsonl or listed as skipped."""
    truth = {(line["file"], line["interaction_index"]) for line in TRUTH}
    skipped = {(line["file"], line["interaction_index"]) for line in SKIPPED}
    files = sorted(str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*.yaml"))
    assert files, "no cassettes found"
    seen = set()
    for file in files:
        for index, got in enumerate(_extracted(file)):
            key = (file, index)
            seen.add(key)
            assert key in truth or key in skipped, f"{file}#{index} is in neither truth.jsonl nor skipped.jsonl"
            assert (got is not None) == (key in truth), f"{file}#{index}"
    assert truth | skipped <= seen


@pytest.mark.parametrize("line", TRUTH, ids=_id)
def test_texts_of_a_real_exchange(line: dict[str, Any]) -> None:
    exchange = _exchanges(line["file"])[line["interaction_index"]]
    prompt, completion = texts(exchange)
    if exchange.method == "POST":
        assert prompt.strip()
    if line.get("total_output_tokens") and exchange.status < 400:
        assert completion.strip()
