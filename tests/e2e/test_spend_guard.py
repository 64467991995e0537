"""The spend guard while recording: calls in flight count before they are answered."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

CONCURRENT = """
import os
import threading

import openai
import pytest

URL = os.environ["FAKE_LLM_URL"]


def chat(n):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(
        model="gpt-4o",
        max_tokens=50,
        messages=[{"role": "user", "content": f"question {n} " + " ".join(["doc"] * 1000)}],
    )


@pytest.mark.cost_budget(0.006)
def test_fan_out(llm_cost):
    start = threading.Barrier(20)
    errors = []

    def worker(n):
        start.wait()
        try:
            chat(n)
        except Exception as exc:  # the guard stops some: that is the point
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
"""

# gpt-4o, 1,005 input and 7 output tokens a call: about $0.00258. A $0.006 budget is spent by
# the third call; the fourth would start past it.
CALL_USD = Decimal("0.0025825")


def test_concurrent_calls_stop_at_the_budget(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Twenty calls released at once under a $0.006 budget: at most one call beyond the budget goes live."""
    pytester.makepyfile(test_fan=CONCURRENT)
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once")
    result.assert_outcomes(failed=1)
    live = len(fake_llm.requests)
    within = int(Decimal("0.006") // CALL_USD)
    assert 1 <= live <= within + 1, f"{live} calls went live under a budget for {within}"
    result.stdout.fnmatch_lines(
        ["*LLM spend guard: this test has spent or reserved $* over its cost_budget of $0.006*"]
    )


def test_concurrent_calls_stop_at_the_run_cap(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """The same fan-out under --llm-cost-max-record-spend alone."""
    pytester.makepyfile(test_fan=CONCURRENT.replace("@pytest.mark.cost_budget(0.006)\n", ""))
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "--llm-cost-max-record-spend=0.006")
    result.assert_outcomes(failed=1)
    assert 1 <= len(fake_llm.requests) <= int(Decimal("0.006") // CALL_USD) + 1
