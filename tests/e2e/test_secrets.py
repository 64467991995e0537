"""Secrets never reach a cassette, a report or a log.

Every auth position of every SDK carries a distinctive planted value. The values are built at
runtime, so the repository never holds a key-shaped literal.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import yaml


def _planted(prefix: str, marker: str) -> str:
    return prefix + marker * 3


#: Planted value per position; each contains its marker, which is what the leak check looks for.
MARKERS = {
    "OPENAI_KEY": ("sk-proj-", "PlantedOpenaiKey"),
    "OPENAI_ORG": ("org-", "PlantedOpenaiOrg"),
    "OPENAI_PROJECT": ("proj_", "PlantedOpenaiProject"),
    "AZURE_KEY": ("", "PlantedAzureKey"),
    "AZURE_AD_TOKEN": ("eyJ", "PlantedAzureAdToken"),
    "ANTHROPIC_KEY": ("sk-ant-api03-", "PlantedAnthropicKey"),
    "ANTHROPIC_TOKEN": ("sk-ant-oat01-", "PlantedAnthropicToken"),
    "ANTHROPIC_RAW_KEY": ("sk-ant-api03-", "PlantedAnthropicRawKey"),
    "GEMINI_KEY": ("AIza", "PlantedGeminiSdkKey"),
    "GEMINI_REST_KEY": ("AIza", "PlantedGeminiRestKey"),
    "QUERY_API_KEY": ("", "PlantedQueryApiKey"),
    "COOKIE": ("", "PlantedSessionCookie"),
    "URL_PASSWORD": ("", "PlantedUrlPassword"),
}
PLANTED = {name: _planted(prefix, marker) for name, (prefix, marker) in MARKERS.items()}
#: The same positions after a key rotation.
ROTATED = {name: _planted(prefix, marker.replace("Planted", "Rotated")) for name, (prefix, marker) in MARKERS.items()}

#: What the fake provider answers in its cookie and organisation response headers.
RESPONSE_SECRETS = {
    "set-cookie": ["fake-cf-bm-cookie", "fake-cfuvid-cookie"],
    "openai-organization": ["fake-org-123"],
    "openai-project": ["proj_FAKE123"],
    "anthropic-organization-id": ["00000000-0000-4000-8000-00000000fa6e"],
}
NEEDLES = [
    *(marker for _, marker in MARKERS.values()),
    *(marker.replace("Planted", "Rotated") for _, marker in MARKERS.values()),
    *(value for values in RESPONSE_SECRETS.values() for value in values),
]

KEYS = """
import os

import anthropic
import httpx
import openai
from google import genai
from google.genai import types

URL = os.environ["FAKE_LLM_URL"]
SECRET = {name[len("PLANTED_"):]: value for name, value in os.environ.items() if name.startswith("PLANTED_")}
PROMPT = os.environ.get("PROMPT", "Summarise the quarterly report")
MESSAGES = [{"role": "user", "content": PROMPT}]
AZURE = {"azure_endpoint": URL, "api_version": "2024-12-01-preview", "max_retries": 0}


def test_openai(llm_cost):
    client = openai.OpenAI(
        base_url=URL + "/v1",
        api_key=SECRET["OPENAI_KEY"],
        organization=SECRET["OPENAI_ORG"],
        project=SECRET["OPENAI_PROJECT"],
        max_retries=0,
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)


def test_azure_api_key(llm_cost):
    client = openai.AzureOpenAI(api_key=SECRET["AZURE_KEY"], **AZURE)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)


def test_azure_ad_token(llm_cost):
    client = openai.AzureOpenAI(azure_ad_token=SECRET["AZURE_AD_TOKEN"], **AZURE)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)


def test_anthropic_api_key(llm_cost):
    client = anthropic.Anthropic(base_url=URL, api_key=SECRET["ANTHROPIC_KEY"], max_retries=0)
    client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES)


