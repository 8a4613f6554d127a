"""Starting, probing and stopping server processes (the suite's and bench/herd.py's).

Rules:
- A server is started in a session of its own, so it leads a process group; it is stopped by
  signalling that group: SIGTERM, a bounded wait for every member to go, then SIGKILL. Never by
  name (no pkill/killall), so nothing else on the machine is touched.
- Waiting for a server is bounded, and fails early when the server process exits.
- Servers listen on 127.0.0.1 only, on a port picked free just before the start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

HOST = "127.0.0.1"
_PROBE = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
_POLL_S = 0.05


class ServerStartError(RuntimeError):
    """A server exited or did not answer in time."""


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
