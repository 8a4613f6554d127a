"""HTTP/1.1 behaviour of both worker classes, over real sockets."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.integration.harness import Server, get, is_closed, read_response, unread

pytestmark = pytest.mark.integration


def test_hello(server: Server) -> None:
    status, headers, body = get(server)
    assert (status, body) == (200, b"Hello, World!")
    assert headers["server"].startswith("herder/")
    assert headers["date"].endswith(" GMT")


def test_keep_alive_depends_on_the_worker(server: Server, worker_class: str) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, _ = read_response(sock)
        assert status == 200
        if worker_class == "sync":
            assert headers["connection"] == "close"
            assert is_closed(sock)
            return
        assert "connection" not in headers
        sock.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0] == 200


def test_pipelined_requests_answered_in_order(server: Server, worker_class: str) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst"
            b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        assert read_response(sock)[2] == b"first"
        if worker_class == "sync":
            assert is_closed(sock)
            return
        assert read_response(sock)[2] == b"".join(f"part {i}\n".encode() for i in range(5))
        assert read_response(sock)[2] == b"Hello, World!"
        assert is_closed(sock)


def test_head_sends_no_body(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        status, headers, _ = read_response(sock, head_only=True)
        assert status == 200 and headers["content-length"] == "13"
        assert unread(sock) == b""
        assert sock.recv(100) == b""  # no body follows, only the close


def test_chunked_upload_and_streamed_response(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
        )
        assert read_response(sock)[2] == b"hello world"
    _status, headers, body = get(server, "/stream")
    assert headers["transfer-encoding"] == "chunked"
    assert body.count(b"part") == 5


def test_expect_100_continue_sent_when_the_app_reads(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"data")
        assert read_response(sock)[2] == b"data"


def test_http10_closes(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        status, _, body = read_response(sock)
        assert (status, body) == (200, b"Hello, World!")
        assert is_closed(sock)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: " + b"v" * 9000 + b"\r\n\r\n", 431),
    ],
)
def test_bad_requests_rejected_without_the_app(
    worker_class: str, raw: bytes, status: int, tmp_path: object
) -> None:
    calls = f"{tmp_path}/calls"
    with Server("-k", worker_class, env={"HERDER_TEST_CALLS": calls}) as srv:
        open(calls, "w").close()
        with srv.connect() as sock:
            sock.sendall(raw)
            got, headers, _ = read_response(sock)
            assert got == status
            assert headers["connection"] == "close"
            assert is_closed(sock)
        with open(calls) as f:
            assert f.read() == ""  # the app was never called


def test_app_error_before_response_is_500_and_worker_survives(server: Server) -> None:
    pid_before = get(server, "/pid", "")
    status, headers, body = get(server, "/boom")
    assert status == 500 and headers["connection"] == "close"
    assert b"Internal Server Error" in body
    server.wait_for("boom before the response", 5)
    assert get(server)[0] == 200
    assert pid_before[0] == 200


def test_app_error_after_response_started_closes(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /boom-late HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and b"first part" in data
        assert not data.endswith(b"0\r\n\r\n")  # no clean terminator: the client sees it broke


@pytest.mark.parametrize("path", ["/inject", "/hop"])
def test_bad_response_headers_become_500(server: Server, path: str) -> None:
    status, headers, _ = get(server, path)
    assert status == 500
    assert "set-cookie" not in headers


def test_write_callable_and_file_wrapper(server: Server, tmp_path: object) -> None:
    assert get(server, "/write")[2] == b"written and returned"
    path = f"{tmp_path}/payload"
    payload = bytes(range(256)) * 4096
    with open(path, "wb") as f:
        f.write(payload)
    status, headers, body = get(server, f"/file?p={path}")
    assert status == 200 and headers["content-length"] == str(len(payload))
    assert body == payload


def test_environ(server: Server, worker_class: str) -> None:
    _status, _, body = get(server, "/environ%2Fx/caf%C3%A9?a=1&b=%20")
    env = json.loads(body)
    assert env["PATH_INFO"] == "/environ/x/caf\u00c3\u00a9"
    assert env["RAW_URI"] == "/environ%2Fx/caf%C3%A9?a=1&b=%20"
    assert env["QUERY_STRING"] == "a=1&b=%20"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["wsgi.url_scheme"] == "http" and env["wsgi.input_terminated"] is True
    assert env["wsgi.multiprocess"] is True
    assert env["wsgi.multithread"] is (worker_class == "threaded")


def test_input_iteration(server: Server) -> None:
    with server.connect() as sock:
        body = b"one\ntwo\nthree"
        sock.sendall(
            b"POST /input-lines HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert read_response(sock)[2] == b"3 one|two|three"


def test_validator_wrapped_app(worker_class: str) -> None:
    with Server("-k", worker_class, app="apps:validated") as srv:
        for path in ("/", "/stream", "/write", "/echo"):
            assert get(srv, path)[0] == 200, srv.output
        assert "Traceback" not in srv.output


def test_slow_head_gets_408(worker_class: str) -> None:
    with Server("-k", worker_class, "--header-timeout", "0.5") as srv, srv.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        started = time.monotonic()
        status, _, _ = read_response(sock)
        assert status == 408 and time.monotonic() - started < 5


def test_idle_keep_alive_connection_closed() -> None:
    with Server("-k", "event", "--keep-alive", "1") as srv, srv.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0] == 200
        started = time.monotonic()
        assert is_closed(sock, timeout=5)
        assert 0.5 < time.monotonic() - started < 4


def test_slow_reader_does_not_stall_the_event_worker() -> None:
    with Server("-k", "event", "-w", "1") as srv, srv.connect() as slow:
        slow.sendall(b"GET /big?n=33554432 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)  # let the worker fill the socket buffers and park the response
        started = time.monotonic()
        assert get(srv)[0] == 200
        assert time.monotonic() - started < 2
        received = 0
        slow.settimeout(10)
        while received < 33554432:
            chunk = slow.recv(1 << 20)
            assert chunk
            received += len(chunk)


def test_worker_connections_limit(tmp_path: object) -> None:
    with Server("-k", "event", "-w", "1", "--worker-connections", "2") as srv:
        held = [srv.connect(), srv.connect()]
        third = srv.connect()
        try:
            _hold_and_wait(held, third)
        finally:
            for sock in (*held, third):
                sock.close()


def _hold_and_wait(held: list[socket.socket], third: socket.socket) -> None:
    for sock in held:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0] == 200
    third.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    third.settimeout(0.5)
    with pytest.raises(TimeoutError):
        third.recv(1)  # waits in the backlog: the worker is at its limit
    held[0].close()
    third.settimeout(5)
    assert read_response(third)[0] == 200


def test_unix_socket_bind(tmp_path: object, worker_class: str) -> None:
    path = f"{tmp_path}/herder.sock"
    with Server("-k", worker_class, "-b", f"unix:{path}") as srv:
        status, _, body = get(srv, "/environ")
        assert status == 200
        assert json.loads(body)["SERVER_NAME"] == "test"


def test_ipv6_bind(worker_class: str) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 here")
    with Server("-k", worker_class, "-b", "[::1]:0") as srv:
        assert srv.url.startswith("http://[::1]:")
        assert get(srv)[0] == 200


def test_unread_body_is_drained_before_the_next_request() -> None:
    with Server("-k", "event") as srv, srv.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
        assert read_response(sock)[2] == b"Hello, World!"
        sock.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0] == 200


def test_large_unread_body_closes_the_connection() -> None:
    with Server("-k", "event") as srv, srv.connect() as sock:
        size = 4 << 20
        sock.sendall(f"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode())
        sock.sendall(b"z" * (2 << 20))
        assert read_response(sock)[0] == 200
        assert is_closed(sock, timeout=10)


def test_client_disconnect_closes_the_app_iterable(worker_class: str, tmp_path: object) -> None:
    calls = f"{tmp_path}/calls"
    with Server("-k", worker_class, env={"HERDER_TEST_CALLS": calls}) as srv:
        with srv.connect() as sock:
            sock.sendall(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + 10
        while "closed /endless" not in Path(calls).read_text():
            assert time.monotonic() < deadline, srv.output
            time.sleep(0.05)
        assert get(srv)[0] == 200  # the worker goes on serving
