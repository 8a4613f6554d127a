"""Real framework apps run unchanged."""

from __future__ import annotations

import json

import pytest

from tests.integration.harness import Server, get, read_response

pytestmark = pytest.mark.integration


def test_flask(worker_class: str) -> None:
    with Server("-k", worker_class, app="apps.flask_app:app") as srv:
        assert get(srv)[2] == b"flask ok"
        assert json.loads(get(srv, "/q?a=%C3%A9")[2]) == {"a": "\u00e9", "root": ""}
        with srv.connect() as sock:
            body = b"name=herder+server"
            sock.sendall(
                b"POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            assert json.loads(read_response(sock)[2]) == {"name": "herder server", "path": "/form"}


def test_flask_under_script_name(worker_class: str) -> None:
    with Server("-k", worker_class, "--script-name", "/app", app="apps.flask_app:app") as srv:
        assert json.loads(get(srv, "/app/q?a=1")[2]) == {"a": "1", "root": "/app"}


def test_django(worker_class: str) -> None:
    with Server("-k", worker_class, app="apps.django_app:application") as srv:
        assert get(srv)[2] == b"django ok"
        with srv.connect() as sock:
            body = b"x" * 100_000
            sock.sendall(
                b"POST /upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                b"Content-Type: application/octet-stream\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            assert json.loads(read_response(sock)[2]) == {"size": 100_000, "method": "POST"}
