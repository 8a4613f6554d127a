"""Field lines of a head or a trailer section (RFC 9112 §5, RFC 9110 §5).

Input is the section already checked for forbidden octets and bare CR/LF (`check_block`),
decoded as latin-1 and split on CRLF. Output is a list of `(NAME, value)` tuples in wire order,
names upper-cased, values stripped of leading and trailing SP/HTAB (RFC 9110 §5.5).

Rules:
- field-name is a token (RFC 9110 §5.1); whitespace between name and colon is a 400
  (RFC 9112 §5.1) unless `strip_header_spaces`;
- obs-fold (a line starting with SP or HTAB) is a 400 unless `permit_obsolete_folding`, which
  joins the lines with one SP (RFC 9112 §5.2); folding right after the start line is always a
  400 (RFC 9112 §2.2);
- limits: a field line, CRLF included (as Gunicorn counts, and with all its folded lines),
  may have at most `field_size` octets, and a section at most `fields` fields: else 431;
- names with `_` follow `header_map`: dropped, refused (400) or kept.
"""

from __future__ import annotations

from herder.protocol.errors import BadRequest, HeaderFieldsTooLarge
from herder.protocol.http11.grammar import TOKEN, check_block
from herder.protocol.limits import HeaderMap, Limits

DEFAULT_FIELD_SIZE = 8190  # what `field_size == 0` means (Gunicorn's cap)
_WS = " \t"

Fields = list[tuple[str, str]]

# Field names clients send most, in the spellings they use, mapped to upper case. A hit skips
# the token check and the upper-casing: these names are valid tokens without `_`. Static, so
# parsing stays a pure function of its input.
_COMMON = (
    "Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Accept-Charset",
    "Connection", "Keep-Alive", "Content-Length", "Content-Type", "Transfer-Encoding",
    "Cookie", "Referer", "Origin", "Authorization", "Cache-Control", "Pragma", "Expect",
    "If-Modified-Since", "If-None-Match", "If-Match", "If-Unmodified-Since", "If-Range",
    "Range", "TE", "Upgrade", "Upgrade-Insecure-Requests", "DNT", "Priority", "Via",
    "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
    "X-Forwarded-Port", "X-Real-IP", "X-Requested-With", "X-Request-ID", "Content-Encoding",
    "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Sec-CH-UA",
    "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol",
)  # fmt: skip
KNOWN_NAMES: dict[str, str] = {
    spelling: name.upper()
    for name in _COMMON
    for spelling in (name, name.lower(), name.upper(), name.title())
}


def field_line_limit(limits: Limits) -> int:
    """The longest field line allowed, in octets without its CRLF."""
    return (limits.field_size or DEFAULT_FIELD_SIZE) - 2


def check_section(block: bytes | bytearray, lines: list[str], first: int, limits: Limits) -> None:
    """All checks on a whole section before parsing: field limits, total size, octets.

    Limits come first so a section breaking both a limit and the syntax gets the same answer
    whether it arrived at once or in pieces (the guard of an incomplete section only knows
    about limits).
    """
    if len(block) > field_line_limit(limits):  # else no line can be too long
        check_line_sizes(lines, first, limits)
    count = len(lines) - first
    if limits.fields and count > limits.fields:
        if limits.permit_obsolete_folding:  # continuation lines are not fields
            count = sum(1 for line in lines[first:] if line[:1] not in (" ", "\t"))
        if count > limits.fields:
            raise HeaderFieldsTooLarge(f"more than {limits.fields} fields")
    if len(block) + 4 > limits.head_size:
        raise HeaderFieldsTooLarge(f"a head or trailer section over {limits.head_size} octets")
    check_block(block, len(lines) - 1)


def check_line_sizes(lines: list[str], first: int, limits: Limits) -> None:
    """Each field line, CRLF included, within `field_size` (431)."""
    longest = max(map(len, lines[first:]), default=0)
    if longest > field_line_limit(limits):
        raise HeaderFieldsTooLarge(f"a field line of {longest + 2} octets is too long")


def parse_fields(
    lines: list[str], first: int, limits: Limits, watch: frozenset[str]
) -> tuple[Fields, Fields]:
    """Parse `lines[first:]`; return all fields, and those whose name is in `watch`."""
    fields: Fields = []
    watched: Fields = []
    append = fields.append
    known = KNOWN_NAMES.get
    for line in lines[first:]:
        name, colon, value = line.partition(":")
        upper = known(name) if colon else None
        if upper is None:
            if line[:1] in (" ", "\t"):
                return parse_fields(unfold(lines, first, limits), first, limits, watch)
            upper = _other_name(name, colon, limits)
            if upper is None:
                continue
        field = (upper, value.strip(_WS))
        if upper in watch:
            watched.append(field)
        append(field)
    return fields, watched


def unfold(lines: list[str], first: int, limits: Limits) -> list[str]:
    """Join obs-fold continuation lines onto their field line (RFC 9112 §5.2)."""
    if not limits.permit_obsolete_folding:
        raise BadRequest("obsolete line folding (RFC 9112 §5.2)")
    joined = lines[:first]
    sizes: list[int] = []
    for line in lines[first:]:
        if line[:1] not in (" ", "\t"):
            joined.append(line)
            sizes.append(len(line) + 2)
        elif len(joined) == first:
            raise BadRequest("whitespace before the first field line (RFC 9112 §2.2)")
        else:
            joined[-1] = joined[-1].rstrip(_WS) + " " + line.strip(_WS)
            sizes[-1] += len(line) + 2
    if max(sizes) > field_line_limit(limits) + 2:
        raise HeaderFieldsTooLarge(f"a folded field of {max(sizes)} octets is too long")
    return joined


def _other_name(name: str, colon: str, limits: Limits) -> str | None:
    """Validate a name not in `KNOWN_NAMES`: its upper-case form, None to drop the field."""
    if not colon:
        raise BadRequest(f"field line without a colon: {name[:40]!r}")
    if not TOKEN.fullmatch(name):
        stripped = name.rstrip(_WS)
        if not (limits.strip_header_spaces and TOKEN.fullmatch(stripped)):
            raise BadRequest(f"invalid field name {name[:40]!r} (RFC 9110 §5.1, RFC 9112 §5.1)")
        name = stripped
    name = name.upper()
    if "_" in name and _drop_underscore(name, limits):
        return None
    return name


def _drop_underscore(name: str, limits: Limits) -> bool:
    """Whether to drop a field named with `_`; raise under `HeaderMap.REFUSE`."""
    policy = limits.header_map
    if policy is HeaderMap.REFUSE:
        raise BadRequest(f"field name with an underscore: {name[:40]!r}")
    return policy is HeaderMap.DROP