def test_anthropic_auth_token(llm_cost):
    client = anthropic.Anthropic(base_url=URL, api_key=None, auth_token=SECRET["ANTHROPIC_TOKEN"], max_retries=0)
    client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES)


def test_anthropic_x_api_key_header(llm_cost):
    body = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": MESSAGES}
    headers = {"x-api-key": SECRET["ANTHROPIC_RAW_KEY"], "anthropic-version": "2023-06-01"}
    httpx.post(URL + "/v1/messages", headers=headers, json=body).raise_for_status()


def test_gemini_sdk(llm_cost):
    client = genai.Client(
        api_key=SECRET["GEMINI_KEY"], http_options=types.HttpOptions(base_url=URL + "/", api_version="v1beta")
    )
    client.models.generate_content(
        model="gemini-2.5-flash", contents=PROMPT, config=types.GenerateContentConfig(max_output_tokens=50)
    )


def test_gemini_rest_key_parameter(llm_cost):
    body = {"contents": [{"parts": [{"text": PROMPT}]}], "generationConfig": {"maxOutputTokens": 50}}
    url = URL + "/v1beta/models/gemini-2.5-flash:generateContent?key=" + SECRET["GEMINI_REST_KEY"]
    httpx.post(url, json=body).raise_for_status()


def test_api_key_parameter_and_cookie(llm_cost):
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_completion_tokens": 50}
    httpx.post(
        URL + "/v1/chat/completions",
        params={"api_key": SECRET["QUERY_API_KEY"]},
        headers={"Cookie": "session=" + SECRET["COOKIE"]},
        json=body,
    ).raise_for_status()


def test_password_in_url(llm_cost):
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 50}
    with_password = URL.replace("://", "://alice:" + SECRET["URL_PASSWORD"] + "@")
    httpx.post(with_password + "/v1/chat/completions", json=body).raise_for_status()
"""
TESTS = 10

#: Environment variables the SDKs would read credentials from instead of the planted ones.
SDK_ENVIRONMENT = (
    "OPENAI_API_KEY",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_VERSION",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
)


def _plant(monkeypatch: pytest.MonkeyPatch, secrets: dict[str, str]) -> None:
    for name, value in secrets.items():
        monkeypatch.setenv(f"PLANTED_{name}", value)


@pytest.fixture
def planted(pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The user module written, the SDKs' own credential variables cleared and the secrets planted."""
    for name in SDK_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    _plant(monkeypatch, PLANTED)
    pytester.makepyfile(test_keys=KEYS)
    return fake_llm


def _leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


