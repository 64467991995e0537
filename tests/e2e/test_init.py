"""``llm-cost init``: a project set up in one command, idempotent, never overwriting anything."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmcost.cli import main
from pytest_llmcost.init import WORKFLOW_FILES

ROOT = Path(__file__).resolve().parents[2]
SCAFFOLD = ROOT / "pytest_llmcost" / "scaffold"
DIR_LINE = re.compile(r"(?m)^(  LLM_COST_DIR: ).*$")


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".git/" not in path.as_posix() + "/"
    }


def test_the_shipped_workflow_is_the_repositorys_but_for_llm_cost_dir() -> None:
    """The template users get is this repository's workflow, with LLM_COST_DIR left to fill in.

    After changing .github/, ``LLM_COST_UPDATE_TEMPLATES=1`` copies it into the package.
    """
    for name, target in WORKFLOW_FILES:
        repo = (ROOT / target).read_text()
        if name == "llm-cost.yml":
            repo, count = DIR_LINE.subn(r"\g<1>.", repo, count=1)
            assert count == 1, "the repository's workflow has no LLM_COST_DIR line"
        if os.environ.get("LLM_COST_UPDATE_TEMPLATES"):
            (SCAFFOLD / name).write_text(repo)
        assert (SCAFFOLD / name).read_text() == repo, f"pytest_llmcost/scaffold/{name} differs from {target}"


def test_a_new_project_is_set_up_and_a_second_run_changes_nothing(pytester: pytest.Pytester) -> None:
    (pytester.path / ".git").mkdir()
    (pytester.path / "tests").mkdir()
    code, out, err = _run("init")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "  created  pyproject.toml: [tool.pytest.ini_options]: added llm_cost_baseline, " in out
    assert "  created  .gitignore: ignores .llm-cost/" in lines
    assert "  created  .github/workflows/llm-cost.yml: LLM_COST_DIR: ." in lines
    assert "llm-cost init: set up . for pytest-llmcost" in lines
    commands = [line.strip() for line in lines[lines.index("next:") + 1 :] if not line.startswith("  1")]
    assert "pytest --llm-cost --llm-cost-record-mode=once" in commands
    assert "pytest --llm-cost --llm-cost-update" in commands
    assert any(command.startswith("git add ") and ".github/" in command for command in commands)
    assert (pytester.path / "pyproject.toml").read_text() == (
        "[tool.pytest.ini_options]\n"
        'llm_cost_baseline = "llm-cost-baseline.json"\n'
        'llm_cost_tolerance = "5%"\n'
        'llm_cost_record_mode = "none"\n'
    )
    assert (pytester.path / ".gitignore").read_text().splitlines()[-1] == ".llm-cost/"
    workflow = (pytester.path / ".github" / "workflows" / "llm-cost.yml").read_text()
    assert workflow == DIR_LINE.sub(r"\g<1>.", (ROOT / ".github" / "workflows" / "llm-cost.yml").read_text(), 1)
    assert (pytester.path / ".github" / "scripts" / "llm-cost-comment.js").is_file()

    before = _snapshot(pytester.path)
    code, out, err = _run("init")
    assert (code, err) == (0, "")
    assert _snapshot(pytester.path) == before
    assert "llm-cost init: nothing to change; . is already set up" in out.splitlines()
    assert "created" not in out
    assert "changed" not in out


PYPROJECT = (
    "[project]\r\n"
    'name = "agent"\r\n'
    "\r\n"
    "# our test settings\r\n"
    "[tool.pytest.ini_options]\r\n"
    'testpaths = ["tests"]   # keep this comment\r\n'
    'llm_cost_tolerance = "10%"\r\n'
    "addopts = [\r\n"
    '    "-ra",\r\n'
    "]\r\n"
    "\r\n"
    "[tool.ruff]\r\n"
    "line-length = 100\r\n"
)


def test_an_existing_pyproject_keeps_every_byte_and_every_option_already_set(pytester: pytest.Pytester) -> None:
    """Lines are added to the pytest table; the rest of the file, comments and CRLF included, stays."""
    path = pytester.path / "pyproject.toml"
    path.write_bytes(PYPROJECT.encode())
    (pytester.path / ".gitignore").write_text("build/\n.llm-cost/\n")
    code, out, _ = _run("init")
    assert code == 0
    text = path.read_bytes().decode()
    added = ['llm_cost_baseline = "llm-cost-baseline.json"\r\n', 'llm_cost_record_mode = "none"\r\n']
    assert text == PYPROJECT.replace("]\r\n\r\n[tool.ruff]", "]\r\n" + "".join(added) + "\r\n[tool.ruff]")
    assert "  kept     .gitignore: already ignores .llm-cost/" in out.splitlines()
    assert (pytester.path / ".gitignore").read_text() == "build/\n.llm-cost/\n"


def test_a_project_configured_in_pytest_ini_gets_its_options_there(pytester: pytest.Pytester) -> None:
    pyproject = '[project]\nname = "agent"\n'
    (pytester.path / "pyproject.toml").write_text(pyproject)
    (pytester.path / "pytest.ini").write_text("[pytest]\naddopts = -ra\n")
    code, out, _ = _run("init")
    assert code == 0
    assert (pytester.path / "pyproject.toml").read_text() == pyproject
    assert (pytester.path / "pytest.ini").read_text() == (
        "[pytest]\naddopts = -ra\n"
        "llm_cost_baseline = llm-cost-baseline.json\nllm_cost_tolerance = 5%\nllm_cost_record_mode = none\n"
    )
    assert "  changed  pytest.ini: [pytest]: added llm_cost_baseline, llm_cost_tolerance, llm_cost_record_mode" in out


def test_a_project_in_a_sub_folder_gets_the_workflow_at_the_repository_root(pytester: pytest.Pytester) -> None:
    (pytester.path / ".git").mkdir()
    project = pytester.mkdir("services")
    project = project / "agent"
    project.mkdir()
    existing = pytester.path / ".github" / "workflows" / "llm-cost-comment.yml"
    existing.parent.mkdir(parents=True)
    existing.write_text("# ours\n")
    code, out, _ = _run("init", "--dir", "services/agent")
    assert code == 0
    workflow = (pytester.path / ".github" / "workflows" / "llm-cost.yml").read_text()
    assert "\n  LLM_COST_DIR: services/agent\n" in workflow
    assert existing.read_text() == "# ours\n", "an existing file was overwritten"
    assert "  kept     .github/workflows/llm-cost-comment.yml: exists; not overwritten" in out.splitlines()
    assert (project / ".gitignore").read_text().endswith(".llm-cost/\n")
    assert (project / "pyproject.toml").exists()
    assert "next (from services/agent):" in out.splitlines()


def test_init_help_has_examples() -> None:
    code, out, _ = _run("init", "--help")
    assert code == 0
    assert "  llm-cost init --dir services/agent\n" in out


TESTS = """
import os

