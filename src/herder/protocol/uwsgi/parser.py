"""The server side of a uwsgi connection, sans I/O: packets in, the usual request events out.

`UwsgiParser` satisfies `herder.protocol.base.RequestParser` and yields what `HTTP11Parser`
yields: a `RequestHead` (its `cgi` holding the packet's vars, which the WSGI layer takes as
the environ: the front proxy already parsed the request, nothing is parsed twice), `Data`
events for the `CONTENT_LENGTH` bytes after the vars, `EndOfMessage`, then `PAUSED`.

Rules:
- modifier1 0 is a WSGI request; it needs `REQUEST_METHOD` and `PATH_INFO`, and a
  `CONTENT_LENGTH` that is empty or decimal digits (anything else is a 400);
- modifier1 100 is a ping: answered with the same 4-byte header, then the connection closes
  (raised as `PingReceived`, whose `reply` the server sends);
- other modifiers are refused (`UnsupportedModifier`: logged, connection closed);
- the vars block may not exceed `UwsgiLimits.buffer_size` (`VarsTooLarge` names the setting);
- a peer not allowed to speak uwsgi (`--uwsgi-allow-from`) is refused before anything else;
- the head says HTTP/1.0 and no keep-alive: a uwsgi response is an HTTP/1.1 status line and
  fields, but the body is delimited by closing the connection, never chunk-coded, since nginx's
  uwsgi module does not keep upstream connections and passes the body on as it comes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from herder.protocol.errors import BadRequest, IncompleteMessage, ProtocolError
from herder.protocol.events import NEED_DATA, PAUSED, Data, EndOfMessage, Event, RequestHead
from herder.protocol.uwsgi.packet import HEADER_SIZE, decode_vars, read_header

MODIFIER_WSGI = 0
MODIFIER_PING = 100
PING_REPLY = bytes((MODIFIER_PING, 0, 0, 0))
MAX_VARS_SIZE = 65535  # the header's 16-bit size field
END_OF_MESSAGE = EndOfMessage()


@dataclass(frozen=True, slots=True)
class UwsgiLimits:
    """The uwsgi parser's slice of the configuration."""

    buffer_size: int = MAX_VARS_SIZE  # --uwsgi-buffer-size: largest vars block accepted


class UnsupportedModifier(ProtocolError):
    """A packet type herder does not serve (cache, RPC, ...): close without answering."""

    status = None
    notice = True


class VarsTooLarge(ProtocolError):
    """A vars block over `--uwsgi-buffer-size`."""

    status = 431
    notice = True


class ForbiddenPeer(ProtocolError):
    """A uwsgi packet from an address outside `--uwsgi-allow-from`."""

    status = 403
    notice = True


class PingReceived(ProtocolError):
    """A ping (modifier1 100): not a fault; `reply` goes back, then the connection closes."""

    status = None
    reply = PING_REPLY


class State(enum.IntEnum):
    PACKET = 0  # waiting for (the rest of) a header and vars block
    BODY = 1  # CONTENT_LENGTH bytes still to come
    PAUSED = 2  # the request is complete; waiting for start_next_cycle()
    FAILED = 3  # a ProtocolError was raised


TRANSITIONS: dict[State, frozenset[State]] = {
    State.PACKET: frozenset((State.BODY,)),
    State.BODY: frozenset((State.PAUSED,)),
    State.PAUSED: frozenset((State.PACKET,)),
    State.FAILED: frozenset(),
}


class UwsgiParser:
    """Parses the uwsgi requests of one connection."""

    __slots__ = ("_allowed", "_buf", "_eof", "_limits", "_remaining", "_state")

    def __init__(self, limits: UwsgiLimits = UwsgiLimits(), allowed: bool = True) -> None:
        self._limits = limits
        self._allowed = allowed
        self._buf = bytearray()
        self._eof = False
        self._state = State.PACKET
        self._remaining = 0

    def feed(self, data: bytes) -> None:
        if self._eof:
            raise RuntimeError("data fed to the parser after EOF")
        if data:
            self._buf += data
        else:
            self._eof = True

    def next_event(self) -> Event:
        try:
            return self._step()
        except ProtocolError:
            self._state = State.FAILED
            raise

    def start_next_cycle(self) -> None:
        self._enter(State.PACKET)

    @property
    def has_partial_data(self) -> bool:
        return self._state is State.BODY or bool(self._buf)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def state(self) -> State:
        return self._state

    def _step(self) -> Event:
        state = self._state
        if state is State.PACKET:
            return self._read_packet()
        if state is State.BODY:
            return self._read_body()
        if state is State.PAUSED:
            return PAUSED
        raise RuntimeError("the parser failed earlier; the connection must be closed")

    def _read_packet(self) -> Event:
        buf = self._buf
        if buf and not self._allowed:
            raise ForbiddenPeer("uwsgi request from an address not in --uwsgi-allow-from")
        if len(buf) < HEADER_SIZE:
            return self._need_data(bool(buf))
        modifier1, size, _ = read_header(buf, 0)
        self._check_packet(modifier1, size)
        if len(buf) < HEADER_SIZE + size:
            return self._need_data(True)
        cgi = decode_vars(buf[HEADER_SIZE : HEADER_SIZE + size])
        del buf[: HEADER_SIZE + size]
        head = head_from_vars(cgi)
        self._remaining = head.content_length or 0
        self._enter(State.BODY)
        return head

    def _check_packet(self, modifier1: int, size: int) -> None:
        if modifier1 == MODIFIER_PING:
            raise PingReceived("uwsgi ping")
        if modifier1 != MODIFIER_WSGI:
            raise UnsupportedModifier(f"uwsgi modifier1 {modifier1} is not served (only 0)")
        if size > self._limits.buffer_size:
            raise VarsTooLarge(
                f"uwsgi vars block of {size} bytes is over --uwsgi-buffer-size "
                f"({self._limits.buffer_size}): raise that setting"
            )

    def _read_body(self) -> Event:
        if not self._remaining:
            self._enter(State.PAUSED)
            return END_OF_MESSAGE
        buf = self._buf
        if not buf:
            return self._need_data(True)
        size = min(len(buf), self._remaining)
        self._remaining -= size
        data = bytes(buf[:size])
        del buf[:size]
        return Data(data)

    def _enter(self, state: State) -> None:
        if state not in TRANSITIONS[self._state]:
            raise RuntimeError(f"illegal parser transition {self._state.name} -> {state.name}")
        self._state = state

    def _need_data(self, partial: bool) -> Event:
        if self._eof and partial:
            raise IncompleteMessage("the peer closed the connection inside a uwsgi packet")
        return NEED_DATA


def head_from_vars(cgi: dict[str, str]) -> RequestHead:
    """The request head a packet's vars describe; raises `BadRequest` when one is missing."""
    method = cgi.get("REQUEST_METHOD", "")
    path = cgi.get("PATH_INFO")
    if not method or path is None:
        raise BadRequest("uwsgi packet without REQUEST_METHOD or PATH_INFO")
    query = cgi.get("QUERY_STRING", "")
    target = cgi.get("REQUEST_URI") or (path + ("?" + query if query else ""))
    length_text = cgi.get("CONTENT_LENGTH", "")
    if length_text and not (length_text.isascii() and length_text.isdigit()):
        raise BadRequest(f"uwsgi CONTENT_LENGTH {length_text[:32]!r} is not a number")
    length = int(length_text) if length_text else 0
    return RequestHead(
        method, target, path, query, (1, 0), (), length, False, False, False, cgi=cgi
    )
