"""The ``llm-cost`` commands that work on results files: report, diff and merge."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmcost.cli import main
from pytest_llmcost.gate.judge import Status, Verdict
from pytest_llmcost.pricing import RateCard
from pytest_llmcost.results import Results
from tests.report_sample import RATE_CARD, sample_tests

# Raw HTTP in OpenAI's wire format, as in test_reports.py. SHAPE=head swaps test_legacy for test_fresh.
FLOWS = """
import os

import httpx

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]


def chat(words):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": " ".join(["doc"] * words)}]}
    httpx.post(URL + "/v1/chat/completions", json=body, timeout=10).raise_for_status()


def test_agent(llm_cost):
    with step("plan"):
        chat(1000)
    with step("synthesize"):
        chat(int(os.environ.get("SYNTH_WORDS", "1000")))


def test_other(llm_cost):
    chat(int(os.environ.get("OTHER_WORDS", "2000")))


def test_same(llm_cost):
    chat(100)


if os.environ.get("SHAPE") == "head":
    def test_fresh(llm_cost):
        chat(300)
else:
    def test_legacy(llm_cost):
        chat(500)
"""

# gpt-4o: $2.50 per million input tokens, $10 per million output tokens. A call of N words
# costs ((N + 3) x 2.5 + 7 x 10) / 1e6: the fake provider counts words, plus 3 per message,
# and answers with 7 words. So:
#   base: agent $0.005155 (plan and synthesize $0.0025775 each), other $0.0050775,
#         same $0.0003275, legacy $0.0013275; total $0.0118875
#   head: synthesize $0.0030775 (1200 words), other $0.0063275 (2500 words), fresh $0.0008275;
#         total $0.0131375
HEAD = ".llm-cost/results.json"
# Why test_other and test_agent's synthesize step moved, as every surface says it.
WHY_OTHER = "input 2,003 -> 2,503 tokens per call (+25%), same model, same calls"
WHY_SYNTHESIZE = "input 1,003 -> 1,203 tokens per call (+20%), same model, same calls"
# The summary's headline: the step that moved most is test_other's calls, outside any step.
HEADLINE = (
    "This change raises LLM cost per test run by $0.00258 (+24.4%): `(no step)` +$0.00125 (+24.6%) in 1 test "
    "(input 2,003 -> 2,503 tokens per call (+25%)); "
    "1 other step moved. **2 tests over their allowed delta.**"
)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _pytest(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, fake_provider: Any) -> Path:
    """A base run accepted into llm-cost-baseline.json (its results kept as base.json), then a head run in
    which test_other and test_agent's synthesize step grew, test_legacy is gone and test_fresh is new.

    Run once for the module, as pytest processes; each test works on a copy.
    """
    fake_provider.reset()
    path = tmp_path_factory.mktemp("two_runs")
    (path / "test_flows.py").write_text(FLOWS)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "GITHUB_"))}
    env["FAKE_LLM_URL"] = fake_provider.url
    base = _pytest(path, env, "--llm-cost", "--llm-cost-record-mode=once", "--llm-cost-update")
    assert base.returncode == 0, base.stdout
    assert "4 passed" in base.stdout
    shutil.copy(path / HEAD, path / "base.json")
    env.update(SHAPE="head", OTHER_WORDS="2500", SYNTH_WORDS="1200")
    head = _pytest(path, env, "--llm-cost", "--llm-cost-record-mode=all")
    assert head.returncode == 1, head.stdout
    assert "2 failed, 2 passed" in head.stdout
    return path


@pytest.fixture
def runs(pytester: pytest.Pytester, two_runs: Path) -> pytest.Pytester:
    """A copy of the two runs' project, as the current directory."""
    shutil.copytree(two_runs, pytester.path, dirs_exist_ok=True)
    return pytester


# -- report ---------------------------------------------------------------------------------------


