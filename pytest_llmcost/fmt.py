"""Every human format in one place: money, percentages, token counts, plurals, status labels.

Pure functions over Decimal and int; nothing here imports pytest or any other module of the
package, so every surface (terminal, HTML, Markdown, CLI, failure messages) formats alike.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = [
    "SEGMENT_LABELS",
    "STATUS_LABELS",
    "format_usd",
    "growth",
    "money",
    "percent",
    "plural",
    "share",
    "short_money",
    "signed_money",
    "times",
]

#: How a status reads in a report (the gate's ``Status`` values); ``failed`` is a test that failed otherwise.
STATUS_LABELS = {
    "regressed": "regressed",
    "cache_regressed": "cache regressed",
    "accepted": "accepted",
    "over_budget": "over budget",
    "unknown_step": "unknown step",
    "unpriced": "unpriced",
    "failed": "failed",
    "new": "new",
    "improved": "improved",
    "ok": "ok",
}


#: How the parts of a prompt read (``providers.segments`` splits a request into them).
SEGMENT_LABELS = {
    "tools": "tool definitions",
    "system": "system prompt",
    "history": "earlier conversation",
    "latest": "latest message",
}


def format_usd(usd: Decimal) -> str:
    """Dollars as an exact decimal string without exponent: ``Decimal('2.19E-4')`` -> ``0.000219``."""
    text = format(usd, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def short_money(usd: Decimal) -> str:
    """Dollars with three significant digits for messages: ``$0.0123``, ``$0.0000054``, ``$12.35``."""
    if not usd:
        return "$0"
    sign = "-" if usd < 0 else ""
    usd = abs(usd)
    places = max(2, 2 - usd.adjusted())
    text = f"{usd.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,.{places}f}"
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction.rstrip("0").ljust(2, "0")
        text = f"{whole}.{fraction}"
    return f"{sign}${text}"


def signed_money(usd: Decimal) -> str:
    """``+$0.0023`` or ``-$0.0011``: a change in dollars."""
    return ("+" if usd >= 0 else "-") + short_money(abs(usd))


def money(usd: Decimal, places: int = 6) -> str:
    """``$0.000219``: fixed places so columns line up; exact values live in the results file.

    An amount too small for ``places`` is shown exactly (``$0.0000001``), never as $0.
    """
    quantum = Decimal(1).scaleb(-places)
    rounded = usd.quantize(quantum, rounding=ROUND_HALF_EVEN)
    if not rounded and usd:
        return f"${format_usd(usd)}"
    return f"${rounded:,.{places}f}"


def percent(ratio: Decimal) -> str:
    """A signed ratio as a percentage with one decimal: ``Decimal('0.246')`` -> ``+24.6%``."""
    return f"{ratio * 100:+.1f}%"


def growth(delta_usd: Decimal, base_usd: Decimal | None) -> str:
    """How much something grew: ``+24.6%``, or ``+$0.0012`` when there was nothing before."""
    if base_usd:
        return percent(delta_usd / base_usd)
    return signed_money(delta_usd)


def share(fraction: Decimal | None) -> str:
    """A share of a whole as a whole percentage: ``Decimal('0.92')`` -> ``92%``; ``-`` when unknown."""
    return "-" if fraction is None else f"{fraction * 100:.0f}%"


def times(before: int, after: int) -> str:
    """How a count changed: ``x4.2`` for a large growth, ``+12%`` or ``-35%`` (one decimal under 10%)."""
    if not before:
        return "new"
    if after >= 1.5 * before:
        return f"x{after / before:.1f}"
    change = (after - before) / before * 100
    return f"{change:+.1f}%" if abs(change) < 10 else f"{change:+.0f}%"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 test``, ``2 tests``, ``3 baseline entries`` (with ``many``)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"
