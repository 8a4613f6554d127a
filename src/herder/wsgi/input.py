"""The request body: `BodyReader` pulls it out of the parser, `Input` is `wsgi.input` over it.

`BodyReader` owns the loop "ask the parser for an event; when it needs data, ask the
transport for bytes and feed them". It never asks for more once the body has ended, so an
application cannot block on, or read into, the next pipelined request.

Rules:
- `read_some(n)` returns 1..n bytes, or b"" only at the end of the body.
- `before_first_read` runs once, just before the first `receive()`, i.e. only when the
  application wants body bytes the client has not sent yet. This is where the exchange sends
  `100 Continue`; a server MAY skip it once some content has arrived (RFC 9110 §10.1.1).
- EOF in the middle of a body is `IncompleteMessage` (RFC 9112 §8). That, any other
  `ProtocolError` from the parser, and an `OSError` from the transport are recorded in
  `error`, raised to the reader, and raised again on any later read: the connection is
  unusable from then on.
- `Input` (PEP 3333 `wsgi.input`): `read(n)` returns fewer than n bytes only at the end of the
  body (it loops over `read_some`); `readline(limit)` never returns more than `limit`;
  `wsgi.input_terminated` holds, so `read()` with no size is safe.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator

from herder.protocol.errors import IncompleteMessage, ProtocolError
from herder.protocol.events import NEED_DATA, Data, EndOfMessage, Event

READ_ALL_BLOCK = 65536  # read() with no size collects the body in pieces this large
LINE_BLOCK = 8192  # readline() asks for this much at a time while looking for b"\n"
NEWLINE = 0x0A


class RequestParser(typing.Protocol):
    """The part of a request parser a body reader drives."""

    def feed(self, data: bytes) -> None:
        """Give the parser received bytes; b"" means EOF."""
        ...

    def next_event(self) -> Event:
        """The next event, or `NEED_DATA`; raises `ProtocolError` on a malformed body."""
        ...


class BodyReader:
    """The body of one request, read on demand from the parser and the connection."""

    __slots__ = (
        "_eof",
        "_parser",
        "_pending",
        "_pending_pos",
        "_receive",
        "before_first_read",
        "bytes_read",
        "error",
        "is_done",
        "trailers",
    )

    def __init__(
        self,
        parser: RequestParser,
        receive: Callable[[], bytes],
        before_first_read: Callable[[], None] | None = None,
    ) -> None:
        self._parser = parser
        self._receive = receive
        self._eof = False  # receive() returned b""
        self.before_first_read = before_first_read
        self._pending = b""  # the unread rest of a Data event larger than the caller asked
        self._pending_pos = 0
        self.is_done = False  # the parser reported the end of the body
        self.trailers: tuple[tuple[str, str], ...] = ()
        self.bytes_read = 0  # body octets handed to the reader (drained ones not counted)
        self.error: BaseException | None = None

    def read_some(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` body bytes (at least one), b"" only at the end of the body."""
        if max_bytes <= 0:
            return b""
        data = self._next_piece(max_bytes)
        self.bytes_read += len(data)
        return data

    def drain(self, limit: int) -> bool:
        """Discard the unread rest; True when the body ended within `limit` more bytes.

        Never sends `100 Continue`. False also when the body is broken or the peer is gone.
        """
        self.before_first_read = None
        discarded = 0
        try:
            while discarded <= limit:
                piece = self._next_piece(limit - discarded + 1)
                if not piece:
                    return True
                discarded += len(piece)
        except (ProtocolError, OSError):
            return False
        return False

    def _next_piece(self, max_bytes: int) -> bytes:
        if self.error is not None:
            raise self.error
        if self._pending_pos < len(self._pending):
            return self._take_pending(max_bytes)
        while not self.is_done:
            event = self._next_event()
            if type(event) is Data:
                if len(event.data) <= max_bytes:
                    return event.data
                self._pending, self._pending_pos = event.data, 0
                return self._take_pending(max_bytes)
            if type(event) is EndOfMessage:
                self.is_done = True
                self.trailers = event.trailers
            elif event is NEED_DATA:
                self._receive_more()  # raises at EOF
            else:  # PAUSED or a head: the parser is past this body
                self.is_done = True
        return b""

    def _take_pending(self, max_bytes: int) -> bytes:
        start = self._pending_pos
        self._pending_pos = end = start + max_bytes
        if end >= len(self._pending):
            data = self._pending[start:] if start else self._pending
            self._pending, self._pending_pos = b"", 0
            return data
        return self._pending[start:end]

    def _next_event(self) -> Event:
        try:
            return self._parser.next_event()
        except ProtocolError as exc:
            self.error = exc
            raise

    def _receive_more(self) -> None:
        if self._eof:  # the parser still wants bytes after EOF: the body was cut short
            self.error = IncompleteMessage("connection closed in the middle of the body")
            raise self.error
        hook, self.before_first_read = self.before_first_read, None
        try:
            if hook is not None:
                hook()
            data = self._receive()
            self._eof = not data
            self._parser.feed(data)
        except (ProtocolError, OSError) as exc:
            self.error = exc
            raise


class Input:
    """`wsgi.input`: a read-only binary stream over one request body (PEP 3333)."""

    __slots__ = ("_buffer", "_pos", "_reader")

    def __init__(self, reader: BodyReader | None = None) -> None:
        self._reader = reader  # None: a request without a body
        # readline() reads ahead; the unconsumed part is _buffer[_pos:] (an offset, not a
        # re-slice per line, so many short lines cost one copy each, not one per buffer)
        self._buffer = b""
        self._pos = 0

    def read(self, size: int | None = -1) -> bytes:
        """`size` bytes, fewer only at the end of the body; all the rest when `size` < 0."""
        if size is None or size < 0:
            return self._read_all()
        buffered = len(self._buffer) - self._pos
        if buffered >= size:
            return self._take(size)
        pieces = [self._take(buffered)] if buffered else []
        missing = size - buffered
        while missing > 0 and (piece := self._read_some(missing)):
            pieces.append(piece)
            missing -= len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def readline(self, size: int | None = -1) -> bytes:
        """One line with its b"\\n"; at most `size` bytes when `size` >= 0."""
        limit = -1 if size is None or size < 0 else size
        pieces: list[bytes] = []
        total = 0
        while limit < 0 or total < limit:
            if self._pos >= len(self._buffer):
                self._buffer, self._pos = self._read_some(LINE_BLOCK), 0
                if not self._buffer:
                    break
            start = self._pos
            end = self._buffer.find(b"\n", start) + 1 or len(self._buffer)
            if limit >= 0:
                end = min(end, start + limit - total)
            pieces.append(self._take(end - start))
            total += end - start
            if self._buffer[end - 1] == NEWLINE:
                break
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """The remaining lines; stop after the one that brings the total to `hint` > 0."""
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _take(self, count: int) -> bytes:
        start = self._pos
        self._pos = start + count
        if start == 0 and count == len(self._buffer):
            return self._buffer  # the whole buffer: no copy
        return self._buffer[start : self._pos]

    def _read_all(self) -> bytes:
        pieces = [self._take(len(self._buffer) - self._pos)]
        while piece := self._read_some(READ_ALL_BLOCK):
            pieces.append(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _read_some(self, size: int) -> bytes:
        return self._reader.read_some(size) if self._reader is not None else b""