def test_report_writes_html_and_markdown_and_says_where(runs: pytest.Pytester) -> None:
    """From the results file alone, the Markdown is the run's own summary (less the link to its HTML)."""
    code, out, err = _run("report", HEAD, "-o", "out/cost.html", "--markdown", "out/cost.md")
    assert (code, out, err) == (0, "report: out/cost.html\nsummary: out/cost.md\n", "")
    page = (runs.path / "out" / "cost.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "<summary>test_flows.py::test_fresh</summary>" in page
    markdown = (runs.path / "out" / "cost.md").read_text()
    run_summary = (runs.path / ".llm-cost" / "summary.md").read_text()
    assert markdown.replace("(cost.html)", "(report.html)") == run_summary
    # Compared with llm-cost-baseline.json: test_legacy's entry is stale, test_fresh counts from $0.
    assert markdown.splitlines()[3] == (HEADLINE)


def test_report_defaults(runs: pytest.Pytester) -> None:
    """The HTML goes to .llm-cost/report.html; no Markdown unless asked for."""
    (runs.path / ".llm-cost" / "report.html").unlink()
    assert _run("report", HEAD) == (0, "report: .llm-cost/report.html\n", "")
    assert (runs.path / ".llm-cost" / "report.html").is_file()
    assert sorted(path.name for path in (runs.path / ".llm-cost").iterdir()) == [
        "report.html",
        "results.json",
        "summary.md",  # the run's
    ]


def test_report_without_a_baseline(runs: pytest.Pytester) -> None:
    """The default baseline may be absent; a baseline given by name must exist."""
    (runs.path / "llm-cost-baseline.json").rename(runs.path / "main-baseline.json")
    assert _run("report", "base.json", "--markdown", "cost.md")[0] == 0
    assert (runs.path / "cost.md").read_text().splitlines()[3] == (
        "LLM cost per test run: $0.0119 over 4 tests (no baseline to compare with)."
    )
    assert _run("report", "base.json", "--baseline", "main-baselin.json") == (
        2,
        "",
        "llm-cost report: main-baselin.json: no such baseline file; give an existing baseline, "
        "or leave out --baseline\n",
    )


def test_report_renders_the_runs_own_verdicts(runs: pytest.Pytester) -> None:
    """The report shows what the run judged, even once the baseline file has changed or gone."""
    (runs.path / "llm-cost-baseline.json").unlink()
    assert _run("report", HEAD, "--markdown", "cost.md")[0] == 0
    assert (runs.path / "cost.md").read_text().splitlines()[3] == (HEADLINE)


def test_report_against_another_baseline_is_judged_again(runs: pytest.Pytester) -> None:
    """``--baseline`` asks the gate for a new comparison: against an empty baseline nothing regressed."""
    (runs.path / "empty.json").write_text('{"format": 2, "tests": {}}')
    assert _run("report", HEAD, "--baseline", "empty.json", "--markdown", "cost.md")[0] == 0
    lines = (runs.path / "cost.md").read_text().splitlines()
    assert lines[3] == "This change raises LLM cost per test run by $0.0131."
    assert any("0 regressed" in line and "4 new" in line for line in lines)


# -- diff -----------------------------------------------------------------------------------------


def _card_label() -> str:
    return f"genai-prices {RateCard.genai_prices_version()}"


@pytest.mark.parametrize("base", ["base.json", "llm-cost-baseline.json"], ids=["results", "baseline"])
def test_diff_text_lists_changed_tests_and_steps(runs: pytest.Pytester, base: str) -> None:
    """A results file and a baseline make the same BASE: both are priced with today's card."""
    code, out, err = _run("diff", base, HEAD)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"llm-cost diff: {base} -> {HEAD} ({_card_label()})"
    assert [line.split() for line in lines[1:-1]] == [
        ["test", "/", "step", "base", "head", "change", "%"],
        ["test_flows.py::test_legacy", "$0.00133", "-", "-$0.00133", "gone"],
        ["test_flows.py::test_other", "$0.00508", "$0.00633", "+$0.00125", "+24.6%"],
        ["why:", *WHY_OTHER.split()],
        ["test_flows.py::test_fresh", "-", "$0.000828", "+$0.000828", "new"],
        # A test with steps is explained by its steps.
        ["test_flows.py::test_agent", "$0.00516", "$0.00566", "+$0.0005", "+9.7%"],
        ["synthesize", "$0.00258", "$0.00308", "+$0.0005", "+19.4%"],  # plan did not change
        ["why:", *WHY_SYNTHESIZE.split()],
        ["(total)", "$0.0119", "$0.0131", "+$0.00125", "+10.5%"],  # test_same did not change
    ]
    assert lines[4] == f"    why: {WHY_OTHER}"
    assert lines[7].startswith("  synthesize ")
    assert lines[8] == f"    why: {WHY_SYNTHESIZE}"
    assert lines[-1] == "4 of 5 tests changed (1 new, 1 gone)"


def test_diff_markdown(runs: pytest.Pytester) -> None:
    code, out, err = _run("diff", "base.json", HEAD, "--format", "markdown")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"**LLM cost: base.json → {HEAD}** ({_card_label()})",
        "",
        "| test / step | base | head | Δ | Δ% | why |",
        "|---|---:|---:|---:|---:|---|",
        "| `(total)` | $0.0119 | $0.0131 | +$0.00125 | +10.5% |  |",
        "| `test_flows.py::test_legacy` | $0.00133 | - | -$0.00133 | -100.0% |  |",
        f"| `test_flows.py::test_other` | $0.00508 | $0.00633 | +$0.00125 | +24.6% | {WHY_OTHER} |",
        "| `test_flows.py::test_fresh` | - | $0.000828 | +$0.000828 | - |  |",
        "| `test_flows.py::test_agent` | $0.00516 | $0.00566 | +$0.0005 | +9.7% |  |",
        f"| ↳ `synthesize` | $0.00258 | $0.00308 | +$0.0005 | +19.4% | {WHY_SYNTHESIZE} |",
    ]


