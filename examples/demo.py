"""A small WSGI application (no framework, PEP 3333 only) that shows herder at work.

Run it from the repository root with `make run`, or by hand:

    .venv/bin/herder --chdir examples -w 2 -b 127.0.0.1:8000 demo:app

then try:

    curl http://127.0.0.1:8000/                        # hello text
    curl -d 'some body' http://127.0.0.1:8000/echo     # POST: the body comes back
    curl -N 'http://127.0.0.1:8000/stream?n=5&delay=0.2'   # chunked, one line at a time
    curl http://127.0.0.1:8000/headers                 # the WSGI environ, as text
    curl 'http://127.0.0.1:8000/sleep?s=0.1'           # answers after a pause

Rules:
- Every input is bounded, so the demo cannot be turned against the machine: the echoed body
  (`MAX_ECHO_BYTES`, else 413), the streamed lines (`MAX_STREAM_LINES`), the pauses
  (`MAX_SLEEP_S`, `MAX_DELAY_S`); a value that is not a number gets 400.
- The body is read as PEP 3333 allows: up to CONTENT_LENGTH, or to the end when the server
  sets `wsgi.input_terminated` (chunked requests); otherwise it is taken as empty.
- Responses with a known size carry Content-Length; `/stream` carries none, so an HTTP/1.1
  server sends it with chunked transfer coding (RFC 9112 section 7.1).
- Unknown paths get 404; a known path with another method gets 405 and an Allow header
  (RFC 9110 section 15.5.6).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qs
from wsgiref.types import InputStream, StartResponse, WSGIEnvironment

MAX_ECHO_BYTES = 1024 * 1024
MAX_STREAM_LINES = 100
MAX_SLEEP_S = 5.0
MAX_DELAY_S = 1.0
_READ_CHUNK = 64 * 1024
_TEXT = "text/plain; charset=utf-8"
N = TypeVar("N", int, float)


class BadInput(Exception):
    """The request asks for something out of bounds; carries the status to answer with."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Response:
    """What a route answers: status line, headers and the body as an iterable of bytes."""

    status: str
    body: Iterable[bytes]
    headers: list[tuple[str, str]] = field(default_factory=list)


def text(body: str, status: str = "200 OK") -> Response:
    """A text/plain response of known length."""
    data = body.encode("utf-8", "backslashreplace")
    return Response(status, [data], [("Content-Type", _TEXT), ("Content-Length", str(len(data)))])


def hello(environ: WSGIEnvironment) -> Response:
    """`/`: a greeting that names the server."""
    return text(f"Hello from {environ.get('SERVER_SOFTWARE', 'a WSGI server')}!\n")


def echo(environ: WSGIEnvironment) -> Response:
    """`/echo` (POST): the request body, with the request's Content-Type."""
    body = read_body(environ)
    content_type = environ.get("CONTENT_TYPE") or "application/octet-stream"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    return Response("200 OK", [body], headers)


def read_body(environ: WSGIEnvironment) -> bytes:
    """The request body, at most `MAX_ECHO_BYTES`; raise `BadInput` (413) past that."""
    length = environ.get("CONTENT_LENGTH") or ""
    body_input: InputStream = environ["wsgi.input"]
    if length:
        size = _number(length, "Content-Length", int)
        if size < 0:
            raise BadInput("400 Bad Request", "Content-Length is negative\n")
        if size > MAX_ECHO_BYTES:
            raise BadInput("413 Content Too Large", f"the body is over {MAX_ECHO_BYTES} bytes\n")
        return body_input.read(size)
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length and no end marker: PEP 3333 says read nothing
    return _read_to_end(body_input)


def _read_to_end(body_input: InputStream) -> bytes:
    parts: list[bytes] = []
    received = 0
    while chunk := body_input.read(_READ_CHUNK):
        received += len(chunk)
        if received > MAX_ECHO_BYTES:
            raise BadInput("413 Content Too Large", f"the body is over {MAX_ECHO_BYTES} bytes\n")
        parts.append(chunk)
    return b"".join(parts)


def stream(environ: WSGIEnvironment) -> Response:
    """`/stream?n=5&delay=0`: n numbered lines from a generator, no Content-Length."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    count = _bounded(query, "n", int, default=5, high=MAX_STREAM_LINES)
    delay = _bounded(query, "delay", float, default=0.0, high=MAX_DELAY_S)
    return Response("200 OK", _lines(count, delay), [("Content-Type", _TEXT)])


def _lines(count: int, delay: float) -> Iterator[bytes]:
    for number in range(1, count + 1):
        if delay and number > 1:
            time.sleep(delay)
        yield f"line {number} of {count}\n".encode()


def headers(environ: WSGIEnvironment) -> Response:
    """`/headers`: the WSGI environ, one `KEY: value` per line, sorted."""
    lines = [f"{key}: {_show(value)}" for key, value in sorted(environ.items())]
    return text("\n".join(lines) + "\n")


def _show(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def sleep(environ: WSGIEnvironment) -> Response:
    """`/sleep?s=0.1`: pause (at most `MAX_SLEEP_S`), then say how long."""
    seconds = _bounded(parse_qs(environ.get("QUERY_STRING", "")), "s", float, 0.1, MAX_SLEEP_S)
    time.sleep(seconds)
    return text(f"slept {seconds:.3f} s\n")


def _bounded(query: dict[str, list[str]], name: str, kind: type[N], default: N, high: N) -> N:
    """Query parameter `name` as `kind`, between 0 and `high`; raise `BadInput` (400) else."""
    if name not in query:
        return default
    value = _number(query[name][0], name, kind)
    if not 0 <= value <= high:
        raise BadInput("400 Bad Request", f"{name} must be between 0 and {high}\n")
    return value


def _number(raw: str, name: str, kind: type[N]) -> N:
    try:
        return kind(raw)
    except ValueError:
        raise BadInput("400 Bad Request", f"{name} is not a number: {raw!r}\n") from None


Route = Callable[[WSGIEnvironment], Response]
ROUTES: dict[str, tuple[frozenset[str], Route]] = {
    "/": (frozenset({"GET", "HEAD"}), hello),
    "/echo": (frozenset({"POST"}), echo),
    "/stream": (frozenset({"GET", "HEAD"}), stream),
    "/headers": (frozenset({"GET", "HEAD"}), headers),
    "/sleep": (frozenset({"GET", "HEAD"}), sleep),
}


def respond(environ: WSGIEnvironment) -> Response:
    """Route the request; turn a missing route, a wrong method or bad input into 4xx."""
    route = ROUTES.get(environ.get("PATH_INFO") or "/")
    if route is None:
        return text("not found\n", "404 Not Found")
    methods, handler = route
    if environ["REQUEST_METHOD"] not in methods:
        response = text("method not allowed\n", "405 Method Not Allowed")
        return Response(response.status, response.body, [*response.headers, _allow(methods)])
    try:
        return handler(environ)
    except BadInput as error:
        return text(str(error), error.status)


def _allow(methods: frozenset[str]) -> tuple[str, str]:
    return ("Allow", ", ".join(sorted(methods)))


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI entry point: `demo:app`."""
    response = respond(environ)
    start_response(response.status, response.headers)
    return response.body
