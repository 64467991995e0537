"""Paired, interleaved whole-process timings of a suite made by ``replay_suite.py``.

    python benchmarks/paired.py --dir SUITE [--runs 7] SPEC [SPEC ...]

Each SPEC is a configuration of ``replay_suite.py`` (``A`` the ``llm_cost`` fixture replay,
``B`` the same with ``--llm-cost``, ``C`` pytest-recording's replay), optionally followed by
``@PATH`` to run it with ``PATH`` first on ``PYTHONPATH`` (another checkout of
``pytest_llmcost``: the code before a change), and by ``+ARG`` for extra pytest arguments
(``B+-n+2``). Every round runs each SPEC once, the order rotating from round to round; the
first SPEC is the reference. It prints, per SPEC, the minimum and median wall and CPU seconds
(user + system of the pytest process and its children), and its ratio to the reference within
each round: the median and the range (min to max) over the rounds, for wall and CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay_suite import CONFIG_ARGS, _environment, pytest_command


@dataclass
class Spec:
    text: str
    config: str
    pythonpath: str | None
    extra: tuple[str, ...]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Spec:
        head, *extra = text.split("+")
        config, _, path = head.partition("@")
        if config not in CONFIG_ARGS:
            raise SystemExit(f"{text}: the configuration must be one of {', '.join(CONFIG_ARGS)}")
        return cls(text, config, path or None, tuple(extra))


def run(root: Path, spec: Spec) -> tuple[float, float]:
    mode, args = CONFIG_ARGS[spec.config]
    env = _environment(root, mode)
    if spec.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [spec.pythonpath, env.get("PYTHONPATH")]))
    results = root / ".llm-cost" / "results.json"
    results.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(pytest_command(*args, *spec.extra), cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise SystemExit(f"{spec.text}: pytest exited {done.returncode}\n{tail}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f} to {max(values):.3f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, required=True, help="a suite made by replay_suite.py")
    parser.add_argument("--runs", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--json", type=Path, help="also write every timing to this file")
    parser.add_argument("specs", nargs="+", help="A, B or C, each optionally @PYTHONPATH and +pytest-arg")
    args = parser.parse_args(argv)
    specs = [Spec.parse(text) for text in args.specs]
    root = args.dir.resolve()
    for number in range(args.runs):
        shift = number % len(specs)
        for spec in specs[shift:] + specs[:shift]:
            wall, cpu = run(root, spec)
            spec.wall.append(wall)
            spec.cpu.append(cpu)
            print(f"  round {number + 1}/{args.runs}  {spec.text:<28} wall {wall:7.2f} s  cpu {cpu:7.2f} s", flush=True)
    reference = specs[0]
    print()
    print(f"{args.runs} rounds, interleaved; ratios to {reference.text}, paired within each round: median (min to max)")
    print(f"{'spec':<28} {'wall min':>8} {'median':>7} {'cpu min':>8} {'median':>7}   {'wall ratio':<24} cpu ratio")
    for spec in specs:
        wall_ratio = [w / r for w, r in zip(spec.wall, reference.wall, strict=True)]
        cpu_ratio = [c / r for c, r in zip(spec.cpu, reference.cpu, strict=True)]
        print(
            f"{spec.text:<28} {min(spec.wall):>8.2f} {statistics.median(spec.wall):>7.2f} "
            f"{min(spec.cpu):>8.2f} {statistics.median(spec.cpu):>7.2f}   {spread(wall_ratio):<24} {spread(cpu_ratio)}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({spec.text: {"wall": spec.wall, "cpu": spec.cpu} for spec in specs}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
