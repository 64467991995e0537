"""The regression gate: the committed baseline, allowed deltas, budgets and updating it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmcost.files import dump_json_lines

AGENT = """
import os

import openai
import pytest

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]


def chat(words, model="gpt-4o"):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": " ".join(["doc"] * words)}])


def run_agent():
    with step("plan"):
        chat(int(os.environ.get("PLAN_WORDS", "1000")))
    with step("synthesize"):
        chat(int(os.environ.get("SYNTH_WORDS", "1000")))


def test_agent(llm_cost):
    run_agent()


def test_other(llm_cost):
    chat(int(os.environ.get("OTHER_WORDS", "2000")))
"""

# gpt-4o: $2.50 per million input tokens, $10 per million output tokens. A call of N words
# costs ((N + 3) x 2.5 + 7 x 10) / 1e6: the fake provider counts words, plus 3 per message,
# and answers with 7 words.


def usd(words: int) -> float:
    return ((words + 3) * 2.5 + 70) / 1e6


def _baseline(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / "llm-cost-baseline.json").read_text())
    return data


@pytest.fixture
def recorded(pytester: pytest.Pytester, fake_llm: Any) -> pytest.Pytester:
    """The agent recorded, and its baseline accepted with ``--llm-cost-update``."""
    pytester.makepyfile(test_agent=AGENT)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    return pytester


def _rerecord(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, **env: int) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    pytester.runpytest("--llm-cost-record-mode=all").assert_outcomes(passed=2)


def test_new_tests_pass_and_point_at_the_update_command(recorded: pytest.Pytester) -> None:
    result = recorded.runpytest("--llm-cost")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "2 tests with LLM calls are not in the baseline and pass: record them in a new "
            "llm-cost-baseline.json with `pytest --llm-cost --llm-cost-update`"
        ]
    )
    assert not (recorded.path / "llm-cost-baseline.json").exists()


def test_update_writes_a_deterministic_reviewable_baseline(recorded: pytest.Pytester) -> None:
    result = recorded.runpytest("--llm-cost", "--llm-cost-update")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["baseline llm-cost-baseline.json: 2 added, 0 changed, 0 removed"])
    path = recorded.path / "llm-cost-baseline.json"
    text = path.read_text()
    data = json.loads(text)
    # Deterministic and reviewable: sorted, compact, one test per line (a changed test is a changed line).
    assert text == dump_json_lines(data, lines=("tests",))
    assert [line.split('":', 1)[0] for line in text.splitlines() if line.startswith('"test_agent.py::')] == [
        '"test_agent.py::test_agent',
        '"test_agent.py::test_other',
    ]
    assert data["format"] == 2
    assert data["token_kinds"] == ["input", "cached_input", "cache_write", "output", "reasoning"]
    entry = data["tests"]["test_agent.py::test_agent"]
    assert entry["calls"] == 2
    assert entry["usd"] == "0.005155"  # 2 x usd(1000)
    (model,) = entry["models"]["openai"]
    assert entry["models"]["openai"][model] == {
        "calls": 2,
        "tokens": {"cache_write": 0, "cached_input": 0, "input": 2006, "output": 14, "reasoning": 0},
        "usd": "0.005155",
        # Each call's own usage, in token_kinds order, so the baseline is re-priced call by call.
        "per_call": [[1003, 0, 0, 7, 0], [1003, 0, 0, 7, 0]],
    }
    assert sorted(entry["steps"]) == ["plan", "synthesize"]
    assert entry["steps"]["synthesize"]["usd"] == "0.0025775"
    assert "time" not in text
    assert "date" not in text

    # Nothing changed: a second update reports so and leaves the file as it was.
    result = recorded.runpytest("--llm-cost", "--llm-cost-update")
    result.stdout.fnmatch_lines(["baseline llm-cost-baseline.json: 0 added, 0 changed, 0 removed (unchanged)"])
    assert path.read_text() == text


def test_a_regressed_step_fails_its_test_even_when_the_total_is_flat(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plan halves, synthesize grows by half: the total stays, the synthesize step fails."""
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    _rerecord(recorded, monkeypatch, PLAN_WORDS=500, SYNTH_WORDS=1500)
    result = recorded.runpytest("--llm-cost")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_agent _*",
            "LLM cost of step synthesize $0.00383 exceeds baseline $0.00258 by 48.5% (allowed 5%): "
            "input 1,003 -> 1,503 tokens per call (+50%), same model, same calls",
            "*- LLM cost vs baseline -*",
            "* baseline * now * change",
            "(test total) * $0.005155 * $0.005155 * +$0.000000 * +0.0%",
            "plan * $0.002578 * $0.001328 * -$0.001250 * -48.5%",
            "synthesize * $0.002578 * $0.003828 * +$0.001250 * +48.5% * over",
            "allowed: 5%; prices: today's rate card for both",
            "",
            "why:",
            "  plan -$0.00125 (-48.5%): input 1,003 -> 503 tokens per call (-50%), same model, same calls",
            "  synthesize +$0.00125 (+48.5%): input 1,003 -> 1,503 tokens per call (+50%), same model, same calls",
            "*short test summary info*",
            "REGRESSED test_agent.py::test_agent - LLM cost of step synthesize $0.00383 ex*",
            "*1 failed, 1 passed*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "1 test failed over its allowed delta",
            "accept an intended cost change with `pytest --llm-cost --llm-cost-update` (or `llm-cost update-baseline`)",
        ]
    )


