"""Accept strategies and the accept counters, on real processes and sockets."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from herder.workers.stats import WorkerCounters, read_file
from tests.integration.harness import Server, get, read_response, wait_until, worker_pids

pytestmark = pytest.mark.integration

LOOP_CLASSES = ["sync", "event", "threaded"]
EPOLLEXCLUSIVE = 1 << 28


def pids_answering(srv: Server, connections: int) -> list[int]:
    return [int(get(srv, "/pid")[2]) for _ in range(connections)]


def totals(rows: list[WorkerCounters]) -> WorkerCounters:
    return WorkerCounters(
        0, *(sum(getattr(r, f) for r in rows) for f in WorkerCounters.__slots__[1:])
    )


# -- counters --------------------------------------------------------------------------------


@pytest.mark.parametrize("worker", [*LOOP_CLASSES, "gevent"])
def test_counters_are_readable_while_running(worker: str, tmp_path: Path) -> None:
    stats = tmp_path / "stats"
    with Server("-k", worker, "-w", "2", "--worker-stats", str(stats)) as srv:
        before = totals(read_file(str(stats)))
        for _ in range(20):
            assert get(srv, "/")[0] == 200
        assert wait_until(lambda: totals(read_file(str(stats))).requests >= before.requests + 20, 5)
        rows = read_file(str(stats))
        assert {row.pid for row in rows} == worker_pids(srv)
        after = totals(rows)
        assert after.accepts >= before.accepts + 20
        assert after.wakeups >= after.eagain and after.wakeups >= 1
        shown = subprocess.run(
            [os.environ.get("PYTHON", "python3"), "-m", "herder.workers.stats", str(stats)],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
        ).stdout
        assert all(str(pid) in shown for pid in worker_pids(srv))


# -- the accept lock ---------------------------------------------------------------------------


def lock_holder(srv: Server) -> int | None:
    """The worker holding a FLOCK, from /proc/locks (the kernel's own table)."""
    workers = worker_pids(srv)
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[1] == "FLOCK" and int(fields[4]) in workers:
            return int(fields[4])
    return None


@pytest.mark.parametrize("worker", LOOP_CLASSES)
def test_accept_lock_serves_and_spreads(worker: str) -> None:
    with Server("-k", worker, "-w", "2", "--accept-lock") as srv:
        assert wait_until(lambda: lock_holder(srv) is not None, 5)
        assert all(status == 200 for status, _, _ in (get(srv) for _ in range(10)))


@pytest.mark.parametrize("worker", LOOP_CLASSES)
def test_accept_lock_survives_kill_9_of_its_holder(worker: str) -> None:
    with Server("-k", worker, "-w", "3", "--accept-lock") as srv:
        assert wait_until(lambda: lock_holder(srv) is not None, 5)
        holder = lock_holder(srv)
        assert holder is not None
        others = worker_pids(srv) - {holder}
        os.kill(holder, signal.SIGKILL)  # mid-wait: it holds the lock and waits on the listener
        started = time.monotonic()
        status, _, body = get(srv, "/pid")
        elapsed = time.monotonic() - started
        # Another worker took the freed lock: a survivor, or the dead one's replacement if the
        # master respawned it first (it too had to get the lock).
        assert status == 200 and int(body) != holder
        assert elapsed < 1.0, elapsed
        assert wait_until(lambda: lock_holder(srv) in others | worker_pids(srv), 5)


# -- EPOLLEXCLUSIVE ------------------------------------------------------------------------------


def exclusive_registrations(pid: int) -> int:
    """How many epoll registrations of `pid` carry EPOLLEXCLUSIVE (from fdinfo)."""
    found = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[eventpoll]":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("tfd:") and int(line.split()[3], 16) & EPOLLEXCLUSIVE:
                found += 1
    return found


@pytest.mark.parametrize("worker", LOOP_CLASSES)
def test_epoll_exclusive_registers_the_listener_exclusively(worker: str) -> None:
    with Server("-k", worker, "-w", "2", "--epoll-exclusive") as srv:
        assert all(get(srv)[0] == 200 for _ in range(10))
        assert wait_until(lambda: all(exclusive_registrations(p) for p in worker_pids(srv)), 5)
    with Server("-k", worker, "-w", "1") as srv:
        assert all(exclusive_registrations(p) == 0 for p in worker_pids(srv))


# -- SO_REUSEPORT --------------------------------------------------------------------------------


def listening_owners(port: int) -> set[int]:
    """The pids owning a socket in LISTEN state on `port` (from /proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            inodes.add(fields[9])
    owners = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            owners.add(int(pid))
    return owners


@pytest.mark.parametrize("worker", [*LOOP_CLASSES, "gevent"])
def test_reuse_port_each_worker_listens_master_none(worker: str) -> None:
    with Server("-k", worker, "-w", "2", "--reuse-port") as srv:
        port = srv.address[1]  # type: ignore[index]
        assert wait_until(lambda: listening_owners(port) == worker_pids(srv), 5)
        assert srv.pid not in listening_owners(port)
        assert len(set(pids_answering(srv, 40))) == 2  # the kernel spreads new connections


def test_reuse_port_survives_hup() -> None:
    with Server("-k", "event", "-w", "2", "--reuse-port") as srv:
        old = worker_pids(srv)
        srv.signal(signal.SIGHUP)
        assert wait_until(
            lambda: worker_pids(srv).isdisjoint(old) and len(worker_pids(srv)) == 2, 15
        )
        port = srv.address[1]  # type: ignore[index]
        assert wait_until(lambda: listening_owners(port) == worker_pids(srv), 5)
        assert set(pids_answering(srv, 10)) <= worker_pids(srv)


@pytest.mark.parametrize("worker", ["sync", "event"])
def test_reuse_port_stopping_worker_serves_its_queue(worker: str) -> None:
    # Sync workers serve one connection at a time, so 12 slow requests queue on both workers'
    # own listeners; TTOU retires one worker mid-way: what was queued on it is still served.
    with Server("-k", worker, "-w", "2", "--reuse-port", "--graceful-timeout", "20") as srv:
        socks = [srv.connect(timeout=20) for _ in range(12)]
        try:
            for sock in socks:
                sock.sendall(b"GET /sleep?s=0.3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            srv.signal(signal.SIGTTOU)
            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                statuses = list(pool.map(lambda s: read_response(s)[0], socks))
        finally:
            for sock in socks:
                sock.close()
        assert statuses == [200] * 12
        assert wait_until(lambda: len(worker_pids(srv)) == 1, 10)
