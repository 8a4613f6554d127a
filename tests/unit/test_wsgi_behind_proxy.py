"""The environ behind a front proxy: uwsgi vars as the environ, trusted forwarded headers."""

from __future__ import annotations

import io
from typing import Any

import pytest

from herder.protocol.errors import BadRequest
from herder.protocol.events import RequestHead
from herder.protocol.uwsgi.parser import head_from_vars
from herder.wsgi.environ import EnvironBuilder, ServerInfo
from herder.wsgi.forwarded import AddressSet, ForwardedPolicy
from herder.wsgi.input import Input

ERRORS = io.StringIO()
TCP = ServerInfo("10.0.0.5", "3031", "http", "", False, True, False, ERRORS)
SCHEME_HEADERS = {"X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}
VARS = {
    "REQUEST_METHOD": "GET",
    "REQUEST_URI": "/a%20b?x=1",
    "PATH_INFO": "/a b",
    "QUERY_STRING": "x=1",
    "CONTENT_TYPE": "",
    "CONTENT_LENGTH": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "203.0.113.9",
    "REMOTE_PORT": "51000",
    "SERVER_NAME": "example.com",
    "SERVER_PORT": "443",
    "HTTPS": "on",
    "HTTP_HOST": "example.com",
    "HTTP_ACCEPT": "text/html,*/*",
}


def from_vars(cgi: dict[str, str], server: ServerInfo = TCP) -> dict[str, Any]:
    return EnvironBuilder(server).build(head_from_vars(cgi), ("127.0.0.1", 4), Input())


def test_uwsgi_vars_become_the_environ() -> None:
    env = from_vars(VARS)
    assert env["REMOTE_ADDR"] == "203.0.113.9"  # the client's, as nginx saw it
    assert env["PATH_INFO"] == "/a b" and env["RAW_URI"] == "/a%20b?x=1"
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("example.com", "443")
    assert env["wsgi.url_scheme"] == "https"
    assert "CONTENT_LENGTH" not in env and "CONTENT_TYPE" not in env  # empty: absent
    assert env["HTTP_ACCEPT"] == "text/html,*/*"
    assert env["wsgi.version"] == (1, 0) and isinstance(env["wsgi.input"], Input)


def test_uwsgi_defaults_and_mount_point() -> None:
    cgi = {"REQUEST_METHOD": "GET", "PATH_INFO": "/app/x", "REQUEST_SCHEME": "https"}
    mounted = ServerInfo("10.0.0.5", "3031", "http", "/app", False, True, False, ERRORS)
    env = from_vars(cgi, mounted)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/x")
    assert env["QUERY_STRING"] == "" and env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REQUEST_URI"] == "/app/x" and env["wsgi.url_scheme"] == "https"
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("10.0.0.5", "3031")


def http_env(headers: list[tuple[str, str]], peer: str = "127.0.0.1") -> dict[str, Any]:
    head = RequestHead("GET", "/", "/", "", (1, 1), tuple(headers), None, False, True, False)
    return EnvironBuilder(TCP).build(head, (peer, 5555), Input())


def policy(*allowed: str) -> ForwardedPolicy:
    return ForwardedPolicy(AddressSet(allowed or ("127.0.0.1", "::1")), SCHEME_HEADERS)


def test_trusted_forwarded_headers_rewrite_the_environ() -> None:
    env = http_env(
        [
            ("HOST", "internal"),
            ("X-FORWARDED-FOR", "198.51.100.7, 10.0.0.2"),
            ("X-FORWARDED-PROTO", "https"),
            ("X-FORWARDED-HOST", "shop.example"),
        ]
    )
    policy("127.0.0.1", "10.0.0.0/8").apply(env, ("127.0.0.1", 1))
    assert env["REMOTE_ADDR"] == "198.51.100.7"  # 10.0.0.2 is a trusted hop: skipped
    assert env["wsgi.url_scheme"] == "https" and env["HTTP_HOST"] == "shop.example"


def test_forwarded_field_is_read_when_no_x_forwarded() -> None:
    env = http_env([("HOST", "h"), ("FORWARDED", 'for="[2001:db8::7]:4711";proto=https;host=x')])
    policy().apply(env, ("127.0.0.1", 1))
    assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"], env["HTTP_HOST"]) == (
        "2001:db8::7",
        "https",
        "x",
    )


@pytest.mark.parametrize(
    ("headers", "scheme"),
    [
        ([("X-FORWARDED-PROTO", "https")], "https"),
        ([("X-FORWARDED-PROTO", "http")], "http"),
        ([("X-FORWARDED-PROTO", "https"), ("X-FORWARDED-SSL", "on")], "https"),
        ([], "http"),
    ],
)
def test_scheme_headers(headers: list[tuple[str, str]], scheme: str) -> None:
    env = http_env(headers)
    policy().apply(env, ("127.0.0.1", 1))
    assert env["wsgi.url_scheme"] == scheme


def test_conflicting_scheme_headers_are_400() -> None:
    env = http_env([("X-FORWARDED-PROTO", "https"), ("X-FORWARDED-SSL", "off")])
    with pytest.raises(BadRequest, match="conflicting"):
        policy().apply(env, ("127.0.0.1", 1))


def test_trust_is_by_address_and_network() -> None:
    trusted = AddressSet(["127.0.0.1", "10.0.0.0/8", "::1"])
    assert trusted.allows_peer(("10.20.30.40", 1)) and trusted.allows_peer(None)
    assert not trusted.allows_peer(("192.0.2.1", 1)) and "nonsense" not in trusted
    assert "::1" in trusted and "::2" not in trusted
    assert AddressSet(["*"]).allows_peer(("192.0.2.1", 1))


def test_untrusted_hop_chain_keeps_the_first_untrusted() -> None:
    env = http_env([("X-FORWARDED-FOR", "garbage, 192.0.2.1")])
    policy().apply(env, ("127.0.0.1", 1))
    assert env["REMOTE_ADDR"] == "192.0.2.1"


def test_proxy_protocol_setting_takes_gunicorns_boolean_too() -> None:
    from herder.config.sections.proxying import proxy_mode
    from herder.protocol.proxy import ProxyMode

    assert proxy_mode(True) is ProxyMode.AUTO and proxy_mode(False) is ProxyMode.OFF
    assert proxy_mode("V2") is ProxyMode.V2


def test_untrusted_peer_changes_nothing() -> None:
    env = http_env([("X-FORWARDED-FOR", "198.51.100.7"), ("X-FORWARDED-PROTO", "https")])
    before = dict(env)
    policy("10.0.0.0/8").apply(env, ("192.0.2.1", 1))
    assert env == before
    policy("10.0.0.0/8").apply(env, None)  # a Unix socket peer is trusted
    assert env["REMOTE_ADDR"] == "198.51.100.7"
