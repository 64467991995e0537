"""``llm-cost init``: set a project up for pytest-llmcost. Never imports pytest.

It adds, and never overwrites:

- the ``llm_cost_*`` ini options to the project's pytest configuration (``[tool.pytest.ini_options]``
  in ``pyproject.toml``, or the ini file the project already configures pytest in), as text, so
  the rest of the file stays byte for byte as it was;
- ``.llm-cost/`` to the project's ``.gitignore``;
- the GitHub workflow (and the comment script it requires) at the repository's root, with
  ``LLM_COST_DIR`` set to the project's folder.

A second run finds everything in place, changes nothing and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = ["Change", "InitError", "Setup", "init", "next_commands", "workflow_for"]

#: The ini options written, with the value written (the defaults, spelled out to be tuned).
INI_OPTIONS = (
    ("llm_cost_baseline", "llm-cost-baseline.json"),
    ("llm_cost_tolerance", "5%"),
    ("llm_cost_record_mode", "none"),
)
GITIGNORE_LINE = ".llm-cost/"
#: Scaffold file in the package -> where it goes, from the repository root.
WORKFLOW_FILES = (
    ("llm-cost.yml", ".github/workflows/llm-cost.yml"),
    ("llm-cost-comment.yml", ".github/workflows/llm-cost-comment.yml"),
    ("llm-cost-comment.js", ".github/scripts/llm-cost-comment.js"),
)
_DIR_LINE = re.compile(r"(?m)^(  LLM_COST_DIR: ).*$")
# pytest's own order: the first of these that configures pytest is the project's configuration.
_INI_FILES = (("pytest.ini", "pytest"), (".pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest"))
_TOML_TABLE = "tool.pytest.ini_options"
_TOML_HEADER = re.compile(
    r"(?m)^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*pytest[ \t]*\.[ \t]*ini_options[ \t]*\][ \t]*(#[^\r\n]*)?\r?$"
)


class InitError(Exception):
    """The project cannot be set up as it is (a file that cannot be read or edited safely)."""


@dataclass(frozen=True)
class Change:
    """One thing ``init`` did or found in place: ``action`` is ``created``, ``changed`` or ``kept``."""

    action: str
    path: Path
    what: str


@dataclass
class Setup:
    """What ``init`` did, file by file, and the folder it set up."""

    project: Path
    config: Path
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(change.action != "kept" for change in self.changes)


def _template(name: str) -> str:
    return resources.files("pytest_llmcost").joinpath("scaffold", name).read_text(encoding="utf-8")


def workflow_for(project_dir: str, template: str | None = None) -> str:
    """The shipped workflow with ``LLM_COST_DIR`` set to ``project_dir`` (posix, from the repository root)."""
    text = _template("llm-cost.yml") if template is None else template
    value = project_dir if re.fullmatch(r"[A-Za-z0-9._/-]+", project_dir) else f'"{project_dir}"'
    result, count = _DIR_LINE.subn(lambda match: match.group(1) + value, text, count=1)
    if count != 1:  # pragma: no cover - the shipped template always has the line
        raise InitError("the shipped workflow has no LLM_COST_DIR line")
    return result


def _read(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as handle:  # newline="": \r\n stays \r\n
            return handle.read()
    except UnicodeDecodeError:
        raise InitError(f"{path}: not UTF-8 text; add the llm_cost options to it by hand") from None


def _write(path: Path, text: str) -> None:
    from .files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _find_config(project: Path) -> tuple[Path, str]:
    """The file pytest reads its configuration from (``kind`` ``toml`` or an ini section name)."""
    pyproject = project / "pyproject.toml"
    for name, section in _INI_FILES[:2]:
        if (project / name).is_file():
            return project / name, section
    if pyproject.is_file() and _toml_table(_read(pyproject)) is not None:
        return pyproject, "toml"
    for name, section in _INI_FILES[2:]:
        path = project / name
        if path.is_file() and _ini_section(_read(path), section) is not None:
            return path, section
    return pyproject, "toml"


def _toml_table(text: str) -> tuple[int, int] | None:
    """Where the ``[tool.pytest.ini_options]`` table's body starts and ends (character offsets)."""
    header = _TOML_HEADER.search(text)
    if header is None:
        return None
    start = text.find("\n", header.end())
    start = len(text) if start < 0 else start + 1
    following = re.compile(r"(?m)^[ \t]*\[").search(text, start)
    return start, following.start() if following else len(text)


def _ini_section(text: str, section: str) -> tuple[int, int] | None:
    header = re.search(rf"(?m)^\[{re.escape(section)}\][ \t]*\r?$", text)
    if header is None:
        return None
    start = text.find("\n", header.end())
    start = len(text) if start < 0 else start + 1
    following = re.compile(r"(?m)^\[").search(text, start)
    return start, following.start() if following else len(text)


