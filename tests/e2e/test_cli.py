"""The ``llm-cost`` command: metering cassettes without running a test."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import sysconfig
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pytest_llmcost.cli import main
from tests.conftest import real_cassettes_dir
from tests.results_view import full_view

AGENT = """
import os

import anthropic
import openai
from google import genai
from google.genai import types

URL = os.environ["FAKE_LLM_URL"]


def chat(text, model="gpt-4o-mini", **kwargs):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **kwargs)


def test_chat(llm_cost):
    chat("Plan the research on caching")
    chat("Plan the second pass", model="gpt-4o")


def test_claude_stream(llm_cost):
    client = anthropic.Anthropic(base_url=URL, api_key="sk-ant-test", max_retries=0)
    messages = [{"role": "user", "content": "Stream a reply please"}]
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=messages) as stream:
        stream.get_final_message()


def test_gemini(llm_cost):
    client = genai.Client(api_key="AIza-test", http_options=types.HttpOptions(base_url=URL + "/", api_version="v1beta"))
    client.models.generate_content(model="gemini-2.5-flash", contents="Explain prompt caching")


def test_estimated(llm_cost):
    for _ in chat("Stream without usage please", stream=True):
        pass
"""
CASSETTES = [
    f"cassettes/test_agent/{name}.yaml" for name in ("test_chat", "test_claude_stream", "test_gemini", "test_estimated")
]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _tokens(input: int, output: int, cached_input: int = 0, cache_write: int = 0, reasoning: int = 0) -> dict[str, int]:
    return {
        "input": input,
        "cached_input": cached_input,
        "cache_write": cache_write,
        "output": output,
        "reasoning": reasoning,
    }


@pytest.fixture
def recorded(pytester: pytest.Pytester, fake_llm: Any) -> dict[tuple[str, int], dict[str, Any]]:
    """The agent's cassettes recorded through the fake under ``--llm-cost``: what it metered, by interaction."""
    pytester.makepyfile(test_agent=AGENT)
    pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once").assert_outcomes(passed=4)
    results = full_view((pytester.path / ".llm-cost" / "results.json").read_text())
    return {
        (record["cassette"], record["interaction"]): record
        for test in results["tests"].values()
        for record in test["records"]
    }


def test_inspect_json_meters_each_interaction_as_the_test_run_did(recorded: dict[tuple[str, int], Any]) -> None:
    code, out, err = _run("inspect", "--json", *CASSETTES)
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert [(row["cassette"], row["interaction"]) for row in rows] == [
        (CASSETTES[0], 0),
        (CASSETTES[0], 1),
        (CASSETTES[1], 0),
        (CASSETTES[2], 0),
        (CASSETTES[3], 0),
    ]
    assert set(rows[0]) == {
        "cassette",
        "interaction",
        "provider",
        "model",
        "api",
        "part",
        "tokens",
        "usd",
        "estimated",
        "unpriced",
        "note",
    }
    chat, second, claude, gemini, estimated = rows
    # Prompt: words + 3; reply: "Answer to:" + up to 5 words of the prompt.
    assert (chat["provider"], chat["model"], chat["tokens"]) == ("openai", "gpt-4o-mini-2024-07-18", _tokens(8, 7))
    assert chat["usd"] == "0.0000054"  # $0.15 and $0.60 per million
    assert (second["model"], second["tokens"], second["usd"]) == ("gpt-4o-2024-08-06", _tokens(7, 6), "0.0000775")
    assert (claude["provider"], claude["model"]) == ("anthropic", "claude-haiku-4-5-20251001")
    assert (claude["tokens"], claude["usd"]) == (_tokens(7, 6), "0.000037")  # $1 and $5 per million
    assert (gemini["provider"], gemini["model"]) == ("google", "gemini-2.5-flash")
    assert (gemini["tokens"], gemini["usd"]) == (_tokens(6, 5), "0.0000143")  # $0.30 and $2.50 per million
    assert [row["estimated"] for row in rows] == [False, False, False, False, True]
    assert estimated["tokens"]["input"] > 0
    assert estimated["tokens"]["output"] > 0

    # The same numbers `pytest --llm-cost` metered while recording.
    for row in rows:
        metered = recorded[(row["cassette"], row["interaction"])]
        for key in ("provider", "model", "api", "tokens", "usd", "estimated", "unpriced"):
            assert row[key] == metered[key], (row["cassette"], key)


