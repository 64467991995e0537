"""The GitHub workflows to copy, run: shell steps under a fake GitHub environment, the comment script under node.

A throwaway git repository holds a copy of example_project: a ``main`` branch whose baseline is
cheaper on ``synthesize`` than the cassettes, and a pull-request branch that accepted today's cost
into its own baseline. The steps of ``llm-cost.yml`` run in order with bash, as the runner would,
with ``${{ ... }}`` substituted by a small helper that knows only the expressions the workflows use.
The ``uses:`` steps are simulated: checkout is the clone, setup-python is this virtualenv, an upload
records its folder, and github-script runs its script under node with a mocked GitHub API.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPT = ROOT / ".github" / "scripts" / "llm-cost-comment.js"
NODE = shutil.which("node") or ("/usr/bin/node" if Path("/usr/bin/node").exists() else None)
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")

PROJECT_WORKFLOWS = ("llm-cost.yml", "llm-cost-sharded.yml")
ALL_WORKFLOWS = (*PROJECT_WORKFLOWS, "llm-cost-comment.yml")
ENV_LINE = "  LLM_COST_DIR: example_project"
DIR_VARIABLE = "${{ env.LLM_COST_DIR }}"
CLI_MARKER = "<!-- pytest-llmcost:summary -->"
BOT = {"login": "github-actions[bot]", "type": "Bot"}
LIMIT = 65536


# -- the workflow files --------------------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict), name
    return data


def _steps(workflow: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", ALL_WORKFLOWS)
def test_the_workflow_parses_and_names_no_folder_but_in_its_one_variable(name: str) -> None:
    """Every path comes from LLM_COST_DIR: the folder is written once, on the env line, and nowhere else."""
    workflow = _load(name)
    assert workflow["jobs"], name
    lines = [line for line in (WORKFLOWS / name).read_text().splitlines() if "example_project" in line]
    if name in PROJECT_WORKFLOWS:
        assert lines == [ENV_LINE], name
        assert workflow["env"]["LLM_COST_DIR"] == "example_project"
        assert workflow["env"]["LLM_COST_COMMENT"] == "changed"
        for job_name, job in workflow["jobs"].items():
            assert job["defaults"]["run"]["working-directory"] == DIR_VARIABLE, job_name
        for step in _steps(workflow):
            if "path" in step.get("with", {}):
                assert step["with"]["path"].startswith(f"{DIR_VARIABLE}/"), step
    else:
        assert lines == [], name
    assert "example_project" not in SCRIPT.read_text()


@pytest.mark.parametrize("name", ALL_WORKFLOWS)
def test_every_comment_step_runs_the_one_script(name: str) -> None:
    scripts = [step["with"]["script"] for step in _steps(_load(name)) if "github-script" in step.get("uses", "")]
    assert scripts, name
    for script in scripts:
        assert 'require("./.github/scripts/llm-cost-comment.js")' in script
    assert SCRIPT.is_file()


@pytest.mark.parametrize("name", ALL_WORKFLOWS)
def test_uploads_of_the_hidden_folder_include_it(name: str) -> None:
    """upload-artifact@v4 leaves out hidden files unless told: `.llm-cost/` would be an empty artifact."""
    for step in _steps(_load(name)):
        if "upload-artifact" in step.get("uses", "") and "/." in step["with"]["path"]:
            assert step["with"].get("include-hidden-files") is True, step


@pytest.mark.parametrize("name", PROJECT_WORKFLOWS)
def test_one_run_per_pull_request(name: str) -> None:
    concurrency = _load(name)["concurrency"]
    assert "github.event.pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is True


def test_the_comment_workflow_follows_both_pull_request_workflows() -> None:
    """llm-cost-comment.yml lists the names of the workflows that hand it their comment, and only forks."""
    comment = _load("llm-cost-comment.yml")
    on: dict[Any, Any] = comment
    trigger = on[True]["workflow_run"]  # YAML 1.1 reads the key `on` as true
    assert sorted(trigger["workflows"]) == sorted(_load(name)["name"] for name in PROJECT_WORKFLOWS)
    assert trigger["types"] == ["completed"]
    assert "head_repository.full_name != github.repository" in comment["jobs"]["comment"]["if"]
    assert comment["permissions"] == {"actions": "read", "contents": "read", "pull-requests": "write"}


def test_the_sharded_workflow_merges_the_shards_before_the_report() -> None:
    workflow = _load("llm-cost-sharded.yml")
    shard = workflow["jobs"]["shard"]
    run = next(step["run"] for step in shard["steps"] if step.get("id") == "cost")
    assert "--shard-id" in run
    assert "--num-shards" in run
    assert '--llm-cost-results ".llm-cost/results-$SHARD.json"' in run
    report = workflow["jobs"]["report"]
    assert report["needs"] == "shard"
    runs = [step.get("run", "") for step in report["steps"]]
    merge = next(i for i, run in enumerate(runs) if run.startswith("llm-cost merge .llm-cost/results-*.json"))
    compare = next(i for i, run in enumerate(runs) if run.startswith("llm-cost report"))
    assert merge < compare


# -- the comment script, under node --------------------------------------------------------------

HARNESS = r"""
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");
const [scriptPath, scenarioPath] = process.argv.slice(2);
const scenario = JSON.parse(fs.readFileSync(scenarioPath, "utf8"));
const calls = [];
const log = [];
const outputs = {};
let failed = null;
const github = {
  paginate: async (method, params) => {
    if (method !== github.rest.issues.listComments) throw new Error("paginate of an unexpected method");
    calls.push({ call: "listComments", ...params });
    return scenario.comments || [];
  },
  rest: {
    issues: {
      listComments: async () => { throw new Error("listComments without paginate"); },
      createComment: async (params) => {
        calls.push({ call: "createComment", ...params });
        return { data: { id: 1000, html_url: "https://github.com/acme/agent/pull/7#issuecomment-1000" } };
      },
      updateComment: async (params) => { calls.push({ call: "updateComment", ...params }); return { data: {} }; },
    },
    pulls: {
      get: async (params) => { calls.push({ call: "getPull", ...params }); return { data: scenario.pull }; },
    },
  },
};
const core = {
  info: (message) => log.push(["info", String(message)]),
  notice: (message) => log.push(["notice", String(message)]),
  warning: (message) => log.push(["warning", String(message)]),
  setFailed: (message) => { failed = String(message); },
  setOutput: (name, value) => { outputs[name] = value; },
};
const payload = scenario.payload || {};
const number = payload.pull_request ? payload.pull_request.number : 7;
const context = { repo: { owner: "acme", repo: "agent" }, issue: { number }, payload };
(async () => {
  let action;
  if (scenario.mode === "step") {
    // As actions/github-script runs its `script:`: an async function body, `require` relative to the cwd.
    const wrapped = createRequire(path.join(process.cwd(), "github-script.js"));
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
    const step = new AsyncFunction("require", "github", "context", "core", scenario.script);
    action = await step(wrapped, github, context, core);
  } else {
    const comment = require(scriptPath);
    action = scenario.folder
      ? await comment.fromArtifact({ github, context, core }, scenario.folder, scenario.env)
      : await comment({ github, context, core }, scenario.env);
  }
  process.stdout.write(JSON.stringify({ action: action === undefined ? null : action, calls, log, failed, outputs }));
})().catch((error) => { console.error(error && error.stack ? error.stack : error); process.exit(1); });
"""


def run_node(
    folder: Path, scenario: Mapping[str, Any], cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run the comment script (or a github-script step) under node with a mocked GitHub; what it did."""
    assert NODE is not None
    harness = folder / "harness.js"
    harness.write_text(HARNESS)
    scenario_file = folder / "scenario.json"
    scenario_file.write_text(json.dumps(scenario))
    done = subprocess.run(
        [NODE, str(harness), str(SCRIPT), str(scenario_file)],
        cwd=cwd or folder,
        env=dict(env) if env is not None else {"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def writes(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [call for call in result["calls"] if call["call"] in ("createComment", "updateComment")]


def marker(key: str) -> str:
    return f"<!-- pytest-llmcost:comment {key} -->"


def a_comment(id_: int, body: str, user: Mapping[str, str] = BOT) -> dict[str, Any]:
    return {
        "id": id_,
        "body": body,
        "user": dict(user),
        "html_url": f"https://github.com/acme/agent/pull/7#issuecomment-{id_}",
    }


@pytest.fixture
def summary(tmp_path: Path) -> Path:
    path = tmp_path / "summary.md"
    path.write_text(f"{CLI_MARKER}\nThis change raises LLM cost per test run by $0.0018 (+2.0%): synthesize +59%.\n")
    return path


def settings(summary: Path, **env: str) -> dict[str, str]:
    return {"LLM_COST_SUMMARY": str(summary), "LLM_COST_KEY": "example_project", **env}


@needs_node
def test_own_comment_is_updated_and_look_alikes_are_left_alone(tmp_path: Path, summary: Path) -> None:
    """Marker AND author: a person's or another bot's copy of the marker, or another project's comment, stays."""
    own_marker = marker("example_project")
    comments = [
        a_comment(5, f"{own_marker}\nquoted by a person", {"login": "mallory", "type": "User"}),
        a_comment(6, f"{own_marker}\nanother app", {"login": "renovate[bot]", "type": "Bot"}),
        a_comment(8, f"{marker('services-billing')}\nthe other project's comment"),
        a_comment(9, "an unrelated comment of the bot"),
        a_comment(11, f"{own_marker}\nthe old summary"),
    ]
    result = run_node(tmp_path, {"comments": comments, "env": settings(summary, LLM_COST_CHANGED="true")})
    assert result["failed"] is None
    assert result["action"] == "updated"
    (write,) = writes(result)
    assert write["call"] == "updateComment"
    assert write["comment_id"] == 11
    assert (
        write["body"]
        == f"{own_marker}\nThis change raises LLM cost per test run by $0.0018 (+2.0%): synthesize +59%.\n"
    )
    assert result["outputs"] == {"action": "updated"}


@needs_node
def test_a_first_comment_is_created_with_the_projects_marker(tmp_path: Path, summary: Path) -> None:
    look_alike = a_comment(5, f"{marker('example_project')}\nquoted", {"login": "mallory", "type": "User"})
    result = run_node(tmp_path, {"comments": [look_alike], "env": settings(summary, LLM_COST_CHANGED="true")})
    (write,) = writes(result)
    assert write["call"] == "createComment"
    assert write["issue_number"] == 7
    assert write["body"].splitlines()[0] == marker("example_project")
    assert CLI_MARKER not in write["body"]


@needs_node
@pytest.mark.parametrize("comments", [[], [a_comment(5, "a comment of the bot without the marker")]])
def test_no_new_comment_when_nothing_changed(tmp_path: Path, summary: Path, comments: list[dict[str, Any]]) -> None:
    """Under LLM_COST_COMMENT=changed (the default) an unchanged cost adds no comment."""
    result = run_node(tmp_path, {"comments": comments, "env": settings(summary, LLM_COST_CHANGED="false")})
    assert result["action"] == "skipped"
    assert writes(result) == []
    assert [
        "info",
        "LLM cost is unchanged against the base branch: no comment (LLM_COST_COMMENT is changed)",
    ] in result["log"]


@needs_node
def test_an_earlier_comment_is_updated_when_nothing_changes_now(tmp_path: Path, summary: Path) -> None:
    """The regression was fixed: the comment that reported it must not stay stale."""
    old = a_comment(11, f"{marker('example_project')}\nsynthesize +141%: over its allowed delta")
    result = run_node(tmp_path, {"comments": [old], "env": settings(summary, LLM_COST_CHANGED="false")})
    (write,) = writes(result)
    assert write["call"] == "updateComment"
    assert write["comment_id"] == 11
    assert "+141%" not in write["body"]


@needs_node
def test_an_identical_comment_is_not_rewritten(tmp_path: Path, summary: Path) -> None:
    body = marker("example_project") + "\n" + summary.read_text().split("\n", 1)[1]
    result = run_node(tmp_path, {"comments": [a_comment(11, body)], "env": settings(summary, LLM_COST_CHANGED="true")})
    assert result["action"] == "unchanged"
    assert writes(result) == []


@needs_node
@pytest.mark.parametrize(
    ("policy", "changed", "expected"),
    [("always", "false", "created"), ("never", "true", "skipped"), ("changed", "", "created")],
)
def test_the_comment_policy(tmp_path: Path, summary: Path, policy: str, changed: str, expected: str) -> None:
    """always comments even when unchanged; never never does; an unknown change counts as a change."""
    result = run_node(
        tmp_path, {"comments": [], "env": settings(summary, LLM_COST_COMMENT=policy, LLM_COST_CHANGED=changed)}
    )
    assert result["action"] == expected
    assert len(writes(result)) == (expected == "created")


@needs_node
def test_a_misspelt_policy_fails_the_step(tmp_path: Path, summary: Path) -> None:
    result = run_node(tmp_path, {"comments": [], "env": settings(summary, LLM_COST_COMMENT="on-change")})
    assert result["failed"] == 'LLM_COST_COMMENT is "on-change": set it to changed, always or never'
    assert result["calls"] == []


@needs_node
def test_an_oversized_body_is_refused_and_one_at_the_limit_is_posted(tmp_path: Path) -> None:
    """GitHub rejects a comment over 65,536 characters: the script refuses it with the numbers, before any call."""
    head = marker("example_project") + "\n"
    at_limit = tmp_path / "at-limit.md"
    at_limit.write_text(CLI_MARKER + "\n" + "x" * (LIMIT - len(head)))
    posted = run_node(tmp_path, {"comments": [], "env": settings(at_limit, LLM_COST_CHANGED="true")})
    (write,) = writes(posted)
    assert len(write["body"]) == LIMIT

    over = tmp_path / "over.md"
    over.write_text(CLI_MARKER + "\n" + "x" * (LIMIT - len(head) + 1))
    refused = run_node(tmp_path, {"comments": [], "env": settings(over, LLM_COST_CHANGED="true")})
    assert refused["action"] == "refused"
    assert refused["calls"] == []
    assert refused["failed"] == (
        f"{over} makes a comment of 65537 characters, over GitHub's limit of 65536: "
        "not posted; the full report is in the run's artifact"
    )


@needs_node
def test_a_missing_summary_posts_nothing(tmp_path: Path) -> None:
    result = run_node(tmp_path, {"comments": [], "env": settings(tmp_path / "absent.md", LLM_COST_CHANGED="true")})
    assert result["action"] == "skipped"
    assert result["calls"] == []
    assert result["log"] == [
        [
            "warning",
            f"{tmp_path / 'absent.md'} does not exist: the cost report did not run, so there is nothing to post",
        ]
    ]


def _artifact(folder: Path, meta: Mapping[str, Any]) -> Path:
    folder.mkdir()
    (folder / "comment.json").write_text(json.dumps(meta))
    (folder / "summary.md").write_text(f"{CLI_MARKER}\nfrom a fork\n")
    return folder


@needs_node
def test_a_fork_comment_goes_to_the_pull_request_whose_head_was_tested(tmp_path: Path) -> None:
    folder = _artifact(tmp_path / "llm-cost-comment-x", {"pr": 31, "changed": "true", "comment": "changed", "key": "x"})
    payload = {"workflow_run": {"head_sha": "abc123", "event": "pull_request"}}
    result = run_node(tmp_path, {"folder": str(folder), "payload": payload, "pull": {"head": {"sha": "abc123"}}})
    assert result["failed"] is None
    assert result["calls"][0] == {"call": "getPull", "owner": "acme", "repo": "agent", "pull_number": 31}
    (write,) = writes(result)
    assert write == {
        "call": "createComment",
        "owner": "acme",
        "repo": "agent",
        "issue_number": 31,
        "body": f"{marker('x')}\nfrom a fork\n",
    }


@needs_node
def test_a_fork_comment_for_another_head_is_not_posted(tmp_path: Path) -> None:
    """The artifact comes from the fork's code: a number that points at another pull request's head posts nothing."""
    folder = _artifact(tmp_path / "c", {"pr": 1, "changed": "true", "comment": "changed", "key": "x"})
    payload = {"workflow_run": {"head_sha": "abc123"}}
    result = run_node(tmp_path, {"folder": str(folder), "payload": payload, "pull": {"head": {"sha": "fff999"}}})
    assert result["action"] == "skipped"
    assert writes(result) == []


@needs_node
@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"pr": "7; true", "key": "x"}, '"pr" is "7; true", not a pull request number'),
        ({"pr": 0, "key": "x"}, '"pr" is 0, not a pull request number'),
    ],
)
def test_a_fork_comment_with_a_bad_number_fails(tmp_path: Path, meta: dict[str, Any], message: str) -> None:
    folder = _artifact(tmp_path / "c", meta)
    result = run_node(tmp_path, {"folder": str(folder), "payload": {"workflow_run": {"head_sha": "a"}}, "pull": {}})
    assert result["failed"] == f"{folder / 'comment.json'}: {message}"
    assert result["calls"] == []


