"""The secret scrubber: credential names in every position, key-shaped values anywhere, and the
usage and rate-limit fields the meter reads left alone.

Key-shaped values are built at runtime, so the repository never holds one as a literal.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from vcr.request import Request

from pytest_llmcost.capture.recording import (
    CassetteMiss,
    install_log_filter,
    json_differences,
    scrub_request,
    scrub_response,
)
from pytest_llmcost.capture.secrets import REDACTED, looks_secret, name_words, scrub_text, scrubber

S = scrubber()


def _fill(prefix: str, length: int, alphabet: str = "Planted0") -> str:
    return prefix + (alphabet * length)[:length]


#: One value per provider key shape, as the provider issues it.
KEY_SHAPES = {
    "openai": _fill("sk-proj-", 40),
    "anthropic": _fill("sk-ant-api03-", 40),
    "google": _fill("AIza", 35),
    "google-oauth": _fill("ya29.", 40),
    "aws": _fill("AKIA", 16, "PLANTED7"),
    "aws-temporary": _fill("ASIA", 16, "PLANTED7"),
    "groq": _fill("gsk_", 40),
    "xai": _fill("xai-", 40),
    "huggingface": _fill("hf_", 34),
    "replicate": _fill("r8_", 37),
    "github": _fill("ghp_", 36),
    "jwt": _fill("eyJ", 20) + "." + _fill("eyJ", 30) + "." + _fill("", 20),
}

#: Headers outside the old list that carry credentials (the issue's list).
VENDOR_HEADERS = [
    "xi-api-key",
    "X-Subscription-Token",
    "Helicone-Auth",
    "cf-aig-authorization",
    "x-portkey-api-key",
    "X-OpenAI-Api-Key",
    "X-RapidAPI-Key",
    "x-apikey",
    "X-Goog-Iam-Authorization-Token",
    "x-amz-sso_bearer_token",
]
SECRET_PARAMETERS = [
    "access_key",
    "api_token",
    "subscription-key",
    "refresh_token",
    "id_token",
    "X-Goog-Signature",
    "X-Goog-Credential",
]
#: Names the meter or the caller needs, whatever word they contain.
NOT_SECRETS = [
    "max_tokens",
    "max_completion_tokens",
    "maxOutputTokens",
    "input_tokens",
    "cache_read_input_tokens",
    "prompt_tokens",
    "totalTokenCount",
    "promptTokenCount",
    "cachedContentTokenCount",
    "token_count",
    "token_type",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-limit-tokens",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-input-tokens-reset",
    "api-version",
    "anthropic-version",
    "x-goog-api-client",
    "content-type",
    "x-request-id",
    "session_id",
    "prompt_cache_key",
    "Idempotency-Key",
    "pageToken",
    "next_page_token",
    "NextToken",
    "eos_token",
    "thought_signature",
    "signature",
]


def _request(body: object = b"", uri: str = "https://api.example.com/v1/chat", **headers: str) -> Request:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body).encode()
    return Request("POST", uri, raw, headers)


def _response(body: bytes, headers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"status": {"code": 200, "message": "OK"}, "headers": headers or {}, "body": {"string": body}}


# -- names -----------------------------------------------------------------------------------


def test_names_split_into_words_whatever_the_case_and_separators() -> None:
    assert name_words("X-RapidAPI-Key") == ("x", "rapid", "api", "key")
    assert name_words("x-amz-sso_bearer_token") == ("x", "amz", "sso", "bearer", "token")
    assert name_words("SecretAccessKey") == ("secret", "access", "key")
    assert name_words("totalTokenCount") == ("total", "token", "count")
    assert name_words("APIKey") == ("api", "key")


@pytest.mark.parametrize("name", VENDOR_HEADERS)
def test_vendor_credential_headers_are_secret(name: str) -> None:
    assert S.is_secret_header(name)
    assert S.is_secret_header(name.upper())


@pytest.mark.parametrize("name", ["Authorization", "api-key", "Cookie", "Set-Cookie", "OpenAI-Organization"])
def test_standard_credential_headers_stay_secret(name: str) -> None:
    assert S.is_secret_header(name)


@pytest.mark.parametrize("name", ["apiKey", "API_KEY", "api-key", "ApiKey", "x.api.key", "clientSecret", "PASSWORD"])
def test_a_credential_name_in_any_spelling_is_secret(name: str) -> None:
    assert S.is_secret_field(name, "x")


@pytest.mark.parametrize("name", NOT_SECRETS)
def test_usage_and_rate_limit_names_are_not_secret(name: str) -> None:
    assert not S.is_secret_header(name)
    assert not S.is_secret_field(name, _fill("", 40))


def test_a_bare_key_or_token_field_is_redacted_only_when_it_looks_like_a_secret() -> None:
    """OpenAI's logprobs have ``"token": "Hello"``; a bare ``token`` holding a credential is redacted."""
    assert not S.is_secret_field("token", " Hello")
    assert not S.is_secret_field("key", "user_id")
    assert S.is_secret_field("token", _fill("", 32))
    assert S.is_secret_parameter("token")
    assert S.is_secret_header("key")
    assert looks_secret(_fill("", 20))
    assert not looks_secret("authentication-required")


