"""The ``llm-cost`` command (also ``python -m pytest_llmcost``). Never imports pytest."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .files import FileFormatError, FileWriteError
from .pricing import PriceFileError, RateCard, load_local_prices
from .usage import Call, format_usd

__all__ = ["main"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

MAIN_EPILOG = """\
examples:
  llm-cost inspect tests/cassettes/test_agent/test_research.yaml
  llm-cost update-baseline --dry-run
  llm-cost diff llm-cost-baseline.json .llm-cost/results.json --fail-on 10%
  llm-cost report .llm-cost/results.json -o cost.html
  llm-cost merge shard-*/results.json -o .llm-cost/results.json

`llm-cost COMMAND --help` shows a command's options and more examples.
"""

INSPECT_EPILOG = """\
examples:
  llm-cost inspect tests/cassettes/test_agent/test_research.yaml
  llm-cost inspect tests/cassettes/**/*.yaml --json > usage.json
  llm-cost inspect cassette.yaml --prices llm-cost-prices.yaml
"""


UPDATE_EPILOG = """\
examples:
  llm-cost update-baseline
      accept the last `pytest --llm-cost` run (.llm-cost/results.json) into llm-cost-baseline.json
  llm-cost update-baseline --results artifacts/results.json --dry-run
      show what CI's results would change, without writing
  llm-cost update-baseline --prune
      also drop entries whose tests no longer exist (needs a run of the whole suite)

Only tests that passed, or failed on nothing but their LLM cost, are accepted; other entries
are kept as they are.
"""


REPORT_EPILOG = """\
examples:
  llm-cost report .llm-cost/results.json
      write .llm-cost/report.html, compared with llm-cost-baseline.json when it exists
  llm-cost report artifacts/results.json --baseline main/llm-cost-baseline.json -o cost.html --markdown cost.md
"""

DIFF_EPILOG = """\
examples:
  llm-cost diff llm-cost-baseline.json .llm-cost/results.json
      what the run changed, test by test and step by step
  llm-cost diff main/results.json pr/results.json --format markdown >> "$GITHUB_STEP_SUMMARY"
  llm-cost diff base.json head.json --fail-on "10% + $0.001"
      exit 1 when a test (or the total) grew by more than 10% and more than $0.001

BASE and HEAD are results files (from `pytest --llm-cost`) or baselines, in any mix. Both are
priced with today's rate card, so only usage counts. Exit status: 0 within the delta, 1 over
it, 2 on bad input.
"""

MERGE_EPILOG = """\
examples:
  llm-cost merge shard-1/results.json shard-2/results.json -o .llm-cost/results.json
      one results file from CI shards; a test that ran in two shards is an error
"""


class CLIError(Exception):
    """A problem with the command's input: printed as one line, exit status 2."""


