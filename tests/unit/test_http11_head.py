"""Request heads through `HTTP11Parser`: request line, target forms, fields, framing, persistence.

Every rule of `herder.protocol.http11.request_line`, `fields` and `head` has a case here.
"""

from __future__ import annotations

from typing import Any

import pytest

from herder.protocol.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    NotImplementedFeature,
    ProtocolError,
    URITooLong,
    VersionNotSupported,
)
from herder.protocol.events import RequestHead
from herder.protocol.http11.fields import KNOWN_NAMES
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.limits import HeaderMap, Limits


def head(raw: bytes, **limits: Any) -> RequestHead:
    """The RequestHead of `raw` (a complete head), fed whole."""
    parser = HTTP11Parser(Limits(**limits))
    parser.feed(raw)
    event = parser.next_event()
    assert isinstance(event, RequestHead)
    return event


def get(*lines: str, version: str = "1.1", target: str = "/", **limits: Any) -> RequestHead:
    """A GET with Host (for HTTP/1.1) plus `lines` as field lines."""
    fields = ["Host: example.com"] if version == "1.1" else []
    text = "\r\n".join([f"GET {target} HTTP/{version}", *fields, *lines]) + "\r\n\r\n"
    return head(text.encode("latin-1"), **limits)


def reject(raw: bytes, error: type[ProtocolError], status: int, **limits: Any) -> None:
    """Assert `raw` is refused with `error` and `status`, and no head comes out."""
    parser = HTTP11Parser(Limits(**limits))
    parser.feed(raw)
    with pytest.raises(error) as caught:
        parser.next_event()
    assert caught.value.status == status


def reject_field(line: str, error: type[ProtocolError] = BadRequest, status: int = 400) -> None:
    raw = f"GET / HTTP/1.1\r\nHost: example.com\r\n{line}\r\n\r\n".encode("latin-1")
    reject(raw, error, status)


# -- request line --------------------------------------------------------------------------


def test_a_simple_get_is_parsed() -> None:
    parsed = get("Accept: */*", target="/index.html?a=1")
    assert parsed == RequestHead(
        method="GET",
        target="/index.html?a=1",
        path="/index.html",
        query="a=1",
        version=(1, 1),
        headers=(("HOST", "example.com"), ("ACCEPT", "*/*")),
        content_length=None,
        chunked=False,
        keep_alive=True,
        expect_continue=False,
    )


@pytest.mark.parametrize(
    "line",
    [
        b"GET  / HTTP/1.1",
        b"GET / HTTP/1.1 ",
        b" GET / HTTP/1.1",
        b"GET\t/ HTTP/1.1",
        b"GET /\tHTTP/1.1",
        b"GET / HTTP/1.1 extra",
        b"GET HTTP/1.1",
        b"GET",
    ],
)
def test_request_line_needs_exactly_three_parts_and_single_spaces(line: bytes) -> None:
    reject(line + b"\r\nHost: a\r\n\r\n", BadRequest, 400)


@pytest.mark.parametrize("method", ["GET", "-BLARGH", "M-SEARCH", "PROPFIND", "A" * 20, "ABC"])
def test_conventional_methods_are_accepted(method: str) -> None:
    assert head(f"{method} / HTTP/1.1\r\nHost: a\r\n\r\n".encode()).method == method


@pytest.mark.parametrize("method", ["get", "-bl", "Get", "GE", "A" * 21, "G#T", "GE:T", "GÉT"])
def test_unconventional_methods_are_refused_by_default(method: str) -> None:
    reject(f"{method} / HTTP/1.1\r\nHost: a\r\n\r\n".encode("latin-1"), BadRequest, 400)


@pytest.mark.parametrize("method", ["get", "GE", "#x", "A" * 30])
def test_permit_unconventional_http_method_allows_any_token(method: str) -> None:
    raw = f"{method} / HTTP/1.1\r\nHost: a\r\n\r\n".encode()
    assert head(raw, permit_unconventional_http_method=True).method == method


@pytest.mark.parametrize("method", ["GE:T", "G(T", "GÉT"])
def test_a_method_must_still_be_a_token_when_unconventional_ones_are_permitted(
    method: str,
) -> None:
    raw = f"{method} / HTTP/1.1\r\nHost: a\r\n\r\n".encode("latin-1")
    reject(raw, BadRequest, 400, permit_unconventional_http_method=True)


