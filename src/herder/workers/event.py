"""The `event` worker: one epoll loop multiplexing many connections, the app run inline.

Idle keep-alive connections and connections whose head is still arriving cost nothing but a
slot in the loop; the app runs one request at a time in this thread. Output is written
without blocking: when a client reads slowly, its response waits in the loop (the app's
iterable is resumed when the socket is writable) while other connections are served, and
its pipelined requests are not read until the response is done (backpressure both ways).

Timeouts: a head must complete within `--header-timeout` (else 408), an idle keep-alive
connection is closed after `--keep-alive` seconds, a stalled write after `--timeout`.
At `--worker-connections` open connections the worker stops accepting until one closes.

Accept strategies: `--epoll-exclusive` registers the listeners with EPOLLEXCLUSIVE; with
`--accept-lock` the listeners are in the loop only during a turn that holds the lock (one
poll), then unregistered and the lock released; under `--reuse-port` a stopping worker takes
what is queued on its own listeners before closing them.
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
from herder.workers.waiting import listener_events
from herder.wsgi.transport import FileRange

TICK = 1.0  # seconds between heartbeats when idle
SWEEP_INTERVAL = 0.25  # seconds between deadline sweeps: a sweep walks every connection,
# so it must not run per wakeup under load (it would cost more than a small request)
LOCK_RETRY = 0.02  # seconds a busy worker without the accept lock waits before trying again
# Connections taken per wakeup: at most ACCEPT_BATCH, and on a shared listener only while
# each is answered and closed at once (`Connection: close`). One that stays (keep-alive) ends
# the batch, so a burst of new keep-alive connections is shared by the workers it woke instead
# of going whole to the first (with 50 connections and 2 workers, a 50/0 split halves the
# throughput). A worker's own --reuse-port listener gets its share from the kernel.
ACCEPT_BATCH = 16

_NOTHING: Iterator[bytes | FileRange] = iter(())  # the output after a whole response
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
    pending: bytes | memoryview | None = None
    pending_file: FileRange | None = None
    file_sent: int = 0
    writing: bool = field(default=False)
    busy: bool = False  # handed to another thread (the threaded worker): the loop keeps off
    fresh: bool = True  # no request served yet: a graceful stop still serves its first one
    registered: bool = False  # in the epoll set (a connection answered at once never is)


class EventWorker(Worker):
    """Serve many connections from one epoll loop."""

    def run(self) -> None:
        self.cycle = RequestCycle(self)
        self.epoll = select.epoll()
        self.conns: dict[int, Connection] = {}
        self.listener_fds = {lst.sock.fileno(): i for i, lst in enumerate(self.listeners)}
        self.accepting = False
        if self.accept_lock is None:
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
            self._take_turn()
            try:
                for fd, mask in self.epoll.poll(self._poll_timeout()):
                    if fd in self.listener_fds:
                        self._accept(self.listener_fds[fd])
                    elif fd == wakeup:
                        self.drain_signal_pipe()
                    else:
                        self._dispatch(fd, mask)
            finally:
                self._end_turn()
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + SWEEP_INTERVAL
                self._sweep(now)

    # -- the accept lock ------------------------------------------------------------------

    def _take_turn(self) -> None:
        """With --accept-lock: wait on the listeners only while holding the lock (blocking
        for it when idle, trying it when connections need serving)."""
        lock = self.accept_lock
        if lock is None or not self.alive or len(self.conns) >= self.cfg.worker_connections:
            return
        if lock.acquire(TICK / 2) if not self.conns else lock.try_acquire():
            self._resume_accepting()

    def _end_turn(self) -> None:
        if self.accept_lock is not None and self.accept_lock.held:
            self._pause_accepting()
            self.accept_lock.release()

    def _poll_timeout(self) -> float:
        # A busy worker without the lock retries it soon, so connections do not wait for a
        # worker idle in its tick (nginx's accept_mutex_delay, shorter); a lock turn waits
        # half a tick, the lock wait the other half: one heartbeat per tick.
        lock = self.accept_lock
        if lock is None:
            return TICK
        if not lock.held and self.conns:
            return LOCK_RETRY
        return TICK / 2

    # -- accepting ------------------------------------------------------------------------

    def _accept(self, index: int) -> None:
        room = self.cfg.worker_connections - len(self.conns)
        if room > 0:
            self.accept_while(
                index,
                min(ACCEPT_BATCH, room),
                lambda sock, peer: self._admit(sock, index, peer) or self.cfg.reuse_port,
            )
        if len(self.conns) >= self.cfg.worker_connections:
            self._pause_accepting()

    def _admit(self, sock: socket.socket, index: int, peer: tuple[str, int] | None) -> bool:
        """Take a new connection and serve what it already sent (the request usually came
        right behind the handshake); True when it is already gone (answered and closed).

        A connection still open after that joins the epoll set: one that was answered and
        closed at once never does, which saves two syscalls per `Connection: close` request.
        """
        conn = self._add(sock, index, peer)
        try:
            self._read(conn)
        except OSError:
            self._close(conn)
        if self.conns.get(conn.transport.fd) is not conn:
            return True
        if not conn.registered and not conn.busy:
            self._watch(conn, _READ)
        return False

    def _add(self, sock: socket.socket, index: int, peer: tuple[str, int] | None) -> Connection:
        """A new connection, not yet in the epoll set (`_watch` puts it there)."""
        sock.setblocking(False)  # TCP_NODELAY comes from the listener (set_nodelay)
        transport = SocketTransport(sock, self.cfg.timeout or None)
        deadline = time.monotonic() + self.cfg.header_timeout
        conn = Connection(
            sock, transport, self.cycle.new_parser(index, peer), index, peer, deadline
        )
        self.conns[transport.fd] = conn
        return conn

    def _watch(self, conn: Connection, events: int) -> None:
        """Wait for `events` on `conn` (registering it with the epoll on first use)."""
        if conn.registered:
            self.epoll.modify(conn.transport.fd, events)
        else:
            self.epoll.register(conn.transport.fd, events)
            conn.registered = True

    def _unwatch(self, conn: Connection) -> None:
        if conn.registered:
            conn.registered = False
            self.epoll.unregister(conn.transport.fd)

    def _pause_accepting(self) -> None:
        if self.accepting:
            self.accepting = False
            for fd in self.listener_fds:
                self.epoll.unregister(fd)

    def _resume_accepting(self) -> None:
        if not self.accepting and self.alive:
            self.accepting = True
            events = listener_events(self.cfg.epoll_exclusive)
            for fd in self.listener_fds:
                self.epoll.register(fd, events)

    def _begin_shutdown(self) -> None:
        """Graceful stop: take what waits in the listen backlog (its clients are served),
        stop accepting, close idle keep-alive connections."""
        if not self.cfg.reuse_port:
            for index in self.listener_fds.values():
                self._accept(index)
        self._pause_accepting()
        for index, (sock, peer) in self.drain_own_listeners():
            self._admit(sock, index, peer)
        for conn in list(self.conns.values()):
            if conn.flight is None and not conn.busy and not conn.parser.has_partial_data:
                # A request may already wait in the socket buffer (accepted just before the
                # stop): read it and serve it rather than answer it with a reset.
                with contextlib.suppress(OSError):
                    self._read(conn)
            idle = conn.flight is None and not conn.busy and not conn.parser.has_partial_data
            if idle and not conn.fresh:
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
        conn.flight = flight
        whole = self.cycle.whole(flight)
        if whole is None:
            conn.output = self.cycle.output(flight)
        else:  # the common case: the complete response in one piece, one send
            sent = conn.transport.try_send(whole)
            if sent == len(whole):
                return self._finish(conn)
            conn.output, conn.pending = _NOTHING, memoryview(whole)[sent:]
        if not self._pump(conn):
            conn.writing = True
            conn.deadline = time.monotonic() + (self.cfg.timeout or 1e9)
            self._watch(conn, _WRITE)
            return False
        return self._finish(conn)

    def _pump(self, conn: Connection) -> bool:
        """Write output until done (True) or the socket is full (False)."""
        assert conn.output is not None
        while True:
            if conn.pending is not None:
                sent = conn.transport.try_send(conn.pending)
                if sent < len(conn.pending):
                    conn.pending = memoryview(conn.pending)[sent:]
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
                    conn.pending = piece

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
                self._watch(conn, _READ)
        if not keep:
            self._close(conn)
            return False
        conn.idle, conn.fresh = True, False
        conn.deadline = time.monotonic() + self.cfg.keepalive
        return True

    def _reject(self, conn: Connection, error: ProtocolError) -> None:
        conn.transport.send_quietly(self.cycle.rejection(error, conn.peer))
        self._close(conn, linger=True)

    def _sweep(self, now: float) -> None:
        """Close connections past their deadline: slow heads get a 408 first."""
        for conn in list(self.conns.values()):
            if now < conn.deadline or conn.busy or (conn.flight is not None and not conn.writing):
                continue
            if not conn.idle and not conn.writing:
                with contextlib.suppress(OSError):
                    conn.transport.try_send(self.cycle.timeout_response())
            self._close(conn)

    def _close(self, conn: Connection, linger: bool = False) -> None:
        fd = conn.transport.fd
        if self.conns.pop(fd, None) is None:
            return
        if conn.flight is not None:  # cut short (the peer left, a stop): still settled
            flight, conn.flight, conn.output = conn.flight, None, None
            self.cycle.settle(flight)
        conn.transport.close(linger)  # closing the only descriptor also leaves the epoll set
        if (
            not self.accepting
            and self.accept_lock is None
            and len(self.conns) < self.cfg.worker_connections
        ):
            self._resume_accepting()