class CheckFailed(Exception):
    """The command found what it checks for (``diff --fail-on``): printed as one line, exit status 1."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-cost",
        description="Meter, compare and report the LLM cost of a pytest suite (pytest-llmcost).",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    inspect = commands.add_parser(
        "inspect",
        help="meter cassettes without running tests",
        description="Meter the LLM interactions recorded in vcrpy cassettes, without running any test: "
        "one record per interaction with its provider, model, tokens and dollars.",
        epilog=INSPECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("cassettes", nargs="+", type=Path, metavar="CASSETTE", help="cassette YAML files")
    inspect.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    inspect.add_argument(
        "--prices",
        type=Path,
        default=Path("llm-cost-prices.yaml"),
        metavar="PATH",
        help="local price file (default: llm-cost-prices.yaml, if present)",
    )
    inspect.set_defaults(run=_inspect)

    updater = commands.add_parser(
        "update-baseline",
        help="accept a results file into the baseline, without running tests",
        description="Rewrite the baseline entries of the tests in a results file written by "
        "`pytest --llm-cost`, as `pytest --llm-cost --llm-cost-update` would.",
        epilog=UPDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    updater.add_argument(
        "--results",
        type=Path,
        default=Path(".llm-cost/results.json"),
        metavar="PATH",
        help="results file (default: .llm-cost/results.json)",
    )
    updater.add_argument(
        "--baseline",
        type=Path,
        default=Path("llm-cost-baseline.json"),
        metavar="PATH",
        help="baseline file (default: llm-cost-baseline.json)",
    )
    updater.add_argument("--prune", action="store_true", help="drop entries whose tests the run did not collect")
    updater.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    updater.set_defaults(run=_update_baseline)

    report = commands.add_parser(
        "report",
        help="write the HTML report (and Markdown summary) from a results file",
        description="Write the HTML cost report, as `pytest --llm-cost` does, from a results file.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("results", type=Path, metavar="RESULTS", help="results file written by pytest --llm-cost")
    report.add_argument(
        "--baseline",
        type=Path,
        metavar="PATH",
        help="baseline to compare with (default: llm-cost-baseline.json, when it exists)",
    )
    report.add_argument(
        "-o", "--output", type=Path, default=Path(".llm-cost/report.html"), metavar="FILE", help="HTML file to write"
    )
    report.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown summary here")
    _common_pricing(report)
    report.set_defaults(run=_report)

    diff = commands.add_parser(
        "diff",
        help="compare two results or baseline files",
        description="Compare the LLM cost of two results or baseline files, test by test and step by step.",
        epilog=DIFF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("base", type=Path, metavar="BASE", help="results or baseline file before the change")
    diff.add_argument("head", type=Path, metavar="HEAD", help="results or baseline file after the change")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="output format")
    diff.add_argument(
        "--fail-on",
        type=_delta,
        metavar="DELTA",
        help="exit 1 when a test or the total grew by more than this ('10%%', '$0.002', '500 tokens')",
    )
    _common_pricing(diff)
    diff.set_defaults(run=_diff)

    merge = commands.add_parser(
        "merge",
        help="merge results files from CI shards",
        description="Merge the results files of CI shards into one.",
        epilog=MERGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    merge.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help="results files")
    merge.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="merged results file")
    merge.set_defaults(run=_merge)
    return parser


def _delta(value: str) -> object:
    from .gate.allowance import parse_allowance

    try:
        return parse_allowance(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _usd(value: str) -> Decimal:
    from .options import parse_usd

    return parse_usd(value)


def _common_pricing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prices",
        type=Path,
        default=Path("llm-cost-prices.yaml"),
        metavar="PATH",
        help="local price file (default: llm-cost-prices.yaml, if present)",
    )
    parser.add_argument(
        "--noise-floor",
        type=_usd,
        default=None,
        metavar="USD",
        help="an increase below this many dollars never counts (default: the run's, else 0.0001)",
    )


def _card(path: Path) -> RateCard:
    try:
        return RateCard(local=load_local_prices(path))
    except PriceFileError as exc:
        raise CLIError(str(exc)) from None


def _inspect(args: argparse.Namespace, out: TextIO) -> int:
    from .capture.cassettes import CassetteError, read_cassette
    from .meter import Captured, measure
    from .report.terminal import money, plural

    card = _card(args.prices)
    records: list[Call] = []
    for path in args.cassettes:
        try:
            interactions = read_cassette(path)
        except (CassetteError, OSError) as exc:
            raise CLIError(str(exc)) from None
        captured = [Captured(exchange, None, str(path), index) for index, exchange in interactions]
        records += measure(str(path), captured, card).records
    if args.json:
        rows = [
            {
                "cassette": record.cassette,
                "interaction": record.interaction,
                "provider": record.provider,
                "model": record.model,
                "api": record.api,
                "part": record.part,
                "tokens": record.tokens.to_json(),
                "usd": format_usd(record.usd),
                "estimated": record.estimated,
                "unpriced": record.unpriced,
                "note": record.note,
                # Billed dimensions and the service tier, as in results.json: only when there are any.
                **({"dims": record.dims.to_json()} if record.dims else {}),
                **({"service_tier": record.service_tier} if record.service_tier else {}),
            }
            for record in records
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    header = f"{'cassette':<48} {'#':>3} {'model':<32} {'input':>8} {'cached':>8} {'output':>8} {'$':>11}"
    out.write(header + "\n")
    for record in records:
        name = record.cassette or ""
        name = name if len(name) <= 48 else "…" + name[-47:]
        model = (record.model or "?") + (f" {record.part}" if record.part else "")
        flags = "".join(
            f" [{flag}]" for flag, on in (("estimated", record.estimated), ("unpriced", record.unpriced)) if on
        )
        out.write(
            f"{name:<48} {record.interaction if record.interaction is not None else '-':>3} {model[:32]:<32} "
            f"{record.tokens.input:>8,} {record.tokens.cached_input:>8,} {record.tokens.output:>8,} "
            f"{money(record.usd):>11}{flags}\n"
        )
        extra = [record.dims.describe()] if record.dims else []
        if record.tokens.cache_write:
            extra.insert(0, f"cache write {record.tokens.cache_write:,}")
        if record.service_tier:
            extra.append(f"{record.service_tier} tier")
        if extra:
            out.write(f"{'':<53}{'; '.join(extra)}\n")
    total = sum((record.usd for record in records), Decimal(0))
    calls = len({(record.cassette, record.seq) for record in records})
    out.write(f"total: {plural(calls, 'LLM call')} in {plural(len(args.cassettes), 'cassette')}, {money(total)}\n")
    return EXIT_OK


def _update_baseline(args: argparse.Namespace, out: TextIO) -> int:
    from .gate import baseline as baselines
    from .results import load_results

    results = load_results(args.results)
    baseline = baselines.load_baseline(args.baseline)
    prune: set[str] = set()
    if args.prune:
        if results.collected is None:
            raise CLIError(
                f"--prune needs results from a run of the whole suite, and {args.results} comes from a run "
                "that selected tests; run `pytest --llm-cost` without selecting tests first"
            )
        if not results.collected:
            raise CLIError(
                f"--prune needs results from a run that collected the suite, and {args.results} lists no "
                "collected test; run `pytest --llm-cost` on the whole suite first"
            )
        prune = set(baselines.stale_entries(baseline.entries, results.collected, results.tests))
    new, summary = baselines.update(baseline, results.accepted(), prune=prune)
    if not args.dry_run and summary.any:
        # Another update may have written the file since it was read: this one's changes go on top.
        summary = baselines.save_update(args.baseline, baseline, new)
    skipped = sorted(set(results.tests) - set(results.accepted()))
    for label, nodeids in (("added", summary.added), ("changed", summary.changed), ("removed", summary.removed)):
        for nodeid in nodeids:
            out.write(f"  {label:<8} {nodeid}\n")
    for nodeid in skipped:
        out.write(f"  kept     {nodeid} (it {results.outcomes[nodeid]} in that run)\n")
    if args.dry_run:
        out.write(f"{args.baseline}: would be {summary} (dry run, nothing written)\n")
    elif summary.any:
        out.write(f"{args.baseline}: {summary}\n")
    else:
        out.write(f"{args.baseline}: unchanged\n")
    return EXIT_OK


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from .files import write_atomic
    from .report.html import write_html
    from .report.markdown import summary_markdown
    from .report.model import build_report
    from .results import load_results

    results = load_results(args.results)
    legacy = not results.run and Path("llm-cost-baseline.json").exists()  # format 1 kept no run verdict
    if args.baseline is not None or args.noise_floor is not None or legacy:
        results, run = _rejudged(results, args)
    else:
        run = results.run_verdict()  # the run's own judgement, as it was made
    report = build_report(results, run)
    write_html(report, args.output)
    out.write(f"report: {args.output}\n")
    if args.markdown is not None:
        link = os.path.relpath(args.output.resolve(), args.markdown.resolve().parent)
        write_atomic(args.markdown, summary_markdown(report, report_link=link))
        out.write(f"summary: {args.markdown}\n")
    return EXIT_OK


def _rejudged(results: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """``results`` judged again by the gate against ``--baseline`` (or with ``--noise-floor``), with the run's rules."""
    import dataclasses

    from .gate.baseline import load_baseline
    from .gate.rejudge import judge_results

    path = args.baseline or Path("llm-cost-baseline.json")
    if args.baseline is not None and not args.baseline.exists():
        raise CLIError(f"{args.baseline}: no such baseline file; give an existing baseline, or leave out --baseline")
    rules = results.rules
    if args.noise_floor is not None:
        rules = dataclasses.replace(rules, noise_floor=args.noise_floor)
    return judge_results(results, load_baseline(path), _card(args.prices), rules=rules, label=str(path))