def test_casefold_http_method_upper_cases_the_method() -> None:
    raw = b"-blargh / HTTP/1.1\r\nHost: a\r\n\r\n"
    limits = {"permit_unconventional_http_method": True, "casefold_http_method": True}
    assert head(raw, **limits).method == "-BLARGH"


@pytest.mark.parametrize(
    ("version", "parsed"), [("HTTP/1.1", (1, 1)), ("HTTP/1.0", (1, 0)), ("HTTP/1.2", (1, 1))]
)
def test_versions_of_major_one_are_served(version: str, parsed: tuple[int, int]) -> None:
    assert head(f"GET / {version}\r\nHost: a\r\n\r\n".encode()).version == parsed


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0"])
def test_other_well_formed_versions_are_505(version: str) -> None:
    reject(f"GET / {version}\r\nHost: a\r\n\r\n".encode(), VersionNotSupported, 505)


@pytest.mark.parametrize(
    "version", ["HTTP/1.10", "HTTP/0.99", "http/1.1", "HTTP/1", "HTTP/1.x", "FTP/1.1", "HTTP/111"]
)
def test_malformed_versions_are_400(version: str) -> None:
    reject(f"GET / {version}\r\nHost: a\r\n\r\n".encode(), BadRequest, 400)


def test_request_line_limit_is_inclusive() -> None:
    line = "GET /" + "a" * 89 + " HTTP/1.1"  # 103 octets
    assert head(f"{line}\r\nHost: a\r\n\r\n".encode(), request_line=103).target.startswith("/a")
    reject(f"{line}\r\nHost: a\r\n\r\n".encode(), URITooLong, 414, request_line=102)


def test_request_line_zero_means_unlimited() -> None:
    target = "/" + "a" * 10000
    assert get(target=target, request_line=0).path == target


# -- request-target -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        ("/", "/", ""),
        ("/a/b?x=1&y=2", "/a/b", "x=1&y=2"),
        ("/a?", "/a", ""),
        ("/a?b?c", "/a", "b?c"),
        ("/a#frag", "/a", ""),
        ("/a?q=1#frag?x", "/a", "q=1"),
        ("///keeping_slashes", "///keeping_slashes", ""),
        ("/%20x%2F", "/%20x%2F", ""),
        ('/with_"quotes"', '/with_"quotes"', ""),
        ("/caf\xc3\xa9", "/caf\xc3\xa9", ""),
    ],
)
def test_origin_form(target: str, path: str, query: str) -> None:
    parsed = get(target=target)
    assert (parsed.target, parsed.path, parsed.query) == (target, path, query)
    assert (parsed.scheme, parsed.authority) == ("", "")


@pytest.mark.parametrize(
    ("target", "scheme", "authority", "path", "query"),
    [
        ("http://example.com/foo?q=1", "http", "example.com", "/foo", "q=1"),
        ("https://example.com", "https", "example.com", "/", ""),
        ("HTTP://Example.com:8080/x", "http", "Example.com:8080", "/x", ""),
        ("http://example.com?q", "http", "example.com", "/", "q"),
        ("http://example.com#f", "http", "example.com", "/", ""),
        ("http://[::1]:8080/foo", "http", "[::1]:8080", "/foo", ""),
    ],
)
def test_absolute_form(target: str, scheme: str, authority: str, path: str, query: str) -> None:
    parsed = get(target=target)
    assert parsed.target == target
    assert (parsed.scheme, parsed.authority, parsed.path, parsed.query) == (
        scheme,
        authority,
        path,
        query,
    )


@pytest.mark.parametrize(
    "target",
    [
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "http:///foo",
        "http://",
        "http://exa mple.com/",
        "ftp://example.com/",
        "s://]ufd/:",
        "foo/bar",
        "example.com:443",
        "*",
        "?q",
    ],
)
def test_other_targets_are_refused(target: str) -> None:
    raw = f"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n".encode()
    reject(raw, BadRequest, 400)


