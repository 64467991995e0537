"""A loopback fake of the OpenAI, Anthropic and Gemini HTTP APIs.

`FakeProvider` is a threaded HTTP/1.1 server on 127.0.0.1 that speaks the providers' real wire
formats (JSON bodies, SSE streams, usage objects with each provider's semantics), so tests can
drive the real SDKs against it and record cassettes.

Endpoints (any prefix before them is accepted, so Azure's ``/openai/deployments/{name}/...?api-version=``
works too; auth headers and ``key=`` are accepted unchecked):

* ``POST .../chat/completions``: JSON, or SSE chunks ending in ``data: [DONE]``; with
  ``stream_options.include_usage`` every chunk has ``"usage": null`` and an extra last chunk with
  ``choices: []`` carries the usage, otherwise streams carry no usage at all.
* ``POST .../responses``: JSON, or named SSE events ending in ``response.completed`` (or
  ``response.incomplete``) whose ``response.usage`` is the only usage.
* ``POST .../embeddings``: float vectors (``EMBEDDING_DIMENSIONS`` or ``dimensions``), base64
  little-endian float32 when ``encoding_format`` is ``base64`` (the openai SDK's default).
* ``POST .../messages`` and ``.../messages/count_tokens``: Anthropic JSON, or SSE (``message_start``
  with the input side and ``output_tokens: 1``, ``content_block_*``, ``ping``, a cumulative
  ``message_delta`` usage, ``message_stop``).
* ``POST .../models/{model}:generateContent`` / ``:streamGenerateContent`` / ``:countTokens`` and
  ``.../cachedContents``: Gemini. Streams with ``alt=sse`` are SSE (CRLF-separated), otherwise one
  JSON array; each chunk holds a cumulative ``usageMetadata``; zero counts are omitted.

With ``gzip=True`` whole bodies are gzip-encoded when the client accepts gzip (``gzip_streams=True``
does the same for streams). ``reset()`` forgets requests and cache state and restores the
constructor's settings.

Token rules (all deterministic, so tests can compute expected numbers):

* ``count_tokens(text)`` is the number of whitespace-separated words.
* The *text* of a message is every string under the keys ``text``, ``thinking``, ``content``,
  ``output``, ``arguments``, ``parts``, ``tool_calls``, ``function``, ``functionCall`` and
  ``functionResponse`` (recursively), plus the compact JSON of dict values under ``input``,
  ``args`` and ``response`` (tool inputs/results). Images and other binary parts count 0.
* Prompt tokens = sum over messages of ``count_tokens(text) + MESSAGE_OVERHEAD`` (3), plus
  ``TOOL_TOKENS`` (10) per tool definition. A system prompt (OpenAI ``system``/``developer``
  message, Responses ``instructions``, Anthropic ``system``, Gemini ``systemInstruction``) counts
  as one message. ``message_tokens(text)`` gives one message's share.
* Embeddings: prompt tokens = ``count_tokens`` of each input string (no overhead); a pre-tokenised
  input (list of ints) counts its length.

Reply rules:

* The reply is ``"Answer to: "`` + the first ``REPLY_ECHO_WORDS`` (5) words of the last user
  message (``"Answer to:"`` alone when that message has no text).
* ``FakeProvider.reply_words = N`` pads (with ``"lorem"``) or cuts the reply to exactly N words;
  a ``[reply_words=N]`` word in the last user message does the same for one request (it is not
  echoed, but still counts as a prompt token).
  ``FakeProvider.reply_text`` (a string or ``Callable[[Prompt], str]``) replaces the reply.
* Output tokens = reply words + reasoning tokens. Reasoning: OpenAI models whose name starts with
  ``o1``, ``o3``, ``o4`` or ``gpt-5`` (unless reasoning effort is ``"none"``), Anthropic requests
  with ``thinking`` enabled/adaptive and Gemini requests with ``thinkingConfig`` (budget > 0 or -1,
  a ``thinkingLevel`` or ``includeThoughts``; budget 0 disables) spend
  ``FakeProvider.reasoning_tokens`` (16). Anthropic returns them as a ``thinking`` block; Gemini
  adds a ``thought`` part only with ``includeThoughts``; OpenAI Responses adds a ``reasoning`` item.
* An output limit (``max_tokens``, ``max_completion_tokens``, ``max_output_tokens``,
  ``maxOutputTokens``) caps reasoning + reply: reasoning first, then reply words; a cut reply ends
  with the provider's "length" reason (``length``, ``max_tokens``, ``MAX_TOKENS``, an
  ``incomplete`` Responses status).

Caching:

* Anthropic: a block with ``cache_control`` (or a top-level ``cache_control``, which marks the last
  block) is a breakpoint. The longest block prefix already stored (for this model) is read
  (``cache_read_input_tokens``); the prefix up to the last breakpoint beyond it is written
  (``cache_creation_input_tokens``, split into ``ephemeral_5m``/``ephemeral_1h`` by the ``ttl`` of the
  breakpoint ending each segment). ``input_tokens`` = total - read - written. A message's
  overhead belongs to its first block. Breakpoints whose prefix has fewer than
  ``anthropic_cache_min_tokens`` (default 0) tokens are ignored.
* OpenAI (chat and Responses): every message-boundary prefix of a request is remembered; a later
  request reports ``cached_tokens`` = tokens of its longest remembered prefix that leaves out its
  last message, if that prefix has at least ``openai_cache_min_tokens`` (default 1024) tokens.
  Tool definitions sit at the front of the prefix.
* Gemini: ``POST /v1beta/cachedContents`` stores a context; ``cachedContent`` in a request adds its
  tokens to ``promptTokenCount`` and reports them as ``cachedContentTokenCount``.

Errors: a model named ``error-NNN`` (e.g. ``error-400``, ``error-429``) answers HTTP NNN with the
provider's real error body. Ids are derived from a hash of the request body only.

Billed dimensions (each as the real API reports it):

* OpenAI chat: a request's ``service_tier`` of ``flex``, ``priority`` or ``scale`` is echoed as the
  response's ``service_tier`` (otherwise ``default``), in JSON and in every stream chunk.
* Anthropic: each server tool of type ``web_search_*`` in ``tools`` runs one search, reported as
  ``usage.server_tool_use.web_search_requests`` (also in the stream's final ``message_delta``);
  1-hour cache writes come from ``cache_control: {"ttl": "1h"}`` (see Caching).
* ``POST .../v1/fancy``: a 200 JSON answer from an endpoint no reader knows (an unknown endpoint).

Not LLMs, for the secret-scrubbing tests (``aws_credentials`` holds the temporary credentials
both AWS endpoints hand out: ``access_key_id``, ``secret_access_key``, ``session_token``):

* ``GET .../search`` and ``POST .../search`` (a JSON ``{"query": ..., "api_key": ...}`` body, as
  Tavily's): a web-search stand-in.
* ``POST .../sts``: an AWS STS ``AssumeRole`` answer (XML ``<Credentials>``).
* ``GET .../federation/credentials``: an AWS IAM Identity Center (SSO) ``GetRoleCredentials``
  answer (JSON ``roleCredentials``).
* ``.../echo`` (any method): HTTP 401 whose body echoes the full request URL and every request
  header, as some gateways' errors do: JSON, or plain text with ``format=text`` in the query.
"""

