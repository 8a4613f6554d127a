"""The thundering-herd measurement: herder's accept strategies, and the I/O-bound comparison.

Usage (`make bench-herd` runs the full measurement, `make bench-herd-quick` a smoke run):

    python3 bench/herd.py [--quick] [--duration S] [--connections C] [--workers 2,4]
                          [--classes sync,event,threaded] [--strategies plain,...]
                          [--modes keepalive,close] [--skip-io] [--only-io]

Part 1, for each strategy x worker class x worker count x mode: start herder with
`--worker-stats FILE` on the hello app, warm it up for 1 s, run wrk once, and report
requests/s, p50/p99, the spurious wakeups per accepted connection (EAGAIN wakeups / accepts,
from the workers' own counters, differences over the run) and the spread of requests
across workers (max/min).
Part 2, the I/O-bound comparison: `bench/apps/sleepy.py` (10 ms per request), 64 wrk
connections, 2 processes x 32 concurrent requests each for every server: herder gevent,
eventlet and threaded against Gunicorn gevent and gthread, side by side in one run.

Rules: every run is bounded (wrk's `-d`, hard timeouts); every server runs in its own process
group and is stopped in a `finally`; results also go to bench/results/herd-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import benchenv
import contenders
import wrkload

sys.path.insert(0, str(benchenv.REPO / "src"))
from herder.workers.stats import WorkerCounters, read_file

APPS_DIR = benchenv.REPO / "bench" / "apps"
RESULTS_DIR = benchenv.REPO / "bench" / "results"
STRATEGIES: dict[str, tuple[str, ...]] = {
    "plain": (),
    "accept-lock": ("--accept-lock",),
    "epoll-exclusive": ("--epoll-exclusive",),
    "reuse-port": ("--reuse-port",),
}
MODES: dict[str, tuple[str, ...]] = {"keepalive": (), "close": ("Connection: close",)}
WARMUP_S = 1.0
IO_CONNECTIONS = 64
IO_PER_PROCESS = 32  # 2 processes x 32 = 64 concurrent requests for every server
IO_SERVERS = (
    "herder-gevent",
    "herder-eventlet",
    "herder-threaded",
    "gunicorn-gevent",
    "gunicorn-gthread",
)


@dataclass(frozen=True, slots=True)
class HerdRow:
    strategy: str
    worker_class: str
    workers: int
    mode: str
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    errors: int
    accepts: int
    wakeups: int
    eagain: int
    spurious_per_accept: float
    requests_max: int
    requests_min: int


@dataclass(frozen=True, slots=True)
class IoRow:
    server: str
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    errors: int


def herd_run(
    bin_dir: Path, strategy: str, kind: str, workers: int, mode: str, args: argparse.Namespace
) -> HerdRow:
    port = contenders.free_port()
    url = f"http://{contenders.HOST}:{port}/"
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as log:
        stats = str(Path(tmp) / "stats")
        command = [
            str(bin_dir / "herder"),
            *("-w", str(workers), "-b", f"{contenders.HOST}:{port}", "-k", kind),
            *("--worker-stats", stats, *STRATEGIES[strategy]),
            *("--chdir", str(APPS_DIR), "hello:app"),
        ]
        with contenders.running(command, cwd=benchenv.REPO, log=log) as process:
            contenders.wait_until_answering(process, port, 30)
            # One worker answering is not all workers listening (each binds its own listener
            # under --reuse-port): a 1 s warm-up gives the others time, and warms the caches.
            wrkload.run_wrk(url, connections=args.connections, duration_s=WARMUP_S)
            before = {row.pid: row for row in read_file(stats)}
            result = wrkload.run_wrk(
                url,
                connections=args.connections,
                duration_s=args.duration,
                headers=MODES[mode],
            )
            after = read_file(stats)
    deltas = [_delta(row, before.get(row.pid)) for row in after]
    return _herd_row(strategy, kind, workers, mode, result, deltas)


def _delta(now: WorkerCounters, then: WorkerCounters | None) -> WorkerCounters:
    if then is None:
        return now
    return WorkerCounters(
        now.pid, *(getattr(now, f) - getattr(then, f) for f in WorkerCounters.__slots__[1:])
    )


def _herd_row(
    strategy: str,
    kind: str,
    workers: int,
    mode: str,
    result: wrkload.WrkResult,
    deltas: list[WorkerCounters],
) -> HerdRow:
    accepts = sum(d.accepts for d in deltas)
    eagain = sum(d.eagain for d in deltas)
    served = [d.requests for d in deltas] or [0]
    return HerdRow(
        strategy,
        kind,
        workers,
        mode,
        result.requests_per_sec,
        result.p50_ms,
        result.p99_ms,
        result.errors.total,
        accepts,
        sum(d.wakeups for d in deltas),
        eagain,
        eagain / accepts if accepts else 0.0,
        max(served),
        min(served),
    )


def _io_command(server: str, bin_dir: Path, port: int) -> list[str]:
    bind = f"{contenders.HOST}:{port}"
    app = ("--chdir", str(APPS_DIR), "sleepy:app")
    per = str(IO_PER_PROCESS)
    if server.startswith("herder-"):
        kind = server.removeprefix("herder-")
        extra = ("--threads", per) if kind == "threaded" else ("--worker-connections", per)
        return [str(bin_dir / "herder"), "-w", "2", "-b", bind, "-k", kind, *extra, *app]
    kind = server.removeprefix("gunicorn-")
    extra = ("--threads", per) if kind == "gthread" else ("--worker-connections", per)
    return [
        str(bin_dir / "gunicorn"),
        "-w",
        "2",
        "-b",
        bind,
        "-k",
        kind,
        *extra,
        "--log-level",
        "warning",
        *app,
    ]


def io_run(bin_dir: Path, server: str, args: argparse.Namespace) -> IoRow:
    port = contenders.free_port()
    with (
        tempfile.TemporaryFile() as log,
        contenders.running(
            _io_command(server, bin_dir, port), cwd=benchenv.REPO, log=log
        ) as process,
    ):
        contenders.wait_until_answering(process, port, 30)
        url = f"http://{contenders.HOST}:{port}/"
        wrkload.run_wrk(url, connections=IO_CONNECTIONS, duration_s=WARMUP_S)
        result = wrkload.run_wrk(
            url,
            connections=IO_CONNECTIONS,
            duration_s=args.duration,
        )
    return IoRow(server, result.requests_per_sec, result.p50_ms, result.p99_ms, result.errors.total)


def herd_table(rows: Sequence[HerdRow]) -> str:
    lines = [
        "| strategy | class | workers | mode | req/s | p50 ms | p99 ms | errors "
        "| spurious wakeups / accept | requests max/min |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        spread = f"{r.requests_max}/{r.requests_min}" if r.requests_min else f"{r.requests_max}/0"
        lines.append(
            f"| {r.strategy} | {r.worker_class} | {r.workers} | {r.mode} "
            f"| {r.requests_per_sec:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} "
            f"| {r.spurious_per_accept:.3f} | {spread} |"
        )
    return "\n".join(lines)


def io_table(rows: Sequence[IoRow]) -> str:
    lines = [
        "| server (2 x 32 concurrent) | req/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r.server} | {r.requests_per_sec:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} |"
        for r in rows
    ]
    return "\n".join(lines)


def _listed(known: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in known]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(known)}")
        return items

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s runs (a smoke run)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections in part 1")
    parser.add_argument("--workers", type=lambda t: [int(n) for n in t.split(",")], default=[2, 4])
    parser.add_argument(
        "--classes",
        type=_listed(("sync", "event", "threaded")),
        default=["sync", "event", "threaded"],
    )
    parser.add_argument("--strategies", type=_listed(tuple(STRATEGIES)), default=list(STRATEGIES))
    parser.add_argument("--modes", type=_listed(tuple(MODES)), default=list(MODES))
    parser.add_argument("--io-servers", type=_listed(IO_SERVERS), default=list(IO_SERVERS))
    parser.add_argument("--skip-io", action="store_true", help="only part 1")
    parser.add_argument("--only-io", action="store_true", help="only part 2")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 2.0 if args.quick else 10.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrkload.ensure_wrk()
    bin_dir = benchenv.ensure_bench_venv()
    facts = benchenv.machine_facts(bin_dir)
    herd: list[HerdRow] = []
    failures: list[str] = []
    if not args.only_io:
        for strategy in args.strategies:
            for kind in args.classes:
                for workers in args.workers:
                    for mode in args.modes:
                        try:
                            herd.append(herd_run(bin_dir, strategy, kind, workers, mode, args))
                        except (contenders.ServerStartError, wrkload.WrkOutputError) as exc:
                            failures.append(f"{strategy} {kind} -w{workers} {mode}: {exc}")
                            continue
                        print(
                            f"{strategy} {kind} -w{workers} {mode}: "
                            f"{herd[-1].requests_per_sec:,.0f} req/s",
                            file=sys.stderr,
                            flush=True,
                        )
    io: list[IoRow] = []
    if not args.skip_io:
        for server in args.io_servers:
            try:
                io.append(io_run(bin_dir, server, args))
            except (contenders.ServerStartError, wrkload.WrkOutputError) as exc:
                failures.append(f"{server}: {exc}")
                print(f"io {server}: FAILED: {exc}", file=sys.stderr, flush=True)
                continue
            print(f"io {server}: {io[-1].requests_per_sec:,.0f} req/s", file=sys.stderr, flush=True)
    if herd:
        print(
            f"## Accept strategies (wrk -t1 -c{args.connections} -d{args.duration:g}s, hello app)\n"
        )
        print(herd_table(herd))
    if io:
        print(
            f"\n## I/O-bound: 10 ms per request, {IO_CONNECTIONS} connections, "
            f"-d{args.duration:g}s\n"
        )
        print(io_table(io))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"herd-{stamp}.json"
    record = {
        "machine": facts,
        "settings": vars(args),
        "herd": [asdict(r) for r in herd],
        "io": [asdict(r) for r in io],
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    for failure in failures:
        print(f"\nFAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
