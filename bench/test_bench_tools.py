"""Unit tests for the benchmark's pure parts: wrk report parsing, tallying, command lines.

No server is started and wrk is not run: the reports below are wrk 4.1 output captured on
this machine (one with socket errors, one without), fed as text.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

import compare
import contenders
import tally
import wrkload

REPORT_WITH_ERRORS = """\
Running 2s test @ http://127.0.0.1:18001/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   520.54us  272.92us   5.44ms   65.86%
    Req/Sec    30.30k     1.84k   34.20k    75.00%
  Latency Distribution
     50%  491.00us
     75%  742.00us
     90%  837.00us
     99%    1.09ms
  60324 requests in 2.00s, 4.49MB read
  Socket errors: connect 0, read 60314, write 2, timeout 7
  Non-2xx or 3xx responses: 5
Requests/sec:  30152.43
Transfer/sec:      2.24MB
"""

REPORT_CLEAN = """\
Running 3s test @ http://127.0.0.1:18004/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.10ms    2.01ms   1.20s    70.00%
    Req/Sec     9.00k     1.85k   12.99k    66.67%
  Latency Distribution
     50%    4.91ms
     75%    6.00ms
     90%    9.00ms
     99%    1.20s
  27000 requests in 3.00s, 2.10MB read
Requests/sec:   8944.72
Transfer/sec:    700.00KB
"""


def _result(
    rate: float, p50: float = 1.0, p99: float = 2.0, read: int = 0, mean: float = 1.0
) -> wrkload.WrkResult:
    errors = wrkload.WrkErrors(read=read)
    return wrkload.WrkResult(rate, p50, p99, mean, requests=int(rate), errors=errors)


def test_parse_reads_rate_percentiles_and_every_error_kind() -> None:
    result = wrkload.parse_wrk_output(REPORT_WITH_ERRORS)
    assert result.requests_per_sec == pytest.approx(30152.43)
    assert result.p50_ms == pytest.approx(0.491)
    assert result.p99_ms == pytest.approx(1.09)
    assert result.mean_ms == pytest.approx(0.52054)
    assert result.requests == 60324
    assert result.errors == wrkload.WrkErrors(0, 60314, 2, 7, 5)
    assert result.errors.total == 60328


def test_parse_clean_report_has_no_errors_and_converts_seconds() -> None:
    result = wrkload.parse_wrk_output(REPORT_CLEAN)
    assert result.errors.total == 0
    assert result.p50_ms == pytest.approx(4.91)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.busy_connections == pytest.approx(8944.72 * 0.0051)


@pytest.mark.parametrize(
    "broken",
    [
        "",
        REPORT_CLEAN.replace("Requests/sec:   8944.72\n", ""),
        REPORT_CLEAN.replace("     99%    1.20s\n", ""),
        "unable to connect to 127.0.0.1:1 Connection refused\n",
    ],
)
def test_parse_rejects_reports_missing_a_figure(broken: str) -> None:
    with pytest.raises(wrkload.WrkOutputError, match="unreadable"):
        wrkload.parse_wrk_output(broken)


def test_errors_describe_names_only_nonzero_kinds() -> None:
    assert wrkload.WrkErrors().describe() == "0"
    described = wrkload.WrkErrors(read=100, timeout=20).describe()
    assert described == "120 (read 100, timeout 20)"


def test_wrk_command_has_one_thread_latency_and_headers() -> None:
    command = wrkload.wrk_command(
        "http://x/", connections=50, duration_s=2.0, headers=("Connection: close",)
    )
    assert command == [
        *("wrk", "-t1", "-c50", "-d2s", "--latency", "-H", "Connection: close", "http://x/")
    ]


def test_summarize_takes_medians_and_sums_errors() -> None:
    samples = [
        tally.Sample("uwsgi", "close", n, _result(rate, p50=rate / 1000, read=1))
        for n, rate in enumerate((1000.0, 3000.0, 2000.0), start=1)
    ]
    (summary,) = tally.summarize(samples)
    assert summary.rounds == 3
    assert summary.requests_per_sec == 2000.0
    assert summary.p50_ms == 2.0
    assert summary.errors.read == 3


def test_ratio_is_per_scenario_and_none_without_reference() -> None:
    summaries = tally.summarize(
        [
            tally.Sample("herder-sync", "keepalive", 1, _result(3000.0)),
            tally.Sample("uwsgi", "keepalive", 1, _result(2000.0)),
            tally.Sample("herder-sync", "close", 1, _result(1000.0)),
        ]
    )
    herder_ka, _, herder_close = summaries
    assert tally.ratio(summaries, herder_ka, "uwsgi") == pytest.approx(1.5)
    assert tally.ratio(summaries, herder_close, "uwsgi") is None


def test_markdown_table_groups_by_scenario_with_ratio_cells() -> None:
    samples = [
        tally.Sample("gunicorn-sync", "keepalive", 2, _result(1000.0, read=7)),
        tally.Sample("uwsgi", "close", 1, _result(2000.0)),
        tally.Sample("uwsgi", "keepalive", 1, _result(4000.0)),
    ]
    servers = ("uwsgi", "gunicorn-sync")
    summaries = tally.summarize(samples)
    text = tally.markdown_table(summaries, {"uwsgi": "uWSGI"}, ("keepalive", "close"), servers)
    table = text.splitlines()
    assert table[0].startswith("| server | scenario | req/s |")
    assert table[2] == "| uWSGI | keepalive | 4,000 | 1.000 | 2.000 | 0 | 1.00 | 4.00 | - |"
    assert table[3].startswith("| gunicorn-sync | keepalive | 1,000 |")
    assert "| 7 (read 7) | 0.25 | 1.00 | - |" in table[3]
    assert table[4].startswith("| uWSGI | close | 2,000 |")
    assert len(table) == 5


def test_starvation_warning_flags_rows_with_mostly_idle_connections() -> None:
    served_two = _result(60_000.0, mean=0.03)  # 60k req/s x 30 us: about 2 busy
    served_all = _result(10_000.0, mean=5.0)  # 10k req/s x 5 ms: about 50 busy
    summaries = tally.summarize(
        [
            tally.Sample("uwsgi-http11", "keepalive", 1, served_two),
            tally.Sample("gunicorn-gthread", "keepalive", 1, served_all),
        ]
    )
    warnings = tally.starvation_warnings(summaries, 50, {"uwsgi-http11": "uWSGI http11"})
    assert warnings == [
        "WARNING: uWSGI http11 keepalive: only about 2 of 50 connections were busy on average "
        "(req/s x mean latency); the others waited unserved, which wrk does not count as errors."
    ]


def test_report_record_keeps_raw_runs_summary_and_failures(tmp_path: Path) -> None:
    samples = [tally.Sample("uwsgi", "close", 1, _result(2000.0))]
    failures = [tally.Failure("herder-sync", 1, "exited with status 4")]
    record = tally.report_record({"nproc": 2}, {"rounds": 1}, samples, failures)
    assert record["summary"][0]["ratio_vs_uwsgi"] == 1.0
    assert record["runs"][0]["result"]["requests_per_sec"] == 2000.0
    assert record["failures"][0]["reason"] == "exited with status 4"
    path = tally.write_record(record, tmp_path / "results", "20260101-000000")
    assert path.name == "compare-20260101-000000.json"
    assert '"nproc": 2' in path.read_text()


def test_every_contender_binds_loopback_with_the_same_process_count() -> None:
    launch = contenders.Launch(Path("/v/bin"), Path("/apps"), 8123, workers=3, threads=4)
    for contender in contenders.CONTENDERS.values():
        command = contender.command(launch)
        assert "127.0.0.1:8123" in command, contender.name
        assert "3" in command, contender.name
    herder = contenders.CONTENDERS["herder-event"].command(launch)
    assert herder == [
        *("/v/bin/herder", "-w", "3", "-b", "127.0.0.1:8123", "-k", "event"),
        *("--chdir", "/apps", "hello:app"),
    ]
    gthread = contenders.CONTENDERS["gunicorn-gthread"].command(launch)
    assert gthread[gthread.index("--threads") + 1] == "4"
    assert "--threads" not in contenders.CONTENDERS["gunicorn-sync"].command(launch)


def test_uwsgi_uses_the_in_worker_http_parser_and_dies_on_term() -> None:
    launch = contenders.Launch(Path("/v/bin"), Path("/apps"), 8123, workers=2, threads=4)
    command = contenders.CONTENDERS["uwsgi"].command(launch)
    assert command[1:3] == ["--http-socket", "127.0.0.1:8123"]
    assert {"--master", "--die-on-term", "--disable-logging"} <= set(command)


def test_parse_args_quick_defaults_and_overrides() -> None:
    quick = compare.parse_args(["--quick", "--servers", "uwsgi,gunicorn-sync"])
    assert (quick.rounds, quick.duration_s) == (1, 2.0)
    assert quick.servers == ("uwsgi", "gunicorn-sync")
    assert quick.scenarios == ("keepalive", "close")
    full = compare.parse_args(["--quick", "--rounds", "4", "--scenarios", "close"])
    assert (full.rounds, full.scenarios) == (4, ("close",))


@pytest.mark.parametrize(
    "argv", [["--servers", "nginx"], ["--scenarios", "pipelined"], ["--rounds", "0"]]
)
def test_parse_args_rejects_unknown_names_and_nonpositive_sizes(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        compare.parse_args(argv)
    assert caught.value.code != 0


def test_group_members_skips_zombies_and_other_groups(tmp_path: Path) -> None:
    stats = {
        "10": "10 (my server) S 1 10 10 0",
        "11": "11 (worker (a)) R 10 10 10 0",
        "12": "12 (dead) Z 10 10 10 0",
        "13": "13 (other) S 1 13 13 0",
    }
    for pid, line in stats.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "stat").write_text(line)
    assert sorted(contenders.group_members(10, tmp_path)) == [10, 11]


@pytest.mark.timeout(30)
def test_stop_group_ends_the_leader_and_its_children(tmp_path: Path) -> None:
    # A leader that ignores SIGTERM and has a child: only SIGKILL after the grace ends both.
    script = "import signal,subprocess,time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    script += "subprocess.Popen(['sleep', '60']); time.sleep(60)"
    command = [sys.executable, "-c", script]
    with (
        (tmp_path / "log").open("wb") as log,
        contenders.running(command, cwd=tmp_path, log=log) as proc,
    ):
        group = os.getpgid(proc.pid)
        assert group == proc.pid
        _wait_for_members(group, 2)
        contenders.stop_group(proc, grace_s=0.5)
        assert proc.returncode == -9
    assert contenders.group_members(group) == []


def _wait_for_members(group: int, count: int) -> None:
    for _ in range(200):
        if len(contenders.group_members(group)) >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"process group {group} never had {count} members")
