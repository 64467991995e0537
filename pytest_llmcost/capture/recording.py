"""The vcrpy integration: the only module that imports vcrpy, and only when a test needs it.

It configures cassettes with LLM-safe defaults (requests match on their JSON body, secrets are
stripped from what is written, compressed bodies are stored decoded), taps every interaction
vcrpy plays back or records so the meter sees exactly what the code under test received, and
explains a cassette miss in terms of the closest recorded request.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..providers.base import Exchange
from .secrets import SECRET_HEADERS, SECRET_QUERY_PARAMETERS, scrub_text, scrubber

__all__ = [
    "RECORD_MODES",
    "SECRET_HEADERS",
    "SECRET_QUERY_PARAMETERS",
    "CassetteMiss",
    "Tap",
    "cassette_path",
    "find_miss",
    "map_hosts",
    "scrub_url",
    "use_cassette",
]

RECORD_MODES = ("none", "once", "new_episodes", "all")

#: Fields of an OAuth token exchange (``POST .../token``) that are credentials there only (a
#: ``code`` elsewhere is data); ``access_token``, ``client_secret``... are credentials anywhere.
OAUTH_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "assertion",
        "client_assertion",
        "password",
        "code",
        "code_verifier",
        "device_code",
    }
)
_OAUTH_PATH = re.compile(r"/(?:oauth2?/)?(?:v\d+/)?token$|/oauth2?/", re.IGNORECASE)

#: How requests are matched: method, full URL, and the body compared as canonical JSON.
MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "llm_cost_body", "llm_cost_headers")
#: Request headers that change what a call bills (beta features), so a changed one is a new request.
BILLING_HEADERS = ("anthropic-beta", "openai-beta")


def scrub_url(url: str) -> str:
    """The URL without credentials: no ``user:password@``, no secret query parameters, no key-shaped value."""
    return scrubber().url(url)


def _scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record's message (and formatted exception) with credentials redacted; its arguments
    are kept when nothing was."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when the record is emitted
        return record
    clean = scrub_text(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
    return record


class _ScrubbingRecordFactory:
    """Wraps the log record factory: every record any logger creates has its message scrubbed.

    Loggers create records only at a level they emit, so this costs nothing at default levels.
    """

    def __init__(self, wrapped: Callable[..., logging.LogRecord]) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return _scrub_record(self.wrapped(*args, **kwargs))


def install_log_filter() -> None:
    """Scrub every log record of the process: vcrpy's, urllib3's, httpx's, botocore's, the SDKs'.

    vcrpy logs each response it records (cookies and organisation ids in its headers), urllib3
    a request's path and query apart from its host, botocore the SigV4 credential: pytest shows
    those lines for a failing test, or all of them with ``log_cli``. Installing twice is harmless.
    """
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _ScrubbingRecordFactory):
        logging.setLogRecordFactory(_ScrubbingRecordFactory(factory))


def _is_oauth(url: str) -> bool:
    return _OAUTH_PATH.search(urlsplit(url).path) is not None


def scrub_request(
    request: Any, secret_names: Iterable[str] = (), secret_patterns: Iterable[str | re.Pattern[str]] = ()
) -> Any:
    """vcrpy ``before_record_request``: drop secret headers and query parameters, redact
    credentials in the body (see :mod:`.secrets`); ``secret_names`` and ``secret_patterns``
    extend what counts as one.

    vcrpy hands it a copy, and applies it to recorded and incoming requests alike: redaction is
    deterministic, so a request still matches its recording when its key changed.
    """
    scrub = scrubber(secret_names, secret_patterns)
    headers = request.headers
    for name, value in list(headers.items()):
        if not isinstance(value, str):
            if scrub.is_secret_header(name):
                del headers[name]
            continue
        clean_value = _clean_header(scrub, name, value)
        if clean_value is None:
            del headers[name]
        elif clean_value != value:
            headers[name] = clean_value
    clean = scrub.url(request.uri)
    if clean != request.uri:
        request.uri = clean
    if _is_oauth(clean):
        scrub = scrubber([*OAUTH_FIELDS, *secret_names], secret_patterns)
    body = request.body
    if isinstance(body, (bytes, str)):
        clean_body = scrub.body(body)
        if clean_body is not body:
            request.body = clean_body
    elif isinstance(body, (dict, list)):  # aiohttp's json= payload, kept as a value
        request.body = scrub.data(body)
    elif body is not None:  # a file or an iterator: vcrpy hands out a fresh one each time
        raw = _body_of(request)
        clean_body = scrub.body(raw)
        if clean_body is not raw:
            request.body = clean_body if hasattr(body, "read") else [clean_body]
    return request


@functools.lru_cache(maxsize=8192)
def _clean_header(scrub: Any, name: str, value: str) -> str | None:
    """A request header as written: None to drop it, else its value with any credential redacted.

    vcrpy filters every request several times, and requests repeat the same headers: one
    decision per distinct header.
    """
    if scrub.is_secret_header(name):
        return None
    return scrub.text(value)  # type: ignore[no-any-return]


#: Set while vcrpy loads a cassette: its responses were scrubbed when written, and no response is matched.
_LOADING = threading.local()


def scrub_response(
    response: dict[str, Any], secret_names: Iterable[str] = (), secret_patterns: Iterable[str | re.Pattern[str]] = ()
) -> dict[str, Any]:
    """vcrpy ``before_record_response``: drop secret response headers (``set-cookie``,
    organisation ids), redact credentials in the body: OAuth token answers, STS and SSO
    credentials, an error that echoes the request's URL or headers (see :mod:`.secrets`)."""
    scrub = scrubber(secret_names, secret_patterns)
    headers = response.get("headers")
    if isinstance(headers, dict):
        for name in [name for name in headers if scrub.is_secret_header(name)]:
            del headers[name]
        for name, values in headers.items():
            if isinstance(values, list) and any(isinstance(value, str) and scrub.triggered(value) for value in values):
                headers[name] = [scrub.text(value) if isinstance(value, str) else value for value in values]
    body = response.get("body")
    if isinstance(body, dict) and isinstance(body.get("string"), (bytes, str)):
        raw = body["string"]
        body["string"] = clean = scrub.body(raw)
        if clean is not raw and isinstance(headers, dict):
            # Clients that check the length (urllib3) must read the shorter body whole.
            size = len(clean.encode() if isinstance(clean, str) else clean)
            for name in [name for name in headers if name.lower() == "content-length"]:
                headers[name] = [str(size)]
    return response


