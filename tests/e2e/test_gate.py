"""The gate judges what each test really cost: per call, with its teardown, every budget, after a merge.

Each test reproduces one way the gate could judge a test on the wrong cost, or not at all:
long-context tiers priced on averaged calls, a failed attempt billed as a call, teardown
calls ignored, budgets added by a conftest hook ignored, a merge that forgets how the shards
were judged, fixture and thread calls billed to whichever test ran at the time, and a step
budget for a step the test never ran.
"""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

OPENAI = """
import os

import openai
import pytest

from pytest_llmcost import step

URL = os.environ["FAKE_LLM_URL"]


def chat(words, model="gpt-4o"):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": " ".join(["doc"] * words)}])
"""

# gpt-4o: $2.50 per million input tokens, $10 per million output tokens. A call of N words
# costs ((N + 3) x 2.5 + 7 x 10) / 1e6: the fake provider counts words, plus 3 per message,
# and answers with 7 words.


def usd(words: int) -> Decimal:
    return ((words + 3) * Decimal("2.5") + 70) / 1_000_000


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _results(pytester: pytest.Pytester, name: str = ".llm-cost/results.json") -> dict[str, Any]:
    return _json(pytester.path / name)


def _failure(result: pytest.RunResult, test: str) -> list[str]:
    """The lines of one test's section under FAILURES."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"_+ {re.escape(test)} _+", line))
    end = next(
        (i for i, line in enumerate(lines[start + 1 :], start + 1) if re.match(r"^(_{3,} \S| ?={3,})", line)),
        len(lines),
    )
    return lines[start + 1 : end]


# -- 1. prices per call ---------------------------------------------------------------------

LONG_CONTEXT = """
import os

from google import genai
from google.genai import types

URL = os.environ["FAKE_LLM_URL"]


def ask(words):
    client = genai.Client(
        api_key="AIza-test", http_options=types.HttpOptions(base_url=URL + "/", api_version="v1beta")
    )
    client.models.generate_content(model="gemini-2.5-pro", contents=" ".join(["doc"] * words))


def test_long_context(llm_cost):
    ask(int(os.environ["FIRST_WORDS"]))
    ask(int(os.environ["SECOND_WORDS"]))
"""


def test_long_context_tiers_are_priced_per_call(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """199k + 199k tokens re-recorded as 1k + 397k: same tokens, the 397k call at the >200k tier: regressed."""
    pytester.makepyfile(test_long=LONG_CONTEXT)
    monkeypatch.setenv("FIRST_WORDS", "199000")
    monkeypatch.setenv("SECOND_WORDS", "199000")
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=1)
    baseline = _json(pytester.path / "llm-cost-baseline.json")["tests"]["test_long.py::test_long_context"]

    monkeypatch.setenv("FIRST_WORDS", "1000")
    monkeypatch.setenv("SECOND_WORDS", "397000")
    pytester.runpytest("--llm-cost-record-mode=all").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-cost")
    entry = _results(pytester)["tests"]["test_long.py::test_long_context"]
    # Same input in all (2 x 199,003 = 1,003 + 397,003), but the metered dollars about double.
    assert entry["tokens"]["input"] == baseline["models"]["google"]["gemini-2.5-pro"]["tokens"]["input"] == 398_006
    assert Decimal(entry["usd"]) > Decimal("1.9") * Decimal(baseline["usd"])

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*exceeds baseline*"])
    output = result.stdout.str().lower()
    assert not any("price" in line and "drift" in line for line in output.splitlines())
    assert "prices changed" not in output
    assert entry["status"] == "regressed"


RATE_LIMITED = (
    OPENAI
    + """

def test_retry_after_rate_limit(llm_cost):
    with pytest.raises(openai.RateLimitError):
        chat(10, model="error-429")
    chat(10)