# -- the workflow, run ---------------------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)
TOKEN = re.compile(r"(\s+)|('(?:[^']|'')*')|(&&|\|\||==|!=|!|\(|\))|([A-Za-z_][\w.\-]*(?:\(\))?)")
FUNCTIONS = {"always()", "success()", "failure()", "cancelled()"}


@dataclass
class Step:
    name: str
    outcome: str  # success, failure or skipped, as steps.<id>.outcome
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""


@dataclass
class Job:
    """One job of a workflow, run as GitHub runs it, with the state its expressions read."""

    workflow: dict[str, Any]
    name: str
    workspace: Path
    event: dict[str, Any]
    github: dict[str, str]
    base_env: dict[str, str]
    scratch: Path
    uses: Mapping[str, Callable[[Job, dict[str, Any], dict[str, str]], Step]]
    skip: frozenset[str] = frozenset({"install"})
    #: Values of the contexts a job of a matrix or with `needs:` reads: ``matrix.shard``, ``needs.shard.result``.
    extra: Mapping[str, object] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)
    ran: list[Step] = field(default_factory=list)
    status: str = "success"

    def value(self, name: str) -> object:
        if name in self.extra:
            return self.extra[name]
        head, _, rest = name.partition(".")
        if head == "env":
            return self.env.get(rest, "")
        if head == "github" and rest.startswith("event."):
            node: Any = self.event
            for part in rest.split(".")[1:]:
                node = node.get(part) if isinstance(node, dict) else None
            return node
        if head == "github":
            return self.github[rest]
        if head == "steps":
            step_id, _, what = rest.partition(".")
            ids = {spec.get("id") for spec in self.workflow["jobs"][self.name]["steps"]}
            assert step_id in ids, f"{name}: the job has no step with the id {step_id!r}"
            step = self.steps.get(step_id)
            if what.startswith("outputs."):
                return step.outputs.get(what.removeprefix("outputs."), "") if step else ""
            assert what == "outcome", f"{name}: the test's helper knows a step's outcome and outputs only"
            return step.outcome if step else ""
        if name == "runner.temp":
            return str(self.scratch)
        raise KeyError(f"the test's expression helper does not know {name!r}: teach it, as GitHub defines it")

    def evaluate(self, expression: str) -> object:
        expression = expression.strip()
        if expression.startswith("${{") and expression.endswith("}}"):
            expression = expression[3:-2]
        python, at = [], 0
        for match in TOKEN.finditer(expression):
            assert match.start() == at, f"cannot read {expression[at:]!r} in {expression!r}"
            at = match.end()
            space, string, operator, name = match.groups()
            if space:
                python.append(" ")
            elif string:
                python.append(repr(string[1:-1].replace("''", "'")))
            elif operator:
                python.append({"&&": " and ", "||": " or ", "!": " not "}.get(operator, operator))
            elif name in FUNCTIONS:
                truth = {"always()": True, "cancelled()": False}
                python.append(repr(truth.get(name, self.status == name.removesuffix("()"))))
            elif name in ("true", "false", "null"):
                python.append({"true": "True", "false": "False", "null": "None"}[name])
            else:
                python.append(repr(self.value(name)))
        assert at == len(expression), f"cannot read {expression[at:]!r} in {expression!r}"
        return eval("".join(python), {"__builtins__": {}}, {})  # only literals and operators

    def substitute(self, text: str) -> str:
        def text_of(match: re.Match[str]) -> str:
            value = self.evaluate(match.group(1))
            return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

        return EXPRESSION.sub(text_of, text)

    def run(self, summary_file: Path) -> Job:
        definition = self.workflow["jobs"][self.name]
        self.env = {key: self.substitute(str(value)) for key, value in self.workflow.get("env", {}).items()}
        self.env.update({key: self.substitute(str(value)) for key, value in definition.get("env", {}).items()})
        default_dir = definition.get("defaults", {}).get("run", {}).get("working-directory", ".")
        for index, spec in enumerate(definition["steps"]):
            name = spec.get("name") or spec.get("uses") or f"step {index}"
            step_id = spec.get("id", f"__{index}")
            if not self.evaluate(str(spec.get("if", "success()"))):
                step = Step(name, "skipped")
            else:
                env = {**self.env, **{key: self.substitute(str(value)) for key, value in spec.get("env", {}).items()}}
                if "uses" in spec:
                    action = spec["uses"].split("@")[0]
                    step = self.uses[action](self, spec, env)
                elif step_id in self.skip:
                    step = Step(name, "success")
                else:
                    folder = self.workspace / self.substitute(spec.get("working-directory", default_dir))
                    step = self._bash(name, index, self.substitute(spec["run"]), folder, env, summary_file)
                if step.outcome == "failure" and not spec.get("continue-on-error"):
                    self.status = "failure"
            self.steps[step_id] = step
            self.ran.append(step)
        return self

    def _bash(self, name: str, index: int, script: str, folder: Path, env: Mapping[str, str], summary: Path) -> Step:
        script_file = self.scratch / f"step-{index}.sh"
        script_file.write_text(script)
        output = self.scratch / f"output-{index}"
        output.write_text("")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=folder,
            env={**self.base_env, **env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        return Step(name, "success" if done.returncode == 0 else "failure", outputs, done.stdout, done.stderr)

    def step(self, name: str) -> Step:
        (step,) = [step for step in self.ran if step.name == name]
        return step

    def transcript(self) -> str:
        return "\n".join(f"--- {s.name}: {s.outcome}\n{s.stdout}{s.stderr}" for s in self.ran)


def _simulated(outcome: str = "success") -> Callable[[Job, dict[str, Any], dict[str, str]], Step]:
    return lambda job, spec, env: Step(spec.get("name", spec["uses"]), outcome)


@dataclass
class Artifacts:
    """upload-artifact and download-artifact, on a dict: artifact name -> uploaded folder or file."""

    stored: dict[str, Path] = field(default_factory=dict)

    def upload(self, job: Job, spec: dict[str, Any], env: dict[str, str]) -> Step:
        name = job.substitute(spec["with"]["name"])
        assert name not in self.stored, f"two artifacts named {name}"
        path = job.workspace / job.substitute(spec["with"]["path"])
        self.stored[name] = path
        return Step(spec.get("name", "upload"), "success" if path.exists() else "failure")

    def download(self, job: Job, spec: dict[str, Any], env: dict[str, str]) -> Step:
        pattern = job.substitute(spec["with"]["pattern"])
        target = job.workspace / job.substitute(spec["with"]["path"])
        merge = spec["with"].get("merge-multiple") is True
        for name, path in self.stored.items():
            if not fnmatch.fnmatch(name, pattern):
                continue
            into = target if merge else target / name
            if path.is_dir():
                shutil.copytree(path, into, dirs_exist_ok=True)
            else:
                into.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, into / path.name)
        return Step(spec.get("name", "download"), "success")


