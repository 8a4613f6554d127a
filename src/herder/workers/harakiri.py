"""Per-request deadlines (`--harakiri`): interrupt a request that runs too long.

Three layers, from cheapest to bluntest:

1. `AlarmDeadline` (single-threaded workers, the request runs in the main thread): an
   interval timer (`setitimer(ITIMER_REAL)`) armed when a request starts. Its SIGALRM
   handler raises `HarakiriTimeout` inside the application when the app is running Python
   code or waiting in an interruptible call (`time.sleep`, a socket read). Outside the
   application (the worker writing to a slow client) it only marks the request expired:
   slow writes are bounded by `--timeout` instead.
2. `Watchdog` (threaded and coroutine workers): a daemon thread that scans the worker's
   in-flight requests and raises `HarakiriTimeout` asynchronously in the thread of one past
   its deadline (`PyThreadState_SetAsyncExc`), which takes effect at the next Python
   bytecode of that thread.
3. The master: it reads the start of the oldest in-flight request from the shared board and
   aborts the worker a grace period after the deadline, so a request stuck in C code is
   killed too. `faulthandler.dump_traceback_later` (a C thread, no GIL needed) logs where
   such a request is stuck one second after its deadline.

`HarakiriTimeout` derives from `BaseException` so that an application's `except Exception`
cannot swallow it.
"""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import FrameType

WATCHDOG_INTERVAL = 0.1  # seconds between scans of the in-flight requests


class HarakiriTimeout(BaseException):
    """A request ran past `--harakiri` seconds and is being abandoned."""


class RequestToken:
    """One request in flight, as `Worker.request_started` returns it. A plain slotted
    class: one is made per request, and a dataclass with a default factory costs more."""

    __slots__ = ("expired", "method", "path", "started", "thread_id")

    def __init__(
        self, method: str, path: str, started: float, thread_id: int | None = None
    ) -> None:
        self.method = method
        self.path = path
        self.started = started
        self.thread_id = threading.get_ident() if thread_id is None else thread_id
        self.expired = False  # the deadline passed (and the request was interrupted or marked)

    def __repr__(self) -> str:
        return f"RequestToken({self.method} {self.path}, started={self.started})"


class AlarmDeadline:
    """The deadline of the one request a single-threaded worker runs, via SIGALRM."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.token: RequestToken | None = None
        self._inside = 0  # > 0 while application code runs

    def install(self) -> None:
        signal.signal(signal.SIGALRM, self._on_alarm)

    def arm(self, token: RequestToken) -> None:
        self.token = token
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.token = None

    @contextmanager
    def inside(self) -> Iterator[None]:
        """Mark application code: only there does the alarm raise."""
        self._inside += 1
        try:
            if self.token is not None and self.token.expired:
                raise HarakiriTimeout(self._message(self.token))
            yield
        finally:
            self._inside -= 1

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        token = self.token
        if token is None:
            return
        token.expired = True
        if self._inside:
            raise HarakiriTimeout(self._message(token))

    def _message(self, token: RequestToken) -> str:
        return f"{token.method} {token.path} ran past the {self.seconds:g} s harakiri deadline"


class GreenDeadline:
    """Deadlines for coroutine workers: many requests share one thread, so each request's
    application code runs under the coroutine library's own timeout, which raises
    `HarakiriTimeout` in that coroutine only (a SIGALRM would hit whichever one runs).

    `timeout(seconds, exc)` is the library's timeout as a context manager
    (`gevent.Timeout`, `eventlet.Timeout`); `current()` names the running coroutine.
    """

    def __init__(
        self,
        seconds: float,
        timeout: Callable[[float, BaseException], AbstractContextManager[object]],
        current: Callable[[], object],
    ) -> None:
        self.seconds = seconds
        self._timeout = timeout
        self._current = current
        self._tokens: dict[object, RequestToken] = {}

    def install(self) -> None:
        """Nothing process-wide to set up."""

    def arm(self, token: RequestToken) -> None:
        self._tokens[self._current()] = token

    def disarm(self) -> None:
        self._tokens.pop(self._current(), None)

    @contextmanager
    def inside(self) -> Iterator[None]:
        """Run application code under what is left of this coroutine's request deadline."""
        token = self._tokens.get(self._current())
        if token is None:
            yield
            return
        message = f"{token.method} {token.path} ran past the {self.seconds:g} s harakiri deadline"
        left = self.seconds - (time.monotonic() - token.started)
        if token.expired or left <= 0:
            token.expired = True
            raise HarakiriTimeout(message)
        try:
            with self._timeout(left, HarakiriTimeout(message)):
                yield
        except HarakiriTimeout:
            token.expired = True
            raise


class Watchdog:
    """A thread that interrupts requests past their deadline in other threads.

    `in_flight` returns the tokens of the requests running now (the worker keeps them);
    `on_expired` is called from the watchdog thread once per expired request, after the
    exception was scheduled in the request's thread.
    """

    def __init__(
        self,
        seconds: float,
        in_flight: Callable[[], list[RequestToken]],
        on_expired: Callable[[RequestToken], None],
    ) -> None:
        self.seconds = seconds
        self._in_flight = in_flight
        self._on_expired = on_expired
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="harakiri", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        while not self._stop.wait(WATCHDOG_INTERVAL):
            self.scan(time.monotonic())

    def scan(self, now: float) -> list[RequestToken]:
        """Interrupt every request past its deadline at `now`; returns them."""
        expired = [t for t in self._in_flight() if not t.expired and now - t.started > self.seconds]
        for token in expired:
            token.expired = True
            raise_in_thread(token.thread_id, HarakiriTimeout)
            self._on_expired(token)
        return expired


def raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> bool:
    """Schedule `exc_type` in thread `thread_id`; False when no such thread runs Python."""
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type)
    )
    if done > 1:  # more than one thread state touched: undo, as the C API asks
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        return False
    return bool(done)
