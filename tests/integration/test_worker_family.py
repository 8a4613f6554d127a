"""The worker family: threaded, gevent, eventlet concurrency and heartbeats; a custom worker."""

from __future__ import annotations

import concurrent.futures
import re
import signal
import time
from pathlib import Path

import pytest

from herder.errors import ExitCode
from tests.integration.harness import Server, get, read_response

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONCURRENT_CLASSES = [
    pytest.param(("threaded", "--threads", "8"), id="threaded"),
    pytest.param(("gthread", "--threads", "8"), id="gthread"),
    pytest.param(("gevent",), id="gevent"),
    pytest.param(("eventlet",), id="eventlet"),
]


def _sleep_request(srv: Server, seconds: float) -> int:
    with srv.connect(timeout=20) as sock:
        sock.sendall(f"GET /sleep?s={seconds} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        return read_response(sock)[0]


@pytest.mark.parametrize("worker", CONCURRENT_CLASSES)
def test_one_worker_serves_requests_concurrently(worker: tuple[str, ...]) -> None:
    # 8 requests sleeping 1 s each: one after another they would take 8 s.
    with Server("-k", *worker, "-w", "1") as srv:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: _sleep_request(srv, 1.0), range(8)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 8
    assert elapsed < 6.0, elapsed


@pytest.mark.parametrize("worker", ["gevent", "eventlet", "threaded"])
def test_heartbeat_goes_on_while_requests_wait_on_io(worker: str) -> None:
    # --timeout 2: a request waiting 4 s on (patched) I/O must not get the worker aborted.
    with Server("-k", worker, "-w", "1", "-t", "2") as srv:
        pid = int(get(srv, "/pid")[2])
        assert _sleep_request(srv, 4.0) == 200
        assert int(get(srv, "/pid")[2]) == pid
        assert "WORKER TIMEOUT" not in srv.output


def _mapped_files(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("worker", ["gevent", "eventlet"])
def test_master_never_loads_the_coroutine_library(worker: str) -> None:
    with Server("-k", worker, "-w", "1") as srv:
        worker_pid = int(get(srv, "/pid")[2])
        # greenlet is a C extension both libraries load: visible in a process's memory map.
        assert "greenlet" in _mapped_files(worker_pid)
        assert "greenlet" not in _mapped_files(srv.pid)
        assert "gevent" not in _mapped_files(srv.pid)


def test_worker_connections_bound_green_concurrency() -> None:
    # With --worker-connections 2 and one worker, 4 requests of 1 s take two rounds.
    with Server("-k", "gevent", "-w", "1", "--worker-connections", "2") as srv:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: _sleep_request(srv, 1.0), range(4)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 4
    assert elapsed >= 1.9, elapsed


# -- the custom worker example: a raw TCP key-value service --------------------------------


class LineClient:
    def __init__(self, srv: Server) -> None:
        self.sock = srv.connect(timeout=10)
        self.buf = b""

    def ask(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\n")
        return self.read_line()

    def read_line(self) -> str:
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError(f"closed; buffered {self.buf!r}")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def close(self) -> None:
        self.sock.close()


def kv_server(*args: str) -> Server:
    return Server("--chdir", str(EXAMPLES), "-k", "kvstore:KVWorker", *args, app="", wait=False)


def wait_listening(srv: Server) -> None:
    srv.url = srv.wait_for(r"Listening at: (\S+) \(", 15).group(1)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            client = LineClient(srv)
        except OSError:
            time.sleep(0.05)
            continue
        try:
            if client.ask("PID").startswith("PID "):
                return
        finally:
            client.close()
    raise AssertionError(srv.output)


def test_kvstore_long_lived_clients_and_graceful_stop() -> None:
    srv = kv_server("-w", "1", "--graceful-timeout", "5")
    try:
        wait_listening(srv)
        clients = [LineClient(srv) for _ in range(5)]
        for n, client in enumerate(clients):
            assert client.ask(f"SET k{n} v{n}") == "OK"
        for _ in range(3):  # the same connections, again and again
            for n, client in enumerate(clients):
                assert client.ask(f"GET k{(n + 1) % 5}") == f"VALUE v{(n + 1) % 5}"
        assert clients[0].ask("KEYS") == "KEYS k0 k1 k2 k3 k4"
        assert clients[1].ask("DEL k0") == "DELETED"
        assert clients[2].ask("GET k0") == "NONE"
        assert clients[3].ask("FROB") == "ERROR unknown command"
        assert clients[4].ask("QUIT") == "BYE"
        srv.signal(signal.SIGTERM)
        for client in clients[:4]:
            assert client.read_line() == "BYE shutting down"
            assert client.sock.recv(1) == b""
            client.close()
        clients[4].close()
        assert srv.wait(15) == ExitCode.OK
    finally:
        srv.stop()


def test_kvstore_several_workers_and_max_requests() -> None:
    srv = kv_server("-w", "2", "--max-requests", "20")
    try:
        wait_listening(srv)
        pids: set[int] = set()
        deadline = time.monotonic() + 20
        while len(pids) < 3 and time.monotonic() < deadline:  # recycled after 20 commands
            client = LineClient(srv)
            try:
                pids.add(int(client.ask("PID").split()[1]))
            except (ConnectionError, OSError):
                pass  # the worker may be recycling right now
            finally:
                client.close()
        assert len(pids) >= 3, srv.output
        assert re.search(r"asks to be replaced: served", srv.output)
    finally:
        srv.stop()


def test_builtin_worker_still_needs_an_app() -> None:
    proc = Server("-k", "sync", app="", wait=False)
    try:
        assert proc.wait(15) == ExitCode.USAGE
    finally:
        proc.stop()


def test_custom_class_that_needs_an_app_fails_to_boot_once() -> None:
    srv = Server("-k", "herder.workers.sync:SyncWorker", app="", wait=False)
    try:
        assert srv.wait(20) == ExitCode.WORKER_BOOT_ERROR
        assert "needs an application" in srv.output
    finally:
        srv.stop()
