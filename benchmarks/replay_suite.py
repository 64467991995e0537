"""Wall time of a replayed LLM test suite: the ``llm_cost`` fixture with and without ``--llm-cost``,
and pytest-recording replaying the very same cassettes.

    python benchmarks/replay_suite.py [--tests 500] [--calls 4] [--runs 5] [--dir PATH]

1. Generates a suite (about ten test modules, ``--tests`` tests in all) whose tests each make
   ``--calls`` LLM calls through the real openai, anthropic and google-genai SDKs: OpenAI chat
   (JSON, and streamed with ``include_usage``), Anthropic messages (JSON, and streamed), Gemini
   ``generate_content``; some inside ``with step(...)``. Every test takes the suite's ``llm``
   fixture; with ``BENCH_MODE=llmcost`` it requests ``llm_cost``, with ``BENCH_MODE=recording``
   it requests nothing and every test is marked ``vcr`` for pytest-recording.
2. Records the cassettes once against the loopback fake provider of the test suite. The base
   URL is saved in the suite; every replay runs with the server stopped, so a request that
   missed its cassette fails instead of reaching anything.
3. Checks, untimed, that both modes replay the same files (``<test dir>/cassettes/<module>/<test>.yaml``)
   and play every interaction, then times whole pytest processes round-robin:

   A. ``llm_cost`` fixture replay, without ``--llm-cost``
   B. the same with ``--llm-cost`` (every call metered, results file written, costs compared
      with the suite's baseline, written once, untimed, with ``--llm-cost-update``)
   C. pytest-recording replay (``--record-mode=none``); pytest-llmcost installed but inactive
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIKTOKEN_CACHE = REPO.parent / "shared" / "tiktoken-cache"

MODULES = 10
REPLY_WORDS = 48
"""Words in every fake reply: an OpenAI stream is then about 50 SSE chunks."""
KINDS = ("chat", "chat_stream", "claude", "gemini", "claude_stream")
"""Call kinds, taken in turn from an offset that moves with the test, so every test mixes providers."""
TOPICS = (
    "cache invalidation",
    "a failed deploy",
    "quarterly billing",
    "the search ranking",
    "an expired certificate",
    "slow checkout pages",
    "the on-call rota",
)

CONFIGS: dict[str, str] = {
    "A": "llm_cost replay",
    "B": "llm_cost replay --llm-cost",
    "C": "pytest-recording replay",
}

CONFTEST = '''\
"""The ``llm`` fixture: the llm_cost fixture, or pytest-recording, by BENCH_MODE."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_calls import CONFIG, Clients, clients

MODE = os.environ.get("BENCH_MODE", "llmcost")
VERIFY = os.environ.get("BENCH_VERIFY") == "1"
CALLS = CONFIG["calls"]

if MODE == "recording":

    def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
        for item in items:
            item.add_marker(pytest.mark.vcr)

    if VERIFY:

        @pytest.fixture
        def llm(request: pytest.FixtureRequest) -> Iterator[Clients]:
            from pytest_llmcost.hooks.wake import default_cassette_path

            cassette = request.getfixturevalue("vcr")
            assert Path(cassette._path).resolve() == default_cassette_path(request.node).resolve()
            assert len(cassette) == CALLS, "pytest-recording did not load the recorded cassette"
            yield clients()
            assert cassette.play_count == CALLS and cassette.all_played

    else:

        @pytest.fixture
        def llm() -> Clients:
            return clients()

elif MODE == "llmcost":
    if VERIFY:

        @pytest.fixture
        def llm(llm_cost) -> Iterator[Clients]:  # type: ignore[no-untyped-def]
            assert llm_cost.cassette.is_file()
            yield clients()
            assert len(llm_cost.calls) == CALLS

    else:

        @pytest.fixture
        def llm(llm_cost) -> Clients:  # type: ignore[no-untyped-def]
            return clients()

else:
    raise pytest.UsageError(f"BENCH_MODE must be llmcost or recording, not {MODE!r}")
