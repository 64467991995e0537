"""Read a vcrpy YAML cassette into :class:`~pytest_llmcost.providers.base.Exchange` objects.

This reads the file directly, without vcrpy, for the command line and for checking cassettes
already on disk. Bodies are kept as stored: text, bytes (``!!binary``, possibly gzip), None,
or the parsed JSON that some serializers keep under ``parsed_body``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..providers.base import Exchange

__all__ = ["CassetteError", "read_cassette"]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's loader when PyYAML has it


class CassetteError(ValueError):
    """The file is not a readable vcrpy cassette."""


def _body(message: Mapping[str, Any]) -> object:
    if "parsed_body" in message:
        return message["parsed_body"]
    body = message.get("body")
    if isinstance(body, Mapping):
        # vcrpy stores a response body as ``{string: ...}``; a request body is usually plain.
        return body.get("string")
    return body


def _headers(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    headers: dict[str, Any] = {}
    for name, values in value.items():
        items = values if isinstance(values, list) else [values]
        headers[str(name)] = [
            item.decode("utf-8", "replace") if isinstance(item, (bytes, bytearray)) else str(item) for item in items
        ]
    return headers


def _status(response: Mapping[str, Any]) -> int:
    status = response.get("status")
    if isinstance(status, Mapping):
        status = status.get("code")
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    if isinstance(status, str) and status.isdigit():
        return int(status)
    raise ValueError(f"response status {status!r} is not an HTTP status code")


def _exchange(interaction: object) -> Exchange:
    if not isinstance(interaction, Mapping):
        raise ValueError("an interaction is not a mapping")
    request = interaction.get("request")
    response = interaction.get("response")
    if not isinstance(request, Mapping) or not isinstance(response, Mapping):
        raise ValueError("an interaction needs a request and a response mapping")
    method = request.get("method")
    uri = request.get("uri")
    if not isinstance(method, str) or not isinstance(uri, str):
        raise ValueError("a request needs a method and a uri")
    return Exchange(
        method=method.upper(),
        url=uri,
        request_body=_body(request),
        status=_status(response),
        response_body=_body(response),
        response_headers=_headers(response.get("headers")),
    )


def _one_line(error: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where it is."""
    problem = getattr(error, "problem", None)
    mark = getattr(error, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


def read_cassette(path: str | os.PathLike[str]) -> list[tuple[int, Exchange]]:
    """The interactions of a vcrpy YAML cassette as ``(index in interactions, exchange)``.

    Raises :class:`CassetteError` naming the file when it is not valid YAML or not a cassette.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            data = yaml.load(stream, Loader=_Loader)
    except yaml.YAMLError as error:
        raise CassetteError(f"{path}: not valid YAML: {_one_line(error)}") from error
    if not isinstance(data, Mapping) or not isinstance(data.get("interactions"), list):
        raise CassetteError(f"{path}: not a vcrpy cassette (no 'interactions' list)")
    exchanges: list[tuple[int, Exchange]] = []
    for index, interaction in enumerate(data["interactions"]):
        try:
            exchanges.append((index, _exchange(interaction)))
        except ValueError as error:
            raise CassetteError(f"{path}: interaction {index}: {error}") from error
    return exchanges
