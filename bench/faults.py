"""Fault scenarios of the master under a bounded load, as a table of figures.

Usage (from the repository root, with the project's venv):

    .venv/bin/python bench/faults.py [--worker-class event|sync] [--kill-seconds 10]
                                     [--only name,name]

Runs the same scenarios as `tests/integration/test_lifecycle.py` (they live in
`tests/integration/scenarios.py`): three HUPs in a row, a USR2 binary upgrade completed by
WINCH and TERM, `kill -9` of a worker once a second, TTIN x3 then TTOU x2, a request past
`--harakiri`, a HUP after the app was broken, TERM during a slow request. Each starts a real
master on 127.0.0.1 port 0 with a few client threads (keep-alive and close) and prints one
Markdown row: failed/total requests, retried stale keep-alive requests, respawn times and
the scenario's own notes. A scenario that fails its check is reported and the others run;
the exit status is then 1. Every scenario is bounded in time (under ~30 s each).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def scenario_table(scenarios: Any, worker_class: str, kill_seconds: float) -> dict[str, Any]:
    def with_tmp(run: Callable[[Path, str], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with tempfile.TemporaryDirectory() as tmp:
                return run(Path(tmp), worker_class)

        return call

    return {
        "hup": lambda: scenarios.three_hups(worker_class),
        "usr2": with_tmp(scenarios.upgrade),
        "kill": lambda: scenarios.kill_workers(kill_seconds, worker_class),
        "scale": lambda: scenarios.scale(worker_class),
        "harakiri": lambda: scenarios.harakiri(worker_class),
        "broken-hup": with_tmp(scenarios.hup_broken_code),
        "term": lambda: scenarios.term_during_slow_request(worker_class),
    }


def row(result: Any) -> str:
    f = result.figures
    respawn = "-"
    if result.respawn:
        mean = sum(result.respawn) / len(result.respawn)
        respawn = f"max {max(result.respawn):.3f} s, mean {mean:.3f} s (n={len(result.respawn)})"
    notes = ", ".join(f"{key}: {value}" for key, value in result.notes.items()) or "-"
    return f"| {result.name} | {f.failed}/{f.total} | {f.retried} | {respawn} | {notes} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-class", default="event", choices=("event", "sync"))
    parser.add_argument("--kill-seconds", type=float, default=10.0)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    scenarios = importlib.import_module("tests.integration.scenarios")
    table = scenario_table(scenarios, args.worker_class, args.kill_seconds)
    chosen = [name for name in args.only.split(",") if name] or list(table)
    print(f"worker class: {args.worker_class}\n")
    print("| scenario | failed/total | retried | respawn | notes |")
    print("| --- | --- | --- | --- | --- |")
    status = 0
    for name in chosen:
        try:
            print(row(table[name]()), flush=True)
        except Exception:
            status = 1
            print(f"| {name} | FAILED | | | {traceback.format_exc(limit=1).splitlines()[-1]} |")
    return status


if __name__ == "__main__":
    sys.exit(main())
