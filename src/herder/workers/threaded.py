"""The `threaded` worker (alias `gthread`): an epoll loop in front of a pool of threads.

The loop (the event worker's, inherited) owns accepting, idle keep-alive connections and
connections whose head is still arriving, with the same timeouts and accept strategies. When a
head is complete the connection leaves the loop (unregistered, marked busy) and one of
`--threads` threads runs the request through `RequestCycle.begin`, writes the output with
`SocketTransport` (blocking-style, each wait bounded by `--timeout`) and settles it. The
thread hands the connection back through a queue and a wakeup pipe; the loop registers it
again, serves what was pipelined, or closes it. `wsgi.multithread` is true.

Backpressure: at most `--worker-connections` connections per worker (busy ones included);
requests beyond `--threads` wait in the pool's queue, which that limit bounds.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from herder.protocol.events import RequestHead
from herder.workers.event import _READ, Connection, EventWorker


class ThreadedWorker(EventWorker):
    """Accept and wait in one loop; run requests on `--threads` threads."""

    multithread = True

    def run(self) -> None:
        self._pool = ThreadPoolExecutor(self.cfg.threads, thread_name_prefix="herder-request")
        self._returned: collections.deque[tuple[Connection, bool]] = collections.deque()
        self._count_lock = threading.Lock()
        self._back_r, self._back_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.start_watchdog()  # --harakiri: interrupts a request thread past its deadline
        try:
            super().run()
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
            os.close(self._back_r)
            os.close(self._back_w)

    def _loop(self, wakeup: int) -> None:
        self.epoll.register(self._back_r, select.EPOLLIN)
        super()._loop(wakeup)

    def count_request(self) -> None:
        with self._count_lock:  # threads settle concurrently; counters are read-modify-write
            super().count_request()

    # -- handing requests to threads and taking connections back --------------------------

    def _start(self, conn: Connection, head: RequestHead) -> bool:
        conn.busy = True
        self._unwatch(conn)
        self._pool.submit(self._work, conn, head)
        return False

    def _work(self, conn: Connection, head: RequestHead) -> None:
        keep = False
        try:
            keep = self._serve(conn, head)
        except Exception:
            self.log.exception("Error serving a request")
        finally:
            self._returned.append((conn, keep))
            with contextlib.suppress(BlockingIOError):
                os.write(self._back_w, b"\0")

    def _serve(self, conn: Connection, head: RequestHead) -> bool:
        keep_alive_allowed = self.alive and self.cfg.keepalive > 0
        transport = conn.transport
        _, keep = self.cycle.respond(
            head, conn.parser, transport, conn.listener, conn.peer, keep_alive_allowed
        )
        return keep

    def _dispatch(self, fd: int, mask: int) -> None:
        if fd != self._back_r:
            super()._dispatch(fd, mask)
            return
        with contextlib.suppress(BlockingIOError):
            while os.read(self._back_r, 512):
                pass
        while self._returned:
            conn, keep = self._returned.popleft()
            self._take_back(conn, keep)

    def _take_back(self, conn: Connection, keep: bool) -> None:
        conn.busy = False
        if not keep or conn.transport.fd not in self.conns:
            self._close(conn)
            return
        conn.idle = True
        conn.deadline = time.monotonic() + self.cfg.keepalive
        try:
            self._watch(conn, _READ)
        except OSError:
            self._close(conn)
            return
        self._advance(conn)  # a pipelined request may already be buffered
