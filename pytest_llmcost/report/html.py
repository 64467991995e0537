"""The HTML report: one self-contained file rendered from the report model.

The templates in ``report/templates`` only loop over a :class:`~.model.Report` and format it,
through the filters below; every figure, share and chart coordinate is computed in
:mod:`.model`. The stylesheet and the script are included inline, and a Content Security
Policy forbids the page any fetch at all: it opens the same from a CI artifact, an email or a
laptop offline. The policy allows the one inline script by its hash, computed here, so markup
smuggled in through a test id could not run even if it escaped escaping.

The one exception to "the template formats" is the tests table, which has a row per test (10,000
in a large suite) and the steps and calls of the most expensive: :func:`tests_table_rows` writes
it with the same filters and escaping, and it is joined into the rendered page once, since a Jinja
loop costs several times as much per row. jinja2 is imported on first use.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import escape as _escape

from .. import __version__
from ..files import write_atomic
from ..fmt import STATUS_LABELS, money, percent
from ..fmt import share as share_of
from ..usage import Tokens, short_money
from .model import (
    DAYS_PER_MONTH,
    OUTLIER_FACTOR,
    PARETO_MARK,
    CallRow,
    Report,
    StepRow,
    TestRow,
    pareto_chart,
    shared_cassette,
)

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

__all__ = ["STATUS_LABELS", "render_html", "tests_table_rows", "write_html"]

TEMPLATES = Path(__file__).parent / "templates"
DASH = "\u2013"  # an en dash: no value
CENT = Decimal("0.01")
#: Sorting the status column in descending order puts the worst first.
STATUS_RANKS = {
    "regressed": 8,
    "cache_regressed": 7,
    "over_budget": 6,
    "unknown_step": 5,
    "failed": 4,
    "unpriced": 3,
    "new": 2,
    "accepted": 2,
    "improved": 1,
    "ok": 0,
}
#: Outlier tests listed per step; the most expensive first.
OUTLIER_LIMIT = 20
_HASH_SLOT = "sha256-{script}"
_ROWS_SLOT = "<!-- the tests table's rows -->"


def usd(value: Decimal | None) -> str:
    """``$0.000219``; 6 places so columns line up, and never ``$0.000000`` for a non-zero amount."""
    if value is None:
        return DASH
    return f"-{money(-value)}" if value < 0 else money(value)


def cents(value: Decimal) -> str:
    """Larger sums (a projection per day or month) to the cent: ``$5,601.00``; under a cent, ``$0.0046``."""
    if abs(value) < CENT:
        return short_money(value)
    return f"{'-' if value < 0 else ''}${abs(value).quantize(CENT, rounding=ROUND_HALF_EVEN):,.2f}"


def signed(value: Decimal | None) -> str:
    """A change in dollars: ``+$0.000219``, ``-$0.000219``, ``$0.000000``."""
    if value is None:
        return DASH
    return f"+{money(value)}" if value > 0 else usd(value)


def pct(ratio: Decimal | None) -> str:
    """A change as a ratio of the baseline: ``+23.0%``."""
    return DASH if ratio is None else percent(ratio)


def share(value: float) -> str:
    """A share out of 100: ``23.4%``."""
    return f"{value:.1f}%"


def count(value: int) -> str:
    """``12,345``."""
    return f"{value:,}"


def plural(value: int, one: str, many: str | None = None) -> str:
    """The word for ``value`` of a thing (the count itself is formatted apart)."""
    return one if value == 1 else (many or one + "s")


def sort_value(value: Decimal | int | float | None) -> str:
    """A cell's ``data-v``: the number the script sorts by, to 9 significant digits ('' sorts last)."""
    if value is None:
        return ""
    return format(value, ".9g") if isinstance(value, Decimal) else str(value)


def px(value: float) -> str:
    """A chart coordinate, without a trailing ``.0``."""
    return f"{value:g}"


def trend_class(value: Decimal | None) -> str:
    """``up`` for a cost increase, ``dn`` for a decrease: colour on top of the sign, never instead."""
    if not value:
        return ""
    return "up" if value > 0 else "dn"


def trend(value: Decimal | None) -> Markup:
    from markupsafe import Markup

    name = trend_class(value)
    return Markup(f' class="{name}"' if name else "")


