"""The uwsgi parser: packets fed whole and byte by byte give the same events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herder.protocol.errors import BadRequest, IncompleteMessage, ProtocolError
from herder.protocol.events import NEED_DATA, PAUSED, Data, EndOfMessage, Event, RequestHead
from herder.protocol.uwsgi.packet import decode_vars, encode_packet, encode_vars
from herder.protocol.uwsgi.parser import (
    PING_REPLY,
    ForbiddenPeer,
    PingReceived,
    State,
    UnsupportedModifier,
    UwsgiLimits,
    UwsgiParser,
    VarsTooLarge,
)

NGINX_VARS = {
    "QUERY_STRING": "a=1&b=%C3%A9",
    "REQUEST_METHOD": "POST",
    "CONTENT_TYPE": "text/plain",
    "CONTENT_LENGTH": "5",
    "REQUEST_URI": "/caf%C3%A9?a=1&b=%C3%A9",
    "PATH_INFO": "/caf\xc3\xa9",
    "DOCUMENT_ROOT": "/usr/share/nginx/html",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REQUEST_SCHEME": "http",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "SERVER_PORT": "8080",
    "SERVER_NAME": "example.com",
    "HTTP_HOST": "example.com",
}
PACKET = encode_packet(NGINX_VARS) + b"hello"


def events(parser: UwsgiParser, chunks: list[bytes]) -> list[Event]:
    """Every event until PAUSED, feeding `chunks` whenever the parser needs bytes."""
    out: list[Event] = []
    feed = iter(chunks)
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            parser.feed(next(feed, b""))
            continue
        out.append(event)
        if event is PAUSED:
            return out


def body_of(found: list[Event]) -> bytes:
    return b"".join(e.data for e in found if isinstance(e, Data))


@pytest.mark.parametrize("split", ["whole", "bytewise"])
def test_request_gives_head_body_and_end(split: str) -> None:
    chunks = [PACKET] if split == "whole" else [PACKET[i : i + 1] for i in range(len(PACKET))]
    found = events(UwsgiParser(), chunks)
    head = found[0]
    assert isinstance(head, RequestHead)
    assert head.cgi == NGINX_VARS
    assert (head.method, head.path, head.query) == ("POST", "/caf\xc3\xa9", "a=1&b=%C3%A9")
    assert head.target == "/caf%C3%A9?a=1&b=%C3%A9"
    assert head.content_length == 5
    assert head.keep_alive is False and head.version == (1, 0)  # close-delimited response
    assert body_of(found) == b"hello"
    assert isinstance(found[-2], EndOfMessage)


def test_body_never_runs_past_content_length() -> None:
    parser = UwsgiParser()
    parser.feed(PACKET + b"extra")
    found = events(parser, [])
    assert body_of(found) == b"hello"
    assert parser.buffered == 5


def test_no_content_length_means_no_body() -> None:
    parser = UwsgiParser()
    parser.feed(encode_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}))
    found = events(parser, [])
    assert isinstance(found[0], RequestHead) and found[0].content_length == 0
    assert found[1:] == [EndOfMessage(), PAUSED]


def test_repeated_http_vars_are_joined_other_repeats_refused() -> None:
    block = encode_vars([("HTTP_X_A", "1"), ("HTTP_X_A", "2"), ("HTTP_COOKIE", "a=1")])
    block += encode_vars([("HTTP_COOKIE", "b=2")])
    assert decode_vars(block) == {"HTTP_X_A": "1,2", "HTTP_COOKIE": "a=1; b=2"}
    with pytest.raises(BadRequest, match="twice"):
        decode_vars(encode_vars([("PATH_INFO", "/a"), ("PATH_INFO", "/b")]))


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (b"\x00\x05\x00\x00\x03\x00abc", "ends inside a value length"),  # a key alone
        (b"\x00\x04\x00\x00\x09\x00abcd", "runs past"),  # key longer than the block
        (b"\x00\x05\x00\x00\x01\x00a\x05\x00", "runs past"),  # value past the block
        (encode_packet({"PATH_INFO": "/"}), "REQUEST_METHOD"),  # a required var missing
        (encode_packet({"REQUEST_METHOD": "GET"}), "PATH_INFO"),
        (
            encode_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "CONTENT_LENGTH": "1e3"}),
            "not a number",
        ),
        (
            encode_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "CONTENT_LENGTH": "-1"}),
            "not a number",
        ),
    ],
)
def test_malformed_packets_are_400(packet: bytes, message: str) -> None:
    parser = UwsgiParser()
    parser.feed(packet)
    with pytest.raises(BadRequest, match=message) as refused:
        parser.next_event()
    assert refused.value.status == 400
    assert parser.state is State.FAILED


def test_eof_inside_a_packet_or_body_is_incomplete() -> None:
    for cut in (2, 10, len(PACKET) - 2):
        parser = UwsgiParser()
        with pytest.raises(IncompleteMessage):
            events(parser, [PACKET[:cut]])


def test_eof_before_any_byte_is_just_need_data() -> None:
    parser = UwsgiParser()
    parser.feed(b"")
    assert parser.next_event() is NEED_DATA
    assert not parser.has_partial_data


def test_ping_is_answered_other_modifiers_refused() -> None:
    parser = UwsgiParser()
    parser.feed(b"\x64\x00\x00\x00")
    with pytest.raises(PingReceived) as ping:
        parser.next_event()
    assert ping.value.reply == PING_REPLY
    parser = UwsgiParser()
    parser.feed(b"\x6f\x00\x00\x00")
    with pytest.raises(UnsupportedModifier) as other:
        parser.next_event()
    assert other.value.status is None and other.value.notice


def test_vars_block_over_the_cap_names_the_setting() -> None:
    parser = UwsgiParser(UwsgiLimits(buffer_size=1024))
    parser.feed(encode_packet({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_X": "x" * 2000}))
    with pytest.raises(VarsTooLarge, match="--uwsgi-buffer-size") as refused:
        parser.next_event()
    assert refused.value.status == 431


def test_forbidden_peer_is_refused_before_parsing() -> None:
    parser = UwsgiParser(allowed=False)
    parser.feed(PACKET)
    with pytest.raises(ProtocolError) as refused:
        parser.next_event()
    assert isinstance(refused.value, ForbiddenPeer) and refused.value.status == 403


def test_next_cycle_parses_a_second_packet() -> None:
    parser = UwsgiParser()
    parser.feed(PACKET + PACKET)
    assert body_of(events(parser, [])) == b"hello"
    parser.start_next_cycle()
    assert body_of(events(parser, [])) == b"hello"
    parser.start_next_cycle()
    with pytest.raises(RuntimeError):
        parser.start_next_cycle()  # only legal when PAUSED


_LATIN1 = st.characters(min_codepoint=0, max_codepoint=255)
_PAIRS = st.dictionaries(
    st.text(_LATIN1, min_size=1, max_size=12).filter(lambda key: not key.startswith("HTTP_")),
    st.text(_LATIN1, max_size=40),
    max_size=24,
)


@given(_PAIRS)
def test_decode_vars_inverts_encode_vars(pairs: dict[str, str]) -> None:
    assert decode_vars(encode_vars(pairs)) == pairs


@given(_PAIRS, st.integers(min_value=1, max_value=400))
def test_a_truncated_vars_block_is_refused_unless_cut_between_vars(
    pairs: dict[str, str], cut: int
) -> None:
    block = encode_vars(pairs)
    items = list(pairs.items())
    boundaries = {len(encode_vars(items[:count])): count for count in range(len(items) + 1)}
    if cut in boundaries:  # whole vars only: a shorter, valid block
        assert decode_vars(block[:cut]) == dict(items[: boundaries[cut]])
    elif cut < len(block):
        with pytest.raises(BadRequest):
            decode_vars(block[:cut])
