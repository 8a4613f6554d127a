"""The master process: startup, respawn, scaling and stopping, with real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from herder.errors import ExitCode
from tests.integration.harness import (
    APPS,
    BOOTED,
    Server,
    get,
    read_response,
    wait_until,
    worker_pids,
)

pytestmark = pytest.mark.integration


def test_app_import_failure_exits_with_distinct_code() -> None:
    srv = Server("-w", "2", app="apps.broken:app", wait=False)
    try:
        assert srv.wait(20) == ExitCode.APP_LOAD_ERROR
        assert "this module is broken on purpose" in srv.output
        assert "Traceback" in srv.output
        assert srv.count(BOOTED.pattern) <= 2  # no respawn loop
    finally:
        srv.stop()


def test_bad_setting_is_one_line_and_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "herder", "--workers", "many", "apps:hello"],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=APPS.parent,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "workers" in lines[0]


def test_killed_worker_is_respawned() -> None:
    with Server("-w", "2") as srv:
        before = worker_pids(srv)
        assert len(before) == 2
        victim = next(iter(before))
        os.kill(victim, signal.SIGKILL)
        assert wait_until(
            lambda: len(worker_pids(srv) - before) == 1 and len(worker_pids(srv)) == 2, 5
        ), srv.output
        assert get(srv)[0] == 200


def test_ttin_ttou_scale_workers() -> None:
    with Server("-w", "2") as srv:
        for expected in (3, 4):
            srv.signal(signal.SIGTTIN)
            assert wait_until(lambda n=expected: len(worker_pids(srv)) == n, 5), expected
        for expected in (3, 2, 1, 1):
            srv.signal(signal.SIGTTOU)
            assert wait_until(lambda n=expected: len(worker_pids(srv)) == n, 5), expected


def test_term_finishes_the_in_flight_request_then_exits_0(worker_class: str) -> None:
    srv = Server("-k", worker_class, "-w", "1")
    try:
        with srv.connect() as sock:
            sock.sendall(b"GET /sleep?s=1.5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            time.sleep(0.3)
            srv.signal(signal.SIGTERM)
            status, _, body = read_response(sock)
            assert (status, body) == (200, b"slept")
        assert srv.wait(15) == 0
    finally:
        srv.stop()


def test_int_stops_fast() -> None:
    srv = Server("-w", "2", "--graceful-timeout", "30")
    try:
        with srv.connect() as sock:
            sock.sendall(b"GET /sleep?s=20 HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.3)
            started = time.monotonic()
            srv.signal(signal.SIGINT)
            assert srv.wait(10) == 0
            assert time.monotonic() - started < 5
    finally:
        srv.stop()


def test_hung_worker_is_aborted_with_its_traceback() -> None:
    with Server("-w", "1", "-t", "2", "-k", "sync") as srv, srv.connect() as sock:
        sock.sendall(b"GET /sleep?s=30 HTTP/1.1\r\nHost: t\r\n\r\n")
        srv.wait_for("WORKER TIMEOUT", 10)
        srv.wait_for(r"in hello", 10)  # the thread dump names the sleeping function
        assert wait_until(lambda: get(srv)[0] == 200, 10)


def test_pidfile_written_and_removed(tmp_path: Path) -> None:
    pidfile = tmp_path / "herder.pid"
    srv = Server("--pid", str(pidfile))
    try:
        assert int(pidfile.read_text()) == srv.pid
        srv.signal(signal.SIGTERM)
        assert srv.wait(15) == 0
        assert not pidfile.exists()
    finally:
        srv.stop()


def test_max_requests_recycles_workers(worker_class: str) -> None:
    with Server("-k", worker_class, "-w", "1", "--max-requests", "3") as srv:
        # The replacement is graceful: the old worker serves on until its successor booted.
        pids: set[bytes] = set()
        deadline = time.monotonic() + 15
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.add(get(srv, "/pid")[2])
        assert len(pids) >= 2
        assert "asks to be replaced: served" in srv.output


def test_preload_loads_in_master(tmp_path: Path) -> None:
    with Server("-w", "2", "--preload") as srv:
        assert get(srv)[0] == 200


def test_hup_replaces_workers() -> None:
    with Server("-w", "2") as srv:
        before = worker_pids(srv)
        srv.signal(signal.SIGHUP)
        assert wait_until(lambda: len(worker_pids(srv)) == 2 and not worker_pids(srv) & before, 10)
        assert get(srv)[0] == 200


def test_load_while_killing_a_worker_keeps_serving() -> None:
    with Server("-w", "2", "-k", "event") as srv:
        failures = 0
        ok = 0
        stop = threading.Event()

        def load() -> None:
            nonlocal failures, ok
            deadline = time.monotonic() + 5
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    ok += get(srv)[0] == 200
                except OSError:
                    failures += 1

        thread = threading.Thread(target=load)
        thread.start()
        time.sleep(0.5)
        os.kill(next(iter(worker_pids(srv))), signal.SIGKILL)
        thread.join(10)
        stop.set()
        assert ok > 50
        assert failures <= 2  # only what was in flight on the killed worker


def test_workers_exit_when_the_master_dies(worker_class: str) -> None:
    srv = Server("-k", worker_class, "-w", "2")
    try:
        workers = worker_pids(srv)
        assert len(workers) == 2
        srv.signal(signal.SIGKILL)
        srv.wait(5)

        def all_gone() -> bool:
            for pid in workers:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    continue
                return False
            return True

        assert wait_until(all_gone, 10)
    finally:
        srv.stop()
