"""Estimating a call that reported no usage never breaks a run, even without tiktoken's data."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmcost.results import load_results

STREAMS = """
import os

import openai

URL = os.environ["FAKE_LLM_URL"]


def test_stream_without_usage(llm_cost):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    for _ in client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Stream without usage please"}], stream=True
    ):
        pass


def test_other(llm_cost):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
"""

# The inner run has an empty tiktoken cache and a loader that cannot reach the internet (as on a
# fresh CI runner offline): no packet leaves this machine.
OFFLINE = """
import tiktoken.load


def _offline(*args, **kwargs):
    raise OSError("no network: cannot download the encoding")


tiktoken.load.read_file = _offline
tiktoken.load.read_file_cached = _offline
"""


def test_a_cold_tokenizer_cache_labels_the_call_and_the_run_goes_on(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The streamed call is labelled and counted as 0 tokens, the other test is metered, and the
    output says how to get counts: no internal error."""
    pytester.makepyfile(test_streams=STREAMS)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    pytester.makeconftest(OFFLINE)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(pytester.mkdir("empty-cache")))
    # A process of its own: the loader patched above, and no encoding loaded by earlier tests.
    result = pytester.runpytest_subprocess("--llm-cost", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        ["1 call without reported usage could not be estimated (counted as 0 tokens): *TIKTOKEN_CACHE_DIR*"]
    )
    tests = load_results(pytester.path / ".llm-cost" / "results.json").tests
    (blind,) = tests["test_streams.py::test_stream_without_usage"].records
    assert blind.estimated is True
    assert blind.tokens.input == 0
    assert "TIKTOKEN_CACHE_DIR" in (blind.note or "")
    assert tests["test_streams.py::test_other"].calls == 1
