"""The benchmark suite's WSGI application: one app, four routes, the same for every server.

Rules:
- Every route sends a status, a Content-Type and a Content-Length, and the body as a list of
  one bytes object, so no server has to guess the length or chunk the body.
- The route is picked by one dictionary lookup on PATH_INFO, the same small cost for every
  server; an unknown path gets 404.
- `/upload` reads the whole request body (in 64 KiB reads, as an app streaming an upload
  would) and answers how many bytes it read, so a server cannot skip the body.
- `/sleep` waits 10 ms with `time.sleep`: what a coroutine worker's monkey-patching makes
  cooperative and what a threaded worker runs on one of its threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

HELLO = b"Hello, World!"
BIG = b"x" * (64 * 1024)
SLEEP_S = 0.010
_READ_SIZE = 64 * 1024


def _answer(start_response: StartResponse, body: bytes, status: str = "200 OK") -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """`Hello, World!`."""
    return _answer(start_response, HELLO)


def big(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A 64 KiB body."""
    return _answer(start_response, BIG)


def upload(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Read the whole request body; answer its length in bytes."""
    stream = environ["wsgi.input"]
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_SIZE))
        if not chunk:
            break
        remaining -= len(chunk)
    read = int(environ.get("CONTENT_LENGTH") or 0) - remaining
    return _answer(start_response, str(read).encode())


def sleep(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Wait 10 ms, then answer."""
    time.sleep(SLEEP_S)
    return _answer(start_response, b"slept 10 ms")


ROUTES: dict[str, Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]] = {
    "/": hello,
    "/64k": big,
    "/upload": upload,
    "/sleep": sleep,
}


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Dispatch on PATH_INFO."""
    route = ROUTES.get(environ.get("PATH_INFO", ""))
    if route is None:
        return _answer(start_response, b"not found", "404 Not Found")
    return route(environ, start_response)
