"""Replaying a cassette of n interactions costs O(n): requests are found by key and filtered once."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from vcr.cassette import Cassette
from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

from pytest_llmcost.capture import indexed
from pytest_llmcost.capture.indexed import IndexedCassette, played_position
from pytest_llmcost.capture.recording import body_key, match_json_body, use_cassette

URL = "https://api.openai.com/v1/chat/completions"


def _body(number: int) -> bytes:
    return json.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {number}"}]}
    ).encode()


def _response(number: int) -> dict[str, Any]:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["application/json"]},
        "body": {"string": json.dumps({"id": f"r{number}", "usage": {"prompt_tokens": 3}})},
    }


def _write(path: Path, count: int, body: Any = _body) -> Path:
    requests = [Request("POST", URL, body(number), {"content-type": "application/json"}) for number in range(count)]
    path.write_text(
        serialize({"requests": requests, "responses": [_response(n) for n in range(count)]}, yamlserializer)
    )
    return path


@pytest.fixture
def matched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the stored interactions the indexed cassette compares a request with."""
    calls: list[int] = []
    original = indexed.requests_match

    def counting(*args: Any) -> bool:
        calls.append(1)
        return original(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(indexed, "requests_match", counting)
    return calls


def test_a_cassette_replays_in_linear_time(tmp_path: Path, matched: list[int]) -> None:
    """500 interactions, replayed in reverse key order (key order as JSON): each request is compared
    with its own recording only, not with every stored one (vcrpy alone: 500 x 500 x 3)."""
    path = _write(tmp_path / "big.yaml", 500)
    with use_cassette(path, "none") as cassette:
        assert isinstance(cassette, IndexedCassette)
        for number in reversed(range(500)):
            body = json.dumps({"messages": [{"content": f"question {number}", "role": "user"}], "model": "gpt-4o-mini"})
            request = Request("POST", URL, body.encode(), {"authorization": "Bearer sk-secret-000000000000000000"})
            assert cassette.can_play_response_for(request)
            response = cassette.play_response(request)
            assert json.loads(response["body"]["string"])["id"] == f"r{number}"
            assert played_position(cassette, response) == number
        assert cassette.all_played
        assert not cassette.can_play_response_for(Request("POST", URL, _body(0), {}))  # played once only
    assert len(matched) <= 2 * 500 + 2


def test_each_played_request_is_filtered_once(tmp_path: Path) -> None:
    """vcrpy filters a request (a deep copy, the user's hooks, secret scrubbing) on each of its
    three look-ups; the cassette does it once per request."""
    seen: list[str] = []

    def hook(request: Any) -> Any:
        seen.append(request.uri)
        return request

    path = _write(tmp_path / "c.yaml", 3)
    with use_cassette(path, "none", {"before_record_request": hook}) as cassette:
        loaded = len(seen)
        assert loaded == 3  # each stored request, as vcrpy loads it
        for number in range(3):
            request = Request("POST", URL, _body(number), {})
            assert cassette.can_play_response_for(request)
            cassette.play_response(request)
        assert len(seen) - loaded == 3


def test_each_played_request_body_is_digested_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key (a canonical digest of the JSON body) of a request is computed once for vcrpy's three
    look-ups of it, and once for each stored request as the index takes it in."""
    keys: list[object] = []
    original = indexed._key

    def counting(request: Any) -> tuple[str, object]:
        keys.append(request.uri)
        return original(request)

    monkeypatch.setattr(indexed, "_key", counting)
    path = _write(tmp_path / "c.yaml", 3)
    with use_cassette(path, "none") as cassette:
        for number in range(3):
            request = Request("POST", URL, _body(number), {})
            assert cassette.can_play_response_for(request)
            cassette.play_response(request)
        assert cassette.all_played
    assert len(keys) == 3 + 3  # the stored ones, then each played one


def test_duplicate_requests_play_in_recorded_order(tmp_path: Path) -> None:
    """The same request sent twice gets the first recording, then the second, as in vcrpy."""
    path = _write(tmp_path / "dup.yaml", 2, body=lambda number: _body(0))
    with use_cassette(path, "none") as cassette:
        request = Request("POST", URL, _body(0), {})
        first = cassette.play_response(request)
        second = cassette.play_response(Request("POST", URL, _body(0), {}))
        assert [played_position(cassette, first), played_position(cassette, second)] == [0, 1]


def test_a_users_own_matchers_are_used_as_vcrpy_uses_them(tmp_path: Path) -> None:
    """``match_on`` without the body matcher: every stored request is a candidate, as in vcrpy."""
    path = _write(tmp_path / "any.yaml", 2)
    with use_cassette(path, "none", {"match_on": ("method", "uri")}) as cassette:
        assert cassette.can_play_response_for(Request("POST", URL, b'{"other": "body"}', {}))


def test_the_body_key_matches_exactly_when_the_body_matcher_does() -> None:
    """The index never separates two bodies the matcher would match, nor joins two it would not."""
    bodies: list[bytes | str] = [
        b'{"a": 1, "b": [1, 2]}',
        '{"b":[1,2],"a":1}',
        b'{"b": [2, 1], "a": 1}',
        b"--abc\r\nx\r\n--abc--",
        b"--zzzz\r\nx\r\n--zzzz--",
        b"plain text",
        "plain text",
        b"",
        b"[1, 2]",
        b"[1,2]",
    ]
    for one in bodies:
        for other in bodies:
            first, second = Request("POST", URL, one, {}), Request("POST", URL, other, {})
            try:
                match_json_body(first, second)
                matches = True
            except AssertionError:
                matches = False
            assert (indexed._key(first) == indexed._key(second)) == matches, (one, other)
            if type(one) is type(other):
                assert (body_key(one) == body_key(other)) == matches, (one, other)


def test_vcrpy_still_looks_requests_up_through_the_names_the_index_overrides() -> None:
    """Fails loudly when vcrpy changes what ``IndexedCassette`` relies on: ``Cassette._responses(request)``,
    used by ``__contains__`` and ``play_response``, and the ``_before_record_request`` attribute."""
    assert list(inspect.signature(Cassette._responses).parameters) == ["self", "request"]
    assert "self._responses(request)" in inspect.getsource(Cassette.play_response)
    assert "self._responses(request)" in inspect.getsource(Cassette.__contains__)
    assert "self._before_record_request(request)" in inspect.getsource(Cassette.can_play_response_for)
    assert callable(Cassette("unused.yaml")._before_record_request)