def github_script(comments: list[dict[str, Any]], pull: Mapping[str, Any] | None = None) -> Any:
    """actions/github-script: the step's script under node, with a mocked GitHub; its calls in Step.outputs."""

    def run(job: Job, spec: dict[str, Any], env: dict[str, str]) -> Step:
        if NODE is None:
            return Step(spec["name"], "success", {"node": "absent"})
        folder = job.scratch / f"script-{len(job.ran)}"
        folder.mkdir()
        scenario = {
            "mode": "step",
            "script": spec["with"]["script"],
            "comments": comments,
            "pull": pull,
            "payload": job.event,
        }
        result = run_node(folder, scenario, cwd=job.workspace, env={**job.base_env, **env})
        outcome = "failure" if result["failed"] else "success"
        return Step(spec["name"], outcome, {"result": json.dumps(result)})

    return run


# -- the throwaway repository --------------------------------------------------------------------

PROJECT = "apps/research-assistant"  # not example_project: the one variable moves every path
KEY = "apps-research-assistant"
CUT_TOKENS = 200  # synthesize's input tokens per call on main, fewer than the cassettes give
SONNET_USD_PER_INPUT_TOKEN = Decimal(3) / 1_000_000
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def cheaper_synthesize(baseline: dict[str, Any]) -> dict[str, Any]:
    """The baseline with every test's synthesize step CUT_TOKENS input tokens per call cheaper, totals to match."""
    data = copy.deepcopy(baseline)
    at = data["token_kinds"].index("input")
    changed = 0
    for entry in data["tests"].values():
        step = entry["steps"].get("synthesize")
        if step is None:
            continue
        saved = Decimal(0)
        for provider, models in step["models"].items():
            for model, usage in models.items():
                assert model == "claude-sonnet-4-6", f"the example's synthesize now uses {model}: update the price here"
                totals = entry["models"][provider][model]
                assert totals["calls"] == usage["calls"], "the model is used outside synthesize too"
                cut = CUT_TOKENS * usage["calls"]
                for line in (usage, totals):
                    assert line["tokens"]["input"] > cut
                    line["tokens"]["input"] -= cut
                    for vector in line.get("per_call", ()):
                        vector[at] -= CUT_TOKENS
                    line["usd"] = str(Decimal(line["usd"]) - cut * SONNET_USD_PER_INPUT_TOKEN)
                saved += cut * SONNET_USD_PER_INPUT_TOKEN
        step["usd"] = str(Decimal(step["usd"]) - saved)
        entry["usd"] = str(Decimal(entry["usd"]) - saved)
        changed += 1
    assert changed >= 3, "the example has fewer tests with a synthesize step than this test expects"
    return data


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=folder, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def make_repository(tmp_path: Path, base_baseline: dict[str, Any] | None) -> Path:
    """origin: `main` with base_baseline (None: no baseline), `pr` with today's; returns a clone at `pr`."""
    origin = make_origin(tmp_path, base_baseline)
    return clone(origin, tmp_path / "work")


