"""`RequestCycle` under `--harakiri`, in process over a socket pair: the SIGALRM timer of
single-threaded workers and the watchdog of threaded ones both end a stuck request with 504,
log its traceback, count it and ask for a replacement."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herder.config import Bind, BindKind, load_config
from herder.logs import Logs
from herder.protocol.events import RequestHead
from herder.workers.base import Listener, Worker, WorkerContext
from herder.workers.cycle import RequestCycle
from herder.workers.harakiri import AlarmDeadline
from herder.workers.heartbeat import HARAKIRI, WANTS_REPLACEMENT, Heartbeat, HeartbeatBoard
from herder.workers.transport import SocketTransport


def stuck_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    for _ in range(1000):  # short waits in Python code: interruptible by both mechanisms
        time.sleep(0.01)
    start_response("200 OK", [])
    return [b"never"]


class ThreadedWorker(Worker):
    multithread = True


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    with left, right:
        yield left, right


def make_worker(
    tmp_path: Path, cls: type[Worker], sock: socket.socket
) -> tuple[Worker, HeartbeatBoard]:
    cfg = load_config(["--harakiri", "0.2", "--error-logfile", str(tmp_path / "err.log")], {})
    board = HeartbeatBoard(slots=1)
    listener = Listener(sock, Bind(BindKind.UNIX, path="/nowhere"), "unix:/nowhere")
    ctx = WorkerContext(cfg, Logs(cfg), (listener,), Heartbeat(board, 0), 1, 1, stuck_app)
    worker = cls(ctx)
    if not cls.multithread:  # what init_signals does, without touching other handlers
        worker.deadline = AlarmDeadline(cfg.harakiri)
        worker.deadline.install()
    return worker, board


@pytest.fixture(autouse=True)
def _restore_sigalrm() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGALRM)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def head(cycle: RequestCycle) -> tuple[RequestHead, Any]:
    parser = cycle.new_parser(0, None)
    parser.feed(b"GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n")
    event = parser.next_event()
    assert isinstance(event, RequestHead)
    return event, parser


def serve_one(worker: Worker, server_side: socket.socket) -> None:
    cycle = RequestCycle(worker)
    request, parser = head(cycle)
    transport = SocketTransport(server_side, 5)
    flight = cycle.begin(request, parser, transport, 0, None, True)
    for piece in cycle.output(flight):
        assert isinstance(piece, bytes)
        transport.send(piece)
    assert cycle.settle(flight) is False  # an abandoned request never keeps the connection


def check(worker: Worker, board: HeartbeatBoard, client: socket.socket, log: Path) -> None:
    client.settimeout(5)
    assert client.recv(4096).startswith(b"HTTP/1.1 504 ")
    assert board.count(0, HARAKIRI) == 1
    assert board.flags(0) & WANTS_REPLACEMENT
    assert board.started(0) == 0.0
    worker.ctx.logs.close()
    text = log.read_text()
    assert "HARAKIRI: GET /stuck exceeded 0.2 s" in text
    assert "in stuck_app" in text


def test_alarm_deadline_in_the_main_thread(
    tmp_path: Path, pair: tuple[socket.socket, socket.socket]
) -> None:
    worker, board = make_worker(tmp_path, Worker, pair[0])
    assert worker.deadline is not None
    serve_one(worker, pair[0])
    check(worker, board, pair[1], tmp_path / "err.log")


def test_watchdog_for_a_threaded_worker(
    tmp_path: Path, pair: tuple[socket.socket, socket.socket]
) -> None:
    worker, board = make_worker(tmp_path, ThreadedWorker, pair[0])
    assert worker.deadline is None
    worker.start_watchdog()
    thread = threading.Thread(target=serve_one, args=(worker, pair[0]))
    thread.start()
    thread.join(10)
    assert worker.watchdog is not None
    worker.watchdog.stop()
    check(worker, board, pair[1], tmp_path / "err.log")
