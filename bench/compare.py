"""Compare herder with Gunicorn and uWSGI on a hello-world app, side by side, with wrk.

Usage (from anywhere; `make bench` and `make bench-quick` call it):

    python3 bench/compare.py [--quick] [--rounds N] [--duration S] [--connections C]
                             [--workers N] [--threads T] [--servers a,b,...]
                             [--scenarios keepalive,close]

It installs what it needs (wrk from Debian's packages if missing; `bench/.venv` with pinned
gunicorn and uWSGI and this checkout of herder), then for each round, for each server, starts
the server on a free 127.0.0.1 port, waits until it answers, warms it up for 1 s and runs wrk
once per scenario, then stops it. It prints a Markdown table of the medians over rounds, with
ratios against uWSGI and Gunicorn, and writes every run to bench/results/compare-<date>.json.

Rules:
- Rounds are interleaved (round > server > scenario), so drift on the machine (heat, other
  load) spreads over every server instead of favouring whichever ran first.
- Every run is bounded in time and no server outlives the script: each is stopped in a
  `finally`, by process group, also on Ctrl-C or SIGTERM.
- A server that fails is reported and skipped for that round; the exit status is then 1.
See bench/README.md for how to read the results.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

import benchenv
import contenders
import tally
import wrkload

APPS_DIR = benchenv.REPO / "bench" / "apps"
RESULTS_DIR = benchenv.REPO / "bench" / "results"
# Scenario name -> extra request headers for wrk.
SCENARIOS: dict[str, tuple[str, ...]] = {"keepalive": (), "close": ("Connection: close",)}
_LOG_TAIL_BYTES = 4000
# What a comparison yields: the runs that were measured, and the servers that failed.
Outcome = tuple[list[tally.Sample], list[tally.Failure]]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one comparison runs."""

    rounds: int
    duration_s: float
    connections: int
    workers: int
    threads: int
    servers: tuple[str, ...]
    scenarios: tuple[str, ...]
    warmup_s: float = 1.0
    start_timeout_s: float = 30.0


