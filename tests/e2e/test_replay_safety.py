"""Replay is closed: nothing but a cassette answers a replaying --llm-cost run; cassette names are portable."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmcost.capture.network import NetworkBlock

# No test here sends a packet beyond loopback: the hosts below are refused before name resolution.
REACHING_OUT = """
import os
import socket

import httpx


def test_sdk_call_without_the_fixture():
    httpx.get("https://api.openai.com/v1/models", timeout=5)


def test_raw_socket():
    socket.create_connection(("example.com", 443), timeout=5)


def test_loopback_is_fine():
    httpx.get(os.environ["FAKE_LLM_URL"] + "/v1/models", timeout=5)
"""


def test_a_replaying_run_refuses_the_network_naming_test_and_host(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """A test without the fixture, and a raw socket, fail with the test, the host and the fix; loopback works."""
    pytester.makepyfile(test_out=REACHING_OUT)
    result = pytester.runpytest("--llm-cost", "-p", "no:randomly")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "LLM cost replay: test_out.py::test_sdk_call_without_the_fixture calls api.openai.com without the "
            "llm_cost fixture, so no cassette answers it*llm_cost_autouse*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["LLM cost replay: test_out.py::test_raw_socket tried to reach example.com*--llm-cost-allow-hosts=example.com"]
    )


def test_without_llm_cost_the_network_is_not_touched(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """An installed plugin that is not asked to meter changes nothing: no block, no message."""
    pytester.makepyfile(test_out=REACHING_OUT.split("def test_sdk")[0] + "def test_loopback():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert "LLM cost replay" not in pytester.runpytest("-k", "loopback").stdout.str()


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("db.internal", True),
        ("cache.corp", True),
        ("api.openai.com", False),
        ("10.0.0.5", False),
    ],
)
def test_allowed_hosts(host: str, allowed: bool) -> None:
    """Loopback always; named hosts and patterns from --llm-cost-allow-hosts; nothing else."""
    block = NetworkBlock(["db.internal", "*.corp"], lambda host: host)
    assert block.allows(host) is allowed


def test_star_allows_everything() -> None:
    block = NetworkBlock(["*"], lambda host: host)
    assert block.disabled
    block.install()  # a no-op: nothing patched
    assert block._saved is None


NAMES = """
import os

import httpx
import pytest


@pytest.mark.parametrize("topic", ["a/b", "a-b", "what: <this>?"])
def test_topic(llm_cost, topic):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": topic}]}
    httpx.post(os.environ["FAKE_LLM_URL"] + "/v1/chat/completions", json=body, timeout=10).raise_for_status()
"""


def test_cassette_names_are_collision_free_and_portable(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """``[a/b]`` and ``[a-b]`` get a cassette each; no name holds a character Windows refuses; replay passes."""
    pytester.makepyfile(test_names=NAMES)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=3)
    names = sorted(path.name for path in (pytester.path / "cassettes" / "test_names").iterdir())
    assert len(names) == 3, names
    assert "test_topic[a-b].yaml" in names
    assert not [name for name in names if set(name) & set('<>:"/\\\\|?*')]
    pytester.runpytest("--llm-cost").assert_outcomes(passed=3)
