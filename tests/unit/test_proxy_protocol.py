"""The PROXY preamble parser (v1 and v2) in front of the HTTP/1.1 parser."""

from __future__ import annotations

import pytest

from herder.protocol.errors import BadRequest, ProtocolError
from herder.protocol.events import NEED_DATA, RequestHead
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.proxy import (
    V2_SIGNATURE,
    ForbiddenProxy,
    ProxyInfo,
    ProxyMode,
    ProxyPreambleParser,
)

REQUEST = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
V1 = b"PROXY TCP4 10.1.2.3 10.0.0.1 40000 80\r\n"
V2_LOCAL = V2_SIGNATURE + b"\x20\x00\x00\x00"
V2_TCP4 = (
    V2_SIGNATURE
    + b"\x21\x11\x00\x0f"
    + bytes([10, 9, 8, 7, 10, 0, 0, 1])
    + b"\x9c\x40\x00\x50"
    + b"\x00\x00\x00"
)


def head_through(
    mode: ProxyMode, data: bytes, split: bool, allowed: bool = True
) -> tuple[RequestHead, ProxyInfo | None]:
    parser = ProxyPreambleParser(HTTP11Parser(), mode, allowed)
    chunks = [data[i : i + 1] for i in range(len(data))] if split else [data]
    feed = iter(chunks)
    while True:
        event = parser.next_event()
        if isinstance(event, RequestHead):
            return event, parser.info
        assert event is NEED_DATA
        parser.feed(next(feed, b""))


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize(
    ("mode", "preamble", "source"),
    [
        (ProxyMode.AUTO, V1, ("10.1.2.3", 40000)),
        (ProxyMode.V1, V1, ("10.1.2.3", 40000)),
        (ProxyMode.AUTO, V2_TCP4, ("10.9.8.7", 40000)),
        (ProxyMode.V2, V2_TCP4, ("10.9.8.7", 40000)),
        (ProxyMode.AUTO, b"PROXY TCP6 ::1 ::2 1 2\r\n", ("::1", 1)),
        (ProxyMode.AUTO, b"PROXY UNKNOWN whatever\r\n", None),
        (ProxyMode.AUTO, V2_LOCAL, None),
        (ProxyMode.AUTO, b"", None),  # the header is optional
    ],
)
def test_header_is_stripped_and_read(
    mode: ProxyMode, preamble: bytes, source: tuple[str, int] | None, split: bool
) -> None:
    head, info = head_through(mode, preamble + REQUEST, split)
    assert head.target == "/"
    assert (info.source if info else None) == source


@pytest.mark.parametrize(
    "line",
    [
        b"PROXY TCP4 10.1.2.3 10.0.0.1 40000\r\n",
        b"PROXY TCP4 ::1 10.0.0.1 1 2\r\n",
        b"PROXY TCP4 10.1.2.3 10.0.0.1 040000 80\r\n",
        b"PROXY TCP4 10.1.2.3 10.0.0.1 70000 80\r\n",
        b"PROXY TCP5 10.1.2.3 10.0.0.1 1 2\r\n",
        b"PROXY TCP4 " + b"1" * 120 + b"\r\n",
    ],
)
def test_malformed_v1_is_400(line: bytes) -> None:
    with pytest.raises(BadRequest):
        head_through(ProxyMode.AUTO, line + REQUEST, False)


def test_v2_with_a_bad_version_is_400() -> None:
    with pytest.raises(BadRequest):
        head_through(ProxyMode.AUTO, V2_SIGNATURE + b"\x31\x11\x00\x00" + REQUEST, False)


def test_header_from_a_peer_not_allowed_is_403() -> None:
    with pytest.raises(ProtocolError) as refused:
        head_through(ProxyMode.AUTO, V1 + REQUEST, False, allowed=False)
    assert isinstance(refused.value, ForbiddenProxy) and refused.value.status == 403
    _head, info = head_through(ProxyMode.AUTO, REQUEST, False, allowed=False)
    assert info is None  # without a header the peer is simply served


def test_a_mode_ignores_the_other_version() -> None:
    with pytest.raises(BadRequest):  # the v2 bytes reach the HTTP parser
        head_through(ProxyMode.V1, V2_TCP4 + REQUEST, False)
    with pytest.raises(BadRequest):
        head_through(ProxyMode.V2, V1 + REQUEST, False)
