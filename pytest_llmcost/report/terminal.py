"""The terminal section ``pytest --llm-cost`` prints after the tests."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from ..fmt import money, percent, plural, short_money
from ..gate.compare import Comparison
from ..gate.judge import UPDATE_COMMAND, RunVerdict, Status
from ..pricing import rate_card_label
from ..results import Results
from ..usage import Call, StepCost, TestCost, Tokens

__all__ = ["call_line", "live_line", "money", "plural", "summary_lines", "written_line"]

#: A report that took longer than this many seconds to write shows its time.
SLOW_REPORT_S = 1.0
#: Exact counts for a response without usage: what to ask the provider for.
EXACT_COUNTS_HINT = (
    'for exact counts ask the provider for usage: OpenAI streams stream_options={"include_usage": True}, '
    "LangChain ChatOpenAI(stream_usage=True)"
)

MAX_TESTS = 20
MAX_STEPS = 5


def _fit(text: str, width: int) -> str:
    """``text`` cut from the left to ``width``, so a CI log still shows the test's function and parameters.

    ``tests/agents/test_research.py::test_workflow[small model]`` becomes
    ``…test_research.py::test_workflow[small model]``; when the function and its parameters alone
    are too long, the parameters are cut in the middle and the function name stays whole.
    """
    if len(text) <= width:
        return text
    if width < 2:
        return "…"[:width]
    bracket = text.find("[")
    head = text if bracket < 0 else text[:bracket]
    name_start = head.rfind("::") + 2 if "::" in head else 0
    name = text[name_start:]
    if len(name) + 1 <= width:
        return "…" + text[-(width - 1) :]
    function = text[name_start:bracket] if bracket >= 0 else name
    params = text[bracket:] if bracket >= 0 else ""
    room = width - 1 - len(function)
    if params and 3 <= room < 5:  # room for the function name, not for its parameters
        return "…" + function + "[…]"
    if not params or room < 5:  # no parameters, or no room for the function name: the end of the name
        return "…" + text[-(width - 1) :]
    keep = room - 1  # an ellipsis in the middle of the parameters; their closing bracket stays
    left = keep // 2
    return "…" + function + params[:left] + "…" + params[len(params) - (keep - left) :]


def _table(title: str, rows: Iterable[tuple[str, int, Tokens, Decimal]], width: int) -> list[str]:
    name_width = max(24, width - 47)
    out = [f"{title:<{name_width}} {'calls':>5} {'input':>9} {'cached':>8} {'output':>8} {'$':>11}"]
    for name, calls, tokens, usd in rows:
        out.append(
            f"{_fit(name, name_width):<{name_width}} {calls:>5,} {tokens.input:>9,} "
            f"{tokens.cached_input:>8,} {tokens.output:>8,} {money(usd):>11}"
        )
    return out


def steps_across(tests: Iterable[TestCost]) -> dict[str, StepCost]:
    """Totals per step path over many tests."""
    merged: dict[str, StepCost] = {}
    for test in tests:
        for path, cost in test.steps.items():
            seen = merged.get(path, StepCost())
            merged[path] = StepCost(
                usd=seen.usd + cost.usd, tokens=seen.tokens + cost.tokens, calls=seen.calls + cost.calls
            )
    return merged


def summary_lines(results: Results, width: int = 100) -> list[str]:
    tests = [test for test in results.tests.values() if test.records]
    if not tests:
        return ["no LLM calls were metered"]
    ordered = sorted(tests, key=lambda test: (-test.usd, test.nodeid))
    lines = _table("test", ((test.nodeid, test.calls, test.tokens, test.usd) for test in ordered[:MAX_TESTS]), width)
    if len(ordered) > MAX_TESTS:
        rest = ordered[MAX_TESTS:]
        lines.append(
            f"... and {plural(len(rest), 'more test')} costing {money(sum((t.usd for t in rest), Decimal(0)))}"
        )
    steps = steps_across(tests)
    if steps:
        top = sorted(steps.items(), key=lambda item: (-item[1].usd, item[0]))[:MAX_STEPS]
        lines.append("")
        lines += _table("most expensive steps", ((p, s.calls, s.tokens, s.usd) for p, s in top), width)
    tokens = results.tokens
    lines.append("")
    lines.append(
        f"total: {plural(len(tests), 'test')}, {plural(results.calls, 'call')}, "
        f"{tokens.input:,} input tokens ({tokens.cached_input:,} cached), {tokens.output:,} output tokens, "
        f"{money(results.usd)}"
    )
    estimated = sum(test.estimated for test in tests)
    unpriced = sum(test.unpriced for test in tests)
    flags = [
        f"{plural(estimated, 'call')} estimated (no usage reported)",
        f"{plural(unpriced, 'call')} unpriced (counted as $0)",
    ]
    lines.append("; ".join(flags))
    if estimated:
        lines.append(EXACT_COUNTS_HINT)
    lines.append(f"rate card: {rate_card_label(results.rate_card)}")
    return lines


def live_line(calls: int, usd: Decimal, tests: int) -> str:
    """The progress line a long recording prints now and then: what it has spent so far."""
    return f"llm-cost: recording, {plural(calls, 'LLM call')} in {plural(tests, 'test')} so far, {money(usd)} spent"


def written_line(label: str, shown: str, seconds: float | None = None) -> str:
    """``report: .llm-cost/report.html``, with the time it took when that was long (``(1.4 s)``)."""
    took = f" ({seconds:.1f} s)" if seconds is not None and seconds > SLOW_REPORT_S else ""
    return f"{label}: {shown}{took}"


def estimate_label(call: Call) -> str:
    """``estimated``, or ``estimated-unavailable`` when tiktoken's data could not be had (counted as 0 tokens)."""
    from ..meter import NO_TOKENIZER

    return "estimated-unavailable" if (call.note or "").startswith(NO_TOKENIZER) else "estimated"


