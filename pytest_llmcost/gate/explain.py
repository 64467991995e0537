"""Why a cost changed: the dollar change of a test or step split into its causes. Pure functions.

A change is walked from the baseline's usage to today's one cause at a time, each priced with
today's rate card: the model, the number of calls, the input per call, the share of it read
from or written to a prompt cache, the output per call; what is left (per-request fees, billed
dimensions, long-context tiers) is one last cause. The causes add up to the change exactly.
Each carries the before and after it was measured on, so every surface says the same thing:
``input 238 -> 995 tokens per call (x4.2), same model, same calls``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..fmt import SEGMENT_LABELS, growth, share, signed_money, times
from ..usage import Tokens
from .baseline import REQUEST_FEES, Book

if TYPE_CHECKING:
    from ..pricing import RateCard

__all__ = ["Cause", "Profile", "cache_drop", "describe", "explain", "reasons", "sameness"]


@dataclass(frozen=True)
class Profile:
    """What one side of a comparison consumed: calls, tokens by kind, models, fees, prompt segments."""

    calls: int = 0
    tokens: Tokens = field(default_factory=Tokens)
    models: tuple[str, ...] = ()
    requests: int = 0
    segments: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, book: Book) -> Profile:
        lines = book.models.items()
        models = sorted({model for (provider, model), line in lines if provider != REQUEST_FEES and line.calls})
        requests = sum(line.requests for (provider, _), line in lines if provider == REQUEST_FEES)
        return cls(book.calls, book.tokens, tuple(models), requests, dict(book.segments))

    @property
    def cached_share(self) -> Decimal | None:
        """The share of input tokens read from a prompt cache (None without input)."""
        return Decimal(self.tokens.cached_input) / self.tokens.input if self.tokens.input else None

    @property
    def write_share(self) -> Decimal | None:
        return Decimal(self.tokens.cache_write) / self.tokens.input if self.tokens.input else None

    def per_call(self, kind: str) -> int:
        """Tokens of ``kind`` per call, rounded (all of them when there is no call)."""
        total: int = getattr(self.tokens, kind)
        return round(total / self.calls) if self.calls else total

    def segment_per_call(self, name: str) -> int:
        """The input tokens per call of one part of the prompt: its estimated share of the input
        the provider reported (the tokenizer's counts give the shares, the provider the total)."""
        measured = sum(self.segments.values())
        if not measured:
            return 0
        return round(self.per_call("input") * self.segments.get(name, 0) / measured)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"calls": self.calls, "models": list(self.models), "tokens": self.tokens.to_json()}
        if self.requests:
            data["requests"] = self.requests
        if self.segments:
            data["segments"] = dict(sorted(self.segments.items()))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Profile:
        return cls(
            calls=int(data.get("calls", 0)),
            tokens=Tokens.from_json(data.get("tokens", {})),
            models=tuple(str(model) for model in data.get("models", ())),
            requests=int(data.get("requests", 0)),
            segments={str(name): int(count) for name, count in (data.get("segments") or {}).items()},
        )


