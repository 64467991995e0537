"""Adopting the plugin in one's own project: replay without keys, a strict gate in CI, nothing LLM-shaped
escaping the fixture, recording through a gateway or a local fake, and only what vcrpy keeps metered."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmcost.capture.credentials import PLACEHOLDER

# The SDKs read their keys (and, while recording, their base URLs) from the environment, as apps do.
APP = """
import os

import anthropic
import openai
from google import genai

URL = os.environ["FAKE_LLM_URL"]


def test_openai(llm_cost):
    client = openai.OpenAI(base_url=URL + "/v1", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Plan the research"}])
    assert llm_cost.calls


def test_anthropic(llm_cost):
    client = anthropic.Anthropic(base_url=URL, max_retries=0)
    client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "Hi"}])


def test_gemini(llm_cost):
    client = genai.Client(http_options={"base_url": URL + "/", "api_version": "v1beta"})
    client.models.generate_content(model="gemini-2.5-flash", contents="Summarise")
"""

KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credential variable of any SDK, as on a fresh CI runner."""
    from pytest_llmcost.capture.credentials import AWS_KEYS, AWS_REGION, GROUPS

    for name in (*(name for group in GROUPS for name in group), *AWS_KEYS, *AWS_REGION):
        monkeypatch.delenv(name, raising=False)


def _record(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    """Record with real-looking keys set; they are gone again afterwards."""
    with monkeypatch.context() as keys:
        for name in KEYS[:3]:
            keys.setenv(name, f"recording-key-for-{name.lower()}")
        return pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "-p", "no:randomly", *args)


# -- replay needs no credentials -------------------------------------------------------------------