import openai


def test_chat(llm_cost):
    client = openai.OpenAI(base_url=os.environ["FAKE_LLM_URL"] + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
"""


def test_the_options_init_writes_drive_the_plugin(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three next commands, in a project init set up: recorded, accepted, then a replay that passes."""
    monkeypatch.chdir(pytester.path)
    (pytester.path / ".git").mkdir()
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_chat.py").write_text(TESTS)
    assert _run("init")[0] == 0
    path = pytester.path / "pyproject.toml"
    path.write_text(
        path.read_text().replace('llm_cost_baseline = "llm-cost-baseline.json"', 'llm_cost_baseline = "cost.json"')
    )
    pytester.runpytest("--llm-cost", "--llm-cost-record-mode=once", "-p", "no:randomly").assert_outcomes(passed=1)
    pytester.runpytest("--llm-cost", "--llm-cost-update", "-p", "no:randomly").assert_outcomes(passed=1)
    baseline = json.loads((pytester.path / "cost.json").read_text())
    assert list(baseline["tests"]) == ["tests/test_chat.py::test_chat"]
    result = pytester.runpytest("--llm-cost", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "not in the baseline" not in result.stdout.str()


def test_a_project_configured_in_setup_cfg_gets_its_options_there(pytester: pytest.Pytester) -> None:
    (pytester.path / "setup.cfg").write_text(
        "[metadata]\nname = agent\n\n[tool:pytest]\naddopts = -ra\n\n[flake8]\nx = 1\n"
    )
    assert _run("init")[0] == 0
    assert (pytester.path / "setup.cfg").read_text() == (
        "[metadata]\nname = agent\n\n[tool:pytest]\naddopts = -ra\n"
        "llm_cost_baseline = llm-cost-baseline.json\nllm_cost_tolerance = 5%\nllm_cost_record_mode = none\n"
        "\n[flake8]\nx = 1\n"
    )
    assert not (pytester.path / "pyproject.toml").exists()


def test_a_read_only_config_is_left_as_it_was_with_one_line(pytester: pytest.Pytester) -> None:
    path = pytester.path / "pyproject.toml"
    path.write_text('[project]\nname = "agent"\n')
    path.chmod(0o444)
    try:
        code, _, err = _run("init")
    finally:
        path.chmod(0o644)
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("llm-cost init: ")
    assert "pyproject.toml" in line
    assert path.read_text() == '[project]\nname = "agent"\n'
