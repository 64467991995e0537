"""The README cannot go stale: its commands exist, CI runs its first screen, its output is real."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

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
    assert _normalised(section(result.outlines)) == _normalised(section(shown))


def test_the_pull_request_workflow_matches_what_the_plugin_writes() -> None:
    """The workflow users copy runs the cost tests and reads the summary at the plugin's default path
    (tests/e2e/test_workflow.py runs it end to end)."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "llm-cost.yml").read_text())
    (job,) = workflow["jobs"].values()
    steps = {step.get("name"): step for step in job["steps"]}
    directory = workflow["env"]["LLM_COST_DIR"]
    assert steps["Cost tests"]["run"].endswith("python -m pytest --llm-cost")
    assert steps["Cost tests"]["continue-on-error"] is True
    markdown_default = next(o.default for o in OPTIONS if o.ini == "llm_cost_markdown")
    assert markdown_default in (ROOT / ".github" / "workflows" / "llm-cost.yml").read_text()
    assert "exit 1" in steps["Fail when the cost tests failed"]["run"]
    assert (ROOT / directory / "tests").is_dir()


# -- the README's walkthroughs, run verbatim in a fresh virtualenv --------------------------------

#: What a pytest run's last line holds that changes from run to run.
_TIMING = re.compile(r"^=+ (.*?) in [0-9.]+s(?: \([0-9:]+\))? =+$")
#: The time a slow report took to write, after its path.
_WRITE_TIME = re.compile(r"^((?:results|report|summary): \S+) \([0-9.]+ s\)$")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else len(README)]


