"""The HTML report: a gold file for a fixed report, escaping, self-containment, the formatting filters.

The gold file ``tests/unit/gold/report.html`` is the sample report of ``tests/report_sample.py``
rendered with a fixed clock (the package version reads ``VERSION`` in it). After an intended
change to the templates or the model, rewrite it and review the diff like code::

    LLM_COST_UPDATE_GOLD=1 python -m pytest tests/unit/test_report_html.py
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from pytest_llmcost import __version__
from pytest_llmcost.gate.baseline import Baseline, entry_of
from pytest_llmcost.report.html import _esc, cents, pct, render_html, share, signed, sort_value, usd, write_html
from pytest_llmcost.results import Results
from pytest_llmcost.usage import Call, Dims, TestCost, Tokens
from tests.report_sample import CLOCK, judged_report, sample_report

GOLD = Path(__file__).parent / "gold" / "report.html"


def _scrub(html: str) -> str:
    return html.replace(f"pytest-llmcost {__version__}", "pytest-llmcost VERSION")


def test_gold_report() -> None:
    """The sample report renders exactly as the reviewed gold file."""
    html = _scrub(render_html(sample_report()))
    if os.environ.get("LLM_COST_UPDATE_GOLD"):
        GOLD.parent.mkdir(exist_ok=True)
        GOLD.write_text(html, encoding="utf-8", newline="\n")
    expected = GOLD.read_text(encoding="utf-8")
    if html != expected:
        diff = "".join(
            list(difflib.unified_diff(expected.splitlines(True), html.splitlines(True), "gold", "rendered"))[:60]
        )
        pytest.fail(f"the report differs from {GOLD}; if intended, rerun with LLM_COST_UPDATE_GOLD=1\n{diff}")


def test_render_is_deterministic() -> None:
    assert render_html(sample_report()) == render_html(sample_report())


def _nasty_report() -> str:
    nodeid = 'tests/test_x.py::test_a[<script>alert("id")</script>]'
    step = "<img src=x onerror=alert('step')>"
    call = Call(
        0,
        step,
        "openai",
        '"><script>alert(1)</script>',
        Tokens(input=10, output=2),
        Decimal("0.001"),
        cassette="</td><script>x()</script>.yaml",
        note="<b>note</b>",
    )
    test = TestCost.from_calls(nodeid, [call])
    results = Results(tests={nodeid: test}, runs_per_day={nodeid: 3})
    report = judged_report(results, clock=lambda: CLOCK, title="<i>title</i>", stale=["<s>gone</s>"])
    return render_html(report)


def test_test_ids_step_and_model_names_are_text() -> None:
    """Markup in a test id, a step, a model, a cassette, a note or the title is escaped everywhere."""
    html = _nasty_report()
    assert html.count("<script>") == 1  # the report's own
    for raw in ("<img", "<b>note", "<i>title", "<s>gone", "</td><script>"):
        assert raw not in html
    assert "test_a[&lt;script&gt;alert(&#34;id&#34;)&lt;/script&gt;]" in html
    assert "&lt;img src=x onerror=alert(&#39;step&#39;)&gt;" in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_markup_is_escaped_once_in_the_tests_table() -> None:
    """The tests table, written apart from the template, escapes a moved step's name, a call's part,
    provider and billed dimensions, and the gate's findings exactly as the template escapes text."""
    step = "<b>plan</b>"
    call = Call(
        0, step, "<p>", "m&m", Tokens(input=90, output=9), Decimal("0.009"), part="<i>", dims=Dims.of(web_searches=2)
    )
    before = Call(0, step, "<p>", "m&m", Tokens(input=10, output=1), Decimal("0.001"))
    results = Results(tests={"t.py::a": TestCost.from_calls("t.py::a", [call])})
    baseline = Baseline(entries={"t.py::a": entry_of(TestCost.from_calls("t.py::a", [before]))}, exists=True)
    html = render_html(judged_report(results, baseline=baseline, clock=lambda: CLOCK))
    assert '<span class="b s-regressed">regressed: &lt;b&gt;plan&lt;/b&gt;</span>' in html
    assert "<summary>&lt;b&gt;plan&lt;/b&gt; <span" in html
    assert '<span class="m">m&amp;m</span> <span class="pt">&lt;i&gt;</span> <span class="pt">&lt;p&gt;</span>' in html
    assert '<span class="lb">web searches 2</span>' in html
    assert "LLM cost of step &lt;b&gt;plan&lt;/b&gt; $0.009 exceeds baseline" in html
    for raw in ("&amp;lt;", "<b>plan", "<i>", "<p>"):
        assert raw not in html


def test_the_tests_table_escapes_as_the_template_does() -> None:
    """Its text is escaped character for character as Jinja's autoescape escapes the rest of the page."""
    from markupsafe import escape

    text = """<a href='x'>"Tom" & Jerry</a> — ünïcode"""
    assert _esc(text) == str(escape(text))