'''

LLM_CALLS = '''\
"""LLM calls through the real SDKs, at the base URL the cassettes were recorded with."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

CONFIG: dict[str, Any] = json.loads((Path(__file__).parent / "bench.json").read_text())
URL: str = CONFIG["url"]
SYSTEM = "You are a concise assistant for an operations team. Answer in plain sentences."


class Clients:
    def __init__(self) -> None:
        import anthropic
        import openai
        from google import genai
        from google.genai import types

        self.openai = openai.OpenAI(base_url=URL + "/v1", api_key="sk-bench", max_retries=0)
        self.anthropic = anthropic.Anthropic(base_url=URL, api_key="sk-ant-bench", max_retries=0)
        options = types.HttpOptions(
            base_url=URL + "/", api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1)
        )
        self.gemini = genai.Client(api_key="AIza-bench", http_options=options)
        self.gemini_config = types.GenerateContentConfig(system_instruction=SYSTEM)


@functools.cache
def clients() -> Clients:
    return Clients()


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]


def chat(llm: Clients, prompt: str) -> str:
    response = llm.openai.chat.completions.create(model="gpt-4o-mini", messages=_messages(prompt))
    return response.choices[0].message.content or ""


def chat_stream(llm: Clients, prompt: str) -> str:
    stream = llm.openai.chat.completions.create(
        model="gpt-4o-mini", messages=_messages(prompt), stream=True, stream_options={"include_usage": True}
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def claude(llm: Clients, prompt: str) -> str:
    message = llm.anthropic.messages.create(
        model="claude-haiku-4-5", max_tokens=512, system=SYSTEM, messages=[{"role": "user", "content": prompt}]
    )
    return "".join(block.text for block in message.content if block.type == "text")


def claude_stream(llm: Clients, prompt: str) -> str:
    with llm.anthropic.messages.stream(
        model="claude-haiku-4-5", max_tokens=512, system=SYSTEM, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        return stream.get_final_text()


def gemini(llm: Clients, prompt: str) -> str:
    response = llm.gemini.models.generate_content(model="gemini-2.5-flash", contents=prompt, config=llm.gemini_config)
    return response.text or ""
'''

PYTEST_INI = """\
[pytest]
python_files = test_*.py
"""


# -- generating the suite ----------------------------------------------------------------


def _test_body(index: int, calls: int) -> list[str]:
    """The statements of test number ``index``: ``calls`` calls, some of them inside steps."""
    statements = []
    for j in range(calls):
        kind = KINDS[(index + j) % len(KINDS)]
        topic = TOPICS[(index * 3 + j) % len(TOPICS)]
        prompt = f"Summarise ticket {index}-{j} about {topic} for the incident review"
        statements.append(f'assert {kind}(llm, "{prompt}").startswith("Answer to:")')
    if index % 3 == 0 and calls > 1:  # two steps: plan, then answer
        half = calls // 2
        return [
            'with step("plan"):',
            *(f"    {s}" for s in statements[:half]),
            'with step("answer"):',
            *(f"    {s}" for s in statements[half:]),
        ]
    if index % 3 == 1:  # the first call in a nested step, the rest outside
        return ['with step("research"), step("search"):', f"    {statements[0]}", *statements[1:]]
    return statements


def _module_source(first: int, count: int, calls: int, in_class: bool) -> str:
    lines = [
        '"""Generated by benchmarks/replay_suite.py."""',
        "",
        "from __future__ import annotations",
        "",
        "from llm_calls import Clients, chat, chat_stream, claude, claude_stream, gemini",
        "",
        "from pytest_llmcost import step",
        "",
    ]
    indent = ""
    if in_class:
        lines += ["", "class TestPipeline:"]
        indent = "    "
    for index in range(first, first + count):
        signature = f"def test_case_{index:04d}(self, llm: Clients) -> None:" if in_class else None
        signature = signature or f"def test_case_{index:04d}(llm: Clients) -> None:"
        lines += ["", f"{indent}{signature}"]
        lines += [f"{indent}    {statement}" for statement in _test_body(index, calls)]
        if not in_class:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def generate(root: Path, tests: int, calls: int) -> list[Path]:
    """Write the suite into ``root`` (emptied first); return its test modules."""
    if root.exists():
        if any(root.iterdir()) and not (root / "bench.json").is_file():
            raise SystemExit(f"{root} is not empty and holds no generated suite: pass a new or empty folder")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text(PYTEST_INI)
    (root / "conftest.py").write_text(CONFTEST)
    (root / "llm_calls.py").write_text(LLM_CALLS)
    modules = min(MODULES, tests)
    sizes = [tests // modules + (1 if m < tests % modules else 0) for m in range(modules)]
    paths, first = [], 0
    for m, size in enumerate(sizes):
        path = root / f"test_agent_{m:02d}.py"
        # The last module keeps its tests in a class: cassette names then carry the class name.
        path.write_text(_module_source(first, size, calls, in_class=m == modules - 1 and modules > 1))
        paths.append(path)
        first += size
    return paths


def write_config(root: Path, url: str, tests: int, calls: int) -> None:
    (root / "bench.json").write_text(json.dumps({"url": url, "tests": tests, "calls": calls}, indent=2) + "\n")


# -- running pytest ----------------------------------------------------------------------


@dataclass
class Run:
    config: str
    seconds: float
    cpu: float
    returncode: int
    output: str


def pytest_command(*extra: str) -> list[str]:
    # pytest's cache stays on, as in a user's project: pytest-llmcost keeps its resolved prices
    # there, so a run whose models were all seen before does not import genai-prices' data.
    command = [sys.executable, "-m", "pytest", "-q"]
    if importlib.util.find_spec("pytest_randomly") is not None:
        command += ["-p", "no:randomly"]
    return [*command, *extra]


def _environment(root: Path, mode: str, verify: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    # Bytecode is cached, as on a developer's machine, but under the work directory: the first,
    # untimed run compiles, and nothing is written next to the installed packages.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(root / ".pycache")
    env["BENCH_MODE"] = mode
    env["BENCH_VERIFY"] = "1" if verify else "0"
    if "TIKTOKEN_CACHE_DIR" not in env and TIKTOKEN_CACHE.is_dir():
        env["TIKTOKEN_CACHE_DIR"] = str(TIKTOKEN_CACHE)
    env.pop("PYTEST_ADDOPTS", None)
    return env


CONFIG_ARGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "A": ("llmcost", ()),
    "B": ("llmcost", ("--llm-cost",)),
    "C": ("recording", ("--record-mode=none",)),
}


def run_pytest(root: Path, config: str, *, verify: bool = False, extra: Sequence[str] = ()) -> Run:
    mode, args = CONFIG_ARGS[config]
    command = pytest_command(*args, *extra)
    env = _environment(root, mode, verify)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(config, seconds, cpu, done.returncode, done.stdout + done.stderr)


def _check(run: Run, what: str) -> None:
    if run.returncode != 0:
        tail = "\n".join(run.output.splitlines()[-40:])
        raise SystemExit(f"{what}: pytest exited {run.returncode}\n{tail}")


def record(root: Path, tests: int, calls: int) -> float:
    """Record every cassette once against the fake provider; return the seconds it took."""
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))
    from tests.fakes.provider import FakeProvider

    start = time.perf_counter()
    with FakeProvider(reply_words=REPLY_WORDS) as fake:
        write_config(root, fake.url, tests, calls)
        run = run_pytest(root, "A", extra=["--llm-cost-record-mode=once"])
        _check(run, "recording the cassettes")
        received = len(fake.requests)
    if received != tests * calls:
        raise SystemExit(f"recording: the fake provider received {received} requests, expected {tests * calls}")
    return time.perf_counter() - start


def write_baseline(root: Path) -> None:
    """Write the suite's cost baseline, as a project commits it: timed ``--llm-cost`` runs compare with it, as CI."""
    _check(run_pytest(root, "B", extra=["--llm-cost-update"]), "writing the cost baseline")
    if not (root / "llm-cost-baseline.json").is_file():
        raise SystemExit("--llm-cost-update did not write llm-cost-baseline.json")


