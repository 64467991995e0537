"""Pricing: the project's local price file and the genai-prices rate card (imported lazily)."""

from __future__ import annotations

from .card import (
    LocalModelPrice,
    LocalPrices,
    Price,
    PriceFileError,
    RateCard,
    RequestFee,
    load_local_prices,
    price_context,
    rate_card_label,
    request_fee_snippet,
    unpriced_snippet,
)

__all__ = [
    "LocalModelPrice",
    "LocalPrices",
    "Price",
    "PriceFileError",
    "RateCard",
    "RequestFee",
    "load_local_prices",
    "price_context",
    "rate_card_label",
    "request_fee_snippet",
    "unpriced_snippet",
]