def _entries(path: Path) -> dict[str, Any]:
    """The per-test usage in a results file or a baseline, as baseline entries."""
    from .files import read_json
    from .gate.baseline import entry_of, load_baseline
    from .results import load_results

    data = read_json(path, "results or baseline")
    tests = data.get("tests") if isinstance(data, dict) else None
    if isinstance(tests, dict) and any(isinstance(t, dict) and "records" in t for t in tests.values()):
        return {nodeid: entry_of(test) for nodeid, test in load_results(path).tests.items() if test.records}
    if isinstance(data, dict) and "summary" in data:  # a results file with no metered test
        return {}
    return dict(load_baseline(path).entries)


def _diff(args: argparse.Namespace, out: TextIO) -> int:
    from .gate.compare import DiffRow, diff_entries
    from .pricing import rate_card_label
    from .report.markdown import code as md_code
    from .report.markdown import dollars as md_dollars
    from .report.markdown import markdown_table
    from .report.markdown import ratio as md_ratio
    from .report.markdown import signed as md_signed
    from .usage import short_money

    card = _card(args.prices)
    rows = diff_entries(_entries(args.base), _entries(args.head), card)
    tests = [row for row in rows if row.step is None]
    base_total = sum((row.base_usd or Decimal(0) for row in tests), Decimal(0))
    head_total = sum((row.head_usd or Decimal(0) for row in tests), Decimal(0))
    total = DiffRow(
        "(total)",
        None,
        base_total,
        head_total,
        sum(row.base_tokens for row in tests),
        sum(row.head_tokens for row in tests),
    )
    over: list[DiffRow] = []
    if args.fail_on is not None:
        floor = Decimal("0.0001") if args.noise_floor is None else args.noise_floor
        # As the pytest gate judges: the total, and each test and step present in both files
        # (a new test is not a regression of anything; it counts in the total).
        for row in (*[row for row in rows if row.base_usd is not None and row.head_usd is not None], total):
            if row.over(args.fail_on, floor):
                over.append(row)
    changed = [row for row in tests if row.delta_usd or row.base_usd is None or row.head_usd is None]
    added = sum(1 for row in tests if row.base_usd is None)
    removed = sum(1 for row in tests if row.head_usd is None)

    if args.format == "json":
        payload = {
            "base": str(args.base),
            "head": str(args.head),
            "rate_card": rate_card_label(card.describe()),
            "total": total.to_json(),
            "tests": [row.to_json() for row in rows],
            "fail_on": None if args.fail_on is None else str(args.fail_on),
            "over": [_where(row) for row in over],
        }
        out.write(json.dumps(payload, indent=2) + "\n")
    elif args.format == "markdown":
        lines = [f"**LLM cost: {args.base} → {args.head}** ({rate_card_label(card.describe())})", ""]
        table = [
            [
                md_code(row.nodeid) if row.step is None else f"↳ {md_code(row.step)}",
                md_dollars(row.base_usd),
                md_dollars(row.head_usd),
                md_signed(row.delta_usd),
                md_ratio(row.delta_ratio),
            ]
            for row in [*rows, total]
            if row is total or row.delta_usd or row.base_usd is None or row.head_usd is None
        ]
        lines += markdown_table(["test / step", "base", "head", "Δ", "Δ%"], table, "lrrrr")
        out.write("\n".join(lines) + "\n")
    else:
        out.write(f"llm-cost diff: {args.base} -> {args.head} ({rate_card_label(card.describe())})\n")
        out.write(f"{'test / step':<60} {'base':>11} {'head':>11} {'change':>11} {'%':>8}\n")
        for row in [*rows, total]:
            if row is not total and not (row.delta_usd or row.base_usd is None or row.head_usd is None):
                continue
            name = row.nodeid if row.step is None else f"  {row.step}"
            name = name if len(name) <= 60 else "…" + name[-59:]
            ratio = (
                "new"
                if row.base_usd is None
                else "gone"
                if row.head_usd is None
                else ("" if row.delta_ratio is None else f"{row.delta_ratio * 100:+.1f}%")
            )
            out.write(
                f"{name:<60} {md_dollars(row.base_usd):>11} {md_dollars(row.head_usd):>11} "
                f"{('+' if row.delta_usd >= 0 else '-') + short_money(abs(row.delta_usd)):>11} {ratio:>8}\n"
            )
        out.write(f"{len(changed)} of {len(tests)} tests changed ({added} new, {removed} gone)\n")
    if over:
        names = ", ".join(f"{_where(row)} ({_growth(row)})" for row in over[:5])
        more = f" and {len(over) - 5} more" if len(over) > 5 else ""
        raise CheckFailed(f"over the allowed delta {args.fail_on}: {names}{more}")
    return EXIT_OK


