"""The example project, run as the README tells a newcomer to run it, and its regression story."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmcost.cli import main as llm_cost

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"
ONE_LINE_CHANGE = ("TOP_K_CHUNKS: int | None = 3", "TOP_K_CHUNKS: int | None = None")


@pytest.fixture
def example(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A copy of example_project as pytester's folder, importable ahead of the installed one, with no API key."""
    shutil.copytree(
        EXAMPLE, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".llm-cost", "__pycache__")
    )
    monkeypatch.syspath_prepend(str(pytester.path))
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "SEARCH_API_URL"):
        monkeypatch.delenv(name, raising=False)
    for module in [name for name in sys.modules if name.split(".")[0] == "research_assistant"]:
        monkeypatch.delitem(sys.modules, module)
    return pytester


def test_the_example_passes_offline_and_writes_its_reports(example: pytest.Pytester) -> None:
    """``pytest --llm-cost`` in example_project: no key, no network, every step metered, reports written."""
    result = example.runpytest("--llm-cost", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*= LLM cost =*",
            "most expensive steps *",
            "research *",
            "synthesize *",
            "rate card: genai-prices * + llm-cost-prices.yaml (sha256 *)",
            "results: .llm-cost/results.json*",  # a write that took over a second shows its time
            "report: .llm-cost/report.html*",
            "summary: .llm-cost/summary.md*",
        ]
    )
    assert "not in the baseline" not in result.stdout.str()
    html = (example.path / ".llm-cost" / "report.html").read_text()
    assert "test_research_workflow" in html
    summary = (example.path / ".llm-cost" / "summary.md").read_text()
    assert "This change leaves LLM cost per test run unchanged" in summary


def test_the_example_cassettes_hold_real_hosts_and_no_secrets() -> None:
    cassettes = sorted((EXAMPLE / "tests" / "cassettes").rglob("*.yaml"))
    assert len(cassettes) == 4
    for path in cassettes:
        text = path.read_text()
        assert "127.0.0.1" not in text, path
        assert "https://api.openai.com/v1/chat/completions" in text, path
        assert "recorded-against-the-fake" not in text, path
        assert "authorization" not in text.lower(), path


def test_sending_the_whole_corpus_fails_on_synthesize_until_accepted(
    example: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's story: one line sends every chunk; the gate names the step; update-baseline accepts it."""
    config = example.path / "research_assistant" / "config.py"
    source = config.read_text()
    assert ONE_LINE_CHANGE[0] in source
    config.write_text(source.replace(*ONE_LINE_CHANGE))

    # Re-record with the documented script (it records through the fake provider).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(example.path), str(ROOT)])}
    recorded = subprocess.run(
        [sys.executable, "scripts/record_cassettes.py"],
        cwd=example.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr

    result = example.runpytest("--llm-cost", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "LLM cost of step synthesize $0.00388 exceeds baseline $0.00161 by 140.7% (allowed 10%): "
            "input 238 -> 995 tokens per call (x4.2: latest message 225 -> 983, estimated), same model, same calls",
            "synthesize * $0.001614 * $0.003882 * +$0.002268 * +140.5%  over",
        ]
    )
    result.stdout.fnmatch_lines(["REGRESSED tests/test_research.py::test_research_workflow - LLM cost of step s*"])

    monkeypatch.chdir(example.path)
    out = io.StringIO()
    assert llm_cost(["update-baseline"], out=out) == 0
    assert out.getvalue().splitlines()[-1] == "llm-cost-baseline.json: 0 added, 3 changed, 0 removed"
    example.runpytest("--llm-cost", "-p", "no:cacheprovider").assert_outcomes(passed=4)