def call_line(call: Call) -> str:
    """One metered call, for ``-v``."""
    labels = [label for label, on in ((estimate_label(call), call.estimated), ("unpriced", call.unpriced)) if on]
    where = call.step or "-"
    if call.requests:
        what = f"{call.model or call.provider} ({plural(call.requests, 'request')})"
    else:
        tokens = call.tokens
        what = (
            f"{call.model or '?'}{' ' + call.part if call.part else ''}: {tokens.input:,} in"
            f" ({tokens.cached_input:,} cached"
            + (f", {tokens.cache_write:,} cache write" if tokens.cache_write else "")
            + f"), {tokens.output:,} out"
        )
        if call.dims:
            what += f", {call.dims.describe()}"
        if call.service_tier:
            what += f", {call.service_tier} tier"
    text = f"    llm-cost [{where}] {what} {money(call.usd)}"
    if labels:
        text += f" [{', '.join(labels)}]"
    if call.note and not call.estimated:
        text += f" ({call.note})"
    return text


def comparison_table(comparison: Comparison) -> str:
    """The per-step table of a test's report section: baseline, now and the change, at today's prices."""
    rows = [("", "baseline", "now", "change", "", "")]
    for delta in (comparison.total, *comparison.steps):
        name = "(test total)" if delta.path is None else delta.path
        base = "-" if delta.base_usd is None else money(delta.base_usd)
        ratio = delta.delta_ratio
        change = f"{'+' if delta.delta_usd >= 0 else '-'}{money(abs(delta.delta_usd))}"
        rows.append(
            (
                name,
                base,
                money(delta.now_usd),
                change,
                "new" if delta.base_usd is None else ("" if ratio is None else percent(ratio)),
                "" if delta.allowed else "over",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]
    lines.append(f"allowed: {comparison.allowance}; prices: today's rate card for both")
    shown = comparison.steps or (comparison.total,)  # a total over steps of different shapes explains little
    why = [delta.why for delta in shown if delta.base is not None and delta.changed]
    if why:
        lines += ["", "why:", *(f"  {line}" for line in why)]
    return "\n".join(lines)


def findings_lines(run: RunVerdict, results: Results | None = None) -> list[str]:
    """Counted session-level findings, each ending with the command that resolves it."""
    lines: list[str] = []
    update = UPDATE_COMMAND
    updating = run.rules.updating
    failed = [
        (Status.REGRESSED, "over its allowed delta", "over their allowed delta"),
        (Status.CACHE_REGRESSED, "losing prompt-cache hits", "losing prompt-cache hits"),
        (Status.OVER_BUDGET, "over its cost_budget", "over their cost_budget"),
        (Status.UNKNOWN_STEP, "on a cost_budget step it never ran", "on cost_budget steps they never ran"),
        (Status.UNPRICED, "calling an unpriced model", "calling unpriced models"),
    ]
    for status, one, many in failed:
        ids = run.failing.get(status, ())
        fixtures = sum(1 for nodeid in ids if "[fixture " in nodeid)
        tests = len(ids) - fixtures
        if tests:
            lines.append(f"{plural(tests, 'test')} failed {one if tests == 1 else many}")
        if fixtures:
            lines.append(f"{plural(fixtures, 'fixture')} failed {one if fixtures == 1 else many}")
    if run.count(Status.REGRESSED) and not updating:
        lines.append(f"accept an intended cost change with `{update}` (or `llm-cost update-baseline`)")
    new = len(run.new)
    if new and not updating:
        where = run.baseline if run.baseline_exists else f"a new {run.baseline}"
        if run.rules.strict:
            verb = "fails (--llm-cost-strict)" if new == 1 else "fail (--llm-cost-strict)"
        else:
            verb = "passes" if new == 1 else "pass"
        lines.append(
            f"{plural(new, 'test')} with LLM calls {'is' if new == 1 else 'are'} not in the baseline and {verb}: "
            f"record {'it' if new == 1 else 'them'} in {where} with `{update}`"
        )
    stale = len(run.stale)
    if stale:
        lines.append(
            f"{plural(stale, 'baseline entry', 'baseline entries')} {'has' if stale == 1 else 'have'} no test: "
            f"drop {'it' if stale == 1 else 'them'} with `{update} --llm-cost-prune`"
        )
    improved = len(run.improved)
    if improved and not updating:
        lines.append(
            f"{plural(improved, 'test')} got cheaper than {'its' if improved == 1 else 'their'} baseline "
            f"by more than the allowed delta: lock the saving in with `{update}`"
        )
    drift = run.drift_usd
    if drift:
        direction = "more" if drift > 0 else "less"
        lines.append(
            f"price drift: today's rate card prices the baseline's usage {short_money(abs(drift))} {direction} "
            f"than when it was written; compared at today's prices, nothing fails for it (`{update}` records them)"
        )
    if results is not None:
        from ..meter import NO_TOKENIZER

        blind = sum(
            1 for test in results.tests.values() for call in test.records if (call.note or "").startswith(NO_TOKENIZER)
        )
        if blind:
            lines.append(
                f"{plural(blind, 'call')} without reported usage could not be estimated (counted as 0 tokens): "
                "tiktoken's encoding could not be loaded; point TIKTOKEN_CACHE_DIR at a folder holding it "
                "(run once with network to fill it)"
            )
    if results is not None and results.unattributed:
        calls = sum(lost.calls for lost in results.unattributed)
        usd = sum((lost.usd for lost in results.unattributed), Decimal(0))
        origins = ", ".join(lost.nodeid for lost in results.unattributed[:3])
        lines.append(
            f"{plural(calls, 'call')} ({money(usd)}) unattributed: made by work a test started after that test "
            f"ended ({origins}); billed to no test, listed in results.json"
        )
    return lines
