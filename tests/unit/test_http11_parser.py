"""The HTTP/1.1 connection state machine: events, cycles, EOF, early limits, any split."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herder.protocol.base import RequestParser
from herder.protocol.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    IncompleteMessage,
    ProtocolError,
    URITooLong,
)
from herder.protocol.events import NEED_DATA, PAUSED, Data, EndOfMessage, Event, RequestHead
from herder.protocol.http11.parser import MAX_EMPTY_LINES, TRANSITIONS, HTTP11Parser, State
from herder.protocol.limits import Limits

DEFAULT = Limits()
GET = b"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n"
POST = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nVary: *\r\n\r\n"
)

# Messages for the split-invariance checks: valid ones, pipelines, and refused ones.
SAMPLES = [
    GET,
    POST,
    CHUNKED,
    GET + POST + CHUNKED + GET,
    b"\r\n\r\n" + GET + b"\r\n" + GET,
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n"
    b"GET /3 HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nLong: one\r\n two\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: \x07\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
    b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 9000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n",
    CHUNKED.replace(b"6\r\n", b"6_0\r\n"),
    CHUNKED.replace(b"Vary", b"Host"),
    CHUNKED[:-2],
    POST[:-1],
    GET[:-1],
    b"\r\n",
    b"",
]


def trace(chunks: list[bytes], limits: Limits = DEFAULT) -> list[object]:
    """Everything a server would see, with Data merged so splits compare equal.

    Runs like a server: feeds a chunk on NEED_DATA (EOF after the last), starts the next
    cycle while the client keeps the connection, stops at EOF or at the first error (recorded
    as its class and status).
    """
    parser = HTTP11Parser(limits)
    pending = iter(chunks)
    seen: list[object] = []
    eof = False
    while True:
        try:
            event = parser.next_event()
        except ProtocolError as error:
            return [*seen, (type(error).__name__, error.status)]
        if event is NEED_DATA:
            if eof:
                return seen
            chunk = next(pending, b"")
            eof = not chunk
            parser.feed(chunk)
        elif isinstance(event, Data) and seen and isinstance(seen[-1], Data):
            seen[-1] = Data(seen[-1].data + event.data)
        elif event is PAUSED:
            head = next(e for e in reversed(seen) if isinstance(e, RequestHead))
            if not head.keep_alive:
                return seen
            parser.start_next_cycle()
        else:
            seen.append(event)


def random_split(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), min(max(len(data) - 1, 0), rng.randint(0, 12))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def all_events(parser: HTTP11Parser) -> list[Event]:
    out: list[Event] = []
    while not out or out[-1] not in (NEED_DATA, PAUSED):
        out.append(parser.next_event())
    return out


# -- the event sequence -------------------------------------------------------------------


def test_satisfies_the_request_parser_protocol() -> None:
    parser: RequestParser = HTTP11Parser()
    assert parser.buffered == 0
    assert parser.has_partial_data is False


def test_a_get_gives_head_end_of_message_then_paused_until_the_next_cycle() -> None:
    parser = HTTP11Parser()
    parser.feed(GET)
    head = parser.next_event()
    assert isinstance(head, RequestHead)
    assert (head.method, head.target) == ("GET", "/a")
    assert parser.next_event() == EndOfMessage()
    assert [parser.next_event() for _ in range(3)] == [PAUSED] * 3
    assert parser.state is State.PAUSED


def test_need_data_until_the_head_is_complete() -> None:
    parser = HTTP11Parser()
    for octet in GET[:-1]:
        parser.feed(bytes([octet]))
        assert parser.next_event() is NEED_DATA
    parser.feed(GET[-1:])
    assert isinstance(parser.next_event(), RequestHead)


def test_pipelined_requests_wait_for_start_next_cycle() -> None:
    parser = HTTP11Parser()
    parser.feed(GET + POST)
    assert isinstance(parser.next_event(), RequestHead)
    assert parser.next_event() == EndOfMessage()
    assert parser.next_event() is PAUSED
    assert parser.buffered == len(POST)
    assert parser.has_partial_data is True
    parser.start_next_cycle()
    assert all_events(parser)[1:] == [Data(b"hello"), EndOfMessage(), PAUSED]
    assert parser.buffered == 0


@pytest.mark.parametrize("state", ["fresh", "head", "body"])
def test_start_next_cycle_is_only_legal_when_paused(state: str) -> None:
    parser = HTTP11Parser()
    if state != "fresh":
        parser.feed(POST[:-2] if state == "body" else GET[:-2])
        parser.next_event()
    with pytest.raises(RuntimeError):
        parser.start_next_cycle()


def test_every_state_has_a_transition_entry() -> None:
    assert set(TRANSITIONS) == set(State)
    assert TRANSITIONS[State.FAILED] == frozenset()
    assert all(State.FAILED not in targets for targets in TRANSITIONS.values())


def test_after_a_protocol_error_the_parser_refuses_to_go_on() -> None:
    parser = HTTP11Parser()
    parser.feed(b"GET / HTTP/1.1\r\n\r\n")  # no Host
    with pytest.raises(BadRequest):
        parser.next_event()
    assert parser.state is State.FAILED
    with pytest.raises(RuntimeError):
        parser.next_event()


# -- EOF ----------------------------------------------------------------------------------


def test_eof_without_a_message_gives_need_data_forever() -> None:
    parser = HTTP11Parser()
    parser.feed(b"")
    assert [parser.next_event() for _ in range(3)] == [NEED_DATA] * 3


def test_eof_after_a_complete_exchange_gives_need_data_forever() -> None:
    parser = HTTP11Parser()
    parser.feed(GET + b"\r\n")
    parser.feed(b"")
    assert all_events(parser)[1:] == [EndOfMessage(), PAUSED]
    parser.start_next_cycle()
    assert [parser.next_event() for _ in range(2)] == [NEED_DATA] * 2


def test_eof_while_paused_still_gives_paused() -> None:
    parser = HTTP11Parser()
    parser.feed(GET)
    parser.feed(b"")
    assert all_events(parser)[-1] is PAUSED
    assert parser.next_event() is PAUSED


@pytest.mark.parametrize("partial", [b"G", b"GET / HTTP/1.1\r\nHost: a\r\n", b"\r", b"\r\n\r"])
def test_eof_inside_a_head_is_incomplete(partial: bytes) -> None:
    parser = HTTP11Parser()
    parser.feed(partial)
    parser.feed(b"")
    with pytest.raises(IncompleteMessage):
        parser.next_event()


def test_feeding_after_eof_is_a_runtime_error() -> None:
    parser = HTTP11Parser()
    parser.feed(b"")
    with pytest.raises(RuntimeError):
        parser.feed(b"GET")
    with pytest.raises(RuntimeError):
        parser.feed(b"")


# -- buffered, has_partial_data --------------------------------------------------------------


def test_has_partial_data_follows_the_message() -> None:
    parser = HTTP11Parser()
    assert (parser.has_partial_data, parser.buffered) == (False, 0)
    parser.feed(POST[:10])
    assert (parser.has_partial_data, parser.buffered) == (True, 10)
    parser.feed(POST[10:-5])
    assert isinstance(parser.next_event(), RequestHead)
    assert (parser.has_partial_data, parser.buffered) == (True, 0)  # inside the body
    parser.feed(b"hello")
    assert parser.buffered == 5
    assert all_events(parser) == [Data(b"hello"), EndOfMessage(), PAUSED]
    assert (parser.has_partial_data, parser.buffered) == (False, 0)


def test_leading_empty_lines_are_not_partial_data_once_skipped() -> None:
    parser = HTTP11Parser()
    parser.feed(b"\r\n\r\n")
    assert parser.next_event() is NEED_DATA
    assert (parser.has_partial_data, parser.buffered) == (False, 0)


# -- leading empty lines ----------------------------------------------------------------------


def test_leading_empty_lines_are_skipped_up_to_a_bound() -> None:
    parser = HTTP11Parser()
    parser.feed(b"\r\n" * MAX_EMPTY_LINES + GET)
    assert isinstance(parser.next_event(), RequestHead)
    parser = HTTP11Parser()
    parser.feed(b"\r\n" * (MAX_EMPTY_LINES + 1) + GET)
    with pytest.raises(BadRequest):
        parser.next_event()


def test_the_empty_line_bound_is_per_request() -> None:
    parser = HTTP11Parser()
    parser.feed((b"\r\n" * MAX_EMPTY_LINES + GET) * 2)
    assert all_events(parser)[-1] is PAUSED
    parser.start_next_cycle()
    assert isinstance(parser.next_event(), RequestHead)


@pytest.mark.parametrize("prefix", [b"\n", b"\r\n\n", b" ", b"\t"])
def test_other_leading_whitespace_is_refused(prefix: bytes) -> None:
    parser = HTTP11Parser()
    parser.feed(prefix + GET)
    with pytest.raises(BadRequest):
        parser.next_event()


# -- limits before the head is complete -------------------------------------------------------


def test_an_endless_request_line_fails_as_soon_as_it_is_over_the_limit() -> None:
    parser = HTTP11Parser(Limits(request_line=100))
    parser.feed(b"A" * 101)  # 100 octets and maybe the CR of the CRLF
    assert parser.next_event() is NEED_DATA
    parser.feed(b"A")
    with pytest.raises(URITooLong):
        parser.next_event()


@pytest.mark.parametrize(
    ("limits", "prefix", "chunk", "error", "most"),
    [
        (Limits(), b"GET / HTTP/1.1\r\nX: ", b"y" * 64, HeaderFieldsTooLarge, 8190 + 64),
        (Limits(fields=10), b"GET / HTTP/1.1\r\n", b"X: y\r\n", HeaderFieldsTooLarge, 11 * 6),
        (Limits(head_size=2000), b"GET / HTTP/1.1\r\n", b"X: y\r\n", HeaderFieldsTooLarge, 2006),
        (Limits(), b"GET / HTTP/1.1", b"A" * 64, URITooLong, 4094 + 64),
    ],
)
def test_an_endless_head_fails_once_a_limit_is_passed(
    limits: Limits, prefix: bytes, chunk: bytes, error: type[ProtocolError], most: int
) -> None:
    parser = HTTP11Parser(limits)
    parser.feed(prefix)
    assert parser.next_event() is NEED_DATA
    with pytest.raises(error):
        feed_until_refused(parser, chunk, most)


def feed_until_refused(parser: HTTP11Parser, chunk: bytes, most: int) -> None:
    """Feed `chunk` after `chunk`; the parser must raise before `most` octets are in."""
    for _ in range(most // len(chunk) + 1):
        parser.feed(chunk)
        assert parser.next_event() is NEED_DATA
    raise AssertionError(f"still buffering after {most} octets")


def test_a_complete_head_over_the_request_line_limit_is_414_in_any_split() -> None:
    raw = b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    limits = Limits(request_line=100)
    assert trace([raw], limits) == [("URITooLong", 414)]
    assert trace([raw[:150], raw[150:]], limits) == [("URITooLong", 414)]


# -- any split gives the same events ---------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLES)
def test_whole_bytewise_and_random_splits_agree(sample: bytes) -> None:
    whole = trace([sample])
    assert trace([sample[i : i + 1] for i in range(len(sample))]) == whole
    rng = random.Random(len(sample))
    for _ in range(10):
        assert trace(random_split(sample, rng)) == whole


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_split_gives_the_same_events(data: Any) -> None:
    sample = data.draw(st.sampled_from(SAMPLES))
    cuts = data.draw(st.lists(st.integers(0, len(sample)), max_size=20).map(sorted))
    chunks = [sample[a:b] for a, b in zip([0, *cuts], [*cuts, len(sample)], strict=True)]
    assert trace([chunk for chunk in chunks if chunk]) == trace([sample])


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=300), cut=st.integers(0, 300))
def test_arbitrary_bytes_never_crash_and_split_the_same(garbage: bytes, cut: int) -> None:
    """Any input ends in events or a ProtocolError, never another exception."""
    data = GET + garbage
    assert trace([data[:cut], data[cut:]] if 0 < cut < len(data) else [data]) == trace([data])


def test_sample_traces_are_what_a_server_expects() -> None:
    """Pin a few traces so the split tests compare meaningful sequences."""
    assert trace([GET + POST])[1:] == [
        EndOfMessage(),
        trace([POST])[0],
        Data(b"hello"),
        EndOfMessage(),
    ]
    assert trace([CHUNKED])[1:] == [Data(b"hello world"), EndOfMessage((("VARY", "*"),))]
    assert trace([SAMPLES[5]])[-1] == EndOfMessage()
    assert len([e for e in trace([SAMPLES[5]]) if isinstance(e, RequestHead)]) == 2
    assert trace([POST[:-1]])[-1] == ("IncompleteMessage", None)
    assert trace([CHUNKED.replace(b"Vary", b"Host")])[-1] == ("BadRequest", 400)
