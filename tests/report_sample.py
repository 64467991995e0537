"""A realistic, fixed report: a support agent's suite, its baseline and a price file of its own.

Used by the HTML gold test, the browser test and the screenshot in docs/report.png. Every price
comes from the local price list below, so the numbers never move with genai-prices releases.

    python -m tests.report_sample report.html     # write the sample report
    chromium --headless --no-sandbox --hide-scrollbars --window-size=1280,1600 \\
        --screenshot=docs/report.png file://$PWD/report.html
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pytest_llmcost.gate.allowance import parse_allowance
from pytest_llmcost.gate.baseline import Baseline, Book, Entry, Line, entry_of
from pytest_llmcost.gate.judge import Rules, Status, Verdict
from pytest_llmcost.gate.rejudge import judge_results
from pytest_llmcost.pricing import LocalModelPrice, LocalPrices, RateCard, RequestFee
from pytest_llmcost.report.model import Report, build_report
from pytest_llmcost.results import Results
from pytest_llmcost.usage import Call, TestCost, Tokens

CLOCK = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
PRICES = LocalPrices(
    models=(
        LocalModelPrice("gpt-4o", Decimal("2.50"), Decimal("10"), cached_input=Decimal("1.25")),
        LocalModelPrice("gpt-4o-mini", Decimal("0.15"), Decimal("0.60"), cached_input=Decimal("0.075")),
        LocalModelPrice("o4-mini", Decimal("1.10"), Decimal("4.40"), cached_input=Decimal("0.275")),
        LocalModelPrice(
            "claude-sonnet-4-5",
            Decimal(3),
            Decimal(15),
            cached_input=Decimal("0.30"),
            cache_write=Decimal("3.75"),
        ),
        LocalModelPrice("gemini-2.5-flash", Decimal("0.30"), Decimal("2.50"), cached_input=Decimal("0.075")),
        LocalModelPrice("text-embedding-3-small", Decimal("0.02"), Decimal(0)),
    ),
    requests=(RequestFee("https://api.search.example.com/*", Decimal("0.008"), "web-search"),),
)
CARD = RateCard(local=PRICES, when=CLOCK)
RATE_CARD = {"genai_prices": "0.0.40", "local_prices": {"path": "llm-cost-prices.yaml", "sha256": "3f9a1c2e7b4d"}}
PROVIDERS = {"gpt": "openai", "o4-": "openai", "tex": "openai", "cla": "anthropic", "gem": "google"}

# (step, model, input, cached, cache writes, output, reasoning); model "web-search" is a per-request fee.
Spec = tuple[str | None, str, int, int, int, int, int]


def _calls(nodeid: str, specs: list[Spec], *, estimated: Collection[int] = (), unpriced: str = "") -> TestCost:
    module, name = nodeid.split("::")
    cassette = f"tests/cassettes/{Path(module).stem}/{name.split('[')[0]}.yaml"
    records = []
    for seq, (step, model, tokens_in, cached, writes, tokens_out, reasoning) in enumerate(specs):
        tokens = Tokens(tokens_in, cached, writes, tokens_out, reasoning)
        if model == "web-search":
            fee = Call(seq, step, "api.search.example.com", model, Tokens(), Decimal("0.008"), api="request")
            records.append(dataclasses.replace(fee, cassette=cassette, interaction=seq, requests=1))
            continue
        if model == unpriced:
            unknown = Call(seq, step, "openai", model, tokens, Decimal(0), unpriced=True, api="openai.chat")
            records.append(dataclasses.replace(unknown, cassette=cassette, interaction=seq))
            continue
        provider = PROVIDERS[model[:3]]
        price = CARD.price(provider, model, tokens).usd
        assert price is not None, model
        records.append(
            Call(
                seq,
                step,
                provider,
                model,
                tokens,
                price,
                estimated=seq in estimated,
                api="openai.chat" if provider == "openai" else f"{provider}.messages",
                cassette=cassette,
                interaction=seq,
                note="usage not reported" if seq in estimated else None,
            )
        )
    return TestCost.from_calls(nodeid, records)


def sample_tests() -> tuple[dict[str, TestCost], dict[str, TestCost]]:
    """This run's tests, and the runs the baseline was written from."""
    now = {
        "tests/test_agent.py::test_refund_flow": [
            ("classify", "gpt-4o-mini", 1_850, 0, 0, 42, 0),
            ("retrieve", "text-embedding-3-small", 3_200, 0, 0, 0, 0),
            ("retrieve", "web-search", 0, 0, 0, 0, 0),
            ("draft", "claude-sonnet-4-5", 14_300, 9_800, 2_100, 1_240, 0),
            ("draft", "claude-sonnet-4-5", 16_900, 14_100, 0, 1_460, 0),
            ("review", "gpt-4o", 4_100, 0, 0, 310, 0),
        ],
        "tests/test_agent.py::test_escalation": [
            ("classify", "gpt-4o-mini", 1_790, 0, 0, 38, 0),
            ("draft", "claude-sonnet-4-5", 11_200, 9_800, 0, 880, 0),
            ("review", "gpt-4o", 3_600, 0, 0, 260, 0),
        ],
        "tests/test_agent.py::test_tool_loop": [
            ("agent/plan", "o4-mini", 6_400, 0, 0, 2_900, 2_300),
            ("agent/act", "gpt-4o", 7_900, 4_096, 0, 520, 0),
            ("agent/act", "gpt-4o", 9_300, 7_936, 0, 610, 0),
            ("agent/act", "gpt-4o", 10_800, 9_216, 0, 450, 0),
            ("agent/plan", "o4-mini", 8_100, 6_144, 0, 1_700, 1_200),
        ],
        "tests/test_summarize.py::test_long_thread[gpt-4o]": [
            ("summarize", "gpt-4o", 22_400, 0, 0, 690, 0),
        ],
        "tests/test_summarize.py::test_long_thread[claude-sonnet-4-5]": [
            ("summarize", "claude-sonnet-4-5", 22_900, 0, 0, 720, 0),
        ],
        "tests/test_search.py::test_answer_with_sources": [
            ("retrieve", "web-search", 0, 0, 0, 0, 0),
            ("retrieve", "web-search", 0, 0, 0, 0, 0),
            ("answer", "o4-mini", 9_800, 0, 0, 2_400, 1_536),
        ],
        "tests/test_triage.py::test_triage_batch": [
            ("classify", "gemini-2.5-flash", 2_300, 0, 0, 64, 0),
            ("classify", "gemini-2.5-flash", 2_250, 0, 0, 61, 0),
            ("classify", "gemini-2.5-flash", 2_410, 0, 0, 70, 0),
        ],
        "tests/test_extract.py::test_invoice_fields": [
            ("extract", "gpt-4o-mini", 3_050, 0, 0, 410, 0),
        ],
        "tests/test_legacy.py::test_internal_model": [
            ("classify", "acme-internal-1", 900, 0, 0, 20, 0),
        ],
        "tests/test_smoke.py::test_hello": [
            (None, "gpt-4o-mini", 24, 0, 0, 9, 0),
        ],
    }
    base = {
        "tests/test_agent.py::test_refund_flow": [
            ("classify", "gpt-4o-mini", 1_850, 0, 0, 40, 0),
            ("retrieve", "text-embedding-3-small", 3_200, 0, 0, 0, 0),
            ("retrieve", "web-search", 0, 0, 0, 0, 0),
            ("draft", "claude-sonnet-4-5", 11_600, 9_800, 0, 910, 0),
            ("review", "gpt-4o", 4_050, 0, 0, 300, 0),
        ],
        "tests/test_agent.py::test_escalation": now["tests/test_agent.py::test_escalation"],
        "tests/test_agent.py::test_tool_loop": [
            ("agent/plan", "o4-mini", 6_400, 0, 0, 2_800, 2_200),
            ("agent/act", "gpt-4o", 7_900, 4_096, 0, 500, 0),
            ("agent/act", "gpt-4o", 9_300, 7_936, 0, 590, 0),
            ("agent/plan", "o4-mini", 8_000, 6_144, 0, 1_600, 1_100),
        ],
        "tests/test_summarize.py::test_long_thread[gpt-4o]": [
            ("summarize", "gpt-4o", 31_800, 0, 0, 1_020, 0),
        ],
        "tests/test_summarize.py::test_long_thread[claude-sonnet-4-5]": [
            ("summarize", "claude-sonnet-4-5", 22_900, 0, 0, 730, 0),
        ],
        "tests/test_triage.py::test_triage_batch": now["tests/test_triage.py::test_triage_batch"],
        "tests/test_extract.py::test_invoice_fields": [
            ("extract", "gpt-4o-mini", 3_050, 0, 0, 400, 0),
        ],
        "tests/test_smoke.py::test_hello": now["tests/test_smoke.py::test_hello"],
    }
    tests = {
        nodeid: _calls(
            nodeid,
            specs,
            estimated={0} if nodeid.endswith("test_invoice_fields") else (),
            unpriced="acme-internal-1",
        )
        for nodeid, specs in now.items()
    }
    written = {nodeid: _calls(nodeid, specs) for nodeid, specs in base.items()}
    return tests, written


