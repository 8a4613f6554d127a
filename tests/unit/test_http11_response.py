"""Response serialization: status lines, fields, chunks, canned errors, bodiless responses."""

from __future__ import annotations

import pytest

from herder.protocol.errors import ResponseError
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.http11.response import (
    CONTINUE_100,
    HOP_BY_HOP,
    LAST_CHUNK,
    check_header,
    error_response,
    frame_chunk,
    parse_status,
    serialize_head,
    should_send_body,
)

DATE = b"Sat, 28 Nov 2026 09:00:00 GMT"
SERVER = b"herder/0.1.0"


def test_constants() -> None:
    assert CONTINUE_100 == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert LAST_CHUNK == b"0\r\n\r\n"
    assert {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    } == HOP_BY_HOP


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("200 OK", 200),
        ("200", 200),
        ("200 ", 200),
        ("404 Not Found", 404),
        ("100 Continue", 100),
        ("599 Whatever it is", 599),
        ("418 I'm a teapot\t(really)", 418),
        ("200 caf\xe9", 200),
    ],
)
def test_parse_status(status: str, code: int) -> None:
    assert parse_status(status) == code


@pytest.mark.parametrize(
    "status",
    [
        "",
        "OK",
        "20 OK",
        "2000 OK",
        "200OK",
        "099 Low",
        "600 High",
        " 200 OK",
        "200  \r\nX-Injected: 1",
        "200 OK\n",
        "200 O\x00K",
        "200 O\x7fK",
        "200 \u0100",
        "\uff12\uff10\uff10 OK",  # full-width digits
    ],
)
def test_parse_status_refuses_malformed_statuses(status: str) -> None:
    with pytest.raises(ResponseError):
        parse_status(status)


@pytest.mark.parametrize(
    ("name", "value"),
    [("Content-Type", "text/html"), ("X-Tab", "a\tb"), ("Set-Cookie", ""), ("X-Obs", "caf\xe9")],
)
def test_check_header_accepts_valid_fields(name: str, value: str) -> None:
    check_header(name, value)  # no exception is the assertion
    assert serialize_head("200 OK", [(name, value)], b"").count(b"\r\n") == 3


@pytest.mark.parametrize("name", ["", "Bad Name", "X:Y", "X\r\nY", "Ünicode", "a(b)"])
def test_check_header_refuses_invalid_names(name: str) -> None:
    with pytest.raises(ResponseError, match="name"):
        check_header(name, "v")


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nX-Injected: 1", "a\x00", "a\x1b", "\x7f"])
def test_check_header_refuses_controls_in_values_and_names_the_field(value: str) -> None:
    with pytest.raises(ResponseError, match="X-Value"):
        check_header("X-Value", value)


def test_check_header_refuses_characters_beyond_latin1() -> None:
    with pytest.raises(ResponseError, match="X-Value"):
        check_header("X-Value", "snow \u2603")


@pytest.mark.parametrize("name", [*sorted(HOP_BY_HOP), "Connection", "TRANSFER-ENCODING"])
def test_check_header_refuses_hop_by_hop_fields(name: str) -> None:
    with pytest.raises(ResponseError, match="hop-by-hop"):
        check_header(name, "x")


def test_serialize_head() -> None:
    tail = b"Date: " + DATE + b"\r\nConnection: close\r\n"
    head = serialize_head("201 Created", [("Location", "/x"), ("X-Name", "caf\xe9")], tail)
    assert head == (
        b"HTTP/1.1 201 Created\r\nLocation: /x\r\nX-Name: caf\xe9\r\n"
        b"Date: " + DATE + b"\r\nConnection: close\r\n\r\n"
    )


def test_serialize_head_without_fields() -> None:
    assert serialize_head("204 No Content", [], b"") == b"HTTP/1.1 204 No Content\r\n\r\n"


def test_serialize_head_refuses_characters_beyond_latin1() -> None:
    with pytest.raises(ResponseError, match="latin-1"):
        serialize_head("200 OK", [("X-Snow", "\u2603")], b"")


@pytest.mark.parametrize(
    ("data", "framed"),
    [
        (b"abc", b"3\r\nabc\r\n"),
        (b"x" * 255, b"ff\r\n" + b"x" * 255 + b"\r\n"),
        (b"\r\n", b"2\r\n\r\n\r\n"),
        (b"", b""),
    ],
)
def test_frame_chunk(data: bytes, framed: bytes) -> None:
    assert frame_chunk(data) == framed


def test_framed_chunks_parse_back() -> None:
    body = frame_chunk(b"hello") + frame_chunk(b"") + frame_chunk(b" world") + LAST_CHUNK
    parser = HTTP11Parser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    events = [parser.next_event() for _ in range(5)]
    assert b"".join(getattr(event, "data", b"") for event in events) == b"hello world"


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (400, b"HTTP/1.1 400 Bad Request\r\n"),
        (408, b"HTTP/1.1 408 Request Timeout\r\n"),
        (413, b"HTTP/1.1 413 Content Too Large\r\n"),
        (414, b"HTTP/1.1 414 URI Too Long\r\n"),
        (431, b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        (500, b"HTTP/1.1 500 Internal Server Error\r\n"),
        (501, b"HTTP/1.1 501 Not Implemented\r\n"),
        (505, b"HTTP/1.1 505 HTTP Version Not Supported\r\n"),
    ],
)
def test_error_response(status: int, line: bytes) -> None:
    response = error_response(status, DATE, SERVER)
    head, _, body = response.partition(b"\r\n\r\n")
    assert response.startswith(line)
    assert body == line[9:-2] + b"\n"
    fields = dict(field.split(b": ", 1) for field in head.split(b"\r\n")[1:])
    assert fields == {
        b"Date": DATE,
        b"Server": SERVER,
        b"Connection": b"close",
        b"Content-Type": b"text/plain; charset=utf-8",
        b"Content-Length": str(len(body)).encode(),
    }


def test_error_response_for_an_unlisted_status() -> None:
    assert error_response(599, DATE, SERVER).startswith(b"HTTP/1.1 599 Error\r\n")


@pytest.mark.parametrize(
    ("method", "status", "expected"),
    [
        ("GET", 200, True),
        ("POST", 404, True),
        ("GET", 205, True),
        ("HEAD", 200, False),
        ("HEAD", 404, False),
        ("GET", 100, False),
        ("GET", 101, False),
        ("GET", 199, False),
        ("GET", 204, False),
        ("GET", 304, False),
        ("GET", 500, True),
    ],
)
def test_should_send_body(method: str, status: int, expected: bool) -> None:
    assert should_send_body(method, status) is expected