def secure_recording_cassettes(recorder: Any, record_hosts: Iterable[tuple[str, str]] = ()) -> None:
    """Make a pytest-recording ``VCR`` strip secrets the way the ``llm_cost`` cassettes do.

    Used for tests that take ``llm_cost`` but record through ``@pytest.mark.vcr``: the user's
    own ``before_record_*`` hooks run first (after ``record_hosts``, as in :func:`use_cassette`);
    matching is unaffected (vcrpy applies the request hook to both sides).
    """
    use = recorder.use_cassette
    hosts = tuple(record_hosts)
    mapping = [functools.partial(map_hosts, record_hosts=hosts)] if hosts else []

    def use_cassette(path: Any = None, **kwargs: Any) -> Any:
        before_request = kwargs.pop(
            "before_record_request", kwargs.pop("before_record", recorder.before_record_request)
        )
        before_response = kwargs.pop("before_record_response", recorder.before_record_response)
        kwargs["before_record_request"] = [*mapping, *_hooks(before_request), scrub_request]
        kwargs["before_record_response"] = [*_hooks(before_response), scrub_response]
        return use(path, **kwargs)

    recorder.use_cassette = use_cassette


def _hooks(value: Any) -> list[Any]:
    if value is None:
        return []
    if callable(value):
        return [value]
    return list(value)


_NOT_JSON = object()


