"""A bounded load for the lifecycle tests and `bench/faults.py`.

A few client threads send `GET` requests for a bounded time (and count): half of them reuse
keep-alive connections, half open a connection per request. A request on a reused
connection that gets no response byte at all (the server closed the idle connection, as a
retiring worker does) is retried once on a new connection, as RFC 9112 section 9.3.1 allows
for idempotent requests and as real clients do; anything else is a failure.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.integration.harness import read_response

REQUEST = b"GET /pid HTTP/1.1\r\nHost: load\r\n\r\n"
CLOSE_REQUEST = b"GET /pid HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n"
MAX_REQUESTS = 200_000  # per client thread, a bound besides the time


@dataclass
class Figures:
    total: int = 0
    failed: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)
    bodies: set[bytes] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ok: bool, body: bytes = b"", error: str = "", retried: bool = False) -> None:
        with self.lock:
            self.total += 1
            self.retried += retried
            if ok:
                self.bodies.add(body)
            else:
                self.failed += 1
                if len(self.errors) < 20:
                    self.errors.append(error)


class Load:
    """`clients` threads hitting `connect()` until `stop()` or `seconds` pass."""

    def __init__(
        self, connect: Callable[[], socket.socket], clients: int = 4, seconds: float = 60
    ) -> None:
        self.connect = connect
        self.figures = Figures()
        self.deadline = time.monotonic() + seconds
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(i % 2 == 0,), daemon=True)
            for i in range(clients)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Figures:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)
        return self.figures

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self.deadline

    def _client(self, keep_alive: bool) -> None:
        sock: socket.socket | None = None
        for _ in range(MAX_REQUESTS):
            if not self._running():
                break
            if not keep_alive:
                self._one_shot()
                continue
            sock = self._keep_alive(sock)
        if sock is not None:
            sock.close()

    def _one_shot(self) -> None:
        try:
            with self.connect() as sock:
                sock.sendall(CLOSE_REQUEST)
                status, _, body = read_response(sock)
            self.figures.add(status == 200, body, f"status {status}")
        except OSError as exc:
            self.figures.add(False, error=f"close: {exc!r}")

    def _keep_alive(self, sock: socket.socket | None) -> socket.socket | None:
        reused = sock is not None
        try:
            if sock is None:
                sock = self.connect()
            sock.sendall(REQUEST)
            status, headers, body = read_response(sock)
        except (OSError, ConnectionError) as exc:
            if sock is not None:
                sock.close()
            if reused and _no_response(exc):
                return self._retry()
            self.figures.add(False, error=f"keep-alive: {exc!r}")
            return None
        self.figures.add(status == 200, body, f"status {status}")
        if headers.get("connection", "").lower() == "close":
            sock.close()
            return None
        return sock

    def _retry(self) -> socket.socket | None:
        try:
            sock = self.connect()
            sock.sendall(REQUEST)
            status, _, body = read_response(sock)
        except OSError as exc:
            self.figures.add(False, error=f"retry: {exc!r}", retried=True)
            return None
        self.figures.add(status == 200, body, f"status {status}", retried=True)
        return sock


def _no_response(exc: BaseException) -> bool:
    """The server closed a reused connection before sending any byte of a response."""
    text = str(exc)
    return isinstance(exc, ConnectionResetError | BrokenPipeError) or (
        isinstance(exc, ConnectionError) and "closed before a response head: b''" in text
    )
