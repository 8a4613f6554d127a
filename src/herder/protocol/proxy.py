"""PROXY protocol v1 and v2: the preamble a load balancer sends before the first request.

A `ProxyPreambleParser` wraps the connection's request parser (any `RequestParser`): it holds
the first bytes until it knows whether they are a PROXY header, takes the header off, records
the client's address in `info`, and hands every later byte to the wrapped parser untouched.

Rules (HAProxy's "PROXY protocol" specification, versions 1 and 2):
- `mode` is Gunicorn's `--proxy-protocol`: `v1` looks for the text header only, `v2` for the
  binary one, `auto` for either. A connection without a header is served as plain HTTP (the
  header is optional, as in Gunicorn);
- v1: `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` or `PROXY UNKNOWN...\r\n`, at most 107 bytes,
  addresses of the named family, ports 0..65535 without leading zeros or signs;
- v2: the 12-byte signature, version 2, command LOCAL (no address) or PROXY; the TCP/UDP
  over IPv4/IPv6 address blocks are read, other families keep the connection's own address;
  TLVs after the addresses are skipped;
- a header from a peer outside `--proxy-allow-from` is refused (403), a malformed one is 400.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from herder.protocol.base import RequestParser
from herder.protocol.errors import BadRequest, ProtocolError
from herder.protocol.events import NEED_DATA, Event

V1_PREFIX = b"PROXY "
V1_MAX = 107  # the whole line, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED = 16  # signature, version/command, family/transport, 16-bit length
V2_FAMILIES = {0x1: (4, 12), 0x2: (16, 36)}  # family -> (address bytes, address block size)


class ProxyMode(enum.Enum):
    """Which PROXY header versions a listener accepts (`--proxy-protocol`)."""

    OFF = "off"
    V1 = "v1"
    V2 = "v2"
    AUTO = "auto"


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    """What a PROXY header said; `source` is None for LOCAL / UNKNOWN (keep the peer's)."""

    version: int
    source: tuple[str, int] | None
    destination: tuple[str, int] | None


class ForbiddenProxy(ProtocolError):
    """A PROXY header from an address outside `--proxy-allow-from`."""

    status = 403
    notice = True


class ProxyPreambleParser:
    """A `RequestParser` that strips an optional PROXY header, then delegates."""

    __slots__ = ("_allowed", "_buf", "_decided", "_eof", "_inner", "_mode", "info")

    def __init__(self, inner: RequestParser, mode: ProxyMode, allowed: bool = True) -> None:
        self._inner = inner
        self._mode = mode
        self._allowed = allowed
        self._buf = bytearray()
        self._decided = mode is ProxyMode.OFF
        self._eof = False
        self.info: ProxyInfo | None = None

    def feed(self, data: bytes) -> None:
        if self._decided:
            self._inner.feed(data)
            return
        if self._eof:
            raise RuntimeError("data fed to the parser after EOF")
        self._buf += data
        self._eof = not data

    def next_event(self) -> Event:
        if not self._decided:
            consumed = self._parse_preamble()
            if consumed is None:
                return NEED_DATA
            self._decided = True
            rest, self._buf = bytes(self._buf[consumed:]), bytearray()
            if rest:
                self._inner.feed(rest)
            if self._eof:
                self._inner.feed(b"")
        return self._inner.next_event()

    def start_next_cycle(self) -> None:
        self._inner.start_next_cycle()

    @property
    def has_partial_data(self) -> bool:
        return bool(self._buf) or self._inner.has_partial_data

    @property
    def buffered(self) -> int:
        return len(self._buf) + self._inner.buffered

    def _parse_preamble(self) -> int | None:
        """Bytes of PROXY header at the start (0: none), or None while undecided."""
        buf, mode = bytes(self._buf), self._mode
        if mode is not ProxyMode.V2 and buf.startswith(V1_PREFIX):
            return self._checked(parse_v1(buf, self._eof))
        if mode is not ProxyMode.V1 and buf.startswith(V2_SIGNATURE):
            return self._checked(parse_v2(buf, self._eof))
        candidates = []
        if mode is not ProxyMode.V2:
            candidates.append(V1_PREFIX)
        if mode is not ProxyMode.V1:
            candidates.append(V2_SIGNATURE)
        if not self._eof and any(c.startswith(buf) and len(buf) < len(c) for c in candidates):
            return None
        return 0

    def _checked(self, parsed: tuple[ProxyInfo, int] | None) -> int | None:
        if parsed is None:
            return None
        if not self._allowed:
            raise ForbiddenProxy("PROXY header from an address not in --proxy-allow-from")
        self.info, consumed = parsed
        return consumed


def parse_v1(buf: bytes, eof: bool) -> tuple[ProxyInfo, int] | None:
    """The v1 line at the start of `buf` and its length; None until its CRLF arrives."""
    end = buf.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(buf) >= V1_MAX or eof:
            raise BadRequest("PROXY v1 line without CRLF within 107 bytes")
        return None
    parts = buf[:end].decode("latin-1").split(" ")
    if parts[1:2] == ["UNKNOWN"]:
        return ProxyInfo(1, None, None), end + 2
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise BadRequest("malformed PROXY v1 line")
    version = 4 if parts[1] == "TCP4" else 6
    source = (_address(parts[2], version), _port(parts[4]))
    destination = (_address(parts[3], version), _port(parts[5]))
    return ProxyInfo(1, source, destination), end + 2


def _address(text: str, version: int) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise BadRequest(f"bad address in PROXY header: {text[:48]!r}") from None
    if address.version != version:
        raise BadRequest(f"PROXY header address {text!r} is not IPv{version}")
    return str(address)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or (text[0] == "0" and text != "0"):
        raise BadRequest(f"bad port in PROXY header: {text[:8]!r}")
    port = int(text)
    if port > 65535:
        raise BadRequest(f"PROXY header port {port} is not in 0..65535")
    return port


def parse_v2(buf: bytes, eof: bool) -> tuple[ProxyInfo, int] | None:
    """The v2 header at the start of `buf` and its length; None until all of it arrived."""
    if len(buf) < V2_FIXED or len(buf) < V2_FIXED + int.from_bytes(buf[14:16], "big"):
        if eof:
            raise BadRequest("connection closed inside a PROXY v2 header")
        return None
    version, command = buf[12] >> 4, buf[12] & 0x0F
    if version != 2 or command > 1:
        raise BadRequest(f"PROXY v2 header with version {version}, command {command}")
    total = V2_FIXED + int.from_bytes(buf[14:16], "big")
    family, transport = buf[13] >> 4, buf[13] & 0x0F
    if command == 0 or family not in V2_FAMILIES or transport not in (1, 2):
        return ProxyInfo(2, None, None), total  # LOCAL, or an address family we keep ours for
    size, block = V2_FAMILIES[family]
    if total - V2_FIXED < block:
        raise BadRequest("PROXY v2 address block shorter than its family needs")
    raw = buf[V2_FIXED : V2_FIXED + block]
    src = str(ipaddress.ip_address(raw[:size]))
    dst = str(ipaddress.ip_address(raw[size : 2 * size]))
    ports = raw[2 * size :]
    source = (src, int.from_bytes(ports[0:2], "big"))
    destination = (dst, int.from_bytes(ports[2:4], "big"))
    return ProxyInfo(2, source, destination), total
