"""Named steps, and the per-test ledger that collects the exchanges a test consumed.

The current step lives in a :class:`contextvars.ContextVar`, so it follows asyncio tasks and
threads started with :func:`contextvars.copy_context`. Capturing an exchange only appends a
reference to a list; reading usage and pricing happen later, once per test.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .usage import Call, Dims, StepCost, TestCost, Tokens, format_usd

if TYPE_CHECKING:  # the readers and the rate card load when a call is measured, not on import
    from .pricing import RateCard
    from .providers.base import Exchange

__all__ = ["OWNER", "Captured", "LLMCost", "Ledger", "current_step", "measure", "step"]

_STEP: contextvars.ContextVar[str | None] = contextvars.ContextVar("llm_cost_step", default=None)
#: The ledger that owns the calls made in this context: the running test's, or a wide fixture's
#: while it is set up or torn down. Tasks and threads started with a copy of the context follow it.
OWNER: contextvars.ContextVar[Ledger | None] = contextvars.ContextVar("llm_cost_owner", default=None)

F = TypeVar("F", bound=Callable[..., Any])


def current_step() -> str | None:
    """The path of the step the caller is in (``research/search``), or None outside any step."""
    return _STEP.get()


class step:
    """Attribute the LLM calls made inside to a named step.

    Use it as a context manager or a decorator (sync or async). Steps nest: a step
    ``search`` inside ``research`` is recorded as ``research/search``.

    >>> with step("plan"):
    ...     current_step()
    'plan'
    """

    __slots__ = ("_tokens", "name")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip() or name.strip("/") != name or "//" in name:
            raise ValueError(
                f"step name must be a non-empty string without leading, trailing or doubled '/', got {name!r}"
            )
        self.name = name
        self._tokens: list[contextvars.Token[str | None]] = []

    def __enter__(self) -> str:
        parent = _STEP.get()
        path = self.name if parent is None else f"{parent}/{self.name}"
        self._tokens.append(_STEP.set(path))
        return path

    def __exit__(self, *exc_info: object) -> None:
        _STEP.reset(self._tokens.pop())

    async def __aenter__(self) -> str:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)

    def __call__(self, func: F) -> F:
        name = self.name
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with step(name):
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with step(name):
                return func(*args, **kwargs)

        return cast(F, wrapper)

    def __repr__(self) -> str:
        return f"step({self.name!r})"


@dataclass(frozen=True, slots=True)
class Captured:
    """One exchange as the test consumed it, with where it came from."""

    exchange: Exchange
    step: str | None
    cassette: str | None
    interaction: int | None


class Ledger:
    """The exchanges one test consumed, in order. Appending is thread-safe and cheap."""

    __slots__ = ("_closed", "_lock", "captured", "final", "nodeid")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.captured: list[Captured] = []
        self.final: TestCost | None = None
        self._closed = False
        self._lock = threading.Lock()

    def close(self, final: TestCost | None) -> None:
        """The test is over: keep its cost (when measured), let its exchanges (bodies, parsed JSON) go."""
        with self._lock:
            self._closed = True
            if final is not None:
                self.final = final
                self.captured = []

    @property
    def closed(self) -> bool:
        """The test (or fixture) is over: a call arriving now belongs to nobody."""
        return self._closed

    def add(self, exchange: Exchange, cassette: str | None, interaction: int | None) -> None:
        item = Captured(exchange, _STEP.get(), cassette, interaction)
        with self._lock:
            self.captured.append(item)

    def snapshot(self) -> list[Captured]:
        with self._lock:
            return list(self.captured)

    def __len__(self) -> int:
        return len(self.captured)


def measure(nodeid: str, captured: Sequence[Captured], card: RateCard, *, segments: bool = False) -> TestCost:
    """Read, settle and price what a test consumed: one :class:`Call` per billed line.

    An exchange that is not an LLM call is dropped, unless the local price file charges its URL
    per request. A call to an LLM host that no reader understands (a new endpoint) and that may
    bill is kept as an unpriced call whose note says how to price it. LLM exchanges that bill
    nothing (an HTTP error, a queued background job, a poll of a response already counted) stay
    in the record at $0 with a note. With ``segments``, each call's prompt is also measured by
    part (tool definitions, system prompt, earlier conversation, latest message), to explain a change.
    """
    from . import providers
    from .providers.estimate import estimate_tokens

    extracted = providers.settle([providers.extract(item.exchange) for item in captured])
    records: list[Call] = []
    seq = 0
    for item, found in zip(captured, extracted, strict=True):
        exchange = item.exchange
        if found is None or found.status == "unpriced":
            fee = card.local.request_fee(exchange.url) if card.local.requests else None
            if fee is not None:
                records.append(
                    Call(
                        seq=seq,
                        step=item.step,
                        provider=exchange.host,
                        model=fee.name,
                        tokens=Tokens(),
                        usd=fee.usd,
                        api="request",
                        cassette=item.cassette,
                        interaction=item.interaction,
                        requests=1,
                    )
                )
                seq += 1
                continue
        if found is None:
            if not providers.is_llm_host(exchange.host) or providers.is_free_endpoint(exchange):
                continue
            # A call to an LLM API that no reader understands may bill: never dropped silently.
            provider = card.provider_for(exchange.host, exchange.url, exchange.host)
            where = (seq, item.step, provider, "unknown", item.cassette, item.interaction)
            records.append(_call(where, None, Tokens(), None, note=_unknown_note(exchange)))
            seq += 1
            continue
        provider = card.provider_for(exchange.host, exchange.url, found.provider)
        where = (seq, item.step, provider, found.api, item.cassette, item.interaction)
        tier = found.service_tier
        if found.status == "not_billed":
            records.append(
                _call(where, found.model, Tokens(), Decimal(0), note=found.reason, unpriced=False, billed=False)
            )
        elif found.status == "unpriced":
            note = f"{found.reason}; {_request_fee_hint(exchange)}"
            records.append(_call(where, found.model, Tokens(), None, note=note, tier=tier))
        elif found.status == "missing":
            prompt, completion = providers.texts(exchange)
            try:
                tokens = estimate_tokens(prompt, completion, found.model)
            except Exception as exc:  # the tokenizer's data cannot be had (offline, no cache): never a crash
                records.append(
                    _call(where, found.model, Tokens(), Decimal(0), estimated=True, note=_no_tokenizer(exc), tier=tier)
                )
                seq += 1
                continue
            price = card.price(provider, found.model, tokens, tier=tier).usd
            records.append(
                _call(where, found.model, tokens, price, estimated=True, note="usage not reported", tier=tier)
            )
        else:
            for line in found.lines:
                model = line.model or found.model
                price = card.price(provider, model, line.tokens, line.dims, tier).usd
                records.append(_call(where, model, line.tokens, price, part=line.part, dims=line.dims, tier=tier))
        if segments and records and records[-1].seq == seq and records[-1].billed:
            first = next(index for index, record in enumerate(records) if record.seq == seq)
            measured = _segments(exchange, records[first].model)
            if measured:
                records[first] = dataclasses.replace(records[first], segments=measured)
        seq += 1
    return TestCost.from_calls(nodeid, records)


def _segments(exchange: Exchange, model: str | None) -> tuple[tuple[str, int], ...]:
    from .providers.segments import prompt_parts, segment_tokens

    parts = prompt_parts(exchange)
    return tuple(segment_tokens(parts, model).items()) if parts else ()


def prompts(captured: Sequence[Captured]) -> list[tuple[int, str | None, dict[str, str]]]:
    """Each request's prompt by part, numbered from 1 in the order the test sent them, with the
    model it names: what :func:`~pytest_llmcost.providers.segments.find_divergence` reads."""
    from .providers.estimate import request_model
    from .providers.segments import prompt_parts

    found = []
    for number, item in enumerate(captured, 1):
        parts = prompt_parts(item.exchange)
        if parts:
            found.append((number, request_model(item.exchange.url, item.exchange.request_json), parts))
    return found


def _request_fee_hint(exchange: Exchange) -> str:
    from .pricing import request_fee_snippet

    return f"price it per request in llm-cost-prices.yaml:\n{request_fee_snippet(exchange.url)}"


def _unknown_note(exchange: Exchange) -> str:
    return f"no reader for {exchange.method.upper()} {exchange.path} on {exchange.host}; {_request_fee_hint(exchange)}"


#: The start of the note of a call whose usage was not reported and could not be estimated.
NO_TOKENIZER = "usage not reported, and tiktoken's encoding could not be loaded"


def _no_tokenizer(exc: BaseException) -> str:
    reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    return (
        f"{NO_TOKENIZER} ({reason}): counted as 0 tokens. Point TIKTOKEN_CACHE_DIR at a folder holding "
        "tiktoken's encodings, or ask the provider for usage (OpenAI streams: stream_options include_usage; "
        "LangChain: stream_usage=True)"
    )


def _call(
    where: tuple[int, str | None, str, str, str | None, int | None],
    model: str | None,
    tokens: Tokens,
    usd: Decimal | None,
    *,
    unpriced: bool | None = None,
    estimated: bool = False,
    part: str | None = None,
    note: str | None = None,
    billed: bool = True,
    dims: Dims | None = None,
    tier: str | None = None,
) -> Call:
    """One metered line; ``usd`` None means no price was found (recorded as $0, labelled unpriced)."""
    seq, step, provider, api, cassette, interaction = where
    return Call(
        seq=seq,
        step=step,
        provider=provider,
        model=model,
        tokens=tokens,
        usd=Decimal(0) if usd is None else usd,
        estimated=estimated,
        unpriced=usd is None if unpriced is None else unpriced,
        api=api,
        part=part,
        cassette=cassette,
        interaction=interaction,
        note=note,
        billed=billed,
        dims=dims if dims is not None else Dims(),
        service_tier=tier,
    )


class LLMCost:
    """The ``llm_cost`` fixture: the test's cassette, its steps, and what it has consumed so far.

    >>> def test_agent(llm_cost):
    ...     with llm_cost.step("plan"):
    ...         ...
    ...     assert llm_cost.usd < Decimal("0.01")
    """

    step = step

    def __init__(self, ledger: Ledger, card: Callable[[], RateCard], cassette: Path | None) -> None:
        self._ledger = ledger
        self._card = card
        self._cached: tuple[int, TestCost] | None = None
        self.cassette = cassette
        """The cassette file this test records to and replays from (None when pytest-recording owns it)."""

    @property
    def cost(self) -> TestCost:
        """Everything metered so far in this test."""
        if self._ledger.final is not None:
            return self._ledger.final
        captured = self._ledger.snapshot()
        if self._cached is None or self._cached[0] != len(captured):
            self._cached = (len(captured), measure(self._ledger.nodeid, captured, self._card()))
        return self._cached[1]

    @property
    def usd(self) -> Decimal:
        """Dollars metered so far (Decimal)."""
        return self.cost.usd

    @property
    def tokens(self) -> Tokens:
        """Tokens metered so far."""
        return self.cost.tokens

    @property
    def calls(self) -> tuple[Call, ...]:
        """Every billed line metered so far, in order."""
        return self.cost.records

    @property
    def steps(self) -> Mapping[str, StepCost]:
        """Totals per step path."""
        return self.cost.steps

    def __repr__(self) -> str:
        cost = self.cost
        return f"<LLMCost {cost.calls} calls, {cost.tokens.total} tokens, ${format_usd(cost.usd)}>"
