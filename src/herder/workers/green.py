"""The base of the coroutine workers (`gevent`, `eventlet`): a coroutine per connection.

Rules:
- The coroutine library is imported and the standard library monkey-patched in the worker,
  after the fork, before the app is loaded (`patch()` runs first in `init_process`). The
  master never imports either library: builtin worker modules are resolved lazily by name.
- Each connection runs the blocking-style keep-alive loop below on its own coroutine; a
  `GreenTransport` waits for readiness through the library's hub, so a wait parks only that
  coroutine. At most `--worker-connections` coroutines serve at once: the acceptors wait for a
  free slot in the pool before accepting.
- The main coroutine is the heartbeat: it beats every `BEAT` seconds whatever the requests are
  waiting on, and notices the stop request.
- Accept strategies: the shared listener (optionally per-worker with `--reuse-port`);
  `--accept-lock` and `--epoll-exclusive` belong to the loop-based workers and are ignored
  here (the hub owns the epoll registration).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from herder.protocol.base import RequestParser
from herder.protocol.errors import ProtocolError
from herder.protocol.events import NEED_DATA, RequestHead
from herder.workers.base import Worker
from herder.workers.cycle import RequestCycle
from herder.workers.harakiri import GreenDeadline
from herder.workers.transport import SocketTransport

BEAT = 0.5  # seconds between heartbeats of the main coroutine
ACCEPT_WAIT = 1.0  # an acceptor re-checks `alive` at least this often

WaitFd = Callable[[int, bool, "float | None"], None]


class Pool(Protocol):
    def spawn(self, func: Callable[..., Any], *args: Any) -> Any: ...

    def free_count(self) -> int: ...


class GreenTransport(SocketTransport):
    """`SocketTransport` whose waits park the coroutine in the hub instead of `poll()`."""

    __slots__ = ("_wait_fd",)

    def __init__(self, sock: socket.socket, timeout: float | None, wait_fd: WaitFd) -> None:
        super().__init__(sock, timeout)
        self._wait_fd = wait_fd

    def wait(self, events: int) -> None:
        self._wait_fd(self.fd, not events & select.POLLOUT, self.timeout)


class GreenWorker(Worker):
    """Shared logic; subclasses bind it to one coroutine library."""

    # A SIGALRM would land in whichever coroutine runs: --harakiri uses the library's own
    # per-coroutine timeout instead (`GreenDeadline`).
    alarm_deadline = False

    def patch(self) -> None:
        raise NotImplementedError

    def make_pool(self, size: int) -> Pool:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def wait_fd(self, fd: int, read: bool, timeout: float | None) -> None:
        """Park until `fd` is ready; TimeoutError after `timeout` seconds."""
        raise NotImplementedError

    def timeout(self, seconds: float, exc: BaseException) -> AbstractContextManager[object]:
        """The library's timeout: raises `exc` in the current coroutine after `seconds`."""
        raise NotImplementedError

    def current(self) -> object:
        """The running coroutine."""
        raise NotImplementedError

    def init_process(self) -> None:
        self.patch()
        if self.cfg.harakiri:
            self.deadline = GreenDeadline(self.cfg.harakiri, self.timeout, self.current)
        super().init_process()

    def run(self) -> None:
        self.cycle = RequestCycle(self)
        self.pool = self.make_pool(self.cfg.worker_connections)
        acceptors = self.make_pool(len(self.listeners))
        for index in range(len(self.listeners)):
            acceptors.spawn(self._acceptor, index)
        while self.alive:
            self.notify()
            self.sleep(BEAT)
        for index, (sock, peer) in self.drain_own_listeners():
            self.pool.spawn(self._connection, sock, index, peer)
        self._finish_in_flight(time.monotonic() + self.cfg.graceful_timeout)

    def _finish_in_flight(self, deadline: float) -> None:
        while self.pool.free_count() < self.cfg.worker_connections:
            if time.monotonic() > deadline:
                self.log.warning("Graceful timeout: dropping unfinished connections")
                return
            self.notify()
            self.sleep(0.05)

    def _acceptor(self, index: int) -> None:
        fd = self.listeners[index].sock.fileno()
        while self.alive:
            try:
                self.wait_fd(fd, True, ACCEPT_WAIT)
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed by a stopping worker
            while self.alive and not self.pool.free_count():
                self.sleep(0.01)  # at --worker-connections: leave the backlog to others
            if self.alive:
                for sock, peer in self.accept(index):
                    self.pool.spawn(self._connection, sock, index, peer)

    # -- one connection, blocking-style on its coroutine ----------------------------------

    def _connection(self, sock: socket.socket, index: int, peer: tuple[str, int] | None) -> None:
        sock.setblocking(False)  # TCP_NODELAY comes from the listener (set_nodelay)
        transport = GreenTransport(sock, self.cfg.header_timeout, self.wait_fd)
        linger = True
        try:
            linger = self._serve(transport, index, peer)
        except Exception:
            self.log.exception("Error handling a connection")
        finally:
            transport.close(linger)

    def _serve(self, transport: GreenTransport, index: int, peer: tuple[str, int] | None) -> bool:
        """Serve requests until the connection ends; True when closing must linger."""
        parser = self.cycle.new_parser(index, peer)
        first_wait = self.cfg.header_timeout
        while True:
            try:
                head = self._read_head(parser, transport, first_wait)
            except ProtocolError as error:
                transport.send_quietly(self.cycle.rejection(error, peer))
                return True
            except TimeoutError:
                if parser.has_partial_data:
                    transport.send_quietly(self.cycle.timeout_response())
                return parser.has_partial_data
            except OSError:
                return False
            if head is None:
                return False
            if not self._respond(transport, parser, head, index, peer):
                return True  # the client may still be sending (an unread body)
            if not self.alive:
                return False
            first_wait = float(self.cfg.keepalive)

    def _respond(
        self,
        transport: GreenTransport,
        parser: RequestParser,
        head: RequestHead,
        index: int,
        peer: tuple[str, int] | None,
    ) -> bool:
        transport.timeout = self.cfg.timeout or None
        allowed = self.alive and self.cfg.keepalive > 0
        _, keep = self.cycle.respond(head, parser, transport, index, peer, allowed)
        return keep

    def _read_head(
        self, parser: RequestParser, transport: GreenTransport, first_wait: float
    ) -> RequestHead | None:
        """The next head: its first byte within `first_wait` seconds (the keep-alive wait
        after a request), the rest within `--header-timeout`."""
        deadline: float | None = None
        while True:
            event = parser.next_event()
            if isinstance(event, RequestHead):
                return event
            if event is not NEED_DATA:
                raise ProtocolError("unexpected event before the request head")
            now = time.monotonic()
            if deadline is None and parser.has_partial_data:
                deadline = now + self.cfg.header_timeout
            transport.timeout = first_wait if deadline is None else max(0.001, deadline - now)
            data = transport.receive()
            if not data and not parser.has_partial_data:
                return None
            parser.feed(data)
