"""Turn the runs of a comparison into medians, ratios, a Markdown table and a JSON record.

Rules:
- Rates and latencies are the median over rounds (robust to one noisy round); errors are the
  sum over rounds (an error in any round is worth seeing).
- A ratio divides a row's requests/s by the reference server's in the same scenario; it is
  left blank ("-") when the reference did not run.
- Rows are grouped by scenario, servers in the order asked for.
- A row whose connections were mostly idle (`WrkResult.busy_connections` under a tenth of
  wrk's `-c`) gets a warning: its numbers describe the few connections that were served.
- The JSON keeps every raw run next to the summary, so medians can be recomputed.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wrkload import WrkErrors, WrkResult

# Below this share of wrk's connections busy on average, a row is flagged as starving clients.
STARVED_SHARE = 0.1
# Reference servers for the ratio columns: (server name, column heading).
REFERENCES = (
    ("uwsgi", "x uWSGI"),
    ("gunicorn-sync", "x gunicorn sync"),
    ("gunicorn-gthread", "x gunicorn gthread"),
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One wrk run: a server, a scenario, a round."""

    server: str
    scenario: str
    round: int
    result: WrkResult


@dataclass(frozen=True, slots=True)
class Failure:
    """A server that could not be measured in one round, and why."""

    server: str
    round: int
    reason: str


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures of one server in one scenario, over all rounds."""

    server: str
    scenario: str
    rounds: int
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    busy_connections: float
    errors: WrkErrors


def summarize(samples: Iterable[Sample]) -> list[Summary]:
    """Medians of rate and latency, sums of errors, per (server, scenario), in run order."""
    groups: dict[tuple[str, str], list[WrkResult]] = {}
    for sample in samples:
        groups.setdefault((sample.server, sample.scenario), []).append(sample.result)
    return [_summary(server, scenario, runs) for (server, scenario), runs in groups.items()]


def _summary(server: str, scenario: str, runs: list[WrkResult]) -> Summary:
    return Summary(
        server=server,
        scenario=scenario,
        rounds=len(runs),
        requests_per_sec=statistics.median(r.requests_per_sec for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        busy_connections=statistics.median(r.busy_connections for r in runs),
        errors=_sum_errors(r.errors for r in runs),
    )


def _sum_errors(errors: Iterable[WrkErrors]) -> WrkErrors:
    listed = list(errors)
    return WrkErrors(
        connect=sum(e.connect for e in listed),
        read=sum(e.read for e in listed),
        write=sum(e.write for e in listed),
        timeout=sum(e.timeout for e in listed),
        non_2xx_3xx=sum(e.non_2xx_3xx for e in listed),
    )


def ratio(summaries: Sequence[Summary], row: Summary, reference: str) -> float | None:
    """`row`'s requests/s over `reference`'s in the same scenario; None when not measured."""
    for other in summaries:
        if other.server == reference and other.scenario == row.scenario:
            return row.requests_per_sec / other.requests_per_sec if other.requests_per_sec else None
    return None


def starvation_warnings(
    summaries: Sequence[Summary], connections: int, labels: Mapping[str, str]
) -> list[str]:
    """One line per row that kept most of wrk's connections waiting."""
    return [
        f"WARNING: {labels.get(s.server, s.server)} {s.scenario}: only about "
        f"{s.busy_connections:.0f} of {connections} connections were busy on average "
        "(req/s x mean latency); the others waited unserved, which wrk does not count as errors."
        for s in summaries
        if s.busy_connections < connections * STARVED_SHARE
    ]


def markdown_table(
    summaries: Sequence[Summary],
    labels: Mapping[str, str],
    scenarios: Sequence[str],
    servers: Sequence[str],
) -> str:
    """The results as a Markdown table: by scenario, then servers in the given order."""
    heading = ["server", "scenario", "req/s", "p50 ms", "p99 ms", "errors"]
    heading += [title for _, title in REFERENCES]
    lines = [_row(heading), _row(["---"] * 2 + ["---:"] * (len(heading) - 2))]
    by_key = {(s.scenario, s.server): s for s in summaries}
    for key in ((scenario, server) for scenario in scenarios for server in servers):
        if key in by_key:
            lines.append(_row(_cells(summaries, by_key[key], labels)))
    return "\n".join(lines)


def _cells(summaries: Sequence[Summary], row: Summary, labels: Mapping[str, str]) -> list[str]:
    ratios = [ratio(summaries, row, reference) for reference, _ in REFERENCES]
    return [
        labels.get(row.server, row.server),
        row.scenario,
        f"{row.requests_per_sec:,.0f}",
        _ms(row.p50_ms),
        _ms(row.p99_ms),
        row.errors.describe(),
        *("-" if r is None else f"{r:.2f}" for r in ratios),
    ]


def _ms(value: float) -> str:
    return f"{value:.2f}" if value >= 10 else f"{value:.3f}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def report_record(
    facts: Mapping[str, Any],
    settings: Mapping[str, Any],
    samples: Sequence[Sample],
    failures: Sequence[Failure],
) -> dict[str, Any]:
    """Everything about one comparison as JSON-ready data."""
    summaries = summarize(samples)
    return {
        "machine": dict(facts),
        "settings": dict(settings),
        "summary": [
            {
                **asdict(s),
                **{f"ratio_vs_{ref}": ratio(summaries, s, ref) for ref, _ in REFERENCES},
            }
            for s in summaries
        ],
        "runs": [asdict(sample) for sample in samples],
        "failures": [asdict(failure) for failure in failures],
    }


def write_record(record: Mapping[str, Any], directory: Path, stamp: str) -> Path:
    """Write `record` to `directory/compare-<stamp>.json`; return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"compare-{stamp}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
