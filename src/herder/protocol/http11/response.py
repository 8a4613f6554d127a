"""Serializing HTTP/1.1 responses: status line, fields, chunks, and canned error responses.

Rules:
- the status line always says `HTTP/1.1`: a server sends its own highest version
  (RFC 9110 §6.2), whatever the request's;
- a status is three digits 100-599, optionally SP and a reason phrase of HTAB, SP, VCHAR and
  obs-text (RFC 9112 §4); anything else is the application's bug: `ResponseError`;
- a field name is a token, a value holds no CR, LF, NUL or other control but HTAB (RFC 9110
  §5.5: the response-splitting guard), and hop-by-hop fields belong to the server, not the
  application (PEP 3333, RFC 9110 §7.6.1);
- everything is encoded latin-1; a character beyond U+00FF is a `ResponseError`;
- no body for HEAD, 1xx, 204 and 304 (RFC 9110 §6.4.1). Choosing Content-Length, chunked or
  close framing is the WSGI layer's job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus

from herder.protocol.errors import ResponseError
from herder.protocol.http11.grammar import TOKEN

HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    )
)
CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"

_STATUS = re.compile(r"([1-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u0100-\U0010ffff]")

# RFC 9110 §15 reason phrases; older Pythons still carry some RFC 2616 wordings.
REASONS: dict[int, str] = {status.value: status.phrase for status in HTTPStatus}
REASONS.update(
    {
        413: "Content Too Large",
        414: "URI Too Long",
        416: "Range Not Satisfiable",
        422: "Unprocessable Content",
    }
)


def parse_status(status: str) -> int:
    """The code of a WSGI status string such as "200 OK" (or just "200")."""
    match = _STATUS.fullmatch(status)
    if match is None:
        raise ResponseError(f"invalid status {status[:80]!r}")
    return int(match[1])


def check_header(name: str, value: str) -> None:
    """Reject a response field the application must not send."""
    if not TOKEN.fullmatch(name):
        raise ResponseError(f"invalid response field name {name[:80]!r}")
    if _BAD_VALUE.search(value):
        raise ResponseError(f"invalid character in the value of response field {name!r}")
    if name.lower() in HOP_BY_HOP:
        raise ResponseError(f"hop-by-hop field {name!r} is set by the server, not the app")


def serialize_start(status: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """The status line and the fields, each line ending in CRLF (no blank line yet)."""
    lines = [f"HTTP/1.1 {status}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers)
    try:
        return "".join(lines).encode("latin-1")
    except UnicodeEncodeError as error:
        bad = error.object[error.start : error.end]
        raise ResponseError(f"response head is not latin-1: {bad!r}") from error


def serialize_head(status: str, headers: Sequence[tuple[str, str]], tail: bytes) -> bytes:
    """Status line and fields, then `tail` (server-added lines, each ending in CRLF), then CRLF."""
    return serialize_start(status, headers) + tail + b"\r\n"


def frame_chunk(data: bytes) -> bytes:
    """`data` as one chunk (RFC 9112 §7.1); b"" for empty data, which must not end the body."""
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)


def error_response(status: int, date: bytes, server: bytes) -> bytes:
    """A complete response to a rejected request; the connection closes after it."""
    phrase = REASONS.get(status, "Error")
    body = b"%d %s\n" % (status, phrase.encode("latin-1"))
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("latin-1")),
            b"Date: %s\r\nServer: %s\r\n" % (date, server),
            b"Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n",
            b"Content-Length: %d\r\n\r\n" % len(body),
            body,
        )
    )


def should_send_body(method: str, status: int) -> bool:
    """Whether a response may carry content (RFC 9110 §6.4.1, §9.3.2, §15.3.5, §15.4.5)."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)