@functools.lru_cache(maxsize=4096)
def _canonical(body: bytes | str) -> object:
    """A JSON body in one canonical text (sorted keys, no whitespace), or ``_NOT_JSON``."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return _NOT_JSON
    try:
        return json.dumps(json.loads(stripped), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return _NOT_JSON


@functools.lru_cache(maxsize=4096)
def body_key(body: bytes | str) -> object:
    """A body's canonical digest: two bodies have the same exactly when :func:`match_json_body` matches them.

    JSON by its canonical text, a multipart upload whatever its boundary, anything else as it is.
    """
    canonical = _canonical(body)
    if isinstance(canonical, str):
        return hashlib.blake2b(canonical.encode("utf-8", errors="surrogatepass"), digest_size=16).digest()
    return ("raw", _without_boundary(body))


def _body_of(request: Any) -> bytes | str:
    """A vcrpy request's body as bytes or text, whatever form the HTTP client gave it."""
    body = request.body
    if body is None:
        return b""
    if isinstance(body, (bytes, str)):
        return body
    if isinstance(body, (dict, list)):  # aiohttp's json= payload, kept as a value
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if hasattr(body, "read"):  # vcrpy hands out a fresh buffer each time
        data = body.read()
        return data if isinstance(data, (bytes, str)) else b""
    chunks = [chunk.encode() if isinstance(chunk, str) else bytes(chunk) for chunk in body]
    return b"".join(chunks)


def _without_boundary(body: bytes | str) -> bytes | str:
    """A multipart body with its random boundary replaced by a fixed one, so two uploads compare equal."""
    marker = b"--" if isinstance(body, bytes) else "--"
    if not body.startswith(marker):  # type: ignore[arg-type]
        return body
    newline = body.find(b"\r\n" if isinstance(body, bytes) else "\r\n")  # type: ignore[arg-type]
    if newline <= 2 or newline > 200:
        return body
    boundary = body[:newline]
    fixed = b"--llm-cost-boundary" if isinstance(body, bytes) else "--llm-cost-boundary"
    return body.replace(boundary, fixed)  # type: ignore[arg-type]


def match_json_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: bodies are equal as JSON (key order and whitespace ignored), multipart bodies
    whatever their boundary, else byte for byte."""
    b1, b2 = _body_of(r1), _body_of(r2)
    if b1 == b2:
        return
    if _without_boundary(b1) == _without_boundary(b2) != b1:
        return
    c1, c2 = _canonical(b1), _canonical(b2)
    if c1 is _NOT_JSON or c2 is _NOT_JSON or c1 != c2:
        raise AssertionError("request bodies differ")


def _header_values(request: Any, name: str) -> frozenset[str]:
    value = request.headers.get(name) if hasattr(request.headers, "get") else None
    if value is None:
        return frozenset()
    values = value if isinstance(value, list) else [value]
    return frozenset(part.strip().lower() for item in values for part in str(item).split(",") if part.strip())


def match_billing_headers(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the beta-feature headers that change what a call bills are the same (in any order)."""
    for name in BILLING_HEADERS:
        if _header_values(r1, name) != _header_values(r2, name):
            raise AssertionError(f"{name} headers differ")


#: Characters kept in a cassette's file name: portable to every filesystem a repository is checked out on.
_UNPORTABLE = re.compile(r"[^A-Za-z0-9._\-\[\]()=,+@ ]")
_NAME_LIMIT = 120


def cassette_path(test_file: Path, test_name: str, class_name: str | None = None) -> Path:
    """``<test file's folder>/cassettes/<test module>/<test name>.yaml``, as pytest-recording names them.

    A name with characters some filesystems refuse (``<>:"/\\|?*``, control characters) or
    longer than 120 characters has them replaced and a short hash of the whole name appended,
    so ``test_x[a/b]`` and ``test_x[a-b]`` never share a file. A cassette recorded under the
    older name (``/`` replaced by ``-`` only) is still used while the new one does not exist.
    """
    name = f"{class_name}.{test_name}" if class_name else test_name
    folder = test_file.parent / "cassettes" / test_file.stem
    safe = _UNPORTABLE.sub("-", name).rstrip(" .")
    if safe != name or len(safe) > _NAME_LIMIT:
        digest = hashlib.sha1(name.encode("utf-8", errors="surrogatepass")).hexdigest()[:8]
        safe = f"{safe[:_NAME_LIMIT].rstrip(' .')}~{digest}"
        path = folder / f"{safe}.yaml"
        legacy = folder / (name.replace("/", "-").replace("\\", "-").replace("\x00", "") + ".yaml")
        if not path.exists() and legacy.exists():
            return legacy
        return path
    return folder / f"{safe}.yaml"


