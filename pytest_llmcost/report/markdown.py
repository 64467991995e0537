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
#: The summary's size limit in characters: long test ids stop the details table early.
MAX_CHARS = 60_000
STATUS_LABELS = {
    "regressed": "⚠️ regressed",
    "over_budget": "⛔ over budget",
    "unknown_step": "⛔ unknown step",
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


def _tests(count: int) -> str:
    return f"{count:,} test{'' if count == 1 else 's'}"


def headline(report: Report) -> str:
    counts = report.counts
    parts = []
    if counts.regressed:
        their = "its" if counts.regressed == 1 else "their"
        parts.append(f"{_tests(counts.regressed)} over {their} allowed delta")
    if counts.over_budget:
        parts.append(f"{counts.over_budget:,} over budget" if parts else f"{_tests(counts.over_budget)} over budget")
    tail = ": " + ", ".join(parts) if parts else ""
    if report.delta_usd is None:
        return (
            f"LLM cost per test run: {short_money(report.now_usd)} over {_tests(counts.tests)} "
            f"(no baseline to compare with){tail}."
        )
    if report.delta_usd == 0:
        return f"This change leaves LLM cost per test run unchanged at {short_money(report.now_usd)}{tail}."
    verb = "raises" if report.delta_usd > 0 else "lowers"
    pct = f" ({ratio(report.delta_ratio)})" if report.delta_ratio is not None else ""
    return f"This change {verb} LLM cost per test run by {short_money(abs(report.delta_usd))}{pct}{tail}."


def _change_rows(report: Report) -> list[list[str]]:
    """Tests whose cost changed, each followed by its changed steps, by the size of the change.

    A test ranks by the largest change among it and its steps (a flat total can hide a step
    that grew), so its steps always sit under it.
    """
    groups: list[tuple[Decimal, str, list[list[str]]]] = []
    for test in report.tests:
        if test.delta_usd is None and test.status != "new":
            continue
        change = test.delta_usd if test.delta_usd is not None else test.now_usd
        if not change and test.status == "ok":
            continue
        changed = [(abs(step.delta_usd), step) for step in test.steps if step.delta_usd]
        changed.sort(key=lambda item: -item[0])
        steps = [step for _, step in changed]
        rank = max([abs(change), *(size for size, _ in changed)])
        rows = [_test_cells(test)]
        rows += [
            [
                f"↳ {code(step.path)}",
                dollars(step.base_usd),
                dollars(step.now_usd),
                signed(step.delta_usd),
                ratio(step.delta_ratio),
                "over" if step.over else "",
            ]
            for step in steps
        ]
        groups.append((rank, test.nodeid, rows))
    groups.sort(key=lambda group: (-group[0], group[1]))
    return [row for _, _, rows in groups for row in rows]


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
        _tests(counts.tests),
        f"{counts.calls:,} call{'' if counts.calls == 1 else 's'}",
        f"**{counts.regressed} regressed**" if counts.regressed else "0 regressed",
        f"**{counts.over_budget} over budget**" if counts.over_budget else "0 over budget",
        f"{counts.improved} improved",
        f"{counts.new} new",
        f"{counts.stale} stale",
    ]
    if counts.unpriced:
        tally.append(f"**{counts.unpriced:,} unpriced call{'' if counts.unpriced == 1 else 's'}**")
    if counts.estimated:
        tally.append(f"{counts.estimated:,} estimated call{'' if counts.estimated == 1 else 's'}")
    lines.append(" · ".join(tally))
    extra = [f"Rate card: {report.rate_card}", f"allowed delta {report.allowance}"]
    if report.drift_usd:
        extra.append(f"price drift {signed(report.drift_usd)} (not counted against any test)")
    lines += ["", "<sub>" + "; ".join(extra) + "</sub>", ""]

    changes = _change_rows(report)
    header = ["test / step", "base", "head", "Δ", "Δ%", ""]
    if changes:
        lines += ["#### Biggest changes", ""]
        lines += markdown_table(header, changes[:MAX_CHANGES], "lrrrrl")
        lines.append("")
    else:
        lines += ["No test's LLM cost changed.", ""]

    tail: list[str] = []
    if report.stale:
        many = len(report.stale) != 1
        tail.append(
            f"{len(report.stale):,} baseline entr{'ies have' if many else 'y has'} no test; "
            f"`pytest --llm-cost --llm-cost-update --llm-cost-prune` drops {'them' if many else 'it'}."
        )
        tail.append("")
    if report_link:
        tail += [f"[Full HTML report]({report_link})", ""]

    if report.tests:
        lines += [f"<details><summary>All {_tests(counts.tests)}, by cost</summary>", ""]
        details = ["test", *header[1:]]
        table = markdown_table(details, [], "lrrrrl")
        # Room for the table's closing lines ("…and N more", </details>) and the tail.
        size = sum(len(line) + 1 for line in [*lines, *table, *tail]) + 100
        shown = 0
        for test in report.tests[:MAX_DETAILS]:
            row = markdown_table(details, [_test_cells(test)], "lrrrrl")[-1]
            if size + len(row) + 1 > MAX_CHARS:
                break
            table.append(row)
            size += len(row) + 1
            shown += 1
        lines += table
        if len(report.tests) > shown:
            lines.append("")
            where = f" in the [HTML report]({report_link})" if report_link else " in results.json"
            lines.append(f"…and {len(report.tests) - shown:,} more{where}.")
        lines += ["", "</details>", ""]
    return "\n".join(lines + tail)
