"""Atomic file and directory writes.

A stage killed mid-write must never leave something that looks like a finished
artifact: everything is written under a temporary name in the destination's own
directory (same filesystem) and renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fnmatch
import io
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compression_audit.core.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Fault injection for the interruption tests: when this environment variable holds a glob that matches an
# output's file name, the process group is SIGKILLed after that output's temporary is complete and before it
# is renamed into place -- the worst moment for a crash. Never set outside tests.
KILL_BEFORE_RENAME = "COMPRESSION_AUDIT_KILL_BEFORE_RENAME"


def _fault_point(path: Path) -> None:
    pattern = os.environ.get(KILL_BEFORE_RENAME)
    if pattern and fnmatch.fnmatch(path.name, pattern):
        os.killpg(os.getpgrp(), signal.SIGKILL)


def _remove_stale(path: Path) -> None:
    """Temporaries left by a run that was killed (SIGKILL skips every cleanup)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


# What to do about a failed write, by its cause.
_WRITE_FIXES = {
    errno.ENOSPC: "the disk is full: free space (or point TMPDIR elsewhere) and rerun",
    errno.EDQUOT: "the disk quota is used up: free space and rerun",
    errno.EFBIG: "the file is larger than this process may write (ulimit -f) or the file system allows",
    errno.EROFS: "the file system is read-only: write the outputs on a writable one and rerun",
    errno.EACCES: "permission denied: make the output folder writable and rerun",
    errno.EPERM: "permission denied: make the output folder writable and rerun",
    errno.ENOTDIR: "a part of the path is a file, not a folder: move that file away and rerun",
    errno.EEXIST: "a part of the path is a file, not a folder: move that file away and rerun",
}


@contextlib.contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """An OSError while an output is written becomes one UserError naming the output and the cause (the stage
    then prints one `error:` line, exits 2 and removes its outputs), instead of a traceback."""
    try:
        yield
    except OSError as exc:
        fix = _WRITE_FIXES.get(exc.errno, "check the disk and rerun")
        cause = exc.strerror or type(exc).__name__
        name = errno.errorcode.get(exc.errno, "") if exc.errno else ""
        raise UserError(f"cannot write {path}: {cause}{f' ({name})' if name else ''}; {fix}") from exc
    except RuntimeError as exc:  # torch.save reports a short write (a full disk) as a RuntimeError of its zip writer
        if not any(mark in str(exc) for mark in ("PytorchStreamWriter", "inline_container", "write failed")):
            raise
        detail = " ".join(str(exc).split())
        raise UserError(f"cannot write {path}: torch's writer failed ({detail}); the disk is probably full: "
                        "free space and rerun") from exc


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    with _write_errors(path), _atomic_path(path) as tmp:
        yield tmp


@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp's 0600 would make outputs unreadable to the user's group
    try:
        yield tmp_path
        _fault_point(path)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces the directory ``path``."""
    path = Path(path)
    with _write_errors(path), _atomic_dir(path) as tmp:
        yield tmp


@contextlib.contextmanager
def _atomic_dir(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        _fault_point(path)
        if path.exists():  # move the old one aside first: a kill now leaves no half-deleted output
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
            os.replace(path, old / "old")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: str | Path, rows: list[dict], fields: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())
