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

import dataclasses
import fnmatch
import hashlib
import importlib.metadata
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..providers.base import model_candidates
from ..usage import Dims, Tokens, parse_money

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

MILLION = Decimal(1_000_000)
NO_DIMS = Dims()
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

    def usd(self, tokens: Tokens, calls: int = 1) -> Decimal:
        # Priced like a genai-prices model: cache reads and writes at the input price unless set.
        return _FastPrice(self.input, self.output, self.cached_input, self.cache_write, None).usd(tokens, calls)


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
    try:
        return parse_money(value)
    except ValueError as exc:
        bound = " >= 0" if ">= 0" in str(exc) else ""
        raise PriceFileError(f"{path}: {where} must be a number of US dollars{bound}, got {value!r}") from None


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


def request_fee_snippet(url: str) -> str:
    """The YAML that charges a call to ``url`` per request in the local price file."""
    base = url.split("?", 1)[0]
    return "\n".join(
        [
            "requests:",
            f'  - match: "{base}"',
            "    usd: 0.00      # USD per request",
            f"    name: {_yaml_key(base.rsplit('/', 1)[-1] or 'request')}",
        ]
    )


#: Service tiers that select a price through genai-prices' ``processing`` context, not ``service_tier``.
_PROCESSING_TIERS = frozenset({"batch"})


def price_context(tier: str | None) -> dict[str, str] | None:
    """The genai-prices price context of a response's service tier (None for the default tier)."""
    if tier is None:
        return None
    return {"processing": tier} if tier in _PROCESSING_TIERS else {"service_tier": tier}


def _billed(tokens: Tokens, dims: Dims) -> tuple[Tokens, Dims]:
    """The usage as billed: a provider's billed input (Cohere) replaces the raw input and its cache parts."""
    billed = dims.get("billed_input_tokens")
    if not billed:
        return tokens, dims
    kept = dims.without("billed_input_tokens", *(key for key, _ in dims.items if key.startswith("cache_")))
    return Tokens(input=billed, output=tokens.output, reasoning=tokens.reasoning), kept


def usage_values(tokens: Tokens, dims: Dims = NO_DIMS) -> dict[str, int]:
    """The genai-prices ``Usage`` keys of a call: the five token kinds and the billed dimensions."""
    tokens, dims = _billed(tokens, dims)
    values = {
        "input_tokens": tokens.input,
        "cache_read_tokens": tokens.cached_input,
        "cache_write_tokens": tokens.cache_write,
        "output_tokens": tokens.output,
    }
    if tokens.reasoning:
        values["output_reasoning_tokens"] = tokens.reasoning
    values.update(dims.items)
    return values


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


class _Tiers:
    """A long-context price: ``base`` until the input passes a tier's ``start``, then that tier's price."""

    __slots__ = ("base", "tiers")

    def __init__(self, base: Decimal, tiers: tuple[tuple[int, Decimal], ...]) -> None:
        self.base = base
        self.tiers = tiers

    def rate(self, total_input: Decimal | int) -> Decimal:
        for start, price in reversed(self.tiers):
            if total_input > start:
                return price
        return self.base


Rate = Decimal | _Tiers


def _rate_of(value: Any) -> Rate | None:
    """A genai-prices price value (a Decimal or TieredPrices) as ours."""
    if value is None or isinstance(value, Decimal):
        return value
    return _Tiers(value.base, tuple((tier.start, tier.price) for tier in value.tiers))


def _rate_to_json(rate: Rate | None) -> Any:
    if rate is None or isinstance(rate, Decimal):
        return None if rate is None else str(rate)
    return {"base": str(rate.base), "tiers": [[start, str(price)] for start, price in rate.tiers]}


def _rate_from_json(data: Any) -> Rate | None:
    if data is None:
        return None
    if isinstance(data, str):
        return Decimal(data)
    return _Tiers(Decimal(data["base"]), tuple((int(start), Decimal(price)) for start, price in data["tiers"]))


