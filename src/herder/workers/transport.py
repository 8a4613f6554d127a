"""The socket side of a connection, written once for every worker class.

Accepted sockets are always non-blocking. `SocketTransport` tries each call first and waits
with `poll()` only when the kernel says EAGAIN, so the common case is one syscall. The wait is
bounded by `timeout`; past it a `TimeoutError` ends the exchange (the client is too slow).
The event worker also writes directly with `try_send` when it must not block at all.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from collections.abc import Iterable
from typing import BinaryIO

from herder.wsgi.transport import FileRange

RECV_SIZE = 65536

_POLLIN = select.POLLIN | select.POLLPRI
_POLLOUT = select.POLLOUT
_POLLERR = select.POLLERR | select.POLLHUP | select.POLLNVAL


class SocketTransport:
    """Blocking-style I/O over a non-blocking socket, with a bound on every wait."""

    __slots__ = ("bytes_received", "fd", "sock", "timeout")

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.timeout = timeout
        self.bytes_received = 0

    def receive(self) -> bytes:
        while True:
            try:
                data = self.sock.recv(RECV_SIZE)
            except BlockingIOError:
                self.wait(_POLLIN)
                continue
            self.bytes_received += len(data)
            return data

    def try_receive(self) -> bytes | None:
        """One non-blocking read: bytes, b"" at EOF, None when nothing is there yet."""
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return None
        self.bytes_received += len(data)
        return data

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                self.wait(_POLLOUT)
                continue
            view = view[sent:]

    def send_output(self, pieces: Iterable[bytes | FileRange]) -> None:
        """Send a response as `RequestCycle.output` yields it (bytes, or file ranges)."""
        for piece in pieces:
            if isinstance(piece, FileRange):
                self.sendfile(piece.file, piece.offset, piece.count)
            else:
                self.send(piece)

    def send_quietly(self, data: bytes | None) -> None:
        """Best effort, for an error answer on a connection about to close."""
        if data is not None:
            with contextlib.suppress(OSError):
                self.send(data)

    def try_send(self, data: bytes | memoryview) -> int:
        """Send what the kernel takes now; 0 when its buffer is full."""
        try:
            return self.sock.send(data)
        except BlockingIOError:
            return 0

    def sendfile(self, file: BinaryIO, offset: int, count: int) -> int:
        fileno = file.fileno()
        total = 0
        while total < count:
            sent = self.try_sendfile(fileno, offset + total, count - total)
            if sent is None:
                self.wait(_POLLOUT)
                continue
            if sent == 0:  # the file is shorter than promised
                break
            total += sent
        return total

    def try_sendfile(self, fileno: int, offset: int, count: int) -> int | None:
        """One non-blocking sendfile: bytes sent, 0 at the file's end, None on EAGAIN."""
        try:
            return os.sendfile(self.fd, fileno, offset, count)
        except BlockingIOError:
            return None

    def wait(self, events: int) -> None:
        poller = select.poll()
        poller.register(self.fd, events)
        timeout_ms = None if self.timeout is None else int(self.timeout * 1000)
        if not poller.poll(timeout_ms):
            raise TimeoutError(f"peer idle for more than {self.timeout}s")

    def close(self, linger: bool = False) -> None:
        """Close; with `linger`, first half-close and discard what the peer already sent,
        so the kernel does not answer unread data with a RST that could destroy the
        response still in flight (the peer may be mid-upload when we reject it)."""
        try:
            if linger:
                self.sock.shutdown(socket.SHUT_WR)
                for _ in range(16):
                    if not self.try_receive():
                        break
            self.sock.close()
        except OSError:
            self.sock.close()
