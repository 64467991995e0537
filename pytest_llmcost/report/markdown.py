"""Markdown for a pull request: a headline, counts, the biggest changes, the rest folded away.

Sized for a PR comment (GitHub allows 65,536 characters; this stays well under), and marked
with a hidden first line so a workflow can find and update its one comment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from ..usage import short_money
from .model import Report, TestRow

__all__ = ["MARKER", "markdown_table", "summary_markdown"]

#: The hidden line a workflow searches for to update its comment instead of adding one.
MARKER = "<!-- pytest-llmcost:summary -->"
MAX_CHANGES = 10
MAX_DETAILS = 200
STATUS_LABELS = {
    "regressed": "⚠️ regressed",
    "over_budget": "⛔ over budget",
    "unpriced": "❓ unpriced",
    "new": "🆕 new",
    "improved": "✅ improved",
    "failed": "failed",
    "ok": "",
}


def code(text: str) -> str:
    """Inline code that survives any test id: no pipes breaking the table, no backticks closing it."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def signed(usd: Decimal | None) -> str:
    if usd is None:
        return "-"
    return ("+" if usd > 0 else "-" if usd < 0 else "±") + short_money(abs(usd))


def ratio(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.1f}%"


def dollars(usd: Decimal | None) -> str:
    return "-" if usd is None else short_money(usd)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> list[str]:
    """A GitHub table; ``align`` has one ``l`` or ``r`` per column."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def headline(report: Report) -> str:
    counts = report.counts
    failing = counts.regressed + counts.over_budget
    tail = ""
    if failing:
        parts = []
        if counts.regressed:
            parts.append(f"{counts.regressed} test{'s' if counts.regressed != 1 else ''} over their allowed delta")
        if counts.over_budget:
            parts.append(f"{counts.over_budget} over budget")
        tail = ": " + ", ".join(parts)
    if report.delta_usd is None:
        return (
            f"LLM cost per test run: {short_money(report.now_usd)} over {counts.tests} "
            f"test{'s' if counts.tests != 1 else ''} (no baseline to compare with){tail}."
        )
    if report.delta_usd == 0:
        return f"This change leaves LLM cost per test run unchanged at {short_money(report.now_usd)}{tail}."
    verb = "raises" if report.delta_usd > 0 else "lowers"
    pct = f" ({ratio(report.delta_ratio)})" if report.delta_ratio is not None else ""
    return f"This change {verb} LLM cost per test run by {short_money(abs(report.delta_usd))}{pct}{tail}."


def _change_rows(report: Report) -> list[tuple[Decimal, list[str]]]:
    """Tests and steps whose cost changed, with the size of the change for ranking."""
    found: list[tuple[Decimal, list[str]]] = []
    for test in report.tests:
        if test.delta_usd is None and test.status != "new":
            continue
        change = test.delta_usd if test.delta_usd is not None else test.now_usd
        if not change and test.status == "ok":
            continue
        found.append((abs(change), _test_cells(test)))
        for step in test.steps:
            if step.delta_usd:
                found.append(
                    (
                        abs(step.delta_usd) - Decimal("1e-12"),  # right after its test when equal
                        [
                            f"↳ {code(step.path)}",
                            dollars(step.base_usd),
                            dollars(step.now_usd),
                            signed(step.delta_usd),
                            ratio(step.delta_ratio),
                            "over" if step.over else "",
                        ],
                    )
                )
    found.sort(key=lambda item: -item[0])
    return found


def _test_cells(test: TestRow) -> list[str]:
    return [
        code(test.nodeid),
        dollars(test.base_usd),
        dollars(test.now_usd),
        signed(test.delta_usd if test.delta_usd is not None else test.now_usd if test.status == "new" else None),
        ratio(test.delta_ratio),
        STATUS_LABELS.get(test.status, test.status),
    ]


def summary_markdown(report: Report, *, report_link: str | None = None) -> str:
    counts = report.counts
    lines = [MARKER, "### LLM cost", "", headline(report), ""]
    lines += markdown_table(
        ["", "base", "head", "Δ", "Δ%"],
        [
            [
                "**Total per run**",
                dollars(report.base_usd),
                dollars(report.now_usd),
                signed(report.delta_usd),
                ratio(report.delta_ratio),
            ]
        ],
        "lrrrr",
    )
    lines.append("")
    tally = [
        f"{counts.tests} tests",
        f"{counts.calls} calls",
        f"**{counts.regressed} regressed**" if counts.regressed else "0 regressed",
        f"**{counts.over_budget} over budget**" if counts.over_budget else "0 over budget",
        f"{counts.improved} improved",
        f"{counts.new} new",
        f"{counts.stale} stale",
    ]
    if counts.unpriced:
        tally.append(f"**{counts.unpriced} unpriced calls**")
    if counts.estimated:
        tally.append(f"{counts.estimated} estimated calls")
    lines.append(" · ".join(tally))
    extra = [f"Rate card: {report.rate_card}", f"allowed delta {report.allowance}"]
    if report.drift_usd:
        extra.append(f"price drift {signed(report.drift_usd)} (not counted against any test)")
    lines += ["", "<sub>" + "; ".join(extra) + "</sub>", ""]

    changes = _change_rows(report)
    header = ["test / step", "base", "head", "Δ", "Δ%", ""]
    if changes:
        lines += ["#### Biggest changes", ""]
        lines += markdown_table(header, (cells for _, cells in changes[:MAX_CHANGES]), "lrrrrl")
        lines.append("")
    else:
        lines += ["No test's LLM cost changed.", ""]

    if report.tests:
        shown = report.tests[:MAX_DETAILS]
        lines += [f"<details><summary>All {counts.tests} tests, by cost</summary>", ""]
        lines += markdown_table(header, (_test_cells(test) for test in shown), "lrrrrl")
        if len(report.tests) > len(shown):
            lines.append("")
            lines.append(f"…and {len(report.tests) - len(shown)} more in the HTML report.")
        lines += ["", "</details>", ""]
    if report.stale:
        lines.append(
            f"{len(report.stale)} baseline entr{'ies have' if len(report.stale) != 1 else 'y has'} no test; "
            "`pytest --llm-cost --llm-cost-update --llm-cost-prune` drops them."
        )
        lines.append("")
    if report_link:
        lines += [f"[Full HTML report]({report_link})", ""]
    return "\n".join(lines)
