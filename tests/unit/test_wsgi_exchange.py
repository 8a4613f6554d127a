"""One request through Exchange: framing, HEAD and bodiless statuses, write(), keep-alive."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from herder.protocol.http11.response import CONTINUE_100, LAST_CHUNK
from herder.wsgi import Environ, StartResponse, WSGIApplication
from herder.wsgi.exchange import COALESCE_LIMIT

from .test_wsgi_fakes import DATE, FakeTransport, body_script, make_head, read_reply, run

TEXT = [("Content-Type", "text/plain")]


def app_returning(
    body: Iterable[bytes], status: str = "200 OK", headers: list[tuple[str, str]] | None = None
) -> WSGIApplication:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, list(TEXT if headers is None else headers))
        return body

    return app


def streaming(*items: bytes, headers: list[tuple[str, str]] | None = None) -> WSGIApplication:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", list(TEXT if headers is None else headers))
        yield from items

    return app


class Tracked:
    """An iterable that records iteration and close() calls."""

    def __init__(self, *items: bytes) -> None:
        self.items = list(items)
        self.taken = 0
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        for item in self.items:
            self.taken += 1
            yield item

    def close(self) -> None:
        self.closed += 1


# -- framing


def test_single_item_list_gets_content_length_in_one_piece() -> None:
    result = run(app_returning([b"hello"]))
    assert result.pieces == [result.wire]  # head and body coalesced: one send
    reply = read_reply(result.wire)
    assert reply.status_line == "HTTP/1.1 200 OK"
    assert reply.get("Content-Type") == "text/plain"
    assert reply.get("Content-Length") == "5"
    assert reply.get("Date") == DATE.decode()
    assert reply.get("Server") == "herder"
    assert reply.get("Connection") is None
    assert reply.get("Transfer-Encoding") is None
    assert reply.body == b"hello"
    exchange = result.exchange
    assert exchange.keep_alive
    assert exchange.started
    assert exchange.status == "200 OK"
    assert exchange.status_code == 200
    assert exchange.response_headers == TEXT
    assert exchange.body_bytes == 5
    assert result.errors == []


def test_list_of_several_items_is_measured() -> None:
    result = run(app_returning([b"ab", b"", b"cde"]))
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == "5"
    assert reply.body == b"abcde"
    assert result.exchange.keep_alive


@pytest.mark.parametrize("body", [[], [b""], (), (b"",)])
def test_empty_body_gets_content_length_zero(body: Iterable[bytes]) -> None:
    result = run(app_returning(body))
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == "0"
    assert reply.body == b""
    assert result.exchange.keep_alive


def test_tuple_is_measured() -> None:
    reply = read_reply(run(app_returning((b"ab", b"c"))).wire)
    assert reply.get("Content-Length") == "3"


def test_stream_is_chunked_on_http11() -> None:
    result = run(streaming(b"one", b"", b"two"))
    reply = read_reply(result.wire)
    assert reply.get("Transfer-Encoding") == "chunked"
    assert reply.get("Content-Length") is None
    assert (reply.body, reply.complete) == (b"onetwo", True)
    assert result.wire.endswith(b"\r\n" + LAST_CHUNK)
    assert result.exchange.keep_alive
    assert result.exchange.body_bytes == 6


def test_first_stream_item_is_coalesced_with_the_head() -> None:
    result = run(streaming(b"", b"one", b"two"))
    assert len(result.pieces) == 3  # head+one, two, last chunk
    assert result.pieces[0].endswith(b"3\r\none\r\n")  # type: ignore[union-attr]


def test_large_first_item_is_not_copied_behind_the_head() -> None:
    big = b"x" * (COALESCE_LIMIT + 1)
    result = run(app_returning([big]))
    assert len(result.pieces) == 2
    assert result.pieces[1] is big
    assert read_reply(result.wire).body == big


def test_empty_stream_gets_content_length_zero() -> None:
    result = run(streaming(b"", b""))
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == "0"
    assert reply.get("Transfer-Encoding") is None
    assert result.exchange.keep_alive


def test_app_content_length_frames_a_stream() -> None:
    headers = [*TEXT, ("Content-Length", "6")]
    result = run(streaming(b"abc", b"def", headers=headers))
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == "6"
    assert reply.get("Transfer-Encoding") is None
    assert reply.body == b"abcdef"
    assert result.exchange.keep_alive
    assert result.errors == []


def test_app_content_length_wins_over_the_measured_one() -> None:
    headers = [*TEXT, ("content-length", "3")]
    reply = read_reply(run(app_returning([b"abc"], headers=headers)).wire)
    assert reply.get("Content-Length") == "3"
    assert [name for name, _ in reply.headers].count("content-length") == 1


def test_bytes_past_content_length_are_cut() -> None:
    headers = [*TEXT, ("Content-Length", "4")]
    result = run(streaming(b"abc", b"def", headers=headers))
    assert read_reply(result.wire).body == b"abcd"
    assert result.exchange.body_bytes == 4
    assert result.exchange.keep_alive  # the framing is intact
    assert len(result.errors) == 1
    assert "longer than its Content-Length" in result.errors[0][0]


def test_short_body_closes_the_connection() -> None:
    headers = [*TEXT, ("Content-Length", "10")]
    result = run(streaming(b"abc", headers=headers))
    assert read_reply(result.wire).body == b"abc"
    assert not result.exchange.keep_alive
    assert "7 bytes short" in result.errors[0][0]


def test_http10_stream_is_close_delimited() -> None:
    result = run(streaming(b"a", b"b"), make_head(version=(1, 0), keep_alive=True))
    reply = read_reply(result.wire)
    assert reply.get("Transfer-Encoding") is None
    assert reply.get("Content-Length") is None
    assert reply.get("Connection") == "close"
    assert reply.body == b"ab"
    assert not result.exchange.keep_alive


def test_http10_keep_alive_is_confirmed() -> None:
    result = run(app_returning([b"ab"]), make_head(version=(1, 0), keep_alive=True))
    assert read_reply(result.wire).get("Connection") == "keep-alive"
    assert result.exchange.keep_alive


def test_http10_without_keep_alive_closes() -> None:
    result = run(app_returning([b"ab"]), make_head(version=(1, 0), keep_alive=False))
    assert read_reply(result.wire).get("Connection") == "close"
    assert not result.exchange.keep_alive


@pytest.mark.parametrize(("allowed", "client"), [(False, True), (True, False)])
def test_connection_close_when_not_both_want_keep_alive(allowed: bool, client: bool) -> None:
    result = run(app_returning([b"ab"]), make_head(keep_alive=client), allowed=allowed)
    assert read_reply(result.wire).get("Connection") == "close"
    assert not result.exchange.keep_alive


def test_unread_body_does_not_prevent_keep_alive() -> None:
    head = make_head("POST", content_length=4)
    result = run(app_returning([b"ok"]), head, body_script(b"data"), incoming=[b"data"])
    assert result.exchange.keep_alive
    assert not result.reader.is_done  # the worker drains it
    assert result.reader.drain(100)


# -- HEAD and bodiless statuses


def test_head_keeps_the_measured_length_and_sends_no_body() -> None:
    body = Tracked(b"hello")
    result = run(app_returning([b"hello"]), make_head("HEAD"))
    assert read_reply(result.wire).get("Content-Length") == "5"
    assert result.wire.endswith(b"\r\n\r\n")
    assert b"hello" not in result.wire
    assert result.exchange.body_bytes == 0
    assert result.exchange.keep_alive
    result = run(app_returning(body), make_head("HEAD"))
    assert (body.taken, body.closed) == (1, 1)


def test_head_keeps_the_app_content_length() -> None:
    headers = [*TEXT, ("Content-Length", "42")]
    result = run(app_returning([], headers=headers), make_head("HEAD"))
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == "42"
    assert reply.body == b""
    assert result.exchange.keep_alive
    assert result.errors == []


def test_head_of_a_stream_has_no_framing_and_is_still_iterated() -> None:
    body = Tracked(b"a", b"b", b"c")
    result = run(app_returning(body), make_head("HEAD"))
    reply = read_reply(result.wire, head_only=True)
    assert reply.get("Transfer-Encoding") is None
    assert reply.get("Content-Length") is None
    assert reply.body == b""
    assert (body.taken, body.closed) == (3, 1)
    assert result.exchange.keep_alive


def test_head_of_an_empty_stream_claims_no_length() -> None:
    reply = read_reply(run(streaming(), make_head("HEAD")).wire)
    assert reply.get("Content-Length") is None


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_bodiless_status_sends_no_body(status: str) -> None:
    body = Tracked(b"ignored")
    result = run(app_returning(body, status, headers=[("X-A", "1")]))
    reply = read_reply(result.wire, head_only=True)
    assert reply.status_line == f"HTTP/1.1 {status}"
    assert reply.body == b""
    assert reply.get("Transfer-Encoding") is None
    assert reply.get("Content-Length") is None  # never computed for these
    assert (body.taken, body.closed) == (1, 1)
    assert result.exchange.keep_alive


def test_204_drops_an_app_content_length() -> None:
    result = run(app_returning([], "204 No Content", headers=[("Content-Length", "0")]))
    assert read_reply(result.wire).get("Content-Length") is None
    assert result.exchange.response_headers == []


def test_304_keeps_an_app_content_length() -> None:
    result = run(app_returning([], "304 Not Modified", headers=[("Content-Length", "99")]))
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == "99"
    assert reply.body == b""
    assert result.exchange.keep_alive


# -- write()


def writing_app(*chunks: bytes, returned: Iterable[bytes] = ()) -> WSGIApplication:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", list(TEXT))
        for chunk in chunks:
            write(chunk)
        return returned

    return app


def test_write_sends_immediately_through_the_transport() -> None:
    transport = FakeTransport()
    sent_during_app: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", list(TEXT))
        write(b"early")
        sent_during_app.append(len(transport.sent))
        return [b"late"]

    result = run(app, transport=transport)
    assert sent_during_app == [1]  # head + first chunk in one send, before the app returned
    reply = read_reply(result.wire)
    assert reply.get("Transfer-Encoding") == "chunked"
    assert (reply.body, reply.complete) == (b"earlylate", True)
    assert result.exchange.keep_alive


def test_write_with_content_length() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [*TEXT, ("Content-Length", "5")])
        write(b"ab")
        write(b"cde")
        return []

    result = run(app)
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == "5"
    assert reply.body == b"abcde"
    assert len(result.transport.sent) == 2  # head+"ab", then "cde"
    assert result.pieces == []  # nothing left for output()
    assert result.exchange.keep_alive


def test_empty_write_sends_nothing_yet() -> None:
    result = run(writing_app(b"", returned=[b"abc"]))
    assert read_reply(result.wire).get("Content-Length") == "3"  # head still waited


def test_write_on_http10_is_close_delimited() -> None:
    result = run(writing_app(b"a", b"b"), make_head(version=(1, 0)))
    reply = read_reply(result.wire)
    assert reply.body == b"ab"
    assert reply.get("Connection") == "close"
    assert not result.exchange.keep_alive


def test_write_for_head_sends_only_the_head() -> None:
    result = run(writing_app(b"abc"), make_head("HEAD"))
    assert result.wire.endswith(b"\r\n\r\n")
    assert b"abc" not in result.wire


# -- 100-continue


def reading_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    data = environ["wsgi.input"].read()
    start_response("200 OK", list(TEXT))
    return [b"got " + data]


def ignoring_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", list(TEXT))
    return [b"no thanks"]


def test_100_continue_is_sent_before_the_body_is_read() -> None:
    head = make_head("POST", content_length=4, expect_continue=True)
    result = run(reading_app, head, body_script(b"data"), incoming=[b"data"])
    assert result.transport.sent[0] == CONTINUE_100
    reply = read_reply(result.wire.removeprefix(CONTINUE_100))
    assert reply.body == b"got data"
    assert result.exchange.keep_alive


def test_partly_read_100_continue_body_keeps_alive() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        first = environ["wsgi.input"].read(2)
        start_response("200 OK", list(TEXT))
        return [first]

    head = make_head("POST", content_length=4, expect_continue=True)
    result = run(app, head, body_script(b"data"), incoming=[b"data"])
    assert result.transport.sent[0] == CONTINUE_100
    assert not result.reader.is_done
    assert result.exchange.keep_alive  # the client is sending: the worker can drain the rest
    assert result.reader.drain(10)


def test_no_100_continue_when_the_body_is_not_read() -> None:
    head = make_head("POST", content_length=4, expect_continue=True)
    result = run(ignoring_app, head, body_script(b"data"), incoming=[b"data"])
    assert CONTINUE_100 not in result.wire
    assert read_reply(result.wire).get("Connection") == "close"
    assert not result.exchange.keep_alive


def test_no_100_continue_after_the_head() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", list(TEXT))
        write(b"first")
        return [environ["wsgi.input"].read()]

    head = make_head("POST", content_length=4, expect_continue=True)
    result = run(app, head, body_script(b"data"), incoming=[b"data"])
    assert CONTINUE_100 not in result.wire
    assert read_reply(result.wire).body == b"firstdata"
    assert not result.exchange.keep_alive  # the head said close: the client may not send


def test_empty_body_with_expect_keeps_alive() -> None:
    head = make_head("POST", content_length=0, expect_continue=True)
    result = run(ignoring_app, head)
    assert CONTINUE_100 not in result.wire
    assert result.exchange.keep_alive