# -- positions -------------------------------------------------------------------------------


def test_scrub_request_drops_vendor_headers_and_keeps_the_others() -> None:
    headers = {name: _fill("", 24) for name in VENDOR_HEADERS}
    headers |= {"content-type": "application/json", "anthropic-version": "2023-06-01", "Idempotency-Key": "abc"}
    clean = scrub_request(_request({"max_tokens": 5}, **headers))
    assert sorted(clean.headers) == ["Idempotency-Key", "anthropic-version", "content-type"]


def test_secret_query_parameters_are_dropped_and_the_others_kept_as_written() -> None:
    query = "&".join(f"{name}={_fill('', 20)}" for name in SECRET_PARAMETERS)
    url = f"https://storage.googleapis.com/b/o?alt=sse&{query}&pageToken=p%2F1&api-version=2024-10-21"
    assert S.url(url) == "https://storage.googleapis.com/b/o?alt=sse&pageToken=p%2F1&api-version=2024-10-21"
    assert scrub_request(_request(uri=url)).uri == S.url(url)


def test_json_fields_are_redacted_at_any_depth() -> None:
    """Search APIs and LiteLLM put keys in the body: top level, nested, in lists."""
    secret = _fill("", 24)
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 50,
        "api_key": secret,
        "messages": [{"role": "user", "content": "password reset"}],
        "metadata": {"auth": {"password": secret, "client_secret": secret, "user": "alice"}},
        "tools": [{"config": {"refresh_token": secret, "timeout": 5}}],
        "litellm_params": {"apiKey": secret, "aws_secret_access_key": secret, "aws_access_key_id": secret},
    }
    clean = json.loads(scrub_request(_request(body)).body)
    assert secret not in json.dumps(clean)
    assert clean["api_key"] == clean["metadata"]["auth"]["password"] == REDACTED
    assert clean["tools"][0]["config"] == {"refresh_token": REDACTED, "timeout": 5}
    assert clean["litellm_params"] == dict.fromkeys(body["litellm_params"], REDACTED)  # type: ignore[arg-type]
    assert (clean["model"], clean["max_tokens"], clean["messages"]) == ("gpt-4o-mini", 50, body["messages"])
    assert clean["metadata"]["auth"]["user"] == "alice"


def test_form_bodies_are_redacted_pair_by_pair_without_re_encoding() -> None:
    form = b"user=alice%40example.com&password=hunter2&api_token=t1&scope=a+b&grant_type=password"
    clean = b"user=alice%40example.com&password=REDACTED&api_token=REDACTED&scope=a+b&grant_type=password"
    assert S.body(form) == clean


def test_sts_assume_role_xml_is_redacted_whole() -> None:
    access, secret, token = _fill("ASIA", 16, "PLANTED7"), _fill("", 40), _fill("FwoG", 200)
    xml = (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        "  <AssumeRoleResult>\n"
        "    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser>\n"
        f"    <Credentials>\n      <AccessKeyId>{access}</AccessKeyId>\n"
        f"      <SecretAccessKey>{secret}</SecretAccessKey>\n      <SessionToken>{token}</SessionToken>\n"
        "      <Expiration>2025-01-01T01:00:00Z</Expiration>\n    </Credentials>\n"
        "  </AssumeRoleResult>\n</AssumeRoleResponse>\n"
    ).encode()
    response = scrub_response(_response(xml, {"content-type": ["text/xml"], "Content-Length": [str(len(xml))]}))
    clean = response["body"]["string"]
    assert isinstance(clean, bytes)
    assert response["headers"]["Content-Length"] == [str(len(clean))]
    assert all(value.encode() not in clean for value in (access, secret, token))
    assert b"<SecretAccessKey>REDACTED</SecretAccessKey>" in clean
    assert b"<Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>" in clean


