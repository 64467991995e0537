"""Re-record the example's cassettes against pytest-llmcost's loopback fake provider.

    python scripts/record_cassettes.py             # from example_project/
    python scripts/record_cassettes.py -- -k workflow   # extra pytest arguments after --

The fake speaks the OpenAI and Anthropic wire formats (and stands in for the web-search
API), so recording needs no API key and spends nothing. The cassettes are written with the
real provider hosts (api.openai.com, api.anthropic.com, api.search.example.com), so replay
needs no setting at all. Then ``pytest --llm-cost`` replays them and compares their cost with
the committed baseline, and ``llm-cost update-baseline`` accepts an intended change.

To record against the real APIs instead, skip this script: export OPENAI_API_KEY,
ANTHROPIC_API_KEY and SEARCH_API_KEY and run ``pytest --llm-cost --llm-cost-record-mode=all``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1]
REPO = EXAMPLE.parent
REAL_HOSTS = (
    ("/v1/messages", "https://api.anthropic.com"),
    ("/v1/search", "https://api.search.example.com"),
    ("/v1/", "https://api.openai.com"),
)


class RealHosts:
    """A pytest plugin: store requests made to the fake under the host they stand in for."""

    def __init__(self, fake_url: str) -> None:
        self.fake_url = fake_url

    def rewrite(self, request):  # type: ignore[no-untyped-def]
        if request.uri.startswith(self.fake_url):
            path = request.uri[len(self.fake_url) :]
            host = next(host for prefix, host in REAL_HOSTS if path.startswith(prefix))
            request.uri = host + path
            if "host" in request.headers:
                request.headers["host"] = host.removeprefix("https://")
        return request

    @pytest.fixture
    def llm_cost_vcr_config(self) -> dict[str, object]:
        return {"before_record_request": self.rewrite}


class Register:
    """Registers ``RealHosts`` once pytest has loaded its plugins, so its fixture overrides the default."""

    def __init__(self, fake_url: str) -> None:
        self.fake_url = fake_url

    def pytest_configure(self, config: pytest.Config) -> None:
        config.pluginmanager.register(RealHosts(self.fake_url), "example-real-hosts")


def main(argv: list[str]) -> int:
    try:
        from tests.fakes.provider import FakeProvider
    except ImportError:  # run from a checkout of pytest-llmcost: the fake lives in its tests
        sys.path.insert(0, str(REPO))
        from tests.fakes.provider import FakeProvider

    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    with FakeProvider() as fake:
        fake.reply_words = 60  # answers of a realistic length
        os.environ.update(
            OPENAI_BASE_URL=f"{fake.url}/v1",
            ANTHROPIC_BASE_URL=fake.url,
            SEARCH_API_URL=f"{fake.url}/v1/search",
            OPENAI_API_KEY="recorded-against-the-fake",
            ANTHROPIC_API_KEY="recorded-against-the-fake",
        )
        os.chdir(EXAMPLE)
        return int(
            pytest.main(
                ["--llm-cost-record-mode=all", "-p", "no:cacheprovider", *extra],
                plugins=[Register(fake.url)],
            )
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
