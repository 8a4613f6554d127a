"""Accept strategies' building blocks in one process: the stats board, the accept lock,
counted accepts, and the registry's lazy imports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from herder.workers.accepting import AcceptLock, accept_batch, open_lock_file
from herder.workers.registry import resolve
from herder.workers.stats import Counters, StatsBoard, WorkerCounters, read_file


def test_stats_board_counts_per_slot_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "stats"
    board = StatsBoard(slots=4, path=str(path))
    try:
        board.claim(1, 4242)
        board.claim(3, 4343)
        one, three = Counters(board, 1), Counters(board, 3)
        one.wakeup()
        one.accepted(3)
        one.found_nothing()
        one.request()
        one.request()
        three.accepted(0)  # nothing taken: nothing counted
        assert one.read() == WorkerCounters(4242, 1, 3, 1, 2)
        assert read_file(str(path)) == [
            WorkerCounters(4242, 1, 3, 1, 2),
            WorkerCounters(4343, 0, 0, 0, 0),
        ]
        board.release(1)
        assert [row.pid for row in read_file(str(path))] == [4343]
        board.claim(3, 5000)
        assert read_file(str(path)) == [WorkerCounters(5000, 0, 0, 0, 0)]
    finally:
        board.close()


def test_anonymous_board_needs_no_file() -> None:
    board = StatsBoard(slots=2)
    Counters(board, 0).request()
    assert board.read(0).requests == 1
    board.close()


def test_accept_lock_excludes_another_description_and_times_out() -> None:
    shared = open_lock_file()
    first, second = AcceptLock(shared), AcceptLock(shared)
    try:
        assert first.acquire(0.5)
        assert not second.try_acquire()
        started = time.monotonic()
        assert not second.acquire(0.2)  # bounded wait: the timer interrupts flock()
        assert 0.15 < time.monotonic() - started < 5
        first.release()
        assert second.acquire(0.5) and second.held
        assert not first.try_acquire()
    finally:
        first.close()
        second.close()
        os.close(shared)


HOLDER = """
import fcntl, os, time
fd = os.open({path!r}, os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_accept_lock_is_freed_when_the_holder_process_dies() -> None:
    shared = open_lock_file()
    mine = AcceptLock(shared)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(path=f"/proc/{os.getpid()}/fd/{shared}")],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"held\n"
        assert not mine.try_acquire()
        child.kill()
        child.wait(10)
        assert mine.acquire(1.0)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
        mine.close()
        os.close(shared)


def test_accept_batch_counts_wakeups_accepts_and_eagain() -> None:
    board = StatsBoard(slots=1)
    counters = Counters(board, 0)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        assert accept_batch(listener, counters, 4) == []
        clients = [socket.create_connection(listener.getsockname(), timeout=5) for _ in range(3)]
        time.sleep(0.05)
        taken = accept_batch(listener, counters, 2)
        taken += accept_batch(listener, counters, 2)
        assert len(taken) == 3
        for sock, peer in taken:
            assert peer is not None
            sock.close()
        for client in clients:
            client.close()
    assert counters.read() == WorkerCounters(0, 3, 3, 1, 0)
    board.close()


@pytest.mark.parametrize(
    ("name", "cls"),
    [("sync", "SyncWorker"), ("threaded", "ThreadedWorker"), ("gthread", "ThreadedWorker")],
)
def test_registry_resolves_builtin_names(name: str, cls: str) -> None:
    assert resolve(name).__name__ == cls


MASTER_IMPORTS = """
import sys
import herder.cli, herder.workers.registry
from herder.config import load_config
from herder.logs import Logs
from herder.master.arbiter import Arbiter
cfg = load_config(["-k", "gevent", "--accept-lock", "x:app"], {})
Arbiter(cfg, Logs(cfg))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("gevent", "eventlet", "greenlet")))
"""


def test_master_side_modules_do_not_import_coroutine_libraries() -> None:
    code = MASTER_IMPORTS
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