def test_asterisk_form_with_options() -> None:
    parsed = head(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    assert (parsed.target, parsed.path, parsed.query) == ("*", "*", "")


@pytest.mark.parametrize("target", ["example.com:443", "[::1]:443", "10.0.0.1:8080"])
def test_authority_form_with_connect(target: str) -> None:
    parsed = head(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    assert (parsed.target, parsed.authority, parsed.path) == (target, target, "")


@pytest.mark.parametrize("target", ["/", "example.com", "http://example.com/", "*", "a:b"])
def test_connect_needs_the_authority_form(target: str) -> None:
    reject(f"CONNECT {target} HTTP/1.1\r\nHost: a\r\n\r\n".encode(), BadRequest, 400)


@pytest.mark.parametrize("octet", [b"\x00", b"\x01", b"\x1f", b"\x7f", b"\x0b"])
def test_controls_in_the_target_are_refused(octet: bytes) -> None:
    reject(b"GET /a" + octet + b"b HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest, 400)


# -- field lines ----------------------------------------------------------------------------


def test_names_are_upper_cased_and_values_stripped_of_ows_only() -> None:
    parsed = get("x-Custom:  \t a \t b \t ", "Accept:*/*", "Empty:", "Obs: caf\xc3\xa9\xa0")
    assert parsed.headers[1:] == (
        ("X-CUSTOM", "a \t b"),
        ("ACCEPT", "*/*"),
        ("EMPTY", ""),
        ("OBS", "caf\xc3\xa9\xa0"),
    )


def test_repeated_fields_stay_separate_in_wire_order() -> None:
    parsed = get("If-Match: a", "Accept: b", "If-Match: c")
    assert parsed.headers[1:] == (("IF-MATCH", "a"), ("ACCEPT", "b"), ("IF-MATCH", "c"))


def test_known_names_map_to_their_upper_case_form() -> None:
    assert all(upper == name.upper() and "_" not in name for name, upper in KNOWN_NAMES.items())
    assert get("host-x: 1", "HOST-X: 2").headers[1:] == (("HOST-X", "1"), ("HOST-X", "2"))


def test_value_colons_are_kept() -> None:
    assert get("Referer: http://a:1/b").headers[1] == ("REFERER", "http://a:1/b")


@pytest.mark.parametrize(
    "line",
    [
        "Content-Length : 3",
        "Name\t: value",
        "no colon here",
        ": empty name",
        "a@b: c",
        "a b: c",
        "Ünicode: x",
        'a"b: c',
    ],
)
def test_invalid_field_names_are_refused(line: str) -> None:
    reject_field(line)


def test_strip_header_spaces_accepts_whitespace_before_the_colon() -> None:
    parsed = get("Content-Length : 0", "X-A\t: b", strip_header_spaces=True)
    assert parsed.headers[1:] == (("CONTENT-LENGTH", "0"), ("X-A", "b"))
    assert parsed.content_length == 0


def test_strip_header_spaces_still_needs_a_token() -> None:
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nA B : c\r\n\r\n"
    reject(raw, BadRequest, 400, strip_header_spaces=True)


@pytest.mark.parametrize("octet", ["\x00", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f"])
def test_controls_and_del_in_values_are_refused(octet: str) -> None:
    reject_field(f"X-Value: plain{octet}injected")


def test_htab_inside_a_value_is_kept() -> None:
    assert get("X-Value: a\tb").headers[1] == ("X-VALUE", "a\tb")


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: y\rz\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX\r: y\r\n\r\n",
        b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
)
def test_bare_cr_or_lf_is_refused(raw: bytes) -> None:
    reject(raw, BadRequest, 400)


def test_obsolete_folding_is_refused_by_default() -> None:
    reject(b"GET / HTTP/1.1\r\nHost: a\r\nLong: one\r\n two\r\n\r\n", BadRequest, 400)
    reject(b"GET / HTTP/1.1\r\nHost: a\r\nLong: one\r\n\ttwo\r\n\r\n", BadRequest, 400)


def test_permit_obsolete_folding_unfolds_with_one_space() -> None:
    raw = b"GET / HTTP/1.1\r\nLong: one \r\n  two\r\n\tthree\r\nHost: a\r\nEmpty:\r\n x\r\n\r\n"
    parsed = head(raw, permit_obsolete_folding=True)
    assert parsed.headers == (("LONG", "one two three"), ("HOST", "a"), ("EMPTY", "x"))


def test_folding_right_after_the_request_line_is_always_refused() -> None:
    raw = b"GET / HTTP/1.1\r\n folded: x\r\nHost: a\r\n\r\n"
    reject(raw, BadRequest, 400)
    reject(raw, BadRequest, 400, permit_obsolete_folding=True)


def test_a_folded_field_counts_all_its_lines_against_field_size() -> None:
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nAccept:\r\n */*\r\n\r\n"  # 9 + 6 octets
    assert head(raw, permit_obsolete_folding=True, field_size=15).headers[1] == ("ACCEPT", "*/*")
    reject(raw, HeaderFieldsTooLarge, 431, permit_obsolete_folding=True, field_size=14)


def test_continuation_lines_do_not_count_as_fields() -> None:
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n 2\r\n 3\r\n\r\n"
    assert head(raw, permit_obsolete_folding=True, fields=2).headers[1] == ("A", "1 2 3")
    reject(raw, HeaderFieldsTooLarge, 431, permit_obsolete_folding=True, fields=1)


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        (HeaderMap.DROP, (("HOST", "a"), ("CONTENT-LENGTH", "0"))),
        (
            HeaderMap.DANGEROUS,
            (("HOST", "a"), ("TRANSFER_ENCODING", "x"), ("CONTENT-LENGTH", "0")),
        ),
    ],
)
def test_underscore_names_follow_header_map(policy: HeaderMap, kept: tuple[Any, ...]) -> None:
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: x\r\nContent-Length: 0\r\n\r\n"
    parsed = head(raw, header_map=policy)
    assert parsed.headers == kept
    assert parsed.chunked is False


def test_header_map_refuse_rejects_underscore_names() -> None:
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded: x\r\n\r\n"
    reject(raw, BadRequest, 400, header_map=HeaderMap.REFUSE)


# -- limits ----------------------------------------------------------------------------------


def test_field_size_counts_the_crlf() -> None:
    line = "X: " + "y" * 17  # 20 octets, 22 with CRLF
    assert get(line, field_size=22).headers[1] == ("X", "y" * 17)
    reject(f"GET / HTTP/1.1\r\nHost: a\r\n{line}\r\n\r\n".encode(), HeaderFieldsTooLarge, 431,
           field_size=21)  # fmt: skip


def test_field_size_zero_means_8190() -> None:
    fits = "X: " + "y" * 8185  # 8188 + CRLF = 8190
    assert get(fits, field_size=0).headers[1][1] == "y" * 8185
    raw = f"GET / HTTP/1.1\r\nHost: a\r\n{fits}y\r\n\r\n".encode()
    reject(raw, HeaderFieldsTooLarge, 431, field_size=0)


def test_fields_limit_is_inclusive() -> None:
    lines = [f"X-{i}: {i}" for i in range(4)]  # plus Host: 5 fields
    assert len(get(*lines, fields=5).headers) == 5
    raw = ("GET / HTTP/1.1\r\nHost: a\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode()
    reject(raw, HeaderFieldsTooLarge, 431, fields=4)


def test_head_size_counts_the_whole_head() -> None:
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 1000 + b"\r\n\r\n"
    assert head(raw, head_size=len(raw)).headers[1] == ("X", "y" * 1000)
    reject(raw, HeaderFieldsTooLarge, 431, head_size=len(raw) - 1)


# -- Host and Content-Type -------------------------------------------------------------------


def test_http11_without_host_is_refused() -> None:
    reject(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", BadRequest, 400)


def test_require_host_false_accepts_http11_without_host() -> None:
    assert head(b"GET / HTTP/1.1\r\n\r\n", require_host=False).headers == ()


def test_http10_needs_no_host() -> None:
    assert get(version="1.0").headers == ()


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_two_host_fields_are_always_refused(version: str) -> None:
    raw = f"GET / HTTP/{version}\r\nHost: a\r\nHost: b\r\n\r\n".encode()
    reject(raw, BadRequest, 400)
    reject(raw, BadRequest, 400, require_host=False)


@pytest.mark.parametrize("value", ["", "example.com", "a:8080", "[::1]:80", "0.0.0.0=5000", "a:"])
def test_valid_host_values(value: str) -> None:
    assert head(f"GET / HTTP/1.1\r\nHost: {value}\r\n\r\n".encode()).headers[0] == ("HOST", value)


@pytest.mark.parametrize("value", ["exa mple.com", "user@host", "a:b", "[::1", "a/b", "a:80:80"])
def test_invalid_host_values_are_refused(value: str) -> None:
    reject(f"GET / HTTP/1.1\r\nHost: {value}\r\n\r\n".encode(), BadRequest, 400)


def test_two_content_type_fields_are_refused() -> None:
    reject_field("Content-Type: a/b\r\nContent-Type: a/b")


# -- Content-Length --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "length"), [("0", 0), ("5", 5), ("0005", 5), (" 7 ", 7), (str(2**63 - 1), 2**63 - 1)]
)
def test_content_length(value: str, length: int) -> None:
    parsed = get(f"Content-Length: {value}")
    assert (parsed.content_length, parsed.chunked) == (length, False)


@pytest.mark.parametrize(
    "value",
    ["-1", "+1", "-0", "0_1", "1.0", "1 1", "5, 5", "0x5", "", "\xb2", str(2**63), "1" * 30],
)
def test_invalid_content_length_is_refused(value: str) -> None:
    reject_field(f"Content-Length: {value}")


@pytest.mark.parametrize("second", ["3", "2"])
def test_repeated_content_length_is_refused_even_if_equal(second: str) -> None:
    reject_field(f"Content-Length: 3\r\nContent-Length: {second}")


def test_no_framing_field_means_no_body() -> None:
    parsed = get()
    assert (parsed.content_length, parsed.chunked) == (None, False)


# -- Transfer-Encoding -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["chunked", "Chunked", "CHUNKED", "chunked,", ", chunked"])
def test_chunked_is_the_only_coding(value: str) -> None:
    parsed = get(f"Transfer-Encoding: {value}")
    assert (parsed.content_length, parsed.chunked) == (None, True)


@pytest.mark.parametrize(
    "lines",
    [
        ["Transfer-Encoding: gzip, chunked"],
        ["Transfer-Encoding: identity, chunked"],
        ["Transfer-Encoding: identity"],
        ["Transfer-Encoding: gzip"],
        ["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"],
    ],
)
def test_other_codings_are_not_implemented(lines: list[str]) -> None:
    reject_field("\r\n".join(lines), NotImplementedFeature, 501)


@pytest.mark.parametrize(
    "lines",
    [
        ["Transfer-Encoding: chunked, gzip"],
        ["Transfer-Encoding: chunked", "Transfer-Encoding: identity"],
        ["Transfer-Encoding: chunked, chunked"],
        ["Transfer-Encoding: identity, chunked, identity, chunked"],
        ["Transfer-Encoding: chunked;q=1"],
        ["Transfer-Encoding: chun ked"],
        ["Transfer-Encoding: "],
        ["Transfer-Encoding: ,"],
        ["Transfer-Encoding: chunked", "Content-Length: 5"],
        ["Content-Length: 5", "Transfer-Encoding: chunked"],
    ],
)
def test_malformed_or_ambiguous_framing_is_400(lines: list[str]) -> None:
    reject_field("\r\n".join(lines))


def test_transfer_encoding_in_http10_is_refused() -> None:
    reject(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", BadRequest, 400)


def test_get_and_head_bodies_are_framed_like_any_other() -> None:
    assert get("Content-Length: 5").content_length == 5
    assert head(b"HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").chunked


# -- persistence and expectations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "lines", "keep_alive"),
    [
        ("1.1", [], True),
        ("1.1", ["Connection: close"], False),
        ("1.1", ["Connection: Close"], False),
        ("1.1", ["Connection: keep-alive"], True),
        ("1.1", ["Connection: Keep-Alive, CLOSE"], False),
        ("1.1", ["Connection: upgrade", "Connection: close"], False),
        ("1.1", ["Connection: closed"], True),
        ("1.0", [], False),
        ("1.0", ["Connection: keep-alive"], True),
        ("1.0", ["Connection: Keep-Alive"], True),
        ("1.0", ["Connection: te,  keep-alive "], True),
        ("1.0", ["Connection: keep-alive, close"], False),
        ("1.0", ["Connection: keep-alive", "Connection: close"], False),
    ],
)
def test_keep_alive(version: str, lines: list[str], keep_alive: bool) -> None:
    assert get(*lines, version=version).keep_alive is keep_alive


@pytest.mark.parametrize(
    ("version", "lines", "expected"),
    [
        ("1.1", ["Expect: 100-continue"], True),
        ("1.1", ["Expect: 100-Continue"], True),
        ("1.1", ["Expect: foo, 100-continue"], True),
        ("1.1", ["Expect: something-else"], False),
        ("1.1", [], False),
        ("1.0", ["Expect: 100-continue"], False),
    ],
)
def test_expect_continue(version: str, lines: list[str], expected: bool) -> None:
    parsed = get(*lines, version=version)
    assert parsed.expect_continue is expected
    assert ("EXPECT" in dict(parsed.headers)) is bool(lines)
