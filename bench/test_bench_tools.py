"""Unit tests for the benchmark's tools: wrk report parsing and commands, process groups.

No server is started and wrk is not run: the reports below are wrk 4.1 output captured on
this machine (one with socket errors, one without), fed as text.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

import contenders
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


def test_wrk_command_adds_a_lua_script() -> None:
    command = wrkload.wrk_command(
        "http://x/upload", connections=8, duration_s=1, script=Path("/b/upload.lua")
    )
    assert command[-3:] == ["-s", "/b/upload.lua", "http://x/upload"]


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
