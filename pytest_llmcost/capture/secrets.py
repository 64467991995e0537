"""What a cassette, a log line or a failure message may never hold: credentials.

Pure functions over text (no vcrpy): :mod:`.recording` applies them to vcrpy's requests and
responses, to every log record and to cassette-miss explanations. A value is redacted (replaced
by ``REDACTED``; a header or query parameter is dropped) when

* its **name** looks like a credential, in a header, a query string, a form or JSON body (at
  any depth), an XML element, a Python ``repr`` or a ``Name: value`` line. Names are split into
  words whatever their case and separators (``xi-api-key``, ``X-RapidAPI-Key``, ``apiKey``,
  ``SessionToken``): a name is a credential when its last word is a credential noun (``key``,
  ``token``, ``secret``, ``password``, ``auth``, ``signature``, ``credential(s)``, ``session``,
  ``cookie``...) or it is listed in :data:`SECRET_NAMES`. ``max_tokens``, ``totalTokenCount``,
  ``x-ratelimit-remaining-tokens`` or ``token_type`` end in another word and stay. A credential
  name holding an object or a list (``roleCredentials``, STS ``<Credentials>``) has every
  string in it redacted. A bare ``key``, ``token``, ``session`` or ``auth`` field is as often
  data (a logprob token, a metadata key): in a body it is redacted when its value looks like a
  secret (no spaces, 16 characters or more, digits or mixed case); as a header or query
  parameter always;
* or its **value** has the shape of a key of a major provider (:data:`VALUE_PATTERNS`:
  OpenAI and Anthropic ``sk-``, Google ``AIza`` and ``ya29.``, AWS ``AKIA``/``ASIA``, ``Bearer``
  and ``Basic`` credentials, JWTs, Groq, xAI, Hugging Face, GitHub, a SigV4 signature, a PEM
  private key...), wherever it appears: an error body that echoes a URL or a header included;
* or a URL holds a ``user:password@``.

Redaction is deterministic, so vcrpy, which applies its ``before_record_request`` hook to
incoming requests as well as recorded ones, still matches a replayed request whose key changed.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_NAMES",
    "SECRET_QUERY_PARAMETERS",
    "VALUE_PATTERNS",
    "Scrubber",
    "looks_secret",
    "name_words",
    "scrub_text",
    "scrubber",
]

REDACTED: Final = "REDACTED"

#: Last words that make any name a credential (``client_secret``, ``cf-aig-authorization``).
CREDENTIAL_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "passphrase",
        "pwd",
        "credential",
        "credentials",
        "cookie",
        "cookies",
        "authorization",
        "authentication",
        "jwt",
        # Glued spellings, one word once split: ``x-apikey``, ``accesstoken=``.
        "apikey",
        "apitoken",
        "accesskey",
        "accesstoken",
        "authkey",
        "authtoken",
        "bearertoken",
        "clientsecret",
        "csrftoken",
        "idtoken",
        "oauth",
        "privatekey",
        "refreshtoken",
        "secretkey",
        "sessiontoken",
        "subscriptionkey",
        "xsrftoken",
    }
)
#: Last words that make a name a credential when another word precedes them (``api_key``,
#: ``X-Subscription-Token``, ``Helicone-Auth``). Alone they are often data: see the module doc.
QUALIFIED_WORDS = frozenset({"key", "token", "session", "auth", "signature", "sig"})
#: A bare ``signature`` is Anthropic's thinking-block signature, not a credential (``sig=`` and
#: ``signature=`` query parameters are, see :data:`SECRET_QUERY_PARAMETERS`).
_DATA_WHEN_BARE = frozenset({"signature", "sig"})
#: ``api_keys``, ``access_tokens``: plurals that are credentials after these words only
#: (``input_tokens`` is a count).
_PLURAL_QUALIFIERS = frozenset({"api", "access", "auth", "bearer", "client", "private", "refresh", "secret", "session"})
#: Names (their words joined by ``_``) that end like a credential but are data.
NOT_SECRET_NAMES = frozenset(
    {
        "cache_key",
        "prompt_cache_key",
        "idempotency_key",
        "partition_key",
        "sort_key",
        "primary_key",
        "foreign_key",
        "public_key",
        "object_key",
        "thought_signature",
        # pagination cursors (Google's pageToken, AWS's NextToken)
        "page_token",
        "next_page_token",
        "prev_page_token",
        "previous_page_token",
        "next_token",
        "continuation_token",
        "pagination_token",
        "starting_token",
        "sync_token",
        # a tokenizer's special tokens
        "bos_token",
        "eos_token",
        "pad_token",
        "unk_token",
        "sep_token",
        "cls_token",
        "mask_token",
        "stop_token",
        "special_token",
    }
)
#: Names (words joined by ``_``) that are credentials although their last word is not, matched
#: as the name's last words: ``AWSAccessKeyId`` ends in ``access_key_id``.
SECRET_NAMES = frozenset(
    {
        "access_key_id",
        "private_key_id",
        "openai_organization",
        "openai_project",
        "anthropic_organization_id",
        "x_goog_user_project",
    }
)
#: Headers never written although their name is not a credential's (compared lowercased).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id",
        "x-amz-security-token",
        "x-amz-date",
        "x-goog-user-project",
        "ocp-apim-subscription-key",
        "x-auth-token",
        "private-token",
    }
)
#: Header name patterns never written: organisation and project identifiers, AWS signatures.
SECRET_HEADER_PATTERN = re.compile(r"^(?:(?:anthropic|openai)-(?:organization|organisation|project)|x-amz-security)")
#: Query parameters never written although their name alone is ambiguous (``key=`` is Gemini's).
SECRET_QUERY_PARAMETERS = frozenset(
    {
        "key",
        "api_key",
        "api-key",
        "apikey",
        "access_token",
        "token",
        "client_secret",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)

#: Values that are credentials wherever they appear: the whole match (never glued to a preceding
#: letter, digit, ``_``, ``-``, ``/`` or ``+``: not inside an id or a base64 blob), or its ``secret``
#: group. Each starts with a literal, for speed.
VALUE_PATTERNS: tuple[str, ...] = (
    r"sk-[A-Za-z0-9_-]{16,}",  # OpenAI, Anthropic (sk-ant-), DeepSeek, OpenRouter (sk-or-)
    r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
    r"sk_[A-Za-z0-9]{32,}",  # ElevenLabs
    r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])",  # Google API keys
    r"ya29\.[0-9A-Za-z_-]{20,}",  # Google OAuth access tokens
    r"1//0[0-9A-Za-z_-]{20,}",  # Google OAuth refresh tokens
    r"A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}(?![A-Za-z0-9])",  # AWS access key ids
    r"gsk_[A-Za-z0-9]{20,}",  # Groq
    r"xai-[A-Za-z0-9]{20,}",  # xAI
    r"hf_[A-Za-z0-9]{20,}",  # Hugging Face
    r"r8_[A-Za-z0-9]{20,}",  # Replicate
    r"pplx-[A-Za-z0-9]{20,}",  # Perplexity
    r"tvly-[A-Za-z0-9-]{20,}",  # Tavily
    r"lsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}",  # LangSmith
    r"fw_[A-Za-z0-9]{20,}",  # Fireworks
    r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"glpat-[A-Za-z0-9_-]{20,}",  # GitLab
    r"npm_[A-Za-z0-9]{30,}",  # npm
    r"xox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
    r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",  # JWTs
    r"-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----",
    r"(?:[Bb]earer|BEARER) (?P<secret>[A-Za-z0-9._~+/=-]{16,})",  # an Authorization header's credential
    r"Basic (?P<secret>(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{12,}={0,2})",
    r"Credential=(?P<secret>[A-Z0-9]{16,}/[^,\s'\"&\\]*)",  # AWS SigV4, in botocore's debug log
    r"Signature[=:]\s*(?P<secret>[0-9a-f]{64})(?![0-9a-f])",
    r"://[^/\s:@'\"\\]+:(?P<secret>[^/\s@'\"\\]+)@",  # a URL's user:password@
)

#: Parts of credential names, lowercased: a text holding none of them (nor ``token`` other than
#: in ``tokens``/``token_count``, nor a value prefix below) has no name to redact.
_NAME_WORDS = (
    "key",
    "secret",
    "passw",
    "pwd",
    "passphrase",
    "auth",
    "sig",
    "credential",
    "session",
    "cookie",
    "jwt",
    "organization",
    "organisation",
    "project",
)
#: The value patterns' prefixes, lowercased: a text holding none has no key-shaped value.
_VALUE_WORDS = (
    "sk-",
    "sk_",
    "rk_",
    "pk_",
    "aiza",
    "akia",
    "asia",
    "abia",
    "acca",
    "ya29.",
    "1//0",
    "gsk_",
    "xai-",
    "hf_",
    "r8_",
    "pplx-",
    "tvly-",
    "lsv2_",
    "fw_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "npm_",
    "xox",
    "eyj",
    "bearer ",
    "basic ",
    "credential=",
    "signature",
    "-----begin",
)
#: ``token`` as a name's word (``access_token``), not in a count (``max_tokens``, ``token_count``).
_TOKEN_WORD = re.compile(r"token(?!s|_?count)")
_PLURAL_TOKENS = re.compile(r"(?:api|access|auth|bearer|client|private|refresh|secret|session)[_-]?$")
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9+/=_.:~-]{16,}")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_NOT, _WEAK, _STRONG = 0, 1, 2
#: vcrpy filters a request several times: the last 1024 bodies up to this size are remembered,
#: and the last 8 larger ones.
_CACHED_BODY_CHARS = 65536
#: Characters a name in a quoted pair, a query string or a ``Name: value`` line may hold.
_NAME_CHARS = r"[^\"'\\\s<>=&;?#]"


def name_words(name: str) -> tuple[str, ...]:
    """A name's lowercased words, whatever its separators and case: ``X-RapidAPI-Key`` -> x, rapid, api, key."""
    return tuple(word.lower() for part in re.split(r"[^A-Za-z0-9]+", name) for word in _WORD.findall(part))