def _where(row: Any) -> str:
    return f"{row.nodeid} step {row.step}" if row.step else row.nodeid


def _growth(row: Any) -> str:
    from .fmt import growth

    return growth(row.delta_usd, row.base_usd)


def _merge(args: argparse.Namespace, out: TextIO) -> int:
    from .pricing import rate_card_label
    from .results import Results, load_results
    from .usage import TestCost

    merged: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    outcomes: dict[str, str] = {}
    verdicts: dict[str, Any] = {}
    runs: dict[str, int] = {}
    unattributed: list[TestCost] = []
    new: set[str] = set()
    stale: set[str] | None = None
    collected: set[str] | None = set()
    first: Results | None = None
    first_path: Path | None = None
    for path in args.results:
        results = load_results(path)
        if first is None:
            first, first_path = results, path
        elif dict(results.rate_card) != dict(first.rate_card):
            raise CLIError(
                f"{path} was priced by {rate_card_label(results.rate_card)}, {first_path} by "
                f"{rate_card_label(first.rate_card)}; merge the results of one run"
            )
        elif results.rules.to_json() != first.rules.to_json():
            raise CLIError(
                f"{path} was judged with {_rules_text(results.rules)}, {first_path} with {_rules_text(first.rules)}; "
                "run every shard with the same llm-cost options"
            )
        for nodeid, test in results.tests.items():
            if nodeid in merged:
                if results.kind(nodeid) == "fixture":  # a wide fixture set up in two shards: one entry
                    continue
                raise CLIError(f"{nodeid} is in both {origin[nodeid]} and {path}: a test must run in one shard only")
            merged[nodeid], origin[nodeid] = test, path
            outcomes[nodeid] = results.outcomes.get(nodeid, "passed")
            if nodeid in results.verdicts:
                verdicts[nodeid] = results.verdicts[nodeid]
        runs.update(results.runs_per_day)
        unattributed += results.unattributed
        new |= set(results.run.get("new", ()))
        shard_stale = set(results.run.get("stale", ()))
        stale = shard_stale if stale is None else stale & shard_stale
        if results.collected is None or collected is None:
            collected = None
        else:
            collected |= set(results.collected)
    assert first is not None
    combined = Results(
        tests=merged,
        rate_card=first.rate_card,
        outcomes=outcomes,
        collected=None if collected is None else tuple(sorted(collected)),
        verdicts=verdicts,
        runs_per_day=runs,
        rules=first.rules,
        run={**first.run, "new": sorted(new), "stale": sorted(stale or ())},
        unattributed=tuple(unattributed),
    )
    combined.write(args.output)
    out.write(f"{args.output}: {len(merged)} tests from {len(args.results)} results files\n")
    return EXIT_OK


def _rules_text(rules: Any) -> str:
    data = rules.to_json()
    return ", ".join(f"{key} {value}" for key, value in sorted(data.items()))


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    try:
        # argparse prints help, --version and usage errors itself: send them to out and err too.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return int(args.run(args, out))
    except CheckFailed as exc:
        err.write(f"llm-cost {args.command}: {exc}\n")
        return EXIT_FAIL
    except (CLIError, FileFormatError, FileWriteError) as exc:
        err.write(f"llm-cost {args.command}: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # pragma: no cover - `llm-cost ... | head`
        return EXIT_OK
