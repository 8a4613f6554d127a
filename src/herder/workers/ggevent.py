"""The `gevent` worker: `GreenWorker` on gevent (install `herder[gevent]`).

This module is imported only in a worker process, after the fork (the registry resolves
builtin names lazily); `patch()` monkey-patches the standard library before the app loads, so
the app's blocking calls (sockets, `time.sleep`, DNS) yield to other connections.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import gevent
import gevent.pool
from gevent import monkey
from gevent.socket import wait_read, wait_write

from herder.workers.green import GreenWorker, Pool


class GeventWorker(GreenWorker):
    """A greenlet per connection."""

    def patch(self) -> None:
        monkey.patch_all()

    def make_pool(self, size: int) -> Pool:
        pool: Any = gevent.pool.Pool(size)
        return pool  # type: ignore[no-any-return]

    def sleep(self, seconds: float) -> None:
        gevent.sleep(seconds)

    def timeout(self, seconds: float, exc: BaseException) -> AbstractContextManager[object]:
        scope: Any = gevent.Timeout(seconds, exc)
        return scope  # type: ignore[no-any-return]

    def current(self) -> object:
        return gevent.getcurrent()

    def wait_fd(self, fd: int, read: bool, timeout: float | None) -> None:
        # gevent raises socket.timeout, which is TimeoutError.
        (wait_read if read else wait_write)(fd, timeout=timeout)
