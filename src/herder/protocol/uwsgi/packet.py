"""Decoding one uwsgi packet: the 4-byte header and the vars block.

The packet (uWSGI's wire format, as nginx's uwsgi module writes it):
- header: modifier1 (1 byte), the vars block's size (16-bit little-endian), modifier2 (1 byte);
- vars block: pairs of key and value, each a 16-bit little-endian length then that many bytes.

Rules:
- lengths must stay inside the block: a pair cut short or running past it is malformed;
- keys and values are shown as latin-1 (one code point per octet), as PEP 3333 wants;
- `HTTP_*` keys may repeat (an nginx older than 1.23 sends a repeated header field as repeated
  vars): the values are joined with "," (RFC 9110 §5.3), Cookie with "; " (RFC 6265 §5.4).
  Any other key given twice is ambiguous, hence malformed.
"""

from __future__ import annotations

from herder.protocol.errors import BadRequest

HEADER_SIZE = 4


def read_header(buf: bytes | bytearray, pos: int) -> tuple[int, int, int]:
    """(modifier1, vars size, modifier2) of the header at `pos` (4 bytes must be there)."""
    return buf[pos], buf[pos + 1] | (buf[pos + 2] << 8), buf[pos + 3]


def decode_vars(block: bytes | bytearray) -> dict[str, str]:
    """The vars of one block; raises `BadRequest` when it is malformed.

    One loop with no call per var: a block from nginx holds 15 to 30 of them, and a call per
    key and value cost about twice the whole loop (measured). The block is decoded to latin-1
    once, so string offsets are octet offsets."""
    text = block.decode("latin-1")
    result: dict[str, str] = {}
    pos, end = 0, len(block)
    while pos < end:
        if pos + 2 > end:
            raise BadRequest("uwsgi vars block ends inside a key length")
        start = pos + 2
        pos = start + (block[pos] | (block[pos + 1] << 8))
        if pos > end:
            raise BadRequest(f"uwsgi key of {pos - start} bytes runs past the vars block")
        key = text[start:pos]
        if pos + 2 > end:
            raise BadRequest("uwsgi vars block ends inside a value length")
        start = pos + 2
        pos = start + (block[pos] | (block[pos + 1] << 8))
        if pos > end:
            raise BadRequest(f"uwsgi value of {pos - start} bytes runs past the vars block")
        if key not in result:
            result[key] = text[start:pos]
        elif key.startswith("HTTP_"):
            result[key] += ("; " if key == "HTTP_COOKIE" else ",") + text[start:pos]
        else:
            raise BadRequest(f"uwsgi var {key!r} given twice")
    return result


def encode_vars(pairs: list[tuple[str, str]] | dict[str, str]) -> bytes:
    """A vars block (for tests and the benchmark's probes): the inverse of `decode_vars`."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    out = bytearray()
    for key, value in items:
        for text in (key, value):
            raw = text.encode("latin-1")
            out += len(raw).to_bytes(2, "little") + raw
    return bytes(out)


def encode_packet(pairs: list[tuple[str, str]] | dict[str, str], modifier1: int = 0) -> bytes:
    """A whole packet's header and vars block (the body, if any, follows it)."""
    block = encode_vars(pairs)
    return bytes((modifier1,)) + len(block).to_bytes(2, "little") + b"\x00" + block
