"""The results file at scale: its size, writing and reading it, and the CLI commands that read it.

    python benchmarks/results_scale.py [--tests 10000] [--steps 5] [--shards 8] [--runs 5]
                                       [--changed 0.05] [--dir PATH] [--reuse]
                                       [--before PKG_PARENT --before-dir PATH]

1. Generates the results of ``--tests`` tests (``report_scale.generate``: five steps of one or two
   calls each, 66,900 calls for 10,000 tests), judged by the gate against a baseline of 95% of them,
   so the file carries every verdict as a run writes it; a second run's results for ``diff``, in
   which a share ``--changed`` of the tests made other calls (1 changes every test); and
   ``--shards`` shards of the first for ``merge``.
2. In process, best of 3: writing the file, ``load_results``, and reading every verdict and call
   of it after loading (what a reader pays that needs them all).
3. As processes, ``--runs`` times each, interleaved: ``llm-cost report`` (HTML and Markdown from
   the run's own verdicts), ``llm-cost diff`` of the two results files, ``llm-cost merge`` of the
   shards; wall and CPU seconds and the peak memory of each process. With ``--before`` (the folder
   holding another checkout's ``pytest_llmcost``, put first on ``PYTHONPATH``) each round also runs
   each command with that code on the files in ``--before-dir`` (written by that code: run this
   script with that ``PYTHONPATH`` and ``--dir`` there first), and the CPU ratio now/before is
   taken within each round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_scale import generate, local_prices, prices_yaml

from pytest_llmcost.files import dump_json_lines, write_atomic
from pytest_llmcost.gate.judge import Rules
from pytest_llmcost.gate.rejudge import judge_results
from pytest_llmcost.pricing import RateCard
from pytest_llmcost.results import Results, load_results


def best(func: Callable[[], object], repeat: int = 3) -> float:
    func()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        func()
        times.append(time.process_time() - start)
    return min(times)


def process(argv: Sequence[str], cwd: Path, pythonpath: str | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak MiB of one process.

    Measured by ``/usr/bin/time``: a child forked from this process would count the generated
    results this process holds in its peak memory.
    """
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "LLMCOST %U %S %M", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):  # diff exits 1 when something grew: still a timing
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()}")
    line = next(line for line in done.stderr.decode().splitlines() if line.startswith("LLMCOST "))
    user, system, peak_kib = line.split()[1:]
    return wall, float(user) + float(system), int(peak_kib) / 1024


def judged(results: Results, baseline: object, card: RateCard) -> Results:
    out, run = judge_results(results, baseline, card, rules=Rules(), label="llm-cost-baseline.json")  # type: ignore[arg-type]
    return replace(out, run=run.to_json())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--changed", type=float, default=0.05, help="share of tests the second run changes")
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--reuse", action="store_true", help="time the commands on the files already in --dir")
    parser.add_argument("--before", type=Path, help="folder holding the pytest_llmcost to compare with")
    parser.add_argument("--before-dir", type=Path, help="the files that code wrote (this script, run with it)")
    args = parser.parse_args(argv)
    root = (args.dir or Path(tempfile.mkdtemp(prefix="llmcost-results-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {root}")
    before = None
    if args.before is not None:
        if args.before_dir is None:
            parser.error("--before needs --before-dir: the files that code wrote")
        before = (str(args.before.resolve()), args.before_dir.resolve())

    if args.reuse:  # the files of an earlier run in --dir: time the commands again
        time_commands(root, args.shards, args.runs, before)
        return 0
    card = RateCard(local=local_prices())
    results, baseline = generate(args.tests, args.steps, card)
    results = judged(results, baseline, card)
    other, _ = generate(args.tests, args.steps, card, seed=8)
    names = sorted(results.tests)
    every = round(1 / args.changed) if args.changed > 0 else 0
    changed = set(names[::every]) if every else set()
    mixed = {nodeid: other.tests[nodeid] if nodeid in changed else test for nodeid, test in results.tests.items()}
    later = judged(replace(results, tests=mixed), baseline, card)
    (root / "llm-cost-prices.yaml").write_text(prices_yaml())
    calls = sum(test.calls for test in results.tests.values())
    entries = len(baseline.entries)
    print(f"{len(results.tests):,} tests, {calls:,} calls, every test judged against a baseline of {entries:,}")
    print(f"the second run changed the calls of {len(changed):,} tests")

    results.write(root / "results.json")
    later.write(root / "later.json")
    size = (root / "results.json").stat().st_size

    def read_all() -> None:
        loaded = load_results(root / "results.json")
        calls = sum(len(test.records) for test in loaded.tests.values())
        judged = sum(1 for verdict in loaded.verdicts.values() if verdict.status)
        assert calls >= len(loaded.tests) >= judged

    print()
    print("in process, CPU seconds, best of 3")
    print(f"  write results.json                {best(lambda: results.write(root / 'results.json')):>7.3f}")
    print(f"  load_results                      {best(lambda: load_results(root / 'results.json')):>7.3f}")
    print(f"  load_results, every call/verdict  {best(read_all):>7.3f}")
    print(f"  results.json: {size / 1e6:.1f} MB, {size / calls:.0f} bytes per call")

    size_of = -(-len(names) // args.shards)
    for number in range(args.shards):
        chosen = set(names[number * size_of : (number + 1) * size_of])
        shard = replace(
            results,
            tests={k: v for k, v in results.tests.items() if k in chosen},
            verdicts={k: v for k, v in results.verdicts.items() if k in chosen},
            outcomes={k: v for k, v in results.outcomes.items() if k in chosen},
            runs_per_day={k: v for k, v in results.runs_per_day.items() if k in chosen},
        )
        write_atomic(root / f"shard-{number + 1}.json", dump_json_lines(shard.to_json(), lines=("tests",)))

    time_commands(root, args.shards, args.runs, before)
    return 0


def time_commands(root: Path, shards: int, runs: int, before: tuple[str, Path] | None) -> None:
    cli = [sys.executable, "-m", "pytest_llmcost"]
    names = [f"shard-{number + 1}.json" for number in range(shards)]
    commands = {
        "report": [*cli, "report", "results.json", "-o", "report.html", "--markdown", "summary.md"],
        "diff": [*cli, "diff", "results.json", "later.json", "--prices", "llm-cost-prices.yaml"],
        "merge": [*cli, "merge", *names, "-o", "merged.json"],
    }
    configs: list[tuple[str, Path, str | None]] = [("now", root, None)]
    if before is not None:
        configs.append(("before", before[1], before[0]))
    timings: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    order = [(name, config) for name in commands for config in configs]
    for number in range(runs):
        shift = number % len(order)
        for name, (label, cwd, pythonpath) in order[shift:] + order[:shift]:
            timings.setdefault((name, label), []).append(process(commands[name], cwd, pythonpath))
    print()
    print(f"as processes, {runs} runs each, interleaved: median (min to max)")
    print(f"{'command':<16} {'wall s':<22} {'cpu s':<22} {'peak MiB':<22}")
    for (name, label), found in timings.items():
        cells = []
        for index in range(3):
            values = [run[index] for run in found]
            cells.append(f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        print(f"{name + ' ' + label:<16} {cells[0]:<22} {cells[1]:<22} {cells[2]:<22}")
    if before is not None:
        print()
        print("CPU now / before, paired within each round: median (min to max)")
        for name in commands:
            pairs = zip(timings[(name, "now")], timings[(name, "before")], strict=True)
            ratios = [now[1] / then[1] for now, then in pairs]
            print(f"  {name:<8} {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    raise SystemExit(main())
