"""The event worker's connection handling, in process over real local sockets: a response
cut short by the client is still settled (its request counted, its deadline record
cleared), and accepted TCP connections carry TCP_NODELAY from their listener."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herder.config import Bind, BindKind, load_config
from herder.logs import Logs
from herder.workers.accepting import accept_batch, accept_while, set_nodelay
from herder.workers.base import Listener, WorkerContext
from herder.workers.cycle import RequestCycle
from herder.workers.event import EventWorker
from herder.workers.heartbeat import REQUESTS, STARTED, Heartbeat, HeartbeatBoard
from herder.workers.stats import Counters, StatsBoard

PIECE = b"x" * 65536


def big_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    for _ in range(256):  # 16 MiB: far more than a socket buffer holds
        yield PIECE


@pytest.fixture
def listener() -> Iterator[Listener]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield Listener(sock, Bind(BindKind.TCP, host="127.0.0.1", port=0), "http://127.0.0.1")


def make_worker(tmp_path: Path, listener: Listener) -> tuple[EventWorker, HeartbeatBoard]:
    cfg = load_config(["--error-logfile", str(tmp_path / "err.log")], {})
    board = HeartbeatBoard(slots=1)
    ctx = WorkerContext(cfg, Logs(cfg), (listener,), Heartbeat(board, 0), 1, 1, big_app)
    worker = EventWorker(ctx)
    worker.cycle = RequestCycle(worker)
    worker.epoll = select.epoll()
    worker.conns = {}
    worker.listener_fds = {}
    worker.accepting = False
    return worker, board


def test_a_response_cut_short_by_the_client_is_settled(tmp_path: Path, listener: Listener) -> None:
    worker, board = make_worker(tmp_path, listener)
    server_side, client = socket.socketpair()
    with client:
        worker._add(server_side, 0, None)
        fd = server_side.fileno()
        client.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        worker._dispatch(fd, select.EPOLLIN)
        conn = worker.conns[fd]
        assert conn.writing and conn.flight is not None  # the socket buffer is full
        assert board.started(0) > 0.0  # a request is in flight on the board
        client.close()
        for _ in range(8):  # the peer is gone: a write fails, the connection closes
            if fd not in worker.conns:
                break
            worker._dispatch(fd, select.EPOLLOUT)
    assert fd not in worker.conns
    assert worker.in_flight == {}
    assert worker.requests == 1
    assert board.started(0) == 0.0 and board.count(0, REQUESTS) == 1
    assert STARTED == 8  # the field the master reads for --harakiri
    worker.epoll.close()


def test_accepted_connections_inherit_nodelay_from_the_listener(listener: Listener) -> None:
    set_nodelay((listener,))
    counters = Counters(StatsBoard(slots=1), 0)
    with socket.create_connection(listener.sock.getsockname(), timeout=5) as client:
        select.select([listener.sock], [], [], 5)
        taken = accept_batch(listener.sock, counters, 4)
        assert len(taken) == 1
        conn, peer = taken[0]
        with conn:
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            assert conn.family == socket.AF_INET and conn.type == socket.SOCK_STREAM
            assert peer == client.getsockname()
    assert counters.read().accepts == 1


def test_accept_while_counts_each_connection_before_serving_it(listener: Listener) -> None:
    counters = Counters(StatsBoard(slots=1), 0)
    seen: list[int] = []

    def take(conn: socket.socket, peer: tuple[str, int] | None) -> bool:
        seen.append(counters.read().accepts)  # what a reader of the board sees meanwhile
        conn.close()
        return True  # answered and gone: go on

    clients = [socket.create_connection(listener.sock.getsockname(), timeout=5) for _ in range(3)]
    try:
        select.select([listener.sock], [], [], 5)
        deadline = 50
        while len(seen) < 3 and deadline:
            accept_while(listener.sock, counters, 16, take)
            deadline -= 1
            select.select([listener.sock], [], [], 0.1)
    finally:
        for client in clients:
            client.close()
    assert seen == [1, 2, 3]
    assert counters.read().accepts == 3
