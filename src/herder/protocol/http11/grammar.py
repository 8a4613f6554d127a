"""Character classes and patterns of HTTP/1.1 messages, compiled once.

Rules (RFC 9110 §5.6.2, RFC 9112 §2.2, §5, §7.1.1):
- a token is one or more tchar: ALPHA, DIGIT and ``!#$%&'*+-.^_`|~``;
- a head may hold HTAB, SP, VCHAR and obs-text (0x80-0xFF) between its CRLFs; NUL, the other
  controls and DEL never (RFC 9110 §5.5), and CR and LF only as the pair CRLF (RFC 9112 §2.2);
- `check_block` applies that rule to a whole head (or trailer section) in one C-level pass,
  so no per-field scan is needed for forbidden octets afterwards.

Patterns work on latin-1 `str` (heads are decoded once) except `CHUNK_SIZE_LINE`, which
matches the receive buffer in place.
"""

from __future__ import annotations

import re

from herder.protocol.errors import BadRequest

TCHAR = "-!#$%&'*+.^_`|~0-9A-Za-z"
TOKEN = re.compile(f"[{TCHAR}]+")

# Every octet allowed inside a line of a head; `bytes.translate(None, delete=...)` removes
# them, so what remains is CR, LF and forbidden octets.
_LINE_OCTETS = bytes([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])

# Default method policy (Gunicorn's): an upper-case token of 3 to 20 characters without `#`.
CONVENTIONAL_METHOD = re.compile(r"[-!$%&'*+.^_`|~0-9A-Z]{3,20}")
COMMON_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
)

HTTP_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")  # RFC 9112 §2.3: exactly one digit each

# uri-host (RFC 3986 §3.2.2): an IP-literal in brackets or a reg-name.
_HOST = r"(?:\[[0-9A-Za-z:._~!$&'()*+,;=-]+\]|[0-9A-Za-z._~%!$&'()*+,;=-]+)"
AUTHORITY = re.compile(_HOST + r"(?::[0-9]*)?")  # uri-host [ ":" port ]
CONNECT_AUTHORITY = re.compile(_HOST + r":[0-9]+")  # authority-form (RFC 9112 §3.2.3)
HOST_VALUE = re.compile(f"(?:{AUTHORITY.pattern})?")  # an empty Host is allowed (RFC 9112 §3.2)

# chunk-size [ chunk-ext ] (RFC 9112 §7.1, §7.1.1): hex digits, then any number of
# `BWS ; BWS name [ BWS = BWS ( token / quoted-string ) ]`.
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_TOKEN_B = TCHAR.encode()
CHUNK_SIZE_LINE = re.compile(
    rb"([0-9A-Fa-f]+)((?:[ \t]*;[ \t]*[" + _TOKEN_B + rb"]+"
    rb"(?:[ \t]*=[ \t]*(?:[" + _TOKEN_B + rb"]+|" + _QUOTED + rb"))?)*)"
)


def check_block(block: bytes | bytearray, crlfs: int) -> None:
    """Reject forbidden octets and a bare CR or LF in `block`, which holds `crlfs` CRLFs.

    RFC 9112 §2.2: a bare CR is invalid, and we also refuse a bare LF as a line terminator
    (the SHOULD-accept leniency is how request smuggling through proxies works). What
    `translate` leaves is CR, LF and forbidden octets: exactly the CRLFs when all is well.
    """
    rest = block.translate(None, _LINE_OCTETS)
    if len(rest) != 2 * crlfs:
        raise BadRequest(_describe(rest))


def _describe(rest: bytes | bytearray) -> str:
    for octet in rest:
        if octet not in b"\r\n":
            return f"forbidden octet 0x{octet:02x} in the message head"
    return "bare CR or LF in the message head"
