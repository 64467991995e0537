"""How a replayed request finds its recording: multipart uploads and billing headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcr.request import Request

from pytest_llmcost.capture.recording import match_billing_headers, match_json_body


def _multipart(boundary: str, audio: bytes) -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        ).encode()
        + audio
        + f"\r\n--{boundary}--\r\n".encode()
    )


def _request(body: bytes, headers: dict[str, str] | None = None) -> Request:
    return Request("POST", "https://api.openai.com/v1/audio/transcriptions", body, headers or {})


def test_multipart_uploads_match_whatever_their_boundary() -> None:
    """Each upload draws a random boundary: the same parts still replay the recording."""
    recorded = _request(_multipart("a1b2c3d4e5", b"RIFF....audio"))
    match_json_body(recorded, _request(_multipart("ffee99887766", b"RIFF....audio")))
    with pytest.raises(AssertionError):
        match_json_body(recorded, _request(_multipart("ffee99887766", b"RIFF....other")))


@pytest.mark.parametrize(
    ("recorded", "now", "same"),
    [
        ({}, {}, True),
        ({"anthropic-beta": "a,b"}, {"Anthropic-Beta": "b, a"}, True),
        ({"anthropic-beta": "prompt-caching-2024-07-31"}, {}, False),
        ({"OpenAI-Beta": "assistants=v2"}, {"openai-beta": "assistants=v1"}, False),
        ({"x-stainless-retry-count": "0"}, {"x-stainless-retry-count": "1"}, True),
    ],
)
def test_beta_headers_that_change_the_bill_must_match(
    recorded: dict[str, str], now: dict[str, str], same: bool
) -> None:
    """A changed beta flag is a new request, never the old recording replayed; other headers do not count."""
    old, new = _request(b"{}", recorded), _request(b"{}", now)
    if same:
        match_billing_headers(old, new)
    else:
        with pytest.raises(AssertionError):
            match_billing_headers(old, new)


def test_a_cassette_recorded_under_the_old_name_is_still_found(tmp_path: Path) -> None:
    """``test_q[why?].yaml`` (the name before portable names) replays until it is recorded again."""
    from pytest_llmcost.capture.recording import cassette_path

    test_file = tmp_path / "test_m.py"
    new = cassette_path(test_file, "test_q[why?]")
    assert new.name.startswith("test_q[why-]~")
    legacy = tmp_path / "cassettes" / "test_m" / "test_q[why?].yaml"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("interactions: []\n")
    assert cassette_path(test_file, "test_q[why?]") == legacy
    new.write_text("interactions: []\n")
    assert cassette_path(test_file, "test_q[why?]") == new
