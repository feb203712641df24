"""Replacing an output folder as a whole, so that a reader finds the previous complete run or the
new one, never a mix, and a run that fails or is killed leaves the previous one untouched.

A run writes into a temporary folder beside the target (same parent, so same file system) and the
two are swapped in one step when it is complete: Linux's renameat2(RENAME_EXCHANGE). Where that is
not available (another kernel, or a file system that refuses it) the old folder is renamed away
and the new one renamed in: two steps, between which the folder is briefly missing. A lock file
beside the target lets one run at a time write there, which is also how a run knows that temporary
folders it finds are left over from killed runs and can be removed.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

AT_FDCWD = -100
RENAME_EXCHANGE = 2
_LIBC = ctypes.CDLL(None, use_errno=True)


class OutputError(Exception):
    """The output folder cannot be written now or should not be replaced; the message says why."""


def temporary_prefix(out: Path) -> str:
    return f".{out.name}.tmp-"


def _new_temporary(out: Path) -> Path:
    # Made like any folder (tempfile.mkdtemp's would stay private, mode 0700, once swapped in).
    folder = out.parent / f"{temporary_prefix(out)}{secrets.token_hex(8)}"
    folder.mkdir()
    return folder


def exchange(first: Path, second: Path) -> None:
    """Swap two paths atomically (both must exist)."""
    renameat2 = getattr(_LIBC, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(first), str(second))


def _swap_in(staging: Path, out: Path) -> None:
    """``out`` becomes what ``staging`` holds; the old ``out`` ends up at ``staging``."""
    try:
        exchange(staging, out)
    except OSError as error:
        if error.errno not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise
        old = _new_temporary(out)
        os.replace(out, old)  # onto the empty folder just made
        os.rename(staging, out)
        os.rename(old, staging)


@contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """A new, empty folder beside ``out`` to write a run into; it replaces ``out`` when the block
    ends without an error and is removed when it raises (or a later run removes it, if this one is
    killed). A run may not replace a folder holding names it did not write: those would be lost."""
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a folder; pass another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"another run is writing to {out}; try again when it has finished") from None
        for leftover in out.parent.iterdir():
            if leftover.name.startswith(temporary_prefix(out)):
                shutil.rmtree(leftover)
        staging = _new_temporary(out)
        try:
            yield staging
            if not out.exists():
                os.rename(staging, out)
                return
            foreign = sorted({p.name for p in out.iterdir()} - {p.name for p in staging.iterdir()})
            if foreign:
                raise OutputError(f"{out} holds {', '.join(foreign[:5])}{' …' if len(foreign) > 5 else ''}, which "
                                  "this run does not write; replacing the folder would lose them: pass an empty "
                                  "or new folder to --out")
            _swap_in(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
