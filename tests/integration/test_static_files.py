"""`--static-map` straight to herder (no nginx in front): files, validators, traversal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.harness import Server, read_response, request

pytestmark = pytest.mark.integration


def ask(server: Server, raw: str) -> tuple[int, dict[str, str], bytes]:
    with server.connect() as sock:
        request(sock, raw.encode("latin-1"))
        return read_response(sock)


@pytest.mark.parametrize("worker", ["sync", "event"])
def test_static_map_serves_and_refuses_traversal(worker: str, tmp_path: Path) -> None:
    root = tmp_path / "public"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_bytes(b"a" * 100_000)
    (tmp_path / "secret.txt").write_text("secret")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    with Server("-k", worker, "--static-map", f"/assets={root}") as server:
        status, headers, body = ask(server, "GET /assets/css/site.css HTTP/1.1\r\nHost: t\r\n\r\n")
        assert (status, len(body)) == (200, 100_000)
        assert headers["content-type"] == "text/css; charset=utf-8"
        etag = headers["etag"]
        status, _, body = ask(
            server, f"GET /assets/css/site.css HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"
        )
        assert (status, body) == (304, b"")
        status, headers, body = ask(
            server, "GET /assets/css/site.css HTTP/1.1\r\nHost: t\r\nRange: bytes=-10\r\n\r\n"
        )
        assert (status, headers["content-range"], body) == (
            206,
            "bytes 99990-99999/100000",
            b"a" * 10,
        )
        for path in ("/assets/%2e%2e/secret.txt", "/assets/../secret.txt", "/assets/escape.txt"):
            status, _, body = ask(server, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
            assert status == 404, path
            assert b"secret" not in body
        status, _, _ = ask(server, "GET /assets/a%00b HTTP/1.1\r\nHost: t\r\n\r\n")
        assert status == 400
        status, _, body = ask(server, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert (status, body) == (200, b"Hello, World!")  # the rest goes to the app
