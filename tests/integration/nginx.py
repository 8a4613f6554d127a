"""A real nginx in front of herder, for the integration tests.

nginx runs as an ordinary process (`daemon off; master_process off;`) in a session of its
own, with every path (config, pid, logs, temp files) inside a temporary directory and a
loopback port picked free just before the start. It is stopped by its PID (SIGTERM, a bounded
wait, then SIGKILL), never by name. `scripts/ensure-nginx` (run by `make test`) installs it.

The site configurations are the files users copy, `deploy/nginx/*.conf`, rendered by
replacing their example addresses with the test's ones; every replaced text must occur in
the file, so the tests notice when a deploy file changes shape.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx")
MAIN_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 512; }}
http {{
    include {tmp}/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi;
    fastcgi_temp_path {tmp}/fastcgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if os.path.exists(p)), None)
    if found is None:
        raise AssertionError("nginx is not installed: run scripts/ensure-nginx (make test does)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render(name: str, replacements: dict[str, str]) -> str:
    """`deploy/nginx/NAME` with each example text replaced (each must be there)."""
    text = (DEPLOY / name).read_text()
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{name} no longer contains {old!r}")
        text = text.replace(old, new)
    return text


class Nginx:
    """One nginx process serving a rendered site configuration on 127.0.0.1:`port`."""

    def __init__(self, tmp: Path, site: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        tmp.mkdir(parents=True, exist_ok=True)
        for support in ("uwsgi_params", "mime.types"):
            shutil.copy(Path("/etc/nginx") / support, tmp / support)
        (tmp / "site.conf").write_text(site.replace("listen 80;", f"listen 127.0.0.1:{self.port};"))
        (tmp / "nginx.conf").write_text(MAIN_CONF.format(tmp=tmp))
        argv = [nginx_binary(), "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", "stderr"]
        self.log = open(tmp / "stderr.log", "wb")  # noqa: SIM115 -- closed by stop()
        self.proc = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_listening(15)

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            with socket.socket() as sock, contextlib.suppress(OSError):
                sock.settimeout(1)
                sock.connect(("127.0.0.1", self.port))
                return
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"nginx did not start:\n{self.errors()}")

    def errors(self) -> str:
        logs = [self.tmp / "stderr.log", self.tmp / "error.log"]
        return "\n".join(p.read_text(errors="replace") for p in logs if p.exists())

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        """A client connection from 127.0.0.2, so REMOTE_ADDR can be told from nginx's."""
        return http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=timeout, source_address=("127.0.0.2", 0)
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fetch(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    chunked: bool = False,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on `conn` (kept open); status, headers and the whole body."""
    conn.putrequest(method, path, skip_accept_encoding=True)
    pairs = headers.items() if isinstance(headers, dict) else headers or []
    for name, value in pairs:
        conn.putheader(name, value)
    if chunked:
        conn.putheader("Transfer-Encoding", "chunked")
    elif body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    if body is not None:
        if chunked:
            for start in range(0, len(body), 65536):
                piece = body[start : start + 65536]
                conn.send(b"%x\r\n%b\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.send(body)
    response = conn.getresponse()
    return response.status, response.headers, response.read()