def _row(
    test: str, step: str | None, base: str | None, head: str | None, delta: str, ratio: float | None, why: str = ""
) -> Any:
    return {
        "test": test,
        "step": step,
        "base_usd": base,
        "head_usd": head,
        "delta_usd": delta,
        "delta_ratio": ratio,
        "why": why,
    }


def test_diff_json_has_every_row_with_exact_dollars(runs: pytest.Pytester) -> None:
    code, out, err = _run("diff", "llm-cost-baseline.json", HEAD, "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "base": "llm-cost-baseline.json",
        "head": HEAD,
        "rate_card": _card_label(),
        "total": _row("(total)", None, "0.0118875", "0.0131375", "0.00125", 0.105152),
        "tests": [
            _row("test_flows.py::test_legacy", None, "0.0013275", None, "-0.0013275", -1.0),
            _row("test_flows.py::test_other", None, "0.0050775", "0.0063275", "0.00125", 0.246184, WHY_OTHER),
            _row("test_flows.py::test_fresh", None, None, "0.0008275", "0.0008275", None),
            _row("test_flows.py::test_agent", None, "0.005155", "0.005655", "0.0005", 0.096993),
            _row("test_flows.py::test_agent", "plan", "0.0025775", "0.0025775", "0", 0.0),
            _row(
                "test_flows.py::test_agent", "synthesize", "0.0025775", "0.0030775", "0.0005", 0.193986, WHY_SYNTHESIZE
            ),
            _row("test_flows.py::test_same", None, "0.0003275", "0.0003275", "0", 0.0),
        ],
        "fail_on": None,
        "over": [],
    }