def clone(origin: Path, work: Path) -> Path:
    """A job's checkout: the pull request's branch, with `origin/main` to fetch from."""
    git(origin.parent, "clone", "-q", "-b", "pr", str(origin), str(work))
    return work


def make_origin(tmp_path: Path, base_baseline: dict[str, Any] | None) -> Path:
    origin = tmp_path / "origin"
    project = origin / PROJECT
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".llm-cost", "__pycache__", ".pytest_cache"))
    shutil.copytree(ROOT / ".github", origin / ".github")
    for name in PROJECT_WORKFLOWS:  # the one edit a user makes
        path = origin / ".github" / "workflows" / name
        path.write_text(path.read_text().replace(ENV_LINE, f"  LLM_COST_DIR: {PROJECT}"))
    (origin / ".gitignore").write_text(".llm-cost/\n__pycache__/\n.pytest_cache/\n")
    today = (project / "llm-cost-baseline.json").read_text()
    git(origin, "init", "-q", "-b", "main")
    if base_baseline is None:
        (project / "llm-cost-baseline.json").unlink()
    else:
        (project / "llm-cost-baseline.json").write_text(json.dumps(base_baseline, indent=2, sort_keys=True) + "\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "main")
    git(origin, "checkout", "-q", "-b", "pr")
    (project / "llm-cost-baseline.json").write_text(today)  # `llm-cost update-baseline` + commit
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "Accept today's LLM cost")
    return origin


