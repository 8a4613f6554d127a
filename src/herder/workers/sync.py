"""The `sync` worker: blocking accept, one connection at a time, one request per connection.

Every response carries `Connection: close` (Gunicorn's sync semantics): safe behind a
buffering proxy such as nginx, which holds slow clients so the worker never waits on them.
Waits are still bounded: the head must arrive within `--header-timeout`, and each later read or
write within `--timeout`.

Accept strategies: with `--accept-lock` only the lock holder waits on the listeners, and it
releases the lock as soon as it has taken one connection; with `--epoll-exclusive` the wait is
an epoll registered with EPOLLEXCLUSIVE; with `--reuse-port` the listeners are the worker's own.
"""

from __future__ import annotations

import socket
import time

from herder.protocol.base import RequestParser
from herder.protocol.errors import ProtocolError
from herder.protocol.events import NEED_DATA, RequestHead
from herder.workers.accepting import Accepted
from herder.workers.base import Worker
from herder.workers.cycle import RequestCycle
from herder.workers.transport import SocketTransport
from herder.workers.waiting import ListenerWaiter

POLL_INTERVAL_MS = 1000  # the heartbeat beats at least this often when idle
BACKLOG_DRAIN_LIMIT = 1024  # connections served from the backlog after a graceful stop


class SyncWorker(Worker):
    """Serve one connection at a time, closing it after the response."""

    def run(self) -> None:
        cycle = RequestCycle(self)
        waiter = ListenerWaiter(self.listeners, self.cfg.epoll_exclusive)
        wakeup = self.signal_pipe()
        waiter.add_wakeup(wakeup)
        try:
            while self.alive:
                self.notify()
                self._turn(cycle, waiter, wakeup)
            for index, (sock, peer) in self.drain_own_listeners():
                self._serve(cycle, sock, index, peer)
            if not self.cfg.reuse_port:
                self._drain_backlog(cycle)
        finally:
            waiter.close()

    def _turn(self, cycle: RequestCycle, waiter: ListenerWaiter, wakeup: int) -> None:
        """One wait on the listeners (as the lock holder, with --accept-lock)."""
        lock = self.accept_lock
        # With the lock, each of the two waits gets half the interval: one beat per interval.
        wait = POLL_INTERVAL_MS / 1000 / (1 if lock is None else 2)
        if lock is not None and not lock.acquire(wait):
            return
        taken: list[tuple[int, Accepted]] = []
        try:
            for fd in waiter.wait(wait):
                if fd == wakeup:
                    self.drain_signal_pipe()
                elif self.alive and not taken:
                    index = waiter.index(fd)
                    taken = [(index, accepted) for accepted in self.accept(index)]
        finally:
            if lock is not None:
                lock.release()
        for index, (sock, peer) in taken:
            self._serve(cycle, sock, index, peer)

    def _drain_backlog(self, cycle: RequestCycle) -> None:
        """Graceful stop: serve the connections already waiting in the shared backlog."""
        for index, listener in enumerate(self.listeners):
            for _ in range(BACKLOG_DRAIN_LIMIT):
                try:
                    sock, peer = listener.sock.accept()
                except OSError:
                    break
                self._serve(cycle, sock, index, peer if isinstance(peer, tuple) else None)

    def _serve(
        self, cycle: RequestCycle, sock: socket.socket, index: int, peer: tuple[str, int] | None
    ) -> None:
        sock.setblocking(False)
        transport = SocketTransport(sock, self.cfg.header_timeout)
        linger = True
        try:
            linger = self.handle(cycle, transport, index, peer)
        finally:
            transport.close(linger)

    def handle(
        self,
        cycle: RequestCycle,
        transport: SocketTransport,
        index: int,
        peer: tuple[str, int] | None,
    ) -> bool:
        """Serve the one request of this connection; True when the client may still be
        sending (a rejected request, an unread body), so closing must linger."""
        parser = cycle.new_parser(index, peer)
        try:
            head = self._read_head(parser, transport)
        except ProtocolError as error:
            transport.send_quietly(cycle.rejection(error, peer))
            return True
        except TimeoutError:
            if parser.has_partial_data:
                transport.send_quietly(cycle.timeout_response())
            return True
        except OSError:
            return False
        if head is None:
            return False
        transport.timeout = self.cfg.timeout or None
        flight, _ = cycle.respond(head, parser, transport, index, peer, False)
        if flight is None:
            return True
        return not flight.body.is_done or parser.buffered > 0

    def _read_head(self, parser: RequestParser, transport: SocketTransport) -> RequestHead | None:
        deadline = time.monotonic() + self.cfg.header_timeout
        while True:
            event = parser.next_event()
            if isinstance(event, RequestHead):
                return event
            if event is not NEED_DATA:
                raise ProtocolError("unexpected event before the request head")
            if time.monotonic() > deadline:
                raise TimeoutError("request head too slow")
            data = transport.receive()
            if not data and not parser.has_partial_data:
                return None
            parser.feed(data)