def _output(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


def _cassettes(pytester: pytest.Pytester) -> dict[str, str]:
    folder = pytester.path / "cassettes" / "test_keys"
    return {path.stem: path.read_text() for path in sorted(folder.glob("*.yaml"))}


def _results_text(pytester: pytest.Pytester) -> str:
    return (pytester.path / ".llm-cost" / "results.json").read_text()


def _assert_nothing_leaked(pytester: pytest.Pytester, result: pytest.RunResult) -> None:
    cassettes = _cassettes(pytester)
    assert len(cassettes) == TESTS
    for name, text in cassettes.items():
        assert _leaks(text) == [], f"secret written to cassette {name}"
    assert _leaks(_results_text(pytester)) == [], "secret written to results.json"
    assert _leaks(_output(result)) == [], "secret printed"


def _received(fake: Any) -> set[tuple[str, str]]:
    """Every (header or ?query parameter, value) the fake provider received."""
    seen: set[tuple[str, str]] = set()
    for request in fake.requests:
        seen |= {(name.lower(), value) for name, value in request.headers}
        seen |= {(f"?{name}", value) for name, values in request.query_params.items() for value in values}
    return seen


def test_every_auth_position_is_stripped_from_cassettes_results_and_output(
    pytester: pytest.Pytester, planted: Any
) -> None:
    result = pytester.runpytest("--llm-cost", "-v", "--llm-cost-record-mode=once")
    result.assert_outcomes(passed=TESTS)

    # Each secret reached the provider where its SDK sends it: the recording saw them all.
    received = _received(planted)
    assert {
        ("authorization", "Bearer " + PLANTED["OPENAI_KEY"]),
        ("openai-organization", PLANTED["OPENAI_ORG"]),
        ("openai-project", PLANTED["OPENAI_PROJECT"]),
        ("api-key", PLANTED["AZURE_KEY"]),
        ("authorization", "Bearer " + PLANTED["AZURE_AD_TOKEN"]),
        ("x-api-key", PLANTED["ANTHROPIC_RAW_KEY"]),
        ("authorization", "Bearer " + PLANTED["ANTHROPIC_TOKEN"]),
        ("x-goog-api-key", PLANTED["GEMINI_KEY"]),
        ("?key", PLANTED["GEMINI_REST_KEY"]),
        ("?api_key", PLANTED["QUERY_API_KEY"]),
        ("cookie", "session=" + PLANTED["COOKIE"]),
        ("authorization", "Basic " + base64.b64encode(f"alice:{PLANTED['URL_PASSWORD']}".encode()).decode()),
    } <= received
    # Anthropic SDKs send api_key as x-api-key, recent ones as a bearer token.
    key = PLANTED["ANTHROPIC_KEY"]
    assert {("x-api-key", key), ("authorization", "Bearer " + key)} & received
    # ...and the provider answers with cookies and organisation ids.
    answered: dict[str, list[str]] = {name: [] for name in RESPONSE_SECRETS}
    for path in ("/v1/chat/completions", "/v1/messages"):
        body = {"model": "gpt-4o-mini", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        headers = httpx.post(planted.url + path, json=body).headers
        for name in answered:
            answered[name] += headers.get_list(name)
    for name, values in RESPONSE_SECRETS.items():
        assert all(any(value in sent for sent in answered[name]) for value in values), name
    assert "results: .llm-cost/results.json" in result.stdout.str()
    assert "llm-cost [-] claude-haiku-4-5-20251001: 7 in (0 cached), 6 out" in result.stdout.str()

    _assert_nothing_leaked(pytester, result)


def _interaction(pytester: pytest.Pytester, test: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (interaction,) = yaml.safe_load(_cassettes(pytester)[test])["interactions"]
    return interaction["request"], interaction["response"]


def _body(message: dict[str, Any]) -> Any:
    body = message["body"]
    return json.loads(body["string"] if isinstance(body, dict) else body)


def _headers(message: dict[str, Any]) -> set[str]:
    return {name.lower() for name in message["headers"]}


def test_token_fields_and_harmless_headers_survive(pytester: pytest.Pytester, planted: Any) -> None:
    """Only secrets are stripped: ``max_tokens``, usage counts, rate limits and ``api-version`` stay as sent."""
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=TESTS)
    # "Summarise the quarterly report": 4 words + 3 per message in; "Answer to: <4 words>" out.
    request, response = _interaction(pytester, "test_openai")
    assert _body(request)["max_tokens"] == 50
    usage = _body(response)["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (7, 6, 13)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    assert {"x-request-id", "openai-version"} <= _headers(response)
    assert {"content-type", "accept"} <= _headers(request)

    request, response = _interaction(pytester, "test_azure_api_key")
    assert request["uri"].endswith("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-12-01-preview")

    request, response = _interaction(pytester, "test_anthropic_auth_token")
    assert _body(request)["max_tokens"] == 50
    usage = _body(response)["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_input_tokens"]) == (7, 6, 0)
    assert {"request-id", "anthropic-ratelimit-requests-limit"} <= _headers(response)
    assert "anthropic-version" in _headers(request)

    for test in ("test_gemini_sdk", "test_gemini_rest_key_parameter"):
        request, response = _interaction(pytester, test)
        assert request["uri"].endswith("/v1beta/models/gemini-2.5-flash:generateContent"), test
        assert _body(request)["generationConfig"]["maxOutputTokens"] == 50
        usage = _body(response)["usageMetadata"]
        assert (usage["promptTokenCount"], usage["candidatesTokenCount"], usage["totalTokenCount"]) == (7, 6, 13)

    request, _ = _interaction(pytester, "test_api_key_parameter_and_cookie")
    assert _body(request)["max_completion_tokens"] == 50
    assert request["uri"] == planted.url + "/v1/chat/completions"
    request, _ = _interaction(pytester, "test_password_in_url")
    assert request["uri"] == planted.url + "/v1/chat/completions"


def test_replay_with_rotated_secrets_prints_and_writes_none(
    pytester: pytest.Pytester, planted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets are not part of the match: after a key rotation the cassettes still replay, silently."""
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=TESTS)
    recorded = len(planted.requests)
    _plant(monkeypatch, ROTATED)
    result = pytester.runpytest("--llm-cost", "-v")
    result.assert_outcomes(passed=TESTS)
    assert len(planted.requests) == recorded
    assert result.stdout.str().count("llm-cost [-] ") == TESTS
    _assert_nothing_leaked(pytester, result)


def test_cassette_miss_output_holds_no_secret(
    pytester: pytest.Pytester, planted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed prompt fails every test with the request it made, its secrets left out."""
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=TESTS)
    monkeypatch.setenv("PROMPT", "Summarise the yearly report")
    result = pytester.runpytest("--llm-cost", "-v", "-rA")
    result.assert_outcomes(failed=TESTS)
    # The failure sections only: under CI=true pytest also repeats whole messages in the
    # short test summary.
    lines = result.outlines
    lines = lines[: next(i for i, line in enumerate(lines) if "short test summary info" in line)]
    assert sum(line.startswith("LLM request not found in cassette") for line in lines) == TESTS
    changed = 'recorded "Summarise the quarterly report", now "Summarise the yearly report"'
    assert sum(line.startswith("  body ") and line.endswith(changed) for line in lines) == TESTS
    result.stdout.fnmatch_lines(
        [
            "*LLM request not found in cassette cassettes/test_keys/test_gemini_rest_key_parameter.yaml*",
            "  POST http://127.0.0.1:*/v1beta/models/gemini-2.5-flash:generateContent",
        ]
    )
    _assert_nothing_leaked(pytester, result)


@pytest.mark.parametrize("mode", ["new_episodes", "all"])
def test_recording_again_strips_secrets_too(
    pytester: pytest.Pytester, planted: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=TESTS)
    monkeypatch.setenv("PROMPT", "Summarise the yearly report")
    _plant(monkeypatch, ROTATED)
    result = pytester.runpytest("--llm-cost", "-v", f"--llm-cost-record-mode={mode}")
    result.assert_outcomes(passed=TESTS)
    assert len(planted.requests) == 2 * TESTS
    for name, text in _cassettes(pytester).items():
        assert "Summarise the yearly report" in text, f"{name} was not recorded again"
    _assert_nothing_leaked(pytester, result)


MARKED = """
import os

import openai
import pytest


@pytest.mark.vcr
def test_marked(llm_cost):
    client = openai.OpenAI(
        base_url=os.environ["FAKE_LLM_URL"] + "/v1", api_key=os.environ["PLANTED_OPENAI_KEY"], max_retries=0
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Plan the research"}])
"""


class SecretLeaked(AssertionError):
    """A planted secret was found where it must not be."""


def test_cassette_of_a_vcr_marked_test_is_stripped_too(pytester: pytest.Pytester, planted: Any) -> None:
    pytester.makepyfile(test_marked=MARKED)
    pytester.runpytest("test_marked.py", "--llm-cost", "--record-mode=once").assert_outcomes(passed=1)
    assert ("authorization", "Bearer " + PLANTED["OPENAI_KEY"]) in _received(planted)
    text = (pytester.path / "cassettes" / "test_marked" / "test_marked.yaml").read_text()
    assert "Plan the research" in text
    if _leaks(text):
        raise SecretLeaked(f"secrets in the pytest-recording cassette: {_leaks(text)}")


def test_debug_logs_of_a_failing_run_hold_no_secret(
    pytester: pytest.Pytester, planted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vcrpy and httpx log every URL at debug level; pytest shows those logs for a failing test."""
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=TESTS)
    monkeypatch.setenv("PROMPT", "Summarise the yearly report")
    result = pytester.runpytest("--llm-cost", "--log-level=DEBUG", "-rA")
    result.assert_outcomes(failed=TESTS)
    assert "Captured log call" in result.stdout.str()
    assert "generateContent" in result.stdout.str()
    _assert_nothing_leaked(pytester, result)


# -- every other position: vendor headers, query parameters, bodies, AWS answers, errors, logs --

#: Planted value per position: (prefix, marker, repeat). AWS key ids are exactly "ASIA"/"AKIA" + 16.
POSITIONS = {
    "XI_API_KEY": ("", "PlantedElevenLabsKey", 3),
    "SUBSCRIPTION_TOKEN": ("", "PlantedBraveToken", 3),
    "HELICONE_AUTH": ("sk-helicone-", "PlantedHeliconeKey", 3),
    "CF_AIG_AUTHORIZATION": ("", "PlantedCloudflareGateway", 3),
    "PORTKEY_API_KEY": ("", "PlantedPortkeyKey", 3),
    "FORWARDED_OPENAI_KEY": ("", "PlantedForwardedOpenai", 3),
    "RAPIDAPI_KEY": ("", "PlantedRapidApiKey", 3),
    "X_APIKEY": ("", "PlantedXApikey", 3),
    "GOOG_IAM_TOKEN": ("", "PlantedGoogIamToken", 3),
    "Q_ACCESS_KEY": ("", "PlantedQueryAccessKey", 3),
    "Q_API_TOKEN": ("", "PlantedQueryApiToken", 3),
    "Q_SUBSCRIPTION_KEY": ("", "PlantedQuerySubscriptionKey", 3),
    "Q_REFRESH_TOKEN": ("", "PlantedQueryRefreshToken", 3),
    "Q_ID_TOKEN": ("", "PlantedQueryIdToken", 3),
    "Q_GOOG_SIGNATURE": ("", "PlantedQueryGoogSignature", 3),
    "Q_GOOG_CREDENTIAL": ("", "PlantedQueryGoogCredential", 3),
    "BODY_API_KEY": ("", "PlantedBodyApiKey", 3),
    "BODY_PASSWORD": ("", "PlantedBodyPassword", 3),
    "BODY_CLIENT_SECRET": ("", "PlantedBodyClientSecret", 3),
    "BODY_REFRESH_TOKEN": ("", "PlantedBodyRefreshToken", 3),
    "SEARCH_KEY": ("tvly-", "PlantedTavilyKey", 3),
    "FORM_PASSWORD": ("", "PlantedFormPassword", 3),
    "FORM_API_TOKEN": ("", "PlantedFormApiToken", 3),
    "SSO_BEARER_TOKEN": ("", "PlantedSsoBearerToken", 3),
    "SIGV4_KEY_ID": ("AKIA", "PLANTEDSIGVKEY01", 1),
    "SIGV4_SESSION_TOKEN": ("", "PlantedSigv4SessionToken", 3),
    "ECHOED_GOOGLE_KEY": ("AIza", "PlantedEchoedGoogleKey", 3),
    "ECHOED_HEADER_KEY": ("", "PlantedEchoedHeaderKey", 3),
    "ECHOED_BEARER": ("sk-proj-", "PlantedEchoedBearer", 3),
    "REQUESTS_GEMINI_KEY": ("AIza", "PlantedRequestsGeminiKey", 3),
}
#: The temporary AWS credentials the fake STS and SSO endpoints answer with.
AWS_ANSWER = {
    "access_key_id": ("ASIA", "PLANTEDAWSKEYID1", 1),
    "secret_access_key": ("", "PlantedAwsSecretAccessKey", 2),
    "session_token": ("FwoGZXIvYXdz", "PlantedAwsSessionToken", 4),
}
SIGNATURE = "5eed" * 16  # a SigV4 signature: 64 hex digits


def _value(prefix: str, marker: str, repeat: int, rotated: bool = False) -> str:
    if rotated:
        marker = marker.replace("Planted", "Rotated").replace("PLANTED", "ROTATED")
    return prefix + marker * repeat


POSITION_VALUES = {name: _value(*spec) for name, spec in POSITIONS.items()}
POSITION_ROTATED = {name: _value(*spec, rotated=True) for name, spec in POSITIONS.items()}
POSITION_NEEDLES = [
    *(marker for _, marker, _ in [*POSITIONS.values(), *AWS_ANSWER.values()]),
    *(_value("", marker, 1, rotated=True) for _, marker, _ in POSITIONS.values()),
    SIGNATURE,
    *(value for values in RESPONSE_SECRETS.values() for value in values),
]

POSITIONS_MODULE = """
import logging
import os

import httpx
import requests

URL = os.environ["FAKE_LLM_URL"]
SECRET = {name[len("PLANTED_"):]: value for name, value in os.environ.items() if name.startswith("PLANTED_")}
PROMPT = os.environ.get("PROMPT", "Find the quarterly report")
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 50}
SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=" + SECRET["SIGV4_KEY_ID"] + "/20250101/us-east-1/sts/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=" + os.environ["SIGNATURE"]
)


def test_vendor_headers(llm_cost):
    headers = {
        "xi-api-key": SECRET["XI_API_KEY"],
        "X-Subscription-Token": SECRET["SUBSCRIPTION_TOKEN"],
        "Helicone-Auth": "Bearer " + SECRET["HELICONE_AUTH"],
        "cf-aig-authorization": "Bearer " + SECRET["CF_AIG_AUTHORIZATION"],
        "x-portkey-api-key": SECRET["PORTKEY_API_KEY"],
        "X-OpenAI-Api-Key": SECRET["FORWARDED_OPENAI_KEY"],
        "X-RapidAPI-Key": SECRET["RAPIDAPI_KEY"],
        "x-apikey": SECRET["X_APIKEY"],
        "X-Goog-Iam-Authorization-Token": SECRET["GOOG_IAM_TOKEN"],
    }
    httpx.post(URL + "/v1/chat/completions", headers=headers, json=CHAT).raise_for_status()


def test_query_parameters(llm_cost):
    params = {
        "access_key": SECRET["Q_ACCESS_KEY"],
        "api_token": SECRET["Q_API_TOKEN"],
        "subscription-key": SECRET["Q_SUBSCRIPTION_KEY"],
        "refresh_token": SECRET["Q_REFRESH_TOKEN"],
        "id_token": SECRET["Q_ID_TOKEN"],
        "X-Goog-Signature": SECRET["Q_GOOG_SIGNATURE"],
        "X-Goog-Credential": SECRET["Q_GOOG_CREDENTIAL"],
        "api-version": "2024-10-21",
    }
    httpx.post(URL + "/v1/chat/completions", params=params, json=CHAT).raise_for_status()


def test_json_body_fields(llm_cost):
    proxied = {
        **CHAT,
        "api_key": SECRET["BODY_API_KEY"],
        "metadata": {"auth": {"password": SECRET["BODY_PASSWORD"], "client_secret": SECRET["BODY_CLIENT_SECRET"]}},
        "fallbacks": [{"model": "gpt-4o", "refresh_token": SECRET["BODY_REFRESH_TOKEN"]}],
    }
    httpx.post(URL + "/v1/chat/completions", json=proxied).raise_for_status()
    search = {"query": PROMPT, "api_key": SECRET["SEARCH_KEY"], "max_results": 3}
    assert len(httpx.post(URL + "/search", json=search).json()["results"]) == 3


def test_form_body(llm_cost):
    form = {"username": "alice", "password": SECRET["FORM_PASSWORD"], "api_token": SECRET["FORM_API_TOKEN"]}
    assert httpx.post(URL + "/echo", data={**form, "q": PROMPT}).status_code == 401


def test_sts_assume_role(llm_cost):
    form = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": "arn:aws:iam::123456789012:role/r"}
    headers = {"Authorization": SIGV4, "X-Amz-Security-Token": SECRET["SIGV4_SESSION_TOKEN"]}
    response = httpx.post(URL + "/sts", data={**form, "RoleSessionName": "s"}, headers=headers)
    assert "<SessionToken>" in response.text and "<Arn>arn:aws:sts::123456789012" in response.text


def test_sso_role_credentials(llm_cost):
    response = httpx.get(
        URL + "/federation/credentials",
        params={"role_name": "r", "account_id": "123456789012"},
        headers={"x-amz-sso_bearer_token": SECRET["SSO_BEARER_TOKEN"]},
    )
    assert set(response.json()["roleCredentials"]) == {"accessKeyId", "secretAccessKey", "sessionToken", "expiration"}


def test_error_bodies_echo_the_url_and_headers(llm_cost):
    headers = {"x-goog-api-key": SECRET["ECHOED_HEADER_KEY"], "X-Forwarded-Auth": "Bearer " + SECRET["ECHOED_BEARER"]}
    response = httpx.post(URL + "/echo", params={"key": SECRET["ECHOED_GOOGLE_KEY"]}, headers=headers, json=CHAT)
    assert "Invalid credentials for POST" in response.json()["error"]["message"]
    params = {"format": "text", "key": SECRET["ECHOED_GOOGLE_KEY"]}
    response = requests.get(URL + "/echo", params=params, headers=headers)
    assert response.text.startswith("Unauthorized: GET")


def test_urllib3_and_botocore_debug_logs(llm_cost):
    body = {"contents": [{"parts": [{"text": PROMPT}]}], "generationConfig": {"maxOutputTokens": 50}}
    url = URL + "/v1beta/models/gemini-2.5-flash:generateContent"
    requests.post(url, params={"key": SECRET["REQUESTS_GEMINI_KEY"]}, json=body).raise_for_status()
    # What botocore logs at DEBUG when it signs a request (boto3 is not installed here).
    headers = {"X-Amz-Security-Token": SECRET["SIGV4_SESSION_TOKEN"].encode(), "Authorization": SIGV4.encode()}
    logging.getLogger("botocore.endpoint").debug(
        "Sending http request: <AWSPreparedRequest stream_output=False, method=POST, url=%s/sts, headers=%s>",
        URL,
        headers,
    )
    logging.getLogger("botocore.auth").debug("Signature:\\n%s", os.environ["SIGNATURE"])
"""
POSITION_TESTS = 8
DEBUG_LOGS = ("--log-level=DEBUG", "-o", "log_cli=true", "-o", "log_cli_level=DEBUG")


@pytest.fixture
def positions(pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The positions module written, its secrets planted, the fake answering with planted AWS credentials."""
    for name in SDK_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    _plant(monkeypatch, POSITION_VALUES)
    monkeypatch.setenv("SIGNATURE", SIGNATURE)
    fake_llm.aws_credentials = {name: _value(*spec) for name, spec in AWS_ANSWER.items()}
    pytester.makepyfile(test_positions=POSITIONS_MODULE)
    return fake_llm


def _position_leaks(pytester: pytest.Pytester, result: pytest.RunResult) -> dict[str, list[str]]:
    """Every planted value found in a cassette, a file the run wrote, or its output."""
    texts = {"output": _output(result)}
    texts |= {f"cassette {path.name}": path.read_text() for path in (pytester.path / "cassettes").rglob("*.yaml")}
    texts |= {
        f"file {path.name}": path.read_text() for path in (pytester.path / ".llm-cost").glob("*") if path.is_file()
    }
    found = {where: [needle for needle in POSITION_NEEDLES if needle in text] for where, text in texts.items()}
    return {where: needles for where, needles in found.items() if needles}


def test_every_other_position_is_stripped_from_cassettes_files_and_debug_logs(
    pytester: pytest.Pytester, positions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vendor headers, query parameters, JSON and form bodies, STS and SSO answers, echoing errors, logs."""
    result = pytester.runpytest("--llm-cost", "-v", "--llm-cost-record-mode=once", *DEBUG_LOGS)
    result.assert_outcomes(passed=POSITION_TESTS)

    # Every planted value reached the fake provider, so the recording saw each of them...
    sent = "\n".join(
        f"{request.path}?{request.query}\n{request.headers}\n{request.body.decode()}" for request in positions.requests
    )
    assert [name for name, value in POSITION_VALUES.items() if value not in sent] == []
    # ...and the logs that could print them were on.
    output = _output(result)
    for logger in ("vcr.cassette", "urllib3.connectionpool", "httpx", "botocore.endpoint", "botocore.auth"):
        assert f"{logger}:" in output, logger
    assert "Appending request" in output
    files = {path.name for path in (pytester.path / ".llm-cost").glob("*")}
    assert {"results.json", "report.html", "summary.md"} <= files
    assert _position_leaks(pytester, result) == {}

    # Replay needs none of the secrets: rotated, every request still matches.
    recorded = len(positions.requests)
    _plant(monkeypatch, POSITION_ROTATED)
    result = pytester.runpytest("--llm-cost", "-v", *DEBUG_LOGS)
    result.assert_outcomes(passed=POSITION_TESTS)
    assert len(positions.requests) == recorded
    assert _position_leaks(pytester, result) == {}


def test_the_miss_explanation_of_a_changed_body_prints_neither_key(
    pytester: pytest.Pytester, positions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new prompt and a rotated key: the failure shows the prompt's change and no key, old or new."""
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=POSITION_TESTS)
    _plant(monkeypatch, POSITION_ROTATED)
    monkeypatch.setenv("PROMPT", "Find the yearly report")
    result = pytester.runpytest("--llm-cost", "-rA", "--log-level=DEBUG", "test_positions.py::test_json_body_fields")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*LLM request not found in cassette cassettes/test_positions/test_json_body_fields.yaml*",
            '  body messages[0].content: recorded "Find the quarterly report", now "Find the yearly report"',
        ]
    )
    assert "api_key" not in result.stdout.str()
    assert _position_leaks(pytester, result) == {}