def _older_prices(entry: Entry) -> Entry:
    """The entry as priced when gpt-4o cost more: the baseline's dollars drift from today's."""

    def reprice(book: Book) -> Book:
        models = {
            key: dataclasses.replace(line, usd=line.usd * Decimal("1.2")) if key[1] == "gpt-4o" else line
            for key, line in book.models.items()
        }
        return Book(models=models, calls=book.calls)

    return Entry(total=reprice(entry.total), steps={path: reprice(book) for path, book in entry.steps.items()})


def judged_report(
    results: Results,
    *,
    baseline: Baseline | None = None,
    card: RateCard = CARD,
    allowance: str = "5%",
    noise_floor: Decimal = Decimal(0),
    stale: Collection[str] = (),
    statuses: Mapping[str, str] | None = None,
    **options: Any,
) -> Report:
    """``results`` judged by the gate as a run judges (``statuses`` preset failing verdicts), then reported."""
    preset = {
        nodeid: Verdict(nodeid, Status(status), True, ((Status(status), f"preset {status}"),))
        for nodeid, status in (statuses or {}).items()
    }
    results = dataclasses.replace(results, verdicts={**results.verdicts, **preset})
    rules = Rules(tolerance=parse_allowance(allowance), noise_floor=noise_floor)
    judged, run = judge_results(results, baseline or Baseline(), card, rules=rules)
    run = dataclasses.replace(run, stale=tuple(sorted(stale)))
    return build_report(judged, run, **options)


