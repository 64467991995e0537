"""Deterministic JSON files, written atomically.

Every file pytest-llmcost writes carries a ``format`` version, sorted keys, two-space indent
and a trailing newline, so that committed files diff well in a pull request. A write goes to
a temporary file in the same folder and is renamed over the target: a reader never sees half
a file, and an interrupted run leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["FileFormatError", "dump_json", "read_json", "write_atomic"]


class FileFormatError(ValueError):
    """A file cannot be read as what it should be; the message names the file and the fix."""


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, mode)  # mkstemp makes it private: keep the file's mode, or the usual one
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file, or raise :class:`FileFormatError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read the {what} file: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FileFormatError(f"{path}: the {what} file is not valid JSON ({exc})") from None
