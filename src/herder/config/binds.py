"""Listening addresses: the `bind` setting's spellings parsed into `Bind` records.

Accepted forms (Gunicorn's):
- `HOST:PORT`, `HOST` (port 8000), `:PORT` (all IPv4 interfaces), optionally `tcp://`-prefixed;
- `[IPv6]:PORT`, `[IPv6]` (port 8000); an IPv6 address must be bracketed, since its colons
  would otherwise be read as the port separator;
- `unix:PATH` or `unix://PATH`: a Unix domain socket;
- `fd://N`: an already-open listening socket inherited as file descriptor N;
- `uwsgi://HOST:PORT`, `uwsgi:unix:PATH` (or `uwsgi:` before any form above): that listener
  speaks the uwsgi protocol whatever `--protocol` says; `http://` likewise forces HTTP.

Ports are 0..65535; 0 asks the kernel for a free port (tests bind to it and read the real port
back). The master creates the sockets; this module only parses.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORT = 8000
PROTOCOLS = ("http", "uwsgi")  # what a listener may speak (`--protocol`, or per bind)
_HOST_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # a DNS name or an IPv4 literal


class BindKind(enum.Enum):
    """The family of a listening address."""

    TCP = "tcp"
    UNIX = "unix"
    FD = "fd"


@dataclass(frozen=True, slots=True)
class Bind:
    """One listening address; only the fields of its `kind` are set."""

    kind: BindKind
    host: str | None = None  # TCP: a name, an IPv4 or an IPv6 literal (without brackets)
    port: int | None = None  # TCP: 0..65535
    path: str | None = None  # UNIX: the socket's file system path
    fd: int | None = None  # FD: the inherited descriptor
    protocol: str | None = None  # "http" or "uwsgi" when the spelling says; None: --protocol

    def __str__(self) -> str:
        """The canonical spelling, which `parse_bind` reads back to an equal record."""
        if self.protocol is not None:
            slashes = "//" if self.kind is BindKind.TCP else ""
            return f"{self.protocol}:{slashes}{self._address()}"
        return self._address()

    def _address(self) -> str:
        if self.kind is BindKind.UNIX:
            return f"unix:{self.path}"
        if self.kind is BindKind.FD:
            return f"fd://{self.fd}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_ipv6(self) -> bool:
        """Whether this is a TCP address on an IPv6 literal (the socket family to use)."""
        return self.kind is BindKind.TCP and ":" in (self.host or "")


def parse_bind(spelled: str) -> Bind:
    """Parse one address; raises ValueError naming the bad spelling."""
    value = spelled.strip()
    for protocol in PROTOCOLS:
        if value.startswith(protocol + ":"):
            inner = value.removeprefix(protocol + ":").removeprefix("//")
            if not inner or inner.startswith(PROTOCOLS):
                raise ValueError(f"invalid address {spelled!r}: missing address")
            return dataclasses.replace(parse_bind(inner), protocol=protocol)
    if value.startswith("unix:"):
        return _parse_unix(value.removeprefix("unix://").removeprefix("unix:"), spelled)
    if value.startswith("fd://"):
        return _parse_fd(value.removeprefix("fd://"), spelled)
    return _parse_tcp(value.removeprefix("tcp://"), spelled)


def parse_binds(raw: object) -> list[Bind]:
    """The `bind` validator: a string or a list of strings -> a non-empty list of Binds."""
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"expected an address or a list of addresses, got {raw!r}")
    if not items:
        raise ValueError("at least one address is required")
    return [parse_bind(item) for item in items]


def render_binds(binds: list[Bind]) -> list[str]:
    """The config-file form of a bind list."""
    return [str(bind) for bind in binds]


def _parse_unix(path: str, spelled: str) -> Bind:
    if not path:
        raise ValueError(f"invalid address {spelled!r}: empty Unix socket path")
    return Bind(BindKind.UNIX, path=path)


def _parse_fd(number: str, spelled: str) -> Bind:
    if not (number.isascii() and number.isdigit()):
        raise ValueError(f"invalid address {spelled!r}: fd:// needs a descriptor number")
    return Bind(BindKind.FD, fd=int(number))


def _parse_tcp(netloc: str, spelled: str) -> Bind:
    if netloc.startswith("["):
        host, rest = _split_bracketed(netloc, spelled)
    elif netloc.count(":") > 1:
        raise ValueError(f"invalid address {spelled!r}: put IPv6 addresses in brackets")
    else:
        host, colon, port_text = netloc.partition(":")
        rest = colon + port_text
        host = host or "0.0.0.0"  # `:8000` means every IPv4 interface, as in Gunicorn
        if not _HOST_NAME.fullmatch(host):
            raise ValueError(f"invalid address {spelled!r}: bad host {host!r}")
    return Bind(BindKind.TCP, host=host, port=_parse_port(rest, spelled))


def _split_bracketed(netloc: str, spelled: str) -> tuple[str, str]:
    host, bracket, rest = netloc[1:].partition("]")
    if not bracket:
        raise ValueError(f"invalid address {spelled!r}: missing ']'")
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"invalid address {spelled!r}: bad IPv6 address {host!r}") from None
    return host, rest


def _parse_port(rest: str, spelled: str) -> int:
    """`rest` is "" (default port) or ":PORT"."""
    if not rest:
        return DEFAULT_PORT
    digits = rest[1:]
    if not rest.startswith(":") or not digits.isdigit() or not digits.isascii():
        raise ValueError(f"invalid address {spelled!r}: bad port {rest[1:]!r}")
    port = int(digits)
    if port > 65535:
        raise ValueError(f"invalid address {spelled!r}: port {port} is not in 0..65535")
    return port
