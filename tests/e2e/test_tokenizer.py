"""Estimation never breaks a run: tiktoken's data is fetched before any cassette, or its absence is one line.

The inner runs start with an empty ``TIKTOKEN_CACHE_DIR``, as a fresh CI runner does. tiktoken's
download is sent to a loopback mirror of its files (a runner with network) or to a closed loopback
port (a runner without): no test here reaches the network.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.results_view import full_view

TESTS = """
import os

import openai

URL = os.environ["FAKE_LLM_URL"]


def test_stream_without_usage(llm_cost):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    for _ in client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Stream without usage please"}], stream=True
    ):
        pass
    # Reading the meter inside the test estimates the call while its cassette is active.
    assert llm_cost.calls[0].estimated
    if os.environ.get("EXPECT_EXACT"):
        assert llm_cost.tokens.input > 0


def test_other(llm_cost):
    client = openai.OpenAI(base_url=URL + "/v1", api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])


def test_without_llm():
    assert True
"""

# tiktoken downloads its encodings from a fixed URL: the inner run fetches them from TIKTOKEN_MIRROR
# instead, through tiktoken's own loader (requests), so vcrpy sees the download as it would see the real one.
MIRROR = """
import os

import tiktoken.load

_read_file = tiktoken.load.read_file


def _mirrored(blobpath):
    return _read_file(blobpath.replace("https://openaipublic.blob.core.windows.net", os.environ["TIKTOKEN_MIRROR"]))


tiktoken.load.read_file = _mirrored
"""

WARM_CACHE = Path(os.environ.get("TIKTOKEN_CACHE_DIR") or "/nonexistent")


def _encoding_file(url_path: str) -> Path:
    import hashlib

    return WARM_CACHE / hashlib.sha1(f"https://openaipublic.blob.core.windows.net{url_path}".encode()).hexdigest()


@pytest.fixture
def mirror() -> Iterator[str]:
    """A loopback HTTP server serving tiktoken's encoding files from the warm cache."""
    if not _encoding_file("/encodings/o200k_base.tiktoken").exists():
        pytest.skip("needs TIKTOKEN_CACHE_DIR pointing at a warm tiktoken cache")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = _encoding_file(self.path)
            if not path.exists():
                self.send_error(404)
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _recorded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # tiktoken's download goes to loopback, never through a proxy the environment may name.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    pytester.makepyfile(test_streams=TESTS)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.runpytest("--llm-cost-record-mode=once", "-p", "no:randomly").assert_outcomes(passed=3)
    pytester.makeconftest(MIRROR)


def _records(pytester: pytest.Pytester) -> dict[str, Any]:
    tests: dict[str, Any] = full_view((pytester.path / ".llm-cost" / "results.json").read_text())["tests"]
    return tests


def test_a_fresh_runner_with_network_gets_exact_estimates(
    pytester: pytest.Pytester, fake_llm: Any, mirror: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The encoding is fetched at session start, before any cassette: the estimate is a real count."""
    _recorded(pytester, monkeypatch)
    cache = pytester.mkdir("empty-cache")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("TIKTOKEN_MIRROR", mirror)
    monkeypatch.setenv("EXPECT_EXACT", "1")
    result = pytester.runpytest_subprocess("--llm-cost", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    assert "INTERNALERROR" not in result.stdout.str()
    (estimated,) = _records(pytester)["test_streams.py::test_stream_without_usage"]["records"]
    assert estimated["estimated"] is True
    assert estimated["tokens"]["input"] > 0
    assert estimated["tokens"]["output"] > 0
    assert "could not be loaded" not in (estimated["note"] or "")
    assert any(cache.iterdir()), "the encoding was not cached for the next run"
    # Exact counts are one request option away: the summary says which.
    result.stdout.fnmatch_lines(["*1 call estimated*", '*stream_options={"include_usage": True}*stream_usage=True*'])


def test_a_fresh_runner_without_network_labels_the_call_and_every_test_runs(
    pytester: pytest.Pytester, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No encoding to be had: the call is estimated-unavailable, one line names TIKTOKEN_CACHE_DIR, the run goes on."""
    _recorded(pytester, monkeypatch)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(pytester.mkdir("empty-cache")))
    monkeypatch.setenv("TIKTOKEN_MIRROR", _closed_port())
    result = pytester.runpytest_subprocess("--llm-cost", "-p", "no:randomly", "-v")
    result.assert_outcomes(passed=3)
    output = result.stdout.str()
    assert "INTERNALERROR" not in output
    assert "Traceback" not in output
    result.stdout.fnmatch_lines(
        [
            "*llm-cost*gpt-4o-mini*[[]estimated-unavailable[]]*",
            '*stream_options={"include_usage": True}*stream_usage=True*',
            "1 call without reported usage could not be estimated (counted as 0 tokens): *TIKTOKEN_CACHE_DIR*",
        ]
    )
    tests = _records(pytester)
    (blind,) = tests["test_streams.py::test_stream_without_usage"]["records"]
    assert blind["estimated"] is True
    assert blind["tokens"]["input"] == 0
    assert "TIKTOKEN_CACHE_DIR" in blind["note"]
    assert tests["test_streams.py::test_other"]["calls"] == 1
