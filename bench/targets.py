"""The issue's performance targets, evaluated from one suite run: met, not met, or not measured.

Rules:
- Targets are reported, never asserted: the suite's exit status does not depend on them.
- Every verdict carries the figures it was decided on, with the rows' labels.
- "herder" in a target means the worker class the target names; where it names none, herder's
  fastest class in that scenario (the detail says which). uWSGI's best is its fastest
  comparable variant in the scenario (tally.best_of: not starving its connections, not
  keeping open a connection it was asked to close).
- A target whose rows were not measured is `None` (not measured), never met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from servers import SERVERS
from tally import Summary, best_of, find, ratio

UWSGI = tuple(name for name, s in SERVERS.items() if s.family == "uwsgi")
HERDER = tuple(name for name, s in SERVERS.items() if s.family == "herder")
# (herder class, Gunicorn class) compared on idle worker RSS: the same model, and event
# (herder's keep-alive worker) against gthread (Gunicorn's).
RSS_PAIRS = (
    ("herder-sync", "gunicorn-sync"),
    ("herder-event", "gunicorn-gthread"),
    ("herder-threaded", "gunicorn-gthread"),
    ("herder-gevent", "gunicorn-gevent"),
)
# Who a target compares: a server's name, or a family for its fastest comparable row.
FAMILIES = {"herder": HERDER, "uwsgi": UWSGI}


@dataclass(frozen=True, slots=True)
class RateTarget:
    """`mine` >= `factor` x `theirs` in requests/s, in `scenario`."""

    name: str
    scenario: str
    mine: str
    theirs: str
    factor: float


RATE_TARGETS = (
    RateTarget(
        "hello keep-alive: herder event >= 1.2x uWSGI's best",
        "hello-keepalive", "herder-event", "uwsgi", 1.2,
    ),
    RateTarget(
        "hello keep-alive: herder event >= 4x Gunicorn gthread",
        "hello-keepalive", "herder-event", "gunicorn-gthread", 4.0,
    ),
    RateTarget(
        "hello Connection: close: herder >= 1.1x uWSGI's best",
        "hello-close", "herder", "uwsgi", 1.1,
    ),
    RateTarget(
        "hello Connection: close: herder >= 3x Gunicorn sync",
        "hello-close", "herder", "gunicorn-sync", 3.0,
    ),
    RateTarget(
        "uwsgi protocol through nginx: herder >= 1.1x uWSGI behind the same nginx",
        "nginx-uwsgi", "herder", "uwsgi", 1.1,
    ),
    RateTarget(
        "sleep 10 ms at 64 connections: herder gevent >= Gunicorn gevent",
        "sleep-10ms", "herder-gevent", "gunicorn-gevent", 1.0,
    ),
    RateTarget(
        "sleep 10 ms at 64 connections: herder threaded >= Gunicorn gthread",
        "sleep-10ms", "herder-threaded", "gunicorn-gthread", 1.0,
    ),
)  # fmt: skip
# CPU per request against uWSGI's best: (scenario, herder's row), as in the rate targets.
CPU_TARGETS = (
    ("hello-keepalive", "herder-event"),
    ("hello-close", "herder"),
    ("64k", "herder"),
    ("upload-1m", "herder"),
    ("sleep-10ms", "herder"),
    ("nginx-uwsgi", "herder"),
)


@dataclass(frozen=True, slots=True)
class Target:
    """One target and its verdict."""

    name: str
    met: bool | None
    detail: str

    @property
    def verdict(self) -> str:
        """`met`, `NOT met` or `not measured`."""
        return {True: "met", False: "NOT met", None: "not measured"}[self.met]


def evaluate(summaries: Sequence[Summary], labels: Mapping[str, str]) -> list[Target]:
    """Every target of the issue, in the issue's order."""
    found = [_rate(summaries, target, labels) for target in RATE_TARGETS]
    found += [_rss(summaries, mine, theirs, labels) for mine, theirs in RSS_PAIRS]
    return found + [_cpu(summaries, scenario, mine, labels) for scenario, mine in CPU_TARGETS]


def pick(summaries: Sequence[Summary], scenario: str, who: str) -> Summary | None:
    """The row of server `who`, or the fastest comparable row of family `who`."""
    if who in FAMILIES:
        return best_of(summaries, scenario, FAMILIES[who])
    return find(summaries, who, scenario)


def _rate(summaries: Sequence[Summary], target: RateTarget, labels: Mapping[str, str]) -> Target:
    mine = pick(summaries, target.scenario, target.mine)
    theirs = pick(summaries, target.scenario, target.theirs)
    if mine is None or theirs is None:
        return Target(target.name, None, _missing(mine, theirs))
    value = ratio(mine, theirs)
    detail = (
        f"{_label(mine, labels)} {mine.requests_per_sec:,.0f} req/s vs "
        f"{_label(theirs, labels)} {theirs.requests_per_sec:,.0f} req/s: "
        f"{_times(value)} (target {target.factor:g}x)"
    )
    return Target(target.name, value is not None and value >= target.factor, detail)


def _rss(summaries: Sequence[Summary], mine: str, theirs: str, labels: Mapping[str, str]) -> Target:
    name = f"idle worker RSS: {labels.get(mine, mine)} <= {labels.get(theirs, theirs)}"
    ours, their = idle_rss(summaries, mine), idle_rss(summaries, theirs)
    if ours is None or their is None:
        return Target(name, None, "idle RSS of one side was not measured")
    return Target(name, ours <= their, f"{ours:.1f} MiB vs {their:.1f} MiB per worker")


def idle_rss(summaries: Sequence[Summary], server: str) -> float | None:
    """The median idle RSS per worker of `server` (read before any load, in every start)."""
    for row in summaries:
        if row.server == server and row.rss_idle_mib is not None:
            return row.rss_idle_mib
    return None


def _cpu(
    summaries: Sequence[Summary], scenario: str, who: str, labels: Mapping[str, str]
) -> Target:
    name = f"CPU per request, {scenario}: herder <= uWSGI's best"
    mine, theirs = pick(summaries, scenario, who), pick(summaries, scenario, "uwsgi")
    if mine is None or theirs is None or mine.cpu_s_per_1k is None or theirs.cpu_s_per_1k is None:
        return Target(name, None, _missing(mine, theirs))
    detail = (
        f"{_label(mine, labels)} {mine.cpu_s_per_1k:.3f} vs {_label(theirs, labels)} "
        f"{theirs.cpu_s_per_1k:.3f} CPU s per 1,000 requests"
    )
    return Target(name, mine.cpu_s_per_1k <= theirs.cpu_s_per_1k, detail)


def _missing(mine: Summary | None, theirs: Summary | None) -> str:
    side = "herder's row" if mine is None else "the reference row"
    return f"{side} was not measured"


def _label(row: Summary, labels: Mapping[str, str]) -> str:
    return labels.get(row.server, row.server)


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
