"""wsgi.file_wrapper: iteration, close(), file ranges, and files through Exchange (sendfile,
the read fallback, HEAD, Content-Length interplay)."""

from __future__ import annotations

import io
import os
import typing
from collections.abc import Iterable
from pathlib import Path

import pytest

from herder.wsgi import Environ, StartResponse, WSGIApplication
from herder.wsgi.file_wrapper import FileWrapper
from herder.wsgi.transport import FileRange, send_file_range

from .test_wsgi_fakes import FakeTransport, make_head, read_reply, run

TEXT = [("Content-Type", "application/octet-stream")]
CONTENT = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def file_app(
    file: typing.BinaryIO, headers: list[tuple[str, str]] | None = None, seek: int = 0
) -> WSGIApplication:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [*TEXT, *(headers or [])])
        file.seek(seek)
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](file, 4096)
        return wrapper

    return app


# -- the wrapper itself


def test_iterates_in_blocks() -> None:
    wrapper = FileWrapper(io.BytesIO(b"abcdefg"), 3)
    assert iter(wrapper) is wrapper
    assert list(wrapper) == [b"abc", b"def", b"g"]


def test_default_block_size() -> None:
    assert [len(block) for block in FileWrapper(io.BytesIO(b"x" * 9000))] == [8192, 808]


def test_close_closes_the_file() -> None:
    stream = io.BytesIO(b"x")
    FileWrapper(stream).close()
    assert stream.closed


def test_close_without_a_close_method() -> None:
    class Reader:
        def read(self, size: int) -> bytes:
            return b""

    FileWrapper(Reader()).close()  # nothing to close, nothing raised
    assert list(FileWrapper(Reader())) == []


def test_file_range_of_a_regular_file_from_its_position(data_file: Path) -> None:
    with data_file.open("rb") as file:
        file.read(100)  # buffered: the OS position is further, tell() is what counts
        piece = FileWrapper(file).file_range()
        assert piece == FileRange(file, 100, len(CONTENT) - 100)


def test_file_range_of_a_file_read_to_its_end(data_file: Path) -> None:
    with data_file.open("rb") as file:
        file.seek(0, os.SEEK_END)
        assert FileWrapper(file).file_range() == FileRange(file, len(CONTENT), 0)


def test_no_file_range_without_a_real_file(data_file: Path) -> None:
    assert FileWrapper(io.BytesIO(b"abc")).file_range() is None
    with data_file.open("r", encoding="latin-1") as text:
        assert FileWrapper(text).file_range() is None
    closed = data_file.open("rb")
    closed.close()
    assert FileWrapper(closed).file_range() is None


def test_no_file_range_for_a_device() -> None:
    with open(os.devnull, "rb") as device:
        assert device.tell() == 0
        assert FileWrapper(device).file_range() is None


def test_no_file_range_for_a_pipe() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "wb"):
        assert FileWrapper(reader).file_range() is None


# -- through Exchange


def test_regular_file_goes_out_with_sendfile(data_file: Path) -> None:
    with data_file.open("rb") as file:
        result = run(file_app(file))
        assert file.closed  # close() of the wrapper closed it
    head, piece = result.pieces
    assert isinstance(head, bytes)
    assert isinstance(piece, FileRange)
    assert (piece.offset, piece.count) == (0, len(CONTENT))
    assert result.transport.sendfile_calls == [(0, len(CONTENT))]
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == str(len(CONTENT))
    assert reply.body == CONTENT
    assert result.exchange.body_bytes == len(CONTENT)
    assert result.exchange.keep_alive


def test_sendfile_from_the_current_position(data_file: Path) -> None:
    with data_file.open("rb") as file:
        result = run(file_app(file, seek=1000))
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == str(len(CONTENT) - 1000)
    assert reply.body == CONTENT[1000:]


def test_app_content_length_limits_the_range(data_file: Path) -> None:
    with data_file.open("rb") as file:
        result = run(file_app(file, [("Content-Length", "100")], seek=50))
    assert result.transport.sendfile_calls == [(50, 100)]
    reply = read_reply(result.wire)
    assert reply.body == CONTENT[50:150]
    assert result.exchange.keep_alive
    assert result.errors == []  # serving part of a file this way is legitimate


def test_file_shorter_than_the_app_content_length_closes(data_file: Path) -> None:
    size = len(CONTENT) + 5
    with data_file.open("rb") as file:
        result = run(file_app(file, [("Content-Length", str(size))]))
    assert read_reply(result.wire).body == CONTENT
    assert not result.exchange.keep_alive
    assert "5 bytes short" in result.errors[0][0]


def test_without_sendfile_the_file_is_read(data_file: Path) -> None:
    with data_file.open("rb") as file:
        result = run(file_app(file, seek=10), use_sendfile=False)
    assert not any(isinstance(piece, FileRange) for piece in result.pieces)
    assert result.transport.sendfile_calls == []
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == str(len(CONTENT) - 10)
    assert reply.get("Transfer-Encoding") is None
    assert reply.body == CONTENT[10:]
    assert result.exchange.keep_alive


def test_transport_without_sendfile_falls_back_to_read_and_send(data_file: Path) -> None:
    transport = FakeTransport(can_sendfile=False)
    with data_file.open("rb") as file:
        result = run(file_app(file), transport=transport)
    assert read_reply(result.wire).body == CONTENT
    assert result.exchange.keep_alive


def test_send_file_range_fallback_stops_at_the_end_of_the_file(data_file: Path) -> None:
    transport = FakeTransport(can_sendfile=False)
    with data_file.open("rb") as file:
        sent = send_file_range(transport, FileRange(file, len(CONTENT) - 10, 100))
    assert sent == 10
    assert transport.wire == CONTENT[-10:]


def test_head_of_a_file_sends_its_length_only(data_file: Path) -> None:
    with data_file.open("rb") as file:
        result = run(file_app(file), make_head("HEAD"))
        assert file.closed
    assert len(result.pieces) == 1
    reply = read_reply(result.wire)
    assert reply.get("Content-Length") == str(len(CONTENT))
    assert reply.body == b""
    assert result.exchange.keep_alive


def test_file_like_without_descriptor_is_streamed() -> None:
    stream = io.BytesIO(b"in memory")
    result = run(file_app(stream))
    reply = read_reply(result.wire)
    assert reply.get("Transfer-Encoding") == "chunked"
    assert reply.body == b"in memory"
    assert stream.closed


def test_file_wrapper_after_write_is_streamed(data_file: Path) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", list(TEXT))(b"prefix:")
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](data_file.open("rb"))
        return wrapper

    result = run(app)
    assert not any(isinstance(piece, FileRange) for piece in result.pieces)
    reply = read_reply(result.wire)
    assert reply.get("Transfer-Encoding") == "chunked"
    assert reply.body == b"prefix:" + CONTENT
