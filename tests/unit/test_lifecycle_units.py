"""Pure pieces of the master's lifecycle: the shared board, deadlines, rollouts, systemd."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herder.master import systemd
from herder.master.reexec import inherited_fds, upgrade_parent
from herder.master.rollout import Outcome, Rollout
from herder.master.workers import WorkerRecord
from herder.workers.harakiri import AlarmDeadline, HarakiriTimeout, RequestToken, Watchdog
from herder.workers.heartbeat import (
    HARAKIRI,
    REQUESTS,
    WANTS_RELOAD,
    WANTS_REPLACEMENT,
    Heartbeat,
    HeartbeatBoard,
)
from herder.workers.recycling import is_over_memory, request_budget, resident_bytes
from herder.workers.reloader import Poller, source_files, syntax_error

# -- the shared board ---------------------------------------------------------------------


def test_board_slots_are_independent_and_reset() -> None:
    board = HeartbeatBoard(slots=4)
    one, two = Heartbeat(board, 1), Heartbeat(board, 2)
    one.beat(5.0)
    one.request_started(4.0)
    one.harakiri()
    one.ask(WANTS_REPLACEMENT)
    two.ask(WANTS_RELOAD)
    assert (board.last(1), board.started(1), board.count(1, HARAKIRI)) == (5.0, 4.0, 1)
    assert board.flags(1) == WANTS_REPLACEMENT and board.flags(2) == WANTS_RELOAD
    one.request_finished(7)
    assert (board.started(1), board.count(1, REQUESTS)) == (0.0, 7)
    board.reset(1)
    assert (board.last(1), board.flags(1), board.count(1, HARAKIRI)) == (0.0, 0, 0)
    assert board.flags(2) == WANTS_RELOAD
    board.close()


def test_board_is_shared_with_a_forked_child() -> None:
    board = HeartbeatBoard(slots=2)
    pid = os.fork()
    if pid == 0:
        Heartbeat(board, 1).request_started(42.0)
        os._exit(0)
    os.waitpid(pid, 0)
    assert board.started(1) == 42.0
    board.close()


# -- deadlines ------------------------------------------------------------------------------


@pytest.fixture
def _restore_sigalrm() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGALRM)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _sleeper() -> None:
    time.sleep(5)


@pytest.mark.usefixtures("_restore_sigalrm")
def test_alarm_deadline_raises_inside_app_code() -> None:
    deadline = AlarmDeadline(0.05)
    deadline.install()
    token = RequestToken("GET", "/slow", time.monotonic())
    deadline.arm(token)
    try:
        with pytest.raises(HarakiriTimeout) as caught, deadline.inside():
            _sleeper()
    finally:
        deadline.disarm()
    assert token.expired
    assert "GET /slow" in str(caught.value)
    assert any(frame.name == "_sleeper" for frame in _frames(caught.value))


@pytest.mark.usefixtures("_restore_sigalrm")
def test_alarm_outside_app_code_only_marks_the_request() -> None:
    deadline = AlarmDeadline(0.02)
    deadline.install()
    token = RequestToken("GET", "/", time.monotonic())
    deadline.arm(token)
    time.sleep(0.1)  # not inside: no exception here
    assert token.expired
    with pytest.raises(HarakiriTimeout), deadline.inside():
        pass  # entering app code after the deadline raises at once
    deadline.disarm()


def test_watchdog_interrupts_a_request_thread() -> None:
    tokens: list[RequestToken] = []
    outcome: dict[str, Any] = {}
    seen: list[RequestToken] = []

    def request() -> None:
        tokens.append(RequestToken("POST", "/t", time.monotonic()))
        try:
            for _ in range(500):
                time.sleep(0.01)  # Python code between short waits: interruptible
        except HarakiriTimeout:
            outcome["interrupted"] = True

    thread = threading.Thread(target=request)
    thread.start()
    watchdog = Watchdog(0.1, lambda: list(tokens), seen.append)
    watchdog.start()
    thread.join(5)
    watchdog.stop()
    assert outcome == {"interrupted": True}
    assert seen == tokens and tokens[0].expired


def test_watchdog_scan_leaves_young_requests_alone() -> None:
    token = RequestToken("GET", "/", 100.0)
    watchdog = Watchdog(1.0, lambda: [token], lambda t: None)
    assert watchdog.scan(100.5) == []
    assert not token.expired


def _frames(exc: BaseException) -> list[Any]:
    import traceback

    return list(traceback.extract_tb(exc.__traceback__))


# -- recycling ------------------------------------------------------------------------------


def test_request_budget_with_jitter() -> None:
    assert request_budget(0, 10) == 0
    assert all(100 <= request_budget(100, 10) <= 110 for _ in range(50))


def test_resident_memory(tmp_path: Path) -> None:
    assert resident_bytes() > 1 << 20
    fake = tmp_path / "statm"
    fake.write_text("1000 300 0 0 0 0 0\n")
    assert resident_bytes(str(fake)) == 300 * os.sysconf("SC_PAGE_SIZE")
    assert resident_bytes(str(tmp_path / "missing")) == 0
    assert is_over_memory(1, 2 << 20) and not is_over_memory(0, 1 << 40)
    assert not is_over_memory(4, 3 << 20)


# -- rollouts -------------------------------------------------------------------------------


class FakeTable:
    def __init__(self) -> None:
        self.booted: set[int] = set()
        self.records: dict[int, WorkerRecord] = {}
        self.retired: list[int] = []

    def is_booted(self, record: WorkerRecord) -> bool:
        return record.pid in self.booted

    def retire(self, record: WorkerRecord) -> None:
        record.retired = 1.0
        self.retired.append(record.pid)


def _rollout(table: FakeTable) -> Rollout:
    old = [WorkerRecord(1, 0, 1, 0.0), WorkerRecord(2, 1, 2, 0.0)]
    new = {3: WorkerRecord(3, 2, 3, 0.0), 4: WorkerRecord(4, 3, 4, 0.0)}
    for record in (*old, *new.values()):
        table.records[record.pid] = record
    return Rollout("reload", old, new, deadline=10.0, started=0.0)


def test_rollout_retires_the_old_once_every_new_worker_booted() -> None:
    table = FakeTable()
    rollout = _rollout(table)
    table.booted = {3}
    assert rollout.check(table, 1.0) is Outcome.PENDING  # type: ignore[arg-type]
    table.booted = {3, 4}
    assert rollout.check(table, 2.0) is Outcome.DONE  # type: ignore[arg-type]
    rollout.finish(table)  # type: ignore[arg-type]
    assert table.retired == [1, 2]


def test_rollout_fails_past_its_deadline_and_stops_the_new() -> None:
    table = FakeTable()
    rollout = _rollout(table)
    table.booted = {3}
    assert rollout.check(table, 11.0) is Outcome.FAILED  # type: ignore[arg-type]
    assert "did not boot within 10 s" in rollout.failure
    rollout.abandon(table)  # type: ignore[arg-type]
    assert table.retired == [3, 4]


def test_rollout_fails_when_a_new_worker_exits() -> None:
    table = FakeTable()
    rollout = _rollout(table)
    rollout.fail("new worker 3 exited with status 4")
    table.booted = {3, 4}
    assert rollout.check(table, 1.0) is Outcome.FAILED  # type: ignore[arg-type]


# -- systemd and re-exec --------------------------------------------------------------------


def test_sd_notify_sends_a_datagram(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        assert systemd.notify("READY=1", {"NOTIFY_SOCKET": path})
        assert server.recv(1024) == b"READY=1"
        assert systemd.notify(systemd.reloading_state(), {"NOTIFY_SOCKET": path})
        assert server.recv(1024).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
    assert not systemd.notify("READY=1", {})


def test_sd_notify_abstract_socket() -> None:
    name = f"herder-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        assert systemd.notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        assert server.recv(1024) == b"STOPPING=1"


def test_listen_fds_only_for_this_pid() -> None:
    env = {"LISTEN_PID": "77", "LISTEN_FDS": "2"}
    assert systemd.listen_fds(env, 77) == [3, 4]
    assert systemd.listen_fds(env, 78) == []
    assert systemd.listen_fds({"LISTEN_PID": "77", "LISTEN_FDS": "x"}, 77) == []


def test_inherited_fds_and_parent() -> None:
    assert inherited_fds({"HERDER_FD": "3,4"}) == [3, 4]
    assert inherited_fds({}) == []
    assert upgrade_parent({"HERDER_UPGRADE_FROM": "123"}) == 123
    assert upgrade_parent({}) == 0


# -- reloader -------------------------------------------------------------------------------


def test_syntax_error_is_reported(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text("x = 1\n")
    bad.write_text("def broken(:\n")
    assert syntax_error(str(good)) == ""
    assert "SyntaxError" in syntax_error(str(bad))
    assert syntax_error(str(tmp_path / "page.html")) == ""


def test_poller_sees_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("x = 1\n")
    poller = Poller({str(path)})
    assert poller.changes() == []
    os.utime(path, (1, 1))
    assert poller.changes() == [str(path)]


def test_inotify_sees_a_changed_file(tmp_path: Path) -> None:
    from herder.workers.reloader import Inotify

    path = tmp_path / "mod.py"
    path.write_text("x = 1\n")
    watcher = Inotify({str(path)})
    try:
        path.write_text("x = 2\n")
        assert watcher.changes() == [str(path)]
    finally:
        os.close(watcher.fd)


def test_source_files_include_loaded_modules(tmp_path: Path) -> None:
    extra = tmp_path / "t.html"
    extra.write_text("")
    files = source_files([str(extra)])
    assert str(extra) in files
    assert os.path.abspath(__file__) in files


# -- preloaded application --------------------------------------------------------------------


def test_preloaded_app_reimports_project_modules_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging
    import sys

    from herder.app import load_app
    from herder.master.reloading import PreloadedApp

    module = tmp_path / "preload_target_mod.py"
    module.write_text("import json\ndef app(e, s):\n    return [b'one']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "preload_target_mod", raising=False)
    preloaded = PreloadedApp("preload_target_mod:app", [str(tmp_path)], load_app)
    try:
        assert preloaded.load()({}, None) == [b"one"]
        assert set(preloaded.modules) == {"preload_target_mod"}  # not json: a library
        module.write_text("def app(e, s):\n    return [b'two']\n")
        os.utime(module, (1, 1))  # a different mtime: the bytecode cache is not reused
        new = preloaded.reimport(logging.getLogger("test"))
        assert new is not None and new({}, None) == [b"two"]
        module.write_text("raise RuntimeError('broken')\n")
        os.utime(module, (2, 2))
        assert preloaded.reimport(logging.getLogger("test")) is None
        assert preloaded.app is not None and preloaded.app({}, None) == [b"two"]
        assert sys.modules["preload_target_mod"] is preloaded.modules["preload_target_mod"]
    finally:
        sys.modules.pop("preload_target_mod", None)