"""
)


def test_a_rate_limited_attempt_is_not_a_billed_call(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """A 429 then a real call: one billed call, two records, the 429 one marked not billed."""
    pytester.makepyfile(test_limited=RATE_LIMITED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 2
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
    entry = _results(pytester)["tests"]["test_limited.py::test_retry_after_rate_limit"]
    assert entry["usd"] == str(usd(10).normalize())
    assert len(entry["records"]) == 2
    assert entry["calls"] == 1
    assert entry["records"][0]["billed"] is False
    assert entry["records"][1].get("billed", True) is True


# -- 2. teardown ------------------------------------------------------------------------------

TEARDOWN = (
    OPENAI
    + """

@pytest.fixture
def agent(llm_cost):
    yield
    chat(int(os.environ.get("TEARDOWN_WORDS", "1000")))


{marker}def test_with_cleanup(llm_cost, agent):
    chat(10)
"""
)


def test_a_teardown_call_counts_against_the_budget(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """The $0.0001 body is within the $0.001 budget; its fixture's $0.0026 teardown call is not: the test fails."""
    pytester.makepyfile(test_cleanup=TEARDOWN.replace("{marker}", "@pytest.mark.cost_budget(usd=0.001)\n"))
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 2
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(failed=1)  # a failure of the test, not an error at teardown
    result.stdout.fnmatch_lines(["*LLM cost $0.00268 exceeds its budget of $0.001*"])  # usd(10) + usd(1000)


def test_a_teardown_call_that_grew_regresses_the_test(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The teardown call doubles (+93% for the test): the test fails, and summary.md and results.json say regressed."""
    pytester.makepyfile(test_cleanup=TEARDOWN.replace("{marker}", ""))
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=1)
    monkeypatch.setenv("TEARDOWN_WORDS", "2000")
    pytester.runpytest("--llm-cost-record-mode=all").assert_outcomes(passed=1)

    result = pytester.runpytest("--llm-cost", "--llm-cost-markdown=summary.md")
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    nodeid = "test_cleanup.py::test_with_cleanup"
    summary = (pytester.path / "summary.md").read_text()
    assert any(nodeid in line and "regressed" in line for line in summary.splitlines()), summary
    assert _results(pytester)["tests"][nodeid]["status"] == "regressed"


# -- 3. budgets added by a conftest hook ------------------------------------------------------

HOOKED_CONFTEST = """
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.cost_budget({budget}))
"""


def test_a_budget_added_by_a_conftest_hook_is_enforced(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """A plain conftest ``pytest_collection_modifyitems`` adds a tiny budget: the test fails over it."""
    pytester.makeconftest(HOOKED_CONFTEST.format(budget="usd=0.0000001"))
    pytester.makepyfile(test_hooked=OPENAI + "\n\ndef test_one_call(llm_cost):\n    chat(10)\n")
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*LLM cost $0.0001* exceeds its budget*"])


def test_an_invalid_budget_added_by_a_conftest_hook_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """``cost_budget(usd="abc")`` added by a conftest hook stops the run before any test, naming the test."""
    pytester.makeconftest(HOOKED_CONFTEST.format(budget='usd="abc"'))
    pytester.makepyfile(test_hooked="def test_one_call():\n    raise AssertionError('no test may run')\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_hooked.py::test_one_call: cost_budget: *abc*"])


def test_an_invalid_budget_under_xdist_is_a_collection_error(pytester: pytest.Pytester) -> None:
    """Under ``-n 2`` the workers report it as a collection error naming the test: no internal error, exit != 0."""
    pytester.makeconftest(HOOKED_CONFTEST.format(budget='usd="abc"'))
    pytester.makepyfile(test_hooked="def test_one_call():\n    pass\n")
    result = pytester.runpytest("-n", "2")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["invalid cost_budget marker:", "  test_hooked.py::test_one_call: cost_budget: *abc*"])


# -- 4. llm-cost merge ------------------------------------------------------------------------

SHARDED = (
    OPENAI
    + """

def test_one(llm_cost):
    chat(int(os.environ.get("ONE_WORDS", "1000")))


@pytest.mark.cost_budget(delta="100%")
def test_two(llm_cost):
    chat(int(os.environ.get("TWO_WORDS", "1000")))
