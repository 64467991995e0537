"""The ``llm-cost`` command (also ``python -m pytest_llmcost``). Never imports pytest."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
from collections.abc import Iterator, Sequence
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
  llm-cost init
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
  llm-cost inspect tests/
      every .yaml and .yml file under tests/; files that are not vcrpy cassettes
      (gRPC or websocket recordings, other YAML) are skipped with one line each
  llm-cost inspect cassette.yaml --prices llm-cost-prices.yaml

Exit status 0 when at least one cassette was read, 2 when none was.
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
  git show origin/main:llm-cost-baseline.json > base.json
  llm-cost report .llm-cost/results.json --base-baseline base.json --markdown summary.md
      judge a pull request against its base branch: an increase its own baseline accepted shows as accepted

Under GitHub Actions the Markdown links to the run's page (or --artifact-url), and
`changed=true|false` is appended to $GITHUB_OUTPUT so a workflow can comment only on a change.
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


INIT_EPILOG = """\
examples:
  llm-cost init
      set up the project in this folder: ini options, .gitignore, the GitHub workflow
  llm-cost init --dir services/agent
      a project in a sub-folder of the repository: the workflow's LLM_COST_DIR is services/agent

Nothing is overwritten: an option already set, an ignored .llm-cost/ and an existing workflow
are kept. A second run changes nothing and says so.
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

    initializer = commands.add_parser(
        "init",
        help="set a project up: ini options, .gitignore, the GitHub workflow",
        description="Set a project up for pytest-llmcost: the llm_cost options in its pytest configuration "
        "(pyproject.toml, or the pytest.ini it uses), .llm-cost/ in .gitignore, and the GitHub workflow at "
        "the repository's root. Prints what it changed and the three commands that finish the set-up.",
        epilog=INIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    initializer.add_argument(
        "--dir", type=Path, default=Path("."), metavar="DIR", help="the project's folder (default: this one)"
    )
    initializer.set_defaults(run=_init)

    inspect = commands.add_parser(
        "inspect",
        help="meter cassettes without running tests",
        description="Meter the LLM interactions recorded in vcrpy cassettes, without running any test: "
        "one record per interaction with its provider, model, tokens and dollars.",
        epilog=INSPECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument(
        "cassettes",
        nargs="+",
        type=Path,
        metavar="CASSETTE",
        help="cassette YAML files, or folders to search for them",
    )
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
    report.add_argument(
        "--base-baseline",
        type=Path,
        metavar="PATH",
        help="judge the run against this baseline (the base branch's); a missing file is an empty baseline",
    )
    report.add_argument("--no-html", action="store_true", help="write only the Markdown summary")
    report.add_argument("--artifact-url", metavar="URL", help="absolute link to the full report, for the Markdown")
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


def _init(args: argparse.Namespace, out: TextIO) -> int:
    from .init import InitError, init, next_commands

    try:
        setup = init(args.dir)
    except InitError as exc:
        raise CLIError(str(exc)) from None
    for change in setup.changes:
        out.write(f"  {change.action:<8} {_shown(change.path)}: {change.what}\n")
    if setup.changed:
        out.write(f"llm-cost init: set up {_shown(setup.project)} for pytest-llmcost\n")
    else:
        out.write(f"llm-cost init: nothing to change; {_shown(setup.project)} is already set up\n")
    workflow = next((c for c in setup.changes if c.path.name == "llm-cost.yml" and c.action == "created"), None)
    if workflow is not None:
        out.write(f"edit the Install step of {_shown(workflow.path)} to install your project and pytest-llmcost\n")
    where = "" if setup.project == Path.cwd().resolve() else f" (from {_shown(setup.project)})"
    out.write(f"next{where}:\n")
    for number, (why, command) in enumerate(next_commands(setup), start=1):
        out.write(f"  {number}. {why}:\n       {command}\n")
    return EXIT_OK


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is under it, else as it is."""
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)
    return relative or "."


def _cassette_files(paths: Sequence[Path]) -> list[Path]:
    """The files given, with each folder replaced by the YAML files under it (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                found for found in path.rglob("*") if found.suffix.lower() in (".yaml", ".yml") and found.is_file()
            )
        else:
            files.append(path)
    return files


def _inspect(args: argparse.Namespace, out: TextIO) -> int:
    from .capture.cassettes import CassetteError, read_cassette
    from .meter import NO_TOKENIZER, Captured, measure
    from .providers.estimate import remember_failures
    from .report.terminal import estimate_label, money, plural

    err: TextIO = getattr(args, "err", None) or sys.stderr
    card = _card(args.prices)
    remember_failures()  # offline without tiktoken's data: one failed load, not one per estimated call
    files = _cassette_files(args.cassettes)
    if not files:
        folders = ", ".join(repr(str(path)) for path in args.cassettes)
        raise CLIError(f"no .yaml or .yml file under {folders}")
    records: list[Call] = []
    skipped: list[str] = []
    read = 0
    for path in files:
        try:
            interactions = read_cassette(path)
        except OSError as exc:  # a file named on the command line that cannot be opened
            raise CLIError(str(exc)) from None
        except CassetteError as exc:  # gRPC or websocket recordings, other YAML: not ours to meter
            skipped.append(str(exc))
            continue
        read += 1
        captured = [Captured(exchange, None, str(path), index) for index, exchange in interactions]
        records += measure(str(path), captured, card).records
    if not read and len(files) == 1:
        raise CLIError(skipped[0])
    for reason in skipped:
        err.write(f"llm-cost inspect: skipped {reason}\n")
    if not read:
        raise CLIError(f"none of the {plural(len(files), 'file')} is a vcrpy cassette")
    blind = [record for record in records if (record.note or "").startswith(NO_TOKENIZER)]
    if blind:
        err.write(
            f"llm-cost inspect: {plural(len(blind), 'call')} without reported usage could not be estimated "
            "(counted as 0 tokens): tiktoken's encoding could not be loaded; point TIKTOKEN_CACHE_DIR at a "
            "folder holding it (run once with network to fill it)\n"
        )
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
            f" [{flag}]"
            for flag, on in ((estimate_label(record), record.estimated), ("unpriced", record.unpriced))
            if on
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
    skipped_text = f" ({plural(len(skipped), 'file')} skipped)" if skipped else ""
    out.write(f"total: {plural(calls, 'LLM call')} in {plural(read, 'cassette')}{skipped_text}, {money(total)}\n")
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
    if args.base_baseline is not None:
        results, run = _against_base(results, args, out)
    elif args.baseline is not None or args.noise_floor is not None or legacy:
        results, run = _rejudged(results, args)
    else:
        run = results.run_verdict()  # the run's own judgement, as it was made
    report = build_report(results, run)
    if not args.no_html:
        write_html(report, args.output)
        out.write(f"report: {args.output}\n")
    if args.markdown is not None:
        link = args.artifact_url or _run_url()
        if link is None and not args.no_html:
            link = os.path.relpath(args.output.resolve(), args.markdown.resolve().parent)
        write_atomic(args.markdown, summary_markdown(report, report_link=link))
        out.write(f"summary: {args.markdown}\n")
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:
        with open(github_output, "a", encoding="utf-8") as handle:
            handle.write(f"changed={'true' if report.changed else 'false'}\n")
    return EXIT_OK


def _run_url() -> str | None:
    """The page of the GitHub Actions run this command is part of, where its artifacts are listed."""
    server, repo, run = (os.environ.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if os.environ.get("GITHUB_ACTIONS") != "true" or not (server and repo and run):
        return None
    return f"{server}/{repo}/actions/runs/{run}"


def _against_base(results: Any, args: argparse.Namespace, out: TextIO) -> tuple[Any, Any]:
    """``results`` judged against the base branch's baseline; the run's own baseline says what was accepted."""
    import dataclasses

    from .gate.baseline import Baseline, load_baseline
    from .gate.rejudge import judge_results

    base_path: Path = args.base_baseline
    if base_path.exists():
        base = load_baseline(base_path)
    else:
        out.write(f"{base_path}: no baseline on the base branch; every test is new to it\n")
        base = Baseline(path=base_path, exists=True)
    own_path = args.baseline or Path("llm-cost-baseline.json")
    own = load_baseline(own_path) if own_path.exists() else None
    rules = results.rules
    if args.noise_floor is not None:
        rules = dataclasses.replace(rules, noise_floor=args.noise_floor)
    return judge_results(
        results, base, _card(args.prices), rules=rules, label=f"{base_path} (base branch)", own=own or Baseline()
    )


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


def _entries(path: Path) -> tuple[Any, Any]:
    """The per-test usage in a results file or a baseline, as baseline entries (a results file's
    are built when first read), and the results' tests (None for a baseline)."""
    from .files import read_json
    from .gate.baseline import load_baseline
    from .results import entries, load_results

    data = read_json(path, "results or baseline")
    tests = data.get("tests") if isinstance(data, dict) else None
    listed = isinstance(tests, dict) and any(isinstance(t, dict) and "records" in t for t in tests.values())
    if isinstance(data, dict) and ("summary" in data or listed):
        results = load_results(path, data)
        return entries(results), results.tests
    return dict(load_baseline(path).entries), None


#: The most a Markdown diff writes, in bytes: GitHub's step summary takes at most 1 MiB.
MARKDOWN_BYTES = 1_000_000


def _diff(args: argparse.Namespace, out: TextIO) -> int:
    from .gate.compare import DiffRow, diff_entries
    from .pricing import rate_card_label
    from .report.markdown import cell as md_cell
    from .report.markdown import code as md_code
    from .report.markdown import dollars as md_dollars
    from .report.markdown import markdown_table
    from .report.markdown import ratio as md_ratio
    from .report.markdown import signed as md_signed
    from .results import unchanged_prices
    from .usage import short_money

    card = _card(args.prices)
    (base, base_tests), (head, head_tests) = _entries(args.base), _entries(args.head)
    unchanged = None
    if base_tests is not None and head_tests is not None:  # two results files: an unchanged test is priced once

        def unchanged(nodeid: str) -> Any:
            return unchanged_prices(base_tests[nodeid], head_tests[nodeid], card)

    rows = diff_entries(base, head, card, unchanged=unchanged)
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
                md_cell(row.why),
            ]
            for row in [total, *rows]
            if row is total or row.delta_usd or row.base_usd is None or row.head_usd is None
        ]
        lines += markdown_table(["test / step", "base", "head", "Δ", "Δ%", "why"], [], "lrrrrl")
        size = sum(len(line.encode()) + 1 for line in lines)
        for index, cells in enumerate(table):
            line = "| " + " | ".join(cells) + " |"
            if size + len(line.encode()) + 1 > MARKDOWN_BYTES:  # GitHub's step summary takes 1 MiB
                lines += ["", f"…and {len(table) - index:,} more rows: `llm-cost diff --format json` lists them all."]
                break
            lines.append(line)
            size += len(line.encode()) + 1
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
            if row.why:
                out.write(f"{'':<4}why: {row.why}\n")
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


@contextlib.contextmanager
def _acyclic() -> Iterator[None]:
    """A command reads large files into data without cycles, then exits: the cyclic garbage
    collector is paused while it runs, as each of its passes would only walk that data again (over
    half of an ``llm-cost diff``, two thirds of building and rendering a 10,000-test report).
    Memory is still freed as soon as nothing refers to it; a caller's own setting is restored."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _merge(args: argparse.Namespace, out: TextIO) -> int:
    from .results import MergeConflict, merge_results

    try:
        count = merge_results(args.results, args.output)
    except MergeConflict as exc:
        raise CLIError(str(exc)) from None
    out.write(f"{args.output}: {count} tests from {len(args.results)} results files\n")
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
    args.err = err
    try:
        with _acyclic():
            return int(args.run(args, out))
    except CheckFailed as exc:
        err.write(f"llm-cost {args.command}: {exc}\n")
        return EXIT_FAIL
    except (CLIError, FileFormatError, FileWriteError) as exc:
        err.write(f"llm-cost {args.command}: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # pragma: no cover - `llm-cost ... | head`
        return EXIT_OK
