"""Request bodies: Content-Length framing, the chunked coding, trailers."""

from __future__ import annotations

from typing import Any

import pytest

from herder.protocol.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    IncompleteMessage,
    ProtocolError,
)
from herder.protocol.events import NEED_DATA, PAUSED, Data, EndOfMessage, Event, RequestHead
from herder.protocol.http11.body import FORBIDDEN_TRAILERS, MAX_SIZE_DIGITS
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.limits import HeaderMap, Limits

CHUNKED = b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


def events(raw: bytes, *, eof: bool = False, **limits: Any) -> list[Event]:
    """All events of `raw` fed whole, up to the first NEED_DATA or PAUSED."""
    parser = HTTP11Parser(Limits(**limits))
    parser.feed(raw)
    if eof:
        parser.feed(b"")
    out: list[Event] = []
    while not out or out[-1] not in (NEED_DATA, PAUSED):
        out.append(parser.next_event())
    return out


def body_of(raw: bytes, **limits: Any) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """The de-chunked body and the trailers of one complete request."""
    got = events(raw, **limits)
    assert isinstance(got[0], RequestHead)
    assert got[-1] is PAUSED
    end = got[-2]
    assert isinstance(end, EndOfMessage)
    return b"".join(e.data for e in got if isinstance(e, Data)), end.trailers


def chunked_error(chunks: bytes, error: type[ProtocolError] = BadRequest, **limits: Any) -> None:
    """Assert the chunked body `chunks` is refused after its head, before EndOfMessage."""
    parser = HTTP11Parser(Limits(**limits))
    parser.feed(CHUNKED + chunks)
    assert isinstance(parser.next_event(), RequestHead)
    with pytest.raises(error):
        read_body(parser)


def read_body(parser: HTTP11Parser) -> None:
    """Pull body events until the parser raises; anything but Data (or EOF's end) fails."""
    while True:
        event = parser.next_event()
        assert isinstance(event, Data), f"unexpected {event!r}"


# -- Content-Length ---------------------------------------------------------------------------


def test_content_length_body_then_end_of_message() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
    assert events(raw)[1:] == [Data(b"hello"), EndOfMessage(), PAUSED]


def test_content_length_never_reads_past_the_body() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n"
    parser = HTTP11Parser()
    parser.feed(raw)
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == Data(b"abc")
    assert parser.next_event() == EndOfMessage()
    assert parser.buffered == len(b"GET / HTTP/1.1\r\n\r\n")


def test_data_is_what_is_buffered_so_far() -> None:
    parser = HTTP11Parser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == Data(b"abc")
    assert parser.next_event() is NEED_DATA
    parser.feed(b"defghijXYZ")
    assert parser.next_event() == Data(b"defghij")
    assert parser.next_event() == EndOfMessage()
    assert parser.buffered == 3


def test_zero_content_length_gives_end_of_message_at_once() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
    assert events(raw)[1:] == [EndOfMessage(), PAUSED]


def test_eof_inside_a_content_length_body_is_incomplete() -> None:
    parser = HTTP11Parser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    parser.feed(b"")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == Data(b"abc")
    with pytest.raises(IncompleteMessage) as caught:
        parser.next_event()
    assert caught.value.status is None


# -- chunked ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "body"),
    [
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"5\r\nhello\r\n6\r\n world\r\n000\r\n\r\n", b"hello world"),
        (b"0005\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", b"0123456789" * 2),
        (b"0\r\n\r\n", b""),
        (b"5;a\r\nhello\r\n0;b=c\r\n\r\n", b"hello"),
        (b"5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"5\t;a\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b'5;foo="bar baz"\r\nhello\r\n0\r\n\r\n', b"hello"),
        (b'5;foo="a\\"b;c"\r\nhello\r\n0\r\n\r\n', b"hello"),
        (b'5;foo=""\r\nhello\r\n0\r\n\r\n', b"hello"),
        (b"3\r\n\r\n\r\r\n0\r\n\r\n", b"\r\n\r"),
    ],
)
def test_chunked_bodies(chunks: bytes, body: bytes) -> None:
    assert body_of(CHUNKED + chunks) == (body, ())


@pytest.mark.parametrize(
    "line",
    [
        b"-5",
        b"+5",
        b"0x5",
        b" 5",
        b"5 ",
        b"5\t",
        b"6_0",
        b"",
        b"g",
        b";a=b",
        b" ;foo=bar",
        b"5;",
        b"5;a=",
        b"5;a b",
        b'5;a="unterminated',
        b"5;a=\xff",
        b"5;ext=val\rue",
        b"5\n;",
        b"5;a\x00",
        b"5;a=b=c",
    ],
)
def test_invalid_chunk_size_lines(line: bytes) -> None:
    chunked_error(line + b"\r\nhello\r\n0\r\n\r\n")


def test_chunk_size_at_the_limit_is_accepted() -> None:
    parser = HTTP11Parser()
    parser.feed(CHUNKED + b"%x\r\nabc" % (2**63 - 1))
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == Data(b"abc")
    assert parser.next_event() is NEED_DATA


