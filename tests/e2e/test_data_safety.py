"""Nothing the plugin keeps is lost: cassettes, the baseline and the results survive failed tests,
interrupted runs, failed writes, concurrent updates, broken input files and read-only files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_llmcost.cli import main

AGENT = """
import os

import openai

URL = os.environ["FAKE_LLM_URL"]
STOP_AFTER = int(os.environ.get("STOP_AFTER", "0"))
HOW = os.environ.get("HOW", "fail")
ASKED = os.environ.get("ASKED", "step")


def chat(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def stop():
    if HOW == "fail":
        raise AssertionError("the agent went wrong")
    if HOW == "interrupt":
        raise KeyboardInterrupt
    if HOW == "sigint":
        import signal
        import time

        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)


def test_agent(llm_cost):
    for n in range(3):
        if STOP_AFTER and n == STOP_AFTER:
            stop()
        chat(f"{ASKED} {n}")
    assert not os.environ.get("FAIL_AT_END"), "the answer is wrong"
"""

CASSETTE = Path("cassettes") / "test_agent" / "test_agent.yaml"


@pytest.fixture
def recorded(pytester: pytest.Pytester, fake_llm: Any) -> pytest.Pytester:
    """The agent's three calls recorded in its cassette."""
    pytester.makepyfile(test_agent=AGENT)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    assert len(fake_llm.requests) == 3
    return pytester


def _interactions(pytester: pytest.Pytester) -> int:
    import yaml

    data = yaml.safe_load((pytester.path / CASSETTE).read_text(encoding="utf-8"))
    return len(data["interactions"])


def _leftovers(pytester: pytest.Pytester) -> list[str]:
    return sorted(p.name for p in (pytester.path / CASSETTE).parent.iterdir() if p.name != CASSETTE.name)