def map_hosts(request: Any, record_hosts: Iterable[tuple[str, str]]) -> Any:
    """The request as if sent to the provider: its URL's longest mapped prefix replaced (``--llm-cost-record-host``).

    Applied to recorded and incoming requests alike (vcrpy filters both before matching), so a
    cassette recorded through a gateway or a local fake holds, and replays, the provider's URL.
    """
    uri = request.uri
    lowered = uri.lower()
    for source, target in record_hosts:  # longest first (options sorted them)
        if lowered.startswith(source.lower()) and (
            len(uri) == len(source) or source.endswith("/") or uri[len(source)] in "/?#"
        ):
            request.uri = target + uri[len(source) :]
            if "host" in request.headers:
                request.headers["host"] = urlsplit(target).netloc
            break
    return request


def use_cassette(
    path: Path,
    record_mode: str,
    config: Mapping[str, Any] | None = None,
    *,
    persister: Any = None,
    record_hosts: Iterable[tuple[str, str]] = (),
) -> AbstractContextManager[Any]:
    """A vcrpy cassette for one test, with LLM-safe defaults that ``config`` may extend.

    ``config`` holds extra ``vcr.VCR`` keyword arguments (the ``llm_cost_vcr_config`` fixture).
    A user's ``before_record_request``/``before_record_response`` run first; secrets are
    stripped after them, always. The cassette is read and written by ``persister`` (a
    :class:`~pytest_llmcost.capture.persister.CassettePersister` by default): atomically, and
    never recorded over when it cannot be read. ``record_hosts`` (``(from, to)`` URL prefixes)
    rewrite each request's URL before anything else sees it: see :func:`map_hosts`.
    """
    import vcr

    from .persister import CassettePersister

    options = dict(config or {})
    user_request = options.pop("before_record_request", None)
    user_response = options.pop("before_record_response", None)
    options.pop("record_mode", None)
    # Names and patterns of the user's own secrets, redacted like the built-in ones.
    names = options.pop("llm_cost_secret_names", ())
    patterns = options.pop("llm_cost_secret_patterns", ())
    scrubber(names, patterns)  # a bad pattern fails here, naming it, before anything is recorded

    hosts = tuple(record_hosts)

    def before_record_request(request: Any) -> Any:
        if hosts:  # first: the user's hook and the scrubbing see the provider's URL
            request = map_hosts(request, hosts)
        if user_request is not None:
            request = user_request(request)
            if request is None:
                return None
        return scrub_request(request, names, patterns)

    def before_record_response(response: Any) -> Any:
        if user_response is not None:
            response = user_response(response)
            if response is None:
                return None
        if getattr(_LOADING, "active", False):  # read back from the file, scrubbed when it was written
            return response
        return scrub_response(response, names, patterns)

    options.setdefault("match_on", MATCH_ON)
    options.setdefault("decode_compressed_response", True)
    if record_mode == "all":
        # vcrpy's "all" keeps the old interactions in the file next to the new ones: a stale
        # answer could then replay later. Re-recording writes only what this run recorded.
        options.setdefault("drop_unused_requests", True)
    recorder = vcr.VCR(
        record_mode=record_mode,
        before_record_request=before_record_request,
        before_record_response=before_record_response,
        **options,
    )
    recorder.register_matcher("llm_cost_body", match_json_body)
    recorder.register_matcher("llm_cost_headers", match_billing_headers)
    recorder.register_persister(persister if persister is not None else CassettePersister())
    from .indexed import IndexedCassette

    # recorder.use_cassette(path), with a cassette that looks requests up by key (linear replay).
    return IndexedCassette.use_arg_getter(functools.partial(recorder.get_merged_config, path=str(path)))  # type: ignore[no-any-return]


# -- tapping what vcrpy plays and records ------------------------------------------------

Sink = Callable[[Exchange, str | None, int | None], None]


def _exchange(request: Any, response: Mapping[str, Any]) -> Exchange:
    status = response.get("status") or {}
    response_body = response.get("body") or {}
    request_body = request.body
    if not isinstance(request_body, (bytes, str, dict, list, type(None))):
        request_body = _body_of(request)  # a file or iterator: read it as vcrpy would
    return Exchange(
        method=request.method,
        url=request.uri,
        request_body=request_body,
        status=int(status.get("code", 200)) if isinstance(status, Mapping) else 200,
        response_body=response_body.get("string") if isinstance(response_body, Mapping) else response_body,
        response_headers=response.get("headers") or {},
    )


