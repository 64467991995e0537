"""pytest-llmcost beside the plugins strict suites run with: the same outcomes and the same metering.

A small project is recorded once, then replayed under ``--llm-cost`` with pytest-randomly
shuffling it, pytest-asyncio in strict mode running its async tests, pytest-timeout,
pytest-rerunfailures re-running a flaky test, and pytest-recording's ``--block-network``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("pytest_asyncio")
pytest.importorskip("pytest_randomly")
pytest.importorskip("pytest_timeout")
pytest.importorskip("pytest_rerunfailures")
pytest.importorskip("pytest_recording")

PROJECT = """
import os
from pathlib import Path

import openai
import pytest

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"] + "/v1"


def ask(text):
    client = openai.OpenAI(base_url=URL, api_key="sk-test", max_retries=0)
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


@pytest.mark.parametrize("topic", ["cats", "dogs", "owls"])
def test_sync(llm_cost, topic):
    with step("ask"):
        ask(f"tell me about {topic}")
    assert llm_cost.calls


@pytest.mark.asyncio
async def test_async(llm_cost):
    client = openai.AsyncOpenAI(base_url=URL, api_key="sk-test", max_retries=0)
    with step("stream"):
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "stream it"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for _ in stream:
            pass
    await client.close()
    assert len(llm_cost.calls) == 1


@pytest.mark.flaky(reruns=1)
def test_flaky(llm_cost, tmp_path_factory):
    ask("a flaky question")
    marker = Path(os.environ["FLAKY_MARKER"])
    if not marker.exists():  # the first attempt of each run fails, the rerun passes
        marker.write_text("failed once")
        raise AssertionError("flaky on purpose")


def test_plain():
    assert True
"""

PLUGINS = ("randomly", "asyncio", "timeout", "rerunfailures", "recording", "llmcost")


def _metered(pytester: pytest.Pytester) -> dict[str, tuple[int, str]]:
    tests = json.loads((pytester.path / ".llm-cost" / "results.json").read_text())["tests"]
    return {nodeid: (test["calls"], test["usd"]) for nodeid, test in tests.items() if test["calls"]}


def test_replay_beside_randomly_asyncio_strict_timeout_reruns_and_block_network(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)  # the suite's inner runs leave these plugins out
    pytester.makepyfile(test_project=PROJECT)
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    monkeypatch.setenv("FLAKY_MARKER", str(pytester.path / "flaky-recording"))
    recorded = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "-p", "no:randomly")
    assert recorded.parseoutcomes() == {"passed": 6, "rerun": 1}
    expected = _metered(pytester)
    assert sorted(expected) == sorted(
        [f"test_project.py::test_sync[{topic}]" for topic in ("cats", "dogs", "owls")]
        + ["test_project.py::test_async", "test_project.py::test_flaky"]
    )

    for seed in ("1", "2"):
        monkeypatch.setenv("FLAKY_MARKER", str(pytester.path / f"flaky-replay-{seed}"))
        result = pytester.runpytest(
            "--llm-cost",
            f"--randomly-seed={seed}",
            "--timeout=60",
            "--block-network",
        )
        assert result.parseoutcomes() == {"passed": 6, "rerun": 1}
        output = result.stdout.str()
        (loaded,) = [line for line in result.outlines if line.startswith("plugins: ")]
        assert all(f"{name}-" in loaded for name in PLUGINS), loaded
        assert f"Using --randomly-seed={seed}" in output
        assert "INTERNALERROR" not in output
        assert "not in the baseline" in output  # the plugin's summary ran
        assert _metered(pytester) == expected, f"seed {seed}: metering differs from the recording run"