"""
)


@pytest.fixture
def sharded(pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """Two tests with a baseline, re-recorded: test_one +20.4% (usd(1210)), test_two +58.2% (usd(1600))."""
    pytester.makepyfile(test_shards=SHARDED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    pytester.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    monkeypatch.setenv("ONE_WORDS", "1210")
    monkeypatch.setenv("TWO_WORDS", "1600")
    pytester.runpytest("--llm-cost-record-mode=all").assert_outcomes(passed=2)
    return pytester


def _shard(pytester: pytest.Pytester, test: str, results: str, tolerance: str) -> pytest.RunResult:
    return pytester.runpytest(
        "--llm-cost", f"--llm-cost-tolerance={tolerance}", "-k", test, f"--llm-cost-results={results}"
    )


def _cli(*args: str) -> tuple[int, str]:
    from pytest_llmcost.cli import main

    err = io.StringIO()
    code = main(list(args), out=io.StringIO(), err=err)
    return code, err.getvalue()


def test_merged_shards_are_judged_as_the_shards_were(sharded: pytest.Pytester) -> None:
    """Shards at 50% pass; after merge, the report shows nothing regressed and keeps the gate and test deltas."""
    path = sharded.path
    _shard(sharded, "test_one", "shard1.json", "50%").assert_outcomes(passed=1)
    _shard(sharded, "test_two", "shard2.json", "50%").assert_outcomes(passed=1)
    code, err = _cli("merge", str(path / "shard1.json"), str(path / "shard2.json"), "-o", str(path / "merged.json"))
    assert code == 0, err
    code, err = _cli(
        "report",
        str(path / "merged.json"),
        "--baseline",
        str(path / "llm-cost-baseline.json"),
        "-o",
        str(path / "merged.html"),
        "--markdown",
        str(path / "merged.md"),
    )
    assert code == 0, err
    markdown = (path / "merged.md").read_text()
    shown_regressed = [line for line in markdown.splitlines() if "test_shards.py::" in line and "regressed" in line]
    assert shown_regressed == [], markdown
    merged = _json(path / "merged.json")
    assert merged["gate"]["tolerance"] == "50%"
    assert merged["tests"]["test_shards.py::test_two"]["allowed_delta"] == "100%"


def test_merge_refuses_shards_judged_with_different_tolerances(sharded: pytest.Pytester) -> None:
    """A shard at 50% and one at 5% were not judged alike: merge exits 2 naming both files."""
    path = sharded.path
    _shard(sharded, "test_one", "shard1.json", "50%").assert_outcomes(passed=1)
    _shard(sharded, "test_two", "shard2.json", "5%").assert_outcomes(passed=1)
    code, err = _cli("merge", str(path / "shard1.json"), str(path / "shard2.json"), "-o", str(path / "merged.json"))
    assert code == 2, err
    assert "shard1.json" in err
    assert "shard2.json" in err
    assert not (path / "merged.json").exists()


# -- 5. fixtures and threads ------------------------------------------------------------------

# Raw HTTP: xdist workers start fast without importing the SDKs. gpt-4o-mini.
HTTP = """
import os

import httpx

URL = os.environ["FAKE_LLM_URL"]


def chat(words):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": " ".join(["doc"] * words)}]}
    httpx.post(URL + "/v1/chat/completions", json=body, timeout=10).raise_for_status()
"""

WARM_CONFTEST = (
    HTTP
    + """
from pathlib import Path

import pytest
import vcr

CASSETTES = Path(__file__).parent / "cassettes"


def warm(name, words):
    recorder = vcr.VCR(record_mode=os.environ.get("REC", "none"))
    with recorder.use_cassette(str(CASSETTES / f"{name}.yaml")):
        chat(words)


@pytest.fixture(scope="module")
def warm_index():
    warm("warm_index", int(os.environ.get("WARM_WORDS", "1000")))


@pytest.fixture(scope="session")
def warm_session():
    warm("warm_session", 2000)
"""
)

WARM_MODULES = {
    "test_a": HTTP
    + """