def check_cassettes(root: Path, tests: int, calls: int) -> int:
    """Every test has its cassette, at pytest-recording's default path, with ``calls`` interactions."""
    from pytest_recording.plugin import get_default_cassette_name

    from pytest_llmcost.capture.cassettes import read_cassette
    from pytest_llmcost.capture.recording import cassette_path

    found = sorted(root.glob("cassettes/*/*.yaml"))
    if len(found) != tests:
        raise SystemExit(f"expected {tests} cassettes, found {len(found)}")
    for path in found:
        module = root / f"{path.parent.name}.py"
        class_name, _, test_name = path.stem.rpartition(".")
        ours = cassette_path(module, test_name, class_name or None)
        cls = type(class_name, (), {}) if class_name else None
        theirs = Path(root, "cassettes", module.stem, get_default_cassette_name(cls, test_name) + ".yaml")
        if ours != path or theirs != path:
            raise SystemExit(f"cassette paths differ: {path} / llm-cost {ours} / pytest-recording {theirs}")
        if len(read_cassette(path)) != calls:
            raise SystemExit(f"{path}: expected {calls} interactions")
    return len(found)


def check_results(root: Path, tests: int, calls: int) -> None:
    path = root / ".llm-cost" / "results.json"
    if not path.is_file():
        raise SystemExit("--llm-cost did not write .llm-cost/results.json")
    summary = json.loads(path.read_text())["summary"]
    if summary["tests"] != tests or summary["calls"] != tests * calls or summary["unpriced"] or summary["estimated"]:
        raise SystemExit(f"--llm-cost results: expected {tests} tests and {tests * calls} priced calls, got {summary}")


