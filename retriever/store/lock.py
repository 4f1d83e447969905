"""The single-writer lock of an embedded index directory.

qdrant-edge locks its write-ahead log, but a second process only sees an obscure
``Can't init WAL: WouldBlock``. This lock file (``fcntl.flock`` plus the holder's pid)
turns that into :class:`~pagerag.ingest.errors.IndexLocked` naming the holder. The
kernel drops a flock when its process dies, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from pagerag.ingest.errors import IndexLocked

LOCK_NAME = ".lock"


class DirLock:
    """An exclusive, non-blocking lock on ``directory / .lock``.

    Example:
        >>> lock = DirLock.acquire(Path("/tmp/idx"))  # doctest: +SKIP
        >>> lock.release()  # doctest: +SKIP
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, directory: Path) -> DirLock:
        """Take the lock or raise :class:`IndexLocked` naming the process that holds it."""
        import fcntl

        directory.mkdir(parents=True, exist_ok=True)
        path = directory / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if holder == str(os.getpid()):
                raise IndexLocked(
                    f"{directory} is already open in this process: close the other PageIndex/Store first"
                ) from None
            raise IndexLocked(
                f"{directory} is in use by another process (pid {holder}): an embedded index is opened by "
                f"one process at a time. To share it, run `pagerag serve --index {directory.parent}` once: "
                "the other pagerag commands, notebooks and agents then go through it (or keep the vectors "
                "in a Qdrant server with --qdrant-url)."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