USER_NAMES = """
import os

import httpx
import pytest


@pytest.fixture
def llm_cost_vcr_config():
    return {"llm_cost_secret_names": ["tenant_handle"], "llm_cost_secret_patterns": [r"acct-[0-9]{6}"]}


def test_own_secrets(llm_cost):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "account": "acct-314159"}
    headers = {"X-Tenant-Handle": os.environ["TENANT"]}
    url = os.environ["FAKE_LLM_URL"] + "/v1/chat/completions"
    httpx.post(url, json=body, headers=headers, timeout=10).raise_for_status()
"""


def test_a_user_adds_names_and_patterns(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names and patterns from ``llm_cost_vcr_config`` are redacted like the built-in ones; replay still matches."""
    pytester.makepyfile(test_own=USER_NAMES)
    monkeypatch.setenv("TENANT", "tenant-marker-271828")
    pytester.runpytest("--llm-cost-record-mode=once").assert_outcomes(passed=1)
    assert fake_llm.requests[0].header("x-tenant-handle") == "tenant-marker-271828"
    (cassette,) = (pytester.path / "cassettes").rglob("*.yaml")
    text = cassette.read_text()
    assert "tenant-marker-271828" not in text
    assert "acct-314159" not in text
    monkeypatch.setenv("TENANT", "another-tenant")
    pytester.runpytest("--llm-cost").assert_outcomes(passed=1)
