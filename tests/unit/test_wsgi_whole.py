"""`Exchange.whole()`: the one-piece response of the common case puts on the wire exactly
what `output()` would, and declines (None) whenever it cannot, leaving `output()` to answer.

Every case runs twice, once through `output()` only and once `whole()` first, and the two
runs must agree on the wire bytes, persistence, counted body bytes, status and logged errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from herder.protocol.events import RequestHead
from herder.wsgi import Environ, StartResponse, WSGIApplication
from herder.wsgi.exchange import COALESCE_LIMIT, Exchange
from herder.wsgi.transport import FileRange

from .test_wsgi_fakes import FakeTransport, Run, make_head, run

TEXT = ("Content-Type", "text/plain")


def returning(
    body: Iterable[bytes], status: str = "200 OK", headers: list[tuple[str, str]] | None = None
) -> WSGIApplication:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, list([TEXT] if headers is None else headers))
        return body

    return app


def generating(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [TEXT])
    yield from (b"a", b"b")


def writing(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [TEXT])(b"early ")
    return [b"late"]


def failing(environ: Environ, start_response: StartResponse) -> list[bytes]:
    raise RuntimeError("boom")


def silent(environ: Environ, start_response: StartResponse) -> list[bytes]:
    return [b"no start_response"]


def whole_first(
    exchange: Exchange, transport: FakeTransport, pieces: list[bytes | FileRange]
) -> None:
    data = exchange.whole()
    if data is not None:
        pieces.append(data)
        transport.send(data)
        return
    for piece in exchange.output():
        assert isinstance(piece, bytes)
        pieces.append(piece)
        transport.send(piece)


def both(app: WSGIApplication, head: RequestHead | None = None) -> tuple[Run, Run]:
    return run(app, head), run(app, head, consume=whole_first)


def assert_same(generic: Run, fast: Run) -> None:
    assert fast.wire == generic.wire
    assert fast.exchange.keep_alive == generic.exchange.keep_alive
    assert fast.exchange.body_bytes == generic.exchange.body_bytes
    assert fast.exchange.status_code == generic.exchange.status_code
    assert [m for m, _ in fast.errors] == [m for m, _ in generic.errors]


TAKEN = [
    ("one item", returning([b"Hello, World!"]), None),
    ("several items", returning([b"a", b"", b"bc"]), None),
    ("a tuple", returning((b"x", b"y")), None),
    ("empty list", returning([]), None),
    ("one empty item", returning([b""]), None),
    ("app length", returning([b"abc"], headers=[TEXT, ("Content-Length", "3")]), None),
    ("app length short", returning([b"ab"], headers=[("Content-Length", "5")]), None),
    ("app length long", returning([b"abcdef"], headers=[("Content-Length", "2")]), None),
    ("404", returning([b"nope"], status="404 Not Found"), None),
    ("204", returning([], status="204 No Content", headers=[("Content-Length", "0")]), None),
    ("304", returning([b""], status="304 Not Modified", headers=[("ETag", '"1"')]), None),
    ("HEAD", returning([b"body"]), make_head(method="HEAD")),
    ("HTTP/1.0 keep-alive", returning([b"ok"]), make_head(version=(1, 0))),
    ("HTTP/1.0 close", returning([b"ok"]), make_head(version=(1, 0), keep_alive=False)),
    ("client close", returning([b"ok"]), make_head(keep_alive=False)),
    ("at the limit", returning([b"x" * 100]), None),
]


@pytest.mark.parametrize(("label", "app", "head"), TAKEN, ids=[case[0] for case in TAKEN])
def test_whole_puts_the_same_bytes_on_the_wire(
    label: str, app: WSGIApplication, head: RequestHead | None
) -> None:
    generic, fast = both(app, head)
    assert len(fast.pieces) == 1  # taken by whole(): one piece, one send
    assert_same(generic, fast)


DECLINED = [
    ("a generator", generating),
    ("over the coalesce limit", returning([b"x" * (COALESCE_LIMIT + 1)])),
    ("a str item", returning(["text"])),  # type: ignore[list-item]
    ("write() was used", writing),
    ("the app raised", failing),
    ("no start_response", silent),
    ("start_response refused", returning([b"x"], headers=[("X-Snow", "\u2603")])),
]


@pytest.mark.parametrize(("label", "app"), DECLINED, ids=[case[0] for case in DECLINED])
def test_whole_declines_and_output_answers(label: str, app: WSGIApplication) -> None:
    generic, fast = both(app)
    assert fast.exchange.whole() is None  # still None after the exchange ended
    assert_same(generic, fast)


def test_a_list_subclass_is_left_to_output_which_closes_it_once() -> None:
    class Closing(list[bytes]):
        closed = 0

        def close(self) -> None:
            Closing.closed += 1

    fast = run(returning(Closing([b"a"])), consume=whole_first)
    assert len(fast.pieces) == 1 and fast.wire.endswith(b"\r\n\r\na")
    assert Closing.closed == 1