@pytest.mark.parametrize("line", [b"%x" % 2**63, b"1" + b"0" * 16, b"0" * (MAX_SIZE_DIGITS + 1)])
def test_chunk_sizes_from_2_63_and_endless_digits_are_refused(line: bytes) -> None:
    chunked_error(line + b"\r\n")


def test_chunk_extensions_are_bounded() -> None:
    fits = b"5;" + b"a" * 8
    assert body_of(CHUNKED + fits + b"\r\nhello\r\n0\r\n\r\n", chunk_ext_size=9)[0] == b"hello"
    chunked_error(fits + b"a\r\nhello\r\n0\r\n\r\n", chunk_ext_size=9)


def test_an_endless_size_line_fails_before_its_crlf() -> None:
    parser = HTTP11Parser(Limits(chunk_ext_size=10))
    parser.feed(CHUNKED + b"5;" + b"a" * (MAX_SIZE_DIGITS + 8) + b"\r")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() is NEED_DATA  # a line of 42 octets (the limit) and its CR
    parser.feed(b"a")
    with pytest.raises(BadRequest):
        parser.next_event()


@pytest.mark.parametrize("after", [b"helloX\r\n0\r\n\r\n", b"hello\n0\r\n\r\n", b"hello\rX"])
def test_chunk_data_must_be_followed_by_crlf(after: bytes) -> None:
    chunked_error(b"5\r\n" + after)


def test_a_wrong_first_octet_after_chunk_data_fails_at_once() -> None:
    parser = HTTP11Parser()
    parser.feed(CHUNKED + b"5\r\nhelloX")
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == Data(b"hello")
    with pytest.raises(BadRequest):
        parser.next_event()


@pytest.mark.parametrize(
    "chunks",
    [b"", b"5\r\nhel", b"5\r\nhello", b"5\r\nhello\r", b"5\r\nhello\r\n0\r\n", b"0\r\nX: y"],
)
def test_eof_inside_a_chunked_body_is_incomplete(chunks: bytes) -> None:
    parser = HTTP11Parser()
    parser.feed(CHUNKED + chunks)
    parser.feed(b"")
    assert isinstance(parser.next_event(), RequestHead)
    with pytest.raises(IncompleteMessage):
        read_body(parser)


# -- trailers ---------------------------------------------------------------------------------


def test_trailers_go_into_end_of_message_only() -> None:
    raw = CHUNKED + b"5\r\nhello\r\n0\r\nVary: *\r\ncontent-type:  text/plain \r\n\r\n"
    got = events(raw)
    head = got[0]
    assert isinstance(head, RequestHead)
    assert head.headers == (("HOST", "a"), ("TRANSFER-ENCODING", "chunked"))
    assert got[1:] == [
        Data(b"hello"),
        EndOfMessage((("VARY", "*"), ("CONTENT-TYPE", "text/plain"))),
        PAUSED,
    ]


@pytest.mark.parametrize("name", sorted(FORBIDDEN_TRAILERS))
def test_framing_routing_and_auth_fields_are_refused_in_trailers(name: str) -> None:
    chunked_error(b"0\r\n" + name.title().encode() + b": x\r\n\r\n")


def test_trailers_obey_the_field_limits() -> None:
    chunked_error(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", HeaderFieldsTooLarge, fields=2)
    fits = b"A: " + b"y" * 25  # the head's longest line is 26 octets; 28 + CRLF = 30
    assert body_of(CHUNKED + b"0\r\n" + fits + b"\r\n\r\n", field_size=30)[1] == (("A", "y" * 25),)
    chunked_error(b"0\r\n" + fits + b"y\r\n\r\n", HeaderFieldsTooLarge, field_size=30)


def test_trailers_obey_the_field_syntax() -> None:
    chunked_error(b"0\r\nno colon\r\n\r\n")
    chunked_error(b"0\r\nA: 1\r\n folded\r\n\r\n")
    chunked_error(b"0\r\n folded: 1\r\n\r\n", permit_obsolete_folding=True)
    chunked_error(b"0\r\nA: \x01\r\n\r\n")
    chunked_error(b"0\r\nA: 1\nB: 2\r\n\r\n")


def test_trailers_follow_header_map() -> None:
    raw = CHUNKED + b"0\r\nX_Y: 1\r\nZ: 2\r\n\r\n"
    assert body_of(raw)[1] == (("Z", "2"),)
    assert body_of(raw, header_map=HeaderMap.DANGEROUS)[1] == (("X_Y", "1"), ("Z", "2"))
    chunked_error(b"0\r\nX_Y: 1\r\n\r\n", header_map=HeaderMap.REFUSE)


def test_an_endless_trailer_section_fails_at_the_limit() -> None:
    parser = HTTP11Parser(Limits(field_size=30))
    parser.feed(CHUNKED + b"0\r\nX: " + b"y" * 26)  # 29 octets: the 29th could be the CR
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() is NEED_DATA
    parser.feed(b"y")
    with pytest.raises(HeaderFieldsTooLarge):
        parser.next_event()
