"""The side-by-side benchmark suite: herder against Gunicorn, uWSGI and Granian, with wrk.

Usage (`make bench` runs the full suite, `make bench-smoke` the quick one):

    python3 bench/suite.py [--quick] [--rounds N] [--duration S] [--workers N]
                           [--threads T] [--servers a,b] [--scenarios a,b] [--out DIR]

It installs what it needs (wrk and nginx from Debian's packages when missing; bench/.venv
with pinned Gunicorn, uWSGI, Granian, gevent, matplotlib and this checkout of herder), then
for each round, for each server: starts it on a free 127.0.0.1 port with the same app and
the same number of processes, reads its workers' idle RSS, runs every scenario once with
wrk (warm-up, then the measured run, with the group's CPU time around it) and stops it.
The nginx scenario starts the servers that speak the uwsgi protocol behind one nginx.

Full mode writes bench/results/suite-<date>.{json,md,png}; a full run of every server and
scenario also writes latest.{json,md,png} and rewrites the results block of README.md.
Quick mode (1 round of 1 s runs) writes into a temporary directory only.

Rules:
- Rounds are interleaved (round > server > scenario), and each round starts one server
  further along the list: drift on the machine spreads over every server instead of
  favouring whichever runs first.
- Every run is bounded (wrk's -d, hard timeouts) and no process outlives the suite: each is
  stopped by process group in a `finally`, also on Ctrl-C or SIGTERM.
- Exit status 1 only when a server that should run did not start, failed a run, or served
  nothing; the targets are reported, never asserted. Granian failing to install is a
  recorded skip. 130 when interrupted.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import benchenv
import contenders
import front
import procstat
import render
import runner
import tally
import targets
import wrkload
from scenarios import SCENARIOS, Scenario
from servers import SERVERS, Server, labels

RESULTS_DIR = benchenv.REPO / "bench" / "results"
README = benchenv.REPO / "README.md"
CHART_SCRIPT = benchenv.REPO / "bench" / "chart.py"
WORKER_RULE = (
    "workers = the live children of the process the suite started (the group leader: "
    "herder's, Gunicorn's and uWSGI's master, Granian's main process); CPU = every process "
    "of the leader's process group"
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one suite run does."""

    quick: bool
    rounds: int
    duration_s: int
    warmup_s: int
    settle_s: float
    workers: int
    threads: int
    servers: tuple[str, ...]
    scenarios: tuple[str, ...]
    out: str


