"""The ``llm-cost`` command (also ``python -m pytest_llmcost``). Never imports pytest."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from . import __version__
from .files import FileFormatError
from .pricing import PriceFileError, RateCard, load_local_prices
from .usage import Call, format_usd

__all__ = ["main"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

MAIN_EPILOG = """\
examples:
  llm-cost inspect tests/cassettes/test_agent/test_research.yaml
  llm-cost update-baseline --dry-run

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


class CLIError(Exception):
    """A problem with the command's input: printed as one line, exit status 2."""


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
    return parser


def _card(path: Path) -> RateCard:
    try:
        return RateCard(local=load_local_prices(path))
    except PriceFileError as exc:
        raise CLIError(str(exc)) from None


def _inspect(args: argparse.Namespace, out: TextIO) -> int:
    from .cassettes import CassetteError, read_cassette
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
    total = sum((record.usd for record in records), Decimal(0))
    calls = len({(record.cassette, record.seq) for record in records})
    out.write(f"total: {plural(calls, 'LLM call')} in {plural(len(args.cassettes), 'cassette')}, {money(total)}\n")
    return EXIT_OK


def _update_baseline(args: argparse.Namespace, out: TextIO) -> int:
    from .baseline import load_baseline, update
    from .results import load_results

    results = load_results(args.results)
    baseline = load_baseline(args.baseline)
    prune: set[str] = set()
    if args.prune:
        if results.collected is None:
            raise CLIError(
                f"--prune needs results from a run of the whole suite, and {args.results} comes from a run "
                "that selected tests; run `pytest --llm-cost` without selecting tests first"
            )
        prune = set(baseline.entries) - set(results.collected)
    new, summary = update(baseline, results.accepted(), prune=prune)
    skipped = sorted(set(results.tests) - set(results.accepted()))
    for label, nodeids in (("added", summary.added), ("changed", summary.changed), ("removed", summary.removed)):
        for nodeid in nodeids:
            out.write(f"  {label:<8} {nodeid}\n")
    for nodeid in skipped:
        out.write(f"  kept     {nodeid} (it {results.outcomes[nodeid]} in that run)\n")
    if args.dry_run:
        out.write(f"{args.baseline}: would be {summary} (dry run, nothing written)\n")
    elif summary.any:
        new.write(args.baseline)
        out.write(f"{args.baseline}: {summary}\n")
    else:
        out.write(f"{args.baseline}: unchanged\n")
    return EXIT_OK


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
    except (CLIError, FileFormatError) as exc:
        err.write(f"llm-cost {args.command}: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # pragma: no cover - `llm-cost ... | head`
        return EXIT_OK
