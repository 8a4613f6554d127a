"""BodyReader and wsgi.input over a scripted parser: limits, lines, EOF, errors, 100-continue."""

from __future__ import annotations

import pytest

from herder.protocol.errors import BadRequest, ContentTooLarge, IncompleteMessage, ProtocolError
from herder.protocol.events import NEED_DATA, PAUSED, Data, EndOfMessage, Event
from herder.wsgi.input import BodyReader, Input

from .test_wsgi_fakes import ScriptedParser

Script = list[Event | Exception]


class Peer:
    """The receive() side: hands out scripted chunks and counts calls."""

    def __init__(self, *chunks: bytes | OSError) -> None:
        self.chunks = list(chunks)
        self.calls = 0

    def receive(self) -> bytes:
        self.calls += 1
        chunk = self.chunks.pop(0)
        if isinstance(chunk, OSError):
            raise chunk
        return chunk


def body_of(*pieces: bytes, trailers: tuple[tuple[str, str], ...] = ()) -> Script:
    """A body whose pieces each arrive after a NEED_DATA."""
    script: Script = []
    for piece in pieces:
        script += [NEED_DATA, Data(piece)]
    return [*script, EndOfMessage(trailers)]


def reader_of(*pieces: bytes, hook: list[str] | None = None) -> tuple[BodyReader, Peer]:
    peer = Peer(*pieces)
    before = (lambda: hook.append("continue")) if hook is not None else None
    return BodyReader(ScriptedParser(body_of(*pieces)), peer.receive, before), peer


def input_of(*pieces: bytes) -> Input:
    return Input(reader_of(*pieces)[0])


# -- BodyReader


def test_read_some_returns_event_data_without_copy_when_it_fits() -> None:
    piece = b"hello world"
    reader, _ = reader_of(piece)
    assert reader.read_some(100) is piece
    assert reader.read_some(100) == b""
    assert reader.is_done
    assert reader.bytes_read == len(piece)


def test_read_some_splits_a_large_event_and_keeps_the_rest() -> None:
    reader, _ = reader_of(b"abcdefghij")
    assert [reader.read_some(4) for _ in range(4)] == [b"abcd", b"efgh", b"ij", b""]


def test_read_some_zero_returns_nothing_and_reads_nothing() -> None:
    reader, peer = reader_of(b"abc")
    assert reader.read_some(0) == b""
    assert peer.calls == 0


def test_no_receive_after_the_body_ended() -> None:
    reader, peer = reader_of(b"abc")
    while reader.read_some(10):
        pass
    calls = peer.calls
    assert reader.read_some(10) == b""
    assert peer.calls == calls


def test_buffered_body_is_read_without_receiving() -> None:
    parser = ScriptedParser([Data(b"ab"), Data(b"cd"), EndOfMessage()])
    peer = Peer()
    reader = BodyReader(parser, peer.receive)
    assert Input(reader).read() == b"abcd"
    assert peer.calls == 0


def test_received_bytes_are_fed_to_the_parser() -> None:
    parser = ScriptedParser(body_of(b"xy", b"z"))
    reader = BodyReader(parser, Peer(b"wire1", b"wire2").receive)
    assert Input(reader).read() == b"xyz"
    assert parser.fed == [b"wire1", b"wire2"]


def test_trailers_are_kept() -> None:
    parser = ScriptedParser(body_of(b"a", trailers=(("X-SUM", "1"),)))
    reader = BodyReader(parser, Peer(b"1").receive)
    Input(reader).read()
    assert reader.trailers == (("X-SUM", "1"),)


def test_paused_means_the_body_is_over() -> None:
    reader = BodyReader(ScriptedParser([Data(b"a"), PAUSED]), Peer().receive)
    assert reader.read_some(5) == b"a"
    assert reader.read_some(5) == b""
    assert reader.is_done


def test_eof_in_the_middle_is_an_incomplete_message() -> None:
    parser = ScriptedParser([NEED_DATA, Data(b"ab"), NEED_DATA, NEED_DATA])
    reader = BodyReader(parser, Peer(b"ab", b"").receive)
    assert reader.read_some(10) == b"ab"
    with pytest.raises(IncompleteMessage):
        reader.read_some(10)
    assert isinstance(reader.error, IncompleteMessage)
    assert parser.fed[-1] == b""


def test_parser_error_after_eof_is_recorded() -> None:
    parser = ScriptedParser([NEED_DATA, IncompleteMessage("cut")])
    reader = BodyReader(parser, Peer(b"").receive)
    with pytest.raises(IncompleteMessage, match="cut"):
        reader.read_some(10)
    assert isinstance(reader.error, IncompleteMessage)


@pytest.mark.parametrize("error", [BadRequest("bad chunk"), ContentTooLarge("too big")])
def test_protocol_error_is_raised_and_raised_again(error: ProtocolError) -> None:
    reader = BodyReader(ScriptedParser([Data(b"a"), error]), Peer().receive)
    assert reader.read_some(10) == b"a"
    with pytest.raises(type(error)):
        reader.read_some(10)
    with pytest.raises(type(error)):
        reader.read_some(10)
    assert reader.error is error


def test_transport_error_is_recorded() -> None:
    timeout = TimeoutError("timed out")
    reader = BodyReader(ScriptedParser([NEED_DATA, Data(b"x")]), Peer(timeout).receive)
    with pytest.raises(TimeoutError):
        reader.read_some(10)
    assert reader.error is timeout


