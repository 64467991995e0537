"""The rate card: genai-prices behind a small interface, plus the project's local price file.

``llm-cost-prices.yaml`` adds or overrides model prices (USD per million tokens of each kind)
and charges non-LLM HTTP calls per request by URL pattern::

    version: 1
    models:
      acme-large-2:            # the model name as the API reports it; * and ? are wildcards
        input: 3.00            # USD per million input tokens
        cached_input: 0.30     # optional, defaults to input
        cache_write: 3.75      # optional, defaults to input
        output: 15.00
        provider: openai       # optional: only calls to this provider
    requests:
      - match: "https://api.search.example.com/*"
        usd: 0.008             # per request
        name: web-search       # optional label in reports

genai-prices is imported on first use, never at plugin import.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .usage import Tokens

__all__ = [
    "LocalModelPrice",
    "LocalPrices",
    "Price",
    "PriceFileError",
    "RateCard",
    "RequestFee",
    "load_local_prices",
    "unpriced_snippet",
]

MILLION = Decimal(1_000_000)
LOCAL_FORMAT = 1

#: Hosts whose provider genai-prices cannot tell from the URL alone.
_HOST_PROVIDERS = {
    "aiplatform.googleapis.com": "google",
    "generativelanguage.googleapis.com": "google",
}


class PriceFileError(ValueError):
    """The local price file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class LocalModelPrice:
    pattern: str
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    provider: str | None = None

    def matches(self, provider: str, model: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        return fnmatch.fnmatchcase(model.lower(), self.pattern.lower())

    def usd(self, tokens: Tokens) -> Decimal:
        cached = self.input if self.cached_input is None else self.cached_input
        write = self.input if self.cache_write is None else self.cache_write
        return (
            tokens.uncached_input * self.input
            + tokens.cached_input * cached
            + tokens.cache_write * write
            + tokens.output * self.output
        ) / MILLION


@dataclass(frozen=True)
class RequestFee:
    pattern: str
    usd: Decimal
    name: str | None = None

    def matches(self, url: str) -> bool:
        return fnmatch.fnmatchcase(url, self.pattern)


@dataclass(frozen=True)
class LocalPrices:
    path: Path | None = None
    sha256: str | None = None
    models: tuple[LocalModelPrice, ...] = ()
    requests: tuple[RequestFee, ...] = ()

    def model_price(self, provider: str, model: str) -> LocalModelPrice | None:
        for entry in self.models:
            if entry.matches(provider, model):
                return entry
        return None

    def fee_named(self, name: str) -> RequestFee | None:
        for fee in self.requests:
            if fee.name == name:
                return fee
        return None

    def request_fee(self, url: str) -> RequestFee | None:
        # Query strings carry no part of an endpoint's identity here (and may carry keys).
        base = url.split("?", 1)[0]
        for fee in self.requests:
            if fee.matches(base) or fee.matches(url):
                return fee
        return None


def _money(path: Path, where: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PriceFileError(f"{path}: {where} must be a number of US dollars, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PriceFileError(f"{path}: {where} must be a number of US dollars, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise PriceFileError(f"{path}: {where} must be a number of US dollars >= 0, got {value!r}")
    return amount


_MODEL_KEYS = {"input", "output", "cached_input", "cache_write", "provider"}
_REQUEST_KEYS = {"match", "usd", "name"}


def load_local_prices(path: Path) -> LocalPrices:
    """Read the local price file; an absent file is an empty price list."""
    import yaml

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LocalPrices()
    except OSError as exc:
        raise PriceFileError(f"{path}: cannot read the price file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise PriceFileError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PriceFileError(f"{path}: expected a mapping with 'models' and/or 'requests', got {type(data).__name__}")
    unknown = set(data) - {"version", "models", "requests"}
    if unknown:
        raise PriceFileError(
            f"{path}: unknown key {sorted(unknown)[0]!r}; the file holds 'version', 'models' and 'requests'"
        )
    version = data.get("version", LOCAL_FORMAT)
    if version != LOCAL_FORMAT:
        raise PriceFileError(f"{path}: version {version!r} is not supported; this pytest-llmcost reads version 1")

    models: list[LocalModelPrice] = []
    raw_models = data.get("models") or {}
    if not isinstance(raw_models, dict):
        raise PriceFileError(f"{path}: 'models' must map a model name to its prices")
    for name, prices in raw_models.items():
        where = f"models.{name}"
        if not isinstance(prices, dict):
            raise PriceFileError(f"{path}: {where} must be a mapping with 'input' and 'output' prices")
        unknown = set(prices) - _MODEL_KEYS
        if unknown:
            raise PriceFileError(
                f"{path}: {where} has unknown key {sorted(unknown)[0]!r}; "
                f"use {', '.join(sorted(_MODEL_KEYS - {'provider'}))} (USD per million tokens) and provider"
            )
        for required in ("input", "output"):
            if required not in prices:
                raise PriceFileError(f"{path}: {where} needs '{required}' (USD per million {required} tokens)")
        provider = prices.get("provider")
        if provider is not None and not isinstance(provider, str):
            raise PriceFileError(f"{path}: {where}.provider must be a provider name such as 'openai'")
        models.append(
            LocalModelPrice(
                pattern=str(name),
                input=_money(path, f"{where}.input", prices["input"]),
                output=_money(path, f"{where}.output", prices["output"]),
                cached_input=_money(path, f"{where}.cached_input", prices["cached_input"])
                if "cached_input" in prices
                else None,
                cache_write=_money(path, f"{where}.cache_write", prices["cache_write"])
                if "cache_write" in prices
                else None,
                provider=provider,
            )
        )

    requests: list[RequestFee] = []
    raw_requests = data.get("requests") or []
    if not isinstance(raw_requests, list):
        raise PriceFileError(f"{path}: 'requests' must be a list of {{match: URL pattern, usd: price}} entries")
    for index, entry in enumerate(raw_requests):
        where = f"requests[{index}]"
        if not isinstance(entry, dict) or "match" not in entry or "usd" not in entry:
            raise PriceFileError(f"{path}: {where} needs 'match' (a URL pattern) and 'usd' (the price per request)")
        unknown = set(entry) - _REQUEST_KEYS
        if unknown:
            raise PriceFileError(f"{path}: {where} has unknown key {sorted(unknown)[0]!r}; use match, usd and name")
        name = entry.get("name")
        requests.append(
            RequestFee(
                pattern=str(entry["match"]),
                usd=_money(path, f"{where}.usd", entry["usd"]),
                name=None if name is None else str(name),
            )
        )
    return LocalPrices(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        models=tuple(models),
        requests=tuple(requests),
    )


def unpriced_snippet(model: str, provider: str | None = None) -> str:
    """The YAML that prices ``model`` in the local price file, for error messages."""
    lines = ["models:", f"  {_yaml_key(model)}:"]
    if provider:
        lines.append(f"    provider: {provider}")
    lines += [
        "    input: 0.00    # USD per million input tokens",
        "    output: 0.00   # USD per million output tokens",
    ]
    return "\n".join(lines)


def _yaml_key(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_.\-/]+", text) else '"' + text.replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Price:
    """The price of one call, or None when nothing priced it."""

    usd: Decimal | None
    source: str
    """``genai-prices``, ``local`` or ``unpriced``."""
    provider: str
    model_id: str | None = None


class _FastPrice:
    """A genai-prices model price reduced to the four token kinds the meter reports.

    genai-prices' general calculation costs ~70 µs; this one costs a few. It is used only
    for prices whose keys it understands, and a unit test checks it gives genai-prices'
    own figures for every model in the bundled card.
    """

    __slots__ = ("cache_read", "cache_write", "input", "output", "per_request")

    SUPPORTED = frozenset({"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "requests_kcount"})
    #: Keys for units the meter never reports (modalities, searches, pages): they price nothing here.
    IGNORED = re.compile(
        r"^(?:input|output|cache)_(?:audio|image|video|document|annotated_document|text_messages|citation)"
        r"|_hours$|_mchars$|_kpages$|searches_kcount$|^cache_write_1h_mtok$|^cache_(?:audio|image)_"
    )

    def __init__(self, model_price: Any) -> None:
        self.input = model_price.input_mtok
        self.output = model_price.output_mtok
        self.cache_read = model_price.cache_read_mtok
        self.cache_write = model_price.cache_write_mtok
        per_k = model_price.requests_kcount
        self.per_request = None if per_k is None else per_k / 1000

    @classmethod
    def build(cls, model_price: Any) -> _FastPrice | None:
        for key, value in model_price.__dict__.items():
            if value is None or key.startswith("_"):
                continue
            if key in cls.SUPPORTED:
                if key == "requests_kcount" and not isinstance(value, Decimal):
                    return None
                continue
            if cls.IGNORED.search(key):
                continue
            return None
        return cls(model_price)

    @staticmethod
    def _rate(price: Any, total_input: Decimal | int) -> Decimal:
        if isinstance(price, Decimal):
            return price
        rate = price.base
        for tier in reversed(price.tiers):
            if total_input > tier.start:
                return tier.price  # type: ignore[no-any-return]
        return rate  # type: ignore[no-any-return]

    def usd(self, tokens: Tokens, calls: int = 1) -> Decimal:
        """The price of ``calls`` calls that used ``tokens`` in all; tiers follow the input per call."""
        total_input: Decimal | int = tokens.input if calls <= 1 else Decimal(tokens.input) / calls
        input_rate = None if self.input is None else self._rate(self.input, total_input)
        amount = Decimal(0)
        uncached = tokens.input
        if self.cache_read is not None:
            amount += tokens.cached_input * self._rate(self.cache_read, total_input)
            uncached -= tokens.cached_input
        if self.cache_write is not None:
            amount += tokens.cache_write * self._rate(self.cache_write, total_input)
            uncached -= tokens.cache_write
        if input_rate is not None:
            amount += uncached * input_rate
        if self.output is not None:
            amount += tokens.output * self._rate(self.output, total_input)
        amount /= MILLION
        if self.per_request is not None:
            amount += self.per_request * max(calls, 1)
        return amount


@dataclass
class RateCard:
    """Prices calls: the local file first, then genai-prices. Never returns $0 for an unknown model."""

    local: LocalPrices = field(default_factory=LocalPrices)
    when: datetime = field(default_factory=lambda: datetime.now(tz=UTC))
    _providers: dict[str, str | None] = field(default_factory=dict, repr=False)
    _models: dict[tuple[str, str], tuple[Any, Any, _FastPrice | None] | None] = field(default_factory=dict, repr=False)

    @staticmethod
    def genai_prices_version() -> str:
        try:
            return importlib.metadata.version("genai-prices")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a dependency
            return "unknown"

    def describe(self) -> dict[str, Any]:
        """What priced a run, for the results file and reports."""
        return {
            "genai_prices": self.genai_prices_version(),
            "local_prices": None
            if self.local.path is None
            else {"path": self.local.path.name, "sha256": self.local.sha256},
        }

    def provider_for(self, host: str, url: str, fallback: str) -> str:
        """The genai-prices provider id of a request: from its host when known, else ``fallback``."""
        key = url.split("?", 1)[0]
        try:
            found = self._providers[key]
        except KeyError:
            found = self._providers[key] = self._lookup_provider(host, key)
        return found or fallback

    def _lookup_provider(self, host: str, url: str) -> str | None:
        if host in _HOST_PROVIDERS:
            return _HOST_PROVIDERS[host]
        if host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost"):
            return None
        from genai_prices import data_snapshot

        try:
            provider = data_snapshot.get_snapshot().find_provider(None, None, url)
        except LookupError:
            return None
        return str(provider.id)

    def price(self, provider: str, model: str | None, tokens: Tokens) -> Price:
        if model is None:
            return Price(None, "unpriced", provider)
        local = self.local.model_price(provider, model)
        if local is not None:
            return Price(local.usd(tokens), "local", provider, local.pattern)
        found = self._genai_model(provider, model)
        if found is None:
            return Price(None, "unpriced", provider)
        provider_info, model_info, fast = found
        usd = fast.usd(tokens) if fast is not None else self._slow_usd(provider_info, model_info, tokens)
        return Price(usd, "genai-prices", str(provider_info.id), str(model_info.id))

    def price_aggregate(self, provider: str, model: str, tokens: Tokens, calls: int) -> Decimal | None:
        """The price of ``calls`` calls to one model that used ``tokens`` in all, or None when unpriced.

        Used to price a baseline's per-model totals. Long-context tiers are chosen by the input
        per call, which is exact when the calls sit on the same side of a tier's threshold.
        """
        if calls <= 1:
            return self.price(provider, model, tokens).usd
        local = self.local.model_price(provider, model)
        if local is not None:
            return local.usd(tokens)
        found = self._genai_model(provider, model)
        if found is None:
            return None
        provider_info, model_info, fast = found
        if fast is not None:
            return fast.usd(tokens, calls)
        return self._slow_usd(provider_info, model_info, tokens)

    def _slow_usd(self, provider_info: Any, model_info: Any, tokens: Tokens) -> Decimal:
        from genai_prices import Usage

        usage = Usage(
            input_tokens=tokens.input,
            cache_read_tokens=tokens.cached_input,
            cache_write_tokens=tokens.cache_write,
            output_tokens=tokens.output,
        )
        result = model_info.calc_price(usage, provider_info, genai_request_timestamp=self.when)
        return Decimal(result.total_price)

    def _genai_model(self, provider: str, model: str) -> tuple[Any, Any, _FastPrice | None] | None:
        key = (provider, model)
        try:
            return self._models[key]
        except KeyError:
            pass
        from genai_prices import data_snapshot

        snapshot = data_snapshot.get_snapshot()
        found: tuple[Any, Any, _FastPrice | None] | None
        try:
            provider_info, model_info = snapshot.find_provider_model(model, None, provider, None)
        except LookupError:
            found = None
        else:
            fast = _FastPrice.build(model_info.get_prices(self.when))
            found = (provider_info, model_info, fast)
        self._models[key] = found
        return found


def rate_card_label(description: Mapping[str, Any]) -> str:
    """``genai-prices 0.2.3 + llm-cost-prices.yaml (sha256 1a2b3c4d)`` for reports."""
    label = f"genai-prices {description.get('genai_prices', '?')}"
    local = description.get("local_prices")
    if local:
        label += f" + {local.get('path')} (sha256 {str(local.get('sha256'))[:8]})"
    return label
