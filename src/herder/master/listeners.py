"""Listening sockets: created by the master before any worker is forked.

Every worker inherits the same sockets (a shared accept queue per address). Listeners are
non-blocking so that a worker woken for a connection another worker already took just sees
EAGAIN instead of hanging in accept().

With `reuse_port`, a TCP address is bound with SO_REUSEPORT but not listened on: the master
only holds the port (and learns the real one when 0 was asked); each worker binds and listens
on its own socket for it (`workers/accepting.py`). A bound socket that does not listen never
receives connections, so the kernel spreads them over the workers' listeners only.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from typing import Any

from herder.config.binds import Bind, BindKind
from herder.errors import HerderError
from herder.workers.base import Listener


class ListenerError(HerderError):
    """An address could not be bound or a descriptor is not a usable socket."""


def open_listeners(
    binds: list[Bind], backlog: int, protocol: str = "http", reuse_port: bool = False
) -> list[Listener]:
    """Bind every address; `protocol` (`--protocol`) is what binds without a prefix speak.
    With `reuse_port` TCP addresses are bound with SO_REUSEPORT and not listened on: each
    worker listens on its own socket (the master's only holds the port)."""
    listeners: list[Listener] = []
    try:
        for bind in binds:
            sock = _open(bind, backlog, reuse_port)
            sock.setblocking(False)
            listeners.append(Listener(sock, bind, describe(sock, bind, protocol)))
    except BaseException:
        close_listeners(listeners)
        raise
    return listeners


def adopt_listeners(
    fds: list[int],
    binds: list[Bind],
    backlog: int,
    protocol: str = "http",
    reuse_port: bool = False,
) -> list[Listener]:
    """Listeners from inherited descriptors (a previous master, systemd), in order; the
    configured binds name them when they match in number."""
    listeners: list[Listener] = []
    for index, fd in enumerate(fds):
        # Under --reuse-port a TCP placeholder only holds the port: the workers listen.
        sock = _adopt_fd(fd, backlog, listen=not reuse_port)
        sock.setblocking(False)
        os.set_inheritable(fd, False)
        bind = binds[index] if len(binds) == len(fds) else Bind(BindKind.FD, fd=fd)
        listeners.append(Listener(sock, bind, describe(sock, bind, protocol)))
    return listeners


def _open(bind: Bind, backlog: int, reuse_port: bool) -> socket.socket:
    if bind.kind is BindKind.UNIX:
        assert bind.path is not None
        return _open_unix(bind.path, backlog)
    if bind.kind is BindKind.FD:
        assert bind.fd is not None
        return _adopt_fd(bind.fd, backlog)
    assert bind.host is not None and bind.port is not None
    return _open_tcp(bind.host, bind.port, backlog, reuse_port)


def _open_tcp(host: str, port: int, backlog: int, reuse_port: bool = False) -> socket.socket:
    try:
        infos = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenerError(f"cannot resolve {host!r}: {exc}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    label = f"{host}:{port}"
    if not reuse_port:
        return _bind_and_listen(sock, address, backlog, label)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ListenerError(f"cannot bind {label}: {exc.strerror}") from exc
    return sock


def _open_unix(path: str, backlog: int) -> socket.socket:
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise ListenerError(f"{path} exists and is not a socket")
        os.unlink(path)  # a stale socket left by an earlier run
    return _bind_and_listen(
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), path, backlog, f"unix:{path}"
    )


def _bind_and_listen(
    sock: socket.socket, address: tuple[Any, ...] | str, backlog: int, label: str
) -> socket.socket:
    try:
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ListenerError(f"cannot listen on {label}: {exc.strerror}") from exc
    return sock


def _adopt_fd(fd: int, backlog: int, listen: bool = True) -> socket.socket:
    try:
        sock = socket.socket(fileno=fd)
        if listen or sock.family == socket.AF_UNIX:
            sock.listen(backlog)
    except OSError as exc:
        raise ListenerError(f"fd://{fd} is not a usable socket: {exc.strerror}") from exc
    return sock


def describe(sock: socket.socket, bind: Bind, protocol: str = "http") -> str:
    """The URL announced in 'Listening at:' (with the real port when 0 was asked), its
    scheme the protocol the listener speaks."""
    scheme = bind.protocol or protocol
    if sock.family == socket.AF_UNIX:
        prefix = "uwsgi:" if scheme == "uwsgi" else ""
        return f"{prefix}unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        return f"{scheme}://[{host}]:{port}"
    return f"{scheme}://{host}:{port}"


def close_listeners(listeners: list[Listener], unlink: bool = True) -> None:
    for listener in listeners:
        path = listener.sock.getsockname() if listener.sock.family == socket.AF_UNIX else None
        listener.sock.close()
        if unlink and listener.bind.kind is BindKind.UNIX and isinstance(path, str):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
