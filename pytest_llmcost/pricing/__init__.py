"""Pricing: the project's local price file and the genai-prices rate card (imported lazily)."""

from __future__ import annotations

from . import card
from .card import *  # noqa: F403 - the package is the card's public face

__all__ = card.__all__