from __future__ import annotations

import base64
import contextlib
import gzip as gzip_module
import hashlib
import http
import json
import re
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "CREATED_AT",
    "EMBEDDING_DIMENSIONS",
    "MESSAGE_OVERHEAD",
    "MODEL_SNAPSHOTS",
    "REASONING_TOKENS",
    "REPLY_ECHO_WORDS",
    "TOOL_TOKENS",
    "FakeProvider",
    "Prompt",
    "RecordedRequest",
    "count_tokens",
    "message_tokens",
    "reply_for",
]

MESSAGE_OVERHEAD = 3
"""Tokens added per message (system prompts included)."""
TOOL_TOKENS = 10
"""Flat token cost of one tool definition."""
REASONING_TOKENS = 16
"""Default reasoning/thinking tokens spent by a reasoning request."""
REPLY_ECHO_WORDS = 5
"""How many words of the last user message the default reply echoes."""
EMBEDDING_DIMENSIONS = 8
"""Default embedding vector length (``dimensions`` in the request overrides it)."""
CREATED_AT = 1_735_689_600
"""Fixed creation timestamp (2025-01-01T00:00:00Z) used in every response."""

MODEL_SNAPSHOTS: dict[str, str] = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "o1": "o1-2024-12-17",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
}
"""Requested model -> dated snapshot reported in OpenAI/Anthropic responses (others echo back)."""

