"""`--http-parser`: a real server with the httptools head parser loaded in its workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.harness import Server, get, read_response, worker_pids

pytestmark = pytest.mark.integration


def loaded_in_workers(srv: Server, library: str) -> bool:
    """Whether every worker process has `library` mapped (read from /proc, no hooks)."""
    pids = worker_pids(srv)
    assert pids
    return all(library in Path(f"/proc/{pid}/maps").read_text() for pid in pids)


def test_httptools_parses_heads_in_the_workers() -> None:
    with Server("--http-parser", "httptools", "-w", "1") as srv:
        status, _, body = get(srv, "/environ?a=1", "X-Test: yes\r\nX_Dropped: 1\r\n")
        assert status == 200
        environ = json.loads(body)
        assert environ["QUERY_STRING"] == "a=1" and environ["HTTP_X_TEST"] == "yes"
        assert "HTTP_X_DROPPED" not in environ  # header_map=drop, as with the Python parser
        assert loaded_in_workers(srv, "httptools/parser/parser")
        with srv.connect() as sock:  # llhttp takes the two spaces; herder's rules do not
            sock.sendall(b"GET  / HTTP/1.1\r\nHost: test\r\n\r\n")
            assert read_response(sock)[0] == 400


def test_the_default_parser_never_loads_httptools() -> None:
    with Server("-w", "1") as srv:
        assert get(srv)[0] == 200
        assert not loaded_in_workers(srv, "httptools")
