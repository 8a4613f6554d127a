"""Exchange failures: start_response rules, app errors before/after the head, bad headers,
broken request bodies, a vanished peer, and close() called exactly once in every case."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator

import pytest

from herder.protocol.errors import BadRequest, ContentTooLarge, IncompleteMessage, ResponseError
from herder.protocol.events import NEED_DATA, Data, EndOfMessage, Event
from herder.wsgi import Environ, StartResponse, WSGIApplication
from herder.wsgi.exchange import Exchange
from herder.wsgi.transport import FileRange

from .test_wsgi_fakes import FakeTransport, make_head, read_reply, run

TEXT = [("Content-Type", "text/plain")]


class Tracked:
    """An iterable that records close() calls and can fail at a given item."""

    def __init__(self, *items: bytes | Exception) -> None:
        self.items = list(items)
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        for item in self.items:
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self.closed += 1


def app_with(
    body: Iterable[bytes], status: object = "200 OK", headers: object = None
) -> WSGIApplication:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, TEXT if headers is None else headers)  # type: ignore[arg-type]
        return body

    return app


def assert_500(result_wire: bytes) -> None:
    reply = read_reply(result_wire)
    assert reply.status_line == "HTTP/1.1 500 Internal Server Error"
    assert reply.get("Connection") == "close"
    assert reply.body  # a short text body
    assert reply.get("Content-Length") == str(len(reply.body))


# -- application errors


def test_exception_before_the_head_is_a_500() -> None:
    boom = RuntimeError("boom")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))
        raise boom

    result = run(app, make_head(target="/where?secret=1"))
    assert_500(result.wire)
    assert result.errors == [("Error handling request GET /where", boom)]
    exchange = result.exchange
    assert not exchange.keep_alive
    assert exchange.status_code == 500
    assert exchange.status == "500 Internal Server Error"
    assert exchange.response_headers == []
    assert exchange.body_bytes == len(read_reply(result.wire).body)


def test_exception_from_the_first_item_is_a_500() -> None:
    body = Tracked(b"", ValueError("late"))
    result = run(app_with(body))
    assert_500(result.wire)
    assert isinstance(result.errors[0][1], ValueError)
    assert body.closed == 1


def test_exception_after_the_head_aborts_the_response() -> None:
    body = Tracked(b"part", ValueError("mid-stream"))
    result = run(app_with(body))
    reply = read_reply(result.wire)
    assert reply.status_line == "HTTP/1.1 200 OK"
    assert (reply.body, reply.complete) == (b"part", False)  # no last chunk: looks truncated
    assert not result.exchange.keep_alive
    assert result.exchange.status_code == 200
    assert [type(exc) for _, exc in result.errors] == [ValueError]
    assert body.closed == 1


def test_exception_after_write_aborts_the_response() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))(b"sent")
        raise KeyError("after write")

    result = run(app)
    assert read_reply(result.wire).body == b"sent"
    assert b"500" not in result.wire
    assert not result.exchange.keep_alive
    assert isinstance(result.errors[0][1], KeyError)


def test_start_response_not_called() -> None:
    result = run(lambda environ, start_response: [b"body"])
    assert_500(result.wire)
    assert "did not call start_response" in result.errors[0][0]


def test_start_response_not_called_with_an_empty_body() -> None:
    result = run(lambda environ, start_response: [])
    assert_500(result.wire)


def test_app_returning_none_is_a_500() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))
        return None  # type: ignore[return-value]

    result = run(app)
    assert_500(result.wire)
    assert isinstance(result.errors[0][1], TypeError)


@pytest.mark.parametrize("item", ["text", bytearray(b"x"), 42])
def test_non_bytes_item_before_the_head_is_a_500(item: object) -> None:
    result = run(app_with([item]))  # type: ignore[list-item]
    assert_500(result.wire)
    assert isinstance(result.errors[0][1], TypeError)


def test_non_bytes_item_after_the_head_aborts() -> None:
    body = Tracked(b"ok", "text")  # type: ignore[arg-type]
    result = run(app_with(body))
    assert read_reply(result.wire).complete is False
    assert not result.exchange.keep_alive
    assert body.closed == 1


def test_keyboard_interrupt_is_not_swallowed_but_close_still_runs() -> None:
    body = Tracked(b"a")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))
        return body

    def interrupted(
        exchange: Exchange, transport: FakeTransport, pieces: list[bytes | FileRange]
    ) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(app, consume=interrupted)
    assert body.closed == 1


# -- start_response rules


def test_second_call_without_exc_info_is_an_error() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))
        start_response("201 Created", list(TEXT))
        return [b"x"]

    result = run(app)
    assert_500(result.wire)
    assert "called again" in result.errors[0][0]


def test_exc_info_before_the_head_replaces_it() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [*TEXT, ("X-Old", "1")])
        try:
            raise ValueError("handled")
        except ValueError:
            start_response("503 Service Unavailable", [("X-New", "1")], sys.exc_info())
        return [b"sorry"]

    result = run(app)
    reply = read_reply(result.wire)
    assert reply.status_line == "HTTP/1.1 503 Service Unavailable"
    assert reply.get("X-New") == "1"
    assert reply.get("X-Old") is None
    assert reply.body == b"sorry"
    assert result.exchange.status_code == 503
    assert result.exchange.keep_alive
    assert result.errors == []


def test_exc_info_after_the_head_reraises() -> None:
    seen: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", list(TEXT))
        yield b"started"
        try:
            raise ValueError("too late")
        except ValueError:
            try:
                start_response("500 Oops", list(TEXT), sys.exc_info())
            except ValueError as exc:
                seen.append(exc)
                raise

    result = run(app)
    assert [str(exc) for exc in seen] == ["too late"]
    assert read_reply(result.wire).body == b"started"
    assert not result.exchange.keep_alive
    assert result.errors[0][1] is seen[0]


def test_start_response_returns_write() -> None:
    writes: list[object] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        writes.append(start_response("200 OK", list(TEXT)))
        return []

    run(app)
    assert callable(writes[0])


def test_write_before_start_response() -> None:
    captured: list[StartResponse] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        captured.append(start_response)
        exchange_write = start_response.__self__._write  # type: ignore[attr-defined]
        exchange_write(b"too early")
        return []

    result = run(app)
    assert_500(result.wire)
    assert "before start_response" in result.errors[0][0]


def test_write_of_non_bytes_is_a_500() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))("text")  # type: ignore[arg-type]
        return []

    result = run(app)
    assert_500(result.wire)
    assert isinstance(result.errors[0][1], TypeError)


# -- invalid status and headers: a 500, never on the wire


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        ("2000 OK", TEXT, "invalid status"),
        ("OK", TEXT, "invalid status"),
        ("200 OK\r\nX-Evil: 1", TEXT, "invalid status"),
        ("101 Switching Protocols", TEXT, "1xx status"),
        (b"200 OK", TEXT, "status must be a str"),
        ("200 OK", tuple(TEXT), "headers must be a list"),
        ("200 OK", [("X-Evil", "a\r\nSet-Cookie: owned=1")], "invalid character"),
        ("200 OK", [("X-Evil", "a\nb")], "invalid character"),
        ("200 OK", [("X-Evil", "a\x00b")], "invalid character"),
        ("200 OK", [("Bad Name", "1")], "invalid response field name"),
        ("200 OK", [("X-A:", "1")], "invalid response field name"),
        ("200 OK", [("Connection", "close")], "hop-by-hop"),
        ("200 OK", [("Transfer-Encoding", "chunked")], "hop-by-hop"),
        ("200 OK", [("X-A", 1)], "must be str"),
        ("200 OK", [("X-A", "1", "2")], "(name, value) tuple"),
        ("200 OK", [["X-A", "1"]], "(name, value) tuple"),
        ("200 OK", [("Content-Length", "12a")], "invalid Content-Length"),
        ("200 OK", [("Content-Length", "-1")], "invalid Content-Length"),
        ("200 OK", [("Content-Length", "\xb2")], "invalid Content-Length"),  # "²".isdigit()
        ("200 OK", [("Content-Length", "1"), ("Content-Length", "1")], "more than one"),
    ],
)
def test_invalid_response_is_a_500(status: object, headers: object, message: str) -> None:
    result = run(app_with([b"body"], status, headers))
    assert_500(result.wire)
    assert b"owned" not in result.wire
    assert b"X-Evil" not in result.wire
    assert len(result.errors) == 1
    text, exc = result.errors[0]
    assert isinstance(exc, ResponseError)
    assert text.startswith("Invalid response to GET /path: ")
    assert message in text


def test_swallowed_response_error_still_answers_500() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with contextlib.suppress(ResponseError):
            start_response("200 OK", [("X-Evil", "a\r\nb")])
        return [b"pretend all is fine"]

    result = run(app)
    assert_500(result.wire)
    assert b"pretend" not in result.wire
    assert isinstance(result.errors[0][1], ResponseError)


def test_app_mutating_headers_after_start_response_changes_nothing() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        headers = list(TEXT)
        start_response("200 OK", headers)
        headers.append(("X-Evil", "a\r\nb"))
        return [b"ok"]

    result = run(app)
    assert b"X-Evil" not in result.wire
    assert read_reply(result.wire).body == b"ok"


# -- close() exactly once


def test_close_is_called_once_on_success() -> None:
    body = Tracked(b"a")
    result = run(app_with(body))
    result.exchange.close()
    result.exchange.close()
    assert body.closed == 1


def test_close_is_called_once_when_the_worker_stops_early() -> None:
    body = Tracked(b"a", b"b", b"c")

    def first_piece_only(
        exchange: Exchange, transport: FakeTransport, pieces: list[bytes | FileRange]
    ) -> None:
        output = exchange.output()
        pieces.append(next(output))
        exchange.close()  # the client went away

    result = run(app_with(body), consume=first_piece_only)
    assert body.closed == 1
    assert not result.exchange.keep_alive


def test_close_error_is_logged_and_the_response_stands() -> None:
    class FailingClose(Tracked):
        def close(self) -> None:
            super().close()
            raise OSError("cannot close")

    body = FailingClose(b"ok")
    result = run(app_with(body))
    assert read_reply(result.wire).body == b"ok"
    assert body.closed == 1
    assert result.errors[0][0] == "Error closing the response to GET /path"
    assert result.exchange.keep_alive


# -- broken request bodies and a vanished peer


def body_reading_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    data = environ["wsgi.input"].read()
    start_response("200 OK", list(TEXT))
    return [data]


def test_body_protocol_error_answers_its_status_unlogged() -> None:
    script: list[Event | Exception] = [Data(b"abc"), ContentTooLarge("chunk too big")]
    result = run(body_reading_app, make_head("POST"), script)
    reply = read_reply(result.wire)
    assert reply.status_line == "HTTP/1.1 413 Content Too Large"
    assert reply.get("Connection") == "close"
    assert result.errors == []
    assert result.exchange.status_code == 413
    assert not result.exchange.keep_alive


def test_body_cut_short_sends_nothing() -> None:
    script: list[Event | Exception] = [NEED_DATA, Data(b"ab"), NEED_DATA, NEED_DATA]
    result = run(body_reading_app, make_head("POST"), script, incoming=[b"ab", b""])
    assert result.wire == b""
    assert result.exchange.status_code == 0
    assert result.errors == []
    assert isinstance(result.reader.error, IncompleteMessage)
    assert not result.exchange.keep_alive


def test_body_error_caught_by_the_app_still_closes() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            environ["wsgi.input"].read()
        except BadRequest:
            start_response("400 Bad Request", list(TEXT))
            return [b"your body was bad"]
        raise AssertionError("the read should fail")

    result = run(app, make_head("POST"), [BadRequest("bad chunk")])
    reply = read_reply(result.wire)
    assert reply.status_line == "HTTP/1.1 400 Bad Request"
    assert reply.get("Connection") == "close"
    assert not result.exchange.keep_alive


def test_app_wrapping_a_body_error_gets_a_500_and_a_close() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            environ["wsgi.input"].read()
        except BadRequest as exc:
            raise RuntimeError("wrapped") from exc
        return []

    result = run(app, make_head("POST"), [BadRequest("bad chunk")])
    assert_500(result.wire)
    assert isinstance(result.errors[0][1], RuntimeError)


def test_peer_gone_during_write_is_not_logged() -> None:
    transport = FakeTransport()
    transport.broken = True

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))(b"data")
        return []

    result = run(app, transport=transport)
    assert result.errors == []
    assert not result.exchange.keep_alive
    assert result.exchange.started


def test_peer_gone_while_sending_output() -> None:
    body = Tracked(b"a", b"b")
    transport = FakeTransport()

    def send_then_break(
        exchange: Exchange, transport: FakeTransport, pieces: list[bytes | FileRange]
    ) -> None:
        for piece in exchange.output():
            assert not isinstance(piece, FileRange)
            transport.send(piece)
            transport.broken = True

    with pytest.raises(BrokenPipeError):
        run(app_with(body), transport=transport, consume=send_then_break)
    assert body.closed == 1


def test_write_after_an_abort_is_refused() -> None:
    calls: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", list(TEXT))
        try:
            write(b"one")
        except OSError:
            calls.append("broken")
        try:
            write(b"two")
        except OSError:
            calls.append("broken again")
        return []

    transport = FakeTransport()
    transport.broken = True
    result = run(app, transport=transport)
    assert calls == ["broken", "broken again"]
    assert not result.exchange.keep_alive


def test_end_of_message_script_is_consumed() -> None:
    result = run(body_reading_app, make_head("POST"), [Data(b"xy"), EndOfMessage()])
    assert read_reply(result.wire).body == b"xy"
    assert result.reader.is_done
    assert result.exchange.keep_alive