def test_inspect_table_has_a_line_per_interaction_and_a_total(recorded: dict[tuple[str, int], Any]) -> None:
    code, out, err = _run("inspect", *CASSETTES)
    assert (code, err) == (0, "")
    lines = pytest.LineMatcher(out.splitlines())
    lines.fnmatch_lines(
        [
            "cassette * # model * input * cached * output * $",
            "cassettes/test_agent/test_chat.yaml * 0 gpt-4o-mini-2024-07-18 * 8 * 0 * 7 * $0.000005",
            "cassettes/test_agent/test_chat.yaml * 1 gpt-4o-2024-08-06 * 7 * 0 * 6 * $0.000078",
            "cassettes/test_agent/test_claude_stream.yaml * 0 claude-haiku-4-5-20251001 * 7 * 0 * 6 * $0.000037",
            "cassettes/test_agent/test_gemini.yaml * 0 gemini-2.5-flash * 6 * 0 * 5 * $0.000014",
            "cassettes/test_agent/test_estimated.yaml * 0 gpt-4o-mini-2024-07-18 * $0.00000* [[]estimated]",
        ],
        consecutive=True,
    )
    total = sum((Decimal(record["usd"]) for record in recorded.values()), Decimal(0))
    assert out.splitlines()[-1] == f"total: 5 LLM calls in 4 cassettes, ${total:.6f}"


def _script() -> str | None:
    """The installed ``llm-cost`` console script."""
    candidate = Path(sysconfig.get_path("scripts")) / "llm-cost"
    return str(candidate) if candidate.is_file() else shutil.which("llm-cost")


def test_module_and_console_script_print_what_main_prints(pytester: pytest.Pytester, recorded: Any) -> None:
    """``python -m pytest_llmcost`` and the ``llm-cost`` script, run as processes."""
    module = subprocess.run(
        [sys.executable, "-m", "pytest_llmcost", "inspect", *CASSETTES],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (module.returncode, module.stderr) == (0, "")
    assert module.stdout == _run("inspect", *CASSETTES)[1]

    script = _script()
    if script is None:
        pytest.skip("the llm-cost console script is not installed")
    command = subprocess.run(
        [script, "inspect", "--json", CASSETTES[0], "missing.yaml"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert command.returncode == 2
    assert command.stdout == ""
    assert command.stderr.splitlines() == ["llm-cost inspect: [Errno 2] No such file or directory: 'missing.yaml'"]
    command = subprocess.run(
        [script, "inspect", "--json", *CASSETTES], cwd=pytester.path, capture_output=True, text=True, check=False
    )
    assert (command.returncode, command.stderr) == (0, "")
    assert json.loads(command.stdout) == json.loads(_run("inspect", "--json", *CASSETTES)[1])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(None, "No such file or directory", id="missing"),
        pytest.param("interactions: [\n  - request: {method: POST\n", "not valid YAML", id="broken-yaml"),
        pytest.param(b"\x00\xff binary", "not valid YAML", id="binary"),
        pytest.param("version: 1\n", "not a vcrpy cassette", id="not-a-cassette"),
        pytest.param("interactions:\n  - request: {}\n", "interaction 0", id="bad-interaction"),
    ],
)
def test_unreadable_cassette_is_one_line_naming_the_file(
    pytester: pytest.Pytester, content: str | bytes | None, problem: str
) -> None:
    path = pytester.path / "broken cassette.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, out, err = _run("inspect", "--json", path.name)
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("llm-cost inspect: ")
    assert "broken cassette.yaml" in line
    assert problem in line


def test_a_directory_is_not_a_cassette(pytester: pytest.Pytester) -> None:
    (pytester.path / "cassettes").mkdir()
    code, out, err = _run("inspect", "cassettes")
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert "'cassettes'" in line


def test_usage_errors_go_to_err_with_status_2() -> None:
    code, out, err = _run()
    assert (code, out) == (2, "")
    assert "the following arguments are required: COMMAND" in err
    code, out, err = _run("inspect")
    assert (code, out) == (2, "")
    assert "the following arguments are required: CASSETTE" in err
    code, out, err = _run("inspect", "--no-such-flag", "x.yaml")
    assert (code, out) == (2, "")
    assert "unrecognized arguments: --no-such-flag" in err


@pytest.mark.parametrize("argv", [["--help"], ["inspect", "--help"]], ids=["llm-cost", "inspect"])
def test_help_shows_examples(argv: list[str]) -> None:
    code, out, err = _run(*argv)
    assert (code, err) == (0, "")
    assert "\nexamples:\n" in out
    assert "  llm-cost inspect tests/cassettes/test_agent/test_research.yaml\n" in out


def test_version() -> None:
    from pytest_llmcost import __version__

    assert _run("--version") == (0, f"llm-cost {__version__}\n", "")


# -- the real-cassette corpus --------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> Path:
    found = real_cassettes_dir()
    if found is None:
        pytest.skip("real-cassette corpus not found (set LLM_COST_REAL_CASSETTES)")
    return found


def _normalised(usage: dict[str, Any]) -> dict[str, int]:
    """An Anthropic-style usage (input without cache reads and writes) as the token vector."""
    read, written = usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]
    return _tokens(usage["input_tokens"] + read + written, usage["output_tokens"], read, written)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("test_anthropic_advisor_tool_stream.yaml", id="anthropic-stream"),
        pytest.param("test_openai_responses_model_web_search_tool_stream.yaml", id="openai-responses-stream"),
        pytest.param("test_google_stream_usage_is_live_mid_stream.yaml", id="gemini-stream"),
    ],
)
def test_inspect_reproduces_the_usage_real_providers_reported(corpus: Path, name: str) -> None:
    """Every interaction of a real recording comes out with truth.jsonl's normalised token numbers."""
    file = f"pydantic-ai/{name}"
    with (corpus / "truth.jsonl").open(encoding="utf-8") as lines:
        truth = [line for line in map(json.loads, lines) if line["file"] == file]
    assert truth, f"{file} is not in truth.jsonl"
    path = str(corpus / file)
    code, out, err = _run("inspect", "--json", path)
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert {row["cassette"] for row in rows} == {path}
    main_rows = {row["interaction"]: row for row in rows if row["part"] is None}
    assert sorted(main_rows) == sorted(line["interaction_index"] for line in truth)
    for line in truth:
        row = main_rows[line["interaction_index"]]
        assert row["model"] == line["model"]
        assert row["tokens"] == _tokens(
            line["total_input_tokens"],
            line["total_output_tokens"],
            line["cached_input_tokens"] or 0,
            line["cache_creation_input_tokens"] or 0,
            line["reasoning_tokens"] or 0,
        ), line["interaction_index"]
        assert not row["estimated"]
        assert not row["unpriced"]
        assert Decimal(row["usd"]) > 0
        extra = {
            f"{row['part']}@{row['model']}": row["tokens"]
            for row in rows
            if row["part"] is not None and row["interaction"] == line["interaction_index"]
        }
        expected = {key: _normalised(usage) for key, usage in (line.get("iterations_other_billable") or {}).items()}
        assert extra == expected

    code, out, err = _run("inspect", path)
    calls = f"{len(truth)} LLM call" + ("s" if len(truth) > 1 else "")
    assert out.splitlines()[-1].startswith(f"total: {calls} in 1 cassette, $")


