"""Reading vcrpy YAML cassettes from disk without vcrpy."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from pytest_llmcost.capture.cassettes import CassetteError, read_cassette
from pytest_llmcost.providers import extract

CHAT = {"id": "c1", "model": "gpt-4o-mini", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}


def write(tmp_path: Path, text: str, name: str = "cassette.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_string_bodies(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""\
interactions:
- request:
    body: '{{"model": "gpt-4o-mini", "messages": []}}'
    headers:
      content-type: [application/json]
    method: post
    uri: https://api.openai.com/v1/chat/completions
  response:
    body:
      string: '{json.dumps(CHAT)}'
    headers:
      Content-Type: [application/json]
    status: {{code: 200, message: OK}}
version: 1
""",
    )
    [(index, exchange)] = read_cassette(path)
    assert index == 0
    assert (exchange.method, exchange.url, exchange.status) == (
        "POST",
        "https://api.openai.com/v1/chat/completions",
        200,
    )
    assert exchange.request_json == {"model": "gpt-4o-mini", "messages": []}
    assert exchange.response_json == CHAT
    assert exchange.content_type == "application/json"
    got = extract(exchange)
    assert got is not None
    assert got.status == "ok"


def test_binary_gzip_body_and_binary_headers(tmp_path: Path) -> None:
    packed = base64.b64encode(gzip.compress(json.dumps(CHAT).encode())).decode()
    content_type = base64.b64encode(b"application/json").decode()
    path = write(
        tmp_path,
        f"""\
interactions:
- request:
    body: null
    headers: {{}}
    method: POST
    uri: https://api.openai.com/v1/chat/completions
  response:
    body:
      string: !!binary |
        {packed}
    headers:
      content-encoding: [gzip]
      content-type:
      - !!binary |
        {content_type}
    status: {{code: 200, message: OK}}
version: 1
""",
    )
    [(_, exchange)] = read_cassette(path)
    assert isinstance(exchange.response_body, bytes)
    assert exchange.response_json == CHAT
    assert exchange.request_body is None
    assert exchange.response_headers["content-type"] == ["application/json"]


def test_parsed_bodies_and_null_body(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
interactions:
- request:
    method: POST
    parsed_body:
      model: claude-haiku-4-5
      messages: [{role: user, content: Hi}]
    uri: https://api.anthropic.com/v1/messages?beta=true
  response:
    parsed_body:
      type: message
      model: claude-haiku-4-5
      usage: {input_tokens: 3, output_tokens: 1}
    status: {code: 200, message: OK}
- request:
    body: ''
    method: GET
    uri: https://api.openai.com/v1/models
  response:
    body: {string: null}
    status: {code: 204, message: No Content}
version: 1
""",
    )
    items = read_cassette(path)
    assert [index for index, _ in items] == [0, 1]
    first, second = (exchange for _, exchange in items)
    assert first.request_json == {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hi"}]}
    assert first.response_json["usage"] == {"input_tokens": 3, "output_tokens": 1}
    assert (second.status, second.response_body, second.response_text) == (204, None, "")
    assert extract(second) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("interactions: [\n", "not valid YAML", id="broken-yaml"),
        pytest.param("- just\n- a list\n", "not a vcrpy cassette", id="not-a-mapping"),
        pytest.param("version: 1\n", "not a vcrpy cassette", id="no-interactions"),
        pytest.param(
            "interactions:\n- request: {method: GET}\n  response: {}\n", "interaction 0", id="bad-interaction"
        ),
        pytest.param(
            "interactions:\n- request: {method: GET, uri: 'http://x'}\n  response: {status: {code: OK}}\n",
            "interaction 0",
            id="bad-status",
        ),
        pytest.param("interactions: []\nx: !!python/name:os.system\n", "not valid YAML", id="unsafe-tag"),
    ],
)
def test_not_a_cassette(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text, name="bad.yaml")
    with pytest.raises(CassetteError, match=message) as info:
        read_cassette(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_empty_cassette(tmp_path: Path) -> None:
    assert read_cassette(write(tmp_path, "interactions: []\nversion: 1\n")) == []
