"""What the installed plugin costs a suite that does not use it: paired, interleaved whole processes.

    python benchmarks/idle.py [--tests 2000] [--runs 15] [--before PATH] [--dir PATH]

It makes a folder of ``--tests`` trivial tests (ten modules) and times, as whole ``python -m
pytest -q`` processes, each round in a rotating order:

* ``off``: ``-p no:llm_cost``, the plugin not even imported (the reference);
* ``idle``: the plugin installed and not used;
* ``idle@before``: the same with ``--before PATH`` first on ``PYTHONPATH`` (another checkout's
  ``pytest_llmcost``), when given;

twice: an empty run (``-k`` selecting no test: start-up, imports and collection only) and the
whole trivial suite. It prints the median CPU (user + system) and wall seconds of each, and the
difference and ratio to ``off`` within each round, as the median and the range over the rounds.
Last, the time to import the entry point (``pytest_llmcost.plugin``) once pytest is imported,
in a fresh process each time: the figure the whole-process runs cannot resolve on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_suite(folder: Path, tests: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    per_module = max(1, tests // 10)
    for module in range(10):
        body = "".join(f"def test_{i}():\n    assert {i} == {i}\n\n\n" for i in range(per_module))
        (folder / f"test_trivial_{module}.py").write_text(body)
    (folder / "pytest.ini").write_text("[pytest]\ncache_dir = .cache\n")


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 5):  # 5: no test selected
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", type=Path, help="a folder holding another checkout's pytest_llmcost")
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="llm-cost-idle-"))
    make_suite(folder, args.tests)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:xdist"]
    configs: dict[str, tuple[list[str], dict[str, str]]] = {
        "off": (["-p", "no:llm_cost"], env),
        "idle": ([], env),
    }
    if args.before is not None:
        configs["idle@before"] = ([], {**env, "PYTHONPATH": str(args.before)})
    for workload, extra in (("empty run (-k none)", ["-k", "no_such_test"]), (f"{args.tests} trivial tests", [])):
        for flags, environment in configs.values():  # warm: bytecode written, caches filled
            timed([*base, *flags, *extra], folder, environment)
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        wall: dict[str, list[float]] = {name: [] for name in configs}
        names = list(configs)
        for round_ in range(args.runs):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                flags, environment = configs[name]
                c, w = timed([*base, *flags, *extra], folder, environment)
                cpu[name].append(c)
                wall[name].append(w)
        print(f"\n{workload}: {args.runs} rounds, median (range) within each round against off")
        for name in names:
            line = f"  {name:12} CPU {statistics.median(cpu[name]):.3f} s  wall {statistics.median(wall[name]):.3f} s"
            if name != "off":
                diff = [(a - b) * 1000 for a, b in zip(cpu[name], cpu["off"], strict=True)]
                ratio = [a / b for a, b in zip(cpu[name], cpu["off"], strict=True)]
                line += (
                    f"  CPU {statistics.median(diff):+.1f} ms ({min(diff):+.1f} to {max(diff):+.1f})"
                    f"  x{statistics.median(ratio):.4f} ({min(ratio):.4f} to {max(ratio):.4f})"
                )
            print(line)
    print("\nimporting the entry point after pytest, in a fresh process each time (ms, bytecode cached):")
    probe = "import time, pytest; t = time.perf_counter(); import pytest_llmcost.plugin; print(time.perf_counter() - t)"
    for name, (_, environment) in configs.items():
        if name == "off":
            continue
        command = [sys.executable, "-c", probe]
        times = sorted(
            float(subprocess.run(command, cwd=folder, env=environment, capture_output=True).stdout) * 1000
            for _ in range(args.runs)
        )
        print(f"  {name:12} min {times[0]:.2f}  median {statistics.median(times):.2f}  max {times[-1]:.2f}")
    print(f"\nsuite: {folder}")


if __name__ == "__main__":
    main()
