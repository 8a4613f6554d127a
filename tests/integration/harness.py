"""Start the real master as a subprocess and talk to it over real sockets.

Each server runs in its own process group, bound to port 0; the real address is read back
from its "Listening at:" line. Every wait has a timeout; `stop()` ends the whole group.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

APPS = Path(__file__).parent / "apps"
LISTENING = re.compile(r"Listening at: (\S+) \((\d+)\)")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")


class Server:
    """A running `python -m herder` and what it printed."""

    def __init__(
        self,
        *args: str,
        app: str = "apps:hello",
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        argv = [*self.python_argv(), *args]
        if "-b" not in args and "--bind" not in args:
            argv += ["-b", "127.0.0.1:0"]
        argv += ["--chdir", str(cwd or APPS.parent), app] if app else []
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
            pass_fds=pass_fds,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""
        self.pid = self.proc.pid
        if wait:
            self.url = self.wait_for(LISTENING, 15).group(1)
            self.wait_serving()

    @staticmethod
    def python_argv() -> list[str]:
        return [sys.executable, "-m", "herder"]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "".join(self.lines)

    def wait_for(
        self, pattern: re.Pattern[str] | str, timeout: float, start: int = 0
    ) -> re.Match[str]:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    found = regex.search(line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"{regex.pattern!r} not seen; output:\n{self.output}")
                self._cond.wait(min(left, 0.2))

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        with self._cond:
            return sum(1 for line in self.lines if regex.search(line))

    @property
    def address(self) -> tuple[str, int] | str:
        if self.url.startswith("unix:"):
            return self.url[5:]
        host, _, port = self.url.removeprefix("http://").rpartition(":")
        return host.strip("[]"), int(port)

    def connect(self, timeout: float = 10) -> socket.socket:
        address = self.address
        if isinstance(address, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError:
            sock.close()  # refused while workers bind their own listeners (--reuse-port)
            raise
        return sock

    def wait_serving(self, timeout: float = 15) -> None:
        """Until a request is answered (workers boot after the listeners are announced)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connect(timeout=2) as sock:
                    sock.sendall(b"GET /__ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    if sock.recv(1):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"server not serving; output:\n{self.output}")
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.proc.wait(15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # stragglers of our own group only
        self.proc.wait(5)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def request(sock: socket.socket, raw: bytes) -> None:
    sock.sendall(raw)


# Bytes received past the end of a response (a pipelined reply), kept for the next read.
_leftover: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def read_response(
    sock: socket.socket, head_only: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (Content-Length, chunked or close-delimited)."""
    buf = _leftover.pop(sock, b"")
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed before a response head: {buf!r}")
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if head_only or status in (204, 304) or 100 <= status < 200:
        _leftover[sock] = rest
        return status, headers, b""
    if "content-length" in headers:
        size = int(headers["content-length"])
        while len(rest) < size:
            rest += _recv(sock)
        _leftover[sock] = rest[size:]
        return status, headers, rest[:size]
    if headers.get("transfer-encoding") == "chunked":
        body, _leftover[sock] = _read_chunked(sock, rest)
        return status, headers, body
    while data := sock.recv(65536):
        rest += data
    return status, headers, rest


def unread(sock: socket.socket) -> bytes:
    """Bytes already received on `sock` past the last response read."""
    return _leftover.get(sock, b"")


def _read_chunked(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes]:
    """The de-chunked body and the bytes after it."""
    body = b""
    while True:
        while b"\r\n" not in buf:
            buf += _recv(sock)
        line, _, buf = buf.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            while b"\r\n" not in buf:  # no trailers sent by herder: just the final CRLF
                buf += _recv(sock)
            return body, buf.partition(b"\r\n")[2]
        while len(buf) < size + 2:
            buf += _recv(sock)
        body += buf[:size]
        buf = buf[size + 2 :]


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("closed mid-body")
    return data


def get(server: Server, path: str = "/", headers: str = "") -> tuple[int, dict[str, str], bytes]:
    with server.connect() as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n".encode()
        )
        return read_response(sock)


def is_closed(sock: socket.socket, timeout: float = 5) -> bool:
    """True when the peer closed the connection (EOF or reset) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def worker_pids(master: int | Server) -> set[int]:
    """The pids of the master's children (its workers) right now."""
    pid = master.pid if isinstance(master, Server) else master
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, timeout=5
    ).stdout
    return {int(p) for p in out.split()}


def wait_until(predicate: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
