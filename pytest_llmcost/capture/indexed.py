"""A vcrpy cassette that finds a request's recordings by key, so a cassette of n interactions replays in O(n).

vcrpy looks a request up by running every matcher against every stored interaction, three
times per request (``can_play_response_for``, ``__contains__``, ``play_response``), and filters
the request (a deep copy, then the ``before_record_request`` hooks: secret scrubbing) each
time: quadratic in the interactions of a cassette. :class:`IndexedCassette` keeps

* an index of the stored interactions by method and canonical body digest: only the
  interactions under the request's key are matched, with vcrpy's own matchers, in order;
* the last request it filtered, and its key: vcrpy's three look-ups of one request filter it
  and digest its body once.

vcrpy has no public hook for either. Both live here, in the two private names of vcrpy's
``Cassette`` this module overrides (``_responses`` and ``_before_record_request``);
``tests/unit/test_indexed_cassette.py`` fails loudly when vcrpy renames or reshapes them. When the
matchers do not include the ``llm_cost_body`` and ``method`` ones (a user's own ``match_on``),
the cassette looks requests up exactly as vcrpy does.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from vcr.cassette import Cassette
from vcr.matchers import method as method_matcher
from vcr.matchers import requests_match

from .recording import _body_of, body_key, match_json_body

__all__ = ["IndexedCassette", "played_position"]


class IndexedCassette(Cassette):  # type: ignore[misc]
    """vcrpy's ``Cassette``, with requests looked up by key and filtered once (see the module doc)."""

    _before_record_request: Callable[[Any], Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        matchers = tuple(self._match_on)
        self._llm_cost_keyed = match_json_body in matchers and method_matcher in matchers
        self._llm_cost_index: dict[tuple[str, object], list[int]] = {}
        self._llm_cost_indexed = 0
        self._llm_cost_last: tuple[Any, Any] | None = None
        self._llm_cost_last_key: tuple[Any, tuple[str, object]] | None = None
        self._before_record_request = self._filter_once(self._before_record_request)

    def _filter_once(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def filtered(request: Any) -> Any:
            last = self._llm_cost_last
            if last is not None:
                if request is last[0]:
                    return last[1]
                if request is last[1]:  # vcrpy filters what it filtered: the hooks are deterministic
                    return request
            clean = original(request)
            self._llm_cost_last = (request, clean)
            return clean

        return filtered

    def _index(self) -> dict[tuple[str, object], list[int]]:
        """The stored interactions by key, brought up to date with what was appended since."""
        data = self.data
        if len(data) < self._llm_cost_indexed:  # never done by vcrpy; rebuilt to be safe
            self._llm_cost_index, self._llm_cost_indexed = {}, 0
        index, end = self._llm_cost_index, len(data)
        for position in range(self._llm_cost_indexed, end):
            positions = index.setdefault(_key(data[position][0]), [])
            if not positions or positions[-1] < position:  # two threads may index the same new entries
                positions.append(position)
        self._llm_cost_indexed = max(self._llm_cost_indexed, end)
        return index

    def _responses(self, request: Any) -> Iterator[tuple[int, Any]]:
        if not self._llm_cost_keyed:
            yield from super()._responses(request)
            return
        request = self._before_record_request(request)
        if request is None:
            return
        last = self._llm_cost_last_key  # vcrpy looks the same filtered request up three times
        if last is not None and last[0] is request:
            key = last[1]
        else:
            key = _key(request)
            self._llm_cost_last_key = (request, key)
        data = self.data
        for position in self._index().get(key, ()):
            stored, response = data[position]
            if requests_match(request, stored, self._match_on):
                yield position, response


def _key(request: Any) -> tuple[str, object]:
    return request.method, body_key(_body_of(request))


_POSITIONS: weakref.WeakKeyDictionary[Any, tuple[int, dict[int, int]]] = weakref.WeakKeyDictionary()


def played_position(cassette: Any, response: Any) -> int | None:
    """Where ``response`` sits in ``cassette.data``, from an index of each cassette's responses."""
    data = cassette.data
    try:
        count, positions = _POSITIONS[cassette]
    except (KeyError, TypeError):
        count, positions = 0, {}
    if len(data) < count:
        count, positions = 0, {}
    for position in range(count, len(data)):
        positions.setdefault(id(data[position][1]), position)
    with contextlib.suppress(TypeError):  # a cassette that cannot be weakly referenced: no index kept
        _POSITIONS[cassette] = (len(data), positions)
    found = positions.get(id(response))
    if found is not None and found < len(data) and data[found][1] is response:
        return found
    return next((i for i, (_, stored) in enumerate(data) if stored is response), None)
