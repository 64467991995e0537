"""Time and size of the HTML cost report for a large suite, next to pytest-html's report of as many tests.

    python benchmarks/report_scale.py [--tests 10000] [--steps 5] [--repeat 3] [--limits 500,1000,2000,all]
                                      [--skip-pytest-html] [--keep DIR] [--profile]

1. Generates the results of ``--tests`` tests of ``--steps`` named steps each, every step making one
   or two calls over a mix of models (priced by a fixed local price list, written next to it), and
   a baseline for 95% of those tests (most unchanged, some cheaper, some dearer).
2. Judges the results against that baseline, as a ``--llm-cost`` run does (every test's verdict
   carries its comparison). In process: times ``build_report``, ``render_html`` and
   ``summary_markdown`` (best of ``--repeat`` after a warm-up) for each ``detail_limit`` of
   ``--limits`` (how many of the most expensive tests list their steps and calls), and reports the
   HTML file's size. ``--profile`` prints a cProfile listing of each of the three at the default limit.
3. As processes, timed by wall clock (median of 3 runs), three ways:

   A. ``pytest -q -p no:cacheprovider`` on a file of ``--tests`` trivial parametrised tests;
   B. the same with ``--html=... --self-contained-html`` (pytest-html): its report costs B - A;
   C. ``llm-cost report results.json -o ... --markdown ...``: the whole report of the judged
      results, from a cold interpreter (import, read, build, render, write), as CI makes it;

   and sets pytest-html's cost (B - A) beside C, beside D (step 2's build and render at the
   default ``detail_limit``) and beside ``render_html`` alone.

Run from the repository root with the project's virtualenv active.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_llmcost.gate.baseline import Baseline, entry_of  # noqa: E402
from pytest_llmcost.gate.judge import RunVerdict  # noqa: E402
from pytest_llmcost.gate.rejudge import judge_results  # noqa: E402
from pytest_llmcost.pricing import LocalModelPrice, LocalPrices, RateCard  # noqa: E402
from pytest_llmcost.report.html import render_html  # noqa: E402
from pytest_llmcost.report.markdown import summary_markdown  # noqa: E402
from pytest_llmcost.report.model import DETAIL_LIMIT, Report, build_report  # noqa: E402
from pytest_llmcost.results import Results  # noqa: E402
from pytest_llmcost.usage import Call, TestCost, Tokens  # noqa: E402

#: USD per million tokens: (input, cached input, output). Written as the run's local price file.
PRICES = {
    "gpt-4o": ("2.50", "1.25", "10"),
    "gpt-4o-mini": ("0.15", "0.075", "0.60"),
    "o4-mini": ("1.10", "0.275", "4.40"),
    "claude-sonnet-4-5": ("3", "0.30", "15"),
    "gemini-2.5-flash": ("0.30", "0.075", "2.50"),
}
STEPS = ("classify", "retrieve", "plan", "draft", "review", "summarize", "extract", "answer")
STEP_MODELS = {
    "classify": ("gpt-4o-mini", "gemini-2.5-flash"),
    "retrieve": ("gpt-4o-mini",),
    "plan": ("o4-mini",),
    "draft": ("claude-sonnet-4-5", "gpt-4o"),
    "review": ("gpt-4o",),
    "summarize": ("gpt-4o", "claude-sonnet-4-5"),
    "extract": ("gpt-4o-mini",),
    "answer": ("o4-mini", "gpt-4o"),
}
TRIVIAL = """import pytest


@pytest.mark.parametrize("i", range({tests}))
def test_trivial(i):
    assert i >= 0