def sample_report(**overrides: Any) -> Report:
    """The sample as :func:`build_report` makes it, with a fixed clock."""
    tests, written = sample_tests()
    entries = {nodeid: _older_prices(entry_of(cost)) for nodeid, cost in written.items()}
    removed = Line(calls=1, tokens=Tokens(input=1000, output=50), usd=Decimal("0.003"))
    entries["tests/test_old.py::test_removed_feature"] = Entry(total=Book({("openai", "gpt-4o"): removed}, calls=1))
    baseline = Baseline(path=Path("llm-cost-baseline.json"), entries=entries, exists=True)
    results = Results(
        tests=tests,
        rate_card=RATE_CARD,
        runs_per_day={
            "tests/test_agent.py::test_refund_flow": 1_200,
            "tests/test_search.py::test_answer_with_sources": 5_000,
            "tests/test_triage.py::test_triage_batch": 300,
        },
    )
    options: dict[str, Any] = {
        "baseline": baseline,
        "statuses": {"tests/test_agent.py::test_tool_loop": "over_budget"},
        "stale": ["tests/test_old.py::test_removed_feature"],
        "clock": lambda: CLOCK,
    }
    options.update(overrides)
    return judged_report(results, **options)


def main(argv: list[str]) -> int:
    from pytest_llmcost.report.html import write_html

    path = Path(argv[0] if argv else "report.html")
    write_html(sample_report(), path)
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