def test_a1(llm_cost, warm_session):
    chat(10)


def test_a2(llm_cost, warm_index):
    chat(20)


def test_a3(llm_cost, warm_index):
    chat(30)
""",
    "test_b": HTTP
    + """

def test_b1(llm_cost):
    chat(40)


def test_b2(llm_cost, warm_index, warm_session):
    chat(50)


def test_b3(llm_cost, warm_session):
    chat(60)
""",
}
WARM_TESTS = {"test_a.py::test_a1": 10, "test_a.py::test_a2": 20, "test_a.py::test_a3": 30}
WARM_TESTS |= {"test_b.py::test_b1": 40, "test_b.py::test_b2": 50, "test_b.py::test_b3": 60}
WARM_FIXTURES = {"test_a.py::[fixture warm_index]", "test_b.py::[fixture warm_index]", "[fixture warm_session]"}


@pytest.fixture
def fixtured(pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """Six tests in two modules, recorded; module and session fixtures call the LLM through their own cassettes."""
    pytester.makeconftest(WARM_CONFTEST)
    pytester.makepyfile(**WARM_MODULES)
    with monkeypatch.context() as recording:
        recording.setenv("REC", "once")
        pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=6)
    # Six test calls, and each fixture's one call (warm_index's second instance replays its cassette).
    assert len(fake_llm.requests) == 8
    return pytester


def _judged(tests: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Every entry's figures and status, fixtures included: a fixture set up in several workers is one entry."""
    return {
        nodeid: (entry["usd"], entry["calls"], entry["tokens"], entry.get("status"), entry.get("kind"))
        for nodeid, entry in tests.items()
    }


def test_fixture_calls_are_billed_to_the_fixture_whatever_the_workers(fixtured: pytest.Pytester) -> None:
    """-n 0, 2 and 4 bill each test its own call only; module and session fixtures get entries of their own."""
    runs: dict[str, dict[str, Any]] = {}
    for workers in ("0", "2", "4"):
        result = fixtured.runpytest("--llm-cost", "-n", workers, f"--llm-cost-results=results-{workers}.json")
        result.assert_outcomes(passed=6)
        runs[workers] = _results(fixtured, f"results-{workers}.json")["tests"]

    serial = runs["0"]
    assert {nodeid: serial[nodeid]["calls"] for nodeid in WARM_TESTS} == dict.fromkeys(WARM_TESTS, 1)
    assert {nodeid: serial[nodeid]["tokens"]["input"] for nodeid in WARM_TESTS} == {
        nodeid: words + 3 for nodeid, words in WARM_TESTS.items()
    }
    for workers, tests in runs.items():
        fixtures = {nodeid for nodeid, entry in tests.items() if entry.get("kind") == "fixture"}
        assert fixtures == WARM_FIXTURES, workers
    assert serial["test_a.py::[fixture warm_index]"]["calls"] == 1
    assert serial["test_a.py::[fixture warm_index]"]["tokens"]["input"] == 1003
    assert serial["[fixture warm_session]"]["calls"] == 1
    assert serial["[fixture warm_session]"]["tokens"]["input"] == 2003
    assert _judged(runs["2"]) == _judged(serial)
    assert _judged(runs["4"]) == _judged(serial)


def test_a_wide_fixture_that_grew_fails_in_its_own_name(
    fixtured: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """warm_index's call triples: each module's instance fails the teardown it finished in, naming the fixture."""
    fixtured.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=6)
    (fixtured.path / "cassettes" / "warm_index.yaml").unlink()
    with monkeypatch.context() as recording:
        recording.setenv("REC", "once")
        recording.setenv("WARM_WORDS", "3000")
        fixtured.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=6)
    monkeypatch.setenv("WARM_WORDS", "3000")
    result = fixtured.runpytest("--llm-cost")
    result.assert_outcomes(passed=6, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_a3*",
            # fnmatch reads [...] as a class: "?" stands for the brackets.
            "fixture test_a.py::?fixture warm_index?: LLM cost $0.000455 exceeds baseline $0.000155 by 194.0% *",
        ]
    )
    result.stdout.fnmatch_lines(["2 fixtures failed over their allowed delta"])
    tests = _results(fixtured, ".llm-cost/results.json")["tests"]
    assert tests["test_a.py::[fixture warm_index]"]["status"] == "regressed"
    assert {nodeid: tests[nodeid]["status"] for nodeid in WARM_TESTS} == dict.fromkeys(WARM_TESTS, "ok")


