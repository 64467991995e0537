"""Every surface says why a cost moved: the failure, summary.md, the HTML report and `llm-cost diff`.

Each test records a small agent, accepts its baseline, changes one thing and replays: a prompt
that grew (named by the segment that grew), a timestamp that breaks the prompt cache (named by
the position where consecutive requests diverge), and a model switch.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from pytest_llmcost.cli import main as cli_main

AGENT = """
import os

import openai

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]
SYSTEM = " ".join(["policy"] * 1200)


def ask(question, number):
    system = SYSTEM
    if os.environ.get("STAMP"):
        system = f"Current time: 12:00:{number:02d}. " + SYSTEM
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(
        model=os.environ.get("MODEL", "gpt-4o-mini"),
        messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
    )


def test_agent(llm_cost):
    with step("plan"):
        ask("make a plan", 0)
    with step("synthesize"):
        for number in (1, 2):
            ask(" ".join(["fact"] * int(os.environ.get("WORDS", "20"))), number)
"""

ID = "test_agent.py::test_agent"


def _accept(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agent=AGENT)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=1)
    baseline = json.loads((pytester.path / "llm-cost-baseline.json").read_text())
    # The baseline keeps each step's prompt by part, to name the part that grows later.
    assert set(baseline["tests"][ID]["steps"]["synthesize"]["segments"]) == {"system", "latest"}


def _rerecord(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, **env: str) -> pytest.RunResult:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.runpytest("--llm-cost-record-mode=all").assert_outcomes(passed=1)
    return pytester.runpytest("--llm-cost")


def _surfaces(pytester: pytest.Pytester) -> dict[str, str]:
    """The failure output aside, what each other surface says: summary.md, report.html, `llm-cost diff`."""
    out = io.StringIO()
    code = cli_main(
        ["diff", str(pytester.path / "llm-cost-baseline.json"), str(pytester.path / ".llm-cost/results.json")], out
    )
    assert code == 0
    html = (pytester.path / ".llm-cost/report.html").read_text()
    return {
        "summary.md": (pytester.path / ".llm-cost/summary.md").read_text(),
        "report.html": re.sub(r"<[^>]+>", "", html).replace("&gt;", ">").replace("&#39;", "'"),
        "diff": out.getvalue(),
    }


def test_a_grown_prompt_is_explained_by_the_segment_that_grew(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _accept(pytester)
    result = _rerecord(pytester, monkeypatch, WORDS="400")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert re.search(
        r"LLM cost of step synthesize \$\S+ exceeds baseline \$\S+ by \S+% \(allowed 5%\): "
        r"input 1,22\d -> 1,60\d tokens per call \(\+3\d%: latest message 2\d -> 40\d, estimated\), "
        r"same model, same calls",
        output,
    ), output
    assert "CACHE-REGRESSED" not in output  # the cached prefix is intact: only its share of a longer prompt fell
    for name, text in _surfaces(pytester).items():
        assert re.search(r"input 1,22\d -> 1,60\d tokens per call \(\+3\d%: latest message", text), name


def test_a_broken_cache_prefix_is_a_cache_regression_with_where_requests_diverge(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _accept(pytester)
    result = _rerecord(pytester, monkeypatch, STAMP="1")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert re.search(
        r"prompt cache of step synthesize: cache reads 9\d% -> 0% of input \(allowed drop 10 points\)", output
    ), output
    assert re.search(
        r"requests 1 and 2 stop sharing a prefix at character 2\d of the system prompt .*'Current time: 12:00:00",
        output,
    ), output
    for name, text in _surfaces(pytester).items():
        assert re.search(r"cache reads 9\d% -> 0% of input", text), name

    # An allowed drop, by option or marker, lets it pass (the dollars are allowed apart).
    pytester.runpytest("--llm-cost", "--llm-cost-cache-drop=off", "--llm-cost-tolerance=500%").assert_outcomes(passed=1)
    pytester.makeconftest(
        """
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.cost_budget(cache_drop="100%", delta="500%"))
"""
    )
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)


def test_a_model_switch_is_named(pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _accept(pytester)
    result = _rerecord(pytester, monkeypatch, MODEL="gpt-4o")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert re.search(r"model gpt-4o-mini\S* -> gpt-4o\S*, same calls", output), output
    assert "same calls" in output
    for name, text in _surfaces(pytester).items():
        assert re.search(r"model gpt-4o-mini\S* -> gpt-4o", text), name


def test_a_change_is_judged_against_the_base_branch_even_after_it_updated_its_own_baseline(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PR accepted its increase with update-baseline: its own run passes, the review still shows it."""
    _accept(pytester)
    base = pytester.path / "base-baseline.json"
    base.write_text((pytester.path / "llm-cost-baseline.json").read_text())
    _rerecord(pytester, monkeypatch, WORDS="400").assert_outcomes(failed=1)
    pytester.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
    assert "unchanged" in (pytester.path / ".llm-cost/summary.md").read_text()  # against its own baseline

    monkeypatch.chdir(pytester.path)
    github_output = pytester.path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/agent",
        "GITHUB_RUN_ID": "42",
    }.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    args = ["report", ".llm-cost/results.json", "--base-baseline", str(base), "--markdown", "pr.md", "--no-html"]
    assert cli_main(args, out) == 0
    summary = (pytester.path / "pr.md").read_text()
    headline = summary.splitlines()[3]
    assert re.match(
        r"This change raises LLM cost per test run against the base branch by \$\S+ \(\+\d+\.\d%\): "
        r"`synthesize` \+\$\S+ \(\+\d+\.\d%\) in 1 test \(input 1,22\d -> 1,60\d tokens per call",
        headline,
    ), headline
    assert "1 test with an increase accepted in this change's baseline" in headline
    assert "☑️ accepted: `synthesize`" in summary
    assert "[Full HTML report](https://github.com/acme/agent/actions/runs/42)" in summary
    assert github_output.read_text() == "changed=true\n"
    assert '<span class="b s-accepted">' not in (pytester.path / ".llm-cost/report.html").read_text()  # --no-html

    # Against a base that already has the change, nothing moved: a workflow can stay silent.
    github_output.write_text("")
    args = ["report", ".llm-cost/results.json", "--base-baseline", "llm-cost-baseline.json", "--no-html"]
    assert cli_main([*args, "--markdown", "same.md"], io.StringIO()) == 0
    assert github_output.read_text() == "changed=false\n"
