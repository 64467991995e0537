"""The package's public names, which load with their modules on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_llmcost


@pytest.mark.parametrize("name", pytest_llmcost.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(pytest_llmcost, name) is not None


def test_public_names_are_their_modules_own() -> None:
    assert pytest_llmcost.Tokens is pytest_llmcost.usage.Tokens
    assert pytest_llmcost.step is pytest_llmcost.meter.step
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        pytest_llmcost.nothing  # noqa: B018


def test_importing_the_package_loads_no_module_of_it() -> None:
    code = "import sys, pytest_llmcost; print(sorted(m for m in sys.modules if m.startswith('pytest_llmcost')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['pytest_llmcost']"