def test_replay_needs_no_credentials(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch, no_credentials: None
) -> None:
    """Recorded with keys, replayed with none: the SDKs start on placeholders, and the environment is restored."""
    pytester.makepyfile(test_app=APP)
    _record(pytester, monkeypatch).assert_outcomes(passed=3)
    requests = len(fake_llm.requests)

    result = pytester.runpytest("--llm-cost", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    assert len(fake_llm.requests) == requests, "replay reached the provider"
    result.stdout.fnmatch_lines(["total: 3 tests, 3 calls, *"])
    assert not [name for name in KEYS if name in os.environ], "placeholders outlived the session"


def test_without_placeholders_a_missing_key_fails_with_a_hint(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch, no_credentials: None
) -> None:
    """--llm-cost-placeholder-keys=false: each SDK's own error, then one line naming the variable and the option."""
    pytester.makepyfile(test_app=APP)
    _record(pytester, monkeypatch).assert_outcomes(passed=3)

    result = pytester.runpytest("--llm-cost", "-p", "no:randomly", "--llm-cost-placeholder-keys=false")
    result.assert_outcomes(failed=3)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        result.stdout.fnmatch_lines(
            [f"{name} is not set, and placeholder keys are off (--llm-cost-placeholder-keys / llm_cost_placeholder_*"]
        )

    pytester.makeini("[pytest]\nllm_cost_placeholder_keys = false\n")
    pytester.runpytest("--llm-cost", "-p", "no:randomly").assert_outcomes(failed=3)


KEY_CHECKS = """
import os


def test_keys():
    assert os.environ["OPENAI_API_KEY"] == "{openai}"
    assert os.environ["ANTHROPIC_API_KEY"] == "mine"
    assert os.environ.get("AZURE_OPENAI_ENDPOINT") is None
"""


def test_placeholders_never_overwrite_and_never_record(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, no_credentials: None, fake_llm: Any
) -> None:
    """A set variable keeps its value; endpoints get none; recording gets none, nor does a run without --llm-cost."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "mine")
    pytester.makepyfile(test_keys=KEY_CHECKS.format(openai=PLACEHOLDER))
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
    assert os.environ["ANTHROPIC_API_KEY"] == "mine"

    for args in (("--llm-cost", "--llm-cost-record-mode=once"), ()):
        result = pytester.runpytest(*args)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*KeyError: 'OPENAI_API_KEY'"])


def test_a_client_made_too_early_gets_a_hint_not_a_mystery(
    pytester: pytest.Pytester, fake_llm: Any, no_credentials: None
) -> None:
    """A module-level client in a conftest.py is made before the session: the hint says what to do."""
    pytester.makeconftest(
        "import openai\n\ntry:\n    openai.OpenAI()\nexcept openai.OpenAIError as exc:\n    EARLY = exc\n"
    )
    pytester.makepyfile(test_early="from conftest import EARLY\n\n\ndef test_early():\n    raise EARLY\n")
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*OPENAI_API_KEY holds pytest-llmcost's replay placeholder, which this code did not*"])


# -- in CI the gate is strict ------------------------------------------------------------------------

SIMPLE = """
import os

import httpx


def test_chat(llm_cost):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    httpx.post(os.environ["FAKE_LLM_URL"] + "/v1/chat/completions", json=body, timeout=10).raise_for_status()
"""


@pytest.mark.parametrize("ci", ["true", "1", "True"])
def test_in_ci_a_missing_baseline_fails_the_run(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    """Under CI, no baseline is a usage error naming the path and the command that creates it; updating creates it."""
    pytester.makepyfile(test_simple=SIMPLE)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("CI", ci)

    result = pytester.runpytest("--llm-cost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*LLM cost baseline llm-cost-baseline.json does not exist, and CI is set: every test would pass as new*"
            "`pytest --llm-cost --llm-cost-update`*--llm-cost-baseline / llm_cost_baseline*"
        ]
    )

    pytester.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=1)
    assert (pytester.path / "llm-cost-baseline.json").is_file()
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)


def test_in_ci_a_mistyped_baseline_path_fails_the_run(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_simple=SIMPLE)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nllm_cost_baseline = llm-cost-basline.json\n")
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("--llm-cost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*LLM cost baseline llm-cost-basline.json does not exist, and CI is set*"])


def test_the_command_creates_a_baseline_even_before_any_llm_call(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command the CI error names works for a project with no cassette yet: it writes an empty baseline."""
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("--llm-cost", "--llm-cost-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["baseline llm-cost-baseline.json: 0 added, 0 changed, 0 removed (created)"])
    assert json.loads((pytester.path / "llm-cost-baseline.json").read_text())["tests"] == {}
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)


def test_outside_ci_a_missing_baseline_is_where_a_project_starts(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_simple=SIMPLE)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("CI", "false")
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK


def test_ini_paths_accept_either_separator(pytester: pytest.Pytester, fake_llm: Any) -> None:
    r"""``reports\cost.html`` in the ini is ``reports/cost.html`` on every system, for every path option."""
    pytester.makepyfile(test_simple=SIMPLE)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.makeini(
        "[pytest]\n"
        "llm_cost_baseline = costs\\baseline.json\n"
        "llm_cost_report = reports\\cost.html\n"
        "llm_cost_markdown = reports\\cost.md\n"
        "llm_cost_results = reports\\results.json\n"
    )
    (pytester.path / "costs").mkdir()
    result = pytester.runpytest("--llm-cost", "--llm-cost-update")
    result.assert_outcomes(passed=1)
    for name in ("reports/cost.html", "reports/cost.md", "reports/results.json", "costs/baseline.json"):
        assert (pytester.path / name).is_file(), name
    assert not [path.name for path in pytester.path.rglob("*") if "\\" in path.name]
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)  # the baseline is found where it was written

    # The price file too: a broken one is read (and refused) under its real path.
    (pytester.path / "costs" / "prices.yaml").write_text("version: 1\nmodels: [oops\n")
    pytester.makeini("[pytest]\nllm_cost_prices = costs\\prices.yaml\n")
    result = pytester.runpytest("--llm-cost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*costs/prices.yaml*"])


# -- nothing LLM-shaped escapes ----------------------------------------------------------------------

UNFIXTURED = """
import os

import httpx


def test_unfixtured():
    port = os.environ["FAKE_LLM_URL"].rsplit(":", 1)[1]
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    httpx.post(f"http://api.openai.com:{port}/v1/chat/completions", json=body, timeout=10).raise_for_status()


def test_fixtured(llm_cost):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    httpx.post(os.environ["FAKE_LLM_URL"] + "/v1/chat/completions", json=body, timeout=10).raise_for_status()
"""

# api.openai.com resolves to the loopback fake for the inner run only: no test reaches the network.
LOCAL_OPENAI = """
import socket

_saved = []


def pytest_configure(config):
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return original("127.0.0.1" if host == "api.openai.com" else host, *args, **kwargs)

    _saved.append(original)
    socket.getaddrinfo = getaddrinfo


def pytest_unconfigure(config):
    socket.getaddrinfo = _saved.pop()
"""


def test_an_unfixtured_llm_call_fails_in_replay_naming_test_and_fix(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_escape=UNFIXTURED)
    pytester.runpytest("--llm-cost-record-mode=once", "-k", "fixtured and not unfixtured").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-cost", "-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "LLM cost replay: test_escape.py::test_unfixtured calls api.openai.com without the llm_cost fixture, "
            "so no cassette answers it and its cost is not metered. Add llm_cost to the test's arguments "
            "(or list its directory in llm_cost_autouse)*",
        ]
    )


