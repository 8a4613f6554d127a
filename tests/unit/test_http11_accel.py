"""The httptools head parser against `parse_head`: the same answer for every head.

A differential property test (generated heads, then mutated ones, under several `Limits`)
compares the two outcomes: the same `RequestHead`, or the same error class, status and
message. The fallback cases pin down when the fast path hands over to `parse_head`, and the
typical heads that it must handle itself (else the accelerator would only ever measure the
fallback).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herder.protocol.errors import ProtocolError
from herder.protocol.events import RequestHead
from herder.protocol.http11.accel import parse_fast, parse_head_httptools
from herder.protocol.http11.head import parse_head
from herder.protocol.http11.head_parsers import head_parser
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.limits import HeaderMap, Limits

DEFAULT = Limits()
LIMITS = (
    DEFAULT,
    Limits(require_host=False),
    Limits(permit_obsolete_folding=True),
    Limits(header_map=HeaderMap.REFUSE),
    Limits(header_map=HeaderMap.DANGEROUS),
    Limits(permit_unconventional_http_method=True, casefold_http_method=True),
    Limits(permit_unconventional_http_method=True),
    Limits(strip_header_spaces=True),
    Limits(request_line=24, fields=3, field_size=40, head_size=120),
    Limits(request_line=0, fields=0),
)

Outcome = tuple[str, Any, Any, Any]


def outcome(parse: Any, block: bytes, limits: Limits) -> Outcome:
    """What a head parser answers: ("head", RequestHead) or ("error", class, status, text)."""
    try:
        return ("head", parse(block, limits), None, None)
    except ProtocolError as error:
        return ("error", type(error), error.status, str(error))


def assert_same(block: bytes, limits: Limits) -> None:
    assert outcome(parse_head_httptools, block, limits) == outcome(parse_head, block, limits)


# -- generated heads ------------------------------------------------------------------------
# Each part is usually well formed and sometimes odd, so that both the fast path and the
# fallback see many heads (an odd part in every head would only ever test the fallback).


def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` nineteen times in twenty, else `odd`."""
    # (not 0: hypothesis draws the ends of a range more often than the middle)
    return st.tuples(st.integers(0, 19), good, odd).map(lambda t: t[2] if t[0] == 7 else t[1])


TOKENS = st.text(alphabet="!#$%&'*+-.^_`|~aZ09", min_size=1, max_size=10)
METHODS = mostly(
    st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "PATCH", "DELETE", "PROPFIND"]),
    st.sampled_from(["CONNECT", "get", "Get", "FOO", "GE", "GET#", "G\x7fT", "GET\x80", ""]),
)
TARGETS = mostly(
    st.sampled_from(["/", "/a/b?c=d&e", "/p#frag", "/q?x#y", "http://h.example/x?y"])
    | st.text(alphabet="/?#=&%.-_~:@!$'()*+,;aZ09\x80\xff", min_size=1, max_size=12).map(
        lambda text: "/" + text
    ),
    st.sampled_from(["*", "HTTPS://h:8080", "http://u@h/", "h.example:443", "[::1]:80", "//x"])
    | st.sampled_from(["/\xff\xe9", '/"q"', "/a b", "", "rel", "ftp://h/", "/\x00", "/\t"]),
)
VERSIONS = mostly(
    st.sampled_from(["HTTP/1.1", "HTTP/1.0"]),
    st.sampled_from(["HTTP/1.2", "HTTP/2.0", "HTTP/3.0", "HTTP/1.10", "http/1.1", "HTTP/1"])
    | st.sampled_from(["HTTP/1.1 ", "HTTP/0.9", "HTTP/9.9", "ICE/1.0"]),
)
SPACES = mostly(st.just(" "), st.sampled_from(["  ", "\t", ""]))
FRAMING = st.sampled_from(
    [("Content-Length", "5"), ("Content-Length", "0"), ("Transfer-Encoding", "chunked")]
) | st.sampled_from(
    [("Connection", "close"), ("Connection", "Keep-Alive"), ("Expect", "100-continue")]
)
COMMON = st.sampled_from(
    [("Content-Type", "text/plain"), ("Cookie", "a=b"), ("Accept", "*/*"), ("X_Under", "1")]
) | st.sampled_from([("Upgrade", "websocket"), ("Accept-Encoding", "gzip, br"), ("DNT", "1")])
OTHER = st.tuples(TOKENS, st.text(alphabet=' \t!",;=:aZ09-_/.\x80\xff', max_size=16))
GOOD_FIELDS = mostly(COMMON | OTHER, FRAMING)
ODD_NAMES = st.sampled_from(["A b", "", "Name ", "N\x80", "N\x00", "\xc4", "Host", "x_under"])
ODD_VALUES = st.sampled_from(
    ["gzip, chunked", "chunked, chunked", "identity", ",chunked", "-1", "1, 1", "a b", "h@x"]
) | st.sampled_from(["99999999999999999999", "a\x00b", "a\x7f", "\x01", "x\ry", "[::1]:8"])
FIELDS = mostly(GOOD_FIELDS, st.tuples(ODD_NAMES | TOKENS, ODD_VALUES))
SEPARATORS = mostly(
    st.sampled_from([": ", ":", ":  ", ":\t"]), st.sampled_from([" : ", " :", "\t:", ""])
)
FOLDS = mostly(st.just(""), st.sampled_from([" ", "\t"]))
FIELD = st.tuples(FOLDS, FIELDS, SEPARATORS)


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    """A request head (before its CRLFCRLF), mostly well formed, often slightly not."""
    line = draw(METHODS) + draw(SPACES) + draw(TARGETS) + draw(SPACES) + draw(VERSIONS)
    fields = draw(st.lists(FIELD, max_size=8))
    if draw(mostly(st.just(True), st.just(False))):
        fields.insert(draw(st.integers(0, len(fields))), ("", ("Host", "example.com"), ": "))
    text = line + "".join(f"\r\n{fold}{name}{sep}{value}" for fold, (name, value), sep in fields)
    return text.encode("latin-1")


