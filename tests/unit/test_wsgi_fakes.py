"""Shared fakes for the WSGI exchange tests (no tests here): a recording transport, a scripted
parser, a tiny response reader, and `run`, which drives one request the way a worker does."""

from __future__ import annotations

import io
import typing
from collections.abc import Callable
from dataclasses import dataclass, field

from herder.protocol.events import NEED_DATA, Data, EndOfMessage, Event, RequestHead
from herder.wsgi import WSGIApplication
from herder.wsgi.environ import EnvironBuilder, ServerInfo
from herder.wsgi.exchange import Exchange, ExchangeOptions
from herder.wsgi.input import BodyReader, Input
from herder.wsgi.transport import FileRange, send_file_range

DATE = b"Sun, 06 Nov 1994 08:49:37 GMT"
SERVER = ServerInfo("example.org", "8000", "http", "", False, True, False, io.StringIO())


class FakeTransport:
    """Records everything sent, in order; sendfile copies from the file, or is unsupported."""

    def __init__(self, incoming: list[bytes] | None = None, can_sendfile: bool = True) -> None:
        self.sent: list[bytes] = []
        self.sendfile_calls: list[tuple[int, int]] = []
        self.incoming = list(incoming or [])
        self.can_sendfile = can_sendfile
        self.broken = False

    def send(self, data: bytes) -> None:
        if self.broken:
            raise BrokenPipeError("peer gone")
        self.sent.append(bytes(data))

    def sendfile(self, file: typing.BinaryIO, offset: int, count: int) -> int:
        if not self.can_sendfile:
            raise NotImplementedError
        self.sendfile_calls.append((offset, count))
        file.seek(offset)
        data = file.read(count)
        self.sent.append(data)
        return len(data)

    def receive(self) -> bytes:
        return self.incoming.pop(0) if self.incoming else b""

    @property
    def wire(self) -> bytes:
        return b"".join(self.sent)


class ScriptedParser:
    """Replays events; a NEED_DATA entry holds until the next feed(). Exceptions are raised."""

    def __init__(self, events: list[Event | Exception]) -> None:
        self.events = list(events)
        self.fed: list[bytes] = []
        self.calls = 0

    def feed(self, data: bytes) -> None:
        self.fed.append(data)
        if self.events and self.events[0] is NEED_DATA:
            self.events.pop(0)

    def next_event(self) -> Event:
        self.calls += 1
        event = self.events[0]
        if event is NEED_DATA:
            return NEED_DATA
        self.events.pop(0)
        if isinstance(event, Exception):
            raise event
        return event


def body_script(body: bytes) -> list[Event | Exception]:
    """A body that arrives from the peer in one piece (one receive), then ends."""
    return [NEED_DATA, Data(body), EndOfMessage()] if body else [EndOfMessage()]


def make_head(
    method: str = "GET",
    target: str = "/path",
    version: tuple[int, int] = (1, 1),
    keep_alive: bool = True,
    content_length: int | None = None,
    expect_continue: bool = False,
    headers: tuple[tuple[str, str], ...] = (("HOST", "example.org"),),
) -> RequestHead:
    path, _, query = target.partition("?")
    return RequestHead(
        method, target, path, query, version, headers, content_length, False, keep_alive,
        expect_continue,
    )  # fmt: skip


@dataclass
class Run:
    """One exchange driven to the end, and what it left behind."""

    exchange: Exchange
    transport: FakeTransport
    reader: BodyReader
    pieces: list[bytes | FileRange]  # what output() yielded
    errors: list[tuple[str, BaseException | None]] = field(default_factory=list)

    @property
    def wire(self) -> bytes:
        return self.transport.wire


def run(
    app: WSGIApplication,
    head: RequestHead | None = None,
    script: list[Event | Exception] | None = None,
    *,
    incoming: list[bytes] | None = None,
    allowed: bool = True,
    use_sendfile: bool = True,
    transport: FakeTransport | None = None,
    consume: Callable[[Exchange, FakeTransport, list[bytes | FileRange]], None] | None = None,
) -> Run:
    """Drive `app` like a worker: start, send every output piece, close in a finally."""
    head = head or make_head()
    transport = transport or FakeTransport(incoming)
    reader = BodyReader(ScriptedParser(script or [EndOfMessage()]), transport.receive)
    errors: list[tuple[str, BaseException | None]] = []
    options = ExchangeOptions(b"herder", lambda: DATE, use_sendfile, _record(errors))
    environ = EnvironBuilder(SERVER).build(head, ("192.0.2.1", 4000), Input(reader))
    exchange = Exchange(app, environ, head, reader, transport, options, allowed)
    pieces: list[bytes | FileRange] = []
    try:
        exchange.start()
        (consume or _send_all)(exchange, transport, pieces)
    finally:
        exchange.close()
    return Run(exchange, transport, reader, pieces, errors)


def _record(
    errors: list[tuple[str, BaseException | None]],
) -> Callable[[str, BaseException | None], None]:
    return lambda message, exc: errors.append((message, exc))


def _send_all(
    exchange: Exchange, transport: FakeTransport, pieces: list[bytes | FileRange]
) -> None:
    for piece in exchange.output():
        pieces.append(piece)
        if isinstance(piece, FileRange):
            send_file_range(transport, piece)
        else:
            transport.send(piece)


@dataclass
class Reply:
    """A response read back from the wire."""

    status_line: str
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool  # a chunked body ended with the last chunk

    def get(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name} repeated: {values}"
        return values[0] if values else None


def read_reply(wire: bytes, *, head_only: bool = False) -> Reply:
    """Parse one response; de-chunk its body when it says chunked."""
    head, _, rest = wire.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(name, value) for name, _, value in (line.partition(": ") for line in lines)]
    reply = Reply(status_line, headers, rest, True)
    if reply.get("Transfer-Encoding") == "chunked" and not head_only:
        reply.body, reply.complete = dechunk(rest)
    return reply


def dechunk(data: bytes) -> tuple[bytes, bool]:
    body: list[bytes] = []
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert data == b"\r\n", data
            return b"".join(body), True
        body.append(data[:size])
        assert data[size : size + 2] == b"\r\n"
        data = data[size + 2 :]
    return b"".join(body), False
