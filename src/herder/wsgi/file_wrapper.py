"""`wsgi.file_wrapper` (PEP 3333, "Optional Platform-Specific File Handling").

An application returns `environ["wsgi.file_wrapper"](filelike, blksize)` to hand the server a
file. Iterating it reads `blksize` blocks, so it works as a plain iterable everywhere. When
the file-like is a regular file with a real descriptor, `file_range()` tells the exchange
what is left of it, so the body can go out with sendfile and a `Content-Length` known before
the first byte.

Rules:
- `close()` closes the file-like when it has a `close` (PEP 3333); the server calls it once.
- `file_range()` is asked before iteration starts: it measures from the current position,
  so an application may seek first and serve the rest of a file.
- Text-mode files never become a `FileRange`: their bytes are not what `read` returns.
"""

from __future__ import annotations

import io
import os
import stat
import typing
from collections.abc import Iterator

from herder.wsgi.transport import FileRange

DEFAULT_BLOCK_SIZE = 8192


class FileWrapper:
    """An iterable over a file-like object's blocks, with an optional zero-copy shortcut."""

    __slots__ = ("blksize", "filelike")

    def __init__(self, filelike: typing.Any, blksize: int = DEFAULT_BLOCK_SIZE) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data: bytes = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def close(self) -> None:
        """Close the wrapped file-like, when it can be closed."""
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def file_range(self) -> FileRange | None:
        """The rest of a regular file from its current position; None for anything else."""
        filelike = self.filelike
        if isinstance(filelike, io.TextIOBase):
            return None
        try:
            st = os.fstat(filelike.fileno())
            offset = filelike.tell()
        except (AttributeError, OSError, ValueError):
            # no fileno (BytesIO raises io.UnsupportedOperation), closed file, or a pipe
            return None
        if not stat.S_ISREG(st.st_mode) or not isinstance(offset, int):
            return None
        return FileRange(filelike, offset, max(st.st_size - offset, 0))