def test_sso_role_credentials_and_bearer_header_are_redacted() -> None:
    credentials = {"accessKeyId": _fill("ASIA", 16, "PLANTED7"), "secretAccessKey": "s" * 40, "sessionToken": "t" * 80}
    body = json.dumps({"roleCredentials": {**credentials, "expiration": 1735693200000}}).encode()
    clean = json.loads(scrub_response(_response(body))["body"]["string"])
    assert clean == {"roleCredentials": {**dict.fromkeys(credentials, REDACTED), "expiration": 1735693200000}}
    request = _request(b"", uri="https://portal.sso.us-east-1.amazonaws.com/federation/credentials?role_name=r")
    request.headers["x-amz-sso_bearer_token"] = "aoa" + "x" * 60
    assert "x-amz-sso_bearer_token" not in scrub_request(request).headers


def test_oauth_token_responses_are_redacted_wherever_they_come_from() -> None:
    body = json.dumps(
        {"access_token": "ya29" + "a" * 40, "refresh_token": "r" * 20, "id_token": "i" * 30, "token_type": "Bearer"}
    ).encode()
    clean = json.loads(scrub_response(_response(body))["body"]["string"])
    assert clean == {"access_token": REDACTED, "refresh_token": REDACTED, "id_token": REDACTED, "token_type": "Bearer"}


@pytest.mark.parametrize("shape", sorted(KEY_SHAPES))
def test_key_shaped_values_are_redacted_wherever_they_appear(shape: str) -> None:
    key = KEY_SHAPES[shape]
    for text in (f"Invalid API key {key}.", f"auth={key}", f'{{"message": "bad key: {key}"}}'):
        assert key not in S.text(text), text
    clean = S.body(json.dumps({"error": {"message": f"Incorrect key {key}", "code": 401}}).encode())
    assert json.loads(clean)["error"] == {"message": f"Incorrect key {REDACTED}", "code": 401}


def test_error_bodies_echoing_the_url_and_the_headers_are_redacted() -> None:
    key, bearer = KEY_SHAPES["google"], KEY_SHAPES["openai"]
    url = f"https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?key={key}&alt=sse"
    body = {
        "error": {
            "message": f"Request to {url} failed",
            "request": {"url": url, "headers": {"x-goog-api-key": "opaque-" + "k" * 20, "X-Trace": f"Bearer {bearer}"}},
        }
    }
    clean = S.body(json.dumps(body))
    assert isinstance(clean, str)
    assert [secret for secret in (key, bearer, "opaque-") if secret in clean] == []
    echoed = json.loads(clean)["error"]
    assert echoed["message"] == f"Request to {url.replace(f'key={key}&', '')} failed"
    assert echoed["request"]["headers"] == {"x-goog-api-key": REDACTED, "X-Trace": f"Bearer {REDACTED}"}
    text = f"401 Unauthorized: POST /v1/x?api_key={'q' * 20} HTTP/1.1\nAuthorization: Basic {'YWxpY2U6' * 3}\n"
    assert S.body(text) == "401 Unauthorized: POST /v1/x?api_key=REDACTED HTTP/1.1\nAuthorization: REDACTED\n"


# -- must not change -------------------------------------------------------------------------