@pytest.mark.parametrize(
    ("fail_on", "code", "over", "message"),
    [
        pytest.param(
            "10%",
            1,
            # As the gate: a new test is no regression (it counts in the total), a grown step is.
            ["test_flows.py::test_other", "test_flows.py::test_agent step synthesize", "(total)"],
            "llm-cost diff: over the allowed delta 10%: test_flows.py::test_other (+24.6%), "
            "test_flows.py::test_agent step synthesize (+19.4%), (total) (+10.5%)\n",
            id="10%",
        ),
        pytest.param(
            "$0.001",
            1,
            ["test_flows.py::test_other", "(total)"],
            "llm-cost diff: over the allowed delta $0.001: test_flows.py::test_other (+24.6%), (total) (+10.5%)\n",
            id="dollars",
        ),
        # Over only when over every part: test_other's 24.6% is within 50%, test_fresh's $0.00083 within $0.001.
        pytest.param("50% + $0.001", 0, [], "", id="within"),
    ],
)
def test_fail_on(runs: pytest.Pytester, fail_on: str, code: int, over: list[str], message: str) -> None:
    """Exit 1 with one line on stderr exactly when something is over; the diff itself prints either way."""
    assert _run("diff", "base.json", HEAD, "--fail-on", fail_on) == (code, _run("diff", "base.json", HEAD)[1], message)
    result = _run("diff", "base.json", HEAD, "--fail-on", fail_on, "--format", "json")
    assert (result[0], result[2]) == (code, message)
    assert json.loads(result[1])["over"] == over
    assert json.loads(result[1])["fail_on"] == fail_on


def test_diff_usage_errors_exit_2(runs: pytest.Pytester) -> None:
    code, out, err = _run("diff", "base.json", HEAD, "--fail-on", "lots")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "llm-cost diff: error: argument --fail-on: 'lots' in 'lots' is not an allowed delta; use a percentage "
        "('10%'), a fraction (0.1), dollars ('$0.002') or tokens ('500 tokens'), joined by '+'"
    )
    assert _run("diff", "base.json", "nope.json") == (
        2,
        "",
        "llm-cost diff: nope.json: no such results or baseline file\n",
    )
    assert _run("diff", "gone.json", HEAD) == (2, "", "llm-cost diff: gone.json: no such results or baseline file\n")


# -- merge ----------------------------------------------------------------------------------------


def test_merge_of_two_shards_is_what_one_run_writes(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_flows=FLOWS)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=4)
    quiet = ("--llm-cost", "--llm-cost-report=none", "--llm-cost-markdown=none")
    pytester.runpytest(*quiet, "--llm-cost-results=whole.json").assert_outcomes(passed=4)
    selection = "test_agent or test_same"
    pytester.runpytest(*quiet, "--llm-cost-results=a.json", "-k", selection).assert_outcomes(passed=2)
    pytester.runpytest(*quiet, "--llm-cost-results=b.json", "-k", f"not ({selection})").assert_outcomes(passed=2)

    assert _run("merge", "a.json", "b.json", "-o", "out/merged.json") == (
        0,
        "out/merged.json: 4 tests from 2 results files\n",
        "",
    )
    merged, whole = _json(pytester.path / "out" / "merged.json"), _json(pytester.path / "whole.json")
    assert merged["tests"] == whole["tests"]
    assert merged["rate_card"] == whole["rate_card"]
    assert merged["summary"] == whole["summary"]
    assert merged["summary"]["tests"] == 4
    assert merged["summary"]["calls"] == 5
    assert merged["summary"]["usd"] == "0.0118875"
    assert merged["summary"]["tokens"]["input"] == 4615  # 1003 + 1003 + 2003 + 103 + 503
    # Each shard selected tests with -k: neither knows the whole suite, nor does their merge.
    assert whole["collection"]["complete"] is True
    assert merged["collection"] == {"complete": False, "tests": []}