class _FastPrice:
    """A genai-prices model price reduced to the four basic token kinds.

    genai-prices' general calculation costs ~70 µs; this one costs a few. It is used only
    for prices whose keys it understands, for calls with no service tier and no billed
    dimension the model prices (see ``pure``), and a unit test checks it gives genai-prices'
    own figures for every model in the bundled card. It is plain data, so it can be kept
    between runs (see :meth:`RateCard.memo`).
    """

    __slots__ = ("cache_read", "cache_write", "input", "output", "per_request", "pure")

    SUPPORTED = frozenset({"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "requests_kcount"})
    #: Keys for units the meter never reports (modalities, searches, pages): they price nothing here.
    IGNORED = re.compile(
        r"^(?:input|output|cache)_(?:audio|image|video|document|annotated_document|text_messages|citation)"
        r"|_hours$|_mchars$|_kpages$|searches_kcount$|^cache_write_1h_mtok$|^cache_(?:audio|image)_"
    )
    FIELDS = ("input", "output", "cache_read", "cache_write")

    def __init__(
        self,
        input: Rate | None,
        output: Rate | None,
        cache_read: Rate | None,
        cache_write: Rate | None,
        per_request: Decimal | None,
        pure: bool = False,
    ) -> None:
        self.input = input
        self.output = output
        self.cache_read = cache_read
        self.cache_write = cache_write
        self.per_request = per_request
        self.pure = pure
        """The model prices nothing but the four token kinds: billed dimensions cannot change its price."""

    @classmethod
    def build(cls, model_price: Any) -> _FastPrice | None:
        pure = True
        for key, value in model_price.__dict__.items():
            if value is None or key.startswith("_"):
                continue
            if key in cls.SUPPORTED:
                if key == "requests_kcount" and not isinstance(value, Decimal):
                    return None
                continue
            if cls.IGNORED.search(key):
                pure = False
                continue
            return None
        per_k = model_price.requests_kcount
        return cls(
            _rate_of(model_price.input_mtok),
            _rate_of(model_price.output_mtok),
            _rate_of(model_price.cache_read_mtok),
            _rate_of(model_price.cache_write_mtok),
            None if per_k is None else per_k / 1000,
            pure,
        )

    def to_json(self) -> dict[str, Any]:
        data = {name: _rate_to_json(getattr(self, name)) for name in self.FIELDS}
        data["per_request"] = None if self.per_request is None else str(self.per_request)
        data["pure"] = self.pure
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _FastPrice:
        per_request = data.get("per_request")
        return cls(
            input=_rate_from_json(data.get("input")),
            output=_rate_from_json(data.get("output")),
            cache_read=_rate_from_json(data.get("cache_read")),
            cache_write=_rate_from_json(data.get("cache_write")),
            per_request=None if per_request is None else Decimal(per_request),
            pure=data.get("pure") is True,
        )

    @staticmethod
    def _rate(price: Rate, total_input: Decimal | int) -> Decimal:
        return price if isinstance(price, Decimal) else price.rate(total_input)

    def usd(self, tokens: Tokens, calls: int = 1) -> Decimal:
        """The price of ``calls`` calls that used ``tokens`` in all; tiers follow the input per call."""
        total_input: Decimal | int = tokens.input if calls <= 1 else Decimal(tokens.input) / calls
        amount = Decimal(0)
        uncached = tokens.input
        if self.cache_read is not None:
            amount += tokens.cached_input * self._rate(self.cache_read, total_input)
            uncached -= tokens.cached_input
        if self.cache_write is not None:
            amount += tokens.cache_write * self._rate(self.cache_write, total_input)
            uncached -= tokens.cache_write
        if self.input is not None:
            amount += uncached * self._rate(self.input, total_input)
        if self.output is not None:
            amount += tokens.output * self._rate(self.output, total_input)
        amount /= MILLION
        if self.per_request is not None:
            amount += self.per_request * max(calls, 1)
        return amount


@dataclass(frozen=True)
class _Resolved:
    """A model genai-prices knows: its ids, and how to price it."""

    provider_id: str
    model_id: str
    fast: _FastPrice | None
    infos: tuple[Any, Any] | None = None
    """genai-prices' own provider and model objects, for the few prices the fast path cannot do."""


MEMO_FORMAT = 1
#: How many distinct usages a rate card keeps the price of (a few MB at most).
PRICES_KEPT = 50_000


@dataclass
class RateCard:
    """Prices calls: the local file first, then genai-prices. Never returns $0 for an unknown model.

    genai-prices' data takes a noticeable fraction of a second to import. What a run resolved
    (provider by URL, price by model) can be handed to the next run as :meth:`memo`: when every
    model the suite calls is in it, genai-prices is not imported at all.
    """

    local: LocalPrices = field(default_factory=LocalPrices)
    when: datetime = field(default_factory=lambda: datetime.now(tz=UTC))
    memo_in: Mapping[str, Any] | None = None
    _providers: dict[str, str | None] = field(default_factory=dict, repr=False)
    _models: dict[tuple[str, str], _Resolved | None] = field(default_factory=dict, repr=False)
    _learned: bool = field(default=False, repr=False)
    _local_models: dict[tuple[str, str], LocalModelPrice | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """The local price file's entry for each model seen (its patterns matched once per model)."""
    _prices: dict[tuple[str, str, Tokens, Dims, str | None], Price] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Prices already computed, by usage: replayed suites repeat the same usage, and a comparison
    re-prices a baseline whose calls are mostly the ones just metered."""

    def __post_init__(self) -> None:
        memo = self.memo_in
        if not memo or memo.get("format") != MEMO_FORMAT or memo.get("key") != self._memo_key():
            return
        try:
            self._providers.update(memo.get("providers", {}))
            for key, entry in memo.get("models", {}).items():
                provider, _, model = key.partition("\t")
                self._models[(provider, model)] = (
                    None
                    if entry is None
                    else _Resolved(entry["provider"], entry["model"], _FastPrice.from_json(entry["price"]))
                )
        except (KeyError, TypeError, ValueError, ArithmeticError):  # a damaged memo: start afresh
            self._providers.clear()
            self._models.clear()

    def _memo_key(self) -> str:
        # Prices are resolved for a day (genai-prices has dated price changes) and a version.
        return f"genai-prices {self.genai_prices_version()} {self.when.date().isoformat()}"

    def memo(self) -> dict[str, Any] | None:
        """What this card resolved, for the next run; None when it learned nothing new."""
        if not self._learned:
            return None
        models: dict[str, Any] = {}
        for (provider, model), found in self._models.items():
            if found is None:
                models[f"{provider}\t{model}"] = None
            elif found.fast is not None:
                models[f"{provider}\t{model}"] = {
                    "provider": found.provider_id,
                    "model": found.model_id,
                    "price": found.fast.to_json(),
                }
        return {"format": MEMO_FORMAT, "key": self._memo_key(), "providers": dict(self._providers), "models": models}

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

    def preload(self) -> None:
        """Import genai-prices and load its data now, so later look-ups read memory only.

        The spend guard prices a request inside the client's event loop while recording: an
        import there reads files, which strict asyncio suites (blockbuster) refuse.
        """
        from genai_prices import data_snapshot

        data_snapshot.get_snapshot()

    def provider_for(self, host: str, url: str, fallback: str) -> str:
        """The genai-prices provider id of a request: from its host when known, else ``fallback``."""
        key = url.split("?", 1)[0]
        try:
            found = self._providers[key]
        except KeyError:
            found = self._providers[key] = self._lookup_provider(host, key)
            self._learned = True
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

    def price(
        self, provider: str, model: str | None, tokens: Tokens, dims: Dims = NO_DIMS, tier: str | None = None
    ) -> Price:
        """The price of one call, as genai-prices' ``calc_price`` computes it for the same usage.

        ``dims`` are the billed dimensions beyond the tokens and ``tier`` the service tier the
        response reported (the price context). A local price knows the four token kinds only:
        it prices the billed input and ignores the other dimensions and the tier.
        """
        if model is None:
            return Price(None, "unpriced", provider)
        key = (provider, model, tokens, dims, tier)
        try:
            return self._prices[key]
        except KeyError:
            pass
        found = self._price(provider, model, tokens, dims, tier)
        if len(self._prices) < PRICES_KEPT:
            self._prices[key] = found
        return found

    def _local_price(self, provider: str, model: str) -> LocalModelPrice | None:
        key = (provider, model)
        try:
            return self._local_models[key]
        except KeyError:
            found = self._local_models[key] = self.local.model_price(provider, model)
            return found

    def _price(self, provider: str, model: str, tokens: Tokens, dims: Dims, tier: str | None) -> Price:
        local = self._local_price(provider, model)
        if local is not None:
            return Price(local.usd(_billed(tokens, dims)[0]), "local", provider, local.pattern)
        found = self._genai_model(provider, model)
        if found is None:
            return Price(None, "unpriced", provider)
        fast = found.fast
        if fast is not None and tier is None and (fast.pure or not dims) and not dims.get("billed_input_tokens"):
            usd = fast.usd(tokens)
        else:
            usd = self._slow_usd(found, tokens, dims, tier)
        return Price(usd, "genai-prices", found.provider_id, found.model_id)

    def price_aggregate(self, provider: str, model: str, tokens: Tokens, calls: int) -> Decimal | None:
        """The price of ``calls`` calls to one model that used ``tokens`` in all, or None when unpriced.

        Used to price a baseline's per-model totals. Long-context tiers are chosen by the input
        per call, which is exact when the calls sit on the same side of a tier's threshold.
        """
        if calls <= 1:
            return self.price(provider, model, tokens).usd
        local = self._local_price(provider, model)
        if local is not None:
            return local.usd(tokens, calls)
        found = self._genai_model(provider, model)
        if found is None:
            return None
        if found.fast is not None:
            return found.fast.usd(tokens, calls)
        return self._slow_usd(found, tokens)

    def _slow_usd(self, found: _Resolved, tokens: Tokens, dims: Dims = NO_DIMS, tier: str | None = None) -> Decimal:
        """genai-prices' own calculation (``ModelInfo.calc_price``, what ``calc_price`` runs)."""
        from genai_prices import Usage

        provider_info, model_info = found.infos or self._infos(found)
        context = price_context(tier)
        try:
            usage = Usage(**usage_values(tokens, dims))
            result = model_info.calc_price(
                usage, provider_info, genai_request_timestamp=self.when, price_context=context
            )
        except ValueError:
            # Inconsistent counts (a part larger than its whole): price the four token kinds alone.
            usage = Usage(**usage_values(tokens))
            result = model_info.calc_price(
                usage, provider_info, genai_request_timestamp=self.when, price_context=context
            )
        return Decimal(result.total_price)

    def _infos(self, found: _Resolved) -> tuple[Any, Any]:
        """genai-prices' provider and model objects of a model resolved from the memo."""
        from genai_prices import data_snapshot

        infos = data_snapshot.get_snapshot().find_provider_model(found.model_id, None, found.provider_id, None)
        self._models = {
            key: (dataclasses.replace(value, infos=infos) if value is found else value)
            for key, value in self._models.items()
        }
        return infos

    def _genai_model(self, provider: str, model: str) -> _Resolved | None:
        key = (provider, model)
        try:
            return self._models[key]
        except KeyError:
            pass
        from genai_prices import data_snapshot

        snapshot = data_snapshot.get_snapshot()
        found: _Resolved | None = None
        infos = _find_model(snapshot, provider, model)
        if infos is not None:
            provider_info, model_info = infos
            fast = _FastPrice.build(model_info.get_prices(self.when))
            found = _Resolved(str(provider_info.id), str(model_info.id), fast, (provider_info, model_info))
        self._models[key] = found
        self._learned = True
        return found


def _find_model(snapshot: Any, provider: str, model: str) -> tuple[Any, Any] | None:
    """genai-prices' provider and model for a model name, trying each of :func:`model_candidates`.

    A name no match rule takes may still be a model's own id (``ft:gpt-4o-mini``).
    """
    candidates = model_candidates(model)
    for candidate in candidates:
        try:
            found: tuple[Any, Any] = snapshot.find_provider_model(candidate, None, provider, None)
        except LookupError:
            continue
        return found
    for provider_info in snapshot.providers:
        if provider_info.id != provider:
            continue
        for model_info in provider_info.models:
            if model_info.id in candidates:
                return provider_info, model_info
    return None


def rate_card_label(description: Mapping[str, Any]) -> str:
    """``genai-prices 0.2.3 + llm-cost-prices.yaml (sha256 1a2b3c4d)`` for reports."""
    label = f"genai-prices {description.get('genai_prices', '?')}"
    local = description.get("local_prices")
    if local:
        label += f" + {local.get('path')} (sha256 {str(local.get('sha256'))[:8]})"
    return label
