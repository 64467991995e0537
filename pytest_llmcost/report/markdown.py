"""Markdown for a pull request: a headline, counts, the biggest changes, the rest folded away.

Sized for a PR comment (GitHub allows 65,536 characters; this stays well under), and marked
with a hidden first line so a workflow can find and update its one comment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from ..usage import short_money
from .model import Report, TestRow

__all__ = ["MARKER", "cell", "markdown_table", "summary_markdown"]

#: The hidden line a workflow searches for to update its comment instead of adding one.
MARKER = "<!-- pytest-llmcost:summary -->"
MAX_CHANGES = 10
MAX_DETAILS = 200
#: The summary's size limit in characters: long test ids stop the details table early.
MAX_CHARS = 60_000
STATUS_LABELS = {
    "regressed": "⚠️ regressed",
    "cache_regressed": "⚠️ cache regressed",
    "accepted": "☑️ accepted",
    "over_budget": "⛔ over budget",
    "unknown_step": "⛔ unknown step",
    "unpriced": "❓ unpriced",
    "new": "🆕 new",
    "improved": "✅ improved",
    "failed": "failed",
    "ok": "",
}


def cell(text: str) -> str:
    """Text that stays inside its table cell: no pipe ends it, no newline breaks the row."""
    return text.replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    """Inline code that survives any test id: no pipes breaking the table, no backticks closing it."""
    return "`" + cell(text.replace("`", "'")) + "`"


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


def _story(report: Report) -> str:
    """The step that moved most, where, and why: ```synthesize` +$0.0069 (+141.0%) in 3 tests: input ...``."""
    if not report.step_changes:
        return ""
    top = report.step_changes[0]
    where = f" in {_tests(top.tests)}"
    why = f" ({top.gist})" if top.gist else ""
    text = f"{code(top.step)} {signed(top.delta_usd)} ({ratio(top.delta_ratio)}){where}{why}"
    others = len(report.step_changes) - 1
    if others:
        text += f"; {others} other step{'' if others == 1 else 's'} moved"
    return text


def headline(report: Report) -> str:
    counts = report.counts
    parts = []
    if counts.regressed:
        their = "its" if counts.regressed == 1 else "their"
        parts.append(f"{_tests(counts.regressed)} over {their} allowed delta")
    if counts.cache_regressed:
        parts.append(f"{_tests(counts.cache_regressed)} lost prompt-cache hits")
    if counts.over_budget:
        parts.append(f"{counts.over_budget:,} over budget" if parts else f"{_tests(counts.over_budget)} over budget")
    if counts.accepted:
        parts.append(f"{_tests(counts.accepted)} with an increase accepted in this change's baseline")
    tail = " **" + "; ".join(parts) + ".**" if parts else ""
    if report.delta_usd is None:
        return (
            f"LLM cost per test run: {short_money(report.now_usd)} over {_tests(counts.tests)} "
            f"(no baseline to compare with).{tail}"
        )
    against = " against the base branch" if "(base branch)" in report.baseline_label else ""
    story = _story(report)
    if report.delta_usd == 0 and not story:
        return f"This change leaves LLM cost per test run unchanged{against} at {short_money(report.now_usd)}.{tail}"
    verb = "raises" if report.delta_usd > 0 else "lowers" if report.delta_usd < 0 else "keeps"
    pct = f" ({ratio(report.delta_ratio)})" if report.delta_ratio is not None else ""
    amount = f" by {short_money(abs(report.delta_usd))}{pct}" if report.delta_usd else " level"
    text = f"This change {verb} LLM cost per test run{against}{amount}"
    if story:
        text += f": {story}"
    text += "."
    if report.monthly_delta_usd:
        text += f" That is {signed(report.monthly_delta_usd)} a month at the runs per day set."
    return text + tail


#: The order a change is listed in: what fails first, then accepted increases, then the rest; new tests last.
_RANK = {"unpriced": 0, "over_budget": 0, "unknown_step": 0, "regressed": 0, "cache_regressed": 0, "accepted": 1}


def _changes(report: Report) -> list[tuple[int, Decimal, str, TestRow]]:
    """Tests whose cost changed, in the order the summary lists them (each then with its changed steps).

    Tests that fail come first, then increases accepted in the change's baseline, then the rest by
    the size of the change (a test ranks by the largest change among it and its steps, a flat total
    can hide a step that grew); tests new to the baseline come last, so they never crowd out a change.
    Only the keys are computed here: the rows are written for the tests shown.
    """
    found: list[tuple[int, Decimal, str, TestRow]] = []
    for test in report.tests:
        if test.delta_usd is None and test.status != "new":
            continue
        change = test.delta_usd if test.delta_usd is not None else test.now_usd
        if not change and test.status == "ok" and not test.fails:
            continue
        rank = max([abs(change), *(abs(step.delta_usd) for step in test.steps if step.delta_usd)])
        order = 0 if test.fails else _RANK.get(test.status, 3 if test.status == "new" else 2)
        found.append((order, rank, test.nodeid, test))
    found.sort(key=lambda item: (item[0], -item[1], item[2]))
    return found


def _change_rows(test: TestRow) -> list[list[str]]:
    """A changed test's row, followed by its changed steps (largest change first) and why they moved."""
    changed = [(abs(step.delta_usd), step) for step in test.steps if step.delta_usd]
    changed.sort(key=lambda item: -item[0])
    steps = [step for _, step in changed]
    rows = [_test_cells(test)]
    rows += [
        [
            f"↳ {code(step.path)}",
            dollars(step.base_usd),
            dollars(step.now_usd),
            signed(step.delta_usd),
            ratio(step.delta_ratio),
            cell(("over: " if step.over else "") + step.why),
        ]
        for step in steps
    ]
    if not steps and test.why:  # a test without steps: its total's causes
        rows[0][-1] += " · " + cell(test.why[0])
    return rows