# -- timing ------------------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds per run and configuration: wall clock, and CPU (user + system) of the pytest process."""

    wall: dict[str, list[float]] = field(default_factory=lambda: {config: [] for config in CONFIGS})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {config: [] for config in CONFIGS})

    def add(self, run: Run) -> None:
        self.wall[run.config].append(run.seconds)
        self.cpu[run.config].append(run.cpu)

    def to_json(self) -> dict[str, dict[str, list[float]]]:
        return {"wall": self.wall, "cpu": self.cpu}


def time_rounds(root: Path, tests: int, calls: int, runs: int) -> Timings:
    timings = Timings()
    order = list(CONFIGS)
    results = root / ".llm-cost" / "results.json"
    for number in range(runs):
        shift = number % len(order)
        for config in order[shift:] + order[:shift]:  # rotate, so no configuration always runs first
            if config == "B":
                results.unlink(missing_ok=True)
            run = run_pytest(root, config)
            _check(run, f"round {number + 1}, configuration {config}")
            if config == "B":
                check_results(root, tests, calls)
            timings.add(run)
            print(f"  round {number + 1}/{runs}  {config}  wall {run.seconds:6.2f} s  cpu {run.cpu:6.2f} s", flush=True)
    return timings


def report(timings: Timings, tests: int, calls: int) -> str:
    def stats(values: dict[str, list[float]], config: str) -> tuple[float, float]:
        return min(values[config]), statistics.median(values[config])

    lines = [
        f"{tests} tests x {calls} calls = {tests * calls} replayed calls per run, "
        f"{len(timings.wall['A'])} runs per configuration",
        "",
        f"{'configuration':<36} {'wall min':>9} {'median':>7}   {'cpu min':>8} {'median':>7}",
    ]
    for config, label in CONFIGS.items():
        wall, cpu = stats(timings.wall, config), stats(timings.cpu, config)
        lines.append(f"{config}  {label:<33} {wall[0]:>9.2f} {wall[1]:>7.2f}   {cpu[0]:>8.2f} {cpu[1]:>7.2f}")
    lines += ["", f"{'ratio':<8} {'wall min':>9} {'median':>7}   {'cpu min':>8} {'median':>7}"]
    for top, bottom in (("B", "A"), ("B", "C"), ("A", "C")):
        ratios = [
            stats(values, top)[which] / stats(values, bottom)[which]
            for values in (timings.wall, timings.cpu)
            for which in (0, 1)
        ]
        lines.append(f"{top}/{bottom:<6} {ratios[0]:>9.3f} {ratios[1]:>7.3f}   {ratios[2]:>8.3f} {ratios[3]:>7.3f}")
    paired = [b / a for a, b in zip(timings.wall["A"], timings.wall["B"], strict=True)]
    lines += [
        "",
        f"B/A paired within each round (wall): median {statistics.median(paired):.3f}, "
        f"range {min(paired):.3f} to {max(paired):.3f}",
    ]
    for name, values in (("wall", timings.wall), ("cpu", timings.cpu)):
        base, metered = stats(values, "A")[0], stats(values, "B")[0]
        lines.append(
            f"--llm-cost adds {100 * (metered - base) / base:+.1f}% {name} time (minimums), "
            f"{1e6 * (metered - base) / (tests * calls):+.0f} us per call over the whole run"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tests", type=int, default=500, help="tests in the suite (default 500)")
    parser.add_argument("--calls", type=int, default=4, help="LLM calls per test (default 4)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per configuration (default 5)")
    parser.add_argument("--dir", type=Path, help="work directory for the suite (default: a new temporary one)")
    args = parser.parse_args(argv)
    if args.tests < 1 or args.calls < 1 or args.runs < 1:
        parser.error("--tests, --calls and --runs must be at least 1")

    root = (args.dir or Path(tempfile.mkdtemp(prefix="llmcost-bench-"))).resolve()
    print(f"suite: {root}")
    start = time.perf_counter()
    generate(root, args.tests, args.calls)
    recorded = record(root, args.tests, args.calls)
    count = check_cassettes(root, args.tests, args.calls)
    print(
        f"generated and recorded {count} cassettes ({args.tests * args.calls} interactions) "
        f"in {time.perf_counter() - start:.1f} s (recording run {recorded:.1f} s)"
    )

    write_baseline(root)
    # Untimed: both modes replay the same files and play every interaction; warms caches too.
    for config in ("A", "C"):
        _check(run_pytest(root, config, verify=True), f"checking configuration {config}")
    print("checked: llm_cost and pytest-recording replay the same cassette files, every interaction played")

    timings = time_rounds(root, args.tests, args.calls, args.runs)
    (root / "timings.json").write_text(json.dumps(timings.to_json(), indent=2) + "\n")
    print()
    print(report(timings, args.tests, args.calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