def breakdown(tokens: Tokens) -> str:
    """The exact counts behind a token bar, for its tooltip."""
    return (
        f"input {tokens.input:,} (uncached {tokens.uncached_input + tokens.cache_write:,}, cached "
        f"{tokens.cached_input:,}) · output {tokens.output:,} (reasoning {tokens.reasoning:,})"
    )


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        usd=usd,
        cents=cents,
        signed=signed,
        pct=pct,
        share=share,
        int=count,
        plural=plural,
        v=sort_value,
        px=px,
        trend=trend,
        trend_class=trend_class,
        breakdown=breakdown,
    )
    env.globals.update(
        labels=STATUS_LABELS,
        ranks=STATUS_RANKS,
        outlier_factor=OUTLIER_FACTOR,
        outlier_limit=OUTLIER_LIMIT,
        pareto_mark=PARETO_MARK,
        days_per_month=DAYS_PER_MONTH,
        version=__version__,
        shared_cassette=shared_cassette,
        share_of=share_of,
    )
    return env


# -- the tests table, written here: a row per test ------------------------------------------------

_STEP_HEAD = (
    '<table class="st"><thead><tr><th>Step / call</th><th>Baseline</th><th>Now</th><th>Δ $</th><th>Δ %</th>'
    "<th>Calls</th><th>Input</th><th>Cached</th><th>Cache write</th><th>Output</th><th>Reasoning</th>"
    '<th class="l">Interaction</th></tr></thead>\n'
)
_WHY_HEAD = (
    '<table class="bn"><thead><tr><th></th><th>Calls</th><th>Input / call</th><th>Cached share</th>'
    '<th>Cache writes / call</th><th>Output / call</th><th class="l">Models</th></tr></thead><tbody>'
)
_OVER = ' <span class="b s-regressed">over</span>'
_OVER_ROW = ' class="ov"'


def _esc(text: str) -> str:
    """Text escaped by markupsafe, as Jinja's autoescape escapes the rest of the page, as a plain
    ``str``: adding text to a ``Markup`` would escape that text again."""
    return str(_escape(text))


def _trend_attr(value: Decimal | None) -> str:
    name = trend_class(value)
    return f' class="{name}"' if name else ""


def tests_table_rows(report: Report) -> str:
    """The tests table's ``<tbody>`` elements: one per test, with its steps and calls when listed."""
    parts: list[str] = []
    add = parts.append
    for row in report.tests:
        nodeid = _esc(row.nodeid)
        if row.details:
            cell = f"<details{' open' if row.fails else ''}><summary>{nodeid}</summary></details>"
        else:
            cell = f"{nodeid} <small>steps and calls in results.json</small>"
        label = _esc(STATUS_LABELS[row.status])
        if row.label != row.status:
            label += f": {_esc(row.moved[0])}"
        tokens = row.tokens
        bar = row.bar
        bars = "".join(
            f'<i class="{name}" style="width:{width}%"></i>'
            for name, width in (("u", bar.uncached), ("c", bar.cached), ("o", bar.output), ("r", bar.reasoning))
            if width
        )
        trend_attr = _trend_attr(row.delta_usd)
        add(
            f'<tbody><tr><td class="id">{cell}</td><td data-v="{sort_value(row.base_usd)}">{usd(row.base_usd)}</td>'
            f'<td data-v="{sort_value(row.now_usd)}">{usd(row.now_usd)}</td>'
            f'<td{trend_attr} data-v="{sort_value(row.delta_usd)}">{signed(row.delta_usd)}</td>'
            f'<td{trend_attr} data-v="{sort_value(row.delta_ratio)}">{pct(row.delta_ratio)}</td>'
            f'<td class="l" data-v="{STATUS_RANKS[row.status]}">'
            f'<span class="b s-{_esc(row.status)}">{label}</span></td>'
            f'<td data-v="{row.calls}">{row.calls:,}</td><td class="l" data-v="{tokens.total}"><span class="tn">'
            f'{tokens.total:,}</span><span class="tb" title="{_esc(breakdown(tokens))}">{bars}</span></td></tr>\n'
        )
        if row.details:
            _details(row, add)
        add("</tbody>\n")
    return "".join(parts)


def _details(row: TestRow, add: Callable[[str], object]) -> None:
    """A listed test's findings, notes, and its steps with their calls."""
    cassette = shared_cassette(row)
    head = ['<tr class="d"><td colspan="8">']
    if row.findings:
        head.append('<ul class="fd">' + "".join(f"<li>{_esc(finding)}</li>" for finding in row.findings) + "</ul>")
    if cassette or row.estimated or row.unpriced:
        head.append('<p class="note">')
        if cassette:
            head.append(f"Cassette <code>{_esc(cassette)}</code>. ")
        if row.estimated:
            head.append(
                f"{row.estimated:,} {plural(row.estimated, 'call')} estimated from the recorded text "
                "(no usage reported). "
            )
        if row.unpriced:
            head.append(f"{row.unpriced:,} {plural(row.unpriced, 'call')} to an unpriced model, counted as $0.")
        head.append("</p>")
    add("".join(head) + _STEP_HEAD)
    for step in row.steps:
        add(_step_rows(step, cassette))
    add("</table></td></tr>\n")


