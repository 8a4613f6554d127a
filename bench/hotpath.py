"""Where the time of one request goes: the event worker's hot path, measured in process.

Usage: `python bench/hotpath.py [--requests N] [--profile]` (`make bench-hotpath`).

It builds a real `EventWorker` (the default worker class) around the hello-world app of
`bench/apps/hello.py`, with no master and no fork, and drives it through its own methods:
- keep-alive: a socket pair; per request the client sends wrk's request, the worker reads,
  parses, calls the app and writes, the client reads the response;
- `Connection: close`: a listener on 127.0.0.1; per request the client connects and sends,
  the worker accepts and serves, the client reads and closes.
Timings are the best of several batches (µs per request, client side included; the
syscall floor of the keep-alive client is printed apart). Python function calls per request
come from cProfile's count (C functions included, listed apart). The stage table times the
pieces of a request one by one with the same objects. None of this asserts anything: the
figures go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import select
import socket
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from herder.app import load_app
from herder.config import Bind, BindKind, load_config
from herder.logs import Logs
from herder.protocol.http11.head import parse_head
from herder.protocol.http11.parser import HTTP11Parser
from herder.protocol.limits import Limits
from herder.workers.base import Listener, WorkerContext
from herder.workers.cycle import RequestCycle
from herder.workers.event import EventWorker
from herder.workers.heartbeat import Heartbeat, HeartbeatBoard
from herder.wsgi.input import BodyReader, Input

sys.path.insert(0, str(Path(__file__).resolve().parent / "apps"))
app = load_app("hello:app")

KEEP_ALIVE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"  # what wrk sends
CLOSE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"
BATCHES = 20


class Rig:
    """An event worker with one keep-alive connection and one listener, no master."""

    def __init__(self) -> None:
        cfg = load_config([], {})
        self.listen = socket.socket()
        self.listen.bind(("127.0.0.1", 0))
        self.listen.listen(128)
        self.listen.setblocking(False)
        bind = Bind(BindKind.TCP, host="127.0.0.1", port=0)
        listener = Listener(self.listen, bind, "http://127.0.0.1")
        board = HeartbeatBoard(slots=1)
        ctx = WorkerContext(cfg, Logs(cfg), (listener,), Heartbeat(board, 0), 1, 1, app)
        worker = EventWorker(ctx)
        worker.cycle = RequestCycle(worker)
        worker.epoll = select.epoll()
        worker.conns = {}
        worker.listener_fds = {self.listen.fileno(): 0}
        worker.accepting = False
        self.worker = worker
        server_side, self.client = socket.socketpair()
        self.fd = server_side.fileno()
        worker._admit(server_side, 0, ("127.0.0.1", 5555))
        self.conn = worker.conns[self.fd]
        self.address = self.listen.getsockname()

    def keep_alive(self) -> None:
        self.client.send(KEEP_ALIVE)
        self.worker._read(self.conn)
        self.client.recv(65536)

    def close_mode(self) -> None:
        with socket.create_connection(self.address) as client:
            client.send(CLOSE)
            self.worker._accept(0)
            client.recv(65536)

    def floor(self) -> None:
        """The keep-alive client's own syscalls and the server's recv/send, no Python."""
        server = self.conn.sock
        self.client.send(KEEP_ALIVE)
        server.recv(65536)
        server.send(b"x" * 160)
        self.client.recv(65536)


def best_us(step: Callable[[], None], count: int) -> float:
    per_batch = max(count // BATCHES, 1)
    best = float("inf")
    for _ in range(BATCHES):
        started = time.perf_counter()
        for _ in range(per_batch):
            step()
        best = min(best, (time.perf_counter() - started) / per_batch)
    return best * 1e6


def calls_per_request(step: Callable[[], None], count: int) -> tuple[float, float, pstats.Stats]:
    """(all calls, calls of C functions) per request, and the stats for a listing."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        step()
    profile.disable()
    stats = pstats.Stats(profile)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[1] for entry in table.values())
    builtin = sum(entry[1] for key, entry in table.items() if key[0] == "~")
    return total / count, builtin / count, stats


def stage_table(rig: Rig) -> list[tuple[str, float]]:
    limits = Limits()
    block = KEEP_ALIVE[:-4]
    parser = HTTP11Parser(limits)
    worker = rig.worker
    cycle = worker.cycle
    head = parse_head(block, limits)
    reader = BodyReader(parser, lambda: b"")
    builder = cycle.builders[0]
    environ = builder.build(head, ("127.0.0.1", 5555), Input(reader))
    transport = rig.conn.transport

    def parser_cycle() -> None:
        parser.feed(KEEP_ALIVE)
        parser.next_event()
        parser.next_event()
        parser.start_next_cycle()

    def exchange() -> None:
        from herder.wsgi.exchange import Exchange

        done = Exchange(app, environ, head, reader, transport, cycle.options, True)
        done.start()
        done.whole()

    def bookkeeping() -> None:
        worker.request_finished(worker.request_started("GET", "/"))

    stages: list[tuple[str, Callable[[], object]]] = [
        ("parse_head (wrk's head)", lambda: parse_head(block, limits)),
        ("parser cycle (feed, head, end, next cycle)", parser_cycle),
        ("BodyReader + wsgi.input", lambda: Input(BodyReader(parser, lambda: b""))),
        ("environ", lambda: builder.build(head, ("127.0.0.1", 5555), Input(reader))),
        ("Exchange: app call, checks, whole response", exchange),
        ("request_started + request_finished", bookkeeping),
    ]
    return [
        (label, min(timeit.repeat(call, number=20000, repeat=5)) / 20000 * 1e6)
        for label, call in stages
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40000)
    parser.add_argument("--profile", action="store_true", help="list the top functions")
    args = parser.parse_args(argv)
    rig = Rig()
    for _ in range(2000):  # warm every cache (checked starts, hosts, dates)
        rig.keep_alive()
    print(f"Python {sys.version.split()[0]}, best of {BATCHES} batches, µs per request\n")
    close_count = max(args.requests // 8, BATCHES)
    paths = [
        ("keep-alive, whole request (client included)", best_us(rig.keep_alive, args.requests)),
        ("of which the 4 socket calls alone", best_us(rig.floor, args.requests)),
        (
            "`Connection: close`, accept to close (client included)",
            best_us(rig.close_mode, close_count),
        ),
    ]
    print("| path | µs per request |\n| --- | ---: |")
    for label, micros in paths:
        print(f"| {label} | {micros:.2f} |")
    total, builtin, stats = calls_per_request(rig.keep_alive, 10000)
    print(f"\nfunction calls per keep-alive request: {total:.0f} ({builtin:.0f} of C functions)")
    print("\n| stage | µs |\n| --- | ---: |")
    for label, micros in stage_table(rig):
        print(f"| {label} | {micros:.2f} |")
    if args.profile:
        print()
        stats.sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
