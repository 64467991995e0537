"""Recording a test's LLM calls into its cassette and replaying them offline, as users run it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

AGENT = """
import os
import openai
import anthropic
from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]
PROMPT = os.environ.get("AGENT_PROMPT", "Summarise the top three documents")


def openai_client():
    return openai.OpenAI(base_url=URL + "/v1", api_key="sk-test-key", max_retries=0)


def anthropic_client():
    return anthropic.Anthropic(base_url=URL, api_key="sk-ant-test-key", max_retries=0)


def test_research(llm_cost):
    with step("plan"):
        openai_client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Plan the research"}]
        )
    with step("synthesize"):
        anthropic_client().messages.create(
            model="claude-haiku-4-5", max_tokens=200, messages=[{"role": "user", "content": PROMPT}]
        )
"""


def _cassette(pytester: pytest.Pytester, name: str = "test_research") -> dict[str, Any]:
    path = pytester.path / "cassettes" / "test_agent" / f"{name}.yaml"
    assert path.is_file(), sorted(str(p) for p in pytester.path.rglob("*.yaml"))
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_record_once_then_replay_offline(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """The first run records both calls; the second answers them from the cassette alone."""
    pytester.makepyfile(test_agent=AGENT)
    result = pytester.runpytest("--llm-cost-record-mode=once")
    result.assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 2
    cassette = _cassette(pytester)
    assert [i["request"]["uri"] for i in cassette["interactions"]] == [
        f"{fake_llm.url}/v1/chat/completions",
        f"{fake_llm.url}/v1/messages",
    ]

    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 2, "replay reached the provider"


def test_default_record_mode_never_reaches_the_network(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Without a cassette the default mode fails the test with the command that records it."""
    pytester.makepyfile(test_agent=AGENT)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert fake_llm.requests == []
    result.stdout.fnmatch_lines(
        [
            "*LLM request not found in cassette *cassettes/test_agent/test_research.yaml (record mode 'none'):",
            "*POST http://127.0.0.1:*/v1/chat/completions",
            "*The cassette does not exist yet. Record it (this calls the real API):",
            "*pytest 'test_agent.py::test_research' --llm-cost-record-mode=once",
        ]
    )


def test_changed_prompt_is_a_miss_that_names_the_difference(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed prompt never replays stale usage: the miss shows what changed and how to re-record."""
    pytester.makepyfile(test_agent=AGENT)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("AGENT_PROMPT", "Summarise every document in the corpus")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*LLM request not found in cassette *test_research.yaml (record mode 'none'):",
            "*POST http://127.0.0.1:*/v1/messages",
            "*Closest recorded request: interaction #1 (POST http://127.0.0.1:*/v1/messages)",
            '*body messages[[]0].content: recorded "Summarise the top three documents", '
            'now "Summarise every document in the corpus"',
            "*pytest 'test_agent.py::test_research' --llm-cost-record-mode=all",
            "*(the client raised *",
        ]
    )
    assert len(fake_llm.requests) == 2

    # Re-recording with mode 'all' accepts the change.
    pytester.runpytest("--llm-cost-record-mode=all").assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)
    bodies = [json.dumps(i["request"]["body"]) for i in _cassette(pytester)["interactions"]]
    assert any("every document" in body for body in bodies)
    # "all" rewrites the cassette: the stale request is gone, it can never replay.
    assert len(bodies) == 2
    assert not any("top three" in body for body in bodies)


def test_key_order_and_whitespace_of_the_body_do_not_matter(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Bodies match as canonical JSON: a reformatted recorded body still replays."""
    pytester.makepyfile(test_agent=AGENT)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_agent" / "test_research.yaml"
    data = yaml.safe_load(path.read_text())
    for interaction in data["interactions"]:
        body = json.loads(interaction["request"]["body"])
        interaction["request"]["body"] = json.dumps(dict(reversed(list(body.items()))), indent=4)
    path.write_text(yaml.safe_dump(data))
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 2


def test_record_mode_comes_from_the_ini_file(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_agent=AGENT)
    pytester.makeini("[pytest]\nllm_cost_record_mode = once\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 2
    # The command line wins over the ini file.
    pytester.runpytest("--llm-cost-record-mode=all").assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 4


def test_new_episodes_appends_only_the_new_request(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_agent=AGENT)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("AGENT_PROMPT", "Summarise the top five documents")
    pytester.runpytest("--llm-cost-record-mode=new_episodes").assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 3
    assert len(_cassette(pytester)["interactions"]) == 3


def test_bad_record_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agent=AGENT)
    result = pytester.runpytest("--llm-cost-record-mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-cost-record-mode: 'sometimes' is not one of none, once, new_episodes, all*"])


def test_bad_ini_value_names_the_ini_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agent=AGENT)
    pytester.makeini("[pytest]\nllm_cost_record_mode = sometimes\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option llm_cost_record_mode: 'sometimes' is not one of none, once*"])


NAMES = """
import os
import pytest
import openai

URL = os.environ["FAKE_LLM_URL"]


def ask(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


@pytest.mark.parametrize("model", ["gpt-4o", "claude/haiku"])
def test_param(llm_cost, model):
    ask(model)


class TestAgent:
    def test_method(self, llm_cost):
        ask("method")


class TestShared:
    @pytest.fixture
    def llm_cost_cassette_path(self, request):
        return request.path.parent / "shared" / "one.yaml"

    def test_custom_path(self, llm_cost):
        ask("custom")
        assert llm_cost.cassette.name == "one.yaml"
"""


def test_cassette_names_follow_pytest_recording(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """``cassettes/<module>/<test>.yaml``: parametrize ids readable, classes prefixed, path overridable.

    pytest-recording's names, except that a name it would make unportable or ambiguous gets a hash.
    """
    pytester.makepyfile(test_names=NAMES)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=4)
    found = sorted(p.relative_to(pytester.path).as_posix() for p in pytester.path.rglob("*.yaml"))
    assert found == [
        "cassettes/test_names/TestAgent.test_method.yaml",
        "cassettes/test_names/test_param[claude-haiku]~bca7be4e.yaml",  # "/" replaced: a hash keeps it apart
        "cassettes/test_names/test_param[gpt-4o].yaml",
        "shared/one.yaml",
    ]


def test_compressed_responses_are_stored_decoded(pytester: pytest.Pytester) -> None:
    """A gzip response is written to the cassette as readable text, and still replays."""
    from tests.fakes.provider import FakeProvider

    with FakeProvider(gzip=True) as gzipped:
        pytester.makepyfile(test_agent=AGENT)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FAKE_LLM_URL", gzipped.url)
            pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
            assert any(r.header("accept-encoding") for r in gzipped.requests)
            text = (pytester.path / "cassettes" / "test_agent" / "test_research.yaml").read_text()
            assert "!!binary" not in text
            assert "prompt_tokens" in text
            assert "input_tokens" in text
            pytester.runpytest("--llm-cost").assert_outcomes(passed=1)


def test_extra_vcr_config_is_applied_and_secrets_still_stripped(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(
        test_agent=AGENT
        + """

import pytest

@pytest.fixture
def llm_cost_vcr_config():
    def tag(request):
        request.headers["x-recorded-by"] = "tests"
        return request
    return {"before_record_request": tag}
"""
    )
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_agent" / "test_research.yaml").read_text()
    assert "x-recorded-by" in text
    assert "sk-test-key" not in text
    assert "sk-ant-test-key" not in text