def _insert_at_end_of_body(text: str, start: int, end: int, lines: list[str]) -> str:
    """``lines`` after the last non-blank line of the body ``text[start:end]``."""
    body = text[start:end]
    stripped = body.rstrip(" \t\r\n")
    cut = start + len(stripped)
    if stripped:  # after the line holding the body's last character
        eol = text.find("\n", cut)
        cut = end if eol < 0 or eol >= end else eol + 1
    else:
        cut = start
    newline = _newline(text)
    before = text[:cut]
    if before and not before.endswith("\n"):
        before += newline
    return before + "".join(line + newline for line in lines) + text[cut:]


def _configure(config: Path, kind: str) -> Change:
    """The llm_cost ini options added to ``config`` where missing; the rest of the file is left as it was."""
    text = _read(config) if config.exists() else ""
    newline = _newline(text)
    if kind == "toml":
        where = _toml_table(text)
        body = "" if where is None else text[where[0] : where[1]]
        present = {key for key, _ in INI_OPTIONS if re.search(rf"(?m)^[ \t]*{key}[ \t]*=", body)}
        lines = [f'{key} = "{value}"' for key, value in INI_OPTIONS if key not in present]
        if lines and where is None:
            prefix = "" if not text else (newline if text.endswith("\n") else newline * 2)
            new = text + prefix + "".join(line + newline for line in [f"[{_TOML_TABLE}]", *lines])
        elif lines:
            assert where is not None
            new = _insert_at_end_of_body(text, where[0], where[1], lines)
        section = f"[{_TOML_TABLE}]"
    else:
        where = _ini_section(text, kind)
        if where is None:  # pragma: no cover - found by its section
            raise InitError(f"{config}: no [{kind}] section")
        body = text[where[0] : where[1]]
        present = {key for key, _ in INI_OPTIONS if re.search(rf"(?m)^[ \t]*{key}[ \t]*[=:]", body)}
        lines = [f"{key} = {value}" for key, value in INI_OPTIONS if key not in present]
        if lines:
            new = _insert_at_end_of_body(text, where[0], where[1], lines)
        section = f"[{kind}]"
    if not lines:
        return Change("kept", config, f"{section} already sets {', '.join(key for key, _ in INI_OPTIONS)}")
    _write(config, new)
    added = ", ".join(line.split(" =")[0] for line in lines)
    return Change("created" if not text else "changed", config, f"{section}: added {added}")


def _gitignore(project: Path) -> Change:
    path = project / ".gitignore"
    text = _read(path) if path.exists() else ""
    ignored = {".llm-cost", ".llm-cost/", "/.llm-cost", "/.llm-cost/", ".llm-cost/*", "/.llm-cost/*"}
    if any(line.strip() in ignored for line in text.splitlines()):
        return Change("kept", path, f"already ignores {GITIGNORE_LINE}")
    newline = _newline(text)
    prefix = newline if text and not text.endswith("\n") else ""
    _write(
        path,
        text + prefix + "# pytest-llmcost's results and reports (llm-cost init)" + newline + GITIGNORE_LINE + newline,
    )
    return Change("changed" if text else "created", path, f"ignores {GITIGNORE_LINE}")


def repository_root(project: Path) -> Path:
    """The git repository holding ``project`` (the nearest folder up with ``.git``), else ``project``."""
    for folder in (project, *project.parents):
        if (folder / ".git").exists():
            return folder
    return project


def _workflows(project: Path) -> list[Change]:
    root = repository_root(project)
    relative = project.relative_to(root).as_posix()
    project_dir = "." if relative in ("", ".") else relative
    changes = []
    for name, target in WORKFLOW_FILES:
        path = root / target
        if path.exists():
            changes.append(Change("kept", path, "exists; not overwritten"))
            continue
        text = workflow_for(project_dir) if name == "llm-cost.yml" else _template(name)
        _write(path, text)
        what = f"LLM_COST_DIR: {project_dir}" if name == "llm-cost.yml" else "required by llm-cost.yml"
        changes.append(Change("created", path, what))
    return changes


def init(project: Path) -> Setup:
    """Set ``project`` up; every step that finds its work done is a ``kept`` change."""
    project = project.resolve()
    if not project.is_dir():
        raise InitError(f"{project}: no such folder")
    config, kind = _find_config(project)
    setup = Setup(project, config)
    setup.changes.append(_configure(config, kind))
    setup.changes.append(_gitignore(project))
    setup.changes += _workflows(project)
    return setup


def next_commands(setup: Setup) -> list[tuple[str, str]]:
    """The three commands that finish the set-up, from the project's folder: record, accept, commit."""
    tests = "tests/" if (setup.project / "tests").is_dir() else "."
    root = repository_root(setup.project)
    github = Path(_relative(root / ".github", setup.project)).as_posix()
    added = [setup.config.name, ".gitignore", "llm-cost-baseline.json", tests, github + "/"]
    return [
        (
            "record each test's LLM calls, with your API keys set (this calls the real APIs)",
            "pytest --llm-cost --llm-cost-record-mode=once",
        ),
        ("accept what they cost as the baseline", "pytest --llm-cost --llm-cost-update"),
        (
            "commit the cassettes, the baseline and the set-up",
            f'git add {" ".join(dict.fromkeys(added))} && git commit -q -m "LLM cost baseline"',
        ),
    ]


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path, start)
