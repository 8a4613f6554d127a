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
CPU_SCENARIOS = ("hello-keepalive", "hello-close", "64k", "upload-1m", "sleep-10ms", "nginx-uwsgi")


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
    herder_ka = find(summaries, "herder-event", "hello-keepalive")
    herder_close = best_of(summaries, "hello-close", HERDER)
    herder_nginx = best_of(summaries, "nginx-uwsgi", HERDER)
    sleep = "sleep-10ms"
    targets = [
        _rate(
            "hello keep-alive: herder event >= 1.2x uWSGI's best",
            herder_ka,
            best_of(summaries, "hello-keepalive", UWSGI),
            1.2,
            labels,
        ),
        _rate(
            "hello keep-alive: herder event >= 4x Gunicorn gthread",
            herder_ka,
            find(summaries, "gunicorn-gthread", "hello-keepalive"),
            4.0,
            labels,
        ),
        _rate(
            "hello Connection: close: herder >= 1.1x uWSGI's best",
            herder_close,
            best_of(summaries, "hello-close", UWSGI),
            1.1,
            labels,
        ),
        _rate(
            "hello Connection: close: herder >= 3x Gunicorn sync",
            herder_close,
            find(summaries, "gunicorn-sync", "hello-close"),
            3.0,
            labels,
        ),
        _rate(
            "uwsgi protocol through nginx: herder >= 1.1x uWSGI behind the same nginx",
            herder_nginx,
            best_of(summaries, "nginx-uwsgi", UWSGI),
            1.1,
            labels,
        ),
        _rate(
            "sleep 10 ms at 64 connections: herder gevent >= Gunicorn gevent",
            find(summaries, "herder-gevent", sleep),
            find(summaries, "gunicorn-gevent", sleep),
            1.0,
            labels,
        ),
        _rate(
            "sleep 10 ms at 64 connections: herder threaded >= Gunicorn gthread",
            find(summaries, "herder-threaded", sleep),
            find(summaries, "gunicorn-gthread", sleep),
            1.0,
            labels,
        ),
    ]
    targets += [_rss(summaries, mine, theirs, labels) for mine, theirs in RSS_PAIRS]
    return targets + [_cpu(summaries, scenario, labels) for scenario in CPU_SCENARIOS]


def _rate(
    name: str,
    mine: Summary | None,
    theirs: Summary | None,
    factor: float,
    labels: Mapping[str, str],
) -> Target:
    if mine is None or theirs is None:
        return Target(name, None, _missing(mine, theirs))
    value = ratio(mine, theirs)
    detail = (
        f"{_label(mine, labels)} {mine.requests_per_sec:,.0f} req/s vs "
        f"{_label(theirs, labels)} {theirs.requests_per_sec:,.0f} req/s: "
        f"{_times(value)} (target {factor:g}x)"
    )
    return Target(name, value is not None and value >= factor, detail)


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


def _cpu(summaries: Sequence[Summary], scenario: str, labels: Mapping[str, str]) -> Target:
    name = f"CPU per request, {scenario}: herder <= uWSGI's best"
    if scenario == "hello-keepalive":
        mine = find(summaries, "herder-event", scenario)
    else:
        mine = best_of(summaries, scenario, HERDER)
    theirs = best_of(summaries, scenario, UWSGI)
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