def test_regression_message_for_the_test_total(recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    _rerecord(recorded, monkeypatch, OTHER_WORDS=2500)
    result = recorded.runpytest("--llm-cost", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            # usd(2500) vs usd(2000), and why: 500 more words in the (only, latest) message
            "LLM cost $0.00633 exceeds baseline $0.00508 by 24.6% (allowed 5%): "
            "input 2,003 -> 2,503 tokens per call (+25%), "
            "same model, same calls",
            "*- LLM cost vs baseline -*",
            "(test total) * $0.005078 * $0.006328 * +$0.001250 * +24.6% * over",
            "allowed: 5%; prices: today's rate card for both",
            "",
            "why:",
            "  total +$0.00125 (+24.6%): input 2,003 -> 2,503 tokens per call (+25%), same model, same calls",
        ]
    )


def test_allowed_delta_from_command_line_ini_and_marker(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """+24.6% fails at 5%, passes at 30% (CLI or ini), and a marker's delta wins over both."""
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    _rerecord(recorded, monkeypatch, OTHER_WORDS=2500)
    recorded.runpytest("--llm-cost", "--llm-cost-tolerance=30%").assert_outcomes(passed=2)
    recorded.runpytest("--llm-cost", "--llm-cost-tolerance=$0.002").assert_outcomes(passed=2)
    # The increase is 500 input tokens.
    recorded.runpytest("--llm-cost", "--llm-cost-tolerance=500 tokens").assert_outcomes(passed=2)
    recorded.runpytest("--llm-cost", "--llm-cost-tolerance=400 tokens").assert_outcomes(passed=1, failed=1)
    recorded.runpytest("--llm-cost", "--llm-cost-tolerance=10% + 400 tokens").assert_outcomes(passed=1, failed=1)
    recorded.runpytest("--llm-cost", "--llm-cost-tolerance=0.3").assert_outcomes(passed=2)
    recorded.makeini("[pytest]\nllm_cost_tolerance = 30%\n")
    recorded.runpytest("--llm-cost").assert_outcomes(passed=2)
    # A noise floor above the increase also lets it through.
    recorded.runpytest("--llm-cost", "--llm-cost-tolerance=0%", "--llm-cost-noise-floor=0.01").assert_outcomes(passed=2)
    source = (recorded.path / "test_agent.py").read_text()
    (recorded.path / "test_agent.py").write_text(
        source.replace("def test_other(", "@pytest.mark.cost_budget(delta='1%')\ndef test_other(")
    )
    result = recorded.runpytest("--llm-cost")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*exceeds baseline $0.00508 by 24.6% (allowed 1%): input 2,003 -> 2,503 tokens per call "
            "(+25%), same model, same calls"
        ]
    )


def test_bad_tolerance_is_a_usage_error_quoting_it(recorded: pytest.Pytester) -> None:
    result = recorded.runpytest("--llm-cost", "--llm-cost-tolerance=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-cost-tolerance: 'lots' in 'lots' is not an allowed delta*"])


def test_update_accepts_a_regression_and_keeps_other_entries(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    before = _baseline(recorded)
    _rerecord(recorded, monkeypatch, OTHER_WORDS=2500)
    # -k selects one test: the other's entry must stay exactly as it was.
    result = recorded.runpytest("--llm-cost", "--llm-cost-update", "-k", "other")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["baseline llm-cost-baseline.json: 0 added, 1 changed, 0 removed"])
    after = _baseline(recorded)
    assert after["tests"]["test_agent.py::test_agent"] == before["tests"]["test_agent.py::test_agent"]
    assert after["tests"]["test_agent.py::test_other"]["usd"] == "0.0063275"
    recorded.runpytest("--llm-cost").assert_outcomes(passed=2)


