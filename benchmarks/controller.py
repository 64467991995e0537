"""The xdist controller's serial work under ``--llm-cost``: profiled in the controller process only.

    python benchmarks/controller.py --dir SUITE [--workers 2] [--runs 3] [--scale 10000]

``SUITE`` is a folder made by ``replay_suite.py`` (``/tmp/bench2k``: 2,000 tests x 1 call).
Each run is ``python -m cProfile -o FILE -m pytest -q -n WORKERS --llm-cost`` in that folder:
cProfile runs in the controller process only (the workers are processes of their own), so the
profile holds exactly the work the controller does while the workers test, and after them.
From it the script prints, per run, the controller's cumulative seconds in:

* receiving the tests: ``Run.pytest_runtest_logreport`` (each report's cost and verdict parsed
  and kept), paid while the workers still run;
* the end of the run: ``Run.pytest_sessionfinish`` (run verdict, results file, HTML and Markdown
  reports) and ``Run.pytest_terminal_summary`` (the summary lines), paid after the last test;

with the part of the end spent building the results and the run verdict (``Run.finish``), writing
the reports and printing the summary, all extrapolated linearly to ``--scale`` tests. The
profiler's own overhead inflates every figure (by about 1.5 to 2x for this kind of code): they
are upper bounds. Then, unprofiled, the controller's CPU time (``time.process_time``, so neither
the workers' time nor waiting) in every ``pytest_sessionfinish`` and ``pytest_terminal_summary``
implementation (``end_of_run_timer.py``, loaded with ``-p``), with ``--llm-cost`` and without it,
and their difference per round: the plugin's end-of-run work.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay_suite import _environment, pytest_command

PHASES = {
    "receiving (logreport)": ("pytest_runtest_logreport",),
    "end of run (sessionfinish + terminal summary)": ("pytest_sessionfinish", "pytest_terminal_summary"),
    "  of which the results and the run verdict": ("finish",),
    "  of which the HTML report and Markdown summary": ("_write_reports",),
    "  of which the terminal summary": ("pytest_terminal_summary",),
}


def controller_seconds(profile: Path) -> dict[str, float]:
    stats = pstats.Stats(str(profile))
    found = dict.fromkeys(PHASES, 0.0)
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if not filename.replace("\\", "/").endswith("pytest_llmcost/hooks/run.py"):
            continue
        for phase, functions in PHASES.items():
            if function in functions:
                found[phase] += cumulative
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True, help="a suite made by replay_suite.py")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=int, default=10_000, help="extrapolate to this many tests")
    args = parser.parse_args()
    suite = args.dir.resolve()
    tests = sum(1 for _ in suite.glob("cassettes/**/*.yaml")) or 1
    env = _environment(suite, "llmcost")
    figures: dict[str, list[float]] = {phase: [] for phase in PHASES}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            profile = Path(tmp) / f"controller-{run}.prof"
            command = pytest_command("--llm-cost", "-n", str(args.workers))
            command[1:3] = ["-m", "cProfile", "-o", str(profile), "-m", "pytest"]
            done = subprocess.run(command, cwd=suite, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"run {run} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
            for phase, seconds in controller_seconds(profile).items():
                figures[phase].append(seconds)
    print(f"{suite}: {tests} tests, -n {args.workers}, {args.runs} runs, controller profiled (upper bounds)")
    for phase, values in figures.items():
        _line(phase, values, args.scale / tests)
    # Unprofiled: the controller's CPU at the end of the run, with --llm-cost and without it.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent), env.get("PYTHONPATH")]))
    ends: dict[str, list[float]] = {"with --llm-cost": [], "without": []}
    with tempfile.TemporaryDirectory() as tmp:
        env["LLM_COST_BENCH_TIMES"] = times = str(Path(tmp) / "times.json")
        for _ in range(args.runs):
            for label, flags in (("with --llm-cost", ["--llm-cost"]), ("without", [])):
                command = pytest_command(*flags, "-n", str(args.workers), "-p", "end_of_run_timer")
                done = subprocess.run(command, cwd=suite, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"{label} exited {done.returncode}:\n{done.stdout[-3000:]}")
                spent = json.loads(Path(times).read_text())
                ends[label].append(spent.get("sessionfinish", 0.0) + spent.get("terminal_summary", 0.0))
    print("controller CPU at the end of the run (sessionfinish + terminal summary), unprofiled:")
    for label, values in ends.items():
        _line(label, values, args.scale / tests)
    shares = [a - b for a, b in zip(*ends.values(), strict=True)]
    _line("the plugin's share (with - without, per round)", shares, args.scale / tests)


def _line(label: str, values: list[float], scale: float) -> None:
    median = statistics.median(values)
    print(
        f"  {label:48} median {median:6.2f} s (range {min(values):.2f} to {max(values):.2f}),"
        f" scaled: {median * scale:6.2f} s"
    )


if __name__ == "__main__":
    main()
