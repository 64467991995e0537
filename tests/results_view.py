"""A results file read back with every test in full, for tests that look inside it.

The file (format 3) leaves out default values and what its reader derives: this is what
``load_results`` reads from it, laid out as format 2 wrote it (every call with every field,
each test's steps, each verdict in full), so a test names the fields it checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_llmcost.results import load_results


def full_view(text: str | bytes, path: Path = Path("results.json")) -> dict[str, Any]:
    """The parsed file, each test as ``TestCost.to_json()`` plus its outcome, status and verdict."""
    data: dict[str, Any] = json.loads(text)
    results = load_results(path, data)
    for nodeid, test in results.tests.items():
        line = data["tests"][nodeid]
        full = test.to_json()
        for key in ("status", "allowed_delta", "kind", "runs_per_day"):
            if key in line:
                full[key] = line[key]
        full["outcome"] = results.outcomes.get(nodeid, "passed")
        if nodeid in results.verdicts:
            full["verdict"] = results.verdicts[nodeid].to_json()
        data["tests"][nodeid] = full
    return data
