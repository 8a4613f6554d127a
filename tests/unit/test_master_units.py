"""Pure tests of the master's and workers' building blocks (no fork, no server)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from herder.master.pidfile import Pidfile, PidfileError
from herder.master.signals import SignalQueue
from herder.workers.base import Worker, WorkerBootError
from herder.workers.cycle import DateCache
from herder.workers.heartbeat import Heartbeat, HeartbeatBoard
from herder.workers.registry import resolve


def test_heartbeat_board_slots_are_independent() -> None:
    board = HeartbeatBoard(slots=4)
    board.beat(1, now=12.5)
    Heartbeat(board, 2).beat()
    assert board.last(0) == 0.0
    assert board.last(1) == 12.5
    assert board.last(2) > 0.0
    board.reset(1)
    assert board.last(1) == 0.0


def test_heartbeat_board_is_shared_across_fork() -> None:
    board = HeartbeatBoard(slots=2)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        board.beat(1, now=42.0)
        os._exit(0)
    os.waitpid(pid, 0)
    assert board.last(1) == 42.0


def test_pidfile_refuses_a_live_owner(tmp_path: Path) -> None:
    path = tmp_path / "p.pid"
    path.write_text(f"{os.getppid()}\n")  # a live process that is not us
    with pytest.raises(PidfileError):
        Pidfile(str(path)).create(os.getpid())


def test_pidfile_replaces_a_stale_one_and_unlinks_only_its_own(tmp_path: Path) -> None:
    path = tmp_path / "p.pid"
    path.write_text("999999999\n")
    pidfile = Pidfile(str(path))
    pidfile.create(os.getpid())
    assert path.read_text() == f"{os.getpid()}\n"
    path.write_text("1\n")  # someone else took it over
    pidfile.unlink()
    assert path.exists()
    path.write_text(f"{os.getpid()}\n")
    pidfile.unlink()
    assert not path.exists()


def test_signal_queue_records_and_wakes() -> None:
    queue = SignalQueue()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTTIN, signal.SIGCHLD)}
    old_wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(old_wakeup)
    try:
        queue.install()
        os.kill(os.getpid(), signal.SIGTTIN)
        queue.wait(1.0)
        assert queue.pop() == signal.SIGTTIN
        assert queue.pop() is None
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_resolve_builtin_and_custom_worker_classes() -> None:
    assert resolve("sync").__name__ == "SyncWorker"
    assert resolve("event").__name__ == "EventWorker"
    assert resolve("herder.workers.sync:SyncWorker").__name__ == "SyncWorker"
    assert resolve("herder.workers.base.Worker") is Worker
    with pytest.raises(WorkerBootError, match="cannot import"):
        resolve("no.such.module:Worker")
    with pytest.raises(WorkerBootError, match="not a herder Worker"):
        resolve("os:path")


def test_date_cache_formats_imf_fixdate() -> None:
    value = DateCache()()
    assert value.endswith(b" GMT") and len(value) == 29
