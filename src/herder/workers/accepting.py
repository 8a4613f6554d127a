"""How workers share a port: the accept lock, per-worker SO_REUSEPORT listeners, counted accepts.

Rules:
- The accept lock is `flock()` on a file the master creates (unlinked) before forking. Each
  worker reopens it through `/proc/self/fd` so it owns a separate open file description:
  flock locks belong to the description, so inherited descriptors would all share one lock.
  The kernel drops a flock when the last descriptor of its holder closes, so a holder killed
  by SIGKILL or the OOM killer frees the lock at once (a process-shared pthread mutex would
  stay locked unless robust, and Python has no robust mutex).
- A wait for the lock is bounded: an interval timer interrupts `flock()` so the worker beats
  its heartbeat and sees a stop request at least once a `timeout`.
- With `--reuse-port` each worker binds its own listener for every TCP address after the
  fork. On a graceful stop the worker accepts what is queued on its own listener, then closes
  it (the kernel resets connections still queued on a closed SO_REUSEPORT listener), then
  serves those it took.
- `accept_batch` is the one place accepts are counted: a wakeup, the connections taken, and
  a wakeup that found nothing (EAGAIN: another worker took the connection).
"""

from __future__ import annotations

import _socket
import contextlib
import fcntl
import os
import signal
import socket
import tempfile
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from herder.config.binds import BindKind

if TYPE_CHECKING:
    from herder.workers.base import Listener
    from herder.workers.stats import Counters

Accepted = tuple[socket.socket, tuple[str, int] | None]


def open_lock_file() -> int:
    """The master's lock file: an unlinked temporary file, inherited by every worker."""
    fd, path = tempfile.mkstemp(prefix="herder-accept-")
    os.unlink(path)
    return fd


class _LockWaitOver(Exception):
    """The interval timer fired while waiting for the lock."""


class AcceptLock:
    """A worker's side of the accept lock."""

    def __init__(self, shared_fd: int) -> None:
        self.fd = os.open(f"/proc/self/fd/{shared_fd}", os.O_RDWR | os.O_CLOEXEC)
        self.held = False
        self._waiting = False
        signal.signal(signal.SIGALRM, self._on_alarm)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._waiting:
            raise _LockWaitOver

    def try_acquire(self) -> bool:
        if not self.held:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            self.held = True
        return True

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the lock; True when held."""
        if self.held:
            return True
        try:
            self._waiting = True
            signal.setitimer(signal.ITIMER_REAL, timeout)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.held = True
        except _LockWaitOver:
            pass
        finally:
            self._waiting = False
            signal.setitimer(signal.ITIMER_REAL, 0)
        # The timer may fire just after flock() returned: asking again settles it (a second
        # flock on a description that holds the lock succeeds at once).
        return self.try_acquire()

    def release(self) -> None:
        if self.held:
            self.held = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        os.close(self.fd)


def set_nodelay(listeners: tuple[Listener, ...]) -> None:
    """Set TCP_NODELAY on the TCP listeners: Linux copies it to every connection they accept,
    which saves a `setsockopt` per connection (the response head and body of a large reply
    go out in separate writes, which Nagle's algorithm would hold back)."""
    for listener in listeners:
        if listener.sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                listener.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def accept_batch(sock: socket.socket, counters: Counters, limit: int) -> list[Accepted]:
    """Accept up to `limit` connections after a wakeup on `sock`, counting what happened.

    `socket.accept()` converts the listener's family and type to enums for every
    connection; taking the descriptor and building the socket from plain ints is the same
    socket for less work."""
    counters.wakeup()
    taken: list[Accepted] = []
    accept = _plain_accept(sock) if isinstance(sock, _socket.socket) else sock.accept
    while len(taken) < limit:
        try:
            conn, peer = accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            break
        taken.append((conn, peer if isinstance(peer, tuple) else None))
    if taken:
        counters.accepted(len(taken))
    else:
        counters.found_nothing()
    return taken


def _plain_accept(sock: socket.socket) -> Callable[[], tuple[socket.socket, Any]]:
    """`sock.accept` without its per-call enum conversions (a standard socket only; a
    coroutine library's socket keeps its own `accept`)."""
    family, kind, proto = int(sock.family), int(sock.type), sock.proto
    accept_fd = sock._accept  # type: ignore[attr-defined]

    def accept() -> tuple[socket.socket, Any]:
        fd, peer = accept_fd()
        return socket.socket(family, kind, proto, fileno=fd), peer

    return accept


def accept_while(
    sock: socket.socket,
    counters: Counters,
    limit: int,
    take: Callable[[socket.socket, tuple[str, int] | None], bool],
) -> None:
    """Accept up to `limit` connections one at a time, handing each to `take` at once, and
    stop early when `take` returns False; counted like `accept_batch`, each accept before
    `take` serves it (a reader never sees a request counted before its connection)."""
    counters.wakeup()
    accept = _plain_accept(sock) if isinstance(sock, _socket.socket) else sock.accept
    taken = 0
    while taken < limit:
        try:
            conn, peer = accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            break
        taken += 1
        counters.accepted(1)
        if not take(conn, peer if isinstance(peer, tuple) else None):
            break
    if not taken:
        counters.found_nothing()


def is_port_shared(listener: Listener) -> bool:
    """True for listeners a worker replaces with its own under `--reuse-port`."""
    return listener.bind.kind is BindKind.TCP


def own_listeners(listeners: tuple[Listener, ...], backlog: int) -> tuple[Listener, ...]:
    """This worker's SO_REUSEPORT listeners on the master's ports (Unix sockets kept)."""
    from herder.workers.base import Listener

    mine: list[Listener] = []
    for listener in listeners:
        if not is_port_shared(listener):
            mine.append(listener)
            continue
        sock = _reuse_port_socket(listener.sock, backlog)
        listener.sock.close()  # this process's copy of the master's placeholder
        mine.append(Listener(sock, listener.bind, listener.url))
    return tuple(mine)


def _reuse_port_socket(placeholder: socket.socket, backlog: int) -> socket.socket:
    sock = socket.socket(placeholder.family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if placeholder.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(placeholder.getsockname())
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def drain_and_close(
    listeners: tuple[Listener, ...], counters: Counters
) -> list[tuple[int, Accepted]]:
    """Take every connection queued on this worker's own listeners, then close them."""
    taken: list[tuple[int, Accepted]] = []
    for index, listener in enumerate(listeners):
        if not is_port_shared(listener) or listener.sock.fileno() < 0:
            continue
        for accepted in accept_batch(listener.sock, counters, 1 << 16):
            taken.append((index, accepted))
        with contextlib.suppress(OSError):
            listener.sock.close()
    return taken