def parse_args(argv: Sequence[str] | None = None) -> Plan:
    """Read the command line; `--quick` means 1 round of 1 s runs unless overridden.

    wrk takes whole seconds only, hence integer durations; quick runs skip the warm-up.
    """
    args = _parser().parse_args(argv)
    return Plan(
        quick=args.quick,
        rounds=args.rounds or (1 if args.quick else 3),
        duration_s=args.duration or (1 if args.quick else 8),
        warmup_s=0 if args.quick else 1,
        settle_s=0.3 if args.quick else 1.0,
        workers=args.workers,
        threads=args.threads,
        servers=_choices(args.servers, SERVERS, "server"),
        scenarios=_choices(args.scenarios, SCENARIOS, "scenario"),
        out=args.out or "",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: 1 round, 1 s per run, temporary output")
    add("--rounds", type=_positive(int), help="rounds, each running everything (default 3)")
    add("--duration", type=_positive(int), help="seconds per measured wrk run (default 8)")
    add("--workers", type=_positive(int), default=2, help="processes per server (default 2)")
    add("--threads", type=_positive(int), default=32, help="threads per process (default 32)")
    add("--servers", default=",".join(SERVERS), help=f"from: {', '.join(SERVERS)}")
    add("--scenarios", default=",".join(SCENARIOS), help=f"from: {', '.join(SCENARIOS)}")
    add("--out", help="output directory (default: bench/results, or a temporary one if quick)")
    return parser


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value

    return parse


def _choices(text: str, known: Collection[str], what: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise SystemExit(f"unknown {what}(s) {unknown or text!r}; choose from {', '.join(known)}")
    return names


def run_plan(plan: Plan, sizes: runner.Sizes) -> runner.Measured:
    """Every round, server and scenario; the samples and the failures."""
    direct = [SCENARIOS[n] for n in plan.scenarios if not SCENARIOS[n].nginx]
    nginx = [SCENARIOS[n] for n in plan.scenarios if SCENARIOS[n].nginx]
    samples: list[tally.Sample] = []
    failures: list[tally.Failure] = []
    for round_no in range(1, plan.rounds + 1):
        for name in rotated(plan.servers, round_no):
            server = SERVERS[name]
            if server.direct and direct:
                got, failed = _attempt(server, direct, round_no, sizes)
                samples, failures = samples + got, failures + failed
            for scenario in nginx if server.behind_nginx else []:
                got, failed = _attempt(server, [scenario], round_no, sizes)
                samples, failures = samples + got, failures + failed
    return samples, failures


def rotated(names: Sequence[str], round_no: int) -> list[str]:
    """The servers in the order of round `round_no`: each round starts one further along, so
    no server always runs first (or right after the same neighbour's load)."""
    shift = (round_no - 1) % len(names) if names else 0
    return [*names[shift:], *names[:shift]]


def _attempt(
    server: Server, scenarios: list[Scenario], round_no: int, sizes: runner.Sizes
) -> runner.Measured:
    """One start of `server` (direct, or behind nginx); a failed start fails its scenarios."""
    try:
        if scenarios[0].nginx:
            got, failed = runner.measure_nginx(server, scenarios[0], round_no, sizes)
        else:
            got, failed = runner.measure_direct(server, scenarios, round_no, sizes)
    except (contenders.ServerStartError, wrkload.WrkOutputError, subprocess.TimeoutExpired) as exc:
        _say(f"round {round_no} {server.name}: FAILED: {exc}")
        return [], [tally.Failure(server.name, s.name, round_no, str(exc)) for s in scenarios]
    for sample in got:
        _say(
            f"round {round_no} {server.name} {sample.scenario}: "
            f"{sample.result.requests_per_sec:,.0f} req/s, {sample.result.requests} requests"
        )
    for failure in failed:
        _say(f"round {round_no} {server.name} {failure.scenario}: FAILED: {failure.reason}")
    return got, failed


def settings(plan: Plan, sizes: runner.Sizes, skipped: dict[str, str]) -> dict[str, Any]:
    """The plan, every command line (paths relative to the repository) and the wrk loads."""
    commands: dict[str, dict[str, str]] = {}
    for name in plan.servers:
        server = SERVERS[name]
        fronts = [("direct", False)] * server.direct + [("nginx", True)] * server.behind_nginx
        commands[name] = {
            where: _shown(server.command(runner.launch(sizes, 0, uwsgi))) for where, uwsgi in fronts
        }
    loads = {
        name: _shown(
            wrkload.wrk_command(
                f"http://{contenders.HOST}:PORT{s.path}",
                connections=s.connections,
                duration_s=plan.duration_s,
                headers=s.headers,
                script=s.script,
            )
        )
        for name, s in SCENARIOS.items()
        if name in plan.scenarios
    }
    return {
        **asdict(plan),
        "commands": commands,
        "wrk": loads,
        "nginx_site": str(front.SITE.relative_to(benchenv.REPO)),
        "workers_and_cpu": WORKER_RULE,
        "skipped": skipped,
        "labels": labels(),
        "families": {name: s.family for name, s in SERVERS.items()},
        "scenario_labels": {name: s.label for name, s in SCENARIOS.items()},
    }


def _shown(command: list[str]) -> str:
    return (
        shlex.join(command)
        .replace(f"{contenders.HOST}:0", f"{contenders.HOST}:PORT")
        .replace("--port 0", "--port PORT")
        .replace(f"{benchenv.REPO}/", "")
    )


def write_outputs(plan: Plan, record: dict[str, Any], markdown: str, publish: bool) -> Path:
    """JSON, Markdown and PNG: in bench/results (plus latest.* when `publish`), `--out`, or a
    temporary directory for quick runs."""
    if plan.out:
        out = Path(plan.out)
    elif plan.quick:
        out = Path(tempfile.mkdtemp(prefix="herder-bench-"))
    else:
        out = RESULTS_DIR
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for name in [f"suite-{stamp}"] + ["latest"] * publish:
        tally.write_json(record, out / f"{name}.json")
        (out / f"{name}.md").write_text(markdown)
        _chart(benchenv.BENCH_BIN, out / f"{name}.json", out / f"{name}.png")
    return out


def publishes(plan: Plan, skipped: Collection[str]) -> bool:
    """Whether this run becomes latest.* and the README block: a full run of everything (less
    what was skipped), written to bench/results."""
    if plan.quick or plan.out:
        return False
    expected = [name for name in SERVERS if name not in skipped]
    return list(plan.servers) == expected and list(plan.scenarios) == list(SCENARIOS)


def _chart(bin_dir: Path, data: Path, png: Path) -> None:
    command = [str(bin_dir / "python"), str(CHART_SCRIPT), str(data), str(png)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0:
        _say(f"WARNING: the chart was not drawn: {done.stderr.strip()[-1000:]}")


def update_readme(facts: dict[str, Any], found: Sequence[targets.Target]) -> None:
    """Rewrite the README's results block (full runs only)."""
    options = " ".join(sys.argv[1:])  # what this run was asked for, if not the defaults
    command = f"python3 bench/suite.py {options}" if options else "make bench"
    block = render.readme_block(facts, found, command)
    README.write_text(render.replace_block(README.read_text(), block))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through every `finally`


def prepare(plan: Plan) -> tuple[Plan, Path, dict[str, str]]:
    """Install wrk, nginx and bench/.venv; drop Granian (recorded) when it did not install."""
    wrkload.ensure_wrk()
    if any(SCENARIOS[n].nginx for n in plan.scenarios):
        front.ensure_nginx()
    bin_dir = benchenv.ensure_bench_venv()
    skipped = {}
    reason = benchenv.granian_skip_reason()
    if reason and "granian" in plan.servers:
        skipped["granian"] = reason
        plan = replace(plan, servers=tuple(s for s in plan.servers if s != "granian"))
    return plan, bin_dir, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; 0, or 1 when a server failed or served nothing, 130 on interrupt."""
    plan = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        plan, bin_dir, skipped = prepare(plan)
        sizes = runner.Sizes(
            bin_dir, plan.workers, plan.threads, plan.duration_s, plan.warmup_s, plan.settle_s
        )
        facts = benchenv.machine_facts(bin_dir)  # before the load, for a fair load average
        samples, failures = run_plan(plan, sizes)
    except KeyboardInterrupt:
        _say("interrupted; every server was stopped")
        return 130
    return conclude(plan, sizes, facts, skipped, samples, failures)


def conclude(
    plan: Plan,
    sizes: runner.Sizes,
    facts: dict[str, Any],
    skipped: dict[str, str],
    samples: list[tally.Sample],
    failures: list[tally.Failure],
) -> int:
    """Print and write the results; the exit status."""
    summaries = tally.summarize(samples)
    found = targets.evaluate(summaries, labels())
    empty = tally.served_nothing(samples)
    notes = [f"SKIPPED {name}: {why}" for name, why in skipped.items()]
    notes += tally.warnings(summaries, labels())
    notes += [f"SERVED NOTHING: {s.server} {s.scenario} (round {s.round})" for s in empty]
    notes += [f"FAILED {f.server} {f.scenario} (round {f.round}): {f.reason}" for f in failures]
    chosen = [SCENARIOS[n] for n in plan.scenarios]
    markdown = render.report(summaries, chosen, plan.servers, labels(), found, notes)
    print(markdown)
    extra = {
        "targets": [asdict(t) | {"verdict": t.verdict} for t in found],
        "clock_ticks_per_s": procstat.CLOCK_TICKS,
    }
    record = tally.report_record(facts, settings(plan, sizes, skipped), samples, failures, extra)
    publish = publishes(plan, skipped)
    out = write_outputs(plan, record, markdown, publish)
    _say(f"results written to {out}")
    if publish:
        update_readme(facts, found)
        _say(f"wrote latest.* and rewrote the results block of {README}")
    return 1 if failures or empty or not samples else 0


if __name__ == "__main__":
    sys.exit(main())