def _step_rows(step: StepRow, cassette: str | None) -> str:
    over = _OVER if step.over else ""
    name = f"{_esc(step.path)}{over}"
    if step.calls_detail:
        name = f"<details><summary>{name}</summary></details>"
    tokens = step.tokens
    trend_attr = _trend_attr(step.delta_usd)
    parts = [
        f"<tbody><tr{_OVER_ROW if step.over else ''}><td>{name}</td><td>{usd(step.base_usd)}</td>"
        f"<td>{usd(step.now_usd)}</td><td{trend_attr}>{signed(step.delta_usd)}</td>"
        f"<td{trend_attr}>{pct(step.delta_ratio)}</td><td>{step.calls:,}</td><td>{tokens.input:,}</td>"
        f"<td>{tokens.cached_input:,}</td><td>{tokens.cache_write:,}</td><td>{tokens.output:,}</td>"
        f"<td>{tokens.reasoning:,}</td><td></td></tr>\n"
    ]
    if step.why:
        why = f'<tr class="w"><td colspan="12"><b>Why:</b> {_esc(step.why)}'
        if step.base and step.now:
            why += _WHY_HEAD
            for side, p in (("baseline", step.base), ("now", step.now)):
                models = ", ".join(_esc(model) for model in p.models)
                why += (
                    f"<tr><td>{side}</td><td>{p.calls:,}</td><td>{p.per_call('input'):,}</td>"
                    f"<td>{_esc(share_of(p.cached_share))}</td><td>{p.per_call('cache_write'):,}</td>"
                    f'<td>{p.per_call("output"):,}</td><td class="l">{models}</td></tr>'
                )
            why += "</tbody></table>"
        parts.append(why + "</td></tr>\n")
    parts += [_call_row(call, cassette) for call in step.calls_detail]
    parts.append("</tbody>\n")
    return "".join(parts)


def _call_row(call: CallRow, cassette: str | None) -> str:
    labels = [f'<span class="m">{_esc(call.model)}</span>']
    if call.part:
        labels.append(f' <span class="pt">{_esc(call.part)}</span>')
    labels.append(f' <span class="pt">{_esc(call.provider)}</span>')
    if call.estimated:
        labels.append(' <span class="lb">estimated</span>')
    if call.unpriced:
        labels.append(' <span class="lb u">unpriced</span>')
    billed = call.billed
    if billed:
        labels.append(f' <span class="lb">{_esc(billed)}</span>')
    if call.note and not call.estimated:
        labels.append(f' <span class="lb">{_esc(call.note)}</span>')
    requests = f"{call.requests:,} {plural(call.requests, 'request')}" if call.requests else ""
    where = f"{_esc(call.cassette)} " if call.cassette and call.cassette != cassette else ""
    if call.interaction is not None:
        where += f"#{call.interaction}"
    elif not call.cassette:
        where += DASH
    tokens = call.tokens
    return (
        f'<tr class="c"><td>{"".join(labels)}</td><td></td><td>{usd(call.usd)}</td><td></td><td></td>'
        f"<td>{requests}</td><td>{tokens.input:,}</td><td>{tokens.cached_input:,}</td><td>{tokens.cache_write:,}</td>"
        f'<td>{tokens.output:,}</td><td>{tokens.reasoning:,}</td><td class="cs">{where}</td></tr>\n'
    )


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    from markupsafe import Markup

    template = _environment().get_template("report.html.j2")
    chart = pareto_chart(report.pareto)
    html = template.render(report=report, rows=Markup(_ROWS_SLOT), chart=chart, script_hash=_HASH_SLOT)
    start = html.rindex("<script>") + len("<script>")
    script = html[start : html.index("</script>", start)]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    head, tail = html.replace(f"'{_HASH_SLOT}'", f"'sha256-{digest}'", 1).split(_ROWS_SLOT)
    # The rows (most of a large page) are joined into it once, never copied by the template.
    return "".join((head, tests_table_rows(report), tail, "\n"))


def write_html(report: Report, path: Path) -> None:
    """Render the report to ``path``, atomically."""
    write_atomic(path, render_html(report))
