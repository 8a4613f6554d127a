"""Per-listener protocol in bind spellings: `uwsgi://HOST:PORT`, `uwsgi:unix:PATH`, `http://`."""

from __future__ import annotations

import socket

import pytest

from herder.config.binds import Bind, BindKind, parse_bind
from herder.master.listeners import describe


@pytest.mark.parametrize(
    ("spelled", "expected", "canonical"),
    [
        (
            "uwsgi://127.0.0.1:3031",
            Bind(BindKind.TCP, "127.0.0.1", 3031, protocol="uwsgi"),
            "uwsgi://127.0.0.1:3031",
        ),
        (
            "uwsgi:unix:/run/app.sock",
            Bind(BindKind.UNIX, path="/run/app.sock", protocol="uwsgi"),
            "uwsgi:unix:/run/app.sock",
        ),
        (
            "uwsgi://[::1]:3031",
            Bind(BindKind.TCP, "::1", 3031, protocol="uwsgi"),
            "uwsgi://[::1]:3031",
        ),
        ("uwsgi:fd://3", Bind(BindKind.FD, fd=3, protocol="uwsgi"), "uwsgi:fd://3"),
        (
            "http://127.0.0.1:80",
            Bind(BindKind.TCP, "127.0.0.1", 80, protocol="http"),
            "http://127.0.0.1:80",
        ),
        ("127.0.0.1:80", Bind(BindKind.TCP, "127.0.0.1", 80), "127.0.0.1:80"),
    ],
)
def test_protocol_prefixes(spelled: str, expected: Bind, canonical: str) -> None:
    bind = parse_bind(spelled)
    assert bind == expected
    assert str(bind) == canonical and parse_bind(canonical) == bind


@pytest.mark.parametrize(
    "spelled", ["uwsgi://", "uwsgi:", "uwsgi://uwsgi://1.2.3.4:5", "uwsgi://a b"]
)
def test_bad_prefixed_binds(spelled: str) -> None:
    with pytest.raises(ValueError, match="invalid address"):
        parse_bind(spelled)


def test_listening_line_names_the_protocol() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert describe(sock, parse_bind("uwsgi://127.0.0.1:0")) == f"uwsgi://127.0.0.1:{port}"
        assert describe(sock, parse_bind("127.0.0.1:0")) == f"http://127.0.0.1:{port}"