#: Rows the "biggest changes" table shows at most, steps included; and characters of a "why" cell.
MAX_CHANGE_ROWS = 40
MAX_WHY = 400


def _first_groups(changes: list[tuple[int, Decimal, str, TestRow]], count: int) -> list[list[str]]:
    """The rows of the first ``count`` changed tests, each with its step rows, within MAX_CHANGE_ROWS."""
    kept: list[list[str]] = []
    for _, _, _, test in changes[:count]:
        for row in _change_rows(test):
            if len(kept) == MAX_CHANGE_ROWS:
                return kept
            kept.append([*row[:-1], _clip(row[-1])])
    return kept


def _clip(text: str) -> str:
    return text if len(text) <= MAX_WHY else text[: MAX_WHY - 1] + "…"


def _test_cells(test: TestRow) -> list[str]:
    return [
        code(test.nodeid),
        dollars(test.base_usd),
        dollars(test.now_usd),
        signed(test.delta_usd if test.delta_usd is not None else test.now_usd if test.status == "new" else None),
        ratio(test.delta_ratio),
        STATUS_LABELS.get(test.status, test.status) + (f": {code(test.moved[0])}" if test.label != test.status else ""),
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

    if report_link:
        lines += [f"[Full HTML report]({report_link})", ""]
    if report.step_changes:
        lines += ["#### What moved, by step", ""]
        step_rows = [
            [
                code(change.step),
                dollars(change.base_usd),
                dollars(change.now_usd),
                signed(change.delta_usd),
                ratio(change.delta_ratio),
                f"{change.tests:,}",
                _clip(cell(change.why)),
            ]
            for change in report.step_changes[:MAX_CHANGES]
        ]
        lines += markdown_table(["step", "base", "head", "Δ", "Δ%", "tests", "why"], step_rows, "lrrrrrl")
        if len(report.step_changes) > MAX_CHANGES:
            lines += ["", f"…and {len(report.step_changes) - MAX_CHANGES:,} more steps in the full report."]
        lines.append("")
    changes = _changes(report)
    header = ["test / step", "base", "head", "Δ", "Δ%", ""]
    if changes:
        lines += ["#### Biggest changes", ""]
        lines += markdown_table(header, _first_groups(changes, MAX_CHANGES), "lrrrrl")
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