def test_llm_bodies_come_back_as_the_same_object() -> None:
    """Nothing to redact: no parsing, no re-encoding, the very same bytes."""
    request = json.dumps(
        {"model": "gpt-4o", "max_tokens": 5, "max_completion_tokens": 9, "messages": [{"content": "Tokens?"}]}
    ).encode()
    response = json.dumps(
        {
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "input_tokens": 1},
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 13, "cachedContentTokenCount": 2},
            "choices": [{"logprobs": {"content": [{"token": " Hello", "logprob": -0.1}]}}],
            "content": [{"type": "thinking", "thinking": "...", "signature": "Eq" + "x" * 300}],
            "nextPageToken": "CgVwYWdlMg",
        },
        indent=2,
    ).encode()
    assert S.body(request) is request
    assert S.body(response) is response
    headers = {
        "x-ratelimit-remaining-tokens": ["999"],
        "anthropic-ratelimit-tokens-remaining": ["999"],
        "anthropic-ratelimit-input-tokens-reset": ["2025-01-01T00:00:00Z"],
        "content-type": ["application/json"],
    }
    assert scrub_response(_response(response, copy.deepcopy(headers)))["headers"] == headers


def test_key_shapes_inside_ids_and_base64_are_left_alone() -> None:
    """An embedding's base64 or an id may hold ``AIza...`` by chance: glued to what precedes, it is data."""
    blob = "QUJD" + KEY_SHAPES["google"] + "/" + KEY_SHAPES["aws"] + "+" + KEY_SHAPES["jwt"].replace(".", "")
    body = json.dumps({"data": [{"embedding": blob}], "id": "task-" + KEY_SHAPES["openai"][3:]})
    assert S.body(body) == body


def test_scrubbing_is_deterministic_so_a_rotated_key_still_matches() -> None:
    """vcrpy filters incoming requests the same way: the recorded and the new one become equal."""

    def body(key: str) -> bytes:
        return json.dumps({"model": "m", "api_key": key, "query": "q"}).encode()

    old, new = S.body(body(_fill("", 30))), S.body(body(_fill("", 30, "Rotated9")))
    assert old == new
    assert S.body(old) == old


def test_binary_bodies_keep_every_other_byte() -> None:
    body = b"\x89PNG\r\n\x1a\n\xff\xfe" + b"key=" + KEY_SHAPES["google"].encode() + b"\x00\x01"
    assert S.body(body) == b"\x89PNG\r\n\x1a\n\xff\xfekey=REDACTED\x00\x01"


# -- user additions --------------------------------------------------------------------------


def test_user_names_and_patterns_extend_the_defaults() -> None:
    """A name covers every spelling that ends with its words: ``tenant_handle`` covers ``X-Tenant-Handle``."""
    custom = scrubber(["tenant_handle"], [r"acme_[0-9a-f]{12}", r"pin=(?P<secret>\d{4})"])
    assert custom.is_secret_header("X-Tenant-Handle")
    assert custom.is_secret_field("tenantHandle", "t")
    assert not custom.is_secret_field("handle", "t")
    assert not S.is_secret_header("X-Tenant-Handle")
    assert custom.text("id acme_0123456789ab pin=1234 max_tokens=5") == f"id {REDACTED} pin={REDACTED} max_tokens=5"
    assert custom.body(b'{"X-Tenant-Handle": "t"}') == b'{"X-Tenant-Handle": "REDACTED"}'
    assert scrubber(["tenant_handle"], [r"acme_[0-9a-f]{12}", r"pin=(?P<secret>\d{4})"]) is custom
    assert S.text("id acme_0123456789ab") == "id acme_0123456789ab"


def test_scrub_request_and_response_take_user_names_and_patterns() -> None:
    request = _request({"tenant_handle": "t1", "note": "acme_0123456789ab"}, **{"X-Tenant-Handle": "t1"})
    clean = scrub_request(request, secret_names=["tenant_handle"], secret_patterns=[r"acme_[0-9a-f]{12}"])
    assert json.loads(clean.body) == {"tenant_handle": REDACTED, "note": REDACTED}
    assert "X-Tenant-Handle" not in clean.headers
    response = scrub_response(_response(b'{"tenant_handle": "t1"}'), secret_names=["tenant_handle"])
    assert response["body"]["string"] == b'{"tenant_handle": "REDACTED"}'


def test_a_bad_user_pattern_is_named() -> None:
    with pytest.raises(ValueError, match=r"llm_cost_secret_patterns: '\(' is not a regular expression"):
        scrubber((), ["("])


# -- logs and messages -----------------------------------------------------------------------


