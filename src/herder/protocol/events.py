"""What a request parser hands to the server.

`next_event()` of a parser returns one of: a `RequestHead`, a `Data`, an `EndOfMessage`, or one
of the two sentinels `NEED_DATA` (feed more bytes) and `PAUSED` (a message is complete; the
server must call `start_next_cycle()` once the response is done before the next one is parsed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Sentinel(enum.Enum):
    """Parser states that are not events."""

    NEED_DATA = "need data"
    PAUSED = "paused"


NEED_DATA = Sentinel.NEED_DATA
PAUSED = Sentinel.PAUSED


# Not frozen: built once per request on the hot path, and a frozen dataclass's __init__ costs
# about 1.8 us more (measured). Treat it as read-only all the same.
@dataclass(slots=True)
class RequestHead:
    """A parsed request line and header section.

    Strings are latin-1 views of the octets on the wire (one code point per octet), which is
    exactly what PEP 3333 wants for native strings. `path` and `query` are still
    percent-encoded; the WSGI layer decodes `PATH_INFO`.
    """

    method: str  # as received (upper-cased only with casefold_http_method)
    target: str  # the raw request-target (RAW_URI / REQUEST_URI)
    path: str  # the target's path, percent-encoded as received
    query: str  # the target's query without `?`, "" when absent
    version: tuple[int, int]  # (1, 1) or (1, 0)
    headers: tuple[tuple[str, str], ...]  # (NAME upper-cased, value OWS-stripped), wire order
    content_length: int | None  # the body's declared length; None for chunked or no body
    chunked: bool  # Transfer-Encoding: chunked (the only coding accepted)
    keep_alive: bool  # the connection may persist after this exchange (client's view)
    expect_continue: bool  # Expect: 100-continue was sent (HTTP/1.1 only)
    scheme: str = ""  # from an absolute-form target ("http"/"https"), "" otherwise
    authority: str = ""  # host[:port] from an absolute- or authority-form target
    # A uwsgi packet's vars, already CGI-shaped by the front proxy: the environ builder takes
    # them as they are instead of mapping `headers` (None for HTTP/1.1, the hot path).
    cgi: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Data:
    """A piece of the request body (de-chunked)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfMessage:
    """The body is complete; `trailers` holds a chunked body's trailer fields, like headers."""

    trailers: tuple[tuple[str, str], ...] = ()


Event = RequestHead | Data | EndOfMessage | Sentinel