def test_tests_failing_for_other_reasons_keep_their_entries(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    before = _baseline(recorded)
    _rerecord(recorded, monkeypatch, OTHER_WORDS=2500, SYNTH_WORDS=1500)
    source = (recorded.path / "test_agent.py").read_text()
    (recorded.path / "test_agent.py").write_text(
        source.replace("    run_agent()\n", "    run_agent()\n    assert False, 'the agent is wrong'\n")
    )
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=1, failed=1)
    after = _baseline(recorded)
    assert after["tests"]["test_agent.py::test_agent"] == before["tests"]["test_agent.py::test_agent"]
    assert after["tests"]["test_agent.py::test_other"] != before["tests"]["test_agent.py::test_other"]


def test_stale_entries_are_counted_and_pruned_only_on_a_whole_run(recorded: pytest.Pytester) -> None:
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    source = (recorded.path / "test_agent.py").read_text()
    (recorded.path / "test_agent.py").write_text(source.replace("def test_other(", "def test_renamed("))
    recorded.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    result = recorded.runpytest("--llm-cost")
    result.stdout.fnmatch_lines(
        ["1 baseline entry has no test: drop it with `pytest --llm-cost --llm-cost-update --llm-cost-prune`"]
    )
    # A run that selects tests cannot tell a removed test from a deselected one.
    result = recorded.runpytest("--llm-cost", "-k", "renamed")
    assert "has no test" not in result.stdout.str()
    result = recorded.runpytest("--llm-cost", "--llm-cost-update", "--llm-cost-prune", "-k", "renamed")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-cost-prune needs the whole suite, but this run selects tests (-k)*"])

    result = recorded.runpytest("--llm-cost", "--llm-cost-update", "--llm-cost-prune")
    result.stdout.fnmatch_lines(["baseline llm-cost-baseline.json: 1 added, 0 changed, 1 removed"])
    assert sorted(_baseline(recorded)["tests"]) == ["test_agent.py::test_agent", "test_agent.py::test_renamed"]


def test_cheaper_tests_hint_at_locking_in_the_saving(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    _rerecord(recorded, monkeypatch, OTHER_WORDS=1000)
    result = recorded.runpytest("--llm-cost")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "1 test got cheaper than its baseline by more than the allowed delta: "
            "lock the saving in with `pytest --llm-cost --llm-cost-update`"
        ]
    )


def test_a_price_change_never_fails_and_is_reported_as_drift(recorded: pytest.Pytester) -> None:
    """Baseline usage and current usage are priced by one card; the card's change is drift."""
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    recorded.makefile(".yaml", **{"llm-cost-prices": "models:\n  gpt-4o*:\n    input: 5\n    output: 20\n"})
    result = recorded.runpytest("--llm-cost")
    result.assert_outcomes(passed=2)
    # Twice the price: the baseline's $0.010235 of usage now costs $0.02047.
    result.stdout.fnmatch_lines(
        [
            "price drift: today's rate card prices the baseline's usage $0.0102 more than when it was written; "
            "compared at today's prices, nothing fails for it (`pytest --llm-cost --llm-cost-update` records them)"
        ]
    )


def test_unreadable_baseline_stops_the_run_and_is_never_overwritten(recorded: pytest.Pytester) -> None:
    path = recorded.path / "llm-cost-baseline.json"
    for text, message in [
        ('{"format": 1, "tests": {', "the baseline file is not valid JSON"),
        ('{"format": 99, "tests": {}}', "baseline format 99 is not supported"),
        ('{"format": 1, "tests": {"t": {"calls": -1}}}', "t: a count must be a whole number >= 0, got -1"),
    ]:
        path.write_text(text)
        result = recorded.runpytest("--llm-cost", "--llm-cost-update")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*llm-cost-baseline.json: *{message}*"])
        assert path.read_text() == text


