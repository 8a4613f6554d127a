"""Behind one nginx: herder over uwsgi, herder over proxy_pass, uWSGI and Gunicorn over uwsgi.

Usage (`make bench-nginx` runs the full comparison):

    python3 bench/nginx.py [--quick] [--rounds N] [--duration S] [--connections C]
                           [--workers N] [--servers a,b,...] [--bin-dir DIR] [--herder PATH]

Every contender serves `bench/apps/hello.py` with the same number of worker processes on a
free 127.0.0.1 port; one nginx (one worker process, its own temporary prefix, pid and logs)
is started in front of it with the site configuration users copy from `deploy/nginx/`
(`herder-uwsgi.conf` for the uwsgi protocol, `herder-proxy.conf` for HTTP with upstream
keep-alive), and wrk loads nginx with keep-alive client connections. The contenders:

- herder-uwsgi: `herder -k event -b uwsgi://...` behind `uwsgi_pass`;
- herder-proxy: `herder -k event -b ...` behind `proxy_pass` (HTTP/1.1, keep-alive upstream);
- uwsgi: uWSGI `--socket` (its uwsgi protocol socket) behind `uwsgi_pass`;
- gunicorn-uwsgi: Gunicorn `--protocol uwsgi` (sync workers) behind `uwsgi_pass`.

Rules are those of `compare.py`: rounds interleaved, every run bounded in time, every process
(server and nginx) started in its own process group and stopped by it in a `finally`. The
table gives median requests/s and p99 over rounds, with the ratio against uWSGI; the JSON
record goes to bench/results/compare-nginx-<date>.json. Needs nginx (`scripts/ensure-nginx`).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import benchenv
import contenders
import tally
import wrkload

APPS_DIR = benchenv.REPO / "bench" / "apps"
DEPLOY = benchenv.REPO / "deploy" / "nginx"
RESULTS_DIR = benchenv.REPO / "bench" / "results"
SCENARIO = "nginx-keepalive"
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


@dataclass(frozen=True, slots=True)
class Upstream:
    """A contender: how it starts, and which deploy/nginx file puts nginx in front of it."""

    name: str
    label: str
    site: str  # the deploy/nginx file
    example: str  # the upstream address written in that file
    build: Callable[[Path, Path, int, int], list[str]]  # (bin_dir, herder, port, workers)


def _herder(uwsgi: bool) -> Callable[[Path, Path, int, int], list[str]]:
    def build(bin_dir: Path, herder: Path, port: int, workers: int) -> list[str]:
        bind = f"uwsgi://127.0.0.1:{port}" if uwsgi else f"127.0.0.1:{port}"
        return [str(herder), "-w", str(workers), "-k", "event", "-b", bind, *_app_args()]

    return build


def _app_args() -> list[str]:
    return ["--chdir", str(APPS_DIR), "hello:app"]


def _uwsgi(bin_dir: Path, herder: Path, port: int, workers: int) -> list[str]:
    return [
        str(bin_dir / "uwsgi"),
        *("--socket", f"127.0.0.1:{port}", "--processes", str(workers), "--master"),
        *("--disable-logging", "--die-on-term", "--need-app"),
        *("--wsgi-file", str(APPS_DIR / "hello.py"), "--callable", "app"),
    ]


def _gunicorn(bin_dir: Path, herder: Path, port: int, workers: int) -> list[str]:
    return [
        str(bin_dir / "gunicorn"),
        *("-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}", "--protocol", "uwsgi"),
        *("--log-level", "warning", *_app_args()),
    ]


UWSGI_SITE = ("herder-uwsgi.conf", "127.0.0.1:3031")
PROXY_SITE = ("herder-proxy.conf", "127.0.0.1:8000")
UPSTREAMS = {
    u.name: u
    for u in (
        Upstream("herder-uwsgi", "herder uwsgi", *UWSGI_SITE, _herder(True)),
        Upstream("herder-proxy", "herder proxy_pass", *PROXY_SITE, _herder(False)),
        Upstream("uwsgi", "uWSGI --socket", *UWSGI_SITE, _uwsgi),
        Upstream("gunicorn-uwsgi", "gunicorn --protocol uwsgi", *UWSGI_SITE, _gunicorn),
    )
}


@dataclass(frozen=True, slots=True)
class Plan:
    rounds: int
    duration_s: float
    connections: int
    workers: int
    servers: tuple[str, ...]
    bin_dir: str
    herder: str
    warmup_s: float = 1.0
    start_timeout_s: float = 30.0


def parse_args(argv: Sequence[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: 1 round, 2 s per run")
    add("--rounds", type=int, help="rounds, each running every server (default 3)")
    add("--duration", type=float, help="seconds per wrk run (default 10)")
    add("--connections", type=int, default=50, help="wrk connections to nginx (default 50)")
    add("--workers", type=int, default=2, help="server processes (default 2)")
    add("--servers", default=",".join(UPSTREAMS), help=f"from: {', '.join(UPSTREAMS)}")
    add("--bin-dir", help="where gunicorn and uwsgi are (default: bench/.venv/bin, made here)")
    add("--herder", help="the herder script (default: herder in the bin dir)")
    args = parser.parse_args(argv)
    servers = tuple(name.strip() for name in args.servers.split(",") if name.strip())
    unknown = [name for name in servers if name not in UPSTREAMS]
    if unknown or not servers:
        raise SystemExit(f"unknown server(s) {unknown}; choose from {', '.join(UPSTREAMS)}")
    bin_dir = args.bin_dir or ""
    return Plan(
        rounds=args.rounds or (1 if args.quick else 3),
        duration_s=args.duration or (2.0 if args.quick else 10.0),
        connections=args.connections,
        workers=args.workers,
        servers=servers,
        bin_dir=bin_dir,
        herder=args.herder or "",
    )


def site_config(upstream: Upstream, port: int, nginx_port: int) -> str:
    text = (DEPLOY / upstream.site).read_text()
    for old, new in (
        (upstream.example, f"127.0.0.1:{port}"),
        ("listen 80;", f"listen 127.0.0.1:{nginx_port} backlog=4096;"),
    ):
        if old not in text:
            raise SystemExit(f"{upstream.site} no longer contains {old!r}")
        text = text.replace(old, new)
    return text


def start_nginx(stack: ExitStack, tmp: Path, site: str, port: int) -> None:
    """nginx in front of the contender, until it accepts connections on `port`."""
    (tmp / "site.conf").write_text(site)
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp))
    shutil.copy("/etc/nginx/uwsgi_params", tmp / "uwsgi_params")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    log = stack.enter_context(open(tmp / "nginx.out", "wb"))  # noqa: SIM115
    command = [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", "stderr"]
    process = stack.enter_context(contenders.running(command, cwd=tmp, log=log))
    _wait_port(process, port, 15)


def _wait_port(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise contenders.ServerStartError(f"exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise contenders.ServerStartError(f"nothing listening on port {port} in {timeout_s:g} s")


def measure(name: str, round_no: int, plan: Plan, bin_dir: Path, herder: Path) -> tally.Sample:
    """Start the contender and nginx, warm up, run wrk once, stop both."""
    upstream = UPSTREAMS[name]
    port = contenders.free_port()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        log = stack.enter_context(open(tmp / "server.out", "wb"))
        command = upstream.build(bin_dir, herder, port, plan.workers)
        server = stack.enter_context(contenders.running(command, cwd=benchenv.REPO, log=log))
        _wait_port(server, port, plan.start_timeout_s)
        nginx_port = contenders.free_port()
        start_nginx(stack, tmp, site_config(upstream, port, nginx_port), nginx_port)
        url = f"http://127.0.0.1:{nginx_port}/"
        contenders.wait_until_answering(server, nginx_port, plan.start_timeout_s)
        wrkload.run_wrk(url, connections=plan.connections, duration_s=plan.warmup_s)
        result = wrkload.run_wrk(url, connections=plan.connections, duration_s=plan.duration_s)
        if server.poll() is not None:
            raise contenders.ServerStartError(f"exited during the run ({server.returncode})")
        _say(f"round {round_no} {name}: {result.requests_per_sec:,.0f} req/s")
        return tally.Sample(name, SCENARIO, round_no, result)


def run_plan(
    plan: Plan, bin_dir: Path, herder: Path
) -> tuple[list[tally.Sample], list[tally.Failure]]:
    samples: list[tally.Sample] = []
    failures: list[tally.Failure] = []
    for round_no in range(1, plan.rounds + 1):
        for name in plan.servers:
            try:
                samples.append(measure(name, round_no, plan, bin_dir, herder))
            except (
                contenders.ServerStartError,
                wrkload.WrkOutputError,
                subprocess.TimeoutExpired,
            ) as exc:
                failures.append(tally.Failure(name, round_no, str(exc)))
                _say(f"round {round_no} {name}: FAILED: {exc}")
    return samples, failures


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        wrkload.ensure_wrk()
        bin_dir = Path(plan.bin_dir) if plan.bin_dir else benchenv.ensure_bench_venv()
        herder = Path(plan.herder) if plan.herder else bin_dir / "herder"
        facts = benchenv.machine_facts(bin_dir)
        samples, failures = run_plan(plan, bin_dir, herder)
    except KeyboardInterrupt:
        _say("interrupted; every process was stopped")
        return 130
    labels = {name: u.label for name, u in UPSTREAMS.items()}
    print(tally.markdown_table(tally.summarize(samples), labels, (SCENARIO,), plan.servers))
    for failure in failures:
        print(f"\nFAILED {failure.server} (round {failure.round}): {failure.reason}")
    commands = {
        name: " ".join(UPSTREAMS[name].build(bin_dir, herder, 0, plan.workers))
        for name in plan.servers
    }
    settings = {
        **asdict(plan),
        "commands": commands,
        "sites": {n: UPSTREAMS[n].site for n in plan.servers},
    }
    record = tally.report_record(facts, settings, samples, failures)
    stamp = "nginx-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    _say(f"wrote {tally.write_record(record, RESULTS_DIR, stamp)}")
    return 1 if failures or not samples else 0


if __name__ == "__main__":
    sys.exit(main())