def pull_request_event(work: Path, head_repo: str) -> dict[str, Any]:
    """A fake pull_request event: pull request #7 from head_repo's `pr` into acme/agent's main."""
    return {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"ref": "pr", "sha": git(work, "rev-parse", "HEAD"), "repo": {"full_name": head_repo}},
            "base": {"ref": "main", "repo": {"full_name": "acme/agent"}},
        },
        "repository": {"full_name": "acme/agent"},
    }


def run_pull_request(tmp_path: Path, work: Path, head_repo: str, artifacts: Artifacts, comments: list[Any]) -> Job:
    """llm-cost.yml's job, under a fake pull_request event from head_repo."""
    event = pull_request_event(work, head_repo)
    return run_job(tmp_path, work, "llm-cost.yml", "llm-cost", event, artifacts, comments)


def run_job(
    tmp_path: Path,
    work: Path,
    workflow: str,
    job_name: str,
    event: dict[str, Any],
    artifacts: Artifacts,
    comments: list[Any],
    pull: Mapping[str, Any] | None = None,
    extra: Mapping[str, object] | None = None,
    more_env: Mapping[str, str] | None = None,
) -> Job:
    """One job of ``workflow`` in the checkout ``work``, in its own runner folder."""
    scratch = tmp_path / f"runner-{len(list(tmp_path.glob('runner-*')))}-{job_name}"
    scratch.mkdir()
    event_path = scratch / "event.json"
    event_path.write_text(json.dumps(event))
    leave_out = (
        "GITHUB_",
        "RUNNER_",
        "PYTEST_",
        "OPENAI_",
        "ANTHROPIC_",
        "GEMINI_",
        "GOOGLE_",
        "SEARCH_API",
        "FAKE_LLM",
    )
    base_env = {key: value for key, value in os.environ.items() if not key.startswith(leave_out) and key != "CI"}
    base_env.update(
        {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request" if "pull_request" in event else "workflow_run",
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_BASE_REF": "main",
            "GITHUB_HEAD_REF": "pr",
            "GITHUB_REPOSITORY": "acme/agent",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_WORKSPACE": str(work),
            "RUNNER_TEMP": str(scratch),
            **(more_env or {}),
        }
    )
    definition = yaml.safe_load((work / ".github" / "workflows" / workflow).read_text())
    job = Job(
        workflow=definition,
        name=job_name,
        workspace=work,
        event=event,
        github={"repository": "acme/agent", "workflow": definition["name"], "token": "fake-token"},
        base_env=base_env,
        scratch=scratch,
        uses={
            "actions/checkout": _simulated(),  # the clone is the checkout
            "actions/setup-python": _simulated(),  # this virtualenv's python is first on PATH
            "actions/upload-artifact": artifacts.upload,
            "actions/download-artifact": artifacts.download,
            "actions/github-script": github_script(comments, pull),
        },
        extra=extra or {},
    )
    condition = definition["jobs"][job_name].get("if")
    assert condition is None or job.evaluate(str(condition)), f"the job {job_name} would not run"
    return job.run(scratch / "step-summary.md")


