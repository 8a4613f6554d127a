"""Measure one server: start it, read its idle memory, run each scenario with wrk, stop it.

Rules:
- One start per server per round serves every direct scenario (the app has one route per
  scenario); the nginx scenario starts the server with the uwsgi protocol and one nginx in
  front. Every process is stopped by process group in a `finally` (contenders.running).
- Idle RSS is read after the server answers its first probe and every worker exists, after a
  short settle time, before any load. RSS after the load is read right after each run.
- CPU is the process group's utime + stime over the measured wrk run only (not the warm-up).
- A scenario whose wrk run fails is recorded as a failure of that scenario; the others still
  run. A server that does not start fails the whole start.
- Before a scenario that sends `Connection: close`, one probe request checks that the server
  closes the connection after its response (RFC 9112 section 9.6). A server that keeps it
  open is measured anyway, but its row is marked: wrk then reuses the connection, so the row
  measures keep-alive, not a connection per request.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import benchenv
import contenders
import front
import procstat
import tally
import wrkload
from scenarios import Scenario
from servers import Launch, Server

APPS_DIR = benchenv.REPO / "bench" / "apps"
_LOG_TAIL_BYTES = 3000
_WORKERS_TIMEOUT_S = 20.0
_CLOSE_PROBE_S = 2.0


@dataclass(frozen=True, slots=True)
class Sizes:
    """The run sizes shared by every measurement of a suite run."""

    bin_dir: Path
    workers: int
    threads: int
    duration_s: int  # wrk takes whole seconds
    warmup_s: int  # 0: no warm-up
    settle_s: float
    start_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Idle:
    """The workers found at idle and their mean RSS."""

    workers: int
    rss_mib: float | None


Measured = tuple[list[tally.Sample], list[tally.Failure]]


def launch(sizes: Sizes, port: int, uwsgi_protocol: bool = False) -> Launch:
    """The `Launch` of a server for these sizes."""
    return Launch(sizes.bin_dir, APPS_DIR, port, sizes.workers, sizes.threads, uwsgi_protocol)


def measure_direct(
    server: Server, scenarios: Sequence[Scenario], round_no: int, sizes: Sizes
) -> Measured:
    """Start `server` once and run every direct scenario against it."""
    port = contenders.free_port()
    command = server.command(launch(sizes, port))
    with tempfile.TemporaryFile() as log:
        try:
            with contenders.running(command, cwd=benchenv.REPO, log=log) as process:
                contenders.wait_until_answering(process, port, sizes.start_timeout_s)
                idle = idle_workers(process.pid, sizes)
                url = f"http://{contenders.HOST}:{port}"
                measured = _scenarios(server, scenarios, round_no, sizes, url, process, idle)
                _check_alive(process)
                return measured
        except contenders.ServerStartError as exc:
            raise contenders.ServerStartError(f"{exc}\n{tail(log)}") from exc


def measure_nginx(server: Server, scenario: Scenario, round_no: int, sizes: Sizes) -> Measured:
    """Start `server` with the uwsgi protocol and one nginx in front; run `scenario`."""
    port = contenders.free_port()
    command = server.command(launch(sizes, port, uwsgi_protocol=True))
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp_name:
        log = stack.enter_context(tempfile.TemporaryFile())
        try:
            process = stack.enter_context(contenders.running(command, cwd=benchenv.REPO, log=log))
            front.wait_port(process, port, sizes.start_timeout_s)
            nginx_port = front.start_nginx(stack, Path(tmp_name), port)
            contenders.wait_until_answering(process, nginx_port, sizes.start_timeout_s)
            idle = idle_workers(process.pid, sizes)
            url = f"http://{contenders.HOST}:{nginx_port}"
            measured = _scenarios(server, [scenario], round_no, sizes, url, process, idle)
            _check_alive(process)
            return measured
        except contenders.ServerStartError as exc:
            raise contenders.ServerStartError(f"{exc}\n{tail(log)}") from exc


def _scenarios(
    server: Server,
    scenarios: Sequence[Scenario],
    round_no: int,
    sizes: Sizes,
    base_url: str,
    process: subprocess.Popen[bytes],
    idle: Idle,
) -> Measured:
    samples, failures = [], []
    for scenario in scenarios:
        try:
            samples.append(run_one(server, scenario, round_no, sizes, base_url, process, idle))
        except (wrkload.WrkOutputError, subprocess.TimeoutExpired) as exc:
            failures.append(tally.Failure(server.name, scenario.name, round_no, str(exc)))
        _check_alive(process)
    return samples, failures


def run_one(
    server: Server,
    scenario: Scenario,
    round_no: int,
    sizes: Sizes,
    base_url: str,
    process: subprocess.Popen[bytes],
    idle: Idle,
) -> tally.Sample:
    """Warm up, then one measured wrk run with the group's CPU and the workers' RSS."""
    url = base_url + scenario.path
    kept_open = "Connection: close" in scenario.headers and not closes_when_asked(url)
    if sizes.warmup_s:
        _wrk(scenario, url, sizes.warmup_s)
    before = procstat.snapshot(process.pid)
    result = _wrk(scenario, url, sizes.duration_s)
    after = procstat.snapshot(process.pid)
    workers = procstat.worker_pids(after, process.pid)
    return tally.Sample(
        server=server.name,
        scenario=scenario.name,
        round=round_no,
        connections=scenario.connections,
        result=result,
        cpu_s=procstat.cpu_seconds(before, after),
        workers=len(workers),
        rss_idle_mib=idle.rss_mib,
        rss_after_mib=procstat.mean_mib(procstat.rss_kib(workers)),
        kept_open=kept_open,
    )


def closes_when_asked(url: str, timeout_s: float = _CLOSE_PROBE_S) -> bool:
    """Whether the server at `url` closes the connection after a `Connection: close` request."""
    parts = urllib.parse.urlsplit(url)
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    deadline = time.monotonic() + timeout_s
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s) as sock:
        sock.sendall(request.encode())
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                if not sock.recv(65536):
                    return True
            except TimeoutError:
                break
            except ConnectionResetError:
                return True
    return False


def _wrk(scenario: Scenario, url: str, duration_s: float) -> wrkload.WrkResult:
    return wrkload.run_wrk(
        url,
        connections=scenario.connections,
        duration_s=duration_s,
        headers=scenario.headers,
        script=scenario.script,
    )


def idle_workers(leader: int, sizes: Sizes) -> Idle:
    """Wait (bounded) until every worker exists, let them settle, read their RSS."""
    deadline = time.monotonic() + _WORKERS_TIMEOUT_S
    pids = procstat.worker_pids(procstat.snapshot(leader), leader)
    while len(pids) < sizes.workers and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = procstat.worker_pids(procstat.snapshot(leader), leader)
    if len(pids) < sizes.workers:
        raise contenders.ServerStartError(
            f"only {len(pids)} of {sizes.workers} workers after {_WORKERS_TIMEOUT_S:g} s"
        )
    time.sleep(sizes.settle_s)
    pids = procstat.worker_pids(procstat.snapshot(leader), leader)
    return Idle(len(pids), procstat.mean_mib(procstat.rss_kib(pids)))


def _check_alive(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        raise contenders.ServerStartError(f"exited during the run ({process.returncode})")


def tail(log: IO[bytes]) -> str:
    """The end of a server's output, for a failure report."""
    log.seek(0, 2)
    log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
    return "server output (tail):\n" + log.read().decode(errors="replace")
