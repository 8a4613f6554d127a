"""The `bind` spellings: every accepted form, the canonical round trip, and refusals."""

from __future__ import annotations

import pytest

from herder.config.binds import Bind, BindKind, parse_bind, parse_binds, render_binds

TCP, UNIX, FD = BindKind.TCP, BindKind.UNIX, BindKind.FD


@pytest.mark.parametrize(
    ("spelled", "expected"),
    [
        ("127.0.0.1:8000", Bind(TCP, host="127.0.0.1", port=8000)),
        ("localhost", Bind(TCP, host="localhost", port=8000)),
        ("example.com:80", Bind(TCP, host="example.com", port=80)),
        ("0.0.0.0:0", Bind(TCP, host="0.0.0.0", port=0)),
        (":9000", Bind(TCP, host="0.0.0.0", port=9000)),
        ("tcp://10.0.0.1:81", Bind(TCP, host="10.0.0.1", port=81)),
        ("127.0.0.1:65535", Bind(TCP, host="127.0.0.1", port=65535)),
        ("[::1]:8080", Bind(TCP, host="::1", port=8080)),
        ("[::]", Bind(TCP, host="::", port=8000)),
        ("[fe80::1%eth0]:1", Bind(TCP, host="fe80::1%eth0", port=1)),
        ("  127.0.0.1:1  ", Bind(TCP, host="127.0.0.1", port=1)),
        ("unix:/run/herder.sock", Bind(UNIX, path="/run/herder.sock")),
        ("unix://relative.sock", Bind(UNIX, path="relative.sock")),
        ("fd://3", Bind(FD, fd=3)),
        ("fd://0", Bind(FD, fd=0)),
    ],
)
def test_parse_accepted_forms(spelled: str, expected: Bind) -> None:
    assert parse_bind(spelled) == expected


@pytest.mark.parametrize(
    ("spelled", "reason"),
    [
        ("127.0.0.1:65536", "port 65536 is not in 0..65535"),
        ("127.0.0.1:-1", "bad port '-1'"),
        ("127.0.0.1:http", "bad port 'http'"),
        ("127.0.0.1:", "bad port ''"),
        ("127.0.0.1:٣", "bad port '٣'"),
        ("::1", "put IPv6 addresses in brackets"),
        ("[::1", "missing ']'"),
        ("[not-v6]:80", "bad IPv6 address 'not-v6'"),
        ("[::1]80", "bad port"),
        ("bad host:80", "bad host 'bad host'"),
        ("unix:", "empty Unix socket path"),
        ("fd://", "fd:// needs a descriptor number"),
        ("fd://x", "fd:// needs a descriptor number"),
        ("fd://-1", "fd:// needs a descriptor number"),
    ],
)
def test_parse_refuses(spelled: str, reason: str) -> None:
    with pytest.raises(ValueError, match="invalid address") as caught:
        parse_bind(spelled)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "spelled", ["127.0.0.1:8000", "[::1]:8080", "unix:/tmp/s", "fd://4", "example.com:0"]
)
def test_str_is_canonical_and_round_trips(spelled: str) -> None:
    bind = parse_bind(spelled)
    assert str(bind) == spelled
    assert parse_bind(str(bind)) == bind


def test_is_ipv6() -> None:
    assert parse_bind("[::1]:1").is_ipv6
    assert not parse_bind("127.0.0.1:1").is_ipv6
    assert not parse_bind("unix:/a:b").is_ipv6


def test_bind_is_frozen() -> None:
    bind = parse_bind("127.0.0.1:1")
    with pytest.raises(AttributeError):
        bind.port = 2  # type: ignore[misc]


def test_parse_binds_accepts_a_string_or_a_list() -> None:
    assert parse_binds("fd://3") == [Bind(FD, fd=3)]
    assert parse_binds(("fd://3", "fd://4")) == [Bind(FD, fd=3), Bind(FD, fd=4)]


@pytest.mark.parametrize("raw", [[], 8000, ["fd://3", 4], None])
def test_parse_binds_refuses_other_shapes(raw: object) -> None:
    with pytest.raises(ValueError, match="address"):
        parse_binds(raw)


def test_render_binds() -> None:
    assert render_binds(parse_binds(["[::1]:1", "unix:/s"])) == ["[::1]:1", "unix:/s"]