def _replays(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """The cassette still answers every call of the test, offline."""
    before = len(fake_llm.requests)
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(fake_llm.requests) == before


# -- cassettes -------------------------------------------------------------------------


def test_a_rerecording_that_fails_part_way_keeps_the_old_cassette(
    recorded: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-recording with ``all``, the test fails after one call: the three recorded interactions stay."""
    before = (recorded.path / CASSETTE).read_bytes()
    monkeypatch.setenv("STOP_AFTER", "1")
    monkeypatch.setenv("ASKED", "changed")
    result = recorded.runpytest("--llm-cost-record-mode=all")
    result.assert_outcomes(failed=1)
    assert len(fake_llm.requests) == 4
    result.stdout.fnmatch_lines(
        ["cassette cassettes/test_agent/test_agent.yaml kept as it was: the test failed while recording"]
    )
    assert (recorded.path / CASSETTE).read_bytes() == before
    assert _interactions(recorded) == 3
    assert _leftovers(recorded) == []
    monkeypatch.delenv("STOP_AFTER")
    monkeypatch.delenv("ASKED")
    _replays(recorded, fake_llm)


def test_a_kept_cassette_is_reported_under_xdist(
    recorded: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker keeps the cassette; the controller, which prints the summary, says so."""
    before = (recorded.path / CASSETTE).read_bytes()
    monkeypatch.setenv("STOP_AFTER", "1")
    result = recorded.runpytest_subprocess("--llm-cost-record-mode=all", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["cassette cassettes/test_agent/test_agent.yaml kept as it was: the test failed while recording"]
    )
    assert (recorded.path / CASSETTE).read_bytes() == before


def test_a_passing_rerecording_still_replaces_the_cassette(
    recorded: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (recorded.path / CASSETTE).read_bytes()
    monkeypatch.setenv("ASKED", "changed")
    result = recorded.runpytest("--llm-cost-record-mode=all")
    result.assert_outcomes(passed=1)
    assert "kept as it was" not in result.stdout.str()
    text = (recorded.path / CASSETTE).read_text(encoding="utf-8")
    assert text != before.decode("utf-8")
    assert "changed 2" in text
    assert "step 0" not in text
    _replays(recorded, fake_llm)


def test_a_rerecording_interrupted_by_ctrl_c_keeps_the_old_cassette(
    recorded: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KeyboardInterrupt raised inside the test: pytest tears the fixture down at the end of the session."""
    before = (recorded.path / CASSETTE).read_bytes()
    monkeypatch.setenv("STOP_AFTER", "1")
    monkeypatch.setenv("HOW", "interrupt")
    monkeypatch.setenv("ASKED", "changed")
    result = recorded.runpytest("--llm-cost-record-mode=all", no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["cassette cassettes/test_agent/test_agent.yaml kept as it was: the test was interrupted while recording"]
    )
    assert (recorded.path / CASSETTE).read_bytes() == before
    assert _leftovers(recorded) == []
    monkeypatch.delenv("STOP_AFTER")
    monkeypatch.delenv("ASKED")
    _replays(recorded, fake_llm)


def test_a_rerecording_stopped_by_sigint_keeps_the_old_cassette(
    recorded: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT to a pytest process, as Ctrl-C sends it, in the middle of the test."""
    before = (recorded.path / CASSETTE).read_bytes()
    monkeypatch.setenv("STOP_AFTER", "2")
    monkeypatch.setenv("HOW", "sigint")
    monkeypatch.setenv("ASKED", "changed")
    if sys.platform == "win32":
        pytest.skip("SIGINT is how Ctrl-C stops a process on POSIX")
    result = recorded.runpytest_subprocess("--llm-cost-record-mode=all", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert len(fake_llm.requests) == 5
    result.stdout.fnmatch_lines(["cassette *test_agent.yaml kept as it was: the test was interrupted while recording"])
    assert (recorded.path / CASSETTE).read_bytes() == before
    assert _leftovers(recorded) == []
    monkeypatch.delenv("STOP_AFTER")
    monkeypatch.delenv("ASKED")
    _replays(recorded, fake_llm)


DISK_FULL = """
import errno
import os

import pytest


@pytest.fixture(autouse=True)
def disk_full(monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
"""


def test_a_failed_cassette_write_keeps_the_old_cassette_and_says_so(
    recorded: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up while the re-recorded cassette is written: the old one is intact, the test errors."""
    before = (recorded.path / CASSETTE).read_bytes()
    recorded.makeconftest(DISK_FULL)
    monkeypatch.setenv("ASKED", "changed")
    result = recorded.runpytest("--llm-cost-record-mode=all")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_agent*",
            "*cassette *test_agent.yaml could not be written (No space left on device); "
            "it is kept as it was: free some space, or fix the file's folder, and record again",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert (recorded.path / CASSETTE).read_bytes() == before
    assert _leftovers(recorded) == []
    (recorded.path / "conftest.py").unlink()
    monkeypatch.delenv("ASKED")
    _replays(recorded, fake_llm)


def test_a_failed_test_only_ever_adds_to_its_cassette(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``once`` on a new cassette: a test failing after two calls keeps them, so a re-run replays what
    was paid for; under ``new_episodes`` a failing test appends its new call, changing nothing recorded."""
    import yaml

    pytester.makepyfile(test_agent=AGENT)
    monkeypatch.setenv("STOP_AFTER", "2")
    result = pytester.runpytest("--llm-cost-record-mode=once")
    result.assert_outcomes(failed=1)
    assert "kept as it was" not in result.stdout.str()
    assert _interactions(pytester) == 2
    before = yaml.safe_load((pytester.path / CASSETTE).read_text(encoding="utf-8"))["interactions"]

    monkeypatch.delenv("STOP_AFTER")
    monkeypatch.setenv("FAIL_AT_END", "1")
    pytester.runpytest("--llm-cost-record-mode=new_episodes").assert_outcomes(failed=1)
    after = yaml.safe_load((pytester.path / CASSETTE).read_text(encoding="utf-8"))["interactions"]
    assert len(after) == 3
    assert after[:2] == before
    assert len(fake_llm.requests) == 3
    assert _leftovers(pytester) == []


def test_an_unreadable_cassette_is_never_recorded_over(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """vcrpy treats a cassette it cannot decode as empty and records over it; the plugin stops instead."""
    pytester.makepyfile(test_agent=AGENT)
    path = pytester.path / CASSETTE
    path.parent.mkdir(parents=True)
    for content, problem in [
        (b"\xff\xfe\x00binary", "is not UTF-8 text"),
        (b"interactions: [\n", "is not a cassette vcrpy can read"),
    ]:
        path.write_bytes(content)
        result = pytester.runpytest("--llm-cost-record-mode=once")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            [f"*cassette *test_agent.yaml {problem}*: restore it from version control, or delete it and record again"]
        )
        assert path.read_bytes() == content
        assert fake_llm.requests == []


# -- the baseline: concurrent updates ---------------------------------------------------------

GATED = """
import os
import time

import openai

URL = os.environ["FAKE_LLM_URL"]


def chat(text):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])


def test_one(llm_cost):
    chat("one")
    time.sleep(float(os.environ.get("SLOW", "0")))


def test_two(llm_cost):
    chat("two two")
    time.sleep(float(os.environ.get("SLOW", "0")))
"""


def _baseline(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / "llm-cost-baseline.json").read_text(encoding="utf-8"))
    return data


def test_two_concurrent_updates_lose_nothing(pytester: pytest.Pytester, fake_llm: Any) -> None:
    """Two ``--llm-cost-update`` runs at once, one test each: both entries end up in the baseline.

    Each run reads the baseline when it starts and writes it when it ends; the tests take a
    second, so each run starts before the other ends.
    """
    pytester.makepyfile(test_gated=GATED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    env = {**os.environ, "SLOW": "1"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "--llm-cost", "--llm-cost-update", "-p", "no:cacheprovider", nodeid],
            cwd=pytester.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for nodeid in ("test_gated.py::test_one", "test_gated.py::test_two")
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for output in outputs:
        assert "baseline llm-cost-baseline.json: 1 added, 0 changed, 0 removed" in output, output
    assert sorted(_baseline(pytester)["tests"]) == ["test_gated.py::test_one", "test_gated.py::test_two"]
    assert not (pytester.path / "llm-cost-baseline.json.lock").exists()


def _results(nodeid: str, usd: str = "0.001", *, collected: list[str] | None = None) -> dict[str, Any]:
    record = {
        "seq": 0,
        "step": None,
        "provider": "openai",
        "model": "gpt-4o",
        "api": "openai.chat",
        "tokens": {"input": 100, "output": 10},
        "usd": usd,
    }
    data: dict[str, Any] = {"format": 2, "tests": {nodeid: {"records": [record], "outcome": "passed"}}}
    if collected is not None:
        data["collection"] = {"complete": True, "tests": collected}
    return data


def test_concurrent_update_baseline_commands_lose_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ``llm-cost update-baseline`` at once, both reading the baseline before either writes it."""
    import pytest_llmcost.gate.baseline as baseline_module

    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text(json.dumps(_results(f"t.py::test_{name}")), encoding="utf-8")
    both_read = threading.Barrier(2, timeout=10)
    original = baseline_module.update

    def update(*args: Any, **kwargs: Any) -> Any:
        both_read.wait()  # each has read the baseline: without a lock the later write drops the other's entry
        return original(*args, **kwargs)

    monkeypatch.setattr(baseline_module, "update", update)
    codes: dict[str, int] = {}
    outs: dict[str, io.StringIO] = {}

    def run(name: str) -> None:
        outs[name] = io.StringIO()
        codes[name] = main(["update-baseline", "--results", f"{name}.json"], out=outs[name], err=outs[name])

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert codes == {"a": 0, "b": 0}, {name: out.getvalue() for name, out in outs.items()}
    data = json.loads((tmp_path / "llm-cost-baseline.json").read_text(encoding="utf-8"))
    assert sorted(data["tests"]) == ["t.py::test_a", "t.py::test_b"]
    assert not (tmp_path / "llm-cost-baseline.json.lock").exists()


# -- reading: every input is validated ---------------------------------------------------------------

GOOD_LINE = {"calls": 1, "tokens": {"input": 10, "output": 2}, "usd": "0.0001"}


def _entry(**line: Any) -> dict[str, Any]:
    return {"calls": 1, "models": {"openai": {"gpt-4o": {**GOOD_LINE, **line}}}, "usd": "0.0001"}


BAD_BASELINES = [
    pytest.param(b"\xff\xfe{}", "the baseline file is not UTF-8 text (byte 0xff at offset 0)", id="binary"),
    pytest.param(
        json.dumps({"format": 2, "tests": {"t.py::t": {**_entry(), "usd": "NaN"}}}).encode(),
        "t.py::t: a dollar amount must be a finite number >= 0, got 'NaN'",
        id="entry-usd-nan-string",
    ),
    pytest.param(
        b'{"format": 2, "tests": {"t.py::t": {"calls": 1, "usd": NaN}}}',
        "tests.t.py::t.usd: NaN is not a number",
        id="nan-literal",
    ),
    pytest.param(
        b'{"format": 2, "tests": {"t.py::t": {"calls": 1, "usd": 1e999}}}',
        "tests.t.py::t.usd: 1e999 is not a number",
        id="overflowing-number",
    ),
    pytest.param(
        json.dumps({"format": 2, "tests": {"t.py::t": _entry(usd="-Infinity")}}).encode(),
        "t.py::t.models.openai.gpt-4o: a dollar amount must be a finite number >= 0, got '-Infinity'",
        id="line-usd-infinity",
    ),
    pytest.param(
        json.dumps({"format": 2, "tests": {"t.py::t": _entry(tokens=5)}}).encode(),
        "t.py::t.models.openai.gpt-4o: 'tokens' must map token kinds to counts, got 5",
        id="tokens-not-an-object",
    ),
    pytest.param(
        json.dumps({"format": 2, "tests": {"t.py::t": _entry(tokens={"input": -3})}}).encode(),
        "t.py::t.models.openai.gpt-4o: token count 'input' must be a whole number >= 0, got -3",
        id="negative-tokens",
    ),
    pytest.param(
        json.dumps(
            {"format": 2, "tests": {"t.py::t": _entry(calls=2, per_call=[[1, 0, 0, 1, 0], [1, 0, 0, "x", 0]])}}
        ).encode(),
        "t.py::t.models.openai.gpt-4o: token count 'output' must be a whole number >= 0, got 'x'",
        id="per-call",
    ),
    pytest.param(
        json.dumps(
            {"format": 2, "tests": {"t.py::t": {**_entry(), "steps": {"plan": {**_entry(), "usd": "-1"}}}}}
        ).encode(),
        "t.py::t.steps.plan: a dollar amount must be a finite number >= 0, got '-1'",
        id="step-usd",
    ),
    pytest.param(
        json.dumps({"format": 2, "token_kinds": ["input", "dollars"], "tests": {}}).encode(),
        "token_kinds: unknown token kind 'dollars'",
        id="token-kinds",
    ),
    pytest.param(b'{"format": true, "tests": {}}', "baseline format True is not supported", id="format-bool"),
]


@pytest.mark.parametrize(("content", "message"), BAD_BASELINES)
def test_a_broken_baseline_is_a_usage_error_and_left_untouched(
    pytester: pytest.Pytester, content: bytes, message: str
) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    path = pytester.path / "llm-cost-baseline.json"
    path.write_bytes(content)
    result = pytester.runpytest("--llm-cost", "--llm-cost-update")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    pattern = message.replace("[", "[[]")
    result.stderr.fnmatch_lines([f"ERROR: *llm-cost-baseline.json: {pattern}*"])
    assert path.read_bytes() == content

    # The CLI says the same, with exit status 2, and writes nothing either.
    (pytester.path / "results.json").write_text(json.dumps(_results("t.py::t")), encoding="utf-8")
    err = io.StringIO()
    code = main(
        ["update-baseline", "--results", str(pytester.path / "results.json"), "--baseline", str(path)],
        out=io.StringIO(),
        err=err,
    )
    assert code == 2
    assert pattern.replace("[[]", "[").replace("*", "") in err.getvalue().replace("\n", " ")
    assert err.getvalue().count("\n") == 1
    assert path.read_bytes() == content


def _with_record(**changes: Any) -> bytes:
    data = _results("t.py::t")
    data["tests"]["t.py::t"]["records"][0].update(changes)
    return json.dumps(data).encode()


BAD_RESULTS = [
    pytest.param(b"\xff\xfe{}", "the results file is not UTF-8 text", id="binary"),
    pytest.param(
        _with_record(usd="NaN"),
        "entry for 't.py::t' is malformed: records[0].usd: a dollar amount must be a finite number >= 0, got 'NaN'",
        id="nan",
    ),
    pytest.param(_with_record(usd="Infinity"), "records[0].usd: a dollar amount must be a finite number", id="inf"),
    pytest.param(_with_record(usd="-0.5"), "records[0].usd: a dollar amount must be a finite number >= 0", id="neg"),
    pytest.param(
        json.dumps(_results("t.py::t")).replace('"0.001"', "NaN").encode(),
        "tests.t.py::t.records[0].usd: NaN is not a number",
        id="nan-literal",
    ),
    pytest.param(_with_record(tokens=[1, 2]), "records[0].tokens: must map token kinds to counts", id="tokens-list"),
    pytest.param(_with_record(tokens={"input": 1.5}), "token count 'input' must be a whole number >= 0", id="tokens"),
    pytest.param(_with_record(seq="x"), "records[0].seq: must be a whole number >= 0, got 'x'", id="seq"),
    pytest.param(_with_record(step=["a"]), "records[0].step: must be text or null, got ['a']", id="step"),
    pytest.param(_with_record(requests=-1), "records[0].requests: must be a whole number >= 0", id="requests"),
    pytest.param(
        json.dumps({"format": 2, "tests": {"t.py::t": {"records": "abc"}}}).encode(),
        "entry for 't.py::t' is malformed: records: must be a list of calls",
        id="records",
    ),
    pytest.param(
        json.dumps({"format": 2, "tests": {}, "collection": {"complete": True, "tests": "abc"}}).encode(),
        "collection.tests: must be a list of test ids",
        id="collection",
    ),
    pytest.param(
        json.dumps({"format": 2, "tests": {}, "unattributed": {"a": 1}}).encode(),
        "unattributed: must be a list of calls by the test that started them",
        id="unattributed",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_RESULTS)
def test_a_broken_results_file_is_exit_status_2_naming_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results.json"
    results.write_bytes(content)
    baseline = tmp_path / "llm-cost-baseline.json"
    baseline.write_text('{"format": 2, "tests": {}}\n', encoding="utf-8")
    for command in (["update-baseline", "--results", "results.json"], ["report", "results.json"]):
        err = io.StringIO()
        assert main(command, out=io.StringIO(), err=err) == 2, err.getvalue()
        text = err.getvalue()
        assert text.startswith(f"llm-cost {command[0]}: results.json: "), text
        assert message in text, text
        assert text.count("\n") == 1
    assert results.read_bytes() == content
    assert baseline.read_text(encoding="utf-8") == '{"format": 2, "tests": {}}\n'


def test_update_baseline_never_copies_a_non_finite_amount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".llm-cost").mkdir()
    (tmp_path / ".llm-cost" / "results.json").write_bytes(_with_record(usd="NaN"))
    err = io.StringIO()
    assert main(["update-baseline"], out=io.StringIO(), err=err) == 2
    assert "records[0].usd: a dollar amount must be a finite number >= 0, got 'NaN'" in err.getvalue()
    assert not (tmp_path / "llm-cost-baseline.json").exists()


# -- pruning -------------------------------------------------------------------------------------


def test_update_baseline_refuses_to_prune_from_a_run_that_collected_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    baseline = tmp_path / "llm-cost-baseline.json"
    assert main(["update-baseline", "--results", "full.json"], out=io.StringIO(), err=io.StringIO()) == 2
    (tmp_path / "full.json").write_text(json.dumps(_results("t.py::a", collected=["t.py::a"])), encoding="utf-8")
    assert main(["update-baseline", "--results", "full.json"], out=io.StringIO()) == 0
    before = baseline.read_bytes()
    empty = {"format": 2, "tests": {}, "collection": {"complete": True, "tests": []}}
    (tmp_path / "empty.json").write_text(json.dumps(empty), encoding="utf-8")
    err = io.StringIO()
    assert main(["update-baseline", "--results", "empty.json", "--prune"], out=io.StringIO(), err=err) == 2
    assert err.getvalue() == (
        "llm-cost update-baseline: --prune needs results from a run that collected the suite, and empty.json "
        "lists no collected test; run `pytest --llm-cost` on the whole suite first\n"
    )
    assert baseline.read_bytes() == before


def test_prune_in_a_run_that_collected_nothing_keeps_every_entry(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_gated=GATED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    pytester.runpytest("--llm-cost", "--llm-cost-update").assert_outcomes(passed=2)
    before = (pytester.path / "llm-cost-baseline.json").read_bytes()
    (pytester.path / "test_gated.py").rename(pytester.path / "gated.py")  # collects nothing now
    result = pytester.runpytest("--llm-cost", "--llm-cost-update", "--llm-cost-prune")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(
        [
            "baseline llm-cost-baseline.json: 0 added, 0 changed, 0 removed (unchanged); "
            "not pruned: this run collected no test"
        ]
    )
    assert (pytester.path / "llm-cost-baseline.json").read_bytes() == before


# -- read-only files -----------------------------------------------------------------------------


def test_a_read_only_baseline_is_never_replaced(pytester: pytest.Pytester, fake_llm: Any) -> None:
    pytester.makepyfile(test_gated=GATED)
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=2)
    path = pytester.path / "llm-cost-baseline.json"
    path.write_text('{"format": 2, "tests": {}}\n', encoding="utf-8")
    path.chmod(0o444)
    try:
        result = pytester.runpytest("--llm-cost", "--llm-cost-update")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "ERROR: *llm-cost-baseline.json is read-only, so --llm-cost-update cannot write it; "
                "make it writable (chmod u+w), or leave out --llm-cost-update"
            ]
        )
        assert len(fake_llm.requests) == 2, "no test may run"
        assert path.read_text(encoding="utf-8") == '{"format": 2, "tests": {}}\n'

        # Without --llm-cost-update it is only read.
        pytester.runpytest("--llm-cost").assert_outcomes(passed=2)

        # The CLI refuses too, and leaves it as it was.
        err = io.StringIO()
        code = main(
            [
                "update-baseline",
                "--results",
                str(pytester.path / ".llm-cost" / "results.json"),
                "--baseline",
                str(path),
            ],
            out=io.StringIO(),
            err=err,
        )
        assert code == 2
        assert err.getvalue() == (
            f"llm-cost update-baseline: {path} is read-only, so it was left as it was; "
            "make it writable (chmod u+w) and run again\n"
        )
        assert path.read_text(encoding="utf-8") == '{"format": 2, "tests": {}}\n'
        assert sorted(p.name for p in pytester.path.iterdir() if "baseline" in p.name) == ["llm-cost-baseline.json"]
    finally:
        path.chmod(0o644)


FULL_AT_THE_END = """
import errno
import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    os.fsync = fsync
"""


def test_a_write_failing_at_the_end_of_the_run_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up as the run writes its results: one line naming the file; the old file stays whole."""
    import os as os_module

    monkeypatch.setattr(os_module, "fsync", os_module.fsync)  # the inner conftest replaces it; restore it after
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    path = pytester.path / ".llm-cost" / "results.json"
    path.parent.mkdir()
    path.write_text("{}\n", encoding="utf-8")
    pytester.makeconftest(FULL_AT_THE_END)
    result = pytester.runpytest("--llm-cost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: *results.json could not be written (No space left on device); it is kept as it was: *"]
    )
    assert path.read_text(encoding="utf-8") == "{}\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]


def test_a_read_only_results_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    path = pytester.path / ".llm-cost" / "results.json"
    path.parent.mkdir()
    path.write_text("{}\n", encoding="utf-8")
    path.chmod(0o444)
    try:
        result = pytester.runpytest("--llm-cost")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "ERROR: *results.json is read-only, so the run cannot write it; "
                "make it writable (chmod u+w), or write the results elsewhere with --llm-cost-results"
            ]
        )
        assert path.read_text(encoding="utf-8") == "{}\n"
    finally:
        path.chmod(0o644)
