"""Settings, built once per run: command line over ini file over default.

Every option is ``--llm-cost-*`` with an ``llm_cost_*`` ini twin. Values are validated when
they are parsed; a bad value is an error that quotes it and names where it came from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .gate.allowance import Allowance, parse_allowance

if TYPE_CHECKING:
    from .gate.judge import Rules

__all__ = ["OPTIONS", "Option", "OptionError", "Settings", "parse_choice", "parse_path"]


class OptionError(ValueError):
    """An option's value is invalid; the message names the option and quotes the value."""


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        text = value.strip().lower()
        if text not in choices:
            raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(choices)}")
        return text

    parse.__name__ = "choice"
    return parse


def parse_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not a boolean (use true or false)")


def parse_delta(value: str) -> Allowance:
    try:
        return parse_allowance(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


parse_delta.__name__ = "delta"


def parse_cache_drop_option(value: str) -> Decimal:
    from .gate.allowance import parse_cache_drop

    try:
        return parse_cache_drop(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


parse_cache_drop_option.__name__ = "cache drop"


def parse_usd(value: str) -> Decimal:
    text = value.strip().removeprefix("$").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not an amount of US dollars (e.g. 0.50 or '$0.50')")
    return amount


parse_usd.__name__ = "dollars"


def parse_hosts(value: str) -> tuple[str, ...]:
    """``api.example.com, *.internal``: host names or patterns, comma- or space-separated; ``*`` for any."""
    hosts = tuple(part.strip().lower() for part in value.replace(",", " ").split() if part.strip())
    for host in hosts:
        if any(char in host for char in "/@?#") or host.startswith("-"):
            raise argparse.ArgumentTypeError(f"{host!r} is not a host name or pattern (e.g. 'db.internal, *.corp')")
    return hosts


parse_hosts.__name__ = "hosts"


def parse_path(value: str) -> str:
    """A file path; ``none`` (or an empty value) turns the output off."""
    text = value.strip()
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid path")
    return text


def parse_dirs(value: str) -> tuple[str, ...]:
    """``tests/agents tests/llm``: directories, space- or comma-separated."""
    dirs = tuple(part for part in value.replace(",", " ").split() if part)
    for folder in dirs:
        if "\x00" in folder:
            raise argparse.ArgumentTypeError(f"{folder!r} is not a valid path")
    return dirs


parse_dirs.__name__ = "directories"


def _url_prefix(text: str, example: str) -> str:
    from urllib.parse import urlsplit

    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{text.strip()!r} is not an http(s) URL: {example}")
    return url


def parse_record_host(value: str) -> tuple[tuple[str, str], ...]:
    """``http://127.0.0.1:8089 = https://api.openai.com``: a URL (prefix) used while recording, and the
    provider URL the cassette stores instead."""
    example = "write '<URL used while recording> = <provider URL>' ('http://127.0.0.1:8089 = https://api.openai.com')"
    source, sep, target = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{value.strip()!r} has no '=': {example}")
    return ((_url_prefix(source, example), _url_prefix(target, example)),)


parse_record_host.__name__ = "record host"


def ini_path(text: str) -> str:
    """A path from the ini file, which a team shares across systems: ``reports\\cost.html`` is ``reports/cost.html``."""
    return text.replace("\\", "/")


def parse_runs_per_day(lines: Any) -> tuple[tuple[str, int], ...]:
    """``llm_cost_runs_per_day`` ini lines: ``<test id pattern> = <runs per day>``.

    For example ``tests/test_agent.py::* = 5000``.
    """
    found = []
    for line in lines:
        text = str(line).strip()
        if not text or text.startswith("#"):
            continue
        pattern, sep, count = text.rpartition("=")
        try:
            runs = int(count.strip().replace("_", "").replace(",", ""))
        except ValueError:
            runs = -1
        if not sep or not pattern.strip() or runs < 0:
            raise OptionError(
                f"ini option llm_cost_runs_per_day: {text!r} is not '<test id pattern> = <runs per day>', "
                "e.g. 'tests/test_agent.py::* = 5000'"
            )
        found.append((pattern.strip(), runs))
    return tuple(found)


@dataclass(frozen=True)
class Option:
    flag: str
    ini: str
    help: str
    parse: Callable[[str], Any]
    default: Any
    metavar: str | None = None
    is_flag: bool = False
    choices: tuple[str, ...] | None = None
    multiple: bool = False
    """Repeatable on the command line, one value a line in the ini (``linelist``)."""

    @property
    def dest(self) -> str:
        return self.ini


OPTIONS: tuple[Option, ...] = (
    Option(
        "--llm-cost",
        "llm_cost",
        "meter LLM calls: cost summary, results file, budgets and baseline",
        parse_bool,
        False,
        is_flag=True,
    ),
    Option(
        "--llm-cost-record-mode",
        "llm_cost_record_mode",
        "vcrpy record mode for the llm_cost fixture's cassettes (default: none, never reaches the network)",
        parse_choice("none", "once", "new_episodes", "all"),
        "none",
        metavar="MODE",
        choices=("none", "once", "new_episodes", "all"),
    ),
    Option(
        "--llm-cost-results",
        "llm_cost_results",
        "where --llm-cost writes the per-test results (default: .llm-cost/results.json; 'none' to skip)",
        parse_path,
        ".llm-cost/results.json",
        metavar="PATH",
    ),
    Option(
        "--llm-cost-prices",
        "llm_cost_prices",
        "local price file that adds or overrides model prices and per-request fees (default: llm-cost-prices.yaml)",
        parse_path,
        "llm-cost-prices.yaml",
        metavar="PATH",
    ),
    Option(
        "--llm-cost-unpriced",
        "llm_cost_unpriced",
        "what a call to a model without a price does: fail its test (default) or warn",
        parse_choice("fail", "warn"),
        "fail",
        metavar="fail|warn",
        choices=("fail", "warn"),
    ),
    Option(
        "--llm-cost-baseline",
        "llm_cost_baseline",
        "the committed cost baseline (default: llm-cost-baseline.json at the rootdir)",
        parse_path,
        "llm-cost-baseline.json",
        metavar="PATH",
    ),
    Option(
        "--llm-cost-tolerance",
        "llm_cost_tolerance",
        "how much more than its baseline a test may cost: '5%' (default), '$0.002', '500 tokens', or '5% + $0.001'",
        parse_delta,
        "5%",
        metavar="DELTA",
    ),
    Option(
        "--llm-cost-noise-floor",
        "llm_cost_noise_floor",
        "an increase in dollars below this never fails a test (default: 0.0001)",
        parse_usd,
        "0.0001",
        metavar="USD",
    ),
    Option(
        "--llm-cost-cache-drop",
        "llm_cost_cache_drop",
        "how far the share of input read from a prompt cache may fall below the baseline's before a test "
        "fails: '10%' of input (default), or 'off'",
        parse_cache_drop_option,
        "10%",
        metavar="POINTS",
    ),
    Option(
        "--llm-cost-update",
        "llm_cost_update",
        "accept the current cost: rewrite the baseline entries of the tests that ran",
        parse_bool,
        False,
        is_flag=True,
    ),
    Option(
        "--llm-cost-prune",
        "llm_cost_prune",
        "with --llm-cost-update, also drop baseline entries whose test no longer exists",
        parse_bool,
        False,
        is_flag=True,
    ),
    Option(
        "--llm-cost-strict",
        "llm_cost_strict",
        "fail tests that have LLM calls but no baseline entry",
        parse_bool,
        False,
        is_flag=True,
    ),
    Option(
        "--llm-cost-report",
        "llm_cost_report",
        "where --llm-cost writes the HTML cost report (default: .llm-cost/report.html; 'none' to skip)",
        parse_path,
        ".llm-cost/report.html",
        metavar="PATH",
    ),
    Option(
        "--llm-cost-markdown",
        "llm_cost_markdown",
        "where --llm-cost writes the Markdown summary for a pull request (default: .llm-cost/summary.md; 'none')",
        parse_path,
        ".llm-cost/summary.md",
        metavar="PATH",
    ),
    Option(
        "--llm-cost-allow-hosts",
        "llm_cost_allow_hosts",
        "hosts a replaying --llm-cost run may still connect to besides loopback ('db.internal, *.corp'; '*' for any)",
        parse_hosts,
        "",
        metavar="HOSTS",
    ),
    Option(
        "--llm-cost-max-record-spend",
        "llm_cost_max_record_spend",
        "while recording, stop live LLM calls once the run (all xdist workers) has spent this many dollars",
        parse_usd,
        None,
        metavar="USD",
    ),
    Option(
        "--llm-cost-placeholder-keys",
        "llm_cost_placeholder_keys",
        "while replaying, give the SDKs' unset API key variables (OPENAI_API_KEY, ANTHROPIC_API_KEY...) "
        "a placeholder for the session (default: true)",
        parse_bool,
        "true",
        metavar="true|false",
    ),
    Option(
        "--llm-cost-autouse",
        "llm_cost_autouse",
        "give every test under these directories the llm_cost fixture ('tests/agents tests/llm')",
        parse_dirs,
        (),
        metavar="DIRS",
        multiple=True,
    ),
    Option(
        "--llm-cost-record-host",
        "llm_cost_record_hosts",
        "store requests to a URL used while recording under the provider's URL, and replay them from it "
        "('http://127.0.0.1:8089 = https://api.openai.com'; repeatable)",
        parse_record_host,
        (),
        metavar="URL=URL",
        multiple=True,
    ),
)


@dataclass(frozen=True)
class Settings:
    """Everything the plugin reads from options, resolved once."""

    enabled: bool = False
    record_mode: str = "none"
    results_path: Path | None = None
    prices_path: Path = Path("llm-cost-prices.yaml")
    unpriced: Literal["fail", "warn"] = "fail"
    baseline_path: Path = Path("llm-cost-baseline.json")
    tolerance: Allowance = field(default_factory=lambda: parse_allowance("5%"))
    noise_floor: Decimal = Decimal("0.0001")
    cache_drop: Decimal = Decimal("0.1")
    update: bool = False
    prune: bool = False
    strict: bool = False
    max_record_spend: Decimal | None = None
    allow_hosts: tuple[str, ...] = ()
    """Hosts a replaying run may reach besides loopback (``*``: any, no network block)."""
    report_path: Path | None = None
    markdown_path: Path | None = None
    runs_per_day: tuple[tuple[str, int], ...] = ()
    """``(test id pattern, runs per day)`` from the ``llm_cost_runs_per_day`` ini lines."""
    placeholder_keys: bool = True
    """While replaying under --llm-cost, unset credential variables get a placeholder for the session."""
    autouse: tuple[Path, ...] = ()
    """Directories whose every test takes the ``llm_cost`` fixture."""
    record_hosts: tuple[tuple[str, str], ...] = ()
    """``(URL used while recording, provider URL)`` prefixes, longest first."""

    @property
    def recording(self) -> bool:
        """True when cassettes may reach the real API (and spend money)."""
        return self.record_mode != "none"

    def rules(self) -> Rules:
        """How this run judges, for the gate."""
        from .gate.judge import Rules

        return Rules(
            tolerance=self.tolerance,
            noise_floor=self.noise_floor,
            cache_drop=self.cache_drop,
            strict=self.strict,
            updating=self.update,
            unpriced=self.unpriced,
            prices=str(self.prices_path),
        )

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        """Resolve every option: command line, then ini, then default.

        Relative paths from the command line are relative to the invocation directory;
        from the ini file or the default, to the rootdir.
        """
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        for option in OPTIONS:
            cli = config.getoption(option.dest, None)
            if cli is not None:
                values[option.dest], origins[option.dest] = cli, "cli"
                continue
            ini = config.getini(option.ini)
            if ini not in (None, "", []):
                try:
                    if option.multiple:  # one value a line
                        lines = [ini] if isinstance(ini, str) else ini
                        texts = [str(line).strip() for line in lines]
                        ini = [option.parse(text) for text in texts if text and not text.startswith("#")]
                    values[option.dest] = option.parse(ini) if isinstance(ini, str) else ini
                except argparse.ArgumentTypeError as exc:
                    raise OptionError(f"ini option {option.ini}: {exc}") from None
                origins[option.dest] = "ini"
                continue
            default = option.default
            if isinstance(default, str) and option.parse not in (parse_path,):
                default = option.parse(default)
            values[option.dest], origins[option.dest] = default, "default"

        def resolve(dest: str, value: object = None) -> Path | None:
            text = str(values[dest] if value is None else value)
            if text.lower() in ("", "none"):
                return None
            if origins[dest] != "cli":
                text = ini_path(text)
            path = Path(text).expanduser()
            if path.is_absolute():
                return path
            base = config.invocation_params.dir if origins[dest] == "cli" else config.rootpath
            return Path(base) / path

        autouse = []
        for folder in [name for found in values["llm_cost_autouse"] for name in found]:
            path = resolve("llm_cost_autouse", folder)
            if path is not None and not path.is_dir():
                cli = origins["llm_cost_autouse"] == "cli"
                raise OptionError(
                    f"{'--llm-cost-autouse' if cli else 'ini option llm_cost_autouse'}: {folder!r} is not a directory "
                    f"({path}); name the folders whose tests take the llm_cost fixture, relative to the "
                    f"{'current directory' if cli else 'rootdir'}"
                )
            if path is not None:
                autouse.append(path)
        record_hosts = sorted(
            {pair for found in values["llm_cost_record_hosts"] for pair in found}, key=lambda pair: -len(pair[0])
        )

        prices = resolve("llm_cost_prices")
        baseline = resolve("llm_cost_baseline")
        return cls(
            enabled=bool(values["llm_cost"]),
            record_mode=values["llm_cost_record_mode"],
            results_path=resolve("llm_cost_results"),
            prices_path=prices if prices is not None else Path(config.rootpath) / "llm-cost-prices.yaml",
            unpriced=values["llm_cost_unpriced"],
            baseline_path=baseline if baseline is not None else Path(config.rootpath) / "llm-cost-baseline.json",
            tolerance=values["llm_cost_tolerance"],
            noise_floor=values["llm_cost_noise_floor"],
            cache_drop=values["llm_cost_cache_drop"],
            update=bool(values["llm_cost_update"]),
            prune=bool(values["llm_cost_prune"]),
            strict=bool(values["llm_cost_strict"]),
            max_record_spend=values["llm_cost_max_record_spend"],
            allow_hosts=values["llm_cost_allow_hosts"],
            report_path=resolve("llm_cost_report"),
            markdown_path=resolve("llm_cost_markdown"),
            runs_per_day=parse_runs_per_day(config.getini("llm_cost_runs_per_day") or ()),
            placeholder_keys=bool(values["llm_cost_placeholder_keys"]),
            autouse=tuple(autouse),
            record_hosts=tuple(record_hosts),
        )
