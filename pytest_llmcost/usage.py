"""Value types: the token vector, one metered call, and a test's totals.

Nothing here imports pytest, vcrpy or a provider SDK: these types travel from the
meter to the baseline, the reports and the CLI unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from .fmt import format_usd, short_money

__all__ = [
    "DIM_KEYS",
    "TOKEN_KINDS",
    "Call",
    "Dims",
    "StepCost",
    "TestCost",
    "Tokens",
    "format_usd",
    "short_money",
]

#: The token kinds of the vector, in display and serialisation order.
TOKEN_KINDS = ("input", "cached_input", "cache_write", "output", "reasoning")
_KIND_SET = frozenset(TOKEN_KINDS)

#: The billed dimensions beyond the five token kinds, with their short labels. Each is a
#: genai-prices usage key with its meaning there (a part of a token kind, or a count of its
#: own), except ``billed_input_tokens``: the input a provider bills when it differs from the
#: raw count (Cohere's ``billed_units``), which then replaces the input and its cache parts.
DIM_KEYS: dict[str, str] = {
    "cache_write_1h_tokens": "cache write 1h",
    "input_audio_tokens": "audio in",
    "cache_audio_read_tokens": "cached audio",
    "output_audio_tokens": "audio out",
    "input_image_tokens": "image in",
    "cache_image_read_tokens": "cached image",
    "output_image_tokens": "image out",
    "input_video_tokens": "video in",
    "cache_video_read_tokens": "cached video",
    "output_video_tokens": "video out",
    "input_characters": "characters",
    "audio_seconds": "audio seconds",
    "web_searches": "web searches",
    "storage_searches": "file searches",
    "code_executions": "code executions",
    "billed_input_tokens": "billed input",
}


@dataclass(frozen=True, slots=True)
class Tokens:
    """The token usage of one call, or the sum of many.

    ``input`` counts every billed input token: uncached, cache reads and cache writes.
    ``cached_input`` and ``cache_write`` are the parts of ``input`` read from or written to a
    prompt cache. ``output`` counts every output token, reasoning included; ``reasoning`` is
    the part of ``output`` the model spent thinking.
    """

    input: int = 0
    cached_input: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0

    def __add__(self, other: object) -> Tokens:
        if not isinstance(other, Tokens):
            return NotImplemented
        return Tokens(
            self.input + other.input,
            self.cached_input + other.cached_input,
            self.cache_write + other.cache_write,
            self.output + other.output,
            self.reasoning + other.reasoning,
        )

    def __radd__(self, other: object) -> Tokens:
        # sum() starts from 0.
        if other == 0:
            return self
        return self.__add__(other)

    def __sub__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input - other.input,
            self.cached_input - other.cached_input,
            self.cache_write - other.cache_write,
            self.output - other.output,
            self.reasoning - other.reasoning,
        )

    def __bool__(self) -> bool:
        return any((self.input, self.cached_input, self.cache_write, self.output, self.reasoning))

    @property
    def total(self) -> int:
        """Input plus output tokens (each counted once)."""
        return self.input + self.output

    @property
    def uncached_input(self) -> int:
        """Input tokens billed at the full input rate."""
        return self.input - self.cached_input - self.cache_write

    @classmethod
    def sum(cls, items: Iterable[Tokens]) -> Tokens:
        total = cls()
        for item in items:
            total = total + item
        return total

    def to_json(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in TOKEN_KINDS}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tokens:
        if data.keys() <= _KIND_SET and all(type(value) is int and value >= 0 for value in data.values()):
            return cls(**data)  # the usual case, checked at once
        unknown = set(data) - set(TOKEN_KINDS)
        if unknown:
            raise ValueError(f"unknown token kind {sorted(unknown)[0]!r}; expected {', '.join(TOKEN_KINDS)}")
        values = {}
        for kind in TOKEN_KINDS:
            value = data.get(kind, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"token count {kind!r} must be a whole number >= 0, got {value!r}")
            values[kind] = value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Dims:
    """The billed dimensions of a call beyond its :class:`Tokens`: sorted ``(key, count)`` pairs.

    Keys are those of :data:`DIM_KEYS`; a zero count is never kept, so an ordinary call has
    none. Dimensions sum like tokens (``+``) and serialise as an object of the non-zero counts.

    >>> Dims.of(web_searches=2) + Dims.of(web_searches=1, input_audio_tokens=0)
    Dims(items=(('web_searches', 3),))
    """

    items: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, **counts: int) -> Dims:
        return cls.from_counts(counts)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> Dims:
        for key in counts:
            if key not in DIM_KEYS:
                raise ValueError(f"unknown billed dimension {key!r}; expected one of {', '.join(DIM_KEYS)}")
        return cls(tuple(sorted((key, count) for key, count in counts.items() if count)))

    def get(self, key: str) -> int:
        for name, count in self.items:
            if name == key:
                return count
        return 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.items)

    def without(self, *keys: str) -> Dims:
        return Dims(tuple(item for item in self.items if item[0] not in keys))

    def __add__(self, other: object) -> Dims:
        if not isinstance(other, Dims):
            return NotImplemented
        if not other.items:
            return self
        if not self.items:
            return other
        total = self.as_dict()
        for key, count in other.items:
            total[key] = total.get(key, 0) + count
        return Dims.from_counts(total)

    def __bool__(self) -> bool:
        return bool(self.items)

    def to_json(self) -> dict[str, int]:
        return dict(self.items)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dims:
        for key, value in data.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"billed dimension {key!r} must be a whole number >= 0, got {value!r}")
        return cls.from_counts(data)

    def describe(self) -> str:
        """``web searches 100, cache write 1h 2,048``: for terminal lines and reports."""
        return ", ".join(f"{DIM_KEYS[key]} {count:,}" for key, count in self.items)


@dataclass(frozen=True, slots=True)
class Call:
    """One billed line of one LLM interaction a test consumed.

    An interaction is usually one line. A few bill more than one model or phase in a single
    response (Anthropic's advisor and compaction iterations); those extra lines carry a
    ``part`` name and share the interaction's ``seq``.
    """

    seq: int
    """Order of the interaction within its test, from 0; shared by the lines of one interaction."""
    step: str | None
    provider: str
    model: str | None
    tokens: Tokens
    usd: Decimal
    estimated: bool = False
    """Usage was not reported by the provider and was estimated from the recorded text."""
    unpriced: bool = False
    """No price was found for the model; ``usd`` is 0 and the test fails unless unpriced calls only warn."""
    api: str = ""
    """The wire format that carried the call: ``openai.chat``, ``anthropic.messages``..."""
    part: str | None = None
    cassette: str | None = None
    interaction: int | None = None
    """Index of the interaction in the cassette file, or None if it was not saved there."""
    requests: int = 0
    """Per-request fees charged by the local price file (a web-search API): count of requests."""
    note: str | None = None
    billed: bool = True
    """False for an attempt the provider billed nothing for (an HTTP 429 or 5xx): listed, never counted as a call."""
    dims: Dims = Dims()
    """Billed dimensions beyond the tokens: cache writes by duration, audio/image tokens, tool uses."""
    service_tier: str | None = None
    """The service tier the response reports when it is not the default (``flex``, ``priority``, ``batch``)."""
    segments: tuple[tuple[str, int], ...] = ()
    """Estimated tokens of each part of the prompt (tool definitions, system prompt, earlier
    conversation, latest message), measured only when a change must be explained or a baseline written."""

    @property
    def is_llm(self) -> bool:
        return self.requests == 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "api": self.api,
            "cassette": self.cassette,
            "estimated": self.estimated,
            "interaction": self.interaction,
            "model": self.model,
            "provider": self.provider,
            "seq": self.seq,
            "step": self.step,
            "tokens": self.tokens.to_json(),
            "unpriced": self.unpriced,
            "usd": format_usd(self.usd),
        }
        if self.part is not None:
            data["part"] = self.part
        if self.requests:
            data["requests"] = self.requests
        if self.note is not None:
            data["note"] = self.note
        if not self.billed:
            data["billed"] = False
        if self.dims:
            data["dims"] = self.dims.to_json()
        if self.service_tier is not None:
            data["service_tier"] = self.service_tier
        if self.segments:
            data["segments"] = dict(self.segments)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Call:
        return cls(
            seq=int(data["seq"]),
            step=data.get("step"),
            provider=str(data["provider"]),
            model=data.get("model"),
            tokens=Tokens.from_json(data.get("tokens", {})),
            usd=Decimal(str(data["usd"])),
            estimated=bool(data.get("estimated", False)),
            unpriced=bool(data.get("unpriced", False)),
            api=str(data.get("api", "")),
            part=data.get("part"),
            cassette=data.get("cassette"),
            interaction=data.get("interaction"),
            requests=int(data.get("requests", 0)),
            note=data.get("note"),
            billed=bool(data.get("billed", True)),
            dims=Dims.from_json(data["dims"]) if data.get("dims") else Dims(),
            service_tier=data.get("service_tier"),
            segments=tuple((str(name), int(count)) for name, count in (data.get("segments") or {}).items()),
        )


@dataclass(frozen=True, slots=True)
class StepCost:
    """The totals of one step path within a test; ``calls`` counts LLM interactions only."""

    usd: Decimal = Decimal(0)
    tokens: Tokens = Tokens()
    calls: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"calls": self.calls, "tokens": self.tokens.to_json(), "usd": format_usd(self.usd)}


@dataclass(frozen=True)
class TestCost:
    """What one test consumed: every call, and totals per step path (totals computed once)."""

    __test__ = False  # not a pytest test class

    nodeid: str
    records: tuple[Call, ...] = ()
    steps: Mapping[str, StepCost] = field(default_factory=dict)

    @classmethod
    def from_calls(cls, nodeid: str, records: Iterable[Call]) -> TestCost:
        records = tuple(records)
        per_step: dict[str, tuple[Decimal, Tokens, set[int]]] = {}
        for record in records:
            if record.step is None:
                continue
            usd, tokens, seqs = per_step.get(record.step, (Decimal(0), Tokens(), set()))
            if not record.requests and record.billed:
                seqs.add(record.seq)
            per_step[record.step] = (usd + record.usd, tokens + record.tokens, seqs)
        steps = {
            path: StepCost(usd=usd, tokens=tokens, calls=len(seqs)) for path, (usd, tokens, seqs) in per_step.items()
        }
        return cls(nodeid=nodeid, records=records, steps=steps)

    @cached_property
    def usd(self) -> Decimal:
        return sum((record.usd for record in self.records), Decimal(0))

    @cached_property
    def tokens(self) -> Tokens:
        return Tokens.sum(record.tokens for record in self.records)

    @cached_property
    def calls(self) -> int:
        """LLM interactions metered (a multi-line interaction counts once; per-request fees do not count)."""
        return len({record.seq for record in self.records if not record.requests and record.billed})

    @cached_property
    def attempts(self) -> int:
        """Requests the provider billed nothing for (rate limits, server errors): listed apart from calls."""
        return len({record.seq for record in self.records if not record.billed})

    @cached_property
    def requests(self) -> int:
        """Non-LLM requests charged a fee by the local price file (a web-search API)."""
        return sum(record.requests for record in self.records)

    @cached_property
    def estimated(self) -> int:
        return len({record.seq for record in self.records if record.estimated})

    @cached_property
    def unpriced(self) -> int:
        return len({record.seq for record in self.records if record.unpriced})

    @cached_property
    def models(self) -> Mapping[tuple[str, str], StepCost]:
        """Totals per ``(provider, model)``, per-request fees under ``("request", name)``: the report's
        model mix. Here ``calls`` counts every interaction with the model, attempts billed nothing included."""
        per_model: dict[tuple[str, str], list[Any]] = {}
        for record in self.records:
            key = (
                ("request", record.model or record.provider)
                if record.requests
                else (record.provider, record.model or "?")
            )
            tokens = record.tokens
            found = per_model.get(key)
            if found is None:
                per_model[key] = [record.usd, {record.seq}, tokens.input, tokens.cached_input]
                per_model[key] += [tokens.cache_write, tokens.output, tokens.reasoning]
                continue
            found[0] += record.usd
            found[1].add(record.seq)
            found[2] += tokens.input
            found[3] += tokens.cached_input
            found[4] += tokens.cache_write
            found[5] += tokens.output
            found[6] += tokens.reasoning
        return {
            key: StepCost(usd=usd, tokens=Tokens(*counts), calls=len(seqs))
            for key, (usd, seqs, *counts) in per_model.items()
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "records": [record.to_json() for record in self.records],
            "steps": {path: step.to_json() for path, step in sorted(self.steps.items())},
            "tokens": self.tokens.to_json(),
            "usd": format_usd(self.usd),
        }

    @classmethod
    def from_json(cls, nodeid: str, data: Mapping[str, Any]) -> TestCost:
        return cls.from_calls(nodeid, (Call.from_json(item) for item in data.get("records", ())))

    def replace(self, **changes: Any) -> TestCost:
        return dataclasses.replace(self, **changes)


def parse_money(value: object, *, signed: bool = False) -> Decimal:
    """Dollars read from a file: a decimal string or number, finite, and >= 0 unless ``signed``
    (a change may be negative); ``ValueError`` says why not."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"a dollar amount must be a decimal string, got {value!r}")
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f'a dollar amount must be a decimal string such as "0.0012", got {value!r}') from None
    if not amount.is_finite() or (amount < 0 and not signed):
        raise ValueError(f"a dollar amount must be a finite number{'' if signed else ' >= 0'}, got {value!r}")
    return amount