@functools.lru_cache(maxsize=8192)
def _kind(name: str) -> int:
    words = name_words(name)
    if not words:
        return _NOT
    joined = "_".join(words)
    if joined in NOT_SECRET_NAMES:
        return _NOT
    if any(joined == known or joined.endswith("_" + known) for known in SECRET_NAMES):
        return _STRONG
    last = words[-1]
    if last in CREDENTIAL_WORDS:
        return _STRONG
    if last in QUALIFIED_WORDS:
        if len(words) > 1:
            return _STRONG
        return _NOT if last in _DATA_WHEN_BARE else _WEAK
    if last in ("keys", "tokens") and len(words) > 1 and words[-2] in _PLURAL_QUALIFIERS:
        return _STRONG
    return _NOT


def looks_secret(value: str) -> bool:
    """A value shaped like a key or token: no spaces, 16 characters or more, digits or mixed case."""
    if value == REDACTED or _SECRET_SHAPE.fullmatch(value) is None:
        return False
    return any(c.isdigit() for c in value) or (value.lower() != value and value.upper() != value)


def _redact_leaves(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTED if value else value
    if isinstance(value, dict):
        return {key: _redact_leaves(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_leaves(item) for item in value]
    return value


_DECODER = json.JSONDecoder()


def _redact_repr_strings(region: str) -> str:
    """Every string value (not a key) of a Python repr or broken JSON, read literal after literal."""
    out: list[str] = []
    position = 0
    while (literal := _LITERAL.search(region, position)) is not None:
        content = literal["content"]
        if content and content != REDACTED and _KEY_END.match(region, literal.end()) is None:
            out += [region[position : literal.start("content")], REDACTED, literal["q"]]
        else:
            out.append(region[position : literal.end()])
        position = literal.end()
    out.append(region[position:])
    return "".join(out)


_KEY_END = re.compile(r"\s*:")


def _bracket_end(text: str, start: int) -> int | None:
    """Where the bracketed value at ``start`` ends (quote-aware), for Python reprs JSON cannot read."""
    depth, position, quote = 0, start, ""
    while position < len(text):
        char = text[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    return None


class Scrubber:
    """Redacts credentials from URLs, text, bodies and JSON-like data; see the module doc.

    ``names`` are extra credential names, compared by their words: ``tenant_handle`` covers
    ``X-Tenant-Handle`` and ``tenantHandle`` (any name ending with those words). ``patterns`` are
    extra regular expressions: each match, or its ``secret`` group, is redacted wherever it
    appears. Build one with :func:`scrubber`, which caches it.
    """

    def __init__(self, names: Iterable[str] = (), patterns: Iterable[str | re.Pattern[str]] = ()) -> None:
        self.names = frozenset("_".join(name_words(name)) for name in names) - {""}
        compiled: list[re.Pattern[str]] = []
        for pattern in patterns:
            try:
                compiled.append(pattern if isinstance(pattern, re.Pattern) else re.compile(pattern))
            except re.error as exc:
                raise ValueError(f"llm_cost_secret_patterns: {pattern!r} is not a regular expression: {exc}") from exc
        self.patterns = tuple(compiled)
        # Prechecks: plain alternations of literals over the lowercased text, the fastest scan ``re`` does.
        words = sorted({*_NAME_WORDS, *(max(name.split("_"), key=len) for name in self.names)}, key=len, reverse=True)
        self._name_words = re.compile("|".join(map(re.escape, words)))
        self._value_words = re.compile("|".join(map(re.escape, _VALUE_WORDS)))
        # The stages: each starts with a literal or a small set, so ``re`` tries few positions.
        trigger = "|".join([*map(re.escape, words), "token"])
        name = rf"{_NAME_CHARS}{{0,80}}?(?i:{trigger}){_NAME_CHARS}{{0,80}}?"
        # Every quoted string followed by ``:`` or ``,``: its name is checked in Python, faster than in the pattern.
        self._pair = re.compile(rf"(?P<q>[\"'])(?P<name>{_NAME_CHARS}{{1,80}})(?P=q)\s*(?P<sep>[:,])\s*")
        self._name_trigger = re.compile(trigger)
        self._query = re.compile(rf"(?P<sep>[?&;])(?P<name>{name})=(?P<value>[^&#;\s\"'<>\\]+)")
        line = rf"[ \t]*(?P<name>(?=[A-Za-z])[\w-]{{0,60}}?(?i:{trigger})[\w-]{{0,60}}):[ \t]*(?P<value>[^\r\n'\"\\]+)"
        self._lines = (re.compile(rf"^{line}", re.MULTILINE), re.compile(rf"\\n{line}"))
        tag = rf"(?:[\w.-]+:)?[\w.-]*?(?i:{trigger})[\w.-]*"
        self._xml_container = re.compile(
            rf"<(?P<tag>{tag})(?:\s[^<>]*)?>(?P<inner>(?:(?!</(?P=tag)>).)*)</(?P=tag)>", re.DOTALL
        )
        self._xml_leaf = re.compile(rf"<(?P<tag>{tag})(?:\s[^<>]*)?>(?P<value>[^<]+)</(?P=tag)>")
        # One alternation without groups finds the values (groups make ``re`` ten times slower);
        # the pattern that matched is found again for the rare match.
        self._values = re.compile("|".join(f"(?:{p.replace('(?P<secret>', '(?:')})" for p in VALUE_PATTERNS))
        self._grouped = tuple(p for p in self.patterns if "secret" in p.groupindex)
        self._whole = tuple(p for p in self.patterns if "secret" not in p.groupindex)

    # -- names ----------------------------------------------------------------------------------

    def _kind(self, name: str) -> int:
        if self.names:
            joined = "_".join(name_words(name))
            if any(joined == known or joined.endswith("_" + known) for known in self.names):
                return _STRONG
        return _kind(name)

    def is_secret_header(self, name: str) -> bool:
        """A header never written, whatever its value."""
        lowered = name.lower()
        return lowered in SECRET_HEADERS or SECRET_HEADER_PATTERN.match(lowered) is not None or self._kind(name) != _NOT

    def is_secret_parameter(self, name: str) -> bool:
        """A query or form parameter never written, whatever its value."""
        return name.lower() in SECRET_QUERY_PARAMETERS or self._kind(name) != _NOT

    def is_secret_field(self, name: str, value: object = None) -> bool:
        """A body field (JSON, XML, ``Name: value``) whose value is redacted."""
        kind = self._kind(name)
        return kind == _STRONG or (kind == _WEAK and isinstance(value, str) and looks_secret(value))

    # -- text -----------------------------------------------------------------------------------

    def _hits(self, text: str | bytes) -> tuple[bool, bool]:
        """Whether ``text`` may hold a credential's name, and a key-shaped value (no parsing)."""
        lowered = (text.decode("latin-1") if isinstance(text, bytes) else text).lower()
        names = self._name_words.search(lowered) is not None or _has_token_name(lowered)
        values = self._value_words.search(lowered) is not None or ("://" in lowered and "@" in lowered)
        if self.patterns and not values:
            raw = text.decode("latin-1") if isinstance(text, bytes) else text
            values = any(pattern.search(raw) for pattern in self.patterns)
        return names, values

    def triggered(self, text: str | bytes) -> bool:
        """Whether ``text`` may hold anything to redact: a few scans of literals, no parsing."""
        return any(self._hits(text))

    def text(self, text: str) -> str:
        """Any text (a log message, an error body, a repr) with its credentials redacted."""
        names, values = self._hits(text)
        if not (names or values):
            return text
        return self._scrub(text, names=names, values=values)

    def _scrub(self, text: str, *, names: bool, values: bool, form: bool = False) -> str:
        if names:
            if form:
                text = self._form(text)
            else:
                if "://" in text:
                    text = _URL.sub(lambda match: self.url(match.group(0)), text)
                if '\\"' in text:  # JSON inside a JSON string (tool-call arguments): scrubbed as JSON
                    text = _LITERAL.sub(self._nested, text)
                text = self._pairs(text)
                text = _ASSIGN.sub(self._assign_value, text)
                if "</" in text:
                    text = self._xml(text)
                for line in self._lines:
                    text = line.sub(self._line_value, text)
            text = self._query.sub(self._query_value, text)
        return self._redact_values(text) if values else text

    def _redact_values(self, text: str) -> str:
        text = self._values.sub(_redact_value, text)
        for pattern in self._whole:
            text = pattern.sub(REDACTED, text)
        for pattern in self._grouped:
            text = pattern.sub(_keep_around_secret, text)
        return text

    def _query_value(self, match: re.Match[str]) -> str:
        if match["value"] != REDACTED and self.is_secret_parameter(unquote_plus(match["name"])):
            return f"{match['sep']}{match['name']}={REDACTED}"
        return match.group(0)

    def _line_value(self, match: re.Match[str]) -> str:
        value = match["value"].strip()
        if value and value != REDACTED and self.is_secret_field(match["name"], value.split()[-1]):
            return match.group(0)[: match.start("value") - match.start()] + REDACTED
        return match.group(0)

    def _pairs(self, text: str) -> str:
        """``"name": value`` (JSON, Python reprs) and ``('name', value)`` (header tuples) with values redacted."""
        out: list[str] = []
        position = 0
        for match in self._pair.finditer(text):
            header = match["sep"] == ","  # ('set-cookie', '...'): httpx and httpcore header tuples
            if match.start() < position or (header and not _opens_tuple(text, match.start())):
                continue
            name = match["name"]
            if self._name_trigger.search(name.lower()) is None:
                continue
            start = match.end()
            if text.startswith("b", start) and text[start + 1 : start + 2] in ("'", '"'):
                start += 1
            head = text[start : start + 1]
            if head in ("'", '"'):
                literal = _LITERAL.match(text, start)
                if literal is None:
                    continue
                content = literal["content"]
                secret = self.is_secret_header(name) if header else self.is_secret_field(name, content)
                if not content or content == REDACTED or not secret:
                    continue
                out += [text[position : literal.start("content")], REDACTED]
                position = literal.end("content")
            elif head in ("[", "{") and self._kind(name) == _STRONG:
                replacement, end = self._container(text, start)
                if replacement is None:
                    continue
                out += [text[position:start], replacement]
                position = end
        if not out:
            return text
        out.append(text[position:])
        return "".join(out)

    def _container(self, text: str, start: int) -> tuple[str | None, int]:
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            found = _bracket_end(text, start)
            if found is None:
                return None, start
            region = text[start:found]
            clean = _redact_repr_strings(region)
            return (clean if clean != region else None), found
        redacted = _redact_leaves(value)
        if redacted == value:
            return None, end
        return json.dumps(redacted, ensure_ascii=False), end

    def _xml(self, text: str) -> str:
        def container(match: re.Match[str]) -> str:
            if "<" not in match["inner"] or self._kind(match["tag"].rpartition(":")[2]) != _STRONG:
                return match.group(0)
            inner = _XML_TEXT.sub(f">{REDACTED}<", ">" + match["inner"] + "<")[1:-1]
            whole, start = match.group(0), match.start()
            return whole[: match.start("inner") - start] + inner + whole[match.end("inner") - start :]

        def leaf(match: re.Match[str]) -> str:
            value, name = match["value"], match["tag"].rpartition(":")[2]
            if not value.strip() or value == REDACTED or not self.is_secret_field(name, value):
                return match.group(0)
            return match.group(0)[: match.start("value") - match.start()] + REDACTED + f"</{match['tag']}>"

        return self._xml_leaf.sub(leaf, self._xml_container.sub(container, text))

    def _form(self, text: str) -> str:
        pieces = text.split("&")
        clean = [
            f"{name}={REDACTED}" if value and self.is_secret_parameter(unquote_plus(name)) else piece
            for piece in pieces
            for name, _, value in [piece.partition("=")]
        ]
        return "&".join(clean) if clean != pieces else text

    # -- URLs, bodies, data -----------------------------------------------------------------------

    def url(self, url: str) -> str:
        """The URL without ``user:password@``, without secret query parameters, key-shaped values redacted."""
        return _cached_url(self, url)

    def _url(self, url: str) -> str:
        split = urlsplit(url)
        changed = False
        if "@" in split.netloc:
            split = split._replace(netloc=split.netloc.rpartition("@")[2])
            changed = True
        if split.query:
            pieces = split.query.split("&")
            kept = [piece for piece in pieces if not self.is_secret_parameter(unquote_plus(piece.partition("=")[0]))]
            if len(kept) != len(pieces):
                split = split._replace(query="&".join(kept))
                changed = True
        clean = urlunsplit(split) if changed else url
        return self._redact_values(clean) if self._hits(clean)[1] else clean

    def body(self, body: bytes | str) -> bytes | str:
        """A request or response body (JSON, SSE, form, XML, text) with its credentials redacted.

        The same object comes back when there is nothing to redact; nothing is re-encoded.
        """
        if not body:
            return body
        if len(body) <= _CACHED_BODY_CHARS:
            return _cached_body(self, body)
        return _cached_large_body(self, body)

    def _body(self, body: bytes | str) -> bytes | str:
        names, values = self._hits(body)
        if not (names or values):
            return body
        if isinstance(body, str):
            return self._scrub(body, names=names, values=values, form=_FORM.fullmatch(body) is not None)
        try:
            text, codec = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, codec = body.decode("latin-1"), "latin-1"  # binary: every byte maps back to itself
        clean = self._scrub(text, names=names, values=values, form=_FORM.fullmatch(text) is not None)
        return body if clean == text else clean.encode(codec)

    def _nested(self, match: re.Match[str]) -> str:
        """A double-quoted JSON string whose text holds escaped JSON, with that JSON's credentials redacted."""
        whole, content = match.group(0), match.group("content")
        if match.group("q") != '"' or '\\"' not in content:
            return whole
        try:
            inner = json.loads(whole)
        except ValueError:
            return whole
        if not isinstance(inner, str):
            return whole
        names, values = self._hits(inner)
        if not (names or values):
            return whole
        clean = self._scrub(inner, names=names, values=values)
        return whole if clean == inner else json.dumps(clean, ensure_ascii=False)

    def _assign_value(self, match: re.Match[str]) -> str:
        """``API_KEY=value`` in text (an environment dump, a config echoed in an error)."""
        name, value = match.group("name"), match.group("value")
        if not self.is_secret_field(name, value) or value == REDACTED:
            return match.group(0)
        return f"{name}{match.group('sep')}{REDACTED}"

    def data(self, value: Any) -> Any:
        """A JSON-like value (aiohttp's ``json=`` payload) with its credentials redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.data(item) for item in value]
        if isinstance(value, dict):
            clean: dict[Any, Any] = {}
            for key, item in value.items():
                if isinstance(key, str) and self.is_secret_field(key, item):
                    clean[key] = _redact_leaves(item) if self._kind(key) == _STRONG else REDACTED
                else:
                    clean[key] = self.data(item)
            return clean
        return value


_URL = re.compile(r"""https?://[^\s'"<>\\]+""")
#: ``NAME=value`` outside a URL's query (which ``_query`` handles): environment dumps, echoed configs.
_ASSIGN = re.compile(r"(?<![\w?&;/.%-])(?P<name>[A-Za-z_][\w.-]*)(?P<sep>[ \t]*=[ \t]*)(?P<value>[^\s&\"',;=]{6,})")
_VALUE_PATTERNS = tuple(re.compile(pattern) for pattern in VALUE_PATTERNS)
_XML_TEXT = re.compile(r">[^<]*[^<\s][^<]*<")
_LITERAL = re.compile(r"""(?P<q>["'])(?P<content>(?:(?!(?P=q))[^\\\n]|\\.)*)(?P=q)""")
_FORM = re.compile(r"[\w.~%+*\[\]-]+=[^\s&]*(?:&[\w.~%+*\[\]-]+(?:=[^\s&]*)?)*")


def _has_token_name(lowered: str) -> bool:
    """``token`` as a name's last word (``access_token``, ``api_tokens``), not a count's (``max_tokens``)."""
    if _TOKEN_WORD.search(lowered) is not None:
        return True
    position = lowered.find("tokens")
    while position >= 0:
        if _PLURAL_TOKENS.search(lowered, max(0, position - 8), position) is not None:
            return True
        position = lowered.find("tokens", position + 6)
    return False


def _opens_tuple(text: str, quote: int) -> bool:
    """Whether the quoted name at ``quote`` opens a ``(name, value)`` tuple (``b`` prefix and spaces allowed)."""
    position = quote - 1 if quote and text[quote - 1] == "b" else quote
    while position and text[position - 1] in " \t":
        position -= 1
    return position > 0 and text[position - 1] == "("


def _redact_value(match: re.Match[str]) -> str:
    whole, start = match.group(0), match.start()
    found = next(filter(None, (pattern.match(match.string, start) for pattern in _VALUE_PATTERNS)), None)
    if found is None:
        return whole
    if "secret" in found.re.groupindex:
        return whole[: found.start("secret") - start] + REDACTED + whole[found.end("secret") - start :]
    before = match.string[start - 1 : start]  # the whole match: not inside a word (``task-...``) or base64
    return whole if before and (before.isalnum() or before in "_-/+") else REDACTED


def _keep_around_secret(match: re.Match[str]) -> str:
    whole, start = match.group(0), match.start()
    return whole[: match.start("secret") - start] + REDACTED + whole[match.end("secret") - start :]


@functools.lru_cache(maxsize=1024)
def _cached_url(scrubber: Scrubber, url: str) -> str:
    """vcrpy filters a request several times, and a suite calls the same few endpoints: one pass each."""
    return scrubber._url(url)


@functools.lru_cache(maxsize=1024)
def _cached_body(scrubber: Scrubber, body: bytes | str) -> bytes | str:
    return scrubber._body(body)


@functools.lru_cache(maxsize=8)
def _cached_large_body(scrubber: Scrubber, body: bytes | str) -> bytes | str:
    return scrubber._body(body)


@functools.lru_cache(maxsize=64)
def _scrubber(names: tuple[str, ...], patterns: tuple[str | re.Pattern[str], ...]) -> Scrubber:
    return Scrubber(names, patterns)


def scrubber(names: Iterable[str] | str = (), patterns: Iterable[str | re.Pattern[str]] | str = ()) -> Scrubber:
    """The (cached) scrubber for extra credential names and patterns; raises ``ValueError`` for a bad pattern."""
    names = (names,) if isinstance(names, str) else tuple(names)
    patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    return _scrubber(names, patterns)


def scrub_text(text: str) -> str:
    """``text`` with the credentials the default scrubber knows redacted."""
    return scrubber().text(text)