_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
_REPLY_WORDS_DIRECTIVE = re.compile(r"^\[reply_words=(\d+)\]$")
_ERROR_MODEL = re.compile(r"^error-(\d{3})$")
_GEMINI_PATH = re.compile(r"/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
_AZURE_DEPLOYMENT = re.compile(r"/openai/deployments/(?P<deployment>[^/]+)/")
_TEXT_KEYS = (
    "text",
    "thinking",
    "content",
    "output",
    "arguments",
    "parts",
    "tool_calls",
    "function",
    "functionCall",
    "functionResponse",
    "function_call",
    "function_response",
)
_JSON_KEYS = ("input", "args", "response")
_SSE = "text/event-stream; charset=utf-8"
_JSON = "application/json"


def count_tokens(text: str) -> int:
    """Token count used everywhere by the fake: the number of whitespace-separated words."""
    return len(text.split())


def message_tokens(text: str) -> int:
    """Prompt tokens one message with this text costs (words + ``MESSAGE_OVERHEAD``)."""
    return count_tokens(text) + MESSAGE_OVERHEAD


def _texts(value: Any) -> Iterator[str]:
    """Yield the countable text of a message, content block, part or item."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for key in _TEXT_KEYS:
            if key in value:
                yield from _texts(value[key])
        for key in _JSON_KEYS:
            inner = value.get(key)
            if isinstance(inner, str):
                yield inner
            elif isinstance(inner, dict | list):
                yield json.dumps(inner, separators=(",", ":"))


def _text_tokens(value: Any) -> int:
    return sum(count_tokens(t) for t in _texts(value))


def _plain_text(value: Any) -> str:
    return " ".join(t for t in _texts(value) if t)


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()


def _canonical(value: Any) -> str:
    """JSON of a value with ``cache_control`` markers removed (so moving a breakpoint keeps the hash)."""

    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "cache_control"}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return json.dumps(strip(value), sort_keys=True, separators=(",", ":"))


def _snapshot(model: str) -> str:
    return MODEL_SNAPSHOTS.get(model, model)


def _first(mapping: Any, *keys: str) -> Any:
    """First present key among camelCase/snake_case spellings."""
    if not isinstance(mapping, dict):
        return None
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return mapping[key]
    return None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """First value of a header, matched case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def query_params(self) -> dict[str, list[str]]:
        """The query string parsed into lists of values."""
        return parse_qs(self.query, keep_blank_values=True)

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class Prompt:
    """What the fake understood of a generation request (passed to ``reply_text`` callables)."""

    api: Literal["openai-chat", "openai-responses", "anthropic", "gemini"]
    model: str
    body: dict[str, Any]
    last_user_text: str
    prompt_tokens: int


@dataclass
class _Completion:
    words: list[str]
    reasoning_tokens: int
    truncated: bool

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def output_tokens(self) -> int:
        return len(self.words) + self.reasoning_tokens


def reply_for(last_user_text: str, reply_words: int | None = None) -> str:
    """The default reply for a last user message (``reply_words`` pads or cuts it)."""
    words = last_user_text.split()
    directive = next((m for w in words if (m := _REPLY_WORDS_DIRECTIVE.match(w))), None)
    echoed = [w for w in words if not _REPLY_WORDS_DIRECTIVE.match(w)][:REPLY_ECHO_WORDS]
    reply = ["Answer", "to:", *echoed]
    if directive is not None:
        reply_words = int(directive.group(1))
    if reply_words is not None:
        reply = (reply + ["lorem"] * reply_words)[:reply_words]
    return " ".join(reply)


class _Error(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: Iterable[bytes] | None = None


@dataclass
class _Cache:
    anthropic: set[str] = field(default_factory=set)
    openai: set[str] = field(default_factory=set)
    gemini: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeProvider:
    """Loopback fake LLM provider (OpenAI, Azure OpenAI, Anthropic, Gemini); see the module docstring."""

    def __init__(
        self,
        *,
        gzip: bool = False,
        gzip_streams: bool = False,
        reply_words: int | None = None,
        reply_text: str | Callable[[Prompt], str] | None = None,
        reasoning_tokens: int = REASONING_TOKENS,
        openai_cache_min_tokens: int = 1024,
        anthropic_cache_min_tokens: int = 0,
        aws_credentials: dict[str, str] | None = None,
    ) -> None:
        self.gzip = gzip
        self.gzip_streams = gzip_streams
        self.reply_words = reply_words
        self.reply_text = reply_text
        self.reasoning_tokens = reasoning_tokens
        self.openai_cache_min_tokens = openai_cache_min_tokens
        self.anthropic_cache_min_tokens = anthropic_cache_min_tokens
        self.aws_credentials = aws_credentials or {
            "access_key_id": "ASIA" + "FAKE" * 4,
            "secret_access_key": "fake/secret/access/key/" + "0" * 17,
            "session_token": "FwoGZXIvYXdzEFAKE" + "0" * 40,
        }
        self._settings = dict(vars(self))
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._cache = _Cache()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeProvider:
        """Bind an ephemeral port on 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.provider = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm-provider", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join all server threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53111`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakeProvider is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset(self) -> None:
        """Forget received requests and cache state, and restore the constructor's settings."""
        with self._lock:
            self.requests.clear()
            self._cache = _Cache()
            for name, value in self._settings.items():
                setattr(self, name, value)

    # -- request handling ------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handle(self, request: RecordedRequest) -> _Response:
        path = request.path.rstrip("/") or "/"
        if path.endswith("/search") and request.method in ("GET", "POST"):
            # A stand-in for a web-search API: not an LLM, priced per request by a local price file.
            if request.method == "GET":
                query = request.query_params.get("q", [""])[0]
            else:
                query = str(self._json_body(request).get("query", ""))
            hits = [{"title": f"Result {n} for {query}", "url": f"https://example.org/{n}"} for n in range(3)]
            return _json_response(200, {"query": query, "results": hits}, [], compact=True)
        if path.endswith("/sts") and request.method == "POST":
            return self._sts_assume_role()
        if path.endswith("/federation/credentials") and request.method == "GET":
            return self._sso_role_credentials()
        if path.endswith("/v1/fancy") and request.method == "POST":
            return _json_response(200, {"object": "fancy", "ok": True}, [])
        if path.endswith("/echo"):
            return self._echo(request)
        api = self._api_for(path)
        try:
            if api == "gemini-caches":
                return self._gemini_caches(request, path)
            body = self._json_body(request)
            if api == "gemini":
                match = _GEMINI_PATH.search(path)
                assert match is not None
                return self._gemini(request, body, unquote(match["model"]), match["method"])
            if api is None or request.method != "POST":
                raise _Error(404, f"Unknown endpoint {request.method} {request.path}")
            model = self._model_of(path, body)
            if (m := _ERROR_MODEL.match(model)) is not None:
                raise _Error(int(m.group(1)), f"Fake error requested by model {model!r}.")
            if api == "anthropic":
                return self._anthropic(body, model)
            if api == "anthropic-count":
                tokens = {"input_tokens": self._anthropic_blocks(body)[1]}
                return _json_response(200, tokens, _anthropic_headers(body), compact=True)
            if api == "openai-chat":
                return self._openai_chat(body, model)
            if api == "openai-responses":
                return self._openai_responses(body, model)
            return self._openai_embeddings(body, model)
        except _Error as err:
            return _error_response(api, err, request.body)

    # -- not LLMs: AWS credential endpoints and an echoing error -----------------------------------

    def _sts_assume_role(self) -> _Response:
        credentials = self.aws_credentials
        xml = (
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
            "  <AssumeRoleResult>\n"
            "    <AssumedRoleUser>\n"
            "      <AssumedRoleId>AROAFAKEROLEID:session</AssumedRoleId>\n"
            "      <Arn>arn:aws:sts::123456789012:assumed-role/fake-role/session</Arn>\n"
            "    </AssumedRoleUser>\n"
            "    <Credentials>\n"
            f"      <AccessKeyId>{credentials['access_key_id']}</AccessKeyId>\n"
            f"      <SecretAccessKey>{credentials['secret_access_key']}</SecretAccessKey>\n"
            f"      <SessionToken>{credentials['session_token']}</SessionToken>\n"
            "      <Expiration>2025-01-01T01:00:00Z</Expiration>\n"
            "    </Credentials>\n"
            "  </AssumeRoleResult>\n"
            "  <ResponseMetadata><RequestId>00000000-0000-4000-8000-000000000515</RequestId></ResponseMetadata>\n"
            "</AssumeRoleResponse>\n"
        )
        return _Response(200, [("content-type", "text/xml"), ("x-amzn-requestid", "fake-sts")], xml.encode())

    def _sso_role_credentials(self) -> _Response:
        credentials = self.aws_credentials
        payload = {
            "roleCredentials": {
                "accessKeyId": credentials["access_key_id"],
                "secretAccessKey": credentials["secret_access_key"],
                "sessionToken": credentials["session_token"],
                "expiration": (CREATED_AT + 3600) * 1000,
            }
        }
        return _json_response(200, payload, [("x-amzn-requestid", "fake-sso")], compact=True)

    @staticmethod
    def _echo(request: RecordedRequest) -> _Response:
        host = request.header("host") or "127.0.0.1"
        url = f"http://{host}{request.path}" + (f"?{request.query}" if request.query else "")
        headers = dict(request.headers)
        if "text" in request.query_params.get("format", []):
            lines = [f"Unauthorized: {request.method} {url}", *(f"{name}: {value}" for name, value in headers.items())]
            return _Response(401, [("content-type", "text/plain")], ("\n".join(lines) + "\n").encode())
        payload = {"error": {"message": f"Invalid credentials for {request.method} {url}", "headers": headers}}
        return _json_response(401, payload, [])

    @staticmethod
    def _api_for(path: str) -> str | None:
        if path.endswith("/messages/count_tokens"):
            return "anthropic-count"
        if path.endswith("/messages"):
            return "anthropic"
        if path.endswith("/chat/completions"):
            return "openai-chat"
        if path.endswith("/responses"):
            return "openai-responses"
        if path.endswith("/embeddings"):
            return "openai-embeddings"
        if re.search(r"/cachedContents(/[^/]+)?$", path):
            return "gemini-caches"
        if _GEMINI_PATH.search(path):
            return "gemini"
        return None

    @staticmethod
    def _json_body(request: RecordedRequest) -> dict[str, Any]:
        if not request.body:
            return {}
        try:
            body = json.loads(request.body)
        except ValueError as exc:
            raise _Error(400, f"Invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise _Error(400, "The request body must be a JSON object.")
        return body

    @staticmethod
    def _model_of(path: str, body: dict[str, Any]) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            deployment = _AZURE_DEPLOYMENT.search(path + "/")
            if deployment is None:
                raise _Error(400, "you must provide a model parameter")
            model = deployment["deployment"]
        return model

    def _complete(self, prompt: Prompt, *, reasoning: bool, limit: Any) -> _Completion:
        if self.reply_text is not None:
            text = self.reply_text if isinstance(self.reply_text, str) else self.reply_text(prompt)
            words = text.split()
        else:
            words = reply_for(prompt.last_user_text, self.reply_words).split()
        reasoning_tokens = self.reasoning_tokens if reasoning else 0
        truncated = False
        if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
            reasoning_tokens = min(reasoning_tokens, limit)
            room = limit - reasoning_tokens
            if len(words) > room:
                words, truncated = words[:room], True
        return _Completion(words, reasoning_tokens, truncated)

    # -- OpenAI ----------------------------------------------------------------------------------

    def _openai_cached(self, model: str, tools: Any, items: list[Any], item_tokens: list[int]) -> int:
        """Remember every message-boundary prefix; return the tokens of the longest one seen before."""
        tool_list = tools if isinstance(tools, list) else []
        prefix_tokens = TOOL_TOKENS * len(tool_list)
        keys: list[tuple[str, int]] = []
        running = hashlib.sha256(f"{model}\x00{_canonical(tool_list)}".encode())
        for item, tokens in zip(items, item_tokens, strict=True):
            running.update(b"\x00" + _canonical(item).encode())
            prefix_tokens += tokens
            keys.append((running.copy().hexdigest(), prefix_tokens))
        with self._lock:
            cached = 0
            for key, tokens in keys[:-1]:
                if key in self._cache.openai and tokens >= self.openai_cache_min_tokens:
                    cached = tokens
            self._cache.openai.update(key for key, _ in keys)
        return cached

    @staticmethod
    def _openai_reasoning(model: str, effort: Any) -> bool:
        return model.startswith(_REASONING_PREFIXES) and effort != "none"

    def _openai_chat(self, body: dict[str, Any], model: str) -> _Response:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Error(400, "'messages' must contain at least one message.")
        tools = body.get("tools") or []
        item_tokens = [_text_tokens(m) + MESSAGE_OVERHEAD for m in messages]
        prompt_tokens = sum(item_tokens) + TOOL_TOKENS * len(tools)
        last_user = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
        prompt = Prompt("openai-chat", model, body, _plain_text(last_user.get("content")), prompt_tokens)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        completion = self._complete(
            prompt, reasoning=self._openai_reasoning(model, body.get("reasoning_effort")), limit=limit
        )
        cached = self._openai_cached(model, tools, messages, item_tokens)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion.output_tokens,
            "total_tokens": prompt_tokens + completion.output_tokens,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": completion.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        raw = json.dumps(body, sort_keys=True)
        base = {
            "id": "chatcmpl-" + _digest("chat", raw)[:29],
            "created": CREATED_AT,
            "model": _snapshot(model),
            "service_tier": body["service_tier"]
            if body.get("service_tier") in ("flex", "priority", "scale")
            else "default",
            "system_fingerprint": "fp_" + _digest("fp", model)[:10],
        }
        finish = "length" if completion.truncated else "stop"
        headers = _openai_headers(raw)
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": completion.text, "refusal": None}
            message["annotations"] = []
            payload = {
                "id": base["id"],
                "object": "chat.completion",
                "created": base["created"],
                "model": base["model"],
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage,
                "service_tier": base["service_tier"],
                "system_fingerprint": base["system_fingerprint"],
            }
            return _json_response(200, payload, headers)

        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))

        def chunk(choices: list[dict[str, Any]], usage_value: Any = None) -> bytes:
            data: dict[str, Any] = {"id": base["id"], "object": "chat.completion.chunk", **base, "choices": choices}
            if include_usage:
                data["usage"] = usage_value
            return _sse(data)

        def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

        def events() -> Iterator[bytes]:
            yield chunk([choice({"role": "assistant", "content": "", "refusal": None})])
            for piece in _pieces(completion.words, 1):
                yield chunk([choice({"content": piece})])
            yield chunk([choice({}, finish)])
            if include_usage:
                yield chunk([], usage)
            yield b"data: [DONE]\n\n"

        return _Response(200, [("content-type", _SSE), *headers], stream=events())

    def _openai_responses(self, body: dict[str, Any], model: str) -> _Response:
        raw_input = body.get("input")
        items: list[Any] = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else []
        if isinstance(raw_input, list):
            items = list(raw_input)
        instructions = body.get("instructions")
        if isinstance(instructions, str) and instructions:
            items.insert(0, {"role": "developer", "content": instructions})
        if not items:
            raise _Error(400, "Missing required parameter: 'input'.")
        tools = body.get("tools") or []
        item_tokens = [_text_tokens(item) + MESSAGE_OVERHEAD for item in items]
        prompt_tokens = sum(item_tokens) + TOOL_TOKENS * len(tools)
        last_user = next(
            (i for i in reversed(items) if isinstance(i, dict) and i.get("role", "user") == "user" and "content" in i),
            {},
        )
        prompt = Prompt("openai-responses", model, body, _plain_text(last_user.get("content")), prompt_tokens)
        reasoning_cfg = body.get("reasoning")
        effort = reasoning_cfg.get("effort") if isinstance(reasoning_cfg, dict) else None
        reasoning = self._openai_reasoning(model, effort)
        completion = self._complete(prompt, reasoning=reasoning, limit=body.get("max_output_tokens"))
        cached = self._openai_cached(model, tools, items, item_tokens)
        usage = {
            "input_tokens": prompt_tokens,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": completion.output_tokens,
            "output_tokens_details": {"reasoning_tokens": completion.reasoning_tokens},
            "total_tokens": prompt_tokens + completion.output_tokens,
        }
        raw = json.dumps(body, sort_keys=True)
        digest = _digest("responses", raw)
        response_id, message_id, reasoning_id = f"resp_{digest[:48]}", f"msg_{digest[8:56]}", f"rs_{digest[16:64]}"
        status = "incomplete" if completion.truncated else "completed"
        text_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": completion.text}
        reasoning_item = {"id": reasoning_id, "type": "reasoning", "summary": []}
        message_item = {
            "id": message_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [text_part],
        }
        output = ([reasoning_item] if reasoning else []) + [message_item]

        def envelope(state: str, out: list[Any], usage_value: Any) -> dict[str, Any]:
            return {
                "id": response_id,
                "object": "response",
                "created_at": CREATED_AT,
                "status": state,
                "background": False,
                "error": None,
                "incomplete_details": {"reason": "max_output_tokens"} if state == "incomplete" else None,
                "instructions": instructions,
                "max_output_tokens": body.get("max_output_tokens"),
                "model": _snapshot(model),
                "output": out,
                "parallel_tool_calls": body.get("parallel_tool_calls", True),
                "previous_response_id": body.get("previous_response_id"),
                "reasoning": {"effort": effort, "summary": None},
                "service_tier": "default",
                "store": body.get("store", True),
                "temperature": body.get("temperature", 1.0),
                "text": body.get("text") or {"format": {"type": "text"}},
                "tool_choice": body.get("tool_choice", "auto"),
                "tools": tools,
                "top_p": body.get("top_p", 1.0),
                "truncation": body.get("truncation", "disabled"),
                "usage": usage_value,
                "user": None,
                "metadata": body.get("metadata") or {},
            }

        headers = _openai_headers(raw)
        if not body.get("stream"):
            return _json_response(200, envelope(status, output, usage), headers)

        def events() -> Iterator[bytes]:
            seq = 0

            def event(kind: str, **data: Any) -> bytes:
                nonlocal seq
                payload = {"type": kind, "sequence_number": seq, **data}
                seq += 1
                return _sse(payload, kind)

            yield event("response.created", response=envelope("in_progress", [], None))
            yield event("response.in_progress", response=envelope("in_progress", [], None))
            index = 0
            if reasoning:
                yield event("response.output_item.added", output_index=0, item=reasoning_item)
                yield event("response.output_item.done", output_index=0, item=reasoning_item)
                index = 1
            ids = {"item_id": message_id, "output_index": index, "content_index": 0}
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**message_item, "status": "in_progress", "content": []},
            )
            yield event("response.content_part.added", **ids, part={**text_part, "text": ""})
            for piece in _pieces(completion.words, 1):
                yield event("response.output_text.delta", **ids, delta=piece, logprobs=[])
            yield event("response.output_text.done", **ids, text=completion.text, logprobs=[])
            yield event("response.content_part.done", **ids, part=text_part)
            yield event("response.output_item.done", output_index=index, item=message_item)
            yield event(f"response.{status}", response=envelope(status, output, usage))

        return _Response(200, [("content-type", _SSE), *headers], stream=events())

    def _openai_embeddings(self, body: dict[str, Any], model: str) -> _Response:
        raw_input = body.get("input")
        if isinstance(raw_input, str) or (
            isinstance(raw_input, list) and raw_input and all(isinstance(x, int) for x in raw_input)
        ):
            inputs: list[Any] = [raw_input]
        elif isinstance(raw_input, list) and raw_input:
            inputs = raw_input
        else:
            raise _Error(400, "'input' must be a non-empty string or array.")
        dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
        encoding = body.get("encoding_format", "float")
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            tokens += count_tokens(item) if isinstance(item, str) else len(item)
            vector = _vector(json.dumps(item), dimensions)
            embedding: Any = vector
            if encoding == "base64":
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        payload = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return _json_response(200, payload, _openai_headers(json.dumps(body, sort_keys=True)))

    # -- Anthropic -------------------------------------------------------------------------------

    def _anthropic_blocks(self, body: dict[str, Any]) -> tuple[list[tuple[Any, int, dict[str, Any] | None]], int]:
        """Flatten tools, system and messages into (block, tokens, cache_control) triples."""
        blocks: list[tuple[Any, int, dict[str, Any] | None]] = []
        for tool in body.get("tools") or []:
            blocks.append((tool, TOOL_TOKENS, tool.get("cache_control") if isinstance(tool, dict) else None))
        system = body.get("system")
        if system:
            sys_blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
            for i, block in enumerate(sys_blocks):
                tokens = _text_tokens(block) + (MESSAGE_OVERHEAD if i == 0 else 0)
                blocks.append((("system", block), tokens, _cache_control_of(block)))
        for message in body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            role = message.get("role") if isinstance(message, dict) else None
            msg_blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [{}])
            for i, block in enumerate(msg_blocks):
                tokens = _text_tokens(block) + (MESSAGE_OVERHEAD if i == 0 else 0)
                blocks.append(((role, block), tokens, _cache_control_of(block)))
        auto = body.get("cache_control")
        if isinstance(auto, dict) and blocks and blocks[-1][2] is None:
            last = blocks[-1]
            blocks[-1] = (last[0], last[1], auto)
        return blocks, sum(tokens for _, tokens, _ in blocks)

    def _anthropic_cache(self, model: str, blocks: list[tuple[Any, int, dict[str, Any] | None]]) -> dict[str, int]:
        """Apply the prompt-cache rules; return read/5m/1h token counts."""
        cumulative: list[int] = []
        keys: list[str] = []
        running = hashlib.sha256(model.encode())
        total = 0
        for block, tokens, _ in blocks:
            total += tokens
            running.update(b"\x00" + _canonical(block).encode())
            cumulative.append(total)
            keys.append(running.copy().hexdigest())
        breakpoints = [
            i
            for i, (_, _, cc) in enumerate(blocks)
            if cc is not None and cumulative[i] >= self.anthropic_cache_min_tokens
        ]
        result = {"read": 0, "5m": 0, "1h": 0}
        if not breakpoints:
            return result
        with self._lock:
            read_index = next((i for i in range(breakpoints[-1], -1, -1) if keys[i] in self._cache.anthropic), -1)
            if read_index >= 0:
                result["read"] = cumulative[read_index]
            start = result["read"]
            for i in breakpoints:
                if i <= read_index:
                    continue
                cc = blocks[i][2] or {}
                ttl = "1h" if cc.get("ttl") == "1h" else "5m"
                result[ttl] += cumulative[i] - start
                start = cumulative[i]
                self._cache.anthropic.add(keys[i])
        return result

    def _anthropic(self, body: dict[str, Any], model: str) -> _Response:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Error(400, "messages: at least one message is required")
        if not isinstance(body.get("max_tokens"), int):
            raise _Error(400, "max_tokens: Field required")
        blocks, prompt_tokens = self._anthropic_blocks(body)
        last_user = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
        prompt = Prompt("anthropic", model, body, _plain_text(last_user.get("content")), prompt_tokens)
        thinking_cfg = body.get("thinking")
        thinking = isinstance(thinking_cfg, dict) and thinking_cfg.get("type") in ("enabled", "adaptive")
        completion = self._complete(prompt, reasoning=thinking, limit=body.get("max_tokens"))
        cache = self._anthropic_cache(model, blocks)
        written = cache["5m"] + cache["1h"]
        input_tokens = prompt_tokens - cache["read"] - written
        usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": cache["read"],
            "cache_creation": {"ephemeral_5m_input_tokens": cache["5m"], "ephemeral_1h_input_tokens": cache["1h"]},
            "output_tokens": completion.output_tokens,
            "service_tier": "standard",
            "inference_geo": "not_available",
        }
        searches = sum(
            1
            for tool in body.get("tools") or ()
            if isinstance(tool, dict) and str(tool.get("type")).startswith("web_search")
        )
        if searches:
            usage["server_tool_use"] = {"web_search_requests": searches}
        raw = json.dumps(body, sort_keys=True)
        digest = _digest("anthropic", raw)
        message_id = "msg_01" + _b62(digest, 22)
        signature = base64.b64encode(bytes.fromhex(digest)).decode()
        thinking_words = ["Thinking", "about:", *prompt.last_user_text.split()]
        thinking_words = (thinking_words + ["hmm"] * completion.reasoning_tokens)[: completion.reasoning_tokens]
        thinking_text = " ".join(thinking_words)
        stop_reason = "max_tokens" if completion.truncated else "end_turn"
        content: list[dict[str, Any]] = []
        if thinking:
            content.append({"type": "thinking", "thinking": thinking_text, "signature": signature})
        content.append({"type": "text", "text": completion.text})
        message = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": _snapshot(model),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        headers = _anthropic_headers(body)
        if not body.get("stream"):
            return _json_response(200, message, headers, compact=True)

        def events() -> Iterator[bytes]:
            start_usage = {**usage, "output_tokens": min(1, completion.output_tokens)}
            start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
            yield _sse({"type": "message_start", "message": start}, "message_start")
            index = 0
            if thinking:
                block = {"type": "thinking", "thinking": "", "signature": ""}
                yield _sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start")
                yield _sse({"type": "ping"}, "ping")
                for piece in _pieces(thinking_words, 1):
                    delta = {"type": "thinking_delta", "thinking": piece}
                    yield _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
                delta = {"type": "signature_delta", "signature": signature}
                yield _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
                yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
                index = 1
            block = {"type": "text", "text": ""}
            yield _sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")
            if not thinking:
                yield _sse({"type": "ping"}, "ping")
            for piece in _pieces(completion.words, 1):
                delta = {"type": "text_delta", "text": piece}
                yield _sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
            yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            final_usage = {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": written,
                "cache_read_input_tokens": cache["read"],
                "output_tokens": completion.output_tokens,
            }
            if searches:
                final_usage["server_tool_use"] = {"web_search_requests": searches}
            stop: dict[str, Any] = {"stop_reason": stop_reason, "stop_sequence": None}
            yield _sse({"type": "message_delta", "delta": stop, "usage": final_usage}, "message_delta")
            yield _sse({"type": "message_stop"}, "message_stop")

        return _Response(200, [("content-type", _SSE), *headers], stream=events())

    # -- Gemini ----------------------------------------------------------------------------------

    def _gemini_prompt_tokens(self, body: dict[str, Any]) -> int:
        tokens = 0
        system = _first(body, "systemInstruction", "system_instruction")
        if system:
            tokens += _text_tokens(system if isinstance(system, dict) else {"parts": system}) + MESSAGE_OVERHEAD
        for content in body.get("contents") or []:
            tokens += _text_tokens(content) + MESSAGE_OVERHEAD
        for tool in body.get("tools") or []:
            declarations = _first(tool, "functionDeclarations", "function_declarations")
            tokens += TOOL_TOKENS * (len(declarations) if isinstance(declarations, list) else 1)
        return tokens

    def _gemini_caches(self, request: RecordedRequest, path: str) -> _Response:
        headers = _gemini_headers()
        match = re.search(r"/(cachedContents/[^/]+)$", path)
        if match is None:
            if request.method == "GET":
                with self._lock:
                    listing = list(self._cache.gemini.values())
                return _json_response(200, {"cachedContents": listing}, headers)
            if request.method != "POST":
                raise _Error(404, "Unknown endpoint")
            body = self._json_body(request)
            tokens = self._gemini_prompt_tokens(body)
            name = "cachedContents/" + _digest("cache", request.body)[:12]
            created: dict[str, Any] = {
                "name": name,
                "model": body.get("model"),
                "displayName": _first(body, "displayName", "display_name") or "",
                "createTime": "2025-01-01T00:00:00.000000Z",
                "updateTime": "2025-01-01T00:00:00.000000Z",
                "expireTime": "2025-01-01T01:00:00.000000Z",
                "usageMetadata": {"totalTokenCount": tokens},
            }
            with self._lock:
                self._cache.gemini[name] = created
            return _json_response(200, created, headers)
        name = match.group(1)
        with self._lock:
            entry = self._cache.gemini.get(name)
            if entry is not None and request.method == "DELETE":
                del self._cache.gemini[name]
        if entry is None:
            raise _Error(404, f"CachedContent not found (or permission denied): {name}")
        return _json_response(200, {} if request.method == "DELETE" else entry, headers)

    def _gemini(self, request: RecordedRequest, body: dict[str, Any], model: str, method: str) -> _Response:
        if (m := _ERROR_MODEL.match(model)) is not None:
            raise _Error(int(m.group(1)), f"Fake error requested by model {model!r}.")
        headers = _gemini_headers()
        prompt_tokens = self._gemini_prompt_tokens(body)
        cached = 0
        cache_name = _first(body, "cachedContent", "cached_content")
        if isinstance(cache_name, str):
            with self._lock:
                entry = self._cache.gemini.get(cache_name)
            if entry is None:
                raise _Error(403, f"CachedContent not found (or permission denied): {cache_name}")
            cached = entry["usageMetadata"]["totalTokenCount"]
            prompt_tokens += cached
        if method == "countTokens":
            inner = body.get("generateContentRequest") or body
            total = self._gemini_prompt_tokens(inner)
            details = [{"modality": "TEXT", "tokenCount": total}]
            return _json_response(200, {"totalTokens": total, "promptTokensDetails": details}, headers)
        if method not in ("generateContent", "streamGenerateContent"):
            raise _Error(404, f"Method {method} is not supported by the fake.")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise _Error(400, "* GenerateContentRequest.contents: contents is not specified")
        last_user = next((c for c in reversed(contents) if isinstance(c, dict) and c.get("role", "user") == "user"), {})
        prompt = Prompt("gemini", model, body, _plain_text(last_user.get("parts")), prompt_tokens)
        config = _first(body, "generationConfig", "generation_config") or {}
        thinking_cfg = _first(config, "thinkingConfig", "thinking_config")
        budget = _first(thinking_cfg, "thinkingBudget", "thinking_budget")
        level = _first(thinking_cfg, "thinkingLevel", "thinking_level")
        include_thoughts = bool(_first(thinking_cfg, "includeThoughts", "include_thoughts"))
        thinking = isinstance(thinking_cfg, dict) and (
            (isinstance(budget, int) and (budget > 0 or budget == -1)) or level is not None or include_thoughts
        )
        if isinstance(budget, int) and budget == 0:
            thinking = False
        completion = self._complete(
            prompt, reasoning=thinking, limit=_first(config, "maxOutputTokens", "max_output_tokens")
        )
        response_id = _b62(_digest("gemini", request.body, model), 22)
        finish = "MAX_TOKENS" if completion.truncated else "STOP"

        def usage(candidates: int) -> dict[str, Any]:
            meta: dict[str, Any] = {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": candidates,
                "totalTokenCount": prompt_tokens + candidates + completion.reasoning_tokens,
                "cachedContentTokenCount": cached,
                "thoughtsTokenCount": completion.reasoning_tokens,
            }
            meta = {k: v for k, v in meta.items() if v}
            meta["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt_tokens}]
            if cached:
                meta["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
            if candidates:
                meta["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": candidates}]
            return meta

        thought_part = {"text": f"Thinking about: {prompt.last_user_text}".strip(), "thought": True}

        def response(parts: list[dict[str, Any]], candidates: int, done: bool) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
            if done:
                candidate["finishReason"] = finish
            candidate["index"] = 0
            return {
                "candidates": [candidate],
                "usageMetadata": usage(candidates),
                "modelVersion": model,
                "responseId": response_id,
            }

        if method == "generateContent":
            parts = ([thought_part] if thinking and include_thoughts else []) + [{"text": completion.text}]
            return _json_response(
                200, response(parts, len(completion.words), True), headers, "application/json; charset=UTF-8"
            )

        chunks: list[dict[str, Any]] = []
        if thinking and include_thoughts:
            chunks.append(response([thought_part], 0, False))
        pieces = list(_pieces(completion.words, 3)) or [""]
        produced = 0
        for i, piece in enumerate(pieces):
            produced += len(piece.split())
            chunks.append(response([{"text": piece}], produced, i == len(pieces) - 1))
        if "sse" in request.query_params.get("alt", []):
            stream: Iterator[bytes] = (b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)
            return _Response(200, [("content-type", "text/event-stream"), *headers], stream=stream)

        def array() -> Iterator[bytes]:
            for i, item in enumerate(chunks):
                yield (b"[" if i == 0 else b",\r\n") + json.dumps(item, indent=2).encode()
            yield b"]"

        return _Response(200, [("content-type", "application/json; charset=UTF-8"), *headers], stream=array())


def _cache_control_of(block: Any) -> dict[str, Any] | None:
    cc = block.get("cache_control") if isinstance(block, dict) else None
    return cc if isinstance(cc, dict) else None


def _pieces(words: list[str], per: int) -> Iterator[str]:
    """Stream pieces: ``per`` words each, later pieces with a leading space."""
    for i in range(0, len(words), per):
        text = " ".join(words[i : i + per])
        yield text if i == 0 else " " + text


def _vector(seed: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(seed.encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 256 for b in digest[:dimensions]]  # exact in float32, so base64 round-trips


def _b62(hex_digest: str, length: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = int(hex_digest, 16)
    out = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        out.append(alphabet[rem])
    return "".join(out)


def _sse(data: Any, event: str | None = None) -> bytes:
    text = json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "").encode() + f"data: {text}\n\n".encode()


def _json_response(
    status: int, payload: Any, headers: list[tuple[str, str]], content_type: str = _JSON, *, compact: bool = False
) -> _Response:
    """A whole JSON response: pretty-printed like OpenAI and Gemini, or compact like Anthropic."""
    text = json.dumps(payload, separators=(",", ":")) if compact else json.dumps(payload, indent=2)
    return _Response(status, [("content-type", content_type), *headers], text.encode())


def _openai_headers(seed: str) -> list[tuple[str, str]]:
    return [
        ("openai-organization", "fake-org-123"),
        ("openai-project", "proj_FAKE123"),
        ("openai-version", "2020-10-01"),
        ("openai-processing-ms", "1"),
        ("x-request-id", "req_" + _digest("req", seed)[:32]),
        ("set-cookie", "__cf_bm=fake-cf-bm-cookie; path=/; HttpOnly; Secure; SameSite=None"),
        ("set-cookie", "_cfuvid=fake-cfuvid-cookie; path=/; HttpOnly; Secure; SameSite=None"),
    ]


def _anthropic_headers(body: Any) -> list[tuple[str, str]]:
    seed = json.dumps(body, sort_keys=True)
    return [
        ("request-id", "req_011C" + _b62(_digest("anthropic-req", seed), 20)),
        ("anthropic-organization-id", "00000000-0000-4000-8000-00000000fa6e"),
        ("anthropic-ratelimit-requests-limit", "4000"),
        ("anthropic-ratelimit-requests-remaining", "3999"),
    ]


def _gemini_headers() -> list[tuple[str, str]]:
    return [("vary", "Origin, X-Origin, Referer"), ("server-timing", "gfet4t7; dur=1")]


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_GEMINI_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_OPENAI_ERRORS = {
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def _error_response(api: str | None, err: _Error, raw_body: bytes) -> _Response:
    status = err.status
    if api in ("anthropic", "anthropic-count"):
        error_type = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        request_id = "req_011C" + _b62(_digest("anthropic-err", raw_body), 20)
        payload: dict[str, Any] = {
            "type": "error",
            "error": {"type": error_type, "message": err.message},
            "request_id": request_id,
        }
        headers = [("request-id", request_id), ("anthropic-organization-id", "00000000-0000-4000-8000-00000000fa6e")]
        return _json_response(status, payload, headers, compact=True)
    if api in ("gemini", "gemini-caches"):
        payload = {"error": {"code": status, "message": err.message, "status": _GEMINI_STATUSES.get(status, "UNKNOWN")}}
        return _json_response(status, payload, _gemini_headers(), "application/json; charset=UTF-8")
    error_type, code = _OPENAI_ERRORS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    payload = {"error": {"message": err.message, "type": error_type, "param": None, "code": code}}
    return _json_response(status, payload, _openai_headers(raw_body.decode("utf-8", "replace")))


# -- HTTP plumbing -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Threaded server that tracks its connections and threads so ``stop()`` can close and join them."""

    daemon_threads = True  # a forgotten stop() must not block interpreter exit
    allow_reuse_address = True
    provider: FakeProvider

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve each connection in its own (tracked) thread."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="fake-llm-provider-connection",
            daemon=True,
        )
        with self._connections_lock:
            self._handler_threads = {t for t in self._handler_threads if t.is_alive()}
            self._handler_threads.add(thread)
            self._connections.add(request)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        """Forget a finished connection, then close it."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection (idle keep-alive ones included) and join their threads."""
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._connections_lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients dropping connections is normal."""


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that records requests and writes whole responses at once."""

    protocol_version = "HTTP/1.1"
    server_version = "fake-llm-provider"
    disable_nagle_algorithm = True
    timeout = 60
    server: _Server

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=split.query,
            headers=list(self.headers.items()),
            body=self._read_body(),
        )
        provider = self.server.provider
        provider._record(request)
        response = provider._handle(request)
        accepts_gzip = "gzip" in (request.header("accept-encoding") or "").lower()
        if response.stream is None:
            self._write_whole(response, gzip_body=provider.gzip and accepts_gzip)
        else:
            self._write_stream(response, gzip_body=provider.gzip_streams and accepts_gzip)

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines.append("connection: close" if self.close_connection else "connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write_whole(self, response: _Response, *, gzip_body: bool) -> None:
        body = response.body
        headers = list(response.headers)
        if gzip_body:
            body = gzip_module.compress(body, mtime=0)
            headers.append(("content-encoding", "gzip"))
        headers.append(("content-length", str(len(body))))
        self.wfile.write(self._head(response.status, headers) + body)

    def _write_stream(self, response: _Response, *, gzip_body: bool) -> None:
        headers = [*response.headers, ("cache-control", "no-cache"), ("transfer-encoding", "chunked")]
        compressor = zlib.compressobj(wbits=31) if gzip_body else None
        if compressor is not None:
            headers.append(("content-encoding", "gzip"))
        self.wfile.write(self._head(response.status, headers))
        assert response.stream is not None
        for piece in response.stream:
            if compressor is not None:
                piece = compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH)
            if piece:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        tail = compressor.flush() if compressor is not None else b""
        self.wfile.write((b"%x\r\n%s\r\n" % (len(tail), tail) if tail else b"") + b"0\r\n\r\n")