"""
PROVIDERS = {"gpt": "openai", "o4-": "openai", "cla": "anthropic", "gem": "google"}


def local_prices() -> LocalPrices:
    return LocalPrices(
        models=tuple(
            LocalModelPrice(model, Decimal(i), Decimal(o), cached_input=Decimal(c))
            for model, (i, c, o) in PRICES.items()
        )
    )


def prices_yaml() -> str:
    lines = ["version: 1", "models:"]
    for model, (i, c, o) in PRICES.items():
        lines += [f"  {model}:", f"    input: {i}", f"    cached_input: {c}", f"    output: {o}"]
    return "\n".join(lines) + "\n"


def generate(tests: int, steps: int, card: RateCard, seed: int = 7) -> tuple[Results, Baseline]:
    """``tests`` tests of ``steps`` steps, 1-2 calls each; a baseline for 95% of them."""
    rng = random.Random(seed)
    now: dict[str, TestCost] = {}
    base: dict[str, TestCost] = {}
    for i in range(tests):
        nodeid = f"tests/test_{STEPS[i % len(STEPS)]}_{i % 40:02d}.py::test_case_{i:05d}[{('fast', 'full')[i % 2]}]"
        scale = rng.lognormvariate(0, 0.8) * (8 if i % 97 == 0 else 1)  # a heavy tail, and outliers
        names = rng.sample(STEPS, steps)
        records: list[Call] = []
        before: list[Call] = []
        for name in names:
            for _ in range(rng.choice((1, 1, 2))):
                model = rng.choice(STEP_MODELS[name])
                provider = PROVIDERS[model[:3]]
                tokens_in = int(rng.randint(300, 6000) * scale)
                cached = tokens_in // 2 if rng.random() < 0.3 else 0
                out = int(rng.randint(20, 900) * scale)
                reasoning = out // 2 if model == "o4-mini" else 0
                tokens = Tokens(input=tokens_in, cached_input=cached, output=out, reasoning=reasoning)
                usd = card.price(provider, model, tokens).usd or Decimal(0)
                seq = len(records)
                cassette = f"tests/cassettes/{nodeid.split('::')[0][6:-3]}/test_case_{i:05d}.yaml"
                call = Call(seq, name, provider, model, tokens, usd, cassette=cassette, interaction=seq)
                records.append(call)
                drift = rng.choice((1.0, 1.0, 1.0, 0.8, 1.25))  # the baseline: mostly the same usage
                old = Tokens(input=int(tokens_in * drift), cached_input=cached, output=int(out * drift))
                old_usd = card.price(provider, model, old).usd or Decimal(0)
                before.append(Call(seq, name, provider, model, old, old_usd))
        now[nodeid] = TestCost.from_calls(nodeid, records)
        if i % 20:
            base[nodeid] = TestCost.from_calls(nodeid, before)
    results = Results(tests=now, rate_card=card.describe(), runs_per_day={next(iter(now)): 2000})
    return results, Baseline(path=None, entries={k: entry_of(v) for k, v in base.items()}, exists=True)


def judge(results: Results, baseline: Baseline, card: RateCard) -> tuple[Results, RunVerdict]:
    """The results as a ``--llm-cost`` run writes them: every test judged, the run verdict kept."""
    judged, run = judge_results(results, baseline, card, label="llm-cost-baseline.json")
    return dataclasses.replace(judged, run=run.to_json()), run


def profile(name: str, func: Callable[[], object], lines: int = 25) -> None:
    """A cProfile listing of one call of ``func`` (after the warm-up the timings made)."""
    profiler = cProfile.Profile()
    profiler.runcall(func)
    print(f"\n--- cProfile: {name} (top {lines} by cumulative time) ---")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(lines)


def best(repeat: int, func: Callable[[], object]) -> tuple[float, object]:
    func()  # warm-up: imports, template compilation
    times = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def wall(argv: Sequence[str], cwd: Path, runs: int = 1) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limits", default="500,1000,2000,all", help="detail_limit values; 'all' lists every test")
    parser.add_argument("--skip-pytest-html", action="store_true", help="only time the in-process render")
    parser.add_argument("--keep", type=Path, help="write the generated files here instead of a temporary folder")
    parser.add_argument("--profile", action="store_true", help="print cProfile listings at the default limit")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="llmcost-report-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    card = RateCard(local=local_prices())
    start = time.perf_counter()
    results, baseline = generate(args.tests, args.steps, card)
    results, run = judge(results, baseline, card)
    calls = results.calls
    print(f"generated {args.tests:,} tests x {args.steps} steps, {calls:,} calls in {time.perf_counter() - start:.1f}s")

    print(f"\nin process, best of {args.repeat} (seconds)")
    print(
        f"{'detail_limit':>14} {'build_report':>13} {'render_html':>12} {'markdown':>9} {'total':>7} {'MB':>6}"
        f" {'spend listed':>13}"
    )
    measured: dict[int, tuple[float, float, float, float]] = {}
    limits = args.limits.split(",")
    if str(DETAIL_LIMIT) not in limits:
        limits.append(str(DETAIL_LIMIT))
    for text in limits:
        limit = args.tests if text == "all" else int(text)

        def build(limit: int = limit) -> Report:
            return build_report(results, run, detail_limit=limit)

        built, report = best(args.repeat, build)
        assert isinstance(report, Report)
        rendered, html = best(args.repeat, functools.partial(render_html, report))
        assert isinstance(html, str)
        summed, _ = best(args.repeat, functools.partial(summary_markdown, report))
        path = work / f"report-{text}.html"
        path.write_text(html, encoding="utf-8")
        covered = sum((row.now_usd for row in report.tests if row.details), Decimal(0)) / report.now_usd
        measured[limit] = (built, rendered, summed, mb(path))
        label = f"{text} (default)" if limit == DETAIL_LIMIT else text
        total = built + rendered + summed
        print(
            f"{label:>14} {built:>13.3f} {rendered:>12.3f} {summed:>9.3f} {total:>7.3f} {mb(path):>6.1f}"
            f" {covered:>13.0%}"
        )
        if args.profile and limit == DETAIL_LIMIT:
            profile("build_report", build)
            profile("render_html", functools.partial(render_html, report))
            profile("summary_markdown", functools.partial(summary_markdown, report))

    if args.skip_pytest_html:
        return 0
    results.write(work / "results.json")
    (work / "test_trivial.py").write_text(TRIVIAL.format(tests=args.tests), encoding="utf-8")
    (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:llm_cost", "test_trivial.py"]
    cli = [sys.executable, "-m", "pytest_llmcost", "report", "results.json", "-o", "llm-cost.html"]
    cli += ["--markdown", "summary.md"]
    plain = wall(pytest, work, runs=3)
    with_html = wall([*pytest, "--html=pytest-html.html", "--self-contained-html"], work, runs=3)
    ours = wall(cli, work, runs=3)
    theirs_mb = mb(work / "pytest-html.html")
    ours_mb = mb(work / "llm-cost.html")
    report_cost = with_html - plain
    print(f"\nas processes, wall clock (seconds); {args.tests:,} tests")
    print(f"{'':<58} {'seconds':>8} {'MB':>6}")
    print(f"{'A  pytest, trivial tests':<58} {plain:>8.2f} {'':>6}")
    print(f"{'B  pytest --html --self-contained-html (pytest-html)':<58} {with_html:>8.2f} {theirs_mb:>6.1f}")
    print(f"{'   pytest-html report (B - A)':<58} {report_cost:>8.2f} {theirs_mb:>6.1f}")
    print(f"{'C  llm-cost report (cold process, default limit)':<58} {ours:>8.2f} {ours_mb:>6.1f}")
    built, rendered, summed, size = measured[DETAIL_LIMIT]
    print(
        f"{'D  build_report + render_html + markdown (in process)':<58} {built + rendered + summed:>8.2f} {size:>6.1f}"
    )
    print(f"{'   render_html alone':<58} {rendered:>8.2f} {size:>6.1f}")
    print("\nagainst pytest-html's report (B - A), same number of tests:")
    for name, seconds in (("C", ours), ("D", built + rendered + summed), ("render_html", rendered)):
        print(f"  {name:<12} time {seconds / report_cost:.2f}x")
    print(f"  {'size':<12} {ours_mb / theirs_mb:.2f}x")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"files kept in {work}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