def test_an_interrupted_run_writes_nothing(recorded: pytest.Pytester) -> None:
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    path = recorded.path / "llm-cost-baseline.json"
    before = path.read_text()
    source = (recorded.path / "test_agent.py").read_text()
    (recorded.path / "test_agent.py").write_text(
        source.replace(
            "def test_other(llm_cost):\n", "def test_other(llm_cost):\n    raise KeyboardInterrupt\n"
        ).replace('"2000"', '"2500"')
    )
    result = recorded.runpytest("--llm-cost", "--llm-cost-update", no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert path.read_text() == before


BUDGETS = """
import os

import openai
import pytest

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]


def chat(words, model="gpt-4o"):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": " ".join(["doc"] * words)}])


@pytest.mark.cost_budget(0.01)
def test_within(llm_cost):
    chat(1000)


@pytest.mark.cost_budget(usd=0.001)
def test_over_dollars(llm_cost):
    chat(1000)


@pytest.mark.cost_budget(tokens=500)
def test_over_tokens(llm_cost):
    chat(1000)


@pytest.mark.cost_budget(steps={"research": 0.003, "synthesize": {"tokens": 2000}})
def test_over_step(llm_cost):
    with step("research"):
        with step("search"):
            chat(1000)
        chat(1000)
    with step("synthesize"):
        chat(100)
"""


def test_absolute_budgets_fail_the_test_with_a_distinct_status(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_budgets=BUDGETS)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=4)  # budgets need --llm-cost
    result = pytester.runpytest("--llm-cost", "-v")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "LLM cost $0.00258 exceeds its budget of $0.001",
            "LLM cost 1,010 tokens exceeds its budget of 500 tokens",
            "LLM cost of step research $0.00516 exceeds its budget of $0.003",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*::test_over_dollars OVER-BUDGET*",
            "*::test_over_tokens OVER-BUDGET*",
            "*::test_over_step OVER-BUDGET*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(
        [
            "OVER-BUDGET test_budgets.py::test_over_dollars - LLM cost $0.00258 exceed*",
            "OVER-BUDGET test_budgets.py::test_over_tokens - LLM cost 1,010 tokens exceed*",
            "OVER-BUDGET test_budgets.py::test_over_step - LLM cost of step research $0.00*",
        ]
    )
    result.stdout.fnmatch_lines(["3 tests failed over their cost_budget"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("cost_budget()", "needs at least one limit"),
        ("cost_budget('cheap')", "usd must be a number of US dollars, got 'cheap'"),
        ("cost_budget(usd=-1)", "usd must be a number of US dollars >= 0, got -1"),
        ("cost_budget(0.1, 0.2)", "takes at most one positional argument (usd), got 2"),
        ("cost_budget(dollars=1)", "unknown argument 'dollars'"),
        ("cost_budget(delta='a lot')", "delta: 'a lot' in 'a lot' is not an allowed delta"),
        ("cost_budget(tokens=1.5)", "tokens must be a whole number >= 0, got 1.5"),
        ("cost_budget(steps=['plan'])", "steps must map step paths to limits"),
        ("cost_budget(steps={'plan': {'dollars': 1}})", "steps['plan'] has unknown key 'dollars'"),
    ],
)
def test_invalid_budget_is_a_usage_error_naming_the_test(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(
        test_bad=f"""
import pytest

ran = []

@pytest.mark.{marker}
def test_bad():
    ran.append(1)

def test_fine():
    raise AssertionError("no test may run")
"""
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    pattern = message.replace("[", "[[]")
    result.stderr.fnmatch_lines(["*invalid cost_budget marker:*", f"*test_bad.py::test_bad: cost_budget: {pattern}*"])


def test_strict_fails_tests_missing_from_the_baseline(recorded: pytest.Pytester) -> None:
    result = recorded.runpytest("--llm-cost", "--llm-cost-strict")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["NO-BASELINE test_agent.py::test_agent - LLM cost $0.00516 has no baseline en*"])
    recorded.runpytest("--llm-cost", "--llm-cost-strict", "--llm-cost-update").assert_outcomes(passed=2)
    recorded.runpytest("--llm-cost", "--llm-cost-strict").assert_outcomes(passed=2)


def test_update_baseline_command_accepts_the_last_run(
    recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``llm-cost update-baseline`` accepts a results file (from CI, say) without running tests."""
    from pytest_llmcost.cli import main

    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    _rerecord(recorded, monkeypatch, OTHER_WORDS=2500)
    recorded.runpytest("--llm-cost").assert_outcomes(passed=1, failed=1)
    monkeypatch.chdir(recorded.path)

    import io

    out = io.StringIO()
    assert main(["update-baseline", "--dry-run"], out=out) == 0
    assert out.getvalue().splitlines() == [
        "  changed  test_agent.py::test_other",
        "llm-cost-baseline.json: would be 0 added, 1 changed, 0 removed (dry run, nothing written)",
    ]
    out = io.StringIO()
    assert main(["update-baseline"], out=out) == 0
    assert out.getvalue().splitlines()[-1] == "llm-cost-baseline.json: 0 added, 1 changed, 0 removed"
    recorded.runpytest("--llm-cost").assert_outcomes(passed=2)

    # Prune needs results from a whole run.
    recorded.runpytest("--llm-cost", "test_agent.py::test_agent").assert_outcomes(passed=1)
    err = io.StringIO()
    assert main(["update-baseline", "--prune"], out=io.StringIO(), err=err) == 2
    assert "--prune needs results from a run of the whole suite" in err.getvalue()


SPENDER = """
import os

import openai
import pytest

URL = os.environ["FAKE_LLM_URL"]


def chat(n):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": f"step {n} " + " ".join(["doc"] * 1000)}]
    )


@pytest.mark.cost_budget(0.006)
def test_runaway_agent(llm_cost):
    for n in range(10):
        chat(n)
"""


def test_budget_is_a_circuit_breaker_while_recording(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Once a recording test has spent its budget, its next live call is stopped."""
    pytester.makepyfile(test_spender=SPENDER)
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once")
    result.assert_outcomes(failed=1)
    # Each call costs about $0.00258: the third call passes $0.006, the fourth is stopped.
    assert len(fake_llm.requests) == 3
    result.stdout.fnmatch_lines(
        [
            "LLM spend guard: this test has spent or reserved $0.0077* recording, over its cost_budget of $0.006; "
            "the next live call was stopped",
            "OVER-BUDGET test_spender.py::test_runaway_agent - LLM spend guard*",
        ]
    )


def test_run_wide_spend_cap_while_recording(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_spender=SPENDER.replace("@pytest.mark.cost_budget(0.006)\n", ""))
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "--llm-cost-max-record-spend=0.004")
    result.assert_outcomes(failed=1)
    assert len(fake_llm.requests) == 2
    result.stdout.fnmatch_lines(["*over --llm-cost-max-record-spend $0.004; the next live call was stopped*"])


