"""An optional head parser backed by llhttp (the `httptools` package): same contract, same answers.

`parse_head_httptools(block, limits)` is a drop-in for `head.parse_head`: it returns the same
`RequestHead` for every head `parse_head` accepts and raises the same error for every head it
refuses. llhttp only splits the field lines; every rule of ours is still applied, by the very
functions `parse_head` uses, so speed never comes from skipping a check:
- before llhttp: the request-line limit (414), the field count and head size (431) and the
  octet check of the whole head (`grammar.check_block`);
- the request line is split by `request_line.split_request_line` and `split_target`, not by
  llhttp (llhttp accepts `GET  /`, `HTTP/2.0`, and refuses raw octets in a target that we
  accept);
- each field name goes through the same known-name table and token/underscore policy as
  `fields.parse_fields`, each value is stripped the same way, and the framing, Host,
  persistence and Expect rules are `head.complete_head`, the same tail as `parse_head`'s.
Whenever the fast path cannot prove it would give `parse_head`'s exact answer, it returns
None and `parse_head` answers instead. That is the case for: any error at all (refusals are
rare, and the reference then produces the exact error class, status and message), llhttp
refusing the head, obs-fold, a head longer than one field line may be (per-line limits), a
repeated field name (llhttp's header callback goes to a dict, one entry per name: the C-level
`dict.__setitem__` costs no Python frame per field, and a repeat shows as a missing entry).
"""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

from herder.protocol.errors import ProtocolError
from herder.protocol.events import RequestHead
from herder.protocol.http11.fields import KNOWN_NAMES, _other_name, field_line_limit
from herder.protocol.http11.grammar import check_block
from herder.protocol.http11.head import WATCHED, complete_head, parse_head
from herder.protocol.http11.request_line import split_request_line, split_target
from herder.protocol.limits import Limits

CRLF = b"\r\n"
END = b"\r\n\r\n"
_WS = " \t"


def parse_head_httptools(block: bytes | bytearray, limits: Limits) -> RequestHead:
    """Parse a request head (everything before its CRLFCRLF) exactly as `parse_head` does."""
    head = parse_fast(block, limits)
    return head if head is not None else parse_head(block, limits)


def parse_fast(block: bytes | bytearray, limits: Limits) -> RequestHead | None:
    """The head through llhttp, or None when `parse_head` must give the answer."""
    crlfs = within_limits(block, limits)
    if crlfs < 0:
        return None
    raw_fields = split_fields(block)
    if raw_fields is None or len(raw_fields) != crlfs:
        return None  # llhttp refused it, or a field name came twice
    try:
        return assemble(block, raw_fields, limits)
    except ProtocolError:
        return None


def within_limits(block: bytes | bytearray, limits: Limits) -> int:
    """The number of field lines when the head passes `check_section`'s checks and has no
    obs-fold, else -1 (`parse_head` then decides)."""
    if len(block) > field_line_limit(limits) or len(block) + 4 > limits.head_size:
        return -1  # some line may be over the limit; or the head is: let the reference say
    line_end = block.find(CRLF)
    if limits.request_line and (line_end if line_end >= 0 else len(block)) > limits.request_line:
        return -1
    crlfs = block.count(CRLF)
    if limits.fields and crlfs > limits.fields:
        return -1
    if b"\r\n " in block or b"\r\n\t" in block:
        return -1  # obs-fold (RFC 9112 §5.2): refused or unfolded by `fields.unfold`
    try:
        check_block(block, crlfs)
    except ProtocolError:
        return -1
    return crlfs


def split_fields(block: bytes | bytearray) -> dict[bytes, bytes] | None:
    """The raw field lines as name -> value by llhttp, in wire order; None when it refuses."""
    fields: dict[bytes, bytes] = {}
    done: list[bool] = []
    callbacks = SimpleNamespace(
        on_header=fields.__setitem__, on_headers_complete=partial(done.append, True)
    )
    try:
        HttpRequestParser(callbacks).feed_data(block + END)
    except HttpParserUpgrade:
        pass  # CONNECT or Upgrade: llhttp stops after a complete head
    except HttpParserError:
        return None
    return fields if done else None


def assemble(
    block: bytes | bytearray, raw_fields: dict[bytes, bytes], limits: Limits
) -> RequestHead:
    """Our rules on llhttp's pieces: the tail of `parse_head`, field by field."""
    line_end = block.find(CRLF)
    line = (block[:line_end] if line_end >= 0 else block).decode("latin-1")
    method, target, version = split_request_line(line, limits)
    parts = split_target(method, target)
    fields, watched = convert_fields(raw_fields, limits)
    return complete_head(method, target, version, parts, fields, watched, limits)


def convert_fields(
    raw_fields: dict[bytes, bytes], limits: Limits
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """`(NAME, value)` pairs as `fields.parse_fields` makes them, and the watched ones."""
    fields: list[tuple[str, str]] = []
    watched: list[tuple[str, str]] = []
    known = KNOWN_NAMES.get
    for raw_name, raw_value in raw_fields.items():
        name = raw_name.decode("latin-1")
        upper = known(name)
        if upper is None:
            upper = _other_name(name, ":", limits)
            if upper is None:
                continue  # an `_` name under `header_map = drop`
        field = (upper, raw_value.decode("latin-1").strip(_WS))
        if upper in WATCHED:
            watched.append(field)
        fields.append(field)
    return fields, watched