GRPC = """\
# a gRPC recording kept beside the cassettes
interactions:
- method: /google.pubsub.v1.Publisher/Publish
  request: !!binary CgRhYmNk
"""
WEBSOCKET = """\
version: 1
frames:
  - {direction: sent, data: '{"type": "session.update"}'}
"""
CUSTOM_TAG = "interactions: !grpc_interactions [1, 2]\n"


def test_inspect_over_a_tree_skips_what_is_not_a_cassette_and_meters_the_rest(
    recorded: dict[tuple[str, int], Any], pytester: pytest.Pytester
) -> None:
    """A folder is searched; each YAML file that is not a vcrpy cassette is one line on stderr; exit 0."""
    other = pytester.path / "cassettes" / "other"
    other.mkdir()
    (other / "grpc.yaml").write_text(GRPC)
    (other / "socket.yml").write_text(WEBSOCKET)
    (other / "custom.yaml").write_text(CUSTOM_TAG)
    (other / "notes.txt").write_text("not yaml, not looked at")
    code, out, err = _run("inspect", "cassettes")
    assert code == 0
    skipped = err.splitlines()
    assert len(skipped) == 3
    for name in ("grpc.yaml", "socket.yml", "custom.yaml"):
        (line,) = [line for line in skipped if name in line]
        assert line.startswith("llm-cost inspect: skipped ")
    assert out.splitlines()[-1].startswith(f"total: {len(recorded)} LLM calls in 4 cassettes (3 files skipped), $")
    for cassette in CASSETTES:
        assert cassette in out
    # The same with --json: stdout stays one JSON document.
    code, out, err = _run("inspect", "--json", "cassettes")
    assert code == 0
    assert len(json.loads(out)) == len(recorded)
    assert len(err.splitlines()) == 3


def test_inspect_reading_no_cassette_at_all_is_an_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "a.yaml").write_text(GRPC)
    (pytester.path / "b.yaml").write_text(WEBSOCKET)
    code, out, err = _run("inspect", "a.yaml", "b.yaml")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == "llm-cost inspect: none of the 2 files is a vcrpy cassette"


OFFLINE_INSPECT = """
import sys

import tiktoken.load


def _offline(*args, **kwargs):
    raise OSError("no network: cannot download the encoding")


tiktoken.load.read_file = _offline
from pytest_llmcost.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_inspect_offline_without_tiktoken_data_is_one_line_not_a_traceback(
    recorded: dict[tuple[str, int], Any], pytester: pytest.Pytester
) -> None:
    """The estimated call is labelled estimated-unavailable; one line names TIKTOKEN_CACHE_DIR."""
    script = pytester.path / "offline_inspect.py"
    script.write_text(OFFLINE_INSPECT)
    env = {**__import__("os").environ, "TIKTOKEN_CACHE_DIR": str(pytester.mkdir("empty-cache"))}
    command = subprocess.run(
        [sys.executable, str(script), "inspect", "cassettes"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert command.returncode == 0, command.stderr
    assert "Traceback" not in command.stderr
    (line,) = command.stderr.splitlines()
    assert line.startswith("llm-cost inspect: 1 call without reported usage could not be estimated")
    assert "TIKTOKEN_CACHE_DIR" in line
    (row,) = [row for row in command.stdout.splitlines() if "test_estimated" in row]
    assert row.endswith("[estimated-unavailable]")