def accepted_step(summary: str, step: str) -> bool:
    """Whether a line of the summary shows ``step`` with the status accepted."""
    return any("accepted" in line.lower() and f"`{step}`" in line for line in summary.splitlines())


@pytest.fixture
def base_baseline() -> dict[str, Any]:
    return cheaper_synthesize(json.loads((EXAMPLE / "llm-cost-baseline.json").read_text()))


def test_a_pull_request_that_accepted_its_increase_is_judged_against_main(
    tmp_path: Path, base_baseline: dict[str, Any]
) -> None:
    """The issue's story: the PR accepted its rise in its own baseline; the comment shows it against main."""
    work = make_repository(tmp_path, base_baseline)
    artifacts = Artifacts()
    job = run_pull_request(tmp_path, work, "acme/agent", artifacts, comments=[])
    transcript = job.transcript()

    assert job.steps["cost"].outcome == "success", transcript  # the PR's own baseline accepts today's cost
    assert job.steps["report"].outcome == "success", transcript
    assert job.steps["report"].outputs.get("changed") == "true", transcript
    assert job.status == "success", transcript
    assert job.step("Fail when the cost tests failed").outcome == "skipped"

    folder = work / PROJECT / ".llm-cost"
    assert json.loads((folder / "base-baseline.json").read_text()) == base_baseline
    summary = (folder / "summary.md").read_text()
    assert summary.splitlines()[0] == CLI_MARKER
    assert accepted_step(summary, "synthesize"), summary
    assert "https://github.com/acme/agent/actions/runs/4242" in summary  # an absolute link, not report.html
    # The job's step summary is the one judged against main: the PR's own "unchanged" never reaches it.
    assert (job.scratch / "step-summary.md").read_text().count(CLI_MARKER) == 1
    assert summary in (job.scratch / "step-summary.md").read_text()

    assert artifacts.stored[f"llm-cost-report-{KEY}"] == work / PROJECT / ".llm-cost/"
    assert (folder / "report.html").is_file()
    assert job.step("Hand the comment to llm-cost-comment.yml (fork pull requests)").outcome == "skipped"
    comment = job.step("Comment on the pull request")
    assert comment.outcome == "success", comment.outputs
    if NODE is not None:
        posted = writes(json.loads(comment.outputs["result"]))
        assert [(call["call"], call["issue_number"]) for call in posted] == [("createComment", 7)]
        assert posted[0]["body"] == marker(KEY) + "\n" + summary.split("\n", 1)[1]


