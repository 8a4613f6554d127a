"""One request through the application and its response onto the wire (PEP 3333).

The worker builds an `Exchange` per request, calls `start()` (which calls the application),
sends every piece `output()` yields (bytes with `Transport.send`, a `FileRange` with
`send_file_range`), then calls `close()` in a `finally`. Bytes the application pushes through
`write()`, and `100 Continue`, go out through the transport at once, so the order on the wire
is the order of calls.

Rules:
- The head is not sent before the first non-empty body piece or the end of the body
  (PEP 3333), so `start_response(..., exc_info)` can still replace it until then. It goes out
  in the same `bytes` as the first piece when that piece is small (one syscall, not two).
- An application error before the head: log it, answer 500 with `Connection: close`. After
  the head: log it, stop; the connection is closed (a truncated body must not look complete).
- A `ProtocolError` raised while reading the body (client's fault, not logged) is answered
  with its status (nothing for `IncompleteMessage`); the connection is never reused.
- The application iterable's `close()` is called exactly once, whatever happens (PEP 3333).
- Keep-alive needs: the worker allows it, the client asked for it, the body is framed by
  length or chunks, nothing failed, the whole promised length went out, and the body of an
  `Expect: 100-continue` request was asked for (else the client may never send it,
  RFC 9110 §10.1.1) or is known to be complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeAlias

from herder.protocol.errors import ProtocolError, ResponseError
from herder.protocol.events import RequestHead
from herder.protocol.http11.response import CONTINUE_100, REASONS, error_response
from herder.wsgi import WSGIApplication
from herder.wsgi.file_wrapper import FileWrapper
from herder.wsgi.input import BodyReader
from herder.wsgi.response import Response, ResponseStart, check_start
from herder.wsgi.transport import FileRange, Transport

COALESCE_LIMIT = 65536  # copying a larger first piece behind the head costs more than a syscall

ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
)


@dataclass(frozen=True, slots=True)
class ExchangeOptions:
    """What every exchange of one worker shares."""

    server_header: bytes  # the Server field value, e.g. b"herder"
    date: Callable[[], bytes]  # the current IMF-fixdate (RFC 9110 §5.6.7), cached per second
    use_sendfile: bool  # let a regular file's body go out as a FileRange
    on_error: Callable[[str, BaseException | None], None]  # log an app or response error


class Exchange:
    """One request/response through a WSGI application."""

    __slots__ = (
        "_allowed",
        "_answer",
        "_app",
        "_body",
        "_closed",
        "_continue_asked",
        "_environ",
        "_failed",
        "_finished",
        "_head",
        "_invalid",
        "_options",
        "_peer_gone",
        "_ran",
        "_response",
        "_result",
        "_start",
        "_transport",
        "response_headers",
        "status",
        "status_code",
    )

    def __init__(
        self,
        app: WSGIApplication,
        environ: dict[str, Any],
        head: RequestHead,
        body: BodyReader,
        transport: Transport,
        options: ExchangeOptions,
        keep_alive_allowed: bool,
    ) -> None:
        self._app = app
        self._environ = environ
        self._head = head
        self._body = body
        self._transport = transport
        self._options = options
        self._allowed = keep_alive_allowed and head.keep_alive
        self._response = Response(head.method, head.version)
        self._start: ResponseStart | None = None  # what start_response accepted last
        self._invalid: ResponseError | None = None  # why the last start_response failed
        self._result: Iterable[bytes] | None = None
        self._answer: int | None = None  # the status of an error response to send instead
        self._ran = self._failed = self._finished = self._closed = False
        self._continue_asked = False
        self._peer_gone: OSError | None = None  # how transport.send failed, if it did
        self.status = ""
        self.status_code = 0
        self.response_headers: list[tuple[str, str]] = []
        if head.expect_continue:
            body.before_first_read = self._send_continue

    @property
    def body_bytes(self) -> int:
        """Body octets sent (or handed to the worker to send), for the access log."""
        return self._response.body_bytes

    @property
    def started(self) -> bool:
        """The response head went, or is going, to the wire."""
        return self._response.started

    @property
    def keep_alive(self) -> bool:
        """After `output()` is exhausted: may the connection carry another request?"""
        return self._response.keep_alive and self._finished and self._body.error is None

    def start(self) -> None:
        """Call the application; its errors are logged and answered, never raised."""
        self._ran = True
        try:
            self._result = self._app(self._environ, self._start_response)
        except Exception as exc:
            self._fail(exc)

    def output(self) -> Iterator[bytes | FileRange]:
        """The response as it goes on the wire, in order; ends with the iterable closed.

        Send each piece before asking for the next: the file of a `FileRange` is closed
        when the output ends.
        """
        if not self._ran:
            self.start()
        if self._failed:
            yield from self._error_answer()
        else:
            try:
                yield from self._body_output()
            except Exception as exc:
                self._fail(exc)
                yield from self._error_answer()
        self._finished = True  # a failure has lowered keep_alive already
        self.close()

    def whole(self) -> bytes | None:
        """After `start()`: the complete response as one `bytes` when the application
        returned a list or tuple of bytes, sent nothing itself and the whole fits under
        `COALESCE_LIMIT`; the exchange is then finished (as after `output()`). None
        otherwise: send `output()` instead. The common case, in one step instead of a chain
        of generators; what goes on the wire is the same."""
        result = self._result
        kind = type(result)
        if (kind is not list and kind is not tuple) or self._failed or self._response.started:
            return None
        if self._start is None:  # output() answers this error
            return None
        assert isinstance(result, (list, tuple))
        known = _sum_lengths(result)
        if known is None or known > COALESCE_LIMIT:
            return None
        body = result[0] if len(result) == 1 else b"".join(result)
        head = self._head_bytes(known)
        data = head + self._response.frame(body) if body else head
        self._check_complete()
        self._finished = True
        self.close()
        return data

    def close(self) -> None:
        """Call the application iterable's `close()` once; idempotent."""
        if self._closed:
            return
        self._closed = True
        if not self._finished:
            self._response.keep_alive = False
        close = getattr(self._result, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception as exc:
            self._options.on_error(f"Error closing the response to {self._request()}", exc)

    # -- the application's side: start_response and write

    def _start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and exc_info[1] is not None:
            if self._response.started:  # too late to replace the head (PEP 3333)
                raise exc_info[1].with_traceback(exc_info[2])
        elif self._start is not None:
            raise ResponseError("start_response() called again without exc_info")
        try:
            start = check_start(status, headers)
        except ResponseError as exc:
            self._invalid = exc
            raise
        self._start, self._invalid = start, None
        self.status, self.status_code, self.response_headers = status, start.code, start.headers
        return self._write

    def _write(self, data: bytes) -> None:
        if self._start is None:
            raise ResponseError("write() called before start_response()")
        if not isinstance(data, bytes):
            raise TypeError(f"write() takes bytes, not {type(data).__name__}")
        if self._peer_gone is not None:
            raise self._peer_gone
        if self._failed:
            raise ResponseError("write() after the response was aborted")
        if self._response.started:
            framed = self._response.frame(data)
            if framed:
                self._send(framed)
        elif data:
            for piece in self._head_with(data, None):
                self._send(piece)

    def _send_continue(self) -> None:
        self._continue_asked = True
        if not self._response.started:
            self._send(CONTINUE_100)  # RFC 9110 §15.2.1

    def _send(self, data: bytes) -> None:
        try:
            self._transport.send(data)
        except OSError as exc:  # the connection is dead: nothing more goes out
            self._peer_gone = exc
            self._failed = True
            self._response.keep_alive = False
            raise

    # -- the response body

    def _body_output(self) -> Iterator[bytes | FileRange]:
        result = self._result
        if result is None:
            raise TypeError("the application returned None instead of an iterable")
        started = self._response.started
        piece = result.file_range() if isinstance(result, FileWrapper) and not started else None
        if piece is not None and self._options.use_sendfile:
            yield from self._file_output(piece)
            return
        known = piece.count if piece is not None else None
        if known is None and not started and isinstance(result, (list, tuple)):
            known = _sum_lengths(result)
        for item in result:
            if not isinstance(item, bytes):
                raise TypeError(f"response body items must be bytes, not {type(item).__name__}")
            if self._response.started:
                framed = self._response.frame(item)
                if framed:
                    yield framed
            elif item:
                yield from self._head_with(item, known)
        yield from self._body_end(known)

    def _file_output(self, piece: FileRange) -> Iterator[bytes | FileRange]:
        yield self._head_bytes(piece.count)
        framed = self._response.frame_range(piece)
        if framed is not None:
            yield framed
        self._check_complete()

    def _body_end(self, known: int | None) -> Iterator[bytes]:
        response = self._response
        if not response.started:
            if known is None and self._head.method != "HEAD":
                known = 0  # the iterable is exhausted: the body was empty
            yield self._head_bytes(known) + response.end()
        elif end := response.end():
            yield end
        self._check_complete()

    def _check_complete(self) -> None:
        response = self._response
        if response.overrun:
            self._options.on_error(
                f"Response to {self._request()} was longer than its Content-Length; cut", None
            )
        if response.is_short:
            response.keep_alive = False
            self._options.on_error(
                f"Response to {self._request()} ended {response.remaining} bytes short of its "
                "Content-Length",
                None,
            )

    def _head_with(self, first: bytes, known: int | None) -> tuple[bytes, ...]:
        head = self._head_bytes(known)
        framed = self._response.frame(first)
        if len(framed) > COALESCE_LIMIT:
            return head, framed
        return (head + framed,)

    def _head_bytes(self, known: int | None) -> bytes:
        start = self._start
        if start is None:
            raise self._invalid or ResponseError("the application did not call start_response()")
        keep_alive = self._allowed and self._body.error is None and not self._unread_continue()
        options = self._options
        return self._response.head(start, known, keep_alive, options.date(), options.server_header)

    def _unread_continue(self) -> bool:
        head = self._head
        return (
            head.expect_continue
            and not self._continue_asked
            and not self._body.is_done
            and head.content_length != 0
        )

    # -- failures

    def abandon(self, status: int) -> bytes | None:
        """Give up on the application (its deadline passed): the error response to send
        when no head went out yet, else None (end the response by closing). The connection
        does not persist either way."""
        self._failed = True
        self._response.keep_alive = False
        if self._response.started:
            return None
        self._response.started = True
        self.response_headers = []
        self.status_code = status
        self.status = f"{status} {REASONS.get(status, 'Error')}"
        options = self._options
        answer = error_response(status, options.date(), options.server_header)
        self._response.body_bytes = len(answer) - answer.index(b"\r\n\r\n") - 4
        return answer

    def _fail(self, exc: Exception) -> None:
        self._failed = True
        self._response.keep_alive = False
        from_client = exc is self._body.error
        if not from_client and not (self._peer_gone and isinstance(exc, OSError)):  # peer's doing
            self._options.on_error(self._describe(exc), exc)
        if self._response.started:
            return
        status: int | None = 500
        if from_client:  # a broken body: answer what the parser says, or just close
            status = exc.status if isinstance(exc, ProtocolError) else None
        self._response.started = True  # the application's head will never go out now
        self._answer = status
        self.response_headers = []
        self.status_code = status or 0  # 0: nothing at all is sent
        self.status = f"{status} {REASONS.get(status, 'Error')}" if status else ""

    def _error_answer(self) -> Iterator[bytes]:
        if self._answer is not None:
            options = self._options
            answer = error_response(self._answer, options.date(), options.server_header)
            self._answer = None
            self._response.body_bytes = len(answer) - answer.index(b"\r\n\r\n") - 4
            yield answer

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, ResponseError):
            return f"Invalid response to {self._request()}: {exc}"
        return f"Error handling request {self._request()}"

    def _request(self) -> str:
        return f"{self._head.method} {self._head.path}"


def _sum_lengths(items: list[object] | tuple[object, ...]) -> int | None:
    total = 0
    for item in items:
        if not isinstance(item, bytes):
            return None
        total += len(item)
    return total