def test_parallel_runs_pass_against_a_serial_baseline(fixtured: pytest.Pytester) -> None:
    """A baseline accepted at -n 0 holds at -n 2, three runs in a row, whichever worker sets a fixture up."""
    fixtured.runpytest("--llm-cost", "--llm-cost-update", "-n", "0").assert_outcomes(passed=6)
    outcomes = []
    for _ in range(3):
        result = fixtured.runpytest("--llm-cost", "-n", "2")
        outcomes.append((result.ret, result.parseoutcomes()))
    assert outcomes == [(pytest.ExitCode.OK, {"passed": 6})] * 3


THREADED = (
    HTTP
    + """
import threading

GO = threading.Event()
threads = []


def late_call():
    GO.wait(10)
    chat(70)


def test_a(llm_cost):
    thread = threading.Thread(target=late_call)
    thread.start()
    threads.append(thread)
    chat(10)


def test_b(llm_cost):
    GO.set()
    threads[0].join(10)
    chat(20)
"""
)


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_plain_thread_left_running_is_not_billed_to_the_next_test(
    pytester: pytest.Pytester, fake_llm: Any, workers: str
) -> None:
    """test_a's thread calls while test_b runs: test_b is billed its own call only, and no call is lost
    (under xdist the worker sends the unattributed call to the controller)."""
    pytester.makepyfile(test_threads=THREADED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    recorded = len(fake_llm.requests)
    assert recorded == 3
    pytester.runpytest("--llm-cost", "-p", "no:randomly", "-n", workers).assert_outcomes(passed=2)
    data = _results(pytester)
    assert len(fake_llm.requests) == recorded
    assert data["tests"]["test_threads.py::test_b"]["calls"] == 1
    records = sum(len(entry["records"]) for entry in data["tests"].values()) + len(data.get("unattributed", []))
    assert records == recorded


POOLED = (
    HTTP
    + """
from concurrent.futures import ThreadPoolExecutor

POOL = ThreadPoolExecutor(1)  # its one worker starts during test_a and serves test_b too


def test_a(llm_cost):
    POOL.submit(chat, 10).result()


def test_b(llm_cost):
    POOL.submit(chat, 500).result()
"""
)


def test_work_submitted_to_a_long_lived_pool_is_billed_to_the_submitting_test(
    pytester: pytest.Pytester, fake_llm: Any
) -> None:
    """A module-level thread pool's worker was started by test_a; test_b's work item is still test_b's."""
    pytester.makepyfile(test_pool=POOLED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    pytester.runpytest("--llm-cost", "-p", "no:randomly").assert_outcomes(passed=2)
    tests = _results(pytester)["tests"]
    assert tests["test_pool.py::test_a"]["tokens"]["input"] == 13
    assert tests["test_pool.py::test_b"]["tokens"]["input"] == 503
    assert "unattributed" not in _results(pytester)


SKIPPED_OVER = (
    OPENAI
    + """

@pytest.mark.cost_budget(usd=0.0000001)
def test_skips_after_a_call(llm_cost):
    chat(10)
    pytest.skip("not today")
"""
)


def test_a_skipped_test_over_its_budget_is_reported_not_failed(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Every surface agrees: a skipped test fails nothing; its verdict is kept in results.json."""
    pytester.makepyfile(test_skipped=SKIPPED_OVER)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(skipped=1)
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.OK
    assert "failed over its cost_budget" not in result.stdout.str()
    entry = _results(pytester)["tests"]["test_skipped.py::test_skips_after_a_call"]
    assert (entry["status"], entry["verdict"]["fails"]) == ("over_budget", False)


def test_a_wide_fixture_recording_counts_toward_the_run_cap(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """warm_index records $0.00015 in its own cassette: the test's live call after it is over the $0.0001 cap."""
    pytester.makeconftest(WARM_CONFTEST)
    pytester.makepyfile(test_capped=HTTP + "\n\ndef test_after_warmup(llm_cost, warm_index):\n    chat(10)\n")
    monkeypatch.setenv("REC", "once")
    result = pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "--llm-cost-max-record-spend=0.0001")
    result.assert_outcomes(failed=1)
    assert len(fake_llm.requests) == 1
    result.stdout.fnmatch_lines(["*over --llm-cost-max-record-spend $0.0001; the next live call was stopped*"])


# -- 6. a budget for a step that never runs ---------------------------------------------------

MISSPELT_STEP = (
    OPENAI
    + """

@pytest.mark.cost_budget(steps={"synthesise": 0.02})
def test_agent(llm_cost):
    with step("plan"):
        chat(10)
    with step("synthesize"):
        chat(10)
"""
)


def test_a_budget_for_a_step_the_test_never_ran_fails_it(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """A budget for step 'synthesise' on a test that ran 'plan' and 'synthesize' fails it, naming both."""
    pytester.makepyfile(test_steps=MISSPELT_STEP)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(failed=1)
    failure = _failure(result, "test_agent")
    assert any("synthesise" in line for line in failure), failure
    assert any("plan" in line and "synthesize" in line for line in failure), failure
    assert _results(pytester)["tests"]["test_steps.py::test_agent"]["status"] == "unknown_step"


UNPRICED = """
import os

import httpx


def test_unknown_model(llm_cost):
    body = {"model": "acme-large-2", "messages": [{"role": "user", "content": "hello"}]}
    httpx.post(os.environ["FAKE_LLM_URL"] + "/v1/chat/completions", json=body, timeout=10).raise_for_status()


def test_other():
    pass
"""


def test_a_warning_under_filterwarnings_error_fails_the_test_not_the_session(
    pytester: pytest.Pytester, fake_llm: Any
) -> None:
    """An unpriced-model warning under ``filterwarnings = error`` fails its test; the run goes on."""
    pytester.makepyfile(test_unpriced=UNPRICED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    pytester.makeini("[pytest]\nllm_cost_unpriced = warn\nfilterwarnings = error\n")
    result = pytester.runpytest("--llm-cost")
    result.assert_outcomes(passed=1, failed=1)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "no price for acme-large-2 (openai): counted as $0 and labelled unpriced; price it in *",
            "1 test failed calling an unpriced model",
        ]
    )
    assert _results(pytester, ".llm-cost/results.json")["tests"]["test_unpriced.py::test_unknown_model"]["status"] == (
        "unpriced"
    )


FLAKY = (
    HTTP
    + """
from pathlib import Path


def test_flaky(llm_cost):
    chat(100)
    marker = Path(__file__).with_name("failed-once")
    if not marker.exists():
        marker.write_text("x")
        raise AssertionError("first attempt fails")
"""
)


def test_a_rerun_test_is_judged_on_its_last_attempt(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """pytest-rerunfailures runs the attempts: the passing attempt carries its own call, not $0."""
    pytest.importorskip("pytest_rerunfailures")
    pytester.makepyfile(test_flaky=FLAKY)
    assert pytester.runpytest("--llm-cost-record-mode=once", "--reruns=1").parseoutcomes() == {"passed": 1, "rerun": 1}
    (pytester.path / "failed-once").unlink()
    result = pytester.runpytest("--llm-cost", "--reruns=1", "-p", "no:randomly")
    assert result.parseoutcomes() == {"passed": 1, "rerun": 1}
    entry = _results(pytester)["tests"]["test_flaky.py::test_flaky"]
    assert entry["calls"] == 1
    assert entry["tokens"]["input"] == 103
    assert "unattributed" not in _results(pytester)
