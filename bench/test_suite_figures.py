"""Unit tests for the suite's figures: /proc bookkeeping, tallies, targets, rendering.

Nothing is started and wrk is not run: /proc is a folder of captured-style text files, and
the runs are made-up wrk results (the full suite is `make bench`, its smoke `make bench-smoke`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import benchenv
import procstat
import render
import tally
import targets
import wrkload
from scenarios import SCENARIOS
from servers import SERVERS, labels

# A worker whose name holds spaces and parentheses; utime 150, stime 25 (fields 14 and 15).
STAT = "4321 (gunicorn: worker [a) (b]) S 4300 4300 4300 0 -1 4194560 100 0 0 0 150 25 0 0 20 0"
STATUS = "Name:\tpython\nState:\tS (sleeping)\nVmPeak:\t  30000 kB\nVmRSS:\t   20480 kB\n"


def _result(
    rate: float, *, requests: int | None = None, mean_ms: float = 5.0, non_2xx: int = 0
) -> wrkload.WrkResult:
    errors = wrkload.WrkErrors(non_2xx_3xx=non_2xx)
    done = int(rate) if requests is None else requests
    return wrkload.WrkResult(rate, 1.0, 2.0, mean_ms, requests=done, errors=errors)


def _sample(
    server: str,
    scenario: str,
    rate: float,
    *,
    round_no: int = 1,
    cpu_s: float = 1.0,
    idle: float | None = 20.0,
    mean_ms: float = 5.0,
) -> tally.Sample:
    return tally.Sample(
        server, scenario, round_no, 50, _result(rate, mean_ms=mean_ms), cpu_s, 2, idle, idle
    )


def _write_proc(root: Path, pid: int, stat: str, status: str | None = None) -> None:
    (root / str(pid)).mkdir()
    (root / str(pid) / "stat").write_text(stat)
    if status is not None:
        (root / str(pid) / "status").write_text(status)


# --- procstat -----------------------------------------------------------------------------


def test_parse_stat_reads_ids_and_cpu_ticks_past_an_awkward_name() -> None:
    stat = procstat.parse_stat(STAT)
    assert stat == procstat.ProcStat(pid=4321, state="S", ppid=4300, pgrp=4300, ticks=175)


def test_parse_stat_rejects_a_short_line() -> None:
    with pytest.raises(ValueError, match="short"):
        procstat.parse_stat("12 (x) S 1 12")


def test_parse_vmrss_in_kib_and_none_for_a_zombie() -> None:
    assert procstat.parse_vmrss_kib(STATUS) == 20480
    assert procstat.parse_vmrss_kib("Name:\tz\nState:\tZ (zombie)\n") is None
    with pytest.raises(ValueError, match="unit"):
        procstat.parse_vmrss_kib("VmRSS:\t 2 MB\n")


def test_snapshot_keeps_only_the_group_and_cpu_is_the_delta(tmp_path: Path) -> None:
    _write_proc(tmp_path, 10, "10 (master) S 1 10 10 0 -1 0 0 0 0 0 100 50 0 0")
    _write_proc(tmp_path, 11, "11 (worker) R 10 10 10 0 -1 0 0 0 0 0 400 100 0 0")
    _write_proc(tmp_path, 20, "20 (other) S 1 20 20 0 -1 0 0 0 0 0 999 999 0 0")
    before = procstat.snapshot(10, tmp_path)
    assert sorted(before) == [10, 11]
    after = {
        10: procstat.ProcStat(10, "S", 1, 10, 160),  # +10 ticks
        11: procstat.ProcStat(11, "R", 10, 10, 700),  # +200 ticks
        12: procstat.ProcStat(12, "S", 10, 10, 40),  # new during the run: all 40
    }
    assert procstat.cpu_seconds(before, after, ticks_per_s=100) == pytest.approx(2.5)


def test_workers_are_live_children_of_the_leader(tmp_path: Path) -> None:
    members = {
        10: procstat.ProcStat(10, "S", 1, 10, 0),
        11: procstat.ProcStat(11, "S", 10, 10, 0),
        13: procstat.ProcStat(13, "S", 10, 10, 0),
        12: procstat.ProcStat(12, "Z", 10, 10, 0),
        14: procstat.ProcStat(14, "S", 11, 10, 0),  # a grandchild (a worker's helper)
    }
    assert procstat.worker_pids(members, 10) == [11, 13]


def test_rss_of_present_pids_and_the_mean_in_mib(tmp_path: Path) -> None:
    _write_proc(tmp_path, 11, "", STATUS)
    _write_proc(tmp_path, 12, "", STATUS.replace("20480", "10240"))
    rss = procstat.rss_kib([11, 12, 99], tmp_path)
    assert rss == {11: 20480, 12: 10240}
    assert procstat.mean_mib(rss) == pytest.approx(15.0)
    assert procstat.mean_mib({}) is None


# --- tally --------------------------------------------------------------------------------


def test_cpu_per_thousand_requests() -> None:
    sample = tally.Sample("x", "s", 1, 50, _result(2000.0, requests=4000), 0.5, 2, None, None)
    assert sample.cpu_s_per_1k == pytest.approx(0.125)
    empty = tally.Sample("x", "s", 1, 50, _result(0.0, requests=0), 0.5, 2, None, None)
    assert empty.cpu_s_per_1k is None


def test_summarize_takes_medians_and_sums() -> None:
    samples = [
        _sample("uwsgi-http", "hello-close", rate, round_no=n, cpu_s=rate / 1000, idle=idle)
        for n, (rate, idle) in enumerate([(1000.0, 10.0), (3000.0, 30.0), (2000.0, None)], 1)
    ]
    (summary,) = tally.summarize(samples)
    assert (summary.rounds, summary.requests_per_sec, summary.requests) == (3, 2000.0, 6000)
    assert summary.cpu_s_per_1k == pytest.approx(1.0)
    assert summary.rss_idle_mib == pytest.approx(20.0)  # the median of the known values


def test_best_uwsgi_skips_starving_rows_and_other_families() -> None:
    summaries = tally.summarize(
        [
            _sample("uwsgi-http", "hello-keepalive", 30000.0, mean_ms=1.0),
            _sample("uwsgi-http11-threads", "hello-keepalive", 90000.0, mean_ms=0.02),
            _sample("granian", "hello-keepalive", 99000.0),
        ]
    )
    starving = tally.find(summaries, "uwsgi-http11-threads", "hello-keepalive")
    assert starving is not None and starving.starving
    best = tally.best_of(summaries, "hello-keepalive", targets.UWSGI)
    assert best is not None and best.server == "uwsgi-http"
    assert tally.best_of(summaries, "64k", targets.UWSGI) is None
    assert tally.ratio(summaries[2], best) == pytest.approx(3.3)
    assert tally.ratio(summaries[2], None) is None
    (warning,) = tally.warnings(summaries, labels())
    assert "uWSGI http11-socket + threads hello-keepalive: only about 2 of 50" in warning


def test_served_nothing_catches_empty_and_all_error_runs() -> None:
    fine = _sample("herder-sync", "64k", 100.0)
    empty = tally.Sample("herder-event", "64k", 1, 50, _result(0.0, requests=0), 0, 2, 1, 1)
    errors = tally.Sample(
        "granian", "64k", 1, 50, _result(50.0, requests=50, non_2xx=50), 0, 2, 1, 1
    )
    assert tally.served_nothing([fine, empty, errors]) == [empty, errors]


def test_rows_that_kept_a_connection_open_are_flagged_and_never_best() -> None:
    kept = tally.Sample(
        "uwsgi-http11-threads", "hello-close", 1, 50, _result(40000.0), 1.0, 2, 1, 1, True
    )
    summaries = tally.summarize([kept, _sample("uwsgi-http", "hello-close", 20000.0)])
    assert summaries[0].kept_open and not summaries[0].comparable
    best = tally.best_of(summaries, "hello-close", targets.UWSGI)
    assert best is not None and best.server == "uwsgi-http"
    (warning,) = tally.warnings(summaries, labels())
    assert "uWSGI http11-socket + threads hello-close: the server kept the connection open" in (
        warning
    )
    table = render.scenario_table(summaries, SCENARIOS["hello-close"], list(SERVERS), labels())
    assert "| uWSGI http11-socket + threads (kept the connection open) | 40,000 |" in table


# --- targets ------------------------------------------------------------------------------


def _target_summaries() -> list[tally.Summary]:
    rows = [
        ("herder-event", "hello-keepalive", 36000.0, 0.5),
        ("uwsgi-http", "hello-keepalive", 30000.0, 0.4),
        ("gunicorn-gthread", "hello-keepalive", 9500.0, 2.0),
        ("herder-sync", "hello-close", 20000.0, 0.7),
        ("herder-event", "hello-close", 25000.0, 0.6),
        ("uwsgi-http", "hello-close", 24000.0, 0.5),
        ("gunicorn-sync", "hello-close", 8000.0, 1.5),
        ("herder-gevent", "sleep-10ms", 5000.0, 2.0),
        ("gunicorn-gevent", "sleep-10ms", 5200.0, 2.5),
    ]
    return tally.summarize(
        _sample(server, scenario, rate, cpu_s=cpu * rate / 1000)
        for server, scenario, rate, cpu in rows
    )


def test_targets_report_met_not_met_and_not_measured_with_figures() -> None:
    found = {t.name: t for t in targets.evaluate(_target_summaries(), labels())}
    keepalive = found["hello keep-alive: herder event >= 1.2x uWSGI's best"]
    assert keepalive.met is True
    assert keepalive.detail == (
        "herder event 36,000 req/s vs uWSGI http-socket 30,000 req/s: 1.20x (target 1.2x)"
    )
    assert found["hello keep-alive: herder event >= 4x Gunicorn gthread"].met is False
    close = found["hello Connection: close: herder >= 1.1x uWSGI's best"]
    assert close.met is False and close.detail.startswith("herder event 25,000")
    assert found["hello Connection: close: herder >= 3x Gunicorn sync"].met is True
    gevent = found["sleep 10 ms at 64 connections: herder gevent >= Gunicorn gevent"]
    assert (gevent.met, gevent.verdict) == (False, "NOT met")
    nginx = found["uwsgi protocol through nginx: herder >= 1.1x uWSGI behind the same nginx"]
    assert (nginx.met, nginx.verdict) == (None, "not measured")


def test_rss_and_cpu_targets() -> None:
    summaries = _target_summaries()
    found = {t.name: t for t in targets.evaluate(summaries, labels())}
    rss = found["idle worker RSS: herder sync <= Gunicorn sync"]
    assert rss.met is True and rss.detail == "20.0 MiB vs 20.0 MiB per worker"
    assert found["idle worker RSS: herder threaded <= Gunicorn gthread"].met is None
    cpu = found["CPU per request, hello-keepalive: herder <= uWSGI's best"]
    assert cpu.met is False
    assert cpu.detail == ("herder event 0.500 vs uWSGI http-socket 0.400 CPU s per 1,000 requests")
    assert found["CPU per request, 64k: herder <= uWSGI's best"].met is None


# --- render -------------------------------------------------------------------------------


def test_scenario_table_rows_with_ratios_and_blanks() -> None:
    summaries = _target_summaries()
    text = render.scenario_table(
        summaries, SCENARIOS["hello-close"], list(SERVERS), labels()
    ).splitlines()
    assert text[0] == "### hello, Connection: close (`hello-close`, wrk -c50)"
    assert text[2] == "uWSGI's best here: uWSGI http-socket."
    assert text[4].startswith("| server | req/s | p50 ms | p99 ms | errors | CPU s / 1k req |")
    rows = text[6:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| herder sync",
        "| herder event",
        "| Gunicorn sync",
        "| uWSGI http-socket",
    ]
    assert rows[1] == (
        "| herder event | 25,000 | 1.000 | 2.000 | 0 | 0.600 | 20.0 | 20.0 | 1.04 | 3.12 | - | - |"
    )


def test_targets_table_and_readme_block_replacement() -> None:
    found = [targets.Target("a >= b", True, "1 vs 2"), targets.Target("c", None, "n/a")]
    table = render.targets_table(found).splitlines()
    assert table[2:] == ["| a >= b | **met** | 1 vs 2 |", "| c | **not measured** | n/a |"]
    facts = {"date": "2026-11-28T13:00:00+00:00", "cpu_model": "Xeon", "nproc": 2}
    block = render.readme_block(facts, found, "make bench")
    assert "2026-11-28T13:00:00+00:00 on Xeon (2 cores" in block
    assert "](bench/results/latest.png)" in block
    readme = f"intro\n{render.BLOCK_BEGIN}\nold figures\n{render.BLOCK_END}\noutro\n"
    replaced = render.replace_block(readme, block)
    assert replaced.startswith("intro\n" + render.BLOCK_BEGIN)
    assert "old figures" not in replaced and replaced.endswith(render.BLOCK_END + "\noutro\n")
    with pytest.raises(ValueError, match="markers"):
        render.replace_block("no markers here", block)


def test_the_readme_has_the_block_markers() -> None:
    text = (benchenv.REPO / "README.md").read_text()
    assert text.index(render.BLOCK_BEGIN) < text.index(render.BLOCK_END)
