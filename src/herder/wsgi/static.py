"""Static files served without the application: the pure part (paths, validators, ranges).

`--static-map /static=DIR` maps a URL prefix to a directory. This module decides, from the
environ and a file's size and modification time, what to answer; the worker
(`herder.workers.static`) opens the file and sends it.

Rules:
- a prefix matches whole segments: `/static` serves `/static/a.css`, never `/staticx`;
- the path is PATH_INFO (already percent-decoded, so `%2e%2e` arrives as `..`): a NUL is a 400;
  a `..` segment is refused with 404 (nothing outside DIR is named, not even to say "no");
  symlinks that leave DIR are refused by the worker after resolving the real path;
- validators (RFC 9110 §8.8): a strong ETag from the modification time and size, and
  Last-Modified; `If-None-Match` (weak comparison, `*`) wins over `If-Modified-Since`
  (RFC 9110 §13.2.2); a match on GET/HEAD is a 304 without a body;
- `Range: bytes=` with one range (RFC 9110 §14.2): 206 with Content-Range, or 416 with
  `Content-Range: bytes */SIZE` when unsatisfiable; several ranges or a malformed header are
  ignored (the whole file, 200), which the RFC allows; `If-Range` must match the ETag or the
  date exactly, else the whole file;
- only GET and HEAD: other methods get 405 with `Allow: GET, HEAD`.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from herder.protocol.errors import BadRequest

DEFAULT_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class StaticMount:
    """One `--static-map` entry: URL prefix (no trailing slash) and directory (real path)."""

    prefix: str
    root: str


@dataclass(frozen=True, slots=True)
class StaticPlan:
    """What to answer for one file."""

    status: int  # 200, 206, 304, 405 or 416
    headers: list[tuple[str, str]]
    offset: int  # first body byte of the file to send
    count: int  # body bytes to send (0 for HEAD, 304, 405, 416)


def parse_mount(spelled: str) -> StaticMount:
    """`/static=DIR` -> a mount; raises ValueError naming what is wrong."""
    prefix, equals, directory = spelled.partition("=")
    prefix = prefix.rstrip("/")
    if not equals or not prefix.startswith("/") or not directory:
        raise ValueError(f"expected /PREFIX=DIRECTORY, got {spelled!r}")
    if not os.path.isdir(directory):
        raise ValueError(f"{directory!r} is not a directory")
    return StaticMount(prefix, os.path.realpath(directory))


def find_mount(mounts: list[StaticMount], path: str) -> tuple[StaticMount, str] | None:
    """The mount serving `path` and the path relative to its root, or None."""
    for mount in mounts:
        if path.startswith(mount.prefix):
            rest = path[len(mount.prefix) :]
            if not rest or rest[0] == "/":
                return mount, rest
    return None


def relative_path(rest: str) -> str | None:
    """The file's path under the root as safe segments, or None when it must be a 404;
    raises `BadRequest` for a NUL."""
    if "\0" in rest:
        raise BadRequest("NUL in a static file path")
    segments = [segment for segment in rest.split("/") if segment not in ("", ".")]
    if not segments or ".." in segments or any("\\" in s for s in segments):
        return None
    return os.path.join(*segments)


def is_inside(root: str, real_path: str) -> bool:
    """Whether a resolved path is within `root` (symlinks leaving it are not)."""
    return real_path.startswith(root.rstrip(os.sep) + os.sep)


def etag_for(size: int, mtime_ns: int) -> str:
    return f'"{mtime_ns:x}-{size:x}"'


def plan(env: dict[str, Any], file_name: str, size: int, mtime_ns: int) -> StaticPlan:
    """The answer for a regular file of `size` bytes last modified at `mtime_ns`."""
    method = env.get("REQUEST_METHOD", "GET")
    if method not in ("GET", "HEAD"):
        return StaticPlan(405, [("Allow", "GET, HEAD"), ("Content-Length", "0")], 0, 0)
    etag = etag_for(size, mtime_ns)
    modified = formatdate(mtime_ns // 1_000_000_000, usegmt=True)
    headers = [("ETag", etag), ("Last-Modified", modified), ("Accept-Ranges", "bytes")]
    if is_not_modified(env, etag, mtime_ns):
        return StaticPlan(304, headers, 0, 0)
    headers.append(("Content-Type", content_type(file_name)))
    wanted = _wanted_range(env, etag, modified, size)
    if isinstance(wanted, str):  # unsatisfiable
        headers += [("Content-Range", f"bytes */{size}"), ("Content-Length", "0")]
        return StaticPlan(416, headers, 0, 0)
    status, (start, end) = (200, (0, size)) if wanted is None else (206, wanted)
    if status == 206:
        headers.append(("Content-Range", f"bytes {start}-{end - 1}/{size}"))
    headers.append(("Content-Length", str(end - start)))
    return StaticPlan(status, headers, start, 0 if method == "HEAD" else end - start)


def content_type(file_name: str) -> str:
    guessed, encoding = mimetypes.guess_type(file_name)
    if guessed is None or encoding is not None:
        return DEFAULT_TYPE  # a .gz served as such, not as its content's type
    if guessed.startswith("text/") or guessed in ("application/javascript", "application/json"):
        return guessed + "; charset=utf-8"
    return guessed


def is_not_modified(env: dict[str, Any], etag: str, mtime_ns: int) -> bool:
    """RFC 9110 §13.1.2 and §13.1.3, If-None-Match evaluated first."""
    none_match = env.get("HTTP_IF_NONE_MATCH")
    if none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in none_match.split(",")]
        return "*" in tags or etag in tags
    since = env.get("HTTP_IF_MODIFIED_SINCE")
    if since is None:
        return False
    try:
        return mtime_ns // 1_000_000_000 <= int(parsedate_to_datetime(since).timestamp())
    except (TypeError, ValueError, IndexError):
        return False


def _wanted_range(
    env: dict[str, Any], etag: str, modified: str, size: int
) -> tuple[int, int] | str | None:
    """(start, end exclusive), "unsatisfiable", or None for the whole file."""
    header = env.get("HTTP_RANGE")
    if not header or env.get("HTTP_IF_RANGE", etag) not in (etag, modified):
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first + last).isdigit() or not (first + last).isascii():
        return None
    if not first:  # a suffix: the last N bytes
        count = min(int(last), size)
        return (size - count, size) if count else "unsatisfiable"
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if last and int(last) < start:
        return None
    return (start, end) if start < size else "unsatisfiable"
