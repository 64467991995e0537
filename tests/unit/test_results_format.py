"""The results file, format 3: a third of format 2's size, read lazily, and read back exactly.

A line leaves out default values and what the reader derives from the rest of it (a verdict's
``now`` side, the causes' and regressions' words); what is read back is the object written.
Formats 1 and 2 are still read; a malformed line anywhere is rejected, naming the file and test.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmcost import results as results_module
from pytest_llmcost.cli import main
from pytest_llmcost.files import FileFormatError
from pytest_llmcost.gate.baseline import Book, book_of, entry_of
from pytest_llmcost.gate.compare import diff_entries
from pytest_llmcost.gate.explain import Profile, cause_text, explain
from pytest_llmcost.gate.judge import Rules, Verdict, judge
from pytest_llmcost.pricing import RateCard
from pytest_llmcost.results import Results, entries, load_results, merge_results, same_calls, unchanged_prices
from pytest_llmcost.usage import Call, Dims, TestCost, Tokens

CARD = RateCard()
MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"))


def _call(rng: random.Random, seq: int, step: str | None, scale: float = 1.0, **extra: Any) -> Call:
    provider, model = rng.choice(MODELS)
    input_ = int(rng.randint(100, 5000) * scale)
    tokens = Tokens(input=input_, cached_input=input_ // 2 if rng.random() < 0.3 else 0, output=rng.randint(5, 500))
    usd = CARD.price(provider, model, tokens).usd
    assert usd is not None
    return Call(
        seq, step, provider, model, tokens, usd, cassette=f"cassettes/t{seq // 100}.yaml", interaction=seq, **extra
    )


def _cost(nodeid: str, rng: random.Random, scale: float = 1.0) -> TestCost:
    calls = [_call(rng, seq, rng.choice(("plan", "draft", "review", None)), scale) for seq in range(rng.randint(1, 6))]
    return TestCost.from_calls(nodeid, calls)


def _judged(count: int, seed: int = 3) -> Results:
    """``count`` tests judged against a baseline that differs for about half of them."""
    rng = random.Random(seed)
    tests, verdicts = {}, {}
    rules = Rules()
    for number in range(count):
        nodeid = f"tests/test_{number % 7}.py::test_{number:04d}"
        cost = _cost(nodeid, rng)
        before = replace(cost, records=cost.records) if number % 2 else _cost(nodeid, random.Random(number), 0.8)
        entry = entry_of(TestCost.from_calls(nodeid, before.records)) if number % 10 else None
        tests[nodeid] = cost
        verdicts[nodeid] = judge(nodeid, cost, entry=entry, budget=None, rules=rules, card=CARD)
    outcomes = dict.fromkeys(tests, "passed")
    return Results(tests=tests, verdicts=verdicts, rules=rules, rate_card=CARD.describe(), outcomes=outcomes)


def _odd_calls() -> TestCost:
    """Calls with every field away from its default, and cassettes and interactions that do not line up."""
    tokens = Tokens(input=900, cached_input=100, cache_write=50, output=40, reasoning=10)
    calls = [
        Call(0, "plan", "openai", "gpt-4o", tokens, Decimal("0.0021"), api="openai.chat", cassette="a.yaml"),
        Call(0, "plan", "anthropic", "claude-haiku", Tokens(), Decimal("0.0001"), part="advisor", interaction=3),
        Call(1, None, "openai", None, Tokens(input=5), Decimal(0), unpriced=True, note="no reader", billed=False),
        Call(2, "a/b", "request", "search", Tokens(), Decimal("0.01"), requests=2, interaction=None, cassette="b.yaml"),
        Call(
            3,
            "a",
            "google",
            "gemini-2.5-pro",
            Tokens(input=10, output=3),
            Decimal("1E-7"),
            estimated=True,
            dims=Dims.of(web_searches=2),
            service_tier="flex",
            segments=(("latest", 3), ("system", 7)),
        ),
    ]
    return TestCost.from_calls("t.py::odd", calls)


def test_every_field_of_a_call_reads_back_exactly(tmp_path: Path) -> None:
    """Defaults left out, cassettes and interactions that do not line up kept: the same calls come back."""
    odd = _odd_calls()
    same_cassette = TestCost.from_calls("t.py::one", [replace(c, cassette="x.yaml") for c in odd.records[:2]])
    results = Results(tests={odd.nodeid: odd, same_cassette.nodeid: same_cassette})
    path = tmp_path / "results.json"
    results.write(path)
    loaded = load_results(path)
    assert dict(loaded.tests) == dict(results.tests)
    assert [test.records for test in loaded.tests.values()] == [odd.records, same_cassette.records]
    line = json.loads(path.read_text())["tests"]["t.py::one"]
    assert line["cassette"] == "x.yaml"
    assert all("cassette" not in call for call in line["records"])


def test_a_plain_call_is_written_without_its_defaults(tmp_path: Path) -> None:
    tokens = Tokens(input=1200, output=80)
    call = Call(0, "plan", "openai", "gpt-4o", tokens, Decimal("0.0038"), cassette="c.yaml", interaction=0)
    path = tmp_path / "results.json"
    Results(tests={"t.py::a": TestCost.from_calls("t.py::a", [call])}).write(path)
    data = json.loads(path.read_text())
    assert data["format"] == 3
    line = data["tests"]["t.py::a"]
    assert line["records"] == [
        {"model": "gpt-4o", "provider": "openai", "step": "plan", "tokens": [1200, 0, 0, 80], "usd": "0.0038"}
    ]
    assert (line["calls"], line["usd"], line["cassette"]) == (1, "0.0038", "c.yaml")
    assert line["tokens"] == tokens.to_json()  # the test's totals: an object, as a listing reads them


def test_judged_results_read_back_exactly_and_are_a_third_of_format_2(tmp_path: Path) -> None:
    """Verdicts with comparisons, causes and regressions: the file leaves out their derived words,
    the reader says them again, and what comes back equals what was written."""
    results = _judged(200)
    assert {verdict.fails for verdict in results.verdicts.values()} == {True, False}
    path = tmp_path / "results.json"
    results.write(path)
    loaded = load_results(path)
    assert dict(loaded.verdicts) == dict(results.verdicts)
    assert loaded == results
    text = path.read_text()
    regressed = next(v for v in results.verdicts.values() if v.findings and v.comparison)
    assert regressed.findings[0][1] not in text  # said again from the comparison
    format_2 = _format_2(results)
    assert len(text) * 2.5 < len(json.dumps(format_2, separators=(",", ":"), sort_keys=True))


def _format_2(results: Results) -> dict[str, Any]:
    """The file as format 2 wrote it (every call and verdict in full, the status beside them)."""
    tests = {}
    for nodeid, test in results.tests.items():
        line = test.to_json() | {"outcome": results.outcomes.get(nodeid, "passed")}
        verdict = results.verdicts.get(nodeid)
        if verdict is not None:
            line |= {"status": verdict.status.value, "verdict": verdict.to_json()}
            if verdict.allowance is not None:
                line["allowed_delta"] = str(verdict.allowance)
        tests[nodeid] = line
    return {
        "format": 2,
        "gate": results.rules.to_json(),
        "rate_card": dict(results.rate_card),
        "run": {},
        "tests": tests,
    }


@pytest.mark.parametrize("version", [1, 2])
def test_older_formats_are_still_read(tmp_path: Path, version: int) -> None:
    """A base branch's file written by an older version: the same tests, calls and verdicts."""
    results = _judged(30)
    data = _format_2(results)
    data["format"] = version
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data, indent=2))
    loaded = load_results(path)
    assert dict(loaded.tests) == dict(results.tests)
    if version == 2:
        assert dict(loaded.verdicts) == dict(results.verdicts)


