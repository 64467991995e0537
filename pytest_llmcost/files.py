"""Deterministic JSON files, written atomically, read with validation, updated under a lock.

Every file pytest-llmcost writes carries a ``format`` version, sorted keys and a trailing
newline, so that committed files diff well in a pull request: the baseline with a two-space
indent, the results file compact (CPython's C encoder) with one test per line. A write goes to
a temporary file in the same folder and is renamed over the target: a reader never sees half
a file, and an interrupted run leaves the old file as it was. A read-only file is never
replaced. Reading rejects what JSON parsers let through but no file of ours holds: text that is
not UTF-8, and the ``NaN`` and ``Infinity`` literals.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "FileFormatError",
    "FileWriteError",
    "check_writable",
    "dump_json",
    "dump_json_lines",
    "encode_compact",
    "locked",
    "read_json",
    "write_atomic",
]


class FileFormatError(ValueError):
    """A file cannot be read as what it should be; the message names the file and the fix."""


class FileWriteError(OSError):
    """A file cannot be written (read-only, disk full, locked); the message names the file and the fix.

    The file is left as it was.
    """

    reason: str | None = None
    """What the system said (``No space left on device``), when it said something."""


def is_read_only(path: Path) -> bool:
    """Whether ``path`` exists and may not be replaced: no write permission for anyone, or not for us.

    The mode bits are checked too, because ``os.access`` says yes to root whatever the mode.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISDIR(mode) and (
        not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK)
    )


def check_writable(path: Path, purpose: str, fix: str) -> None:
    """Raise :class:`FileWriteError` now if ``path`` is read-only, rather than after a whole run.

    ``purpose`` says what wants to write it (``--llm-cost-update``), ``fix`` the way out.
    """
    if is_read_only(path):
        raise FileWriteError(f"{path} is read-only, so {purpose} cannot write it; {fix}")


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


#: Compact, sorted JSON: with no indent, CPython encodes through its C encoder (several times faster).
_COMPACT = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class RawJSON(str):
    """A value already encoded by :func:`encode_compact`: :func:`dump_json_lines` writes it as it is."""

    __slots__ = ()


def encode_compact(value: Any) -> RawJSON:
    """``value`` as compact, sorted JSON (one line), to hand to :func:`dump_json_lines` later."""
    return RawJSON(_COMPACT.encode(value))


def dump_json_lines(data: Mapping[str, Any], lines: Collection[str] = ()) -> str:
    """``data`` as compact JSON, deterministic and still diffable: one top-level key per line, and
    one line per entry of the objects named in ``lines`` (a test each, for the results file).

    Sorted keys and a trailing newline, as :func:`dump_json`; a changed test is a changed line.
    An entry that is a :class:`RawJSON` is written as it is.
    """

    def encode(value: Any) -> str:
        return value if isinstance(value, RawJSON) else _COMPACT.encode(value)

    out = ["{"]
    keys = sorted(data)
    for number, key in enumerate(keys):
        comma = "," if number < len(keys) - 1 else ""
        value = data[key]
        if key in lines and isinstance(value, Mapping) and value:
            entries = [f"{encode(name)}:{encode(value[name])}" for name in sorted(value)]
            out += [f"{encode(key)}:{{", ",\n".join(entries), f"}}{comma}"]
        else:
            out.append(f"{encode(key)}:{encode(value)}{comma}")
    out.append("}\n")
    return "\n".join(out)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, an fsync and a rename.

    A read-only ``path`` is refused (a rename would ignore its mode) and a failed write (a full
    disk) leaves the old file as it was: both raise :class:`FileWriteError` naming the file.
    """
    if is_read_only(path):
        raise FileWriteError(
            f"{path} is read-only, so it was left as it was; make it writable (chmod u+w) and run again"
        )
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        os.chmod(tmp, mode)  # mkstemp makes it private: keep the file's mode, or the usual one
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, FileWriteError):
            raise _write_error(path, exc) from exc
        raise


def _write_error(path: Path, exc: OSError) -> FileWriteError:
    reason = exc.strerror or str(exc)
    error = FileWriteError(
        f"{path} could not be written ({reason}); it is kept as it was: free some space, or fix the "
        "file's folder, and run again"
    )
    error.reason = reason
    return error


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _NotFinite:
    """What a ``NaN``, ``Infinity`` or overflowing number parses to, until the reader names its field."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def read_json(path: Path, what: str, fix: str | None = None) -> Any:
    """Parse a JSON file, or raise :class:`FileFormatError` naming it, and the field when one is wrong.

    ``fix`` is the one action that repairs the file (by default: write it again).
    """
    fix = fix or f"fix the {what} file, or write it again"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the {what} file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{path}: the {what} file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); {fix}"
        ) from None
    found: list[_NotFinite] = []

    def not_finite(text: str) -> _NotFinite:
        found.append(_NotFinite(text))
        return found[-1]

    def number(text: str) -> float | _NotFinite:
        value = float(text)
        return value if math.isfinite(value) else not_finite(text)

    try:
        data = json.loads(text, parse_constant=not_finite, parse_float=number)
    except ValueError as exc:
        raise FileFormatError(f"{path}: the {what} file is not valid JSON ({exc}); {fix}") from None
    if found:
        field, value = _first_not_finite(data, "") or ("(somewhere)", found[0])
        raise FileFormatError(
            f"{path}: {field}: {value.text} is not a number the {what} file can hold "
            f'(amounts are finite decimal strings such as "0.0012"); {fix}'
        )
    return data


def _first_not_finite(data: Any, where: str) -> tuple[str, _NotFinite] | None:
    """The field path (``tests.<id>.usd``, ``records[0]``) and value of the first non-finite number."""
    if isinstance(data, _NotFinite):
        return where or "(top level)", data
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        here = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else str(key)
        found = _first_not_finite(value, here)
        if found is not None:
            return found
    return None


@contextlib.contextmanager
def locked(path: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold an exclusive lock for updating ``path``: read it again, change it, write it, then let go.

    The lock is ``<path>.lock`` beside it, locked with ``flock`` (``msvcrt.locking`` on Windows),
    which the system releases when a process dies: no lock outlives its holder. The lock file is
    removed when the update is done; a waiter that finds it removed or replaced locks again.
    Waiting longer than ``timeout`` seconds raises :class:`FileWriteError`.
    """
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + timeout
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise FileWriteError(
                f"{path} cannot be updated: cannot create its lock file {lock} ({exc.strerror})"
            ) from None
        try:
            while not _try_lock(fd):
                if time.monotonic() > deadline:
                    raise FileWriteError(
                        f"{path} cannot be updated: another update held {lock} for over {timeout:g} seconds; "
                        "let it finish and run again"
                    )
                time.sleep(0.05)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                same = False
            if not same:  # the holder before us removed it: lock the file that is there now
                continue
            try:
                yield
            finally:
                if sys.platform != "win32":  # Windows cannot remove a file that is open
                    with contextlib.suppress(OSError):
                        os.unlink(lock)
            return
        finally:
            os.close(fd)  # closing releases the lock


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
