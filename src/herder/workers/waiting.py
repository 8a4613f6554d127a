"""Waiting for connections on the listeners: epoll, optionally with EPOLLEXCLUSIVE.

EPOLLEXCLUSIVE (Linux 4.5+) makes the kernel wake one, not every, epoll instance waiting on a
listener when a connection arrives. It is set at registration only (`epoll.modify` refuses
it), so a worker that pauses accepting unregisters the listeners and registers them again.
"""

from __future__ import annotations

import select
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from herder.workers.base import Listener

EPOLLEXCLUSIVE = getattr(select, "EPOLLEXCLUSIVE", 1 << 28)


class ListenerWaiter:
    """An epoll over the listeners (and a wakeup descriptor), for the sync worker."""

    def __init__(self, listeners: tuple[Listener, ...], exclusive: bool) -> None:
        self.epoll = select.epoll()
        self._by_fd = {lst.sock.fileno(): i for i, lst in enumerate(listeners)}
        flags = listener_events(exclusive)
        for fd in self._by_fd:
            self.epoll.register(fd, flags)

    def add_wakeup(self, fd: int) -> None:
        self.epoll.register(fd, select.EPOLLIN)

    def wait(self, timeout: float) -> list[int]:
        return [fd for fd, _ in self.epoll.poll(timeout)]

    def index(self, fd: int) -> int:
        return self._by_fd[fd]

    def close(self) -> None:
        self.epoll.close()


def listener_events(exclusive: bool) -> int:
    """The epoll event mask for a listener."""
    return select.EPOLLIN | (EPOLLEXCLUSIVE if exclusive else 0)