def test_loading_builds_no_call_until_a_test_s_calls_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Totals come from the file; a test's calls are built only when someone reads them."""
    results = _judged(50)
    path = tmp_path / "results.json"
    results.write(path)
    built: list[Any] = []
    for name in ("_check_record", "_plain_call"):  # every way a call of the file is built
        real = getattr(results_module, name)

        def counting(*args: Any, real: Any = real) -> Call:
            built.append(args)
            return real(*args)  # type: ignore[no-any-return]

        monkeypatch.setattr(results_module, name, counting)
    loaded = load_results(path)
    assert built == []
    assert (loaded.usd, loaded.tokens, loaded.calls) == (results.usd, results.tokens, results.calls)
    first = next(iter(loaded.tests.values()))
    assert first.records == results.tests[first.nodeid].records  # lazy calls equal eager calls
    assert len(built) == len(first.records)


@pytest.mark.parametrize(
    ("corrupt", "where"),
    [
        (lambda line: line["records"][-1].update(usd="0.0.1"), "records[{last}].usd"),
        (lambda line: line["records"][0].update(tokens=[5, -1]), "records[0].tokens"),
        (lambda line: line["records"][0].update(provider=7), "records[0].provider"),
        (lambda line: line.update(usd="NaN"), "usd"),
        (lambda line: line.update(calls=True), "calls"),
        (lambda line: line["verdict"]["comparison"]["total"].update(base_usd="-2"), "verdict.comparison.base_usd"),
    ],
)
def test_a_corrupt_line_deep_in_a_file_is_rejected_naming_the_test(tmp_path: Path, corrupt: Any, where: str) -> None:
    """Checked with the file, not when the line is first read: neither loaded nor merged."""
    results = _judged(300)
    path = tmp_path / "results.json"
    results.write(path)
    data = json.loads(path.read_text())
    nodeid = sorted(data["tests"])[250]
    line = data["tests"][nodeid]
    if "comparison" not in line.get("verdict", {}):
        nodeid = next(n for n in sorted(data["tests"])[250:] if "comparison" in data["tests"][n].get("verdict", {}))
        line = data["tests"][nodeid]
    if isinstance(line["verdict"]["comparison"]["total"], str):
        line["verdict"]["comparison"]["total"] = {"path": None}
    corrupt(line)
    where = where.format(last=len(line["records"]) - 1)
    path.write_text(json.dumps(data))
    _rejected(path, nodeid, where.split(".")[-1])


