"""The suite's results as text: Markdown tables per scenario, the targets, the README block.

Rules:
- Pure functions of the summaries (no I/O), so the output is tested on made-up figures.
- One table per scenario, servers in the suite's order; a cell that was not measured is "-".
- Ratios: against uWSGI's best variant of the scenario (named above the table) and against
  each Gunicorn worker class measured there.
- The README block sits between `BLOCK_BEGIN` and `BLOCK_END`; only full runs rewrite it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scenarios import Scenario
from tally import GUNICORN_REFERENCES, Summary, best_of, find, ratio
from targets import UWSGI, Target

BLOCK_BEGIN = "<!-- bench-results:begin (written by `make bench`; do not edit) -->"
BLOCK_END = "<!-- bench-results:end -->"
_HEADING = [
    "server",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "CPU s / 1k req",
    "idle RSS MiB / worker",
    "RSS after MiB / worker",
    "x uWSGI best",
    *(title for _, title in GUNICORN_REFERENCES),
]


def scenario_table(
    summaries: Sequence[Summary],
    scenario: Scenario,
    servers: Sequence[str],
    labels: Mapping[str, str],
) -> str:
    """The heading and table of one scenario."""
    best = best_of(summaries, scenario.name, UWSGI)
    best_text = labels.get(best.server, best.server) if best else "not measured"
    lines = [
        f"### {scenario.label} (`{scenario.name}`, wrk -c{scenario.connections})",
        "",
        f"uWSGI's best here: {best_text}.",
        "",
        _row(_HEADING),
        _row(["---"] + ["---:"] * (len(_HEADING) - 1)),
    ]
    for server in servers:
        row = find(summaries, server, scenario.name)
        if row is not None:
            lines.append(_row(_cells(summaries, row, best, labels)))
    return "\n".join(lines)


def _cells(
    summaries: Sequence[Summary], row: Summary, best: Summary | None, labels: Mapping[str, str]
) -> list[str]:
    gunicorn = [find(summaries, name, row.scenario) for name, _ in GUNICORN_REFERENCES]
    return [
        labels.get(row.server, row.server) + _flags(row),
        f"{row.requests_per_sec:,.0f}",
        _ms(row.p50_ms),
        _ms(row.p99_ms),
        row.errors.describe(),
        _num(row.cpu_s_per_1k, 3),
        _num(row.rss_idle_mib, 1),
        _num(row.rss_after_mib, 1),
        *(_num(ratio(row, ref), 2) for ref in [best, *gunicorn]),
    ]


def _flags(row: Summary) -> str:
    flags = ["starving"] * row.starving + ["kept the connection open"] * row.kept_open
    return f" ({', '.join(flags)})" if flags else ""


def _ms(value: float) -> str:
    return f"{value:.2f}" if value >= 10 else f"{value:.3f}"


def _num(value: float | None, places: int) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def targets_table(targets: Sequence[Target]) -> str:
    """The targets with their verdicts and figures."""
    lines = [_row(["target", "verdict", "figures"]), _row(["---", "---", "---"])]
    lines += [_row([t.name, f"**{t.verdict}**", t.detail]) for t in targets]
    return "\n".join(lines)


def machine_line(facts: Mapping[str, Any]) -> str:
    """Where and when: date, CPU, cores, kernel, Python, load average at the start."""
    return (
        f"{facts.get('date', 'unknown date')} on {facts.get('cpu_model', 'unknown CPU')} "
        f"({facts.get('nproc', '?')} cores, Linux {facts.get('kernel', '?')}, Python "
        f"{str(facts.get('python', '?')).split()[0]}, load average at start "
        f"{facts.get('loadavg_1_5_15', '?')})"
    )


def report(
    summaries: Sequence[Summary],
    scenarios: Sequence[Scenario],
    servers: Sequence[str],
    labels: Mapping[str, str],
    targets: Sequence[Target],
    notes: Sequence[str],
) -> str:
    """The whole Markdown report: the tables, the targets, then the notes (skips, warnings)."""
    parts = [scenario_table(summaries, s, servers, labels) for s in scenarios]
    parts += ["### Targets of the issue (reported, not asserted)", targets_table(targets)]
    if notes:
        parts.append("\n".join(f"- {note}" for note in notes))
    return "\n\n".join(parts) + "\n"


def readme_block(facts: Mapping[str, Any], targets: Sequence[Target], command: str) -> str:
    """What the README shows between the markers: the chart, where it came from, the targets."""
    return "\n".join(
        [
            BLOCK_BEGIN,
            f"Measured {machine_line(facts)} with `{command}`; every figure is in",
            "[`bench/results/latest.md`](bench/results/latest.md) and `latest.json`.",
            "",
            "![requests per second per server and scenario](bench/results/latest.png)",
            "",
            targets_table(targets),
            BLOCK_END,
        ]
    )


def replace_block(text: str, block: str) -> str:
    """`text` with the part between the markers (markers included) replaced by `block`."""
    start = text.find(BLOCK_BEGIN)
    end = text.find(BLOCK_END, start + 1)
    if start < 0 or end < 0:
        raise ValueError("the README has no benchmark block markers")
    return text[:start] + block + text[end + len(BLOCK_END) :]
