"""A whole request head, parsed in one call: request line, fields, framing, persistence.

The parser hands over the octets before the CRLFCRLF. They are decoded as latin-1 once, split
on CRLF once, and each field line is split once; no object is built per field beyond its
`(NAME, value)` tuple.

Rules (besides those of `request_line` and `fields`):
- framing (RFC 9112 §6): `Transfer-Encoding` must amount to exactly `chunked` (over one or more
  fields, case-insensitive, empty list elements ignored). A list element that is not a token
  is a 400; `chunked` present but not last, or more than once, is a 400 (§6.3, §6.1); any
  other coding (`gzip`, `identity`, `gzip, chunked`) is a 501 (§6.1): we implement none, and
  never hand a still-coded body to the application. `Transfer-Encoding` in HTTP/1.0 is a 400,
  and so is `Transfer-Encoding` together with `Content-Length` (§6.1, §6.3: smuggling);
- `Content-Length` is 1*DIGIT below 2**63 (RFC 9110 §8.6). The list form `5, 5` and a repeated
  field, even with equal values, are a 400 (our choice: nothing legitimate sends them);
- `Host`: more than one, or an invalid value, is a 400; none in HTTP/1.1 is a 400 when
  `require_host` (RFC 9112 §3.2). A repeated `Content-Type` is a 400 (Gunicorn's rule).
  Repeats of these singletons are refused before any other framing rule is applied;
- `keep_alive` (RFC 9112 §9.3): HTTP/1.1 unless `Connection` lists `close`; HTTP/1.0 only
  when it lists `keep-alive` and not `close`. Tokens are a case-insensitive comma list;
- `expect_continue`: HTTP/1.1 and `Expect` lists `100-continue` (RFC 9110 §10.1.1). Other
  expectations are ignored rather than answered 417: the application sees the field anyway.
- The body of any method is framed by these fields alone, GET and HEAD included (§6.3).
"""

from __future__ import annotations

from herder.protocol.errors import BadRequest, NotImplementedFeature, URITooLong
from herder.protocol.events import RequestHead
from herder.protocol.http11.fields import Fields, check_section, parse_fields
from herder.protocol.http11.grammar import HOST_VALUE, TOKEN
from herder.protocol.http11.request_line import Target, split_request_line, split_target
from herder.protocol.limits import Limits

# The fields that decide framing and connection handling; the field parser hands them over
# separately so nothing here walks the whole header list again.
WATCHED = frozenset(
    ("CONTENT-LENGTH", "TRANSFER-ENCODING", "HOST", "CONNECTION", "EXPECT", "CONTENT-TYPE")
)
SINGLETONS = frozenset(("CONTENT-LENGTH", "HOST", "CONTENT-TYPE"))  # a repeat is a 400
MAX_CONTENT_LENGTH = 2**63 - 1
# Host values that passed `HOST_VALUE` (a server sees few distinct ones): a repeat costs a
# dict lookup instead of a regex match. Bounded; the parse stays a pure function of its input.
_VALID_HOSTS: dict[str, None] = {}
_VALID_HOSTS_LIMIT = 256
HTTP_11 = (1, 1)


def parse_head(block: bytes | bytearray, limits: Limits) -> RequestHead:
    """Parse a request head (everything before its terminating CRLFCRLF)."""
    lines = block.decode("latin-1").split("\r\n")
    request_line = lines[0]
    if limits.request_line and len(request_line) > limits.request_line:
        raise URITooLong(f"request line of {len(request_line)} octets")
    check_section(block, lines, 1, limits)
    method, target, version = split_request_line(request_line, limits)
    parts = split_target(method, target)
    fields, watched = parse_fields(lines, 1, limits, WATCHED)
    return complete_head(method, target, version, parts, fields, watched, limits)


def complete_head(
    method: str,
    target: str,
    version: tuple[int, int],
    parts: Target,
    fields: Fields,
    watched: Fields,
    limits: Limits,
) -> RequestHead:
    """The rules that need the whole field section (framing, Host, persistence, Expect),
    then the head: the common tail of every head parser."""
    joined = join_watched(watched)
    content_length, chunked = framing(version, joined)
    check_host(version, joined.get("HOST"), limits)
    path, query, scheme, authority = parts
    return RequestHead(
        method,
        target,
        path,
        query,
        version,
        tuple(fields),
        content_length,
        chunked,
        is_persistent(version, joined.get("CONNECTION")),
        version == HTTP_11 and "EXPECT" in joined and "100-continue" in _elements(joined["EXPECT"]),
        scheme,
        authority,
    )


