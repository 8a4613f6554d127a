"""Pieces of the chunked transfer coding (RFC 9112 §7.1): size lines and trailer sections.

Rules:
- chunk-size is hex digits only: no sign, no `0x`, no whitespace before it; leading zeros and
  both letter cases are fine. Sizes of 2**63 or more are a 400 (no overflow anywhere);
- chunk extensions (`;name[=token|quoted-string]`, BWS around `;` and `=`) are checked and
  ignored; a bare CR, a bare LF or any other stray octet is a 400, and so are more than
  `chunk_ext_size` octets of them;
- the size line as a whole is bounded (digits plus extensions), so a peer cannot make us buffer
  an endless line;
- the trailer section is parsed like header fields, with the same limits. Fields that frame,
  route, authenticate or manage the connection must not come late (RFC 9110 §6.5.1): those are
  a 400 rather than silently dropped, and trailers are never merged into the headers.
"""

from __future__ import annotations

from herder.protocol.errors import BadRequest
from herder.protocol.http11.fields import check_section, parse_fields
from herder.protocol.http11.grammar import CHUNK_SIZE_LINE
from herder.protocol.limits import Limits

MAX_SIZE_DIGITS = 32  # leading zeros included; 16 significant ones already exceed 2**63
MAX_CHUNK_SIZE = 2**63 - 1

FORBIDDEN_TRAILERS = frozenset(
    (
        "CONTENT-LENGTH",
        "TRANSFER-ENCODING",
        "TRAILER",
        "HOST",
        "CONNECTION",
        "KEEP-ALIVE",
        "TE",
        "UPGRADE",
        "EXPECT",
        "AUTHORIZATION",
        "PROXY-AUTHORIZATION",
    )
)


def size_line_limit(limits: Limits) -> int:
    """The longest chunk-size line accepted, in octets without its CRLF."""
    return MAX_SIZE_DIGITS + limits.chunk_ext_size


def parse_size_line(buf: bytearray, start: int, end: int, limits: Limits) -> int:
    """Return the chunk size of the line `buf[start:end]` (without CRLF)."""
    match = CHUNK_SIZE_LINE.fullmatch(buf, start, end)
    if match is None:
        raise BadRequest(f"invalid chunk size line {bytes(buf[start:end])[:40]!r}")
    digits, extensions = match.group(1, 2)
    if len(extensions) > limits.chunk_ext_size:
        raise BadRequest(f"chunk extensions over {limits.chunk_ext_size} octets")
    if len(digits) > MAX_SIZE_DIGITS or int(digits, 16) > MAX_CHUNK_SIZE:
        raise BadRequest(f"chunk size {digits[:40]!r} is too large")
    return int(digits, 16)


def parse_trailers(block: bytes | bytearray, limits: Limits) -> tuple[tuple[str, str], ...]:
    """Parse a trailer section (everything before its terminating CRLFCRLF)."""
    lines = block.decode("latin-1").split("\r\n")
    check_section(block, lines, 0, limits)
    fields, forbidden = parse_fields(lines, 0, limits, FORBIDDEN_TRAILERS)
    if forbidden:
        raise BadRequest(f"{forbidden[0][0]} is not allowed in trailers (RFC 9110 §6.5.1)")
    return tuple(fields)
