"""check_start and Response framing, without an application around them."""

from __future__ import annotations

import io

import pytest

from herder.protocol.errors import ResponseError
from herder.wsgi.response import Framing, Response, ResponseStart, check_start
from herder.wsgi.transport import FileRange

DATE = b"Sun, 06 Nov 1994 08:49:37 GMT"


def head_of(
    response: Response,
    start: ResponseStart,
    known: int | None = None,
    keep_alive: bool = True,
) -> bytes:
    return response.head(start, known, keep_alive, DATE, b"herder")


def test_check_start_copies_and_reports_content_length() -> None:
    headers = [("Content-Type", "text/plain"), ("Content-Length", "12")]
    start = check_start("200 OK", headers)
    assert start == ResponseStart("200 OK", 200, headers, 12)
    assert start.headers is not headers


def test_check_start_status_without_reason() -> None:
    assert check_start("404", []).code == 404


def test_check_start_drops_content_length_from_204() -> None:
    start = check_start("204 No Content", [("Content-Length", "0"), ("X-A", "1")])
    assert start.headers == [("X-A", "1")]
    assert start.content_length is None


@pytest.mark.parametrize("status", ["100 Continue", "101 Switching Protocols", "199"])
def test_check_start_refuses_interim_statuses(status: str) -> None:
    with pytest.raises(ResponseError, match="1xx"):
        check_start(status, [])


def test_check_start_keeps_content_length_on_304() -> None:
    assert check_start("304 Not Modified", [("Content-Length", "7")]).content_length == 7


def test_check_start_rejects_injection() -> None:
    with pytest.raises(ResponseError, match="invalid character"):
        check_start("200 OK", [("Location", "/x\r\nSet-Cookie: a=b")])


def test_head_lines_and_order() -> None:
    response = Response("GET", (1, 1))
    head = head_of(response, check_start("200 OK", [("X-A", "1")]), known=3)
    assert head == (
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: " + DATE + b"\r\nServer: herder\r\n"
        b"Content-Length: 3\r\n\r\n"
    )
    assert response.started
    assert response.framing is Framing.LENGTH
    assert response.keep_alive


@pytest.mark.parametrize(
    ("method", "version", "status", "app_length", "known", "framing"),
    [
        ("GET", (1, 1), "200 OK", None, None, Framing.CHUNKED),
        ("GET", (1, 0), "200 OK", None, None, Framing.CLOSE),
        ("GET", (1, 1), "200 OK", "4", None, Framing.LENGTH),
        ("GET", (1, 0), "200 OK", None, 4, Framing.LENGTH),
        ("HEAD", (1, 1), "200 OK", None, None, Framing.NONE),
        ("GET", (1, 1), "204 No Content", None, None, Framing.NONE),
        ("GET", (1, 1), "304 Not Modified", "4", None, Framing.NONE),
    ],
)
def test_framing_choice(
    method: str,
    version: tuple[int, int],
    status: str,
    app_length: str | None,
    known: int | None,
    framing: Framing,
) -> None:
    response = Response(method, version)
    headers = [("Content-Length", app_length)] if app_length else []
    head_of(response, check_start(status, headers), known)
    assert response.framing is framing
    assert response.keep_alive is (framing is not Framing.CLOSE)


def test_close_delimited_says_close() -> None:
    response = Response("GET", (1, 0))
    assert b"Connection: close\r\n" in head_of(response, check_start("200 OK", []))


def test_not_keeping_alive_says_close() -> None:
    response = Response("GET", (1, 1))
    head = head_of(response, check_start("200 OK", []), known=0, keep_alive=False)
    assert b"Connection: close\r\n" in head
    assert not response.keep_alive


def test_chunk_framing_skips_empty_pieces() -> None:
    response = Response("GET", (1, 1))
    head_of(response, check_start("200 OK", []))
    assert response.frame(b"") == b""
    assert response.frame(b"abc") == b"3\r\nabc\r\n"
    assert response.end() == b"0\r\n\r\n"
    assert response.body_bytes == 3


def test_length_framing_cuts_and_counts() -> None:
    response = Response("GET", (1, 1))
    head_of(response, check_start("200 OK", [("Content-Length", "4")]))
    assert response.frame(b"abc") == b"abc"
    short_after_three = response.is_short
    assert response.frame(b"def") == b"d"
    assert (short_after_three, response.is_short, response.overrun) == (True, False, True)
    assert response.frame(b"more") == b""
    assert response.end() == b""
    assert response.body_bytes == 4


def test_no_content_framing_drops_everything() -> None:
    response = Response("HEAD", (1, 1))
    head_of(response, check_start("200 OK", []), known=10)
    assert response.frame(b"abc") == b""
    assert response.frame_range(FileRange(io.BytesIO(), 0, 10)) is None
    assert response.body_bytes == 0
    assert not response.is_short


def test_frame_range_is_limited_by_content_length() -> None:
    file = io.BytesIO(b"x" * 100)
    response = Response("GET", (1, 1))
    head_of(response, check_start("200 OK", [("Content-Length", "30")]))
    piece = response.frame_range(FileRange(file, 10, 100))
    assert piece == FileRange(file, 10, 30)
    assert response.body_bytes == 30
    assert not response.overrun


def test_frame_range_of_an_empty_file() -> None:
    response = Response("GET", (1, 1))
    head_of(response, check_start("200 OK", []), known=0)
    assert response.frame_range(FileRange(io.BytesIO(), 0, 0)) is None


def test_remembered_fields_are_still_checked_per_value() -> None:
    """The cache of validated fields never lets a different, invalid value through."""
    check_start("200 OK", [("X-Seen", "fine")])
    check_start("200 OK", [("X-Seen", "fine")])  # served from the cache
    with pytest.raises(ResponseError):
        check_start("200 OK", [("X-Seen", "bad\r\nSet-Cookie: x=1")])
    with pytest.raises(ResponseError):
        check_start("200 OK", [("Connection", "close")])
    with pytest.raises(ResponseError):
        check_start("100 Continue", [])
    assert check_start("200 OK", [("Content-Length", "5")]).content_length == 5
    assert check_start("200 OK", [("Content-Length", "7")]).content_length == 7


# -- the cache of checked starts


def test_a_repeated_start_is_the_remembered_one_and_equal_to_a_fresh_check() -> None:
    headers = [("Content-Type", "text/plain"), ("X-Repeat", "cache-me")]
    first = check_start("200 OK", headers)
    again = check_start("200 OK", list(headers))
    assert again is first
    assert again.lines == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Repeat: cache-me\r\n"


def test_the_app_changing_its_list_afterwards_changes_nothing() -> None:
    headers = [("X-Later", "1")]
    start = check_start("200 OK", headers)
    headers.append(("X-Injected", "2"))
    assert start.headers == [("X-Later", "1")]
    assert check_start("200 OK", headers).headers == headers  # a different start


def test_unhashable_or_invalid_items_still_get_their_error() -> None:
    with pytest.raises(ResponseError, match="tuple"):
        check_start("200 OK", [["X-List", "1"]])
    with pytest.raises(ResponseError, match="str"):
        check_start("200 OK", [("X-Int", 1)])
    with pytest.raises(ResponseError, match="status"):
        check_start(b"200 OK", [])