OCTETS = st.sampled_from(list(b"\r\n \t:,;\x00\x7f\x80\xff_Aa0/")) | st.integers(0, 255)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A generated head with a few octets inserted, deleted or replaced."""
    block = bytearray(draw(heads()))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(block)))
        action = draw(st.sampled_from(("insert", "delete", "replace")))
        if action == "insert":
            block[at:at] = bytes([draw(OCTETS)])
        elif at < len(block):
            block[at : at + 1] = b"" if action == "delete" else bytes([draw(OCTETS)])
    return bytes(block)


@settings(max_examples=600, deadline=None)
@given(heads(), st.sampled_from(LIMITS))
def test_generated_heads_get_the_same_answer(block: bytes, limits: Limits) -> None:
    assert_same(block, limits)


@settings(max_examples=600, deadline=None)
@given(mutated(), st.sampled_from(LIMITS))
def test_mutated_heads_get_the_same_answer(block: bytes, limits: Limits) -> None:
    assert_same(block, limits)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.sampled_from(LIMITS))
def test_arbitrary_octets_get_the_same_answer(block: bytes, limits: Limits) -> None:
    assert_same(block, limits)


# -- what the fast path answers itself ---------------------------------------------------------

WRK = b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive"
BROWSER = (
    b"GET /articles/42?ref=home HTTP/1.1\r\nHost: example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\nCookie: session=abc123; theme=dark\r\n"
    b"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate"
)
POST = (
    b"POST /api/items HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n"
    b"Content-Length: 27\r\nAccept: */*\r\nUser-Agent: curl/8.5.0"
)
HANDLED = {
    "wrk GET": (WRK, DEFAULT),
    "browser GET": (BROWSER, DEFAULT),
    "POST with a body": (POST, DEFAULT),
    "chunked": (b"PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked", DEFAULT),
    "HTTP/1.0 keep-alive": (b"GET / HTTP/1.0\r\nConnection: keep-alive", DEFAULT),
    "HTTP/1.0, no fields": (b"GET /x HTTP/1.0", DEFAULT),
    "expect 100-continue": (POST + b"\r\nExpect: 100-continue", DEFAULT),
    "absolute-form": (b"GET http://h.example/p?q HTTP/1.1\r\nHost: h.example", DEFAULT),
    "asterisk-form": (b"OPTIONS * HTTP/1.1\r\nHost: h", DEFAULT),
    "CONNECT (llhttp: an upgrade)": (b"CONNECT h.example:443 HTTP/1.1\r\nHost: h.example", DEFAULT),
    "Upgrade (llhttp: an upgrade)": (
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade",
        DEFAULT,
    ),
    "empty and padded values": (b"GET / HTTP/1.1\r\nHost: h\r\nX-A:\r\nX-B: \t b \t", DEFAULT),
    "underscore dropped": (b"GET / HTTP/1.1\r\nHost: h\r\nX_Y: 1", DEFAULT),
    "underscore kept": (
        b"GET / HTTP/1.1\r\nHost: h\r\nX_Y: 1",
        Limits(header_map=HeaderMap.DANGEROUS),
    ),
    "HTTP/1.1 without Host, allowed": (b"GET / HTTP/1.1", Limits(require_host=False)),
    "a bytearray block": (bytearray(WRK), DEFAULT),
    "obs-text in a value": (b"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xe9", DEFAULT),
}


@pytest.mark.parametrize("name", HANDLED)
def test_typical_heads_take_the_fast_path(name: str) -> None:
    block, limits = HANDLED[name]
    fast = parse_fast(block, limits)
    assert fast is not None, "handed over to parse_head"
    assert fast == parse_head(block, limits)


def test_underscore_names_follow_header_map_on_the_fast_path() -> None:
    block = b"GET / HTTP/1.1\r\nHost: h\r\nX_Y: 1"
    dropped = parse_fast(block, DEFAULT)
    kept = parse_fast(block, Limits(header_map=HeaderMap.DANGEROUS))
    assert dropped is not None and dropped.headers == (("HOST", "h"),)
    assert kept is not None and kept.headers == (("HOST", "h"), ("X_Y", "1"))


# -- what it hands over to parse_head -------------------------------------------------------

FOLDED = b"GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two"
MANY = b"GET / HTTP/1.1\r\nHost: h" + b"".join(b"\r\nX-%d: %s" % (i, b"v" * 90) for i in range(95))
FALLBACKS: dict[str, tuple[bytes, Limits, str | int]] = {
    # accepted by parse_head: the answer is still its head
    "obs-fold, permitted": (FOLDED, Limits(permit_obsolete_folding=True), "head"),
    "a repeated field name": (
        b"GET / HTTP/1.1\r\nHost: h\r\nCookie: a\r\nCookie: b",
        DEFAULT,
        "head",
    ),
    "a head longer than a field line may be": (MANY, DEFAULT, "head"),
    "raw octets in the target (llhttp refuses)": (
        b'GET /\xe9"t" HTTP/1.1\r\nHost: h',
        DEFAULT,
        "head",
    ),
    "HTTP/1.2 is served as 1.1 (llhttp refuses)": (b"GET / HTTP/1.2\r\nHost: h", DEFAULT, "head"),
    "a lower-case method, casefolded": (
        b"get / HTTP/1.1\r\nHost: h",
        Limits(permit_unconventional_http_method=True, casefold_http_method=True),
        "head",
    ),
    "a space before the colon, stripped": (
        b"GET / HTTP/1.1\r\nHost : h",
        Limits(strip_header_spaces=True),
        "head",
    ),
    # refused: parse_head gives the error
    "obs-fold": (FOLDED, DEFAULT, 400),
    "two spaces in the request line (llhttp accepts)": (
        b"GET  / HTTP/1.1\r\nHost: h",
        DEFAULT,
        400,
    ),
    "HTTP/2.0 (llhttp accepts)": (b"GET / HTTP/2.0\r\nHost: h", DEFAULT, 505),
    "a repeated Content-Length": (
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5",
        DEFAULT,
        400,
    ),
    "Transfer-Encoding gzip": (
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip",
        DEFAULT,
        501,
    ),
    "Transfer-Encoding in HTTP/1.0": (
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked",
        DEFAULT,
        400,
    ),
    "an underscore name, refused": (
        b"GET / HTTP/1.1\r\nHost: h\r\nX_Y: 1",
        Limits(header_map=HeaderMap.REFUSE),
        400,
    ),
    "no Host": (b"GET / HTTP/1.1\r\nAccept: */*", DEFAULT, 400),
    "an invalid Host": (b"GET / HTTP/1.1\r\nHost: a b", DEFAULT, 400),
    "userinfo": (b"GET http://u@h/ HTTP/1.1\r\nHost: h", DEFAULT, 400),
    "a bare LF": (b"GET / HTTP/1.1\r\nHost: h\nX: y", DEFAULT, 400),
    "a NUL in a value": (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b", DEFAULT, 400),
    "a field line without a colon": (b"GET / HTTP/1.1\r\nHost: h\r\nnocolon", DEFAULT, 400),
    "too many fields": (b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2", Limits(fields=2), 431),
    "a head over head_size": (MANY, Limits(head_size=4096), 431),
    "a field line over field_size": (MANY, Limits(field_size=64), 431),
    "a request line over its limit": (
        b"GET /" + b"a" * 60 + b" HTTP/1.1",
        Limits(request_line=40),
        414,
    ),
}


@pytest.mark.parametrize("name", FALLBACKS)
def test_fallback_gives_the_reference_answer(name: str) -> None:
    block, limits, expected = FALLBACKS[name]
    assert parse_fast(block, limits) is None, "the fast path answered itself"
    answer = outcome(parse_head_httptools, block, limits)
    assert answer == outcome(parse_head, block, limits)
    assert answer[0] == expected if expected == "head" else answer[2] == expected


# -- behind HTTP11Parser ----------------------------------------------------------------------


def test_http11_parser_uses_the_head_parser_it_is_given() -> None:
    calls: list[bytes] = []

    def spy(block: bytes | bytearray, limits: Limits) -> RequestHead:
        calls.append(bytes(block))
        return parse_head_httptools(block, limits)

    parser = HTTP11Parser(DEFAULT, spy)
    parser.feed(WRK + b"\r\n\r\n")
    event = parser.next_event()
    assert isinstance(event, RequestHead) and event.path == "/plaintext"
    assert calls == [WRK]


def test_head_parsers_by_name() -> None:
    assert head_parser("python") is parse_head
    assert head_parser("httptools") is parse_head_httptools
    with pytest.raises(ValueError, match="unknown head parser"):
        head_parser("llhttp")
