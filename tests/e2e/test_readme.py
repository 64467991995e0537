"""The README cannot go stale: its commands exist, CI runs its first screen, its output is real."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from pytest_llmcost.cli import _parser
from pytest_llmcost.options import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()

#: pytest's and pytest-xdist's own flags the README uses.
OTHER_PYTEST_FLAGS = {"-n"}


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _commands() -> list[list[str]]:
    """Every command line of the README's bash blocks, split at ``&&`` and with comments dropped."""
    found = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if not line or line.startswith("#"):
                continue
            for part in line.split("&&"):
                found.append(shlex.split(part))
    return found


def test_the_first_screen_commands_are_what_ci_runs() -> None:
    """The two commands at the top of the README are run, verbatim, by .ci/run."""
    main_job, test_suite = _blocks("bash")[:2]
    assert "pytest --llm-cost" in main_job
    assert test_suite.strip() == 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]" && .venv/bin/pytest'
    assert test_suite.strip() in CI
    assert main_job.strip() in CI


def test_every_pytest_option_in_the_readme_exists() -> None:
    flags = {option.flag for option in OPTIONS}
    used = set()
    for command in _commands():
        if not command or Path(command[0]).name != "pytest":
            continue
        for argument in command[1:]:
            if argument.startswith("-"):
                flag = argument.split("=")[0]
                used.add(flag)
                assert flag in flags or flag in OTHER_PYTEST_FLAGS, f"unknown option {argument} in the README"
    for table_flag in re.findall(r"^\| `(--llm-cost[a-z-]*)", README, flags=re.MULTILINE):
        assert table_flag in flags, f"the configuration table lists {table_flag}, which does not exist"
    assert {option.flag for option in OPTIONS} <= set(re.findall(r"`(--llm-cost[a-z-]*)", README)), (
        "an option is missing from the README"
    )
    assert used


def test_every_llm_cost_command_in_the_readme_parses() -> None:
    parser = _parser()
    commands = [command[1:] for command in _commands() if command and command[0] == "llm-cost"]
    assert len(commands) >= 6
    for argv in commands:
        args = parser.parse_args(argv)
        assert callable(args.run)


def test_every_ini_key_is_documented() -> None:
    for option in OPTIONS:
        assert f"`{option.ini}`" in README
    assert "`llm_cost_runs_per_day`" in README


def test_the_quickstart_output_is_what_the_example_prints(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README shows the real LLM cost section of ``pytest --llm-cost`` in example_project."""
    shutil.copytree(
        ROOT / "example_project",
        pytester.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".llm-cost", "__pycache__"),
    )
    monkeypatch.syspath_prepend(str(pytester.path))
    for module in [name for name in sys.modules if name.split(".")[0] == "research_assistant"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setenv("COLUMNS", "96")
    result = pytester.runpytest("--llm-cost", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)

    def section(lines: list[str]) -> list[str]:
        start = next(i for i, line in enumerate(lines) if " LLM cost " in line and line.startswith("="))
        end = next(i for i, line in enumerate(lines) if line.startswith("summary: "))
        return lines[start : end + 1]

    shown = next(block for block in _blocks("text") if " LLM cost " in block).splitlines()
    assert section(result.outlines) == section(shown)


def test_the_pull_request_workflow_matches_what_the_plugin_writes() -> None:
    """The workflow users copy finds the comment by the marker the summary carries, at the default path."""
    import yaml

    from pytest_llmcost.report.markdown import MARKER

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "llm-cost.yml").read_text())
    (job,) = workflow["jobs"].values()
    steps = {step.get("name"): step for step in job["steps"]}
    directory = job["defaults"]["run"]["working-directory"]
    assert steps["Cost tests"]["run"] == "python -m pytest --llm-cost"
    assert steps["Cost tests"]["continue-on-error"] is True
    script = steps["Comment on the pull request"]["with"]["script"]
    assert f'"{MARKER}"' in script
    markdown_default = next(o.default for o in OPTIONS if o.ini == "llm_cost_markdown")
    report_dir = str(Path(markdown_default).parent)
    assert f'"{directory}/{markdown_default}"' in script
    assert steps["Upload the report"]["with"]["path"] == f"{directory}/{report_dir}/"
    assert "exit 1" in steps["Fail when the cost gate failed"]["run"]
    assert (ROOT / directory / "tests").is_dir()
