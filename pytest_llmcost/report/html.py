"""The HTML report: one self-contained file rendered from the report model.

The templates in ``report/templates`` only loop over a :class:`~.model.Report` and format it,
through the filters below; every figure, share and chart coordinate is computed in
:mod:`.model`. The stylesheet and the script are included inline, and a Content Security
Policy forbids the page any fetch at all: it opens the same from a CI artifact, an email or a
laptop offline. The policy allows the one inline script by its hash, computed here, so markup
smuggled in through a test id could not run even if it escaped escaping.

jinja2 is imported on first use.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..files import write_atomic
from ..fmt import STATUS_LABELS, money, percent
from ..fmt import share as share_of
from ..usage import Tokens, short_money
from .model import DAYS_PER_MONTH, OUTLIER_FACTOR, PARETO_MARK, Report, pareto_chart, shared_cassette

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

__all__ = ["STATUS_LABELS", "render_html", "write_html"]

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


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    template = _environment().get_template("report.html.j2")
    html = template.render(report=report, chart=pareto_chart(report.pareto), script_hash=_HASH_SLOT)
    start = html.rindex("<script>") + len("<script>")
    script = html[start : html.index("</script>", start)]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return html.replace(f"'{_HASH_SLOT}'", f"'sha256-{digest}'", 1) + "\n"


def write_html(report: Report, path: Path) -> None:
    """Render the report to ``path``, atomically."""
    write_atomic(path, render_html(report))
