"""The results file at scale: its size, writing and reading it, and the CLI commands that read it.

    python benchmarks/results_scale.py [--tests 10000] [--steps 5] [--shards 8] [--runs 5] [--dir PATH]

1. Generates the results of ``--tests`` tests (``report_scale.generate``: five steps of one or two
   calls each, 66,900 calls for 10,000 tests), judged by the gate against a baseline of 95% of them,
   so the file carries every verdict as a run writes it; a second run's results (usage drifted)
   for ``diff``; and ``--shards`` shards of the first for ``merge``.
2. In process, best of 3: the file written as before (``indent=2``, the pure-Python encoder) and
   as now (compact, one test per line, the C encoder), with the sizes; ``load_results``.
3. As processes, ``--runs`` times each, interleaved: ``llm-cost report`` (HTML and Markdown from
   the run's own verdicts), ``llm-cost diff`` of the two results files, ``llm-cost merge`` of the
   shards; wall and CPU seconds and the peak memory of each process.
"""

from __future__ import annotations

import argparse
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

from pytest_llmcost.files import dump_json, dump_json_lines, write_atomic
from pytest_llmcost.gate.judge import Rules
from pytest_llmcost.gate.rejudge import judge_results
from pytest_llmcost.pricing import RateCard
from pytest_llmcost.results import Results, load_results


def best(func: Callable[[], object], repeat: int = 3) -> float:
    func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def process(argv: Sequence[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak MiB of one process.

    Measured by ``/usr/bin/time``: a child forked from this process would count the generated
    results this process holds in its peak memory.
    """
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "LLMCOST %U %S %M", *argv], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
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
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--reuse", action="store_true", help="time the commands on the files already in --dir")
    args = parser.parse_args(argv)
    root = (args.dir or Path(tempfile.mkdtemp(prefix="llmcost-results-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {root}")

    if args.reuse:  # the files of an earlier run in --dir: time the commands again
        time_commands(root, sorted(str(path) for path in root.glob("shard-*.json")), args.runs)
        return 0
    card = RateCard(local=local_prices())
    results, baseline = generate(args.tests, args.steps, card)
    results = judged(results, baseline, card)
    later, _ = generate(args.tests, args.steps, card, seed=8)
    later = judged(later, baseline, card)
    (root / "llm-cost-prices.yaml").write_text(prices_yaml())
    calls = sum(test.calls for test in results.tests.values())
    entries = len(baseline.entries)
    print(f"{len(results.tests):,} tests, {calls:,} calls, every test judged against a baseline of {entries:,}")

    data = results.to_json()
    old_text, new_text = dump_json(data), dump_json_lines(data, lines=("tests",))
    print()
    print("in process, best of 3              seconds       MB")
    old_s, new_s = best(lambda: dump_json(data)), best(lambda: dump_json_lines(data, lines=("tests",)))
    print(f"  write, indent=2 (before)        {old_s:>9.3f} {len(old_text.encode()) / 1e6:>8.1f}")
    print(f"  write, compact lines (now)      {new_s:>9.3f} {len(new_text.encode()) / 1e6:>8.1f}")
    results.write(root / "results.json")
    later.write(root / "later.json")
    load = best(lambda: load_results(root / "results.json"))
    print(f"  load_results                    {load:>9.3f}")

    names = sorted(results.tests)
    size = -(-len(names) // args.shards)
    shards = []
    for number in range(args.shards):
        chosen = set(names[number * size : (number + 1) * size])
        shard = replace(
            results,
            tests={k: v for k, v in results.tests.items() if k in chosen},
            verdicts={k: v for k, v in results.verdicts.items() if k in chosen},
            outcomes={k: v for k, v in results.outcomes.items() if k in chosen},
            runs_per_day={k: v for k, v in results.runs_per_day.items() if k in chosen},
        )
        path = root / f"shard-{number + 1}.json"
        write_atomic(path, dump_json_lines(shard.to_json(), lines=("tests",)))
        shards.append(str(path))

    time_commands(root, shards, args.runs)
    return 0


def time_commands(root: Path, shards: Sequence[str], runs: int) -> None:
    cli = [sys.executable, "-m", "pytest_llmcost"]
    commands = {
        "report": [*cli, "report", "results.json", "-o", "report.html", "--markdown", "summary.md"],
        "diff": [*cli, "diff", "results.json", "later.json", "--prices", "llm-cost-prices.yaml"],
        "merge": [*cli, "merge", *shards, "-o", "merged.json"],
    }
    timings: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for number in range(runs):
        order = list(commands)
        shift = number % len(order)
        for name in order[shift:] + order[:shift]:
            timings[name].append(process(commands[name], root))
    print()
    print(f"as processes, {runs} runs each, interleaved: median (min to max)")
    print(f"{'command':<8} {'wall s':<22} {'cpu s':<22} {'peak MiB':<22}")
    for name, runs in timings.items():
        cells = []
        for index in range(3):
            values = [run[index] for run in runs]
            cells.append(f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        print(f"{name:<8} {cells[0]:<22} {cells[1]:<22} {cells[2]:<22}")


if __name__ == "__main__":
    raise SystemExit(main())
