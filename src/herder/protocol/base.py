"""The interface every request parser offers the layers above (HTTP/1.1 today, uwsgi next).

A parser is sans-I/O: the server feeds it the bytes it receives and pulls events out of it.
Rules every implementation keeps:
- `feed(b"")` means the peer closed its side; feeding again after that is a RuntimeError;
- `next_event()` returns `RequestHead`, then `Data` events, then `EndOfMessage`, then `PAUSED`
  until `start_next_cycle()`; `NEED_DATA` when it needs more bytes. EOF without a partial
  message gives `NEED_DATA` forever; EOF inside one raises `IncompleteMessage`;
- a malformed request raises a `ProtocolError` carrying the status to answer (see
  `herder.protocol.errors`); after that the connection is closed;
- bytes of a pipelined request wait in the buffer until `start_next_cycle()`.
"""

from __future__ import annotations

import typing

from herder.protocol.events import Event


class RequestParser(typing.Protocol):
    """A connection's request parser: bytes in, events out."""

    def feed(self, data: bytes) -> None:
        """Append received bytes; b"" means the peer closed (EOF)."""
        ...

    def next_event(self) -> Event:
        """The next event; may raise `ProtocolError`."""
        ...

    def start_next_cycle(self) -> None:
        """Begin the next message, once the response to the last one is done."""
        ...

    @property
    def has_partial_data(self) -> bool:
        """Bytes of an unfinished message are buffered."""
        ...

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as events."""
        ...
