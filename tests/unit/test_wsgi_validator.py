"""Apps wrapped in `wsgiref.validate.validator` run through Exchange without a complaint.

The validator asserts on the environ, wsgi.input, wsgi.errors, start_response, write, the
iterable and its close(); any failed check (or warning: they are errors in this suite)
surfaces as an application error, i.e. an `on_error` record and a 500.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from wsgiref.validate import validator

import pytest

from herder.protocol.events import RequestHead
from herder.wsgi import Environ, StartResponse, WSGIApplication

from .test_wsgi_fakes import Run, body_script, make_head, read_reply, run

TEXT = [("Content-Type", "text/plain")]
POST = make_head("POST", "/upload?x=1", content_length=18)
BODY = b"line 1\nline 2\nend\n"


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [*TEXT, ("Content-Length", "5")])
    return [b"hello"]


def stream(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", list(TEXT))
    yield b"one "
    yield b""
    yield b"two"


def writer(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    write = start_response("200 OK", list(TEXT))
    write(b"written ")
    return [b"returned"]


def environ_echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    environ["wsgi.errors"].write("a log line\n")
    environ["wsgi.errors"].flush()
    start_response("200 OK", list(TEXT))
    keys = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL")
    return [" ".join(environ[key] for key in keys).encode("latin-1")]


def read_sized(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    pieces = []
    while piece := stream.read(5):
        pieces.append(piece)
    start_response("200 OK", list(TEXT))
    return [b"|".join(pieces)]


def read_lines(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    first = stream.readline()
    second = stream.readline(3)
    rest = stream.readlines()
    start_response("200 OK", list(TEXT))
    return [first, b"[", second, b"]", *rest]


def read_iter(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    lines = list(environ["wsgi.input"])
    start_response("200 OK", list(TEXT))
    return [b"%d lines" % len(lines)]


def no_content(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("204 No Content", [])
    return []


def recovering(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", list(TEXT))
    try:
        raise LookupError("not there")
    except LookupError:
        start_response("404 Not Found", list(TEXT), sys.exc_info())
    return [b"missing"]


def checked(
    app: WSGIApplication, head: RequestHead | None = None, body: bytes = b"", **options: bool
) -> Run:
    result = run(validator(app), head, body_script(body), incoming=[body], **options)  # type: ignore[arg-type]
    assert result.errors == []
    return result


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (hello, b"hello"),
        (stream, b"one two"),
        (writer, b"written returned"),
        (environ_echo, b"GET /path  HTTP/1.1"),
    ],
)
def test_get_apps(app: WSGIApplication, expected: bytes) -> None:
    result = checked(app)
    reply = read_reply(result.wire)
    assert reply.status_line == "HTTP/1.1 200 OK"
    assert reply.body == expected
    assert result.exchange.keep_alive


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (read_sized, b"line |1\nlin|e 2\ne|nd\n"),
        (read_lines, b"line 1\n[lin]e 2\nend\n"),
        (read_iter, b"3 lines"),
    ],
)
def test_body_reading_apps(app: WSGIApplication, expected: bytes) -> None:
    result = checked(app, POST, BODY)
    assert read_reply(result.wire).body == expected
    assert result.reader.is_done


def test_body_reading_with_100_continue() -> None:
    head = make_head("POST", content_length=len(BODY), expect_continue=True)
    result = checked(read_iter, head, BODY)
    assert result.wire.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert result.exchange.keep_alive


def test_head_request() -> None:
    result = checked(hello, make_head("HEAD"))
    assert read_reply(result.wire).get("Content-Length") == "5"
    assert result.wire.endswith(b"\r\n\r\n")


def test_http10_request() -> None:
    result = checked(stream, make_head(version=(1, 0), keep_alive=False))
    assert read_reply(result.wire).body == b"one two"


def test_no_content() -> None:
    result = checked(no_content)
    assert read_reply(result.wire).status_line == "HTTP/1.1 204 No Content"


def test_exc_info_recovery() -> None:
    result = checked(recovering)
    reply = read_reply(result.wire)
    assert reply.status_line == "HTTP/1.1 404 Not Found"
    assert reply.body == b"missing"


@pytest.mark.parametrize("use_sendfile", [True, False])
def test_file_wrapper(tmp_path: Path, use_sendfile: bool) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"file content")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](path.open("rb"))
        return wrapper

    result = checked(app, use_sendfile=use_sendfile)
    assert read_reply(result.wire).body == b"file content"


def test_the_validator_does_catch_a_broken_app() -> None:
    def broken(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])  # no Content-Type: the validator objects
        return [b"x"]

    result = run(validator(broken))
    assert read_reply(result.wire).status_line == "HTTP/1.1 500 Internal Server Error"
    assert isinstance(result.errors[0][1], AssertionError)
