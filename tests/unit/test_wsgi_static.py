"""Static files: path safety, validators, ranges (pure), and the worker's file handling."""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from herder.protocol.errors import BadRequest
from herder.workers.static import StaticExchange
from herder.wsgi.static import (
    StaticMount,
    content_type,
    etag_for,
    find_mount,
    parse_mount,
    plan,
    relative_path,
)
from herder.wsgi.transport import FileRange

MTIME = 1_700_000_000 * 1_000_000_000
SIZE = 1000
ETAG = etag_for(SIZE, MTIME)


def env(**headers: str) -> dict[str, Any]:
    result: dict[str, Any] = {"REQUEST_METHOD": headers.pop("method", "GET")}
    result.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    return result


def test_mounts_match_whole_segments(tmp_path: Path) -> None:
    mount = parse_mount(f"/static/={tmp_path}")
    assert mount == StaticMount("/static", str(tmp_path.resolve()))
    assert find_mount([mount], "/static/a.css") == (mount, "/a.css")
    assert find_mount([mount], "/static") == (mount, "")
    assert find_mount([mount], "/staticx/a.css") is None


@pytest.mark.parametrize(("rest", "expected"), [("/a/b.txt", "a/b.txt"), ("//a/./b", "a/b")])
def test_relative_paths(rest: str, expected: str) -> None:
    assert relative_path(rest) == expected


@pytest.mark.parametrize("rest", ["/../etc/passwd", "/a/../../x", "/", "", "/a\\..\\b"])
def test_traversal_and_empty_paths_are_404(rest: str) -> None:
    assert relative_path(rest) is None


def test_nul_is_400() -> None:
    with pytest.raises(BadRequest):
        relative_path("/a\0b")


def test_plain_get_and_head() -> None:
    got = plan(env(), "a.css", SIZE, MTIME)
    assert (got.status, got.offset, got.count) == (200, 0, SIZE)
    headers = dict(got.headers)
    assert headers["Content-Type"] == "text/css; charset=utf-8"
    assert headers["ETag"] == ETAG and headers["Content-Length"] == "1000"
    assert headers["Last-Modified"] == formatdate(MTIME // 10**9, usegmt=True)
    assert plan(env(method="HEAD"), "a.css", SIZE, MTIME).count == 0
    assert plan(env(method="POST"), "a.css", SIZE, MTIME).status == 405


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"if_none_match": ETAG}, 304),
        ({"if_none_match": f'W/{ETAG}, "x"'}, 304),
        ({"if_none_match": "*"}, 304),
        ({"if_none_match": '"other"'}, 200),
        ({"if_modified_since": formatdate(MTIME // 10**9, usegmt=True)}, 304),
        ({"if_modified_since": formatdate(MTIME // 10**9 - 1, usegmt=True)}, 200),
        ({"if_modified_since": "not a date"}, 200),
        ({"if_none_match": '"other"', "if_modified_since": formatdate(2e9, usegmt=True)}, 200),
    ],
)
def test_conditional_requests(headers: dict[str, str], status: int) -> None:
    assert plan(env(**headers), "a.bin", SIZE, MTIME).status == status


@pytest.mark.parametrize(
    ("spec", "status", "offset", "count", "content_range"),
    [
        ("bytes=0-99", 206, 0, 100, "bytes 0-99/1000"),
        ("bytes=900-", 206, 900, 100, "bytes 900-999/1000"),
        ("bytes=-10", 206, 990, 10, "bytes 990-999/1000"),
        ("bytes=990-5000", 206, 990, 10, "bytes 990-999/1000"),
        ("bytes=1000-", 416, 0, 0, "bytes */1000"),
        ("bytes=-0", 416, 0, 0, "bytes */1000"),
        ("bytes=0-1,5-6", 200, 0, 1000, None),
        ("bytes=9-2", 200, 0, 1000, None),
        ("items=0-1", 200, 0, 1000, None),
    ],
)
def test_ranges(spec: str, status: int, offset: int, count: int, content_range: str | None) -> None:
    got = plan(env(range=spec), "a.bin", SIZE, MTIME)
    assert (got.status, got.offset, got.count) == (status, offset, count)
    assert dict(got.headers).get("Content-Range") == content_range


def test_if_range_mismatch_sends_everything() -> None:
    got = plan(env(range="bytes=0-9", if_range='"old"'), "a.bin", SIZE, MTIME)
    assert got.status == 200 and got.count == SIZE


def test_content_types() -> None:
    assert content_type("x.png") == "image/png"
    assert content_type("x.tar.gz") == "application/octet-stream"
    assert content_type("noext") == "application/octet-stream"


def serve(root: Path, rest: str, **headers: str) -> tuple[bytes, list[bytes | FileRange]]:
    mount = StaticMount("/s", os.path.realpath(root))
    exchange = StaticExchange(env(**headers), mount, rest, b"Date: x\r\n", True)
    pieces = list(exchange.output())
    head = pieces[0]
    assert isinstance(head, bytes)
    return head, pieces[1:]


def test_worker_sends_the_file_as_a_file_range(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello world")
    head, body = serve(tmp_path, "/a.txt", range="bytes=6-")
    assert head.startswith(b"HTTP/1.1 206 Partial Content\r\n")
    assert b"Content-Range: bytes 6-10/11\r\n" in head and b"Date: x\r\n" in head
    assert len(body) == 1 and isinstance(body[0], FileRange)
    assert (body[0].offset, body[0].count) == (6, 5) and body[0].file.closed


def test_worker_refuses_symlinks_leaving_the_root_and_directories(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (root / "link.txt").symlink_to(outside)
    for rest in ("/link.txt", "/dir", "/missing", "/../secret.txt"):
        head, body = serve(root, rest)
        assert head.startswith(b"HTTP/1.1 404 Not Found\r\n"), rest
        assert body == [b"Not Found\n"]
    head, body = serve(root, "/missing", method="HEAD")
    assert body == []
