"""The `event` worker: one epoll loop multiplexing many connections, the app run inline.

Idle keep-alive connections and connections whose head is still arriving cost nothing but a
slot in the loop; the app runs one request at a time in this thread. Output is written
without blocking: when a client reads slowly, its response waits in the loop (the app's
iterable is resumed when the socket is writable) while other connections are served, and
its pipelined requests are not read until the response is done (backpressure both ways).

Timeouts: a head must complete within `--header-timeout` (else 408), an idle keep-alive
connection is closed after `--keep-alive` seconds, a stalled write after `--timeout`.
At `--worker-connections` open connections the worker stops accepting until one closes.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from herder.protocol.base import RequestParser
from herder.protocol.errors import ProtocolError
from herder.protocol.events import NEED_DATA, RequestHead
from herder.workers.base import Worker
from herder.workers.cycle import InFlight, RequestCycle
from herder.workers.transport import SocketTransport
from herder.wsgi.transport import FileRange

TICK = 1.0  # seconds between heartbeats when idle
SWEEP_INTERVAL = 0.25  # seconds between deadline sweeps: a sweep walks every connection,
# so it must not run per wakeup under load (it would cost more than a small request)
ACCEPT_BATCH = 64  # connections taken from the backlog per wakeup

_READ = select.EPOLLIN | select.EPOLLRDHUP
_WRITE = select.EPOLLOUT


@dataclass(slots=True, eq=False)
class Connection:
    """One client connection and where it stands."""

    sock: socket.socket
    transport: SocketTransport
    parser: RequestParser
    listener: int
    peer: tuple[str, int] | None
    deadline: float
    eof: bool = False
    idle: bool = True  # between requests: no byte of the next head yet
    flight: InFlight | None = None
    output: Iterator[bytes | FileRange] | None = None
    pending: memoryview | None = None
    pending_file: FileRange | None = None
    file_sent: int = 0
    writing: bool = field(default=False)
    fresh: bool = True  # no request served yet: a graceful stop still serves its first one


class EventWorker(Worker):
    """Serve many connections from one epoll loop."""

    def run(self) -> None:
        self.cycle = RequestCycle(self)
        self.epoll = select.epoll()
        self.conns: dict[int, Connection] = {}
        self.listener_fds = {lst.sock.fileno(): i for i, lst in enumerate(self.listeners)}
        self.accepting = False
        self._resume_accepting()
        wakeup = self.signal_pipe()
        self.epoll.register(wakeup, select.EPOLLIN)
        try:
            self._loop(wakeup)
        finally:
            for conn in list(self.conns.values()):
                self._close(conn)
            self.epoll.close()

    def _loop(self, wakeup: int) -> None:
        graceful_deadline: float | None = None
        next_sweep = 0.0
        while True:
            if not self.alive and graceful_deadline is None:
                graceful_deadline = time.monotonic() + self.cfg.graceful_timeout
                self._begin_shutdown()
            if graceful_deadline is not None and (
                not self.conns or time.monotonic() > graceful_deadline
            ):
                return
            self.notify()
            for fd, mask in self.epoll.poll(TICK):
                if fd in self.listener_fds:
                    self._accept(self.listener_fds[fd])
                elif fd == wakeup:
                    self.drain_signal_pipe()
                else:
                    self._dispatch(fd, mask)
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + SWEEP_INTERVAL
                self._sweep(now)

    # -- accepting ------------------------------------------------------------------------

    def _accept(self, index: int) -> None:
        listener = self.listeners[index].sock
        for _ in range(ACCEPT_BATCH):
            if len(self.conns) >= self.cfg.worker_connections:
                self._pause_accepting()
                return
            try:
                sock, peer = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            self._add(sock, index, peer if isinstance(peer, tuple) else None)

    def _add(self, sock: socket.socket, index: int, peer: tuple[str, int] | None) -> None:
        sock.setblocking(False)
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = SocketTransport(sock, self.cfg.timeout or None)
        deadline = time.monotonic() + self.cfg.header_timeout
        conn = Connection(
            sock, transport, self.cycle.new_parser(index, peer), index, peer, deadline
        )
        self.conns[transport.fd] = conn
        self.epoll.register(transport.fd, _READ)

    def _pause_accepting(self) -> None:
        if self.accepting:
            self.accepting = False
            for fd in self.listener_fds:
                self.epoll.unregister(fd)

    def _resume_accepting(self) -> None:
        if not self.accepting and self.alive:
            self.accepting = True
            for fd in self.listener_fds:
                self.epoll.register(fd, select.EPOLLIN)

    def _begin_shutdown(self) -> None:
        """Graceful stop: take what waits in the listen backlog (its clients are served),
        stop accepting, close idle keep-alive connections."""
        for index in self.listener_fds.values():
            self._accept(index)
        self._pause_accepting()
        for conn in list(self.conns.values()):
            if conn.flight is None and not conn.parser.has_partial_data and not conn.fresh:
                self._close(conn)

    # -- connections ----------------------------------------------------------------------

    def _dispatch(self, fd: int, mask: int) -> None:
        conn = self.conns.get(fd)
        if conn is None:
            return
        try:
            if conn.writing:
                if self._pump(conn) and self._finish(conn):
                    self._advance(conn)
            else:
                self._read(conn)
        except OSError:
            self._close(conn)

    def _read(self, conn: Connection) -> None:
        data = conn.transport.try_receive()
        if data is None:
            return
        if not data:
            conn.eof = True
        elif conn.idle:
            conn.idle = False
            conn.deadline = time.monotonic() + self.cfg.header_timeout
        conn.parser.feed(data)
        self._advance(conn)

    def _advance(self, conn: Connection) -> None:
        """Serve the requests buffered on `conn` until it needs bytes or its output blocks."""
        while True:
            try:
                event = conn.parser.next_event()
            except ProtocolError as error:
                self._reject(conn, error)
                return
            if event is NEED_DATA:
                if conn.eof:
                    self._close(conn)
                elif conn.idle and conn.parser.has_partial_data:
                    conn.idle = False
                    conn.deadline = time.monotonic() + self.cfg.header_timeout
                return
            if not isinstance(event, RequestHead):
                self._close(conn)
                return
            if not self._start(conn, event):
                return

    def _start(self, conn: Connection, head: RequestHead) -> bool:
        """Run the app for `head` and write what it can; True when the response is done."""
        keep_alive_allowed = self.alive and self.cfg.keepalive > 0
        try:
            flight = self.cycle.begin(
                head, conn.parser, conn.transport, conn.listener, conn.peer, keep_alive_allowed
            )
        except ProtocolError as error:
            self._reject(conn, error)
            return False
        conn.flight, conn.output = flight, self.cycle.output(flight)
        if not self._pump(conn):
            conn.writing = True
            conn.deadline = time.monotonic() + (self.cfg.timeout or 1e9)
            self.epoll.modify(conn.transport.fd, _WRITE)
            return False
        return self._finish(conn)

    def _pump(self, conn: Connection) -> bool:
        """Write output until done (True) or the socket is full (False)."""
        assert conn.output is not None
        while True:
            if conn.pending is not None:
                sent = conn.transport.try_send(conn.pending)
                if sent < len(conn.pending):
                    conn.pending = conn.pending[sent:]
                    return False
                conn.pending = None
            elif conn.pending_file is not None:
                if not self._pump_file(conn, conn.pending_file):
                    return False
            else:
                piece = next(conn.output, None)
                if piece is None:
                    return True
                if isinstance(piece, FileRange):
                    conn.pending_file, conn.file_sent = piece, 0
                else:
                    conn.pending = memoryview(piece)

    def _pump_file(self, conn: Connection, piece: FileRange) -> bool:
        while conn.file_sent < piece.count:
            sent = conn.transport.try_sendfile(
                piece.file.fileno(), piece.offset + conn.file_sent, piece.count - conn.file_sent
            )
            if sent is None:
                return False
            if sent == 0:  # the file shrank: the promised Content-Length cannot be met
                raise ConnectionAbortedError("file shorter than its Content-Length")
            conn.file_sent += sent
        conn.pending_file = None
        return True

    def _finish(self, conn: Connection) -> bool:
        """Settle the finished request; True when the connection stays for the next one."""
        assert conn.flight is not None
        flight, conn.flight, conn.output = conn.flight, None, None
        keep = self.cycle.settle(flight)
        if conn.writing:
            conn.writing = False
            if keep:
                self.epoll.modify(conn.transport.fd, _READ)
        if not keep:
            self._close(conn)
            return False
        conn.idle, conn.fresh = True, False
        conn.deadline = time.monotonic() + self.cfg.keepalive
        return True

    def _reject(self, conn: Connection, error: ProtocolError) -> None:
        response = self.cycle.rejection(error, conn.peer)
        if response is not None:
            with contextlib.suppress(OSError):
                conn.transport.send(response)
        self._close(conn, linger=True)

    def _sweep(self, now: float) -> None:
        """Close connections past their deadline: slow heads get a 408 first."""
        for conn in list(self.conns.values()):
            if now < conn.deadline or (conn.flight is not None and not conn.writing):
                continue
            if not conn.idle and not conn.writing:
                with contextlib.suppress(OSError):
                    conn.transport.try_send(self.cycle.timeout_response())
            self._close(conn)

    def _close(self, conn: Connection, linger: bool = False) -> None:
        fd = conn.transport.fd
        if self.conns.pop(fd, None) is None:
            return
        if conn.flight is not None:
            conn.flight.exchange.close()
            conn.flight = None
        with contextlib.suppress(OSError, ValueError):
            self.epoll.unregister(fd)
        conn.transport.close(linger)
        if not self.accepting and len(self.conns) < self.cfg.worker_connections:
            self._resume_accepting()