def _walkthrough(section: str) -> list[tuple[str, list[str] | None]]:
    """Each command line of the section's bash blocks, with the text block shown right after it."""
    steps: list[tuple[str, list[str] | None]] = []
    blocks = list(re.finditer(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL))
    for index, block in enumerate(blocks):
        if block.group(1) != "bash":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        shown = None
        if (
            following is not None
            and following.group(1) == "text"
            and not section[block.end() : following.start()].strip()
        ):
            shown = following.group(2).splitlines()
        lines = [line.split("  #")[0].strip() for line in block.group(2).splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
        for position, line in enumerate(lines):
            steps.append((line, shown if position == len(lines) - 1 else None))
    return steps


def _normalised(lines: list[str]) -> list[str]:
    return [_WRITE_TIME.sub(r"\1", _TIMING.sub(r"\1", line.rstrip())) for line in lines]


def _assert_shown(shown: list[str], output: str, command: str) -> None:
    """The README's output block is, line for line, a stretch of what the command printed."""
    want, got = _normalised(shown), _normalised(output.splitlines())
    for start in range(len(got) - len(want) + 1):
        if got[start : start + len(want)] == want:
            return
    raise AssertionError(f"the README shows, for `{command}`:\n" + "\n".join(shown) + "\n\nit printed:\n" + output)


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A new virtualenv that sees this one's packages (pytest, the SDKs...) but not pytest-llmcost or
    the example project, and a wheel of pytest-llmcost built from this checkout: no network needed."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    shared = root / "site"  # this venv's packages, less what the README's commands install
    shared.mkdir()
    ours = ("pytest_llmcost", "_pytest_llmcost", "__editable__", "research_assistant", "_research_assistant")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(ours) and entry.suffix != ".pth":
            (shared / entry.name).symlink_to(entry)
    (site_packages,) = (venv / "lib").glob("python*/site-packages")
    (site_packages / "_project_venv.pth").write_text(f"{shared}\n")
    # pytest is one of the shared packages: the user's project has its command.
    script = venv / "bin" / "pytest"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n\nimport pytest\n\nsys.exit(pytest.console_main())\n")
    script.chmod(0o755)
    wheels = root / "wheels"
    pip_wheel = [str(venv / "bin" / "python"), "-m", "pip", "wheel", "-q", "--no-deps", "--no-index"]
    pip_wheel.append("--no-build-isolation")
    build = subprocess.run(
        [*pip_wheel, "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    if build.returncode:
        pytest.skip(f"cannot build pytest-llmcost's wheel offline (hatchling missing?): {build.stderr[-300:]}")
    return venv, wheels


def _venv_env(venv: Path, wheels: Path, **extra: str) -> dict[str, str]:
    """The environment of a shell with ``venv`` activated; pip finds pytest-llmcost in ``wheels`` only."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "ANTHROPIC_", "PYTEST_", "VIRTUAL_ENV", "PIP_", "CI"))
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheels),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        COLUMNS="96",
        GIT_AUTHOR_NAME="README",
        GIT_AUTHOR_EMAIL="readme@example.com",
        GIT_COMMITTER_NAME="README",
        GIT_COMMITTER_EMAIL="readme@example.com",
        PYTEST_ADDOPTS="-p no:randomly -p no:asyncio -p no:timeout -p no:cacheprovider",
    )
    env.update(extra)
    return env


@pytest.mark.slow
def test_use_it_in_your_project_works_verbatim(
    fresh_venv: tuple[Path, Path], tmp_path: Path, fake_provider: Any
) -> None:
    """Every command of "Use it in your project", in a new project: install, record (against the fake
    provider through a mapped base URL, keys set), init, accept, commit, then replay with no key and
    no URL setting. Each output the README shows is what the command printed."""
    venv, wheels = fresh_venv
    section = _section("Use it in your project")
    steps = _walkthrough(section)
    assert [command.split()[0] for command, _ in steps] == ["pip", "pytest", "llm-cost", "pytest", "git", "env"]
    project = tmp_path / "myproject"
    (project / "tests").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    fake = fake_provider.url  # type: ignore[attr-defined]
    # The user's own project: its test is the README's, and it records through a local stand-in
    # for the API, mapped to the real host, as it would through a gateway.
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "myproject"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
        f'llm_cost_record_hosts = ["{fake}/v1 = https://api.openai.com/v1"]\n'
    )
    test_code = re.search(r"`tests/test_summarize.py`:\n\n```python\n(.*?)```", section, flags=re.DOTALL)
    assert test_code is not None
    (project / "tests" / "test_summarize.py").write_text(test_code.group(1))

    printed_next: list[str] = []
    for command, shown in steps:
        recording = "--llm-cost-record-mode" in command
        keys = {"OPENAI_API_KEY": "sk-recording-with-a-real-key", "OPENAI_BASE_URL": f"{fake}/v1"}
        result = _run(command, project, _venv_env(venv, wheels, **(keys if recording else {})))
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{output}"
        if os.environ.get("LLM_COST_README_OUTPUTS"):  # to refresh the README's output blocks by hand
            with open(os.environ["LLM_COST_README_OUTPUTS"], "a") as dump:
                dump.write(f"$ {command}\n{result.stdout}\n")
        elif shown is not None:
            _assert_shown(shown, result.stdout, command)
        if command == "llm-cost init":
            printed_next = [line.strip() for line in result.stdout.splitlines() if line.startswith("       ")]
        if command.startswith("pip install"):
            assert (venv / "bin" / "llm-cost").exists(), output
    # Step 5 is the command init printed; git has the cassette and the baseline, not .llm-cost/.
    assert steps[4][0] == printed_next[-1]
    tracked = subprocess.run(["git", "ls-files"], cwd=project, capture_output=True, text=True, check=True).stdout
    assert "tests/cassettes/test_summarize/test_summarize.yaml" in tracked.splitlines()
    assert "llm-cost-baseline.json" in tracked.splitlines()
    assert ".llm-cost/" not in tracked
    cassette = (project / "tests" / "cassettes" / "test_summarize" / "test_summarize.yaml").read_text()
    assert "https://api.openai.com/v1/chat/completions" in cassette
    assert "sk-recording-with-a-real-key" not in cassette


@pytest.mark.slow
def test_the_gate_story_works_verbatim(fresh_venv: tuple[Path, Path], tmp_path: Path) -> None:
    """The example project's gate story, from example_project/ with the venv named by path: re-record,
    fail on the synthesize step, accept."""
    venv, wheels = fresh_venv
    story = README[README.index("**The gate at work.**") :]
    story = story[: story.index("\n## ")]
    edit = re.search(r"```python\n(TOP_K_CHUNKS.*?)\n```", story)
    assert edit is not None
    checkout = tmp_path / "checkout"
    shutil.copytree(
        ROOT / "example_project",
        checkout / "example_project",
        ignore=shutil.ignore_patterns(".llm-cost", "__pycache__", "*.egg-info"),
    )
    shutil.copytree(
        ROOT / "tests" / "fakes", checkout / "tests" / "fakes", ignore=shutil.ignore_patterns("__pycache__")
    )
    (checkout / "tests" / "__init__.py").write_text("")
    (checkout / ".venv").symlink_to(venv)
    env = _venv_env(venv, wheels)
    env["PATH"] = env["PATH"].split(os.pathsep, 1)[1]  # not activated: the README names the venv's programs
    config = checkout / "example_project" / "research_assistant" / "config.py"
    config.write_text(re.sub(r"(?m)^TOP_K_CHUNKS\b.*$", edit.group(1), config.read_text(), count=1))
    # The first command's installs (its -e of the example: installed here as it is after the edit).
    for install in ("pytest-llmcost", f"--no-build-isolation {checkout / 'example_project'}"):
        done = _run(f"{venv / 'bin' / 'python'} -m pip install -q --no-deps {install}", checkout, env)
        assert done.returncode == 0, done.stdout + done.stderr
    commands = [command for command, _ in _walkthrough(story)]
    assert len(commands) == 3
    outcomes = [_run(command, checkout / "example_project", env) for command in commands]
    record, gate, accept = outcomes
    assert record.returncode == 0, record.stdout + record.stderr
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "LLM cost of step synthesize" in gate.stdout
    assert "REGRESSED" in gate.stdout
    assert accept.returncode == 0, accept.stdout + accept.stderr
    assert "llm-cost-baseline.json: " in accept.stdout
    assert "changed" in accept.stdout