ONE_CALL_EACH = """
import pytest

from test_spender import chat


@pytest.mark.parametrize("n", range(8))
def test_one_call(llm_cost, n):
    chat(n)
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_run_wide_spend_cap_holds_across_xdist_workers(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """The cap is the run's, not each worker's: two workers together stop where one process does."""
    tmp = pytester.mkdir("tmp")
    monkeypatch.setenv("TMPDIR", str(tmp))
    pytester.makepyfile(test_spender=SPENDER.split("@pytest.mark")[0], test_many=ONE_CALL_EACH)
    result = pytester.runpytest_subprocess(
        "--llm-cost", "--llm-cost-record-mode=once", "--llm-cost-max-record-spend=0.012", "-n", workers
    )
    # About $0.00258 a call: the sixth would start past $0.012. Each worker alone would allow five,
    # so two workers with a cap each would make all eight. Two workers checking at the same moment
    # may each let one call through.
    assert 5 <= len(fake_llm.requests) <= (5 if workers == "0" else 6)
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == len(fake_llm.requests)
    assert outcomes["failed"] == 8 - len(fake_llm.requests)
    result.stdout.fnmatch_lines(["*over --llm-cost-max-record-spend $0.012; the next live call was stopped*"])
    assert not list(tmp.glob("llm-cost-spend-*")), "the shared spend folder is left behind"


def test_the_gate_works_the_same_under_xdist(recorded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """With two workers: the same baseline written, the same test failed with the same words."""
    recorded.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    serial = (recorded.path / "llm-cost-baseline.json").read_text()
    (recorded.path / "llm-cost-baseline.json").unlink()
    result = recorded.runpytest_subprocess("--llm-cost", "--llm-cost-update", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["baseline llm-cost-baseline.json: 2 added, 0 changed, 0 removed"])
    assert (recorded.path / "llm-cost-baseline.json").read_text() == serial

    _rerecord(recorded, monkeypatch, PLAN_WORDS=500, SYNTH_WORDS=1500)
    result = recorded.runpytest_subprocess("--llm-cost", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "LLM cost of step synthesize $0.00383 exceeds baseline $0.00258 by 48.5% (allowed 5%): "
            "input 1,003 -> 1,503 tokens per call (+50%), same model, same calls",
            "synthesize * $0.002578 * $0.003828 * +$0.001250 * +48.5%  over",
        ]
    )
    result.stdout.fnmatch_lines(
        ["1 test failed over its allowed delta", "REGRESSED test_agent.py::test_agent - LLM cost of step s*"]
    )