def test_an_unfixtured_llm_call_warns_while_recording(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Recording: the call goes through (with a warning naming the test and the fix); the fixtured test is silent."""
    pytester.makeconftest(LOCAL_OPENAI)
    pytester.makepyfile(test_escape=UNFIXTURED)
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*LLMCostWarning: test_escape.py::test_unfixtured calls api.openai.com without the llm_cost fixture: "
            "the call is neither recorded nor metered*llm_cost_autouse",
        ]
    )
    assert result.stdout.str().count("without the llm_cost fixture") == 1
    assert len(fake_llm.requests) == 2


def test_under_filterwarnings_error_the_unfixtured_call_fails_its_test(
    pytester: pytest.Pytester, fake_llm: Any
) -> None:
    """filterwarnings = error turns the warning into that test's failure, not an internal error."""
    pytester.makeconftest(LOCAL_OPENAI)
    pytester.makepyfile(test_escape=UNFIXTURED)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    # pytest-asyncio, when installed, warns at configure time about an option of its own.
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "-p", "no:randomly", "-p", "no:asyncio")
    result.assert_outcomes(failed=1, passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["test_escape.py::test_unfixtured calls api.openai.com without the llm_cost fixture: the call is neither*"]
    )
    assert "INTERNALERROR" not in result.stdout.str()


AGENT = """
import os

import httpx


def test_agent():
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Plan"}]}
    httpx.post(os.environ["FAKE_LLM_URL"] + "/v1/chat/completions", json=body, timeout=10).raise_for_status()
"""


def test_autouse_directories_give_their_tests_the_fixture(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """``llm_cost_autouse = suite/agents``: those tests record, replay and are metered; the others are untouched."""
    agents = pytester.path / "suite" / "agents"
    agents.mkdir(parents=True)
    (agents / "test_agent.py").write_text(AGENT)
    plain = "def test_plain(request):\n    assert 'llm_cost' not in request.fixturenames\n"
    (pytester.path / "suite" / "test_plain.py").write_text(plain)
    pytester.makeini("[pytest]\nllm_cost_autouse = suite\\agents\n")

    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    assert (agents / "cassettes" / "test_agent" / "test_agent.yaml").is_file()
    requests = len(fake_llm.requests)
    result = pytester.runpytest("--llm-cost", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert len(fake_llm.requests) == requests
    results = json.loads((pytester.path / ".llm-cost" / "results.json").read_text())
    metered = {nodeid: len(test["records"]) for nodeid, test in results["tests"].items()}
    assert metered == {"suite/agents/test_agent.py::test_agent": 1, "suite/test_plain.py::test_plain": 0}


def test_autouse_on_the_command_line_and_a_missing_directory(pytester: pytest.Pytester, fake_llm: Any) -> None:
    (pytester.path / "agents").mkdir()
    (pytester.path / "agents" / "test_agent.py").write_text(AGENT)
    pytester.runpytest("--llm-cost-autouse", "agents", "--llm-cost-record-mode=once").assert_outcomes(passed=1)
    assert (pytester.path / "agents" / "cassettes" / "test_agent" / "test_agent.yaml").is_file()

    result = pytester.runpytest("--llm-cost-autouse", "agnets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-cost-autouse: 'agnets' is not a directory*"])


BUDGET_WITHOUT_FIXTURE = """
import pytest


@pytest.mark.cost_budget(0.01)
def test_forgot_the_fixture():
    pass


def test_other():
    pass
"""


def test_a_budget_without_the_fixture_is_an_error_naming_test_and_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_budget=BUDGET_WITHOUT_FIXTURE)
    for args in (["--llm-cost"], []):  # also when no test takes the fixture and the plugin is otherwise idle
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "*test_budget.py::test_forgot_the_fixture: cost_budget on a test without the llm_cost fixture "
                "limits nothing: add llm_cost to the test's arguments, or list its directory in llm_cost_autouse*"
            ]
        )
    # The same test under an autouse directory is fine.
    pytester.runpytest("--llm-cost", f"--llm-cost-autouse={pytester.path}").assert_outcomes(passed=2)


# -- record through anything, store the real host --------------------------------------------------

GATEWAY_APP = """
import anthropic
import openai


def test_through_the_gateway(llm_cost):
    openai.OpenAI(max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Plan the research"}]
    )
    anthropic.Anthropic(max_retries=0).messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "Summarise"}]
    )
    assert len(llm_cost.calls) == 2
"""


