"""Replay needs no credentials: placeholder API keys for a replaying run, and a hint when one is missing.

The SDKs refuse to start without a key, although a replayed call never sends it anywhere. While
a ``--llm-cost`` run replays, each standard credential variable that is unset gets a placeholder
for the session (never while recording: a recording must use the real key, or fail for want
of it). A test that still fails for want of a credential gets one line naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["PLACEHOLDER", "PlaceholderKeys", "credential_hint", "missing_credential"]

PLACEHOLDER = "llm-cost-replay-placeholder"
#: The region a replaying run gives boto3 when none is set (its clients refuse to start without one).
PLACEHOLDER_REGION = "us-east-1"

#: Variables set together when none of them is set: the names one credential goes by.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("OPENAI_API_KEY",),
    ("AZURE_OPENAI_API_KEY",),
    ("ANTHROPIC_API_KEY",),
    ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    ("CO_API_KEY", "COHERE_API_KEY"),
    ("MISTRAL_API_KEY",),
    ("GROQ_API_KEY",),
    ("TOGETHER_API_KEY",),
    ("FIREWORKS_API_KEY",),
    ("DEEPSEEK_API_KEY",),
    ("OPENROUTER_API_KEY",),
    ("XAI_API_KEY",),
    ("PERPLEXITY_API_KEY", "PPLX_API_KEY"),
    ("CEREBRAS_API_KEY",),
)
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
AWS_REGION = ("AWS_DEFAULT_REGION", "AWS_REGION")
#: Where botocore finds credentials or a region besides the variables: a placeholder would shadow them.
AWS_SOURCES = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)

#: Every variable a replaying run may set.
VARIABLES: tuple[str, ...] = (*(name for group in GROUPS for name in group), *AWS_KEYS, AWS_REGION[0])

_NAMED = re.compile(r"\b(" + "|".join(sorted({*VARIABLES, *AWS_REGION}, key=len, reverse=True)) + r")\b")

#: Errors that name no variable, and the variable they want (lowercased message fragments).
_WANTS = (
    ("could not resolve authentication method", "ANTHROPIC_API_KEY"),  # anthropic
    ("missing key inputs argument", "GOOGLE_API_KEY"),  # google-genai
    ("no api key was provided", "GOOGLE_API_KEY"),  # google-genai
    ("unable to locate credentials", "AWS_ACCESS_KEY_ID"),  # botocore
    ("you must specify a region", "AWS_DEFAULT_REGION"),  # botocore
)
#: Provider hosts and the variable their key goes by, for a replayed 401.
_HOST_KEYS = (
    ("api.openai.com", "OPENAI_API_KEY"),
    (".openai.azure.com", "AZURE_OPENAI_API_KEY"),
    ("api.anthropic.com", "ANTHROPIC_API_KEY"),
    ("generativelanguage.googleapis.com", "GOOGLE_API_KEY"),
    ("api.cohere.", "CO_API_KEY"),
    ("api.mistral.ai", "MISTRAL_API_KEY"),
    ("api.groq.com", "GROQ_API_KEY"),
    ("api.together.xyz", "TOGETHER_API_KEY"),
    ("api.fireworks.ai", "FIREWORKS_API_KEY"),
    ("api.deepseek.com", "DEEPSEEK_API_KEY"),
    ("openrouter.ai", "OPENROUTER_API_KEY"),
    ("api.x.ai", "XAI_API_KEY"),
    ("api.perplexity.ai", "PERPLEXITY_API_KEY"),
    ("api.cerebras.ai", "CEREBRAS_API_KEY"),
    (".amazonaws.com", "AWS_ACCESS_KEY_ID"),
)
#: Settings that name where the calls went: part of the recorded URL, so no placeholder can stand in.
URL_SETTINGS = ("AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION")


def _aws_configured(environ: Mapping[str, str], home: Path | None) -> bool:
    if any(environ.get(name) for name in AWS_SOURCES):
        return True
    return home is not None and any((home / ".aws" / name).is_file() for name in ("credentials", "config"))


class PlaceholderKeys:
    """Sets the unset credential variables to a placeholder, and restores the environment as it was."""

    def __init__(self, environ: MutableMapping[str, str] | None = None, home: Path | None = None) -> None:
        self.environ: MutableMapping[str, str] = os.environ if environ is None else environ
        self.home = home
        self.set: tuple[str, ...] = ()
        """The variables this object set (and will remove again)."""

    def _wanted(self) -> Iterator[tuple[str, str]]:
        env = self.environ
        for group in GROUPS:
            if not any(env.get(name) for name in group):
                yield from ((name, PLACEHOLDER) for name in group)
        home = self.home
        if home is None:
            try:
                home = Path.home()
            except RuntimeError:  # no home directory to look in
                home = None
        if _aws_configured(env, home):
            return
        if not any(env.get(name) for name in AWS_KEYS):
            yield from ((name, PLACEHOLDER) for name in AWS_KEYS)
        if not any(env.get(name) for name in AWS_REGION):
            yield AWS_REGION[0], PLACEHOLDER_REGION

    def install(self) -> None:
        if self.set:
            return
        done = []
        for name, value in self._wanted():
            if name not in self.environ:  # set to "" by the user: theirs to keep
                self.environ[name] = value
                done.append(name)
        self.set = tuple(done)

    def uninstall(self) -> None:
        """Remove the placeholders still in place; a variable the session changed meanwhile is left alone."""
        for name in self.set:
            if self.environ.get(name) in (PLACEHOLDER, PLACEHOLDER_REGION):
                del self.environ[name]
        self.set = ()


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _status_401(exc: BaseException) -> bool:
    for name in ("status_code", "code", "status"):
        value = getattr(exc, name, None)
        if value == 401 and not isinstance(value, bool):
            return True
    return False


def _host_of(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if url is None:
        response = getattr(exc, "response", None)
        url = getattr(getattr(response, "request", None), "url", None)
    try:
        return (urlsplit(str(url)).hostname or "") if url is not None else ""
    except ValueError:
        return ""


def missing_credential(exc: BaseException | None) -> tuple[str, bool] | None:
    """The credential variable behind a failure, and whether the failure is a replayed 401; else None."""
    for link in _chain(exc):
        text = str(link)
        lowered = text.lower()
        for name in URL_SETTINGS:
            if re.search(rf"\b{name}\b", text):
                return name, False
        if _status_401(link):
            host = _host_of(link)
            wanted = next((name for fragment, name in _HOST_KEYS if fragment in host), "")
            return wanted, True
        named = _NAMED.search(text)
        if named is not None:
            return named.group(1), False
        for fragment, name in _WANTS:
            if fragment in lowered:
                return name, False
    return None


def credential_hint(
    exc: BaseException | None, *, metering: bool, placeholders: bool, environ: Mapping[str, str] | None = None
) -> str | None:
    """One line for a replaying test that failed for want of a credential, naming the variable and the option.

    ``metering``: the run is a ``--llm-cost`` run; ``placeholders``: its placeholder keys are on.
    """
    found = missing_credential(exc)
    if found is None:
        return None
    name, unauthorized = found
    env = os.environ if environ is None else environ
    if unauthorized:
        key = name or "the provider's API key"
        return (
            f"the cassette replays a 401 Unauthorized: it was recorded without a valid {key}; "
            "record the test again with the real key set (--llm-cost-record-mode=all)"
        )
    if name in URL_SETTINGS:
        return (
            f"{name} is part of the URL the cassette recorded, not a secret: set it where the tests replay "
            "(CI included) to the value used while recording"
        )
    value = env.get(name)
    if value in (PLACEHOLDER, PLACEHOLDER_REGION):
        return (
            f"{name} holds pytest-llmcost's replay placeholder, which this code did not take (a client made "
            "before the session started, or a check of the key's format): set any value for it yourself, "
            "or turn placeholders off with --llm-cost-placeholder-keys=false"
        )
    if value:  # the user's own value: the failure is about something else
        return None
    if not metering:
        return (
            f"{name} is not set: replayed calls never send it, and `pytest --llm-cost` gives unset API key "
            "variables a placeholder while replaying (llm_cost_placeholder_keys); or set any value for it"
        )
    if not placeholders:
        return (
            f"{name} is not set, and placeholder keys are off (--llm-cost-placeholder-keys / "
            "llm_cost_placeholder_keys = false): turn them on, or set any value for it while replaying"
        )
    return (
        f"{name} is not set: set any value for it while replaying (replayed calls never send it); "
        "pytest-llmcost's placeholder keys (llm_cost_placeholder_keys) do not cover it here"
    )