@dataclass(frozen=True)
class Cause:
    """One reason a cost moved: its kind, what it was and is, and its share of the dollar change."""

    kind: str
    """``model``, ``calls``, ``input``, ``cache_read``, ``cache_write``, ``output``, ``fees`` or ``other``."""
    text: str
    usd: Decimal | None = None
    """Its share of the change at today's prices (None when a model on either side has no price)."""

    def to_json(self) -> dict[str, Any]:
        from ..fmt import format_usd

        return {
            "delta_usd": None if self.usd is None else format_usd(self.usd),
            "kind": self.kind,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cause:
        usd = data.get("delta_usd")
        return cls(str(data["kind"]), str(data["text"]), None if usd is None else Decimal(str(usd)))


def _segment_note(base: Profile, now: Profile, growing: bool) -> str:
    """The prompt segment that moved most in the direction of the input's change, per call."""
    if not base.segments or not now.segments or len(set(base.segments) | set(now.segments)) == 1:
        return ""  # unmeasured, or one part only: it would repeat the input's own numbers
    moves = [
        (now.segment_per_call(name) - base.segment_per_call(name), name)
        for name in set(base.segments) | set(now.segments)
    ]
    moves = [(move, name) for move, name in moves if (move > 0 if growing else move < 0)]
    if not moves:
        return ""
    _, name = max(moves, key=lambda item: (abs(item[0]), item[1]))
    label = SEGMENT_LABELS.get(name, name)
    return f": {label} {base.segment_per_call(name):,} -> {now.segment_per_call(name):,}, estimated"


def _vector(input_: int, cached: int, write: int, output: int, reasoning: int) -> Tokens:
    cached = min(cached, input_)
    write = min(write, input_ - cached)
    return Tokens(input=input_, cached_input=cached, cache_write=write, output=output, reasoning=min(reasoning, output))


def _dominant(book: Book) -> tuple[str, str] | None:
    lines = [(line.calls, key) for key, line in book.models.items() if key[0] != REQUEST_FEES and line.calls]
    return max(lines)[1] if lines else None


def explain(base: Book, now: Book, base_usd: Decimal, now_usd: Decimal, card: RateCard) -> tuple[Cause, ...]:
    """The causes of the change from ``base`` (priced ``base_usd`` today) to ``now`` (``now_usd``).

    Largest first. Empty when nothing moved.
    """
    before, after = Profile.of(base), Profile.of(now)
    delta = now_usd - base_usd
    if before == after and not delta:
        return ()
    old_model, new_model = _dominant(base), _dominant(now)
    if not before.calls or not after.calls or old_model is None or new_model is None:
        summary = f"calls {before.calls} -> {after.calls}" if before.calls != after.calls else "usage changed"
        if before.requests != after.requests:
            fees = f"per-request fees {before.requests} -> {after.requests} requests"
            return (
                (Cause("calls", summary, delta), Cause("fees", fees))
                if before.calls != after.calls
                else (Cause("fees", fees, delta),)
            )
        return (Cause("calls", summary, delta),)

    def priced(model: tuple[str, str], calls: int, tokens: Tokens) -> Decimal | None:
        usd = card.price(model[0], model[1], tokens).usd
        return None if usd is None else usd * calls

    b = {kind: before.per_call(kind) for kind in ("input", "cached_input", "cache_write", "output", "reasoning")}
    n = {kind: after.per_call(kind) for kind in b}
    walk: list[tuple[str, str | None, tuple[str, str], int, Tokens]] = [
        ("start", None, old_model, before.calls, _vector(*b.values()))
    ]
    models_text = "model " + (", ".join(before.models) + " -> " + ", ".join(after.models))
    walk.append(("model", models_text if before.models != after.models else None, new_model, before.calls, walk[-1][4]))
    calls_text = f"calls {before.calls} -> {after.calls}" if before.calls != after.calls else None
    walk.append(("calls", calls_text, new_model, after.calls, walk[-1][4]))
    # The prompt grows (or shrinks) around the cached prefix it had: new tokens are uncached.
    grown = _vector(n["input"], b["cached_input"], b["cache_write"], b["output"], b["reasoning"])
    input_text = None
    if n["input"] != b["input"]:
        input_text = (
            f"input {b['input']:,} -> {n['input']:,} tokens per call ({times(b['input'], n['input'])}"
            f"{_segment_note(before, after, n['input'] > b['input'])})"
        )
    walk.append(("input", input_text, new_model, after.calls, grown))
    read = _vector(n["input"], n["cached_input"], grown.cache_write, b["output"], b["reasoning"])
    read_text = None
    if n["cached_input"] != b["cached_input"] and share(before.cached_share) != share(after.cached_share):
        read_text = f"cache reads {share(before.cached_share)} -> {share(after.cached_share)} of input"
    walk.append(("cache_read", read_text, new_model, after.calls, read))
    written = _vector(n["input"], n["cached_input"], n["cache_write"], b["output"], b["reasoning"])
    write_text = None
    if n["cache_write"] != b["cache_write"] and share(before.write_share) != share(after.write_share):
        write_text = f"cache writes {share(before.write_share)} -> {share(after.write_share)} of input"
    walk.append(("cache_write", write_text, new_model, after.calls, written))
    output_text = None
    if n["output"] != b["output"]:
        reasoning = f"; reasoning {b['reasoning']:,} -> {n['reasoning']:,}" if n["reasoning"] != b["reasoning"] else ""
        output_text = (
            f"output {b['output']:,} -> {n['output']:,} tokens per call ({times(b['output'], n['output'])}{reasoning})"
        )
    walk.append(("output", output_text, new_model, after.calls, _vector(*n.values())))

    values = [priced(model, calls, tokens) for _, _, model, calls, tokens in walk]
    known = all(value is not None for value in values)
    found: list[Cause] = []
    for index in range(1, len(walk)):
        kind, text = walk[index][0], walk[index][1]
        previous, current = values[index - 1], values[index]
        usd = current - previous if known and current is not None and previous is not None else None
        if text is not None:
            found.append(Cause(kind, text, usd))
        elif usd and found:  # a move with no visible change (rounding per call): kept in the sum
            found[-1] = Cause(found[-1].kind, found[-1].text, (found[-1].usd or Decimal(0)) + usd)
    if known:
        rest = delta - (Decimal(values[-1] or 0) - Decimal(values[0] or 0))
        if before.requests != after.requests:
            found.append(Cause("fees", f"per-request fees {before.requests} -> {after.requests} requests", rest))
        elif rest and abs(rest) * 10 >= abs(delta) and found:
            found.append(Cause("other", "billed dimensions, tiers or per-call spread", rest))
        elif rest and found:  # too small to name: the largest cause absorbs it, so the causes add up
            top = max(range(len(found)), key=lambda i: abs(found[i].usd or Decimal(0)))
            found[top] = Cause(found[top].kind, found[top].text, (found[top].usd or Decimal(0)) + rest)
        elif rest:
            found.append(Cause("other", "billed dimensions, tiers or per-call spread", rest))
    found.sort(key=lambda cause: -abs(cause.usd) if cause.usd is not None else Decimal(0))
    return tuple(found)


def cause_text(kind: str, before: Profile, after: Profile) -> str | None:
    """The words :func:`explain` gives a cause of ``kind`` between two profiles, said again from
    the profiles alone (the results file leaves out a text this gives back); None for a kind it does
    not know. ``tests/unit/test_results_format.py`` checks it against :func:`explain`."""
    if kind == "model":
        return "model " + ", ".join(before.models) + " -> " + ", ".join(after.models)
    if kind == "calls":
        return f"calls {before.calls} -> {after.calls}" if before.calls != after.calls else "usage changed"
    if kind == "fees":
        return f"per-request fees {before.requests} -> {after.requests} requests"
    if kind == "other":
        return "billed dimensions, tiers or per-call spread"
    if kind == "input":
        old, new = before.per_call("input"), after.per_call("input")
        note = _segment_note(before, after, new > old)
        return f"input {old:,} -> {new:,} tokens per call ({times(old, new)}{note})"
    if kind == "cache_read":
        return f"cache reads {share(before.cached_share)} -> {share(after.cached_share)} of input"
    if kind == "cache_write":
        return f"cache writes {share(before.write_share)} -> {share(after.write_share)} of input"
    if kind == "output":
        old, new = before.per_call("output"), after.per_call("output")
        old_r, new_r = before.per_call("reasoning"), after.per_call("reasoning")
        reasoning = f"; reasoning {old_r:,} -> {new_r:,}" if new_r != old_r else ""
        return f"output {old:,} -> {new:,} tokens per call ({times(old, new)}{reasoning})"
    return None


def reasons(causes: tuple[Cause, ...], same: tuple[str, ...]) -> str:
    """``input 238 -> 995 tokens per call (x4.2), same model, same calls``: the causes, then what did not move."""
    return ", ".join([cause.text for cause in causes] + list(same))


def describe(path: str | None, base_usd: Decimal | None, now_usd: Decimal, why: str) -> str:
    """``synthesize +$0.0023 (+141%): input 238 -> 995 tokens per call (x4.2), same model, same calls``."""
    delta = now_usd - (base_usd or Decimal(0))
    head = f"{path or 'total'} {signed_money(delta)} ({growth(delta, base_usd)})"
    return f"{head}: {why}" if why else head


def sameness(base: Profile | None, now: Profile) -> tuple[str, ...]:
    """``same model``, ``same calls``: what did not move, said so a reader need not wonder."""
    if base is None:
        return ()
    same = []
    if base.models == now.models:
        same.append("same model" if len(now.models) <= 1 else "same models")
    if base.calls == now.calls:
        same.append("same calls")
    return tuple(same)


def cache_drop(base: Profile, now: Profile) -> Decimal | None:
    """How far the cached share of input fell, as a fraction (0.92 for 92% -> 0%); None when it did not.

    A share that falls only because the prompt grew around an unchanged cached prefix is no cache
    regression: the cache reads per call must have fallen too.
    """
    before, after = base.cached_share, now.cached_share
    if before is None or not before or after is None or after >= before:
        return None
    if now.per_call("cached_input") >= base.per_call("cached_input"):
        return None
    return before - after
