"""The master's lifecycle under a bounded load: reloads, upgrades, kills, deadlines, hooks.

The proof scenarios live in `scenarios.py` (shared with `bench/faults.py`); their figures are
printed (`pytest -s` shows them).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from herder.errors import ExitCode
from tests.integration import scenarios
from tests.integration.harness import LISTENING, Server, get
from tests.integration.scenarios import LIFECYCLE_APP, app_copy, wait_until, worker_pids

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_three_hups_under_load_fail_nothing_and_renew_every_worker() -> None:
    result = scenarios.three_hups()
    print(result.line())
    assert result.figures.failed == 0, result.figures.errors
    assert result.figures.total > 50
    assert result.notes["old pids left"] == 0


def test_usr2_winch_term_under_load(tmp_path: Path) -> None:
    result = scenarios.upgrade(tmp_path)
    print(result.line())
    assert result.figures.failed == 0, result.figures.errors
    assert result.notes == {"old exit": 0, "pidfile moved": True, "after": 200}


def test_usr2_rollback_with_hup_to_the_old_and_term_to_the_new(tmp_path: Path) -> None:
    pidfile = tmp_path / "h.pid"
    conf = tmp_path / "exec.conf.py"
    conf.write_text("def pre_exec(server):\n    server.log.info('pre_exec hook ran')\n")
    args = ("-w", "2", "--pid", str(pidfile), "-c", str(conf))
    with Server(*args, app=LIFECYCLE_APP) as srv:
        srv.signal(signal.SIGUSR2)
        second = Path(f"{pidfile}.2")
        assert wait_until(second.exists, 20), srv.output
        new_master = int(second.read_text())
        srv.wait_for("pre_exec hook ran", 10)
        assert wait_until(lambda: len(worker_pids(new_master)) == 2, 20)
        srv.signal(signal.SIGWINCH)
        assert wait_until(lambda: worker_pids(srv.pid) == {new_master}, 20), srv.output
        srv.signal(signal.SIGHUP)  # the old master's workers come back
        assert wait_until(lambda: len(worker_pids(srv.pid) - {new_master}) == 2, 20)
        os.kill(new_master, signal.SIGTERM)
        srv.wait_for(f"The new master \\(pid:{new_master}\\) exited", 20)
        assert wait_until(lambda: not second.exists(), 10)
        assert int(pidfile.read_text()) == srv.pid
        for _ in range(10):
            _, _, body = get(srv)
            assert int(body.split()[2]) == srv.pid


def test_kill_9_a_worker_every_second() -> None:
    result = scenarios.kill_workers(seconds=10)
    print(result.line())
    assert len(result.respawn) >= 8
    assert max(result.respawn) < 1.0, result.respawn
    # only requests in flight on the killed worker may fail: at most one per client per kill
    assert result.figures.failed <= 4 * len(result.respawn), result.figures.errors


def test_ttin_ttou_exact_counts() -> None:
    result = scenarios.scale()
    print(result.line())
    assert result.notes["workers"] == [3, 4, 5, 4, 3]
    assert result.figures.failed == 0, result.figures.errors


# Threaded workers: the watchdog's exception reaches a thread only when it runs Python code
# again, so a request blocked in one long C call is ended by the master's backstop instead;
# the watchdog itself is tested in tests/unit/test_cycle_deadlines.py.
@pytest.mark.parametrize("worker_class", ["sync", "event", "gevent", "eventlet"])
def test_harakiri_answers_504_logs_the_stuck_function_and_recycles(worker_class: str) -> None:
    result = scenarios.harakiri(worker_class)
    print(result.line())
    assert result.notes["status"] == 504
    assert result.notes["replaced"] == 1
    assert result.notes["traceback logged"] is True
    assert result.notes["counted"] is True
    assert result.figures.failed == 0, result.figures.errors


def test_harakiri_in_c_code_is_ended_by_the_master() -> None:
    with Server("-w", "1", "--harakiri", "1", app=LIFECYCLE_APP) as srv:
        with srv.connect(timeout=20) as sock:
            sock.sendall(b"GET /stuck?s=30 HTTP/1.1\r\nHost: t\r\n\r\n")
            assert sock.recv(1024) == b""  # the worker is killed: closed, no response
        srv.wait_for("HARAKIRI: a request ran", 5)
        srv.wait_for(r"in stuck_in_c", 5)  # the C-level dump names the stuck function
        assert get(srv)[0] == 200


def test_timeout_aborts_a_silent_worker_with_its_traceback(tmp_path: Path) -> None:
    conf = tmp_path / "abort.conf.py"
    conf.write_text("def worker_abort(worker):\n    worker.log.info('worker_abort hook ran')\n")
    with Server("-k", "sync", "-w", "2", "-t", "2", "-c", str(conf), app=LIFECYCLE_APP) as srv:
        before = worker_pids(srv.pid)
        with srv.connect(timeout=20) as sock:
            sock.sendall(b"GET /sleep?s=30 HTTP/1.1\r\nHost: t\r\n\r\n")
            srv.wait_for("WORKER TIMEOUT", 10)
            srv.wait_for("in sleeping_beauty", 5)
            srv.wait_for("worker_abort hook ran", 5)
        assert wait_until(lambda: len(worker_pids(srv.pid) - before) == 1, 10)
        for _ in range(5):
            assert get(srv)[0] == 200


def test_hup_with_broken_code_keeps_the_old_workers(tmp_path: Path) -> None:
    result = scenarios.hup_broken_code(tmp_path)
    print(result.line())
    assert result.figures.failed == 0, result.figures.errors
    assert result.notes["old workers serving"] == result.notes["of"] == 2


def test_hup_loads_new_code(tmp_path: Path) -> None:
    site = app_copy(tmp_path)
    with Server("-w", "2", app=LIFECYCLE_APP, cwd=site) as srv:
        assert get(srv)[2].startswith(b"v1 ")
        module = site / "apps" / "lifecycle.py"
        module.write_text(module.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        srv.signal(signal.SIGHUP)
        srv.wait_for("reload complete", 20)
        assert wait_until(lambda: get(srv)[2].startswith(b"v2 "), 10)


def test_term_during_a_slow_request_completes_it_then_exits_0() -> None:
    result = scenarios.term_during_slow_request()
    print(result.line())
    assert result.notes == {"status": 200, "exit": 0}


def test_boot_failure_at_start_stops_the_master() -> None:
    srv = Server("-w", "3", app="apps.broken:app", wait=False)
    try:
        assert srv.wait(20) == ExitCode.APP_LOAD_ERROR
    finally:
        srv.stop()


def test_crash_loop_from_broken_code_stops_after_bounded_tries(tmp_path: Path) -> None:
    site = app_copy(tmp_path)
    module = site / "apps" / "lifecycle.py"
    srv = Server("-w", "1", app=LIFECYCLE_APP, cwd=site)
    try:
        srv.wait_for("Ready: 1 worker", 10)
        module.write_text(module.read_text() + "\nraise RuntimeError('broken on purpose')\n")
        for victim in worker_pids(srv.pid):
            os.kill(victim, signal.SIGKILL)
        assert srv.wait(30) == ExitCode.APP_LOAD_ERROR
        assert "Workers cannot boot (5 in a row); stopping." in srv.output
    finally:
        srv.stop()


def test_preload_hup_reimports_project_code_and_keeps_it_when_broken(tmp_path: Path) -> None:
    site = app_copy(tmp_path)
    module = site / "apps" / "lifecycle.py"
    source = module.read_text()
    with Server("-w", "2", "--preload", "--gc-freeze", app=LIFECYCLE_APP, cwd=site) as srv:
        assert get(srv)[2].startswith(b"v1 ")
        module.write_text(source + "\nraise RuntimeError('broken on purpose')\n")
        srv.signal(signal.SIGHUP)
        srv.wait_for("reload complete", 20)
        assert "failed to import, keeping the old code" in srv.output
        assert get(srv)[2].startswith(b"v1 ")
        module.write_text(source.replace('VERSION = "v1"', 'VERSION = "v2"'))
        srv.signal(signal.SIGHUP)
        assert wait_until(lambda: srv.count("reload complete") == 2, 20)
        assert wait_until(lambda: get(srv)[2].startswith(b"v2 "), 10)


def test_max_worker_memory_replaces_gracefully() -> None:
    with Server("-w", "1", "--max-worker-memory", "1", app=LIFECYCLE_APP) as srv:
        first = worker_pids(srv.pid)
        for _ in range(20):
            assert get(srv)[0] == 200
        srv.wait_for("resident memory", 10)
        srv.wait_for("recycle complete", 20)
        assert wait_until(lambda: worker_pids(srv.pid).isdisjoint(first), 10)


def test_max_worker_lifetime_replaces_gracefully() -> None:
    with Server("-w", "1", "--max-worker-lifetime", "1", app=LIFECYCLE_APP) as srv:
        first = worker_pids(srv.pid)
        srv.wait_for("recycle complete", 20)
        assert wait_until(lambda: worker_pids(srv.pid).isdisjoint(first), 10)
        assert get(srv)[0] == 200


def test_reload_on_change_and_syntax_error_is_not_fatal(tmp_path: Path) -> None:
    site = app_copy(tmp_path)
    module = site / "apps" / "lifecycle.py"
    with Server("-w", "1", "--reload", app=LIFECYCLE_APP, cwd=site) as srv:
        source = module.read_text()
        module.write_text(source + "\ndef broken(:\n")
        srv.wait_for("Reload skipped", 10)
        assert get(srv)[2].startswith(b"v1 ")
        module.write_text(source.replace('VERSION = "v1"', 'VERSION = "v2"'))
        srv.wait_for("reload complete", 20)
        assert wait_until(lambda: get(srv)[2].startswith(b"v2 "), 10)


HOOKS_CONF = """
import os
LOG = {log!r}