def test_an_unknown_status_is_rejected_with_the_file(tmp_path: Path) -> None:
    results = _judged(20)
    path = tmp_path / "results.json"
    results.write(path)
    data = json.loads(path.read_text())
    nodeid = sorted(data["tests"])[7]
    data["tests"][nodeid]["status"] = "exploded"
    path.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match=re.escape(f"entry for {nodeid!r} is malformed: status: must be one of")):
        load_results(path)


def _compared_line(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A judged test whose verdict compares it with a baseline, and has a finding."""
    for nodeid in sorted(data["tests"]):
        verdict = data["tests"][nodeid].get("verdict", {})
        if "comparison" in verdict and verdict.get("findings") and data["tests"][nodeid]["records"]:
            return nodeid, data["tests"][nodeid]
    raise AssertionError("no compared test with findings")


def _rejected(path: Path, nodeid: str, where: str) -> None:
    """Neither loaded nor merged: the error names the file, the test and ``where``."""
    expected = re.escape(f"{path}: entry for {nodeid!r} is malformed: ") + r".*" + re.escape(where)
    with pytest.raises(FileFormatError, match=expected):
        load_results(path)
    out = path.parent / "merged.json"
    with pytest.raises(FileFormatError, match=re.escape(nodeid)):
        merge_results([path], out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("corrupt", "where"),
    [
        (lambda line: line["verdict"].update(findings=[[]]), "verdict"),
        (lambda line: line["verdict"].update(findings=[["bogus", "text"]]), "bogus"),
        (lambda line: line["verdict"]["comparison"].update(total=5), "verdict"),
        (lambda line: line["verdict"]["comparison"].update(steps=["no such step"]), "no such step"),
        (lambda line: line["verdict"]["comparison"].update(total={"path": None, "causes": [["x"]]}), "verdict"),
        (lambda line: line["verdict"]["comparison"].update(total={"path": None, "base_tokens": "x"}), "verdict"),
        (lambda line: line.update(allowed_delta="lots"), "allowed_delta"),
        (lambda line: line.update(usd="99"), "usd"),
        (lambda line: line.update(calls=line["calls"] + 1), "calls"),
        (lambda line: line.update(tokens={**line["tokens"], "output": line["tokens"]["output"] + 1}), "tokens"),
        (lambda line: line.pop("records"), "usd"),
    ],
    ids=[
        "empty-finding",
        "finding-status",
        "total-not-a-delta",
        "unknown-step",
        "cause-without-amount",
        "base-tokens-text",
        "allowance",
        "usd-not-its-calls",
        "calls-not-its-calls",
        "tokens-not-its-calls",
        "calls-removed",
    ],
)
def test_a_verdict_or_total_that_cannot_be_read_is_rejected_with_the_file(
    tmp_path: Path, corrupt: Any, where: str
) -> None:
    """Verdicts are built when first read, but checked with the file: a corrupt one (or a total its
    calls do not add up to) stops load, merge, report and update-baseline, naming file and test,
    never a traceback and never half-accepted."""
    results = _judged(40)
    path = tmp_path / "results.json"
    results.write(path)
    data = json.loads(path.read_text())
    nodeid, line = _compared_line(data)
    corrupt(line)
    path.write_text(json.dumps(data))
    _rejected(path, nodeid, where)
    baseline = tmp_path / "baseline.json"
    for command in (
        ["report", str(path), "-o", str(tmp_path / "r.html")],
        ["update-baseline", "--results", str(path), "--baseline", str(baseline)],
    ):
        code, err = _cli(*command)
        assert code == 2, err
        assert err.startswith(f"llm-cost {command[0]}: {path}: entry for {nodeid!r} is malformed"), err
    assert not baseline.exists()


def _cli(*args: str) -> tuple[int, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, err.getvalue()


def test_merge_copies_current_lines_as_they_are_and_rewrites_older_ones(tmp_path: Path) -> None:
    results = _judged(40)
    names = sorted(results.tests)
    first, second = names[:25], names[25:]

    def shard(ids: list[str]) -> Results:
        return replace(
            results,
            tests={k: results.tests[k] for k in ids},
            verdicts={k: results.verdicts[k] for k in ids},
        )

    current, older = tmp_path / "a.json", tmp_path / "b.json"
    shard(first).write(current)
    older.write_text(json.dumps(_format_2(shard(second))))
    out = tmp_path / "merged.json"
    assert merge_results([current, older], out) == 40
    lines = out.read_text().splitlines()
    assert all(line in lines or line + "," in lines for line in _test_lines(current))
    whole = tmp_path / "whole.json"
    results.write(whole)
    merged = load_results(out)
    assert dict(merged.tests) == dict(results.tests)
    assert dict(merged.verdicts) == dict(results.verdicts)
    assert json.loads(out.read_text())["tests"] == json.loads(whole.read_text())["tests"]


def _test_lines(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    start = lines.index('"tests":{') + 1
    return [line.rstrip(",") for line in lines[start:] if line.startswith('"')]


def test_diff_prices_an_unchanged_test_once_with_the_same_rows(tmp_path: Path) -> None:
    """Comparing the calls first changes nothing in the rows: every test and step, each priced alike,
    a model the card no longer prices at the dollars it was written with."""
    before = _judged(60)
    first = sorted(before.tests)[1]
    retired = Call(9, "plan", "openai", "retired-model", Tokens(input=10), Decimal("0.5"))
    tests = {**before.tests, first: TestCost.from_calls(first, [*before.tests[first].records, retired])}
    before = replace(before, tests=tests, verdicts={})
    rng = random.Random(11)
    changed = {nodeid: _cost(nodeid, rng) for nodeid in sorted(before.tests)[::7]}
    after = replace(before, tests={**before.tests, **changed})
    base_path, head_path = tmp_path / "base.json", tmp_path / "head.json"
    before.write(base_path)
    after.write(head_path)
    base, head = load_results(base_path), load_results(head_path)
    same_ids = [n for n in base.tests if same_calls(base.tests[n], head.tests[n])]
    assert len(same_ids) == 60 - len(changed)
    assert first in same_ids

    def unchanged(nodeid: str) -> Any:
        return unchanged_prices(base.tests[nodeid], head.tests[nodeid], CARD)

    fast = diff_entries(entries(base), entries(head), CARD, unchanged=unchanged)
    slow = diff_entries(
        {n: entry_of(t) for n, t in before.tests.items()}, {n: entry_of(t) for n, t in after.tests.items()}, CARD
    )
    assert fast == slow
    assert next(row for row in fast if row.nodeid == first and row.step == "plan").base_usd is not None
    assert main(["diff", str(base_path), str(head_path), "--format", "json"], out=(buffer := _Buffer())) == 0
    assert len(json.loads(buffer.text)["tests"]) == len(slow)


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


_COUNTS = st.integers(min_value=0, max_value=20_000)


@settings(max_examples=200, deadline=None)
@given(
    base=st.lists(st.tuples(st.sampled_from(MODELS), _COUNTS, _COUNTS, _COUNTS, _COUNTS), min_size=1, max_size=4),
    now=st.lists(st.tuples(st.sampled_from(MODELS), _COUNTS, _COUNTS, _COUNTS, _COUNTS), min_size=1, max_size=4),
)
def test_cause_text_says_what_explain_says(
    base: list[tuple[tuple[str, str], int, int, int, int]], now: list[tuple[tuple[str, str], int, int, int, int]]
) -> None:
    """The words the results file leaves out are the words ``explain`` wrote, for any change."""

    def book(calls: list[tuple[tuple[str, str], int, int, int, int]]) -> Book:
        records = []
        for seq, ((provider, model), input_, cached, write, output) in enumerate(calls):
            cached, write = min(cached, input_), min(write, input_ - min(cached, input_))
            tokens = Tokens(input=input_, cached_input=cached, cache_write=write, output=output)
            records.append(
                Call(seq, None, provider, model, tokens, CARD.price(provider, model, tokens).usd or Decimal(0))
            )
        return book_of(TestCost.from_calls("t", records))

    old, new = book(base), book(now)
    for cause in explain(old, new, old.usd, new.usd, CARD):
        assert cause_text(cause.kind, Profile.of(old), Profile.of(new)) == cause.text


def test_a_verdict_reads_back_with_its_own_shape(tmp_path: Path) -> None:
    """A verdict the writer does not know the shape of (no comparison, a warning) is kept as it is."""
    cost = _odd_calls()
    verdict = Verdict(
        cost.nodeid,
        judge(cost.nodeid, cost, entry=None, budget=None, rules=Rules(unpriced="warn"), card=CARD).status,
        warnings=("w",),
    )
    results = Results(tests={cost.nodeid: cost}, verdicts={cost.nodeid: verdict}, outcomes={cost.nodeid: "passed"})
    path = tmp_path / "results.json"
    results.write(path)
    assert load_results(path) == results
