"""Allowed deltas: how much more a test may cost than its baseline before it fails. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Allowance", "parse_allowance", "parse_cache_drop"]


@dataclass(frozen=True)
class Allowance:
    """How much more a test may cost than its baseline before it fails.

    Any combination of a percentage, a dollar amount and a token count; a change fails only
    when it exceeds every part given (the largest allowance wins), and never when the dollar
    increase is below the noise floor.
    """

    ratio: Decimal | None = None
    usd: Decimal | None = None
    tokens: int | None = None
    text: str = ""

    def exceeded(self, change_usd: Decimal, base_usd: Decimal, change_tokens: int) -> bool:
        """True when an increase of ``change_usd`` (and ``change_tokens``) is over every allowance given."""
        if change_usd <= 0:
            return False
        if self.ratio is not None and change_usd <= base_usd * self.ratio:
            return False
        if self.usd is not None and change_usd <= self.usd:
            return False
        return not (self.tokens is not None and change_tokens <= self.tokens)

    def __str__(self) -> str:
        return self.text


_TERM = re.compile(
    r"^\s*(?:(?P<pct>[0-9]*\.?[0-9]+)\s*%|\$\s*(?P<usd>[0-9]*\.?[0-9]+)|(?P<tok>[0-9][0-9_,]*)\s*tokens?"
    r"|(?P<frac>0?\.[0-9]+|0|1(?:\.0+)?))\s*$",
    re.IGNORECASE,
)


def parse_allowance(value: object) -> Allowance:
    """``"10%"``, ``0.1``, ``"$0.002"``, ``"500 tokens"``, or several joined by ``+``: ``"5% + $0.001"``."""
    if isinstance(value, Allowance):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(f"{value!r} is not an allowed delta; use e.g. '10%', '$0.002' or '500 tokens'")
    text = str(value).strip()
    ratio: Decimal | None = None
    usd: Decimal | None = None
    tokens: int | None = None
    parts = text.split("+")
    if not text or any(not part.strip() for part in parts):
        raise ValueError(f"{value!r} is not an allowed delta; use e.g. '10%', '$0.002' or '500 tokens'")
    for part in parts:
        match = _TERM.match(part)
        if match is None:
            raise ValueError(
                f"{part.strip()!r} in {text!r} is not an allowed delta; use a percentage ('10%'), "
                "a fraction (0.1), dollars ('$0.002') or tokens ('500 tokens'), joined by '+'"
            )
        if match["pct"] is not None:
            ratio = Decimal(match["pct"]) / 100
        elif match["frac"] is not None:
            ratio = Decimal(match["frac"])
        elif match["usd"] is not None:
            usd = Decimal(match["usd"])
        else:
            tokens = int(match["tok"].replace("_", "").replace(",", ""))
    return Allowance(ratio=ratio, usd=usd, tokens=tokens, text=text)


_POINTS = re.compile(r"^\s*(?P<n>[0-9]*\.?[0-9]+)\s*(?:%|points?|pp)?\s*$", re.IGNORECASE)


def parse_cache_drop(value: object) -> Decimal:
    """How far the share of input read from a prompt cache may fall before a test fails, in
    percentage points: ``"10%"``, ``"10 points"`` or ``10`` -> ``Decimal("0.1")``; ``"off"`` -> 1
    (a share cannot fall more than all of it)."""
    if isinstance(value, str) and value.strip().lower() in ("off", "none", "no", "false"):
        return Decimal(1)
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(f"{value!r} is not an allowed cache drop; use e.g. '10%' (points of input), or 'off'")
    match = _POINTS.match(str(value))
    if match is None or Decimal(match["n"]) > 100:
        raise ValueError(
            f"{value!r} is not an allowed cache drop; use percentage points of input from 0 to 100, "
            "e.g. '10%', or 'off'"
        )
    return Decimal(match["n"]) / 100
