"""The servers under test: how each is started, how we know it answers, how it is stopped.

Rules:
- Every server runs the same app (`bench/apps/hello.py`) with the same number of worker
  processes, bound to 127.0.0.1 on a port picked free just before the start.
- A server is started in a session of its own, so it leads a process group; it is stopped by
  signalling that group: SIGTERM, a bounded wait for every member to go, then SIGKILL. Never by
  name (no pkill/killall), so nothing else on the machine is touched.
- Waiting for a server is bounded, and fails early when the server process exits.
- Command lines are data (`Contender.command`), so the JSON report records exactly what ran.

The flags, and why (bench/README.md repeats them for readers of the results):
- herder: `-k sync` or `-k event`; the access log is off by default.
- gunicorn sync: no keep-alive by design (it answers `Connection: close`).
- gunicorn gthread: `--threads 4` per process (2-4 x cores is gunicorn's own advice), so it
  keeps connections alive and can serve several at once.
- uWSGI: `--http-socket` (the HTTP parser inside each worker, no router process, so the
  process count matches). It does not keep connections alive: it answers HTTP/1.1 without
  `Connection: close` and closes, so wrk reports a read error per reused connection; its
  requests/s still count complete responses. `--http-keepalive` belongs to the separate HTTP
  router (`--http`), which would add a process, so it is not used.
- uwsgi-http11 (opt-in): `--http11-socket`, uWSGI's keep-alive socket. A process stays with
  its connection until the client leaves, so with more connections than processes the others
  wait unserved, and wrk, which only times requests that were sent, hides them: compare it
  with care.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
_PROBE = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
_POLL_S = 0.05


class ServerStartError(RuntimeError):
    """A server exited or did not answer in time."""


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything a command line needs: where the binaries and the app are, and the sizes."""

    bin_dir: Path
    apps_dir: Path
    port: int
    workers: int
    threads: int

    @property
    def bind(self) -> str:
        """`host:port` to listen on."""
        return f"{HOST}:{self.port}"


@dataclass(frozen=True, slots=True)
class Contender:
    """One server configuration in the comparison."""

    name: str
    label: str
    build: Callable[[Launch], list[str]]

    def command(self, launch: Launch) -> list[str]:
        """The full command line that starts this server."""
        return self.build(launch)


def _herder(kind: str) -> Callable[[Launch], list[str]]:
    def build(launch: Launch) -> list[str]:
        return [
            str(launch.bin_dir / "herder"),
            *("-w", str(launch.workers), "-b", launch.bind, "-k", kind),
            *("--chdir", str(launch.apps_dir), "hello:app"),
        ]

    return build


def _gunicorn(kind: str) -> Callable[[Launch], list[str]]:
    def build(launch: Launch) -> list[str]:
        threads = ("--threads", str(launch.threads)) if kind == "gthread" else ()
        return [
            str(launch.bin_dir / "gunicorn"),
            *("-w", str(launch.workers), "-b", launch.bind, "-k", kind, *threads),
            *("--log-level", "warning", "--chdir", str(launch.apps_dir), "hello:app"),
        ]

    return build


def _uwsgi(socket_option: str) -> Callable[[Launch], list[str]]:
    def build(launch: Launch) -> list[str]:
        return [
            str(launch.bin_dir / "uwsgi"),
            *(socket_option, launch.bind, "--processes", str(launch.workers), "--master"),
            *("--disable-logging", "--die-on-term", "--need-app"),
            *("--wsgi-file", str(launch.apps_dir / "hello.py"), "--callable", "app"),
        ]

    return build


CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender("herder-sync", "herder sync", _herder("sync")),
        Contender("herder-event", "herder event", _herder("event")),
        Contender("gunicorn-sync", "gunicorn sync", _gunicorn("sync")),
        Contender("gunicorn-gthread", "gunicorn gthread", _gunicorn("gthread")),
        Contender("uwsgi", "uWSGI http-socket", _uwsgi("--http-socket")),
        Contender("uwsgi-http11", "uWSGI http11-socket", _uwsgi("--http11-socket")),
    )
}
DEFAULT_SERVERS = ("herder-sync", "herder-event", "gunicorn-sync", "gunicorn-gthread", "uwsgi")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running(command: list[str], *, cwd: Path, log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` as the leader of a new process group; stop the whole group on exit."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop_group(process)


def wait_until_answering(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    """Return once the server answers an HTTP request; raise if it exits or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"server exited with status {process.returncode}")
        if _answers(port):
            return
        time.sleep(_POLL_S)
    raise ServerStartError(f"server did not answer on port {port} within {timeout_s:g} s")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(_PROBE)
            return sock.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def stop_group(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the process group led by `process`, wait for it to empty, then SIGKILL it."""
    group = process.pid
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        process.poll()  # reap the leader, or it stays in the group as a zombie
        if not group_members(group):
            break
        time.sleep(_POLL_S)
    _signal_group(group, signal.SIGKILL)
    process.wait(timeout=grace_s)


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already empty
        os.killpg(group, signum)


def group_members(group: int, proc: Path = Path("/proc")) -> list[int]:
    """Live (non-zombie) processes whose process group is `group`, read from /proc."""
    members = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process went away while we looked
        # After the command name: state, ppid, pgrp (proc(5)).
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(stat.parent.name))
    return members
