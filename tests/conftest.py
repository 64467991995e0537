"""Shared test setup: offline tiktoken encodings, the real-cassette corpus, the fake provider."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# tiktoken downloads its encodings on first use; this machine keeps them next to the repo.
_TIKTOKEN_CACHE = SHARED / "tiktoken-cache"
if _TIKTOKEN_CACHE.is_dir() and "TIKTOKEN_CACHE_DIR" not in os.environ:
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_TIKTOKEN_CACHE)

pytest_plugins = ["pytester"]


def real_cassettes_dir() -> Path | None:
    """The conformance corpus recorded against real providers, or None when it is absent."""
    override = os.environ.get("LLM_COST_REAL_CASSETTES")
    path = Path(override) if override else SHARED / "real-cassettes"
    return path if (path / "truth.jsonl").is_file() else None


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[object]:
    """A loopback server speaking the OpenAI, Anthropic and Gemini wire formats."""
    from tests.fakes.provider import FakeProvider

    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fake_llm(fake_provider: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The fake provider, reset, with its URL in ``FAKE_LLM_URL`` for code run by pytester."""
    fake_provider.reset()  # type: ignore[attr-defined]
    monkeypatch.setenv("FAKE_LLM_URL", fake_provider.url)  # type: ignore[attr-defined]
    return fake_provider


#: The options every inner pytest run gets from the environment.
INNER_ADDOPTS = "-p no:randomly -p no:asyncio -p no:timeout"


@pytest.fixture(scope="session", autouse=True)
def _plain_inner_runs() -> Iterator[None]:
    """The pytest runs inside tests print the same, wherever the suite runs.

    Like pytest's own suite: no colours, a fixed width, no options from the environment, and
    not CI's untruncated summary. Runs under GitHub Actions must not append the inner runs'
    summaries to the job's own.
    """
    names = (
        "GITHUB_STEP_SUMMARY",
        "PY_COLORS",
        "FORCE_COLOR",
        "NO_COLOR",
        "PYTEST_ADDOPTS",
        "CI",
        "BUILD_NUMBER",
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in names:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("COLUMNS", "80")
        yield


@pytest.fixture(autouse=True)
def _inner_plugins(request: pytest.FixtureRequest) -> None:
    """Plugins installed for tests/e2e/test_coexistence.py (which turns them back on) stay out of
    the other inner runs: pytest-randomly would shuffle them, pytest-asyncio warn in each.

    Set after pytester is made, since pytester clears ``PYTEST_ADDOPTS`` when it starts.
    """
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        request.getfixturevalue("monkeypatch").setenv("PYTEST_ADDOPTS", INNER_ADDOPTS)
