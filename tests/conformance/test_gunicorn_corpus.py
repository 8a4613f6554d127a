"""Replays Gunicorn's request corpus through `HTTP11Parser`, fed whole and in many splits.

Every case runs with each head parser (`head_parsers.NAMES`: herder's own and the httptools
accelerator); both must give exactly the same answers.

The corpus lives beside the repository (`../shared/conformance/gunicorn-requests`, or
`$HERDER_CONFORMANCE_DIR`); when it is missing these tests fail, they never skip.

Its README ends with this project's policy where Gunicorn is lenient. The tables below are that
policy: `HOST_LESS` (HTTP/1.1 without Host: 400) and `POLICY_REJECTS` (unimplemented or
malformed transfer codings, userinfo). Those requests are asserted rejected with the right
status, and the fields the parser saw are still compared by running them again with
`require_host=False` where only the Host rule rejects them. The other policy choices are
acceptances (`#fragment`, `"`, raw non-ASCII in the target) and are compared exactly.
PROXY protocol cases (`pp_*`) run through `ProxyPreambleParser` in `auto` mode in front of
the same parser; the trusted-proxy case (`invalid/019`) runs the parsed head through the
environ builder and `ForwardedPolicy`, which must refuse its conflicting scheme headers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from herder.protocol.base import RequestParser
from herder.protocol.errors import IncompleteMessage, ProtocolError
from herder.protocol.events import NEED_DATA, PAUSED, Data, EndOfMessage, RequestHead
from herder.protocol.http11.head_parsers import NAMES, HeadParser
from herder.protocol.http11.head_parsers import head_parser as head_parser_named
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.limits import HeaderMap, Limits
from herder.protocol.proxy import ProxyInfo, ProxyMode, ProxyPreambleParser
from herder.wsgi.environ import EnvironBuilder, ServerInfo
from herder.wsgi.forwarded import AddressSet, ForwardedPolicy
from herder.wsgi.input import Input

CORPUS = Path(
    os.environ.get("HERDER_CONFORMANCE_DIR")
    or Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "gunicorn-requests"
)
SPLITS = ("whole", "bytewise", "lines", "first-byte", "random-1", "random-2", "random-3")

# README policy table, row 1: the HTTP/1.1 requests without Host (case -> index of the first).
HOST_LESS = {
    "004": 0, "005": 0, "006": 0, "007": 0, "009": 0, "010": 0, "011": 0, "012": 0,
    "013": 0, "014": 0, "018": 0, "021": 0, "022": 1, "023": 0, "025": 0, "025_line": 0,
    "028": 0, "029": 0, "030": 0, "031": 0, "031compat": 0, "031compat2": 0, "100": 0,
    "compat_obs_fold_huge": 0, "pp_02": 0,
}  # fmt: skip
# README policy table, rows 2-3 and the userinfo rule: rejected whatever Host says. Framing is
# checked before Host, so these statuses hold for the host-less ones too.
POLICY_REJECTS = {
    "009": 400,  # Transfer-Encoding: identity together with Content-Length
    "025": 501,  # gzip, then chunked (two fields)
    "025_line": 501,  # gzip,chunked
    "029": 501,  # identity, then chunked (two fields)
    "030": 501,
    "rfc9112_smuggle_gzip_chunked_01": 501,
    "rfc9112_smuggle_te_identity_chunked_01": 501,
    "rfc9112_target_absolute_userinfo_01": 400,  # RFC 9110 §4.2.4
}
HEAD_ONLY = {"099"}  # its body is shorter than its Content-Length: EOF inside the body

# Invalid cases: the status for each Gunicorn error label (README suggestions, made exact).
STATUS_BY_ERROR: dict[str, int | None] = {
    "InvalidHeader": 400,
    "InvalidHeaderName": 400,
    "InvalidChunkSize": 400,
    "InvalidChunkExtension": 400,
    "InvalidRequestMethod": 400,
    "InvalidRequestLine": 400,
    "InvalidHTTPVersion": 400,
    "ObsoleteFolding": 400,
    "LimitRequestHeaders": 431,
    "LimitRequestLine": 414,
    "NoMoreData": None,  # IncompleteMessage: EOF inside the head
    "ChunkMissingTerminator": None,  # IncompleteMessage: EOF before the final CRLF
    "InvalidProxyLine": 400,  # a malformed PROXY v1 line
    "InvalidSchemeHeaders": 400,  # refused by ForwardedPolicy, after the parser
}
STATUS_OVERRIDES = {"version_02": 505}  # HTTP/2.0: well-formed, unsupported major
# Invalid cases whose error is in the body: the head is returned first, never EndOfMessage.
BODY_ERRORS = {
    "chunked_01",
    "chunked_09",
    "chunked_10",
    "chunked_11",
    "chunked_12",
    "chunked_13",
    "chunked_14",
    "rfc9110_trailer_forbidden_cl_01",
    "rfc9110_trailer_forbidden_host_01",
    "rfc9110_trailer_forbidden_te_01",
    "rfc9112_chunked_missing_final_crlf_01",
    "rfc9112_chunked_size_minus_sign_01",
    "rfc9112_chunked_size_plus_sign_01",
}
NOT_PARSER_SETTINGS = {"proxy_protocol", "forwarded_allow_ips"}  # applied around the parser
# What the PROXY headers of the corpus say (the client's address and port).
PROXY_SOURCES = {
    "pp_01": ("192.168.0.1", 56324),
    "pp_02": ("192.168.0.1", 56324),
    "pp_03": None,
    "pp_04": ("192.168.1.10", 12345),
    "pp_05": ("2001:db8::1", 54321),
}
SECURE_SCHEME_HEADERS = {  # Gunicorn's default secure_scheme_headers
    "X-FORWARDED-PROTOCOL": "ssl",
    "X-FORWARDED-PROTO": "https",
    "X-FORWARDED-SSL": "on",
}
SETTINGS = {
    "limit_request_line": "request_line",
    "limit_request_fields": "fields",
    "limit_request_field_size": "field_size",
    "permit_obsolete_folding": "permit_obsolete_folding",
    "strip_header_spaces": "strip_header_spaces",
    "permit_unconventional_http_method": "permit_unconventional_http_method",
    "casefold_http_method": "casefold_http_method",
}


@pytest.fixture(params=NAMES)
def head_parser(request: pytest.FixtureRequest) -> HeadParser:
    """Each head parser in turn (no skip: the test extra installs httptools)."""
    return head_parser_named(request.param)


# -- the corpus ---------------------------------------------------------------------------


def case_names(kind: str) -> list[str]:
    """The case names of `kind` ("valid" or "invalid"); one failing sentinel when missing."""
    folder = CORPUS / kind
    names = sorted(path.stem for path in folder.glob("*.http")) if folder.is_dir() else []
    return names or [f"MISSING:{folder}"]


def load(kind: str, name: str) -> tuple[bytes, dict[str, Any]]:
    if name.startswith("MISSING:"):
        pytest.fail(f"conformance corpus not found at {CORPUS} (set HERDER_CONFORMANCE_DIR)")
    folder = CORPUS / kind
    spec = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    return (folder / f"{name}.http").read_bytes(), spec


def limits_for(settings: dict[str, Any], **overrides: Any) -> Limits:
    """Gunicorn settings of a case as `Limits` (PROXY and forwarded settings are not theirs)."""
    kwargs: dict[str, Any] = {}
    for setting, value in settings.items():
        if setting in NOT_PARSER_SETTINGS:
            continue
        if setting == "header_map":
            kwargs["header_map"] = HeaderMap(value)
        else:
            kwargs[SETTINGS[setting]] = value  # a new setting in the corpus fails here
    kwargs.update(overrides)
    return Limits(**kwargs)


def pieces(data: bytes, split: str, name: str) -> list[bytes]:
    """`data` cut the way `split` says; random cuts are seeded by the case name."""
    if split == "whole":
        return [data]
    if split == "bytewise":
        return [data[i : i + 1] for i in range(len(data))]
    if split == "lines":
        return data.splitlines(keepends=True)
    if split == "first-byte":
        return [data[:1], data[1:]]
    rng = random.Random(zlib.crc32(name.encode()) + int(split.rpartition("-")[2]))
    cuts = sorted({rng.randrange(1, len(data)) for _ in range(len(data) // 8)} if data else ())
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


# -- driving the parser like a server ------------------------------------------------------


@dataclass
class Parsed:
    head: RequestHead
    body: bytearray = field(default_factory=bytearray)
    trailers: tuple[tuple[str, str], ...] | None = None  # None until EndOfMessage


@dataclass
class Outcome:
    requests: list[Parsed]
    error: ProtocolError | None
    leftover: int  # bytes never turned into events (buffered, or never fed)
    proxy: ProxyInfo | None = None


def drive(
    chunks: list[bytes], limits: Limits, head_parser: HeadParser, proxy: bool = False
) -> Outcome:
    """Feed `chunks` as a server would: next cycle only while the client keeps the connection.
    With `proxy`, an optional PROXY header (v1 or v2) may come first."""
    parser: RequestParser = HTTP11Parser(limits, head_parser)
    if proxy:
        preamble = ProxyPreambleParser(parser, ProxyMode.AUTO)
        outcome = _drive(chunks, preamble)
        outcome.proxy = preamble.info
        return outcome
    return _drive(chunks, parser)


def _drive(chunks: list[bytes], parser: RequestParser) -> Outcome:
    feed: Iterator[bytes] = iter(chunks)
    requests: list[Parsed] = []
    eof = False
    while True:
        try:
            event = parser.next_event()
        except ProtocolError as error:
            return Outcome(requests, error, parser.buffered + sum(map(len, feed)))
        if event is NEED_DATA:
            if eof:
                return Outcome(requests, None, parser.buffered)
            chunk = next(feed, b"")
            eof = not chunk
            parser.feed(chunk)
        elif isinstance(event, RequestHead):
            requests.append(Parsed(event))
        elif isinstance(event, Data):
            requests[-1].body += event.data
        elif isinstance(event, EndOfMessage):
            requests[-1].trailers = event.trailers
        else:
            assert event is PAUSED
            if not requests[-1].head.keep_alive:
                return Outcome(requests, None, parser.buffered + sum(map(len, feed)))
            parser.start_next_cycle()


def assert_request(parsed: Parsed, expected: dict[str, Any], *, head_only: bool = False) -> None:
    head = parsed.head
    assert head.method == expected["method"]
    assert head.target == expected["uri"]
    if head.method != "CONNECT":  # the corpus path of an authority-form target is an artifact
        assert head.path == expected["path"]
    assert head.query == expected["query"]
    assert head.target.partition("#")[2] == expected["fragment"]
    assert list(head.version) == expected["version"]
    assert [list(pair) for pair in head.headers] == expected["headers"]
    if not head_only:
        assert parsed.body.decode("latin-1") == expected["body"]
        assert parsed.trailers is not None, "no EndOfMessage"
        assert [list(pair) for pair in parsed.trailers] == expected["trailers"]


def assert_valid(outcome: Outcome, expected: list[dict[str, Any]], name: str) -> None:
    assert outcome.error is None, f"rejected: {outcome.error!r}"
    assert len(outcome.requests) == len(expected)
    for parsed, wanted in zip(outcome.requests, expected, strict=True):
        assert_request(parsed, wanted)
    if outcome.leftover:  # bytes after the last request: the client must have said close
        assert outcome.requests[-1].head.keep_alive is False


def assert_rejected(outcome: Outcome, expected: list[dict[str, Any]], at: int, status: int) -> None:
    """Requests before `at` parse exactly; request `at` is refused with `status`, head first."""
    assert outcome.error is not None, "accepted a request the policy rejects"
    assert outcome.error.status == status
    assert len(outcome.requests) == at, "the rejected request's head was returned"
    for parsed, wanted in zip(outcome.requests, expected[:at], strict=True):
        assert_request(parsed, wanted)


# -- valid cases ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", case_names("valid"))
def test_valid_case(name: str, split: str, head_parser: HeadParser) -> None:
    data, spec = load("valid", name)
    chunks = pieces(data, split, name)
    expected = spec["requests"]
    outcome = drive(chunks, limits_for(spec["settings"]), head_parser, is_proxied(spec))
    if name in HEAD_ONLY:
        assert isinstance(outcome.error, IncompleteMessage)
        assert_request(outcome.requests[0], expected[0], head_only=True)
    elif name in POLICY_REJECTS:
        assert_rejected(outcome, expected, 0, POLICY_REJECTS[name])
    elif name in HOST_LESS:
        assert_rejected(outcome, expected, HOST_LESS[name], 400)
    else:
        assert_valid(outcome, expected, name)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", sorted(HOST_LESS))
def test_host_less_case_without_host_rule(name: str, split: str, head_parser: HeadParser) -> None:
    """What the parser sees in the requests rejected for lacking Host matches the corpus."""
    data, spec = load("valid", name)
    limits = limits_for(spec["settings"], require_host=False)
    outcome = drive(pieces(data, split, name), limits, head_parser, is_proxied(spec))
    if name in POLICY_REJECTS:
        assert_rejected(outcome, spec["requests"], 0, POLICY_REJECTS[name])
    else:
        assert_valid(outcome, spec["requests"], name)


def test_host_less_table_matches_the_corpus() -> None:
    """`HOST_LESS` (from the README) names exactly the HTTP/1.1 requests without Host."""
    found: dict[str, int] = {}
    for name in case_names("valid"):
        _, spec = load("valid", name)
        for index, request in enumerate(spec["requests"]):
            names = {pair[0] for pair in request["headers"]}
            if request["version"] == [1, 1] and "HOST" not in names:
                found.setdefault(name, index)
    assert found == HOST_LESS


def is_proxied(spec: dict[str, Any]) -> bool:
    return bool(spec["settings"].get("proxy_protocol"))


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", sorted(PROXY_SOURCES))
def test_proxy_header_gives_the_client_address(
    name: str, split: str, head_parser: HeadParser
) -> None:
    data, spec = load("valid", name)
    limits = limits_for(spec["settings"], require_host=False)
    outcome = drive(pieces(data, split, name), limits, head_parser, proxy=True)
    assert outcome.error is None
    source = None if outcome.proxy is None else outcome.proxy.source
    assert source == PROXY_SOURCES[name]


def test_proxy_table_names_every_proxy_case() -> None:
    proxied = {name for name in case_names("valid") if is_proxied(load("valid", name)[1])}
    assert proxied == set(PROXY_SOURCES)


def test_corpus_is_complete() -> None:
    assert len(case_names("valid")) == 63
    assert len(case_names("invalid")) == 74


# -- invalid cases -------------------------------------------------------------------------


def lacks_host(data: bytes) -> bool:
    """Whether the first head is HTTP/1.1 without a Host line (a rough look, for tests)."""
    lines = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    has_host = any(line.lower().startswith(b"host:") for line in lines[1:])
    return lines[0].endswith(b"HTTP/1.1") and not has_host


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", case_names("invalid"))
def test_invalid_case(name: str, split: str, head_parser: HeadParser) -> None:
    data, spec = load("invalid", name)
    limits = limits_for(spec["settings"])
    status = STATUS_OVERRIDES.get(name, STATUS_BY_ERROR[spec["error"]])
    chunks = pieces(data, split, name)
    proxied = is_proxied(spec)
    lenient = drive(chunks, dataclasses.replace(limits, require_host=False), head_parser, proxied)
    if "forwarded_allow_ips" in spec["settings"]:
        assert_forwarded_refused(lenient, spec["settings"]["forwarded_allow_ips"], status)
        return
    assert_refused(lenient, status, head_first=name in BODY_ERRORS)
    strict = drive(chunks, limits, head_parser, proxied)
    if lacks_host(data):  # the Host rule may refuse it first
        assert strict.error is not None
        assert strict.error.status in (status, 400)
        assert all(parsed.trailers is None for parsed in strict.requests)
    else:
        assert_refused(strict, status, head_first=name in BODY_ERRORS)


def assert_forwarded_refused(outcome: Outcome, allowed: str, status: int | None) -> None:
    """The parser accepts the request; the trusted-proxy policy refuses it with `status`."""
    assert outcome.error is None and len(outcome.requests) == 1
    server = ServerInfo("localhost", "8000", "http", "", False, False, False, sys.stderr)
    env = EnvironBuilder(server).build(outcome.requests[0].head, ("127.0.0.1", 1), Input())
    policy = ForwardedPolicy(AddressSet(allowed.split(",")), SECURE_SCHEME_HEADERS)
    with pytest.raises(ProtocolError) as refused:
        policy.apply(env, ("127.0.0.1", 1))
    assert refused.value.status == status


def assert_refused(outcome: Outcome, status: int | None, *, head_first: bool) -> None:
    assert outcome.error is not None, "an invalid request was accepted"
    if status is None:
        assert isinstance(outcome.error, IncompleteMessage)
    else:
        assert outcome.error.status == status, repr(outcome.error)
    assert len(outcome.requests) == (1 if head_first else 0)
    assert all(parsed.trailers is None for parsed in outcome.requests), "EndOfMessage seen"
