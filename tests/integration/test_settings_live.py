"""Settings that only show in a running server: logs, identity, sockets, config sources."""

from __future__ import annotations

import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.harness import APPS, Server, get

pytestmark = pytest.mark.integration


def test_access_log_with_gunicorn_atoms(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    fmt = '%(h)s "%(r)s" %(s)s %(b)s %(m)s %(U)s %(q)s %({x-test}i)s %({content-type}o)s'
    with Server("--access-logfile", str(log), "--access-logformat", fmt) as srv:
        get(srv, "/?a=1", "X-Test: yes\r\n")
        deadline = time.monotonic() + 5
        while "GET /?a=1" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    line = next(entry for entry in log.read_text().splitlines() if "a=1" in entry)
    assert line == '127.0.0.1 "GET /?a=1 HTTP/1.1" 200 13 GET / a=1 yes text/plain'


def test_error_logfile_and_level(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    with Server("--error-logfile", str(log), "--log-level", "debug", wait=False) as srv:
        deadline = time.monotonic() + 15
        while "Listening at" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, srv.output
            time.sleep(0.05)
        match = re.search(r"Listening at: http://127.0.0.1:(\d+)", log.read_text())
        assert match is not None
        srv.url = f"http://127.0.0.1:{match.group(1)}"
        srv.wait_serving()
        get(srv, "/boom")
        with srv.connect() as sock:  # a bad request is logged at debug level
            sock.sendall(b"BAD\r\n\r\n")
            sock.recv(100)
        time.sleep(0.3)
    text = log.read_text()
    assert "boom before the response" in text and "[DEBUG]" in text


def test_config_file_env_and_cli_precedence(tmp_path: Path) -> None:
    conf = tmp_path / "conf.py"
    conf.write_text("workers = 3\nraw_env = ['FROM_FILE=file']\n")
    with Server("-c", str(conf), "-e", "FROM_CLI=cli", env={"HERDER_WORKERS": "2"}) as srv:
        assert srv.count("Booting worker") == 2  # env beats the file
        assert get(srv, "/osenv?FROM_CLI")[2] == b"cli"


def test_user_and_group_are_dropped_in_workers() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to change identity")
    nobody = pwd.getpwnam("nobody")
    # --preload: the app (and what it imports) loads as root in the master; a worker that
    # imported it after dropping privileges could not read this machine's /root/.pyenv.
    with Server("--preload", "-u", "nobody", "-g", str(nobody.pw_gid)) as srv:
        assert get(srv, "/ids")[2] == f"{nobody.pw_uid}:{nobody.pw_gid}".encode()


def test_umask_applies_to_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with Server("-b", f"unix:{path}", "--umask", "0o077") as srv:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert get(srv)[0] == 200
    assert not path.exists()  # removed at exit


def test_bind_inherited_fd() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        fd = sock.fileno()
        os.set_inheritable(fd, True)
        srv = Server("-b", f"fd://{fd}", pass_fds=(fd,))
        try:
            assert srv.url == f"http://127.0.0.1:{port}"
            assert get(srv)[0] == 200
        finally:
            srv.stop()


def test_proc_name_in_process_titles() -> None:
    pytest.importorskip("setproctitle")
    with Server("-n", "titled") as srv:
        titles = subprocess.run(
            ["ps", "-o", "args=", "-g", str(srv.pid)], capture_output=True, text=True, timeout=5
        ).stdout
        assert "herder: master [titled]" in titles
        assert "herder: worker [titled]" in titles


def test_daemon_mode_with_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / "d.pid"
    log = tmp_path / "d.log"
    proc = subprocess.run(
        [
            *Server.python_argv(),
            "-D",
            "--pid",
            str(pidfile),
            "--error-logfile",
            str(log),
            "-b",
            "127.0.0.1:0",
            "--chdir",
            str(APPS.parent),
            "apps:hello",
        ],
        timeout=20,
        capture_output=True,
    )
    assert proc.returncode == 0  # the launching process returns at once
    deadline = time.monotonic() + 15
    while not pidfile.exists() or "Booting worker" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    try:
        assert os.getsid(pid) != os.getsid(0)  # a session of its own: detached from ours
    finally:
        os.kill(pid, signal.SIGTERM)
    while pidfile.exists():
        assert time.monotonic() < deadline + 15
        time.sleep(0.05)
