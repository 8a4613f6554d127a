"""A front proxy's protocols straight to herder: uwsgi packets, PROXY headers, forwarded
headers, on both worker classes (nginx itself is in `test_nginx.py`)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from herder.protocol.uwsgi.packet import encode_packet
from tests.integration.harness import Server, is_closed, read_response, request

pytestmark = pytest.mark.integration

GET_VARS = {
    "REQUEST_METHOD": "GET",
    "REQUEST_URI": "/environ?x=1",
    "PATH_INFO": "/environ",
    "QUERY_STRING": "x=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "198.51.100.4",
    "REMOTE_PORT": "4242",
    "SERVER_NAME": "site.example",
    "SERVER_PORT": "443",
    "HTTPS": "on",
    "HTTP_HOST": "site.example",
}


def uwsgi_connect(server: Server) -> socket.socket:
    found = server.wait_for(r"Listening at: uwsgi://127\.0\.0\.1:(\d+)", 10)
    return socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=10)


def uwsgi_server(*extra: str, worker: str = "event") -> Server:
    return Server("-k", worker, "-b", "127.0.0.1:0", "-b", "uwsgi://127.0.0.1:0", *extra)


@pytest.mark.parametrize("worker", ["sync", "event"])
def test_uwsgi_request_ping_and_unknown_modifier(worker: str) -> None:
    with uwsgi_server(worker=worker) as server:
        with uwsgi_connect(server) as sock:
            request(sock, encode_packet(GET_VARS))
            status, headers, body = read_response(sock)
            assert status == 200 and headers["connection"] == "close"
            env: dict[str, Any] = json.loads(body)
            assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == ("198.51.100.4", "https")
            assert (env["PATH_INFO"], env["QUERY_STRING"]) == ("/environ", "x=1")
            assert "transfer-encoding" not in headers  # close-delimited towards nginx
        with uwsgi_connect(server) as sock:
            request(sock, b"\x64\x00\x00\x00")
            assert sock.recv(16) == b"\x64\x00\x00\x00"
        with uwsgi_connect(server) as sock:
            request(sock, b"\x11\x00\x00\x00")
            assert is_closed(sock) and sock.recv(16) == b""
        server.wait_for(r"uwsgi modifier1 17 is not served", 10)


def test_uwsgi_limits_and_allow_list() -> None:
    with uwsgi_server("--uwsgi-buffer-size", "1024") as server:
        with uwsgi_connect(server) as sock:
            request(sock, encode_packet({**GET_VARS, "HTTP_X_BIG": "x" * 2000}))
            assert read_response(sock)[0] == 431
        server.wait_for(r"over --uwsgi-buffer-size \(1024\): raise that setting", 10)
        with uwsgi_connect(server) as sock:
            request(sock, encode_packet({**GET_VARS, "CONTENT_LENGTH": "ten"}))
            assert read_response(sock)[0] == 400
    with (
        uwsgi_server("--uwsgi-allow-from", "10.0.0.0/8") as server,
        uwsgi_connect(server) as sock,
    ):
        request(sock, encode_packet(GET_VARS))
        assert read_response(sock)[0] == 403


@pytest.mark.parametrize("worker", ["sync", "event"])
def test_proxy_protocol_sets_the_client_address(worker: str) -> None:
    with Server("-k", worker, "--proxy-protocol", "auto") as server, server.connect() as sock:
        request(
            sock,
            b"PROXY TCP4 192.0.2.8 10.0.0.1 5555 80\r\nGET /environ HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        status, _, body = read_response(sock)
        assert status == 200
        env = json.loads(body)
        assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("192.0.2.8", "5555")
    refusing = ("--proxy-protocol", "v1", "--proxy-allow-from", "10.1.1.1")
    with Server("-k", worker, *refusing) as server, server.connect() as sock:
        request(sock, b"PROXY TCP4 192.0.2.8 10.0.0.1 5555 80\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0] == 403


def environ_via(server: Server, headers: str) -> tuple[int, bytes]:
    with server.connect() as sock:
        request(sock, f"GET /environ HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())
        status, _, body = read_response(sock)
    return status, body


@pytest.mark.parametrize("worker", ["sync", "event"])
def test_forwarded_headers_only_from_trusted_peers(worker: str) -> None:
    forwarded = "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n"
    with Server("-k", worker) as server:  # 127.0.0.1 is trusted by default
        status, body = environ_via(server, forwarded)
        env = json.loads(body)
        assert (status, env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == (200, "203.0.113.5", "https")
        status, _ = environ_via(server, "X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n")
        assert status == 400
    with Server("-k", worker, "--forwarded-allow-ips", "10.0.0.0/8") as server:
        status, body = environ_via(server, forwarded)
        env = json.loads(body)
        assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == ("127.0.0.1", "http")
        assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.5"


def test_protocol_setting_applies_to_binds_without_a_prefix() -> None:
    with Server("--protocol", "uwsgi", "-b", "http://127.0.0.1:0", "-b", "127.0.0.1:0") as server:
        with uwsgi_connect(server) as sock:
            request(sock, encode_packet(GET_VARS))
            assert read_response(sock)[0] == 200
        assert server.url.startswith("http://")  # the prefixed bind still speaks HTTP
