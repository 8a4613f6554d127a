"""One nginx in front of a server, for the suite's uwsgi-protocol scenario.

Rules:
- nginx runs in the foreground (`daemon off`, one worker, no master) with its own temporary
  prefix, pid file and logs; it never touches the system's nginx service or /etc/nginx
  beyond reading `uwsgi_params`.
- The site is the one users copy, `deploy/nginx/herder-uwsgi.conf`, with only the upstream
  address and the listen line replaced: what is measured is what is documented.
- nginx is started as the leader of its own process group and stopped by that group in the
  caller's `ExitStack`, like every server (contenders.running). Its CPU time is not in the
  server's figures (it is a separate group).
- Installing nginx is `scripts/ensure-nginx`'s job (the Debian package, when missing).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import benchenv
import contenders

SITE = benchenv.REPO / "deploy" / "nginx" / "herder-uwsgi.conf"
SITE_UPSTREAM = "127.0.0.1:3031"
ENSURE_NGINX = benchenv.REPO / "scripts" / "ensure-nginx"
NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi;
    fastcgi_temp_path {tmp}/fastcgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


def ensure_nginx() -> None:
    """Install nginx through the project's script when it is missing."""
    subprocess.run([str(ENSURE_NGINX)], check=True, timeout=900)


def site_config(site_text: str, upstream_port: int, nginx_port: int) -> str:
    """The deploy site with the server's address and nginx's own loopback port."""
    for old, new in (
        (SITE_UPSTREAM, f"127.0.0.1:{upstream_port}"),
        ("listen 80;", f"listen 127.0.0.1:{nginx_port} backlog=4096;"),
    ):
        if old not in site_text:
            raise ValueError(f"{SITE.name} no longer contains {old!r}")
        site_text = site_text.replace(old, new)
    return site_text


def start_nginx(stack: ExitStack, tmp: Path, upstream_port: int) -> int:
    """Start nginx in front of `upstream_port`; return the port it listens on."""
    port = contenders.free_port()
    (tmp / "site.conf").write_text(site_config(SITE.read_text(), upstream_port, port))
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp))
    shutil.copy("/etc/nginx/uwsgi_params", tmp / "uwsgi_params")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    log = stack.enter_context(open(tmp / "nginx.out", "wb"))  # noqa: SIM115
    command = [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", "stderr"]
    process = stack.enter_context(contenders.running(command, cwd=tmp, log=log))
    wait_port(process, port, 15.0)
    return port


def wait_port(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    """Return once something accepts TCP connections on `port`; raise if `process` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise contenders.ServerStartError(f"exited with status {process.returncode}")
        try:
            with socket.create_connection((contenders.HOST, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise contenders.ServerStartError(f"nothing listening on port {port} in {timeout_s:g} s")