def _shards(tmp_path: Path, *, complete: tuple[bool, bool], overlap: int = 0) -> tuple[Path, Path, list[str]]:
    """The sample suite split in two results files; ``overlap`` tests in both."""
    tests, _ = sample_tests()
    ids = sorted(tests)
    halves = (ids[: 5 + overlap], ids[5:])
    paths = []
    for name, half, whole in zip(("a.json", "b.json"), halves, complete, strict=True):
        path = tmp_path / name
        Results(
            tests={nodeid: tests[nodeid] for nodeid in half},
            rate_card=RATE_CARD,
            outcomes=dict.fromkeys(half, "passed"),
            collected=tuple(ids) if whole else None,
            verdicts={
                nodeid: Verdict(nodeid, Status.OVER_BUDGET, True, ((Status.OVER_BUDGET, "over"),))
                for nodeid in half
                if nodeid.endswith("test_tool_loop")
            },
        ).write(path)
        paths.append(path)
    return paths[0], paths[1], ids


@pytest.mark.parametrize(
    "complete",
    [(True, True), (True, False), (False, True), (False, False)],
    ids=["both", "first", "second", "neither"],
)
def test_merge_is_complete_only_when_every_shard_was(tmp_path: Path, complete: tuple[bool, bool]) -> None:
    a, b, ids = _shards(tmp_path, complete=complete)
    out = tmp_path / "merged.json"
    assert _run("merge", str(a), str(b), "-o", str(out)) == (0, f"{out}: 10 tests from 2 results files\n", "")
    merged = _json(out)
    assert sorted(merged["tests"]) == ids
    assert merged["collection"] == {"complete": all(complete), "tests": ids if all(complete) else []}
    assert merged["summary"]["tests"] == 10
    assert merged["summary"]["calls"] == 22
    assert (merged["summary"]["estimated"], merged["summary"]["unpriced"]) == (1, 1)
    assert merged["tests"]["tests/test_agent.py::test_tool_loop"]["status"] == "over_budget"


def test_merge_refuses_a_test_in_two_shards(tmp_path: Path) -> None:
    a, b, ids = _shards(tmp_path, complete=(True, True), overlap=1)
    out = tmp_path / "merged.json"
    assert _run("merge", str(a), str(b), "-o", str(out)) == (
        2,
        "",
        f"llm-cost merge: {ids[5]} is in both {a} and {b}: a test must run in one shard only\n",
    )
    assert not out.exists()


def test_merge_refuses_results_priced_by_different_rate_cards(tmp_path: Path) -> None:
    a, b, _ = _shards(tmp_path, complete=(True, True))
    data = _json(b)
    data["rate_card"] = {"genai_prices": "0.0.41", "local_prices": None}
    b.write_text(json.dumps(data))
    out = tmp_path / "merged.json"
    code, stdout, err = _run("merge", str(a), str(b), "-o", str(out))
    assert (code, stdout) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith(f"llm-cost merge: {b} was priced by genai-prices 0.0.41")
    assert f", {a} by genai-prices 0.0.40" in line
    assert line.endswith("; merge the results of one run")
    assert "0.0.41" in line
    assert not out.exists()


def test_a_command_pauses_the_garbage_collector_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands read large acyclic data and exit: the cyclic collector is off while they run (it
    would walk that data again and again), and back as it was when they return, called in process
    as a library, whether they succeed or fail."""
    import gc

    import pytest_llmcost.results as results

    a, b, _ = _shards(tmp_path, complete=(True, True))
    enabled: list[bool] = []
    merge = results.merge_results

    def watched(*args: Any, **kwargs: Any) -> int:
        enabled.append(gc.isenabled())
        return merge(*args, **kwargs)

    monkeypatch.setattr(results, "merge_results", watched)
    assert _run("merge", str(a), str(b), "-o", str(tmp_path / "merged.json"))[0] == 0
    assert enabled == [False]
    assert gc.isenabled()
    assert _run("merge", str(a), str(a), "-o", str(tmp_path / "again.json"))[0] == 2
    assert gc.isenabled()
    gc.disable()
    try:
        assert _run("merge", str(a), str(b), "-o", str(tmp_path / "third.json"))[0] == 0
        assert not gc.isenabled()  # a caller that had turned it off keeps it off
    finally:
        gc.enable()
