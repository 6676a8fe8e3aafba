"""Scratch files: where a block of raw audit lines sits while DuckDB reads it, and nowhere else.

Owns: `holding` (the block written to a private file DuckDB can read, gone when the block is read),
`open_scratch` (on Linux an anonymous memory file, `memfd_create`: it has no name in any directory,
so nothing of it, raw unredacted audit lines, outlives the descriptor, even when the process is
killed; elsewhere a private temporary file, unlinked after use) and `sweep_scratch` (the files a
killed run left behind, removed at the start of the next one). Never writes under the lake.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

_MEMFD_PATHS = ("/proc/self/fd/",)
_SCRATCH_PREFIX = "auditlake-"


@contextlib.contextmanager
def holding(chunks: Sequence[bytes | memoryview]) -> Iterator[str]:
    """A path DuckDB can read `chunks` from, for the duration of the `with`; the file is gone after it."""
    descriptor, path = open_scratch()
    try:
        _write_all(descriptor, chunks)
        yield path
    finally:
        os.close(descriptor)
        if not path.startswith(_MEMFD_PATHS):
            Path(path).unlink(missing_ok=True)


def open_scratch() -> tuple[int, str]:
    """A file DuckDB can read a block from, open for writing: (descriptor, path); the caller closes it.

    On Linux it is an anonymous memory file (`memfd_create`): it has no name in any directory, so
    nothing of it (raw, unredacted audit lines) outlives the descriptor, even when the process is
    killed. Elsewhere it is a private temporary file, unlinked after use; files left by a killed run
    are removed by `sweep_scratch` at the start of the next one.
    """
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        descriptor = os.memfd_create("auditlake-block", os.MFD_CLOEXEC)
        return descriptor, f"/proc/self/fd/{descriptor}"
    descriptor, path = tempfile.mkstemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-", suffix=".jsonl", dir=_scratch_dir())
    return descriptor, path


def _scratch_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def sweep_scratch() -> int:
    """Remove scratch files of ingest runs that are no longer alive (killed ones, and those of older versions); how many."""
    removed = 0
    for directory in {_scratch_dir(), tempfile.gettempdir()}:
        for path in Path(directory).glob(f"{_SCRATCH_PREFIX}*-*.jsonl"):
            pid = path.name[len(_SCRATCH_PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not _is_alive(int(pid)):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
    return removed


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_all(descriptor: int, chunks: Sequence[bytes | memoryview]) -> None:
    pending = [memoryview(chunk) for chunk in chunks if len(chunk)]
    while pending:
        written = os.writev(descriptor, pending)
        while pending and written >= len(pending[0]):
            written -= len(pending[0])
            pending.pop(0)
        if pending and written:
            pending[0] = pending[0][written:]
