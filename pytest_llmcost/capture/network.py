"""While a ``--llm-cost`` run replays, nothing but a cassette answers: the network is closed to tests.

Record mode ``none`` stops a request that misses its cassette, but a test without the fixture
(or code that opens a raw socket) would still reach the internet, and with a real key in the
environment spend money silently. While a test's phases run, name resolution and connections
to any host but loopback (and the hosts the user allows) fail with :class:`NetworkBlocked`,
naming the test and the host. It patches :mod:`socket` only while installed.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["LLMHostWatch", "NetworkBlock", "NetworkBlocked"]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class NetworkBlocked(ConnectionRefusedError):
    """A replaying test tried to reach a host no cassette serves."""


def _is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class NetworkBlock:
    """Refuses name resolution and connections outside loopback and ``allowed`` while installed."""

    def __init__(self, allowed: Iterable[str], message: Callable[[str], str]) -> None:
        self.allowed = tuple(host.lower() for host in allowed)
        self.message = message
        """The error text for a blocked host (it names the running test and the fix)."""
        self._saved: tuple[Any, Any, Any] | None = None
        self._resolved: set[str] = set()
        """Addresses that allowed host names resolved to, so connecting to them is allowed too."""

    @property
    def disabled(self) -> bool:
        return "*" in self.allowed

    def allows(self, host: str) -> bool:
        host = host.strip("[]").lower()
        if _is_loopback(host) or host in self._resolved:
            return True
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.allowed)

    def install(self) -> None:
        if self._saved is not None or self.disabled:
            return
        original_getaddrinfo = socket.getaddrinfo
        original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex
        block = self

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if isinstance(name, str) and not block.allows(name):
                raise NetworkBlocked(block.message(name))
            found = original_getaddrinfo(host, *args, **kwargs)
            if isinstance(name, str) and not _is_loopback(name):
                block._resolved.update(str(info[4][0]) for info in found)
            return found

        def _check(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
                host = str(address[0])
                if not block.allows(host):
                    raise NetworkBlocked(block.message(host))

        def connect(sock: socket.socket, address: Any) -> None:
            _check(sock, address)
            return original_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            _check(sock, address)
            return original_connect_ex(sock, address)

        socket.getaddrinfo = getaddrinfo
        setattr(socket.socket, "connect", connect)  # noqa: B010 - the class's methods, patched while installed
        setattr(socket.socket, "connect_ex", connect_ex)  # noqa: B010
        self._saved = (original_getaddrinfo, original_connect, original_connect_ex)

    def uninstall(self) -> None:
        if self._saved is None:
            return
        original_getaddrinfo, original_connect, original_connect_ex = self._saved
        socket.getaddrinfo = original_getaddrinfo
        setattr(socket.socket, "connect", original_connect)  # noqa: B010
        setattr(socket.socket, "connect_ex", original_connect_ex)  # noqa: B010
        self._saved = None


class LLMHostWatch:
    """While a run records, tells ``notice`` of each name resolution of a known LLM host; refuses nothing.

    A test without the ``llm_cost`` fixture that calls an LLM is neither recorded nor metered:
    the run warns about it. It patches :func:`socket.getaddrinfo` only while installed.
    """

    def __init__(self, notice: Callable[[str], None]) -> None:
        self.notice = notice
        self._saved: Any = None

    def install(self) -> None:
        if self._saved is not None:
            return
        from ..providers.base import is_llm_host

        original_getaddrinfo = socket.getaddrinfo
        notice = self.notice

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if isinstance(name, str) and is_llm_host(name):
                notice(name)
            return original_getaddrinfo(host, *args, **kwargs)

        socket.getaddrinfo = getaddrinfo
        self._saved = original_getaddrinfo

    def uninstall(self) -> None:
        if self._saved is not None:
            socket.getaddrinfo = self._saved
            self._saved = None
