"""Every test replays its LLM calls from tests/cassettes: no network, no API keys (under
``pytest --llm-cost`` the plugin gives the SDKs a placeholder key while replaying).

To record against the real APIs instead, export OPENAI_API_KEY, ANTHROPIC_API_KEY and
SEARCH_API_KEY and run ``pytest --llm-cost --llm-cost-record-mode=all`` (it spends money:
the tests' cost_budget markers stop a runaway recording).
"""

from __future__ import annotations

import pytest

ENDPOINT_SETTINGS = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "SEARCH_API_URL")


@pytest.fixture(autouse=True)
def replay_settings(monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config) -> None:
    """Replay answers from the cassettes, recorded against the providers' real hosts."""
    if pytestconfig.getoption("llm_cost_record_mode") in (None, "none"):
        for name in ENDPOINT_SETTINGS:
            monkeypatch.delenv(name, raising=False)
