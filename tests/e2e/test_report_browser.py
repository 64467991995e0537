"""The HTML report in a real browser: headless Chromium renders it, sorts it, and fetches nothing.

Needs the ``chromium`` binary (Debian/Ubuntu package ``chromium``; ``chromium-browser`` on some
distributions); without it these tests are skipped. Each test starts one Chromium process with a
fresh profile and no network-facing background services.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_llmcost.report.html import write_html
from tests.report_sample import sample_report

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="headless Chromium is not installed (Debian package `chromium`: apt-get install chromium)"
)
BLOCKED = re.compile(r"violates the following Content Security Policy directive")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_html(sample_report(), path)
    return path


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    argv = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        url,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path)


def first_test(dom: str) -> str:
    """The id of the first test in the tests table, as the page is now ordered."""
    rows = dom[dom.index('<table class="tt" id="tests">') :]
    found = re.search(r'<tbody><tr><td class="id"><details[^>]*><summary>([^<]*)', rows)
    assert found is not None
    return found[1]


def test_the_report_renders_and_sorts_by_a_number(report_file: Path, tmp_path: Path) -> None:
    """Tables, the chart and the script all work under the page's CSP; #sort= sorts numerically on load."""
    run = chromium(tmp_path, f"{report_file.as_uri()}#sort=tests:tokens:asc", "--dump-dom")
    dom = run.stdout
    assert '<html lang="en" class="js">' in dom  # the script ran: the CSP allows it by its hash
    assert len(re.findall(r'<rect class="bar', dom)) == len(sample_report().pareto)
    assert dom.count('<circle class="dot"') == len(sample_report().pareto)
    for table in ('id="tests"', 'id="steps"', 'id="models"', 'id="projections"'):
        assert f"<table {table}" in dom or f'<table class="tt" {table}' in dom
    headers = re.findall(r"<th data-k=[^>]*>(<button)?", dom)
    assert len(headers) == report_file.read_text(encoding="utf-8").count("<th data-k=") == 29
    assert all(headers), "every sortable header became a button"
    assert re.search(r'<th data-k="tokens" data-t="n" class="l" aria-sort="ascending"><button', dom)
    assert first_test(dom) == "tests/test_smoke.py::test_hello"  # 33 tokens, the fewest
    assert not BLOCKED.search(run.stderr), run.stderr  # nothing tried to load anything


def test_sorting_by_text(report_file: Path, tmp_path: Path) -> None:
    """Sorted by test id (ascending on first sort, for text); without a fragment, the order is by spend."""
    dom = chromium(tmp_path, f"{report_file.as_uri()}#sort=tests:test", "--dump-dom").stdout
    assert first_test(dom) == "tests/test_agent.py::test_escalation"
    assert first_test(report_file.read_text(encoding="utf-8")) == "tests/test_agent.py::test_refund_flow"


def test_the_policy_blocks_any_fetch(report_file: Path, tmp_path: Path) -> None:
    """A control: markup that would fetch, slipped into the page, is refused, and the browser says so."""
    page = tmp_path / "tampered.html"
    html = report_file.read_text(encoding="utf-8")
    page.write_text(html.replace("<main>", '<main><img src="http://127.0.0.1:9/x.png">', 1), encoding="utf-8")
    run = chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert BLOCKED.search(run.stderr), run.stderr
    assert "img-src data:" in run.stderr


def test_screenshot(report_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(tmp_path, report_file.as_uri(), "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1280  # the IHDR width
    assert len(data) > 50_000  # a page with content, not a blank one
