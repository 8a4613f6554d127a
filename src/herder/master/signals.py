"""The master's signals: handlers only record, the loop dispatches to `handle_<name>`.

A handler appends the signal to a bounded queue and the wakeup pipe makes the loop's wait
return at once. SIGCHLD is not queued: it only wakes the loop, which reaps every child.
"""

from __future__ import annotations

import collections
import os
import select
import signal
from types import FrameType

HANDLED = (
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)
QUEUE_LIMIT = 8  # a burst of repeated signals beyond this is dropped, as with Gunicorn


class SignalQueue:
    """Signals received by the master and not yet handled, oldest first."""

    def __init__(self) -> None:
        self._queue: collections.deque[signal.Signals] = collections.deque()
        self._read_fd = -1
        self._write_fd = -1

    def install(self) -> None:
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for sig in HANDLED:
            signal.signal(sig, self._record)
        signal.signal(signal.SIGCHLD, self._wake)

    def uninstall_in_child(self) -> None:
        """In a freshly forked worker: default handlers, no wakeup pipe."""
        signal.set_wakeup_fd(-1)
        for sig in (*HANDLED, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        os.close(self._read_fd)
        os.close(self._write_fd)
        self._queue.clear()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if len(self._queue) < QUEUE_LIMIT:
            self._queue.append(signal.Signals(signum))

    def _wake(self, signum: int, frame: FrameType | None) -> None:
        pass  # the wakeup fd already woke the loop

    def pop(self) -> signal.Signals | None:
        return self._queue.popleft() if self._queue else None

    def wait(self, timeout: float) -> None:
        """Sleep until a signal arrives or `timeout` seconds pass."""
        if self._queue:
            return
        ready, _, _ = select.select([self._read_fd], [], [], timeout)
        if ready:
            try:
                while os.read(self._read_fd, 512):
                    pass
            except BlockingIOError:
                pass
