"""WSGI apps the integration tests serve (plain functions, no framework)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.validate import validator

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

CALLS_FILE = os.environ.get("HERDER_TEST_CALLS")  # a file each app call appends a line to


def _note_call(environ: Environ) -> None:
    if CALLS_FILE:
        with open(CALLS_FILE, "a") as f:
            f.write(f"{environ['REQUEST_METHOD']} {environ.get('RAW_URI', '')}\n")


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    _note_call(environ)
    path = environ["PATH_INFO"]
    if path == "/pid":
        body = str(os.getpid()).encode()
    elif path == "/ids":
        body = f"{os.getuid()}:{os.getgid()}".encode()
    elif path == "/osenv":
        body = os.environ.get(environ["QUERY_STRING"], "<unset>").encode()
    elif path == "/sleep":
        time.sleep(float(environ["QUERY_STRING"].partition("=")[2] or "0.5"))
        body = b"slept"
    elif path.startswith("/environ"):
        return _environ(environ, start_response)
    elif path == "/echo":
        return _echo(environ, start_response)
    elif path == "/stream":
        return _stream(environ, start_response)
    elif path == "/big":
        size = int(environ["QUERY_STRING"].partition("=")[2] or "1048576")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"x" * size]
    elif path == "/boom":
        raise RuntimeError("boom before the response")
    elif path == "/boom-late":
        return _boom_late(start_response)
    elif path == "/inject":
        start_response("200 OK", [("X-Bad", "a\r\nSet-Cookie: evil=1")])
        return [b"never"]
    elif path == "/hop":
        start_response("200 OK", [("Connection", "close")])
        return [b"never"]
    elif path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"and returned"]
    elif path == "/endless":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _Endless(environ)
    elif path == "/file":
        return _file(environ, start_response)
    elif path == "/input-lines":
        lines = list(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(lines)).encode(), b" ", b"|".join(line.rstrip(b"\n") for line in lines)]
    else:
        body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _environ(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    shown = {
        k: v if isinstance(v, (str, bool, int)) else type(v).__name__ for k, v in environ.items()
    }
    shown["wsgi.version"] = list(environ["wsgi.version"])
    body = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def _echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or -1)
    body = environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


def _stream(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(5):
        yield f"part {i}\n".encode()


def _boom_late(start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first part"
    raise RuntimeError("boom after the response started")


def _file(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    path = environ["QUERY_STRING"].partition("=")[2]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    wrapper: Callable[..., Iterable[bytes]] = environ["wsgi.file_wrapper"]
    return wrapper(open(path, "rb"))


class _Endless:
    """A response that never ends by itself; notes in the calls file when it is closed."""

    def __init__(self, environ: Environ) -> None:
        self.environ = environ

    def __iter__(self) -> Iterator[bytes]:
        while True:
            yield b"x" * 65536
            time.sleep(0.01)

    def close(self) -> None:
        if CALLS_FILE:
            with open(CALLS_FILE, "a") as f:
                f.write("closed /endless\n")


validated = validator(hello)