def note(*words):
    with open(LOG, "a") as f:
        f.write(" ".join(str(w) for w in words) + "\\n")

def on_starting(server): note("on_starting")
def when_ready(server): note("when_ready")
def on_reload(server): note("on_reload")
def pre_fork(server, worker): note("pre_fork")
def post_fork(server, worker): note("post_fork")
def post_worker_init(worker): note("post_worker_init")
def pre_request(worker, req): note("pre_request", req.method, req.path)
def post_request(worker, req, environ, resp): note("post_request", resp.status_code)
def child_exit(server, worker): note("child_exit")
def worker_exit(server, worker): note("worker_exit")
def nworkers_changed(server, new, old): note("nworkers_changed", new, old)
def on_exit(server): note("on_exit")
def worker_int(worker): raise RuntimeError("a broken hook")
"""


def test_hooks_run_and_a_raising_hook_is_only_logged(tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    conf = tmp_path / "hooks.conf.py"
    conf.write_text(HOOKS_CONF.format(log=str(log)))
    srv = Server("-w", "1", "-c", str(conf), app=LIFECYCLE_APP)
    try:
        assert get(srv, "/hello")[0] == 200
        srv.signal(signal.SIGTTIN)
        assert wait_until(lambda: "nworkers_changed 2 1" in log.read_text(), 10)
        srv.signal(signal.SIGHUP)
        srv.wait_for("reload complete", 20)
        srv.signal(signal.SIGTERM)
        assert srv.wait(20) == 0
    finally:
        srv.stop()
    seen = log.read_text()
    for name in (
        "on_starting",
        "when_ready",
        "on_reload",
        "pre_fork",
        "post_fork",
        "post_worker_init",
        "pre_request GET /hello",
        "post_request 200",
        "child_exit",
        "worker_exit",
        "on_exit",
    ):
        assert name in seen, name


def test_worker_int_hook_that_raises_does_not_kill_the_master(tmp_path: Path) -> None:
    conf = tmp_path / "hooks.conf.py"
    conf.write_text(HOOKS_CONF.format(log=str(tmp_path / "h.log")))
    with Server("-w", "1", "-c", str(conf), app=LIFECYCLE_APP) as srv:
        (victim,) = worker_pids(srv.pid)
        os.kill(victim, signal.SIGINT)
        srv.wait_for("Exception in hook worker_int", 10)
        assert wait_until(lambda: worker_pids(srv.pid) - {victim}, 10)
        assert get(srv)[0] == 200


def test_sd_notify_ready_reloading_stopping(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(path)
        notify.settimeout(20)
        srv = Server("-w", "1", app=LIFECYCLE_APP, env={"NOTIFY_SOCKET": path})
        try:
            assert notify.recv(4096).startswith(b"READY=1\nMAINPID=")
            srv.signal(signal.SIGHUP)
            assert notify.recv(4096).startswith(b"RELOADING=1\nMONOTONIC_USEC=")
            assert notify.recv(4096) == b"READY=1"
            srv.signal(signal.SIGTERM)
            assert notify.recv(4096) == b"STOPPING=1"
            assert srv.wait(20) == 0
        finally:
            srv.stop()


LAUNCHER = """
import os, sys
os.dup2(int(sys.argv[1]), 3)  # systemd passes activated sockets from descriptor 3
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
os.execv(sys.executable, [sys.executable, "-m", "herder", *sys.argv[2:]])
"""


def test_socket_activation_by_listen_fds() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        fd = listener.fileno()

        class Activated(Server):
            @staticmethod
            def python_argv() -> list[str]:
                return [sys.executable, "-c", LAUNCHER, str(fd)]

        srv = Activated("-w", "1", "-b", "fd://3", app=LIFECYCLE_APP, pass_fds=(fd,), wait=False)
        try:
            srv.url = srv.wait_for(LISTENING, 15).group(1)
            srv.wait_serving()
            assert srv.url.endswith(f":{listener.getsockname()[1]}")
            assert get(srv)[0] == 200
            assert "LISTEN_FDS" not in get(srv, "/osenv?LISTEN_FDS")[2].decode()
        finally:
            srv.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s"]))
