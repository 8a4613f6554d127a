"""The byte pipe a worker hands to the WSGI layer, and the one piece of output it cannot copy.

`Transport` is structural: a worker passes any object with these three blocking methods
(a plain socket wrapper, a TLS socket, a green socket). The WSGI layer never opens, polls or
times anything itself; it only calls these, so every worker type reuses it unchanged.

`FileRange` is what `Exchange.output()` yields instead of bytes when a response body is a
region of a regular file: the worker hands it to `Transport.sendfile` (zero-copy), or to
`send_file_range`, which falls back to read + send when the transport cannot.

Rule: when fewer than `count` bytes of a `FileRange` go out (the file shrank while being
sent), the response broke its own `Content-Length` (RFC 9112 §6.3): the worker must close the
connection instead of reusing it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

FALLBACK_BLOCK = 65536  # read size when sendfile is unavailable; large enough to amortize syscalls


class Transport(typing.Protocol):
    """The connection as the WSGI layer sees it. All calls block; errors are `OSError`."""

    def send(self, data: bytes) -> None:
        """Write all of `data`; `OSError` when the peer is gone."""
        ...

    def sendfile(self, file: typing.BinaryIO, offset: int, count: int) -> int:
        """Send `count` bytes of `file` from `offset`; return the bytes sent.

        Fewer than `count` only at the file's end. `NotImplementedError` when the transport
        cannot send from a file (TLS, no `os.sendfile`): the caller reads and sends instead.
        """
        ...

    def receive(self) -> bytes:
        """The next bytes from the peer, b"" at EOF; `OSError` on timeout or reset."""
        ...


@dataclass(frozen=True, slots=True)
class FileRange:
    """`count` bytes of `file` starting at `offset`, to go out as response body."""

    file: typing.BinaryIO
    offset: int
    count: int


def send_file_range(transport: Transport, piece: FileRange) -> int:
    """Send `piece` through `transport`, with sendfile when it can; return the bytes sent.

    A result below `piece.count` means the file ended early: close the connection.
    """
    try:
        return transport.sendfile(piece.file, piece.offset, piece.count)
    except NotImplementedError:
        return _read_and_send(transport, piece)


def _read_and_send(transport: Transport, piece: FileRange) -> int:
    piece.file.seek(piece.offset)
    sent = 0
    while sent < piece.count:
        block = piece.file.read(min(FALLBACK_BLOCK, piece.count - sent))
        if not block:
            break
        transport.send(block)
        sent += len(block)
    return sent
