"""The minimum versions CI tests are the lower bounds pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_min_versions_pins_the_declared_lower_bounds() -> None:
    pins = dict(
        line.strip().split("==")
        for line in (ROOT / ".github" / "min-versions.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", spec).groups() for spec in declared)  # type: ignore[union-attr]
    assert set(pins) == {"vcrpy", "genai-prices"}
    for name, pinned in pins.items():
        assert pinned.split(".")[: len(bounds[name].split("."))] == bounds[name].split("."), (name, pinned)


def test_ci_runs_the_suite_on_the_minimum_versions() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["min-versions"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert any("--constraint .github/min-versions.txt" in run for run in runs)
    assert any(run.startswith("python -m pytest") for run in runs)