class Tap:
    """Patches vcrpy's ``Cassette`` so every interaction played back or recorded reaches ``sink``.

    Playback and recording are the only two ways a response reaches the code under test
    through vcrpy, whatever the HTTP client; loading a cassette reaches neither.
    """

    def __init__(
        self,
        sink: Sink,
        guard: Callable[[Any], None] | None = None,
        settle: Callable[[Any], None] | None = None,
    ) -> None:
        self.sink = sink
        self.guard = guard
        """Called with vcrpy's request just before it goes to the real server; raising stops it."""
        self.settle = settle
        """Called with a request that went to the real server once its response is recorded."""
        self._saved: tuple[Any, Any, Any, Any, Any] | None = None

    @property
    def installed(self) -> bool:
        return self._saved is not None

    def install(self) -> None:
        if self._saved is not None:
            return
        from vcr.cassette import Cassette

        from .indexed import played_position

        original_play, original_append, original_load = Cassette.play_response, Cassette.append, Cassette._load
        original_protected = Cassette.write_protected
        original_can_play = Cassette.can_play_response_for
        sink, guard, settle = self.sink, self.guard, self.settle
        loading: set[int] = set()
        # vcrpy's stubs ask can_play_response_for(request), then write_protected, with no await
        # between: the request about to go live is the last one this thread could not play.
        pending = threading.local()

        def can_play_response_for(cassette: Any, request: Any) -> Any:
            playable = original_can_play(cassette, request)
            if not playable:
                pending.request = request
            return playable

        def play_response(cassette: Any, request: Any) -> Any:
            response = original_play(cassette, request)
            sink(_exchange(request, response), str(cassette._path), played_position(cassette, response))
            return response

        def append(cassette: Any, request: Any, response: Any) -> None:
            before = len(cassette.data)
            original_append(cassette, request, response)
            if id(cassette) in loading:  # vcrpy appends what it loads from the file: nothing was consumed
                return
            if len(cassette.data) > before:  # an ignored host or a hook's None: vcrpy kept nothing, nor do we
                sink(_exchange(request, response), str(cassette._path), before)
            if settle is not None:
                settle(request)

        def load(cassette: Any) -> None:
            loading.add(id(cassette))
            _LOADING.active = True
            try:
                original_load(cassette)
            finally:
                _LOADING.active = False
                loading.discard(id(cassette))

        def write_protected(cassette: Any) -> bool:
            # vcrpy asks this right before it sends a request it could not play back: when the
            # cassette may record, the request is about to reach the real API.
            protected = bool(original_protected.fget(cassette))
            if not protected and guard is not None:
                guard(getattr(pending, "request", None))
            return protected

        Cassette.play_response, Cassette.append, Cassette._load = play_response, append, load
        Cassette.write_protected = property(write_protected)
        Cassette.can_play_response_for = can_play_response_for
        install_log_filter()
        self._saved = (original_play, original_append, original_load, original_protected, original_can_play)

    def uninstall(self) -> None:
        if self._saved is None:
            return
        from vcr.cassette import Cassette

        (
            Cassette.play_response,
            Cassette.append,
            Cassette._load,
            Cassette.write_protected,
            Cassette.can_play_response_for,
        ) = self._saved
        self._saved = None


# -- explaining a cassette miss ----------------------------------------------------------


