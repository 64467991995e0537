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
#: What the fake stands in for: the longest matching URL prefix is stored under the real host.
REAL_HOSTS = (
    ("/v1/messages", "https://api.anthropic.com/v1/messages"),
    ("/v1/search", "https://api.search.example.com/v1/search"),
    ("", "https://api.openai.com"),
)


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
        # The cassettes store each request under the host the fake stands in for.
        hosts = [f"--llm-cost-record-host={fake.url}{path}={real}" for path, real in REAL_HOSTS]
        return int(pytest.main(["--llm-cost-record-mode=all", "-p", "no:cacheprovider", *hosts, *extra]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