def test_the_page_is_self_contained() -> None:
    """No fetch of any kind: no remote src/href, no @import, no url() but data:, and a CSP forbidding them."""
    html = render_html(sample_report())
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", html, re.IGNORECASE)
    assert not re.search(r"""\bsrc\s*=""", html, re.IGNORECASE)
    assert "@import" not in html
    assert all(url.startswith("data:") for url in re.findall(r"url\(\s*['\"]?([^)'\"]*)", html))
    assert re.findall(r'href="([^"]*)"', html) == [
        "#moved",
        "#spend",
        "#tests-section",
        "#steps-section",
        "#models-section",
        "#projection",
        "#stale",
    ]
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert csp is not None
    policy = dict(part.strip().split(" ", 1) for part in csp[1].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["img-src"] == "data:"
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert policy["script-src"] == f"'sha256-{digest}'"  # only the report's own script may run


def test_sections_of_the_sample() -> None:
    html = render_html(sample_report())
    for heading in (
        "What moved, by step",
        "Spend by step",
        "Tests",
        "Steps across tests",
        "Model mix",
        "Monthly projection",
        "Stale baseline entries",
    ):
        assert f"<h2>{heading} <small>" in html
    assert html.count('<span class="b s-regressed">regressed: draft</span>') == 1  # the status names the step
    assert '<span class="b s-over_budget">over budget</span>' in html
    assert "tests/test_old.py::test_removed_feature" in html
    assert '<title id="spend-t">Spend by step</title>' in html
    assert '<desc id="spend-d">' in html
    assert html.count('<circle class="dot"') == len(sample_report().pareto)
    assert "steps and calls in results.json" not in html
    opened = re.findall(r"<details open><summary>([^<]*)</summary>", html)
    assert [nodeid.rsplit("::", 1)[1] for nodeid in opened] == [  # failing rows start unfolded
        "test_refund_flow",
        "test_tool_loop",
        "test_internal_model",
    ]


def test_a_large_report_lists_steps_for_its_most_expensive_tests() -> None:
    """Rows past the detail limit say where their steps are; the note counts them."""
    report = sample_report(detail_limit=3)
    html = render_html(report)
    assert report.truncated == 7
    assert html.count("<small>steps and calls in results.json</small>") == 7
    assert "those of the other 7 tests are in results.json" in html
    assert html.count('<tr class="d">') == 3


def test_a_report_without_baseline_or_calls() -> None:
    test = TestCost.from_calls("t.py::a", [Call(0, None, "openai", "gpt-4o", Tokens(1, 0, 0, 1), Decimal("0.5"))])
    html = render_html(judged_report(Results(tests={"t.py::a": test}), clock=lambda: CLOCK))
    assert 'class="v">none</div>' in html
    assert "--llm-cost-update" in html
    empty = render_html(judged_report(Results(), clock=lambda: CLOCK))
    assert "<svg" not in empty
    assert 'id="tests"' in empty


def test_many_steps_fold_into_other_in_the_chart() -> None:
    records = [Call(i, f"step-{i:02d}", "openai", "m", Tokens(1), Decimal(100 - i)) for i in range(30)]
    test = TestCost.from_calls("t.py::a", records)
    html = render_html(judged_report(Results(tests={"t.py::a": test}), clock=lambda: CLOCK))
    assert html.count('<rect class="bar') == 20
    assert ">other (11 steps)</text>" in html


def test_write_html(tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.html"
    write_html(sample_report(), path)
    assert path.read_text(encoding="utf-8") == render_html(sample_report())


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.000219"), "$0.000219"),
        (Decimal("1234.5"), "$1,234.500000"),
        (Decimal("0.0000001"), "$0.0000001"),  # never $0 for a non-zero amount
        (Decimal("-0.0000001"), "-$0.0000001"),
        (Decimal(0), "$0.000000"),
        (None, "\u2013"),
    ],
)
def test_usd(value: Decimal | None, text: str) -> None:
    assert usd(value) == text


def test_signed_pct_share_sort_value() -> None:
    assert signed(Decimal("0.0012")) == "+$0.001200"
    assert signed(Decimal("-0.0012")) == "-$0.001200"
    assert signed(Decimal(0)) == "$0.000000"
    assert pct(Decimal("0.23")) == "+23.0%"
    assert pct(Decimal("-0.0004")) == "-0.0%"
    assert pct(None) == "\u2013"
    assert share(12.345) == "12.3%"
    assert sort_value(Decimal("-0.01276357275823949029488271919")) == "-0.0127635728"
    assert sort_value(None) == ""
    assert sort_value(7) == "7"


def test_cents() -> None:
    """Projections read in cents; an amount under a cent keeps three significant digits, never $0."""
    assert cents(Decimal("5601")) == "$5,601.00"
    assert cents(Decimal("0.772650")) == "$0.77"
    assert cents(Decimal("0.00456")) == "$0.00456"
    assert cents(Decimal("-12.345")) == "-$12.34"
    assert cents(Decimal(0)) == "$0"
