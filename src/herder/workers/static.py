"""Static files (`--static-map`) answered by the worker itself, without calling the app.

`StaticExchange` stands where a `wsgi.Exchange` would: the worker sends what `output()`
yields (the head as bytes, the body as a `FileRange` that goes out with `os.sendfile`) and
`RequestCycle.settle` logs and counts it like any response. The decisions (which file, 304,
206, 416) are `herder.wsgi.static`'s; this module does the file system part: it resolves the
real path (a symlink leaving the mapped directory is a 404), opens and stats the file (only
regular files are served) and closes it when the output ends.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO

from herder.protocol.http11.response import REASONS, serialize_head
from herder.wsgi.static import StaticMount, StaticPlan, is_inside, plan, relative_path
from herder.wsgi.transport import FileRange

NOT_FOUND = StaticPlan(404, [("Content-Type", "text/plain"), ("Content-Length", "10")], 0, 0)
NOT_FOUND_BODY = b"Not Found\n"


class StaticExchange:
    """One static file response, shaped like `wsgi.Exchange` for the workers."""

    __slots__ = (
        "_file",
        "_head",
        "_plan",
        "_sends_body",
        "body_bytes",
        "keep_alive",
        "response_headers",
        "status",
    )

    def __init__(
        self, env: dict[str, Any], mount: StaticMount, rest: str, head: bytes, keep: bool
    ) -> None:
        self._file: BinaryIO | None = None
        self._sends_body = env.get("REQUEST_METHOD") != "HEAD"
        self._plan = self._resolve(env, mount, rest)
        status = self._plan.status
        self.status = f"{status} {REASONS.get(status, 'Unknown')}"
        self.response_headers = self._plan.headers
        self.keep_alive = keep
        self.body_bytes = 0
        connection = b"" if keep else b"Connection: close\r\n"
        self._head = serialize_head(self.status, self.response_headers, head + connection)

    def _resolve(self, env: dict[str, Any], mount: StaticMount, rest: str) -> StaticPlan:
        relative = relative_path(rest)
        if relative is None:
            return NOT_FOUND
        real = os.path.realpath(os.path.join(mount.root, relative))
        if not is_inside(mount.root, real):
            return NOT_FOUND
        try:
            file = open(real, "rb")  # noqa: SIM115 -- closed by close(), after the output
        except OSError:
            return NOT_FOUND
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            file.close()
            return NOT_FOUND
        self._file = file
        return plan(env, real, info.st_size, info.st_mtime_ns)

    def start(self) -> None:
        """Nothing to call: the answer was decided when the exchange was built."""

    def output(self) -> Iterator[bytes | FileRange]:
        try:
            yield self._head
            if self._plan is NOT_FOUND and self._sends_body:
                self.body_bytes = len(NOT_FOUND_BODY)
                yield NOT_FOUND_BODY
            elif self._plan.count and self._file is not None:
                self.body_bytes = self._plan.count
                yield FileRange(self._file, self._plan.offset, self._plan.count)
        finally:
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
