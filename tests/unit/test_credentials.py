"""Placeholder API keys for a replaying run, and the one-line hint for a missing credential."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pytest_llmcost.capture.credentials import (
    PLACEHOLDER,
    PLACEHOLDER_REGION,
    PlaceholderKeys,
    credential_hint,
    missing_credential,
)


def test_unset_variables_get_a_placeholder_and_lose_it_again(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": "mine", "GEMINI_API_KEY": "theirs", "MISTRAL_API_KEY": ""}
    keys = PlaceholderKeys(env, home=tmp_path)
    keys.install()
    assert env["OPENAI_API_KEY"] == "mine"
    assert "GOOGLE_API_KEY" not in env, "one name of a credential set: its other names stay unset"
    assert env["MISTRAL_API_KEY"] == "", "set to empty by the user: theirs"
    assert env["ANTHROPIC_API_KEY"] == env["CO_API_KEY"] == env["COHERE_API_KEY"] == PLACEHOLDER
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == PLACEHOLDER
    assert env["AWS_DEFAULT_REGION"] == PLACEHOLDER_REGION
    env["ANTHROPIC_API_KEY"] = "changed during the session"
    keys.uninstall()
    assert env == {
        "OPENAI_API_KEY": "mine",
        "GEMINI_API_KEY": "theirs",
        "MISTRAL_API_KEY": "",
        "ANTHROPIC_API_KEY": "changed during the session",
    }


@pytest.mark.parametrize("source", ["AWS_PROFILE", "file"])
def test_an_aws_profile_is_never_shadowed(tmp_path: Path, source: str) -> None:
    env = {"AWS_PROFILE": "dev"} if source == "AWS_PROFILE" else {}
    if source == "file":
        (tmp_path / ".aws").mkdir()
        (tmp_path / ".aws" / "credentials").write_text("[default]\n")
    PlaceholderKeys(env, home=tmp_path).install()
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} & set(env)
    assert env["OPENAI_API_KEY"] == PLACEHOLDER


def _sdk_errors() -> list[tuple[str, BaseException]]:
    import anthropic
    import openai
    from google import genai

    errors: list[tuple[str, BaseException]] = []
    env_free = {"api_key": None}
    for name, make in (
        ("OPENAI_API_KEY", lambda: openai.OpenAI(**env_free)),
        ("AZURE_OPENAI_API_KEY", lambda: openai.AzureOpenAI(api_version="2024-10-21", azure_endpoint="https://x")),
        ("AZURE_OPENAI_ENDPOINT", lambda: openai.AzureOpenAI(api_version="2024-10-21", api_key="k")),
        ("GOOGLE_API_KEY", lambda: genai.Client()),
    ):
        try:
            make()
        except Exception as exc:
            errors.append((name, exc))
    client = anthropic.Anthropic(api_key=None, base_url="http://127.0.0.1:9")
    try:
        client.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}])
    except Exception as exc:
        errors.append(("ANTHROPIC_API_KEY", exc))
    return errors


def test_each_sdk_error_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDKs' own errors for a missing key (or endpoint) name the variable the hint names."""
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    errors = _sdk_errors()
    assert [name for name, _ in errors] == [
        "OPENAI_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "GOOGLE_API_KEY",
        "ANTHROPIC_API_KEY",
    ]
    for name, exc in errors:
        assert missing_credential(exc) == (name, False), exc
        hint = credential_hint(exc, metering=True, placeholders=False, environ={})
        assert hint is not None
        assert hint.startswith(name)
        assert "\n" not in hint


def test_hints_say_what_to_do_in_each_case() -> None:
    error = RuntimeError("set the OPENAI_API_KEY environment variable")
    assert credential_hint(error, metering=True, placeholders=True, environ={"OPENAI_API_KEY": "mine"}) is None
    off = credential_hint(error, metering=True, placeholders=False, environ={})
    assert off is not None
    assert "--llm-cost-placeholder-keys" in off
    plain = credential_hint(error, metering=False, placeholders=True, environ={})
    assert plain is not None
    assert "`pytest --llm-cost`" in plain
    early = credential_hint(error, metering=True, placeholders=True, environ={"OPENAI_API_KEY": PLACEHOLDER})
    assert early is not None
    assert "placeholder" in early
    assert credential_hint(ValueError("no key here"), metering=True, placeholders=True, environ={}) is None


def test_a_replayed_401_names_the_key_of_its_host() -> None:
    import openai

    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = httpx.Response(401, request=request, json={"error": {"message": "Incorrect API key provided"}})
    error = openai.AuthenticationError("Error code: 401", response=response, body=None)
    assert missing_credential(error) == ("OPENAI_API_KEY", True)
    hint = credential_hint(error, metering=True, placeholders=True, environ={})
    assert hint is not None
    assert hint.startswith("the cassette replays a 401 Unauthorized")
    assert "OPENAI_API_KEY" in hint