def join_watched(watched: list[tuple[str, str]]) -> dict[str, str]:
    """One value per name: list fields joined with "," (RFC 9110 §5.3), singletons unrepeated."""
    joined: dict[str, str] = {}
    for name, value in watched:
        if name in joined:
            if name in SINGLETONS:
                raise BadRequest(f"more than one {name} field (RFC 9110 §5.3)")
            value = joined[name] + "," + value
        joined[name] = value
    return joined


def framing(version: tuple[int, int], joined: dict[str, str]) -> tuple[int | None, bool]:
    """Return (content_length, chunked) from the framing fields (RFC 9112 §6)."""
    length = joined.get("CONTENT-LENGTH")
    codings = joined.get("TRANSFER-ENCODING")
    if codings is not None:
        if version != HTTP_11:
            raise BadRequest("Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)")
        if length is not None:
            raise BadRequest("both Transfer-Encoding and Content-Length (RFC 9112 §6.3)")
        check_chunked(codings)
        return None, True
    if length is None:
        return None, False
    return parse_content_length(length), False


def parse_content_length(value: str) -> int:
    """`Content-Length = 1*DIGIT` (RFC 9110 §8.6), bounded so it cannot overflow anything."""
    if not (value.isascii() and value.isdigit()) or len(value.lstrip("0")) > 19:
        raise BadRequest(f"invalid Content-Length {value[:40]!r}")
    length = int(value)
    if length > MAX_CONTENT_LENGTH:
        raise BadRequest(f"Content-Length {value} is too large")
    return length


def check_chunked(value: str) -> None:
    """Accept only a Transfer-Encoding that amounts to exactly `chunked`."""
    if value.lower() == "chunked":
        return
    codings = [coding.strip(" \t").lower() for coding in value.split(",")]
    codings = [coding for coding in codings if coding]  # RFC 9110 §5.6.1: ignore empty ones
    if not codings or not all(TOKEN.fullmatch(coding) for coding in codings):
        raise BadRequest(f"malformed Transfer-Encoding {value[:80]!r}")
    if codings == ["chunked"]:
        return
    if "chunked" not in codings:
        raise NotImplementedFeature(f"transfer coding {value[:80]!r} is not implemented")
    if codings[-1] != "chunked":
        raise BadRequest("chunked is not the final transfer coding (RFC 9112 §6.3)")
    if codings.count("chunked") > 1:
        raise BadRequest("chunked applied more than once (RFC 9112 §6.1)")
    unknown = ", ".join(codings[:-1])
    raise NotImplementedFeature(f"transfer coding {unknown[:80]!r} is not implemented")


def check_host(version: tuple[int, int], host: str | None, limits: Limits) -> None:
    """One valid Host, required in HTTP/1.1 when `require_host` (RFC 9112 §3.2)."""
    if host is None:
        if version == HTTP_11 and limits.require_host:
            raise BadRequest("HTTP/1.1 request without Host (RFC 9112 §3.2)")
    elif host not in _VALID_HOSTS:
        if not HOST_VALUE.fullmatch(host):
            raise BadRequest(f"invalid Host {host[:80]!r} (RFC 9112 §3.2)")
        if len(_VALID_HOSTS) < _VALID_HOSTS_LIMIT:
            _VALID_HOSTS[host] = None


def is_persistent(version: tuple[int, int], connection: str | None) -> bool:
    """Whether the client lets the connection persist (RFC 9112 §9.3)."""
    if connection is None:
        return version == HTTP_11
    options = _elements(connection)
    if version == HTTP_11:
        return "close" not in options
    return "keep-alive" in options and "close" not in options


def _elements(value: str) -> set[str]:
    """The lower-cased elements of a comma-separated list field (RFC 9110 §5.6.1)."""
    value = value.lower()
    if "," not in value:  # the usual single element
        return {value.strip(" \t")}
    return {element.strip(" \t") for element in value.split(",")}