def test_log_lines_of_every_logger_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    """urllib3 prints the path apart from the host, vcrpy the raw response, botocore the SigV4 credential."""
    install_log_filter()
    key, access = KEY_SHAPES["google"], KEY_SHAPES["aws"]
    signature = "ab" * 32
    response = {"headers": {"set-cookie": ["__cf_bm=planted-cookie; path=/"], "openai-organization": ["org-planted"]}}
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug(
            '%s://%s:%s "%s %s %s" %s %s', "https", "h", 443, "POST", f"/v1/x?key={key}&alt=sse", "HTTP/1.1", 200, 9
        )
        logging.getLogger("vcr.cassette").info("Appending request %s and response %s", "<Request>", response)
        logging.getLogger("botocore.endpoint").debug(
            "Sending http request: %s",
            f"<AWSPreparedRequest headers={{'Authorization': b'AWS4-HMAC-SHA256 Credential={access}/20250101/"
            f"us-east-1/sts/aws4_request, SignedHeaders=host, Signature={signature}'}}>",
        )
        logging.getLogger("botocore.auth").debug("Signature:\n%s", signature)
        logging.getLogger("some.library").warning("token=%s", "not-after-a-query-separator")
    for secret in (key, access, signature, "planted-cookie", "org-planted"):
        assert secret not in caplog.text, secret
    assert "/v1/x?key=REDACTED&alt=sse" in caplog.text
    assert "token=not-after-a-query-separator" in caplog.text


def test_log_records_keep_their_arguments_when_nothing_is_secret(caplog: pytest.LogCaptureFixture) -> None:
    install_log_filter()
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info("HTTP Request: %s %s", "POST", "https://api.openai.com/v1/chat/completions")
    (record,) = caplog.records
    assert record.args == ("POST", "https://api.openai.com/v1/chat/completions")


def test_scrub_text_of_plain_prose_is_the_same_string() -> None:
    text = "Summarise the quarterly report: input 7 tokens, 6 out. No URL here: key=value"
    assert scrub_text(text) == text


class _Cassette:
    def __init__(self, path: Path, data: list[tuple[Request, object]]) -> None:
        self._path = str(path)
        self.data = data
        self.record_mode = "none"
        self.play_counts: dict[int, int] = {}


def test_a_miss_explanation_never_prints_a_key(tmp_path: Path) -> None:
    """A changed key alone is no difference; a changed prompt is shown, the keys are not."""
    (tmp_path / "c.yaml").write_text("interactions: []\n")
    old_key, new_key = _fill("tvly-", 32), _fill("tvly-", 32, "Rotated9")
    recorded = scrub_request(_request({"api_key": old_key, "query": "top 3", "auth": f"Bearer {old_key}"}))
    now = _request({"api_key": new_key, "query": "all", "auth": f"Bearer {new_key}"})
    text = CassetteMiss(_Cassette(tmp_path / "c.yaml", [(recorded, {})]), now).explain("t.py::test_a")
    assert 'body query: recorded "top 3", now "all"' in text
    assert [word for word in ("api_key", "auth", old_key, new_key) if word in text] == []
    assert list(json_differences(b'{"a": 1}', json.dumps({"a": f"{new_key}"}).encode())) == [
        f'a: recorded 1, now "{REDACTED}"'
    ]


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        # Tool-call arguments: JSON inside a JSON string.
        ('{"arguments": "{\\"password\\": \\"hunter2hunter2\\", \\"city\\": \\"Paris\\"}"}', "Paris"),
        ("OPENAI_API_KEY=abcdEFGH12345678zz other", "other"),
        ("api_key = abcdEFGH12345678zz", "api_key"),
    ],
)
def test_escaped_json_and_assignments_are_scrubbed(body: str, kept: str) -> None:
    """Credentials that are not key-shaped, in the two forms a plain pair match misses."""
    from pytest_llmcost.capture.secrets import scrubber

    clean = scrubber().body(body)
    assert "hunter2hunter2" not in clean
    assert "abcdEFGH12345678zz" not in clean
    assert kept in clean


def test_assignments_of_counts_stay() -> None:
    from pytest_llmcost.capture.secrets import scrubber

    body = '{"max_tokens": 100, "content": "set x=12345678 and max_tokens=4000"}'
    assert scrubber().body(body) == body