def test_record_through_a_gateway_and_replay_with_no_settings(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch, no_credentials: None
) -> None:
    """Recorded with base URLs and keys pointing at a local fake; replayed with neither: the cassette holds the
    providers' real URLs, and replay answers the SDKs' default URLs from it."""
    pytester.makepyfile(test_gateway=GATEWAY_APP)
    pytester.makeini(
        "[pytest]\nllm_cost_record_hosts =\n"
        f"    {fake_llm.url}/v1/messages = https://api.anthropic.com/v1/messages\n"
        f"    {fake_llm.url} = https://api.openai.com\n"
    )
    with monkeypatch.context() as recording:
        recording.setenv("OPENAI_BASE_URL", f"{fake_llm.url}/v1")
        recording.setenv("ANTHROPIC_BASE_URL", fake_llm.url)
        _record(pytester, monkeypatch).assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_gateway" / "test_through_the_gateway.yaml"
    interactions = yaml.safe_load(cassette.read_text())["interactions"]
    assert [i["request"]["uri"] for i in interactions] == [
        "https://api.openai.com/v1/chat/completions",
        "https://api.anthropic.com/v1/messages",
    ]
    assert "127.0.0.1" not in cassette.read_text()

    requests = len(fake_llm.requests)
    result = pytester.runpytest("--llm-cost", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert len(fake_llm.requests) == requests
    results = json.loads((pytester.path / ".llm-cost" / "results.json").read_text())
    records = results["tests"]["test_gateway.py::test_through_the_gateway"]["records"]
    assert [record["provider"] for record in records] == ["openai", "anthropic"]


def test_record_host_on_the_command_line_and_bad_values(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_simple=SIMPLE)
    result = pytester.runpytest(
        "--llm-cost-record-mode=once", f"--llm-cost-record-host={fake_llm.url}=https://api.openai.com"
    )
    result.assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_simple" / "test_chat.yaml").read_text()
    assert "uri: https://api.openai.com/v1/chat/completions" in text
    # The test still posts to the fake while replaying: the mapping applies to incoming requests too.
    requests = len(fake_llm.requests)
    pytester.runpytest(f"--llm-cost-record-host={fake_llm.url}=https://api.openai.com").assert_outcomes(passed=1)
    assert len(fake_llm.requests) == requests

    result = pytester.runpytest("--llm-cost-record-host=localhost:8089")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-cost-record-host: 'localhost:8089' has no '='*"])
    pytester.makeini("[pytest]\nllm_cost_record_hosts = 127.0.0.1:8089 = https://api.openai.com\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option llm_cost_record_hosts: '127.0.0.1:8089' is not an http(s) URL*"])


MARKED = """
import os

import httpx
import pytest


@pytest.mark.vcr
def test_marked(llm_cost):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    httpx.post(os.environ["FAKE_LLM_URL"] + "/v1/chat/completions", json=body, timeout=10).raise_for_status()
"""


def test_record_host_applies_to_pytest_recording_cassettes(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """A test taking llm_cost under ``@pytest.mark.vcr`` stores the provider's URL as well."""
    pytester.makepyfile(test_marked=MARKED)
    mapping = f"--llm-cost-record-host={fake_llm.url}=https://api.openai.com"
    pytester.runpytest("--llm-cost", "--record-mode=once", mapping).assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_marked" / "test_marked.yaml").read_text()
    assert "uri: https://api.openai.com/v1/chat/completions" in text
    assert "127.0.0.1" not in text


# -- meter only what vcrpy records or replays ------------------------------------------------------

IGNORED = """
import os

import httpx
import pytest


@pytest.fixture
def llm_cost_vcr_config():
    return {"ignore_localhost": True}


def test_local_mock(llm_cost):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    httpx.post(os.environ["FAKE_LLM_URL"] + "/v1/chat/completions", json=body, timeout=10).raise_for_status()
    assert not llm_cost.calls
"""


@pytest.mark.parametrize("mode", ["none", "once"])
def test_requests_vcrpy_ignores_are_not_metered(pytester: pytest.Pytester, fake_llm: Any, mode: str) -> None:
    """``ignore_localhost``: the local mock answers, vcrpy keeps nothing, and nothing is priced."""
    pytester.makepyfile(test_ignored=IGNORED)
    result = pytester.runpytest("--llm-cost", f"--llm-cost-record-mode={mode}")
    result.assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 1
    result.stdout.fnmatch_lines(["no LLM calls were metered"])
    assert not (pytester.path / "cassettes" / "test_ignored" / "test_local_mock.yaml").exists()


def test_example_record_script_uses_the_option() -> None:
    """The example's recording script maps the fake's URL with --llm-cost-record-host, not a hook of its own."""
    script = (Path(__file__).resolve().parents[2] / "example_project" / "scripts" / "record_cassettes.py").read_text()
    assert "--llm-cost-record-host=" in script
    assert "before_record_request" not in script
