"""herder behind a real nginx: uwsgi_pass (TCP and Unix socket) and proxy_pass (HTTP/1.1
with keep-alive), with the site configurations of `deploy/nginx/` (see `nginx.py`).

The client connects from 127.0.0.2, so REMOTE_ADDR equal to it proves the client's address
came through (nginx itself talks to herder from 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Server
from tests.integration.nginx import Nginx, fetch, render

pytestmark = pytest.mark.integration

MODES = ("uwsgi-tcp", "uwsgi-unix", "proxy")
TEN_MB = 10 * 1024 * 1024
STATIC_TEXT = b"static file body\n" * 64


@dataclass
class Stack:
    server: Server
    nginx: Nginx
    static: Path


def uwsgi_address(server: Server) -> str:
    found = server.wait_for(r"Listening at: uwsgi:(//)?(\S+) \(", 10)
    return found.group(2)


def start_stack(mode: str, tmp: Path, port: int = 0, sock: Path | None = None) -> Stack:
    static = tmp / "static"
    static.mkdir(exist_ok=True)
    (static / "a.txt").write_bytes(STATIC_TEXT)
    common = ("-w", "2", "--static-map", f"/files={static}")
    if mode == "proxy":
        server = Server(*common, "-b", f"127.0.0.1:{port}")
        address = server.url.removeprefix("http://")
        site = render("herder-proxy.conf", {"127.0.0.1:8000": address})
    else:
        uwsgi_bind = f"uwsgi:unix:{sock}" if mode == "uwsgi-unix" else f"uwsgi://127.0.0.1:{port}"
        server = Server(*common, "-b", "127.0.0.1:0", "-b", uwsgi_bind)
        address = uwsgi_address(server)
        address = f"unix:{address.removeprefix('unix:')}" if mode == "uwsgi-unix" else address
        site = render("herder-uwsgi.conf", {"127.0.0.1:3031": address})
    try:
        return Stack(server, Nginx(tmp / "nginx", site), static)
    except BaseException:
        server.stop()
        raise


@pytest.fixture(scope="module", params=MODES)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(request.param)
    built = start_stack(request.param, tmp, sock=tmp / "herder.sock")
    try:
        yield built
    finally:
        built.nginx.stop()
        built.server.stop()


def environ_of(stack: Stack, path: str, headers: Any = None) -> dict[str, Any]:
    conn = stack.nginx.connection()
    try:
        status, _, body = fetch(conn, "GET", path, headers=headers)
    finally:
        conn.close()
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def test_get_with_percent_encoded_non_ascii_path_and_query(stack: Stack) -> None:
    env = environ_of(stack, "/environ/caf%C3%A9%20x?a=1&b=%C3%A9&c")
    assert env["PATH_INFO"] == "/environ/caf\u00c3\u00a9 x"  # UTF-8 octets shown as latin-1
    assert env["QUERY_STRING"] == "a=1&b=%C3%A9&c"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["REMOTE_ADDR"] == "127.0.0.2"  # the client's, not nginx's


def test_repeated_headers_are_joined(stack: Stack) -> None:
    env = environ_of(stack, "/environ", [("X-Multi", "a"), ("X-Multi", "b")])
    assert env["HTTP_X_MULTI"] == "a,b"


def test_post_and_ten_megabyte_upload_and_response(stack: Stack) -> None:
    payload = bytes(range(256)) * (TEN_MB // 256)
    conn = stack.nginx.connection()
    try:
        status, _, body = fetch(conn, "POST", "/echo", b"small body")
        assert (status, body) == (200, b"small body")
        status, _, body = fetch(conn, "POST", "/echo", payload)
        assert status == 200
        assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()
    finally:
        conn.close()


def test_chunked_upload(stack: Stack) -> None:
    payload = b"chunk of upload " * 40000
    conn = stack.nginx.connection()
    try:
        status, _, body = fetch(conn, "POST", "/echo", payload, chunked=True)
    finally:
        conn.close()
    assert status == 200 and body == payload


def test_large_streamed_and_head_responses(stack: Stack) -> None:
    conn = stack.nginx.connection()
    try:
        status, _, body = fetch(conn, "GET", f"/big?size={TEN_MB}")
        assert status == 200 and len(body) == TEN_MB and body.count(b"x") == TEN_MB
        status, _, body = fetch(conn, "GET", "/stream")
        assert (status, body) == (200, b"".join(f"part {i}\n".encode() for i in range(5)))
        status, headers, body = fetch(conn, "HEAD", "/")
        assert (status, body, headers["Content-Length"]) == (200, b"", "13")
    finally:
        conn.close()


def test_static_files_with_304_and_range(stack: Stack) -> None:
    conn = stack.nginx.connection()
    try:
        status, headers, body = fetch(conn, "GET", "/files/a.txt")
        assert (status, body) == (200, STATIC_TEXT)
        assert headers["Content-Type"].startswith("text/plain")
        status, _, body = fetch(
            conn, "GET", "/files/a.txt", headers={"If-None-Match": headers["ETag"]}
        )
        assert (status, body) == (304, b"")
        status, _, body = fetch(conn, "GET", "/files/a.txt", headers={"Range": "bytes=0-5"})
        assert (status, body) == (206, STATIC_TEXT[:6])
    finally:
        conn.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["uwsgi-tcp", "proxy"])
def test_stopped_upstream_gives_502_and_recovers(mode: str, tmp_path: Path) -> None:
    from tests.integration.nginx import free_port

    port = free_port()
    built = start_stack(mode, tmp_path, port=port)
    try:
        built.server.stop()
        conn = built.nginx.connection()
        try:
            status, _, _ = fetch(conn, "GET", "/")
        finally:
            conn.close()
        assert status == 502
        built.server = start_stack_server_again(mode, port, built.static)
        deadline = time.monotonic() + 20
        while True:
            conn = built.nginx.connection()
            try:
                status, _, body = fetch(conn, "GET", "/")
            finally:
                conn.close()
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # nginx may still hold the upstream as failed for a moment
        assert (status, body) == (200, b"Hello, World!")
    finally:
        built.nginx.stop()
        built.server.stop()


def start_stack_server_again(mode: str, port: int, static: Path) -> Server:
    common = ("-w", "2", "--static-map", f"/files={static}")
    if mode == "proxy":
        return Server(*common, "-b", f"127.0.0.1:{port}")
    return Server(*common, "-b", "127.0.0.1:0", "-b", f"uwsgi://127.0.0.1:{port}")


def test_nginx_serves_static_and_passes_the_rest(tmp_path: Path) -> None:
    static = tmp_path / "assets"
    static.mkdir()
    (static / "app.css").write_text("body {}\n")
    with Server("-w", "1", "-b", "127.0.0.1:0", "-b", "uwsgi://127.0.0.1:0") as server:
        site = render(
            "herder-static.conf",
            {"127.0.0.1:3031": uwsgi_address(server), "/srv/app/static/": f"{static}/"},
        )
        with Nginx(tmp_path / "nginx", site) as nginx:
            conn = nginx.connection()
            try:
                assert fetch(conn, "GET", "/static/app.css")[::2] == (200, b"body {}\n")
                assert fetch(conn, "GET", "/")[::2] == (200, b"Hello, World!")
            finally:
                conn.close()
    assert "GET /static" not in server.output


def node_of(nginx: Nginx) -> str:
    conn = nginx.connection(timeout=10)
    try:
        status, _, body = fetch(conn, "GET", "/osenv?HERDER_NODE")
    finally:
        conn.close()
    assert status == 200, body
    return body.decode()


@pytest.mark.timeout(120)
def test_two_nodes_share_requests_and_a_stopped_one_loses_none(tmp_path: Path) -> None:
    from tests.integration.nginx import free_port

    ports = [free_port(), free_port()]
    nodes = [
        Server("-w", "1", "-b", f"127.0.0.1:{port}", env={"HERDER_NODE": name})
        for port, name in zip(ports, "ab", strict=True)
    ]
    try:
        site = render(
            "herder-upstream.conf",
            {"127.0.0.1:8001": f"127.0.0.1:{ports[0]}", "127.0.0.1:8002": f"127.0.0.1:{ports[1]}"},
        )
        with Nginx(tmp_path / "nginx", site) as nginx:
            seen = {node_of(nginx) for _ in range(20)}
            assert seen == {"a", "b"}
            results: list[str] = []
            done = threading.Event()

            def load() -> None:
                deadline = time.monotonic() + 30
                try:
                    for _ in range(300):
                        if time.monotonic() > deadline:
                            break
                        results.append(node_of(nginx))
                finally:
                    done.set()

            worker = threading.Thread(target=load)
            worker.start()
            deadline = time.monotonic() + 20
            while len(results) < 50 and time.monotonic() < deadline and not done.is_set():
                time.sleep(0.01)
            nodes[0].stop()  # SIGTERM under load
            worker.join(60)
            assert not worker.is_alive()
            assert len(results) == 300  # every request answered (node_of asserts 200)
            tail = results[results.index("a") if "a" in results else 0 :]
            assert re.fullmatch(r"[ab]*b+", "".join(tail))  # only b once a is gone
    finally:
        for node in nodes:
            node.stop()