def test_a_fork_pull_request_hands_its_comment_to_the_comment_workflow(tmp_path: Path) -> None:
    """A fork's run cannot comment: it uploads the summary and the number; llm-cost-comment.yml posts them.

    Here main has no baseline at all: every test is new, and the run carries on.
    """
    work = make_repository(tmp_path, base_baseline=None)
    artifacts = Artifacts()
    job = run_pull_request(tmp_path, work, "someone/agent", artifacts, comments=[])
    transcript = job.transcript()

    assert job.status == "success", transcript
    base_step = job.step("The base branch's baseline")
    assert f"::notice::main has no {PROJECT}/llm-cost-baseline.json: every test counts as new" in base_step.stdout
    folder = work / PROJECT / ".llm-cost"
    assert not (folder / "base-baseline.json").exists()
    assert job.steps["cost"].outcome == "success", transcript
    assert job.steps["report"].outcome == "success", transcript
    assert job.steps["report"].outputs.get("changed") == "true", transcript

    assert job.step("Comment on the pull request").outcome == "skipped"
    assert job.steps["handoff"].outcome == "success", transcript
    assert json.loads((folder / "comment" / "comment.json").read_text()) == {
        "pr": 7,
        "changed": "true",
        "comment": "changed",
        "key": KEY,
    }
    assert "llm-cost-comment.yml" in (job.scratch / "step-summary.md").read_text()
    assert artifacts.stored[f"llm-cost-comment-{KEY}"] == folder / "comment/"

    if NODE is None:
        pytest.skip("node is not installed: the comment workflow's script is not run")
    head = git(work, "rev-parse", "HEAD")
    completed = {
        "workflow_run": {
            "id": 99,
            "event": "pull_request",
            "conclusion": "success",
            "head_sha": head,
            "head_branch": "pr",
            "head_repository": {"full_name": "someone/agent"},
        }
    }
    commenter = run_job(
        tmp_path,
        work,
        "llm-cost-comment.yml",
        "comment",
        completed,
        artifacts,
        comments=[],
        pull={"head": {"sha": head}},
    )
    assert commenter.status == "success", commenter.transcript()
    result = json.loads(commenter.step("Comment on the pull request").outputs["result"])
    (posted,) = writes(result)
    assert posted["issue_number"] == 7
    assert posted["body"] == marker(KEY) + "\n" + (folder / "summary.md").read_text().split("\n", 1)[1]


