"""Draw the suite's chart: requests/s per server, one panel per scenario, as a PNG.

Usage (the suite runs it with bench/.venv's Python, where matplotlib is pinned):

    bench/.venv/bin/python bench/chart.py RESULTS.json OUT.png

Rules: the figures come from the JSON record's summary only (the chart never measures);
bars are coloured by server family; matplotlib's Agg backend, so no display is needed.
It is imported through importlib so that type checking does not need matplotlib installed.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLOURS = {"herder": "#2a7ab0", "gunicorn": "#3c9a4e", "uwsgi": "#c6692a", "granian": "#8a5cb8"}


def panels(record: dict[str, Any]) -> list[tuple[str, list[tuple[str, float, str]]]]:
    """(scenario label, [(server label, req/s, family)]) in the record's orders."""
    labels = record["settings"]["labels"]
    families = record["settings"]["families"]
    scenario_labels = record["settings"]["scenario_labels"]
    out = []
    for scenario in record["settings"]["scenarios"]:
        bars = [
            (labels[row["server"]], row["requests_per_sec"], families[row["server"]])
            for row in record["summary"]
            if row["scenario"] == scenario
        ]
        if bars:
            out.append((scenario_labels[scenario], bars))
    return out


def draw(record: dict[str, Any], out: Path) -> None:
    """Write the chart of `record` to `out`."""
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    shown = panels(record)
    columns = 2
    rows = max(1, (len(shown) + columns - 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(13, 3.6 * rows), squeeze=False)
    for ax, (title, bars) in zip(axes.flat, shown, strict=False):
        _panel(ax, title, bars)
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    if not shown:
        fig.text(0.5, 0.5, "no server was measured", ha="center")
    machine = record["machine"]
    fig.suptitle(
        f"herder vs Gunicorn, uWSGI, Granian: requests/s, {machine.get('date', '')} "
        f"({machine.get('nproc', '?')} cores, {machine.get('cpu_model', '')})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def _panel(ax: Any, title: str, bars: Sequence[tuple[str, float, str]]) -> None:
    names = [name for name, _, _ in bars]
    values = [value for _, value, _ in bars]
    ax.barh(names, values, color=[COLOURS.get(family, "grey") for _, _, family in bars])
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    for y, value in enumerate(values):
        ax.text(value, y, f" {value:,.0f}", va="center", fontsize=7)
    ax.set_xlim(0, max(values, default=1) * 1.18 or 1)


def main(argv: Sequence[str]) -> int:
    """Draw RESULTS.json into OUT.png."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    draw(json.loads(Path(argv[0]).read_text()), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
