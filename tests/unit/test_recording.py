"""Cassette defaults: JSON body matching, secret stripping, names, and miss explanations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vcr.request import Request

from pytest_llmcost.capture.recording import (
    CassetteMiss,
    cassette_path,
    json_differences,
    match_json_body,
    scrub_request,
    scrub_response,
    scrub_url,
)

URL = "https://api.openai.com/v1/chat/completions"


def _request(body: object, uri: str = URL, method: str = "POST", headers: dict[str, str] | None = None) -> Request:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body).encode()
    return Request(method, uri, raw, headers or {})


def test_bodies_match_as_json_whatever_the_key_order_and_spacing() -> None:
    a = _request(b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}')
    b = _request(b'{"messages":[{"content":"hi","role":"user"}],"model":"gpt-4o"}')
    assert match_json_body(a, b) is None


def test_a_changed_prompt_does_not_match() -> None:
    a = _request({"model": "gpt-4o", "messages": [{"role": "user", "content": "top 3 documents"}]})
    b = _request({"model": "gpt-4o", "messages": [{"role": "user", "content": "all documents"}]})
    with pytest.raises(AssertionError, match="request bodies differ"):
        match_json_body(a, b)


def test_json_true_and_one_are_different_values() -> None:
    with pytest.raises(AssertionError):
        match_json_body(_request({"stream": True}), _request({"stream": 1}))


def test_non_json_bodies_compare_byte_for_byte() -> None:
    assert match_json_body(_request(b"a=1&b=2"), _request(b"a=1&b=2")) is None
    with pytest.raises(AssertionError):
        match_json_body(_request(b"a=1&b=2"), _request(b"b=2&a=1"))
    assert match_json_body(_request(b""), Request("GET", URL, None, {})) is None


def test_scrub_request_strips_every_secret_header_and_query_key() -> None:
    headers = {
        "Authorization": "Bearer sk-secret",
        "X-Api-Key": "sk-ant-secret",
        "api-key": "azure-secret",
        "x-goog-api-key": "AIza-secret",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj-1",
        "anthropic-organization-id": "org-2",
        "Cookie": "session=1",
        "X-Amz-Security-Token": "aws-token",
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
    }
    request = _request({"max_tokens": 5}, uri=URL + "?key=AIza-secret&alt=sse&api_key=x", headers=headers)
    clean = scrub_request(request)
    assert {name.lower() for name in clean.headers} == {"content-type", "anthropic-version"}
    assert clean.uri == URL + "?alt=sse"
    assert json.loads(clean.body) == {"max_tokens": 5}


def test_scrub_response_strips_cookies_and_organisation_ids_but_keeps_usage() -> None:
    body = b'{"usage": {"prompt_tokens": 3, "total_tokens": 5}, "max_tokens": 9}'
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {
            "Set-Cookie": ["__cf_bm=secret"],
            "openai-organization": ["acme"],
            "openai-project": ["proj_1"],
            "anthropic-organization-id": ["org"],
            "content-type": ["application/json"],
        },
        "body": {"string": body},
    }
    clean = scrub_response(response)
    assert list(clean["headers"]) == ["content-type"]
    assert clean["body"]["string"] == body


def test_scrub_url_keeps_urls_without_secrets_untouched() -> None:
    assert scrub_url(URL) == URL
    assert scrub_url(URL + "?alt=sse") == URL + "?alt=sse"
    assert scrub_url(URL + "?key=1") == URL


def test_cassette_path_follows_pytest_recording() -> None:
    test_file = Path("/repo/tests/test_agent.py")
    assert cassette_path(test_file, "test_plan") == Path("/repo/tests/cassettes/test_agent/test_plan.yaml")
    assert cassette_path(test_file, "test_x[gpt-4o-1]", "TestAgent") == Path(
        "/repo/tests/cassettes/test_agent/TestAgent.test_x[gpt-4o-1].yaml"
    )
    # Unportable or ambiguous characters are replaced, and a hash of the whole name keeps it apart.
    assert cassette_path(test_file, "test_x[a/b]").name == "test_x[a-b]~f34a5059.yaml"
    assert cassette_path(test_file, "test_x[a-b]").name == "test_x[a-b].yaml"
    assert cassette_path(test_file, "test_q[why?]").name.startswith("test_q[why-]~")
    assert len(cassette_path(test_file, "test_long[" + "x" * 300 + "]").name) < 140


def test_json_differences_name_the_changed_paths() -> None:
    old = json.dumps({"model": "gpt-4o", "messages": [{"content": "top 3"}], "temperature": 0}).encode()
    new = json.dumps({"model": "gpt-4o", "messages": [{"content": "all"}], "seed": 1}).encode()
    assert list(json_differences(old, new)) == [
        'messages[0].content: recorded "top 3", now "all"',
        "seed: added 1",
        "temperature: removed (was 0)",
    ]
    assert list(json_differences(old, old)) == []


class _FakeCassette:
    def __init__(self, path: Path, data: list[tuple[Request, object]]) -> None:
        self._path = str(path)
        self.data = data
        self.record_mode = "none"
        self.play_counts: dict[int, int] = {}


def test_miss_explanation_shows_the_closest_request_and_the_rerecord_command(tmp_path: Path) -> None:
    path = tmp_path / "test_plan.yaml"
    path.write_text("interactions: []\n")
    recorded = [
        (_request({"model": "gpt-4o"}, uri="https://api.openai.com/v1/embeddings"), {}),
        (_request({"model": "gpt-4o", "messages": [{"content": "top 3 documents"}]}), {}),
    ]
    now = _request({"model": "gpt-4o", "messages": [{"content": "all documents"}]}, uri=URL + "?key=AIza-secret")
    text = CassetteMiss(_FakeCassette(path, recorded), now).explain("tests/test_a.py::test_plan")
    assert f"LLM request not found in cassette {path} (record mode 'none')" in text
    assert "Closest recorded request: interaction #1" in text
    assert 'body messages[0].content: recorded "top 3 documents", now "all documents"' in text
    assert "pytest 'tests/test_a.py::test_plan' --llm-cost-record-mode=all" in text
    assert "AIza-secret" not in text


def test_miss_explanation_for_a_missing_cassette(tmp_path: Path) -> None:
    text = CassetteMiss(_FakeCassette(tmp_path / "none.yaml", []), _request({})).explain("t.py::test_a")
    assert "does not exist yet" in text
    assert "--llm-cost-record-mode=once" in text


def test_miss_explanation_when_the_request_was_already_played(tmp_path: Path) -> None:
    body = {"model": "gpt-4o"}
    cassette = _FakeCassette(tmp_path / "c.yaml", [(_request(body), {})])
    (tmp_path / "c.yaml").write_text("")
    cassette.play_counts = {0: 1}
    text = CassetteMiss(cassette, _request(body)).explain("t.py::test_a")
    assert "already played 1 time" in text


def test_signed_url_and_oauth_query_parameters_are_stripped() -> None:
    url = "https://bucket.s3.amazonaws.com/x?X-Amz-Signature=abc&X-Amz-Credential=cred&token=t&sig=s&alt=sse"
    assert scrub_url(url) == "https://bucket.s3.amazonaws.com/x?alt=sse"
    assert scrub_url("https://user:secret@api.example.com/v1/chat/completions") == (
        "https://api.example.com/v1/chat/completions"
    )


def test_oauth_token_exchange_bodies_are_redacted_both_ways() -> None:
    """An auth call in the cassette keeps its shape, never its credentials."""
    form = b"grant_type=refresh_token&refresh_token=1%2F%2Fsecret&client_secret=shh&client_id=app"
    request = scrub_request(_request(form, uri="https://oauth2.googleapis.com/token"))
    assert request.body == b"grant_type=refresh_token&refresh_token=REDACTED&client_secret=REDACTED&client_id=app"
    response = scrub_response(
        {
            "status": {"code": 200, "message": "OK"},
            "headers": {},
            "body": {"string": b'{"access_token": "ya29.secret", "expires_in": 3599, "token_type": "Bearer"}'},
        }
    )
    assert json.loads(response["body"]["string"]) == {
        "access_token": "REDACTED",
        "expires_in": 3599,
        "token_type": "Bearer",
    }


def test_bodies_of_llm_calls_are_never_rewritten() -> None:
    """``max_tokens`` and usage fields merely contain the word: they are data."""
    body = {"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "refresh_token"}]}
    request = scrub_request(_request(body))
    assert json.loads(request.body) == body
    usage = b'{"usage": {"prompt_tokens": 3, "completion_tokens": 2}, "token_type": "not an auth answer"}'
    response = scrub_response({"status": {"code": 200}, "headers": {}, "body": {"string": usage}})
    assert response["body"]["string"] == usage


def test_log_messages_lose_secret_query_parameters(caplog: pytest.LogCaptureFixture) -> None:
    """vcrpy and httpx log URLs; the filter strips their keys, the rest of the message stays."""
    import logging

    from pytest_llmcost.capture.recording import install_log_filter

    install_log_filter()
    key = "AIza" + "K" * 35
    url = f"https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?key={key}&alt=sse"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("vcr.stubs.httpx_stubs").info("Playing response for <Request (POST) %s>", url)
        logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 200 OK"', url)
        logging.getLogger("vcr.cassette").debug("no URL here: key=%s", "value")
    assert key not in caplog.text
    assert "v1beta/models/g:generateContent?alt=sse" in caplog.text
    assert "HTTP Request: POST https://generativelanguage.googleapis.com" in caplog.text
    assert "no URL here: key=value" in caplog.text