SHARD_STAND_IN = """\
\"\"\"A stand-in for pytest-shard, which this virtualenv lacks: its two options, a stable split.\"\"\"


def pytest_addoption(parser):
    group = parser.getgroup("shard")
    group.addoption("--shard-id", type=int, default=0)
    group.addoption("--num-shards", type=int, default=1)


def pytest_collection_modifyitems(config, items):
    shard, shards = config.getoption("shard_id"), config.getoption("num_shards")
    ordered = sorted(item.nodeid for item in items)  # the same split whatever order the tests run in
    mine = {nodeid for index, nodeid in enumerate(ordered) if index % shards == shard}
    keep = [item for item in items if item.nodeid in mine]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep
"""


def test_the_sharded_workflow_merges_its_shards_and_judges_them_against_main(
    tmp_path: Path, base_baseline: dict[str, Any]
) -> None:
    """llm-cost-sharded.yml: two shard jobs, each in its own checkout, then the report job merges their results."""
    origin = make_origin(tmp_path, base_baseline)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "shard_stand_in.py").write_text(SHARD_STAND_IN)
    shard_env = {"PYTHONPATH": str(plugins), "PYTEST_ADDOPTS": "-p shard_stand_in"}
    artifacts = Artifacts()
    ran: list[set[str]] = []
    for shard in (0, 1):
        work = clone(origin, tmp_path / f"shard-{shard}")
        extra = {"matrix.shard": shard, "strategy.job-total": 2}
        event = pull_request_event(work, "acme/agent")
        job = run_job(
            tmp_path, work, "llm-cost-sharded.yml", "shard", event, artifacts, [], extra=extra, more_env=shard_env
        )
        assert job.status == "success", job.transcript()
        assert job.steps["cost"].outcome == "success", job.transcript()
        results = artifacts.stored[f"llm-cost-results-{KEY}-{shard}"]
        assert results == work / PROJECT / ".llm-cost" / f"results-{shard}.json"
        ran.append(set(json.loads(results.read_text())["tests"]))
        assert not (work / PROJECT / ".llm-cost" / "report.html").exists()
    assert ran[0]
    assert ran[1]
    assert not ran[0] & ran[1]
    assert len(ran[0] | ran[1]) == 4

    work = clone(origin, tmp_path / "report")
    event = pull_request_event(work, "acme/agent")
    job = run_job(
        tmp_path, work, "llm-cost-sharded.yml", "report", event, artifacts, [], extra={"needs.shard.result": "success"}
    )
    transcript = job.transcript()
    assert job.status == "success", transcript
    folder = work / PROJECT / ".llm-cost"
    assert set(json.loads((folder / "results.json").read_text())["tests"]) == ran[0] | ran[1]
    assert job.steps["report"].outputs.get("changed") == "true", transcript
    summary = (folder / "summary.md").read_text()
    assert accepted_step(summary, "synthesize"), summary
    assert job.step("Fail when a shard's cost tests failed").outcome == "skipped"
    if NODE is not None:
        posted = writes(json.loads(job.step("Comment on the pull request").outputs["result"]))
        assert [(call["call"], call["issue_number"]) for call in posted] == [("createComment", 7)]
