"""Turn the suite's runs into per-(server, scenario) figures and ratios, and into JSON.

Rules:
- Rates, latencies, CPU per 1,000 requests and RSS are medians over rounds (robust to one
  noisy round); errors and completed requests are sums (an error in any round is worth seeing).
- CPU per 1,000 requests of one run = CPU seconds of the server's process group over the
  measured wrk run / completed requests x 1,000 (procstat.py says how CPU is counted).
- A row whose connections were mostly idle (`WrkResult.busy_connections` under a tenth of
  the scenario's connections) is flagged as starving: its numbers describe the few
  connections that were served, so it never counts as uWSGI's best. Nor does a row whose
  server kept the connection open when the scenario asked it to close (`kept_open`).
- uWSGI's best in a scenario is its fastest non-starving variant there; a ratio divides a
  row's requests/s by the reference's in the same scenario, None when that was not measured.
- The JSON keeps every raw run next to the summary, so every figure can be recomputed.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wrkload import WrkErrors, WrkResult

# Below this share of the scenario's connections busy on average, a row starves its clients.
STARVED_SHARE = 0.1
# Gunicorn references of the ratio columns: (server name, heading).
GUNICORN_REFERENCES = (
    ("gunicorn-sync", "x Gunicorn sync"),
    ("gunicorn-gthread", "x Gunicorn gthread"),
    ("gunicorn-gevent", "x Gunicorn gevent"),
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured wrk run of a server in a scenario, with its CPU and memory figures."""

    server: str
    scenario: str
    round: int
    connections: int
    result: WrkResult
    cpu_s: float
    workers: int
    rss_idle_mib: float | None
    rss_after_mib: float | None
    kept_open: bool = False  # asked for `Connection: close`, the server kept the connection

    @property
    def cpu_s_per_1k(self) -> float | None:
        """CPU seconds per 1,000 completed requests; None when nothing completed."""
        return self.cpu_s / self.result.requests * 1000 if self.result.requests else None


@dataclass(frozen=True, slots=True)
class Failure:
    """A server that could not be measured (in one round, or in one scenario), and why."""

    server: str
    scenario: str
    round: int
    reason: str


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures of one server in one scenario, over all rounds."""

    server: str
    scenario: str
    rounds: int
    connections: int
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    busy_connections: float
    requests: int
    errors: WrkErrors
    cpu_s_per_1k: float | None
    rss_idle_mib: float | None
    rss_after_mib: float | None
    kept_open: bool = False

    @property
    def starving(self) -> bool:
        """Most connections waited unserved (Little's law), which wrk counts as no error."""
        return self.busy_connections < self.connections * STARVED_SHARE

    @property
    def comparable(self) -> bool:
        """Measured the load asked for: neither starving nor ignoring `Connection: close`."""
        return not (self.starving or self.kept_open)


def summarize(samples: Iterable[Sample]) -> list[Summary]:
    """Medians and sums per (server, scenario), in the order the runs came."""
    groups: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.server, sample.scenario), []).append(sample)
    return [_summary(runs) for runs in groups.values()]


def _summary(runs: list[Sample]) -> Summary:
    results = [s.result for s in runs]
    return Summary(
        server=runs[0].server,
        scenario=runs[0].scenario,
        rounds=len(runs),
        connections=runs[0].connections,
        requests_per_sec=statistics.median(r.requests_per_sec for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        busy_connections=statistics.median(r.busy_connections for r in results),
        requests=sum(r.requests for r in results),
        errors=_sum_errors(r.errors for r in results),
        cpu_s_per_1k=_median_of_known(s.cpu_s_per_1k for s in runs),
        rss_idle_mib=_median_of_known(s.rss_idle_mib for s in runs),
        rss_after_mib=_median_of_known(s.rss_after_mib for s in runs),
        kept_open=any(s.kept_open for s in runs),
    )


def _median_of_known(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _sum_errors(errors: Iterable[WrkErrors]) -> WrkErrors:
    listed = list(errors)
    return WrkErrors(
        connect=sum(e.connect for e in listed),
        read=sum(e.read for e in listed),
        write=sum(e.write for e in listed),
        timeout=sum(e.timeout for e in listed),
        non_2xx_3xx=sum(e.non_2xx_3xx for e in listed),
    )


def find(summaries: Sequence[Summary], server: str, scenario: str) -> Summary | None:
    """The row of `server` in `scenario`, if it was measured."""
    for row in summaries:
        if row.server == server and row.scenario == scenario:
            return row
    return None


def best_of(summaries: Sequence[Summary], scenario: str, names: Iterable[str]) -> Summary | None:
    """The fastest comparable row of `scenario` among the servers `names`."""
    wanted = set(names)
    rows = [r for r in summaries if r.scenario == scenario and r.server in wanted and r.comparable]
    return max(rows, key=lambda r: r.requests_per_sec, default=None)


def ratio(row: Summary, reference: Summary | None) -> float | None:
    """`row`'s requests/s over `reference`'s; None without a reference or a rate."""
    if reference is None or not reference.requests_per_sec:
        return None
    return row.requests_per_sec / reference.requests_per_sec


def warnings(summaries: Sequence[Summary], labels: Mapping[str, str]) -> list[str]:
    """One line per row that did not measure the load asked for, and why."""
    lines = [
        f"WARNING: {labels.get(s.server, s.server)} {s.scenario}: only about "
        f"{s.busy_connections:.0f} of {s.connections} connections were busy on average "
        "(req/s x mean latency); the others waited unserved, which wrk does not count as "
        "errors. This row is not counted as uWSGI's best."
        for s in summaries
        if s.starving
    ]
    return lines + [
        f"WARNING: {labels.get(s.server, s.server)} {s.scenario}: the server kept the "
        "connection open after a request with `Connection: close` (RFC 9112 section 9.6 "
        "says it must close it), so wrk reused it: this row measures keep-alive and is not "
        "counted as uWSGI's best."
        for s in summaries
        if s.kept_open
    ]


def served_nothing(samples: Iterable[Sample]) -> list[Sample]:
    """Runs that completed no request, or answered every one with an error status."""
    return [
        s
        for s in samples
        if s.result.requests == 0 or s.result.errors.non_2xx_3xx >= s.result.requests
    ]


def report_record(
    facts: Mapping[str, Any],
    settings: Mapping[str, Any],
    samples: Sequence[Sample],
    failures: Sequence[Failure],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything about one suite run as JSON-ready data."""
    return {
        "machine": dict(facts),
        "settings": dict(settings),
        "summary": [
            {**asdict(s), "starving": s.starving, "comparable": s.comparable}
            for s in summarize(samples)
        ],
        "runs": [{**asdict(s), "cpu_s_per_1k": s.cpu_s_per_1k} for s in samples],
        "failures": [asdict(failure) for failure in failures],
        **extra,
    }


def write_json(record: Mapping[str, Any], path: Path) -> Path:
    """Write `record` as indented JSON to `path`; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
