"""The `eventlet` worker: `GreenWorker` on eventlet (install `herder[eventlet]`).

Imported only in a worker process, after the fork; `patch()` monkey-patches the standard
library before the app loads. eventlet is in maintenance mode upstream (its authors advise
moving away from it); herder supports it for the apps that still depend on it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

# eventlet warns on import that it is deprecated; the user chose it with `-k eventlet`, so the
# warning would only repeat in every worker's log. Only that warning is silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated")
    import eventlet
    import eventlet.hubs

from herder.workers.green import GreenWorker, Pool


class _GreenPool:
    """eventlet's GreenPool under the names `GreenWorker` uses."""

    def __init__(self, size: int) -> None:
        self._pool: Any = eventlet.GreenPool(size)

    def spawn(self, func: Callable[..., Any], *args: Any) -> Any:
        return self._pool.spawn(func, *args)

    def free_count(self) -> int:
        return int(self._pool.free())


class EventletWorker(GreenWorker):
    """A green thread per connection."""

    def patch(self) -> None:
        eventlet.monkey_patch()

    def make_pool(self, size: int) -> Pool:
        return _GreenPool(size)

    def sleep(self, seconds: float) -> None:
        eventlet.sleep(seconds)

    def timeout(self, seconds: float, exc: BaseException) -> AbstractContextManager[object]:
        scope: Any = eventlet.Timeout(seconds, exc)
        return scope  # type: ignore[no-any-return]

    def current(self) -> object:
        return eventlet.getcurrent()

    def wait_fd(self, fd: int, read: bool, timeout: float | None) -> None:
        eventlet.hubs.trampoline(
            fd, read=read, write=not read, timeout=timeout, timeout_exc=TimeoutError
        )