def test_before_first_read_runs_once_before_the_first_receive() -> None:
    hook: list[str] = []
    reader, peer = reader_of(b"a", b"b", hook=hook)
    assert hook == []
    assert Input(reader).read() == b"ab"
    assert hook == ["continue"]
    assert peer.calls == 2


def test_before_first_read_not_run_for_an_empty_body() -> None:
    hook: list[str] = []
    reader, _ = reader_of(hook=hook)
    assert reader.read_some(10) == b""
    assert hook == []


def test_before_first_read_runs_before_receive_is_called() -> None:
    order: list[str] = []
    parser = ScriptedParser(body_of(b"a"))

    def receive() -> bytes:
        order.append("receive")
        return b"a"

    reader = BodyReader(parser, receive, lambda: order.append("continue"))
    reader.read_some(1)
    assert order == ["continue", "receive"]


def test_drain_within_limit() -> None:
    reader, _ = reader_of(b"abc", b"def")
    assert reader.read_some(2) == b"ab"
    assert reader.drain(4) is True
    assert reader.is_done
    assert reader.bytes_read == 2  # drained bytes are not counted as read


def test_drain_never_asks_the_client_to_continue() -> None:
    hook: list[str] = []
    reader, peer = reader_of(b"abc", hook=hook)
    assert reader.drain(10) is True
    assert hook == []
    assert peer.calls == 1


def test_drain_over_limit() -> None:
    reader, _ = reader_of(b"abc", b"def")
    assert reader.drain(5) is False
    assert not reader.is_done


def test_drain_exactly_the_limit() -> None:
    reader, _ = reader_of(b"abc", b"def")
    assert reader.drain(6) is True


def test_drain_of_a_broken_body() -> None:
    reader = BodyReader(ScriptedParser([Data(b"a"), BadRequest("bad")]), Peer().receive)
    assert reader.drain(100) is False
    assert isinstance(reader.error, BadRequest)


# -- Input (wsgi.input)


def test_read_all() -> None:
    assert input_of(b"ab", b"cd", b"").read() == b"abcd"


@pytest.mark.parametrize("size", [None, -1])
def test_read_without_size_reads_all(size: int | None) -> None:
    assert input_of(b"ab", b"cd").read(size) == b"abcd"


def test_read_n_fills_across_events() -> None:
    stream = input_of(b"ab", b"cd", b"ef")
    assert stream.read(5) == b"abcde"
    assert stream.read(5) == b"f"
    assert stream.read(5) == b""


def test_read_never_returns_more_than_asked() -> None:
    stream = input_of(b"abcdefgh")
    assert stream.read(3) == b"abc"
    assert stream.read(0) == b""
    assert stream.read(100) == b"defgh"


def test_empty_body_input() -> None:
    stream = Input()
    assert stream.read() == b""
    assert stream.read(10) == b""
    assert stream.readline() == b""
    assert stream.readlines() == []
    assert list(stream) == []


def test_readline_across_events() -> None:
    stream = input_of(b"one\ntw", b"o\nthr", b"ee")
    assert stream.readline() == b"one\n"
    assert stream.readline() == b"two\n"
    assert stream.readline() == b"three"
    assert stream.readline() == b""


def test_readline_honours_the_limit() -> None:
    stream = input_of(b"abcdef\ngh\n")
    assert stream.readline(4) == b"abcd"
    assert stream.readline(4) == b"ef\n"
    assert stream.readline(0) == b""
    assert stream.readline(None) == b"gh\n"


def test_readline_limit_across_events() -> None:
    stream = input_of(b"ab", b"cd", b"ef\n")
    assert stream.readline(5) == b"abcde"
    assert stream.readline(5) == b"f\n"


def test_read_after_readline_uses_the_read_ahead() -> None:
    stream = input_of(b"line\nrest of ", b"body")
    assert stream.readline() == b"line\n"
    assert stream.read(4) == b"rest"
    assert stream.read() == b" of body"


def test_read_n_after_readline_spans_buffer_and_reader() -> None:
    stream = input_of(b"a\nbc", b"def")
    assert stream.readline() == b"a\n"
    assert stream.read(4) == b"bcde"


def test_readlines() -> None:
    assert input_of(b"a\nb\n", b"c").readlines() == [b"a\n", b"b\n", b"c"]


def test_readlines_hint_stops_after_the_line_reaching_it() -> None:
    stream = input_of(b"aa\nbb\ncc\ndd\n")
    assert stream.readlines(4) == [b"aa\n", b"bb\n"]
    assert stream.readlines(0) == [b"cc\n", b"dd\n"]


def test_readlines_hint_reached_exactly_stops() -> None:
    assert input_of(b"abc\ndef\n").readlines(4) == [b"abc\n"]  # like io.IOBase.readlines


def test_iteration_yields_lines() -> None:
    assert list(input_of(b"x\ny\n", b"z")) == [b"x\n", b"y\n", b"z"]
    stream = input_of(b"only\n")
    assert iter(stream) is stream
    assert next(stream) == b"only\n"
    with pytest.raises(StopIteration):
        next(stream)


def test_long_line_in_many_events() -> None:
    pieces = [b"x" * 1000] * 50
    stream = input_of(*pieces, b"\nnext")
    assert stream.readline() == b"x" * 50_000 + b"\n"
    assert stream.readline() == b"next"


def test_errors_reach_the_application() -> None:
    stream = Input(BodyReader(ScriptedParser([Data(b"ok\n"), BadRequest("bad")]), Peer().receive))
    assert stream.readline() == b"ok\n"
    with pytest.raises(BadRequest):
        stream.read()