class CassetteMiss:
    """A request the cassette could not answer, with the closest recorded one."""

    def __init__(self, cassette: Any, request: Any) -> None:
        self.cassette = cassette
        self.request = request

    @property
    def path(self) -> str:
        return str(self.cassette._path)

    def explain(self, nodeid: str, shown_path: str | None = None) -> str:
        """The miss in words: the request, the closest recorded one, and the command that records it.

        ``shown_path`` is how to show the cassette's path (relative to the rootdir, say). No
        credential is shown: the request is compared as the cassette filtered its recordings.
        """
        request = self._filtered()
        mode = getattr(self.cassette.record_mode, "value", self.cassette.record_mode)
        lines = [
            f"LLM request not found in cassette {shown_path or self.path} (record mode '{mode}'):",
            f"  {request.method} {scrub_url(request.uri)}",
        ]
        data = list(self.cassette.data)
        if not data and not Path(self.path).exists():
            lines += [
                "The cassette does not exist yet. Record it (this calls the real API):",
                f"  pytest '{nodeid}' --llm-cost-record-mode=once",
            ]
            return scrub_text("\n".join(lines))
        if not data:
            lines.append("The cassette holds no recorded requests.")
        else:
            lines += self._closest(data)
        lines += [
            "A changed request needs a new recording. Record this test again (this calls the real API):",
            f"  pytest '{nodeid}' --llm-cost-record-mode=all",
        ]
        return scrub_text("\n".join(lines))

    def _filtered(self) -> Any:
        """The request as the cassette filters what it records (the user's hooks, then secrets
        redacted): a changed key is then no difference, and neither key is printed."""
        try:
            filtered = self.cassette.filter_request(self.request)
        except Exception:  # a cassette without filter_request, or a user hook that fails again
            filtered = None
        return scrub_request(filtered if filtered is not None else copy.deepcopy(self.request))

    def _closest(self, data: list[tuple[Any, Any]]) -> list[str]:
        request = self._filtered()
        best: tuple[int, int, int] | None = None
        best_lines: list[str] = []
        for index, (stored, _) in enumerate(data):
            differences: list[str] = []
            if stored.method != request.method:
                differences.append(f"method: recorded {stored.method}, now {request.method}")
            if scrub_url(stored.uri) != scrub_url(request.uri):
                differences.append(f"url: recorded {scrub_url(stored.uri)}, now {scrub_url(request.uri)}")
            body_diffs = list(json_differences(_body_of(stored), _body_of(request)))
            score = (len(differences), len(body_diffs), index)
            if best is None or score < best:
                best = score
                shown = body_diffs[:5]
                best_lines = [
                    f"Closest recorded request: interaction #{index} ({stored.method} {scrub_url(stored.uri)})"
                ]
                best_lines += [f"  {line}" for line in differences]
                best_lines += [f"  body {line}" for line in shown]
                if len(body_diffs) > len(shown):
                    more = len(body_diffs) - len(shown)
                    best_lines.append(f"  ... and {more} more body difference{'s' if more != 1 else ''}")
                if not differences and not body_diffs:
                    played = self.cassette.play_counts.get(index, 0)
                    best_lines.append(
                        f"  it matches, but was already played {played} time{'s' if played != 1 else ''}: "
                        "the test now makes this request more often than when it was recorded"
                    )
        return best_lines


def _short(value: object, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else json.dumps(value)
    text = scrub_text(text)  # before cutting: a cut key no longer looks like one
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_differences(recorded: bytes | str, current: bytes | str) -> Iterator[str]:
    """Human-readable differences between two request bodies (JSON paths when both are JSON)."""
    c1, c2 = _canonical(recorded), _canonical(current)
    if c1 is _NOT_JSON or c2 is _NOT_JSON:
        if recorded != current:
            yield "differs (not JSON)"
        return
    if c1 == c2:
        return
    assert isinstance(c1, str)
    assert isinstance(c2, str)
    yield from _diff(json.loads(c1), json.loads(c2), "")


def _diff(old: Any, new: Any, path: str) -> Iterator[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield f"{sub}: removed (was {_short(old[key])})"
            elif key not in old:
                yield f"{sub}: added {_short(new[key])}"
            elif old[key] != new[key]:
                yield from _diff(old[key], new[key], sub)
        return
    if isinstance(old, list) and isinstance(new, list):
        for position in range(max(len(old), len(new))):
            sub = f"{path}[{position}]"
            if position >= len(new):
                yield f"{sub}: removed (was {_short(old[position])})"
            elif position >= len(old):
                yield f"{sub}: added {_short(new[position])}"
            elif old[position] != new[position]:
                yield from _diff(old[position], new[position], sub)
        return
    yield f"{path or '(root)'}: recorded {_short(old)}, now {_short(new)}"


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and what it wraps (``__cause__``, else ``__context__``): SDKs wrap what vcrpy raises."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def find_miss(exc: BaseException | None) -> CassetteMiss | None:
    """The cassette miss behind an exception, however deep the client wrapped it."""
    for link in exception_chain(exc):
        if type(link).__name__ == "CannotOverwriteExistingCassetteException":
            cassette = getattr(link, "cassette", None)
            request = getattr(link, "failed_request", None)
            if cassette is not None and request is not None:
                return CassetteMiss(cassette, request)
    return None