def parse_args(argv: Sequence[str] | None = None) -> Plan:
    """Read the command line into a `Plan`; `--quick` means 1 round of 2 s unless overridden."""
    args = _parser().parse_args(argv)
    return Plan(
        rounds=args.rounds or (1 if args.quick else 3),
        duration_s=args.duration or (2.0 if args.quick else 10.0),
        connections=args.connections,
        workers=args.workers,
        threads=args.threads,
        servers=_choices(args.servers, contenders.CONTENDERS, "server"),
        scenarios=_choices(args.scenarios, SCENARIOS, "scenario"),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: 1 round, 2 s per run")
    add("--rounds", type=_positive_int, help="rounds, each running every server (default 3)")
    add("--duration", type=_positive_float, help="seconds per wrk run (default 10)")
    add("--connections", type=_positive_int, default=50, help="wrk connections (default 50)")
    add("--workers", type=_positive_int, default=2, help="server processes (default 2)")
    add("--threads", type=_positive_int, default=4, help="gunicorn gthread threads (default 4)")
    servers = ", ".join(contenders.CONTENDERS)
    add("--servers", default=",".join(contenders.DEFAULT_SERVERS), help=f"from: {servers}")
    add("--scenarios", default=",".join(SCENARIOS), help="from: keepalive, close")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number: {text}")
    return value


def _choices(text: str, known: Collection[str], what: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise SystemExit(f"unknown {what}(s) {unknown or text!r}; choose from {', '.join(known)}")
    return names


def run_plan(plan: Plan, bin_dir: Path) -> Outcome:
    """Run every round, server and scenario; collect the samples and the failures."""
    samples: list[tally.Sample] = []
    failures: list[tally.Failure] = []
    for round_no in range(1, plan.rounds + 1):
        for server in plan.servers:
            try:
                samples += measure(server, round_no, plan, bin_dir)
            except (contenders.ServerStartError, wrkload.WrkOutputError) as exc:
                failures.append(tally.Failure(server, round_no, str(exc)))
                _say(f"round {round_no} {server}: FAILED: {exc}")
            except subprocess.TimeoutExpired as exc:
                failures.append(tally.Failure(server, round_no, f"timed out: {exc}"))
                _say(f"round {round_no} {server}: TIMED OUT: {exc}")
    return samples, failures


def measure(server: str, round_no: int, plan: Plan, bin_dir: Path) -> list[tally.Sample]:
    """Start `server`, warm it up, run each scenario once, stop it."""
    launch = _launch(bin_dir, plan, contenders.free_port())
    command = contenders.CONTENDERS[server].command(launch)
    with tempfile.TemporaryFile() as log:
        try:
            with contenders.running(command, cwd=benchenv.REPO, log=log) as process:
                contenders.wait_until_answering(process, launch.port, plan.start_timeout_s)
                samples = _load(server, round_no, plan, launch.port)
                if process.poll() is not None:
                    raise contenders.ServerStartError(
                        f"exited during the run ({process.returncode})"
                    )
                return samples
        except contenders.ServerStartError as exc:
            raise contenders.ServerStartError(f"{exc}\n{_tail(log)}") from exc


def _load(server: str, round_no: int, plan: Plan, port: int) -> list[tally.Sample]:
    url = f"http://{contenders.HOST}:{port}/"
    wrkload.run_wrk(url, connections=plan.connections, duration_s=plan.warmup_s)
    samples = []
    for scenario in plan.scenarios:
        headers = SCENARIOS[scenario]
        result = wrkload.run_wrk(
            url, connections=plan.connections, duration_s=plan.duration_s, headers=headers
        )
        _say(f"round {round_no} {server} {scenario}: {result.requests_per_sec:,.0f} req/s")
        samples.append(tally.Sample(server, scenario, round_no, result))
    return samples


def _launch(bin_dir: Path, plan: Plan, port: int) -> contenders.Launch:
    return contenders.Launch(bin_dir, APPS_DIR, port, plan.workers, plan.threads)


def _tail(log: IO[bytes]) -> str:
    log.seek(0, 2)
    log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
    return "server output (tail):\n" + log.read().decode(errors="replace")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _settings(plan: Plan, bin_dir: Path) -> dict[str, object]:
    """The plan, and each server's command line (paths relative to the repository)."""
    launch = _launch(bin_dir, plan, 0)
    commands = {
        name: shlex.join(contenders.CONTENDERS[name].command(launch))
        .replace(f"{contenders.HOST}:0", f"{contenders.HOST}:PORT")
        .replace(f"{benchenv.REPO}/", "")
        for name in plan.servers
    }
    return {**asdict(plan), "wrk_threads": 1, "commands": commands}


def report(
    plan: Plan, settings: dict[str, object], facts: dict[str, object], outcome: Outcome
) -> None:
    """Print the table, the warnings and the failures; write the JSON record."""
    samples, failures = outcome
    labels = {name: c.label for name, c in contenders.CONTENDERS.items()}
    summaries = tally.summarize(samples)
    print(tally.markdown_table(summaries, labels, plan.scenarios, plan.servers))
    for warning in tally.starvation_warnings(summaries, plan.connections, labels):
        print(f"\n{warning}")
    for failure in failures:
        print(f"\nFAILED {failure.server} (round {failure.round}): {failure.reason}")
    record = tally.report_record(facts, settings, samples, failures)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    _say(f"wrote {tally.write_record(record, RESULTS_DIR, stamp)}")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through every `finally`


def main(argv: Sequence[str] | None = None) -> int:
    """Run a comparison; 0 when every server was measured, 1 otherwise, 130 on interrupt."""
    plan = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        wrkload.ensure_wrk()
        bin_dir = benchenv.ensure_bench_venv()
        facts = benchenv.machine_facts(bin_dir)  # before the load, for a fair load average
        outcome = run_plan(plan, bin_dir)
    except KeyboardInterrupt:
        _say("interrupted; every server was stopped")
        return 130
    report(plan, _settings(plan, bin_dir), facts, outcome)
    samples, failures = outcome
    return 1 if failures or not samples else 0


if __name__ == "__main__":
    sys.exit(main())
