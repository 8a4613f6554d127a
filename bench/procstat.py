"""CPU time and memory of a server's processes, read from /proc (proc(5)).

Rules:
- A server runs in a process group of its own (see contenders.py); its processes are the
  members of that group, found by the `pgrp` field of /proc/PID/stat.
- CPU time is utime + stime (fields 14 and 15 of /proc/PID/stat, in clock ticks) summed over
  every member. The cost of a run is the difference between a snapshot taken just before and
  one taken just after it: a process present in both counts its difference, one that appeared
  during the run counts all its time, one that exited during the run is lost (the suite's
  servers keep their workers for the whole run).
- Workers are the group members whose parent is the group leader (the process the suite
  started: the master of herder, Gunicorn and uWSGI, Granian's main process), less zombies.
- Memory is VmRSS of /proc/PID/status, in KiB.
- Parsing is pure (text in, numbers out) so it is tested on captured text; reading tolerates
  processes that exit while they are read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of one /proc/PID/stat line that the suite uses."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    ticks: int  # utime + stime


def parse_stat(text: str) -> ProcStat:
    """Read /proc/PID/stat; the command name may hold spaces and parentheses."""
    head, _, rest = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = rest.split()
    # After the name: state(3) ppid(4) pgrp(5) ... utime(14) stime(15), numbered as in proc(5).
    if len(fields) < 13:
        raise ValueError(f"short /proc stat line: {text!r}")
    return ProcStat(
        pid, fields[0], int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12])
    )


def parse_vmrss_kib(status: str) -> int | None:
    """VmRSS of a /proc/PID/status text in KiB; None for a process without one (a zombie)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"unexpected VmRSS unit: {line!r}")
            return int(value)
    return None


def snapshot(group: int, proc: Path = PROC) -> dict[int, ProcStat]:
    """Every member of process group `group` (zombies included: their time still counts)."""
    members = {}
    for path in proc.glob("[0-9]*/stat"):
        try:
            stat = parse_stat(path.read_text())
        except (OSError, ValueError):
            continue  # gone while we looked
        if stat.pgrp == group:
            members[stat.pid] = stat
    return members


def cpu_seconds(
    before: Mapping[int, ProcStat], after: Mapping[int, ProcStat], ticks_per_s: int = CLOCK_TICKS
) -> float:
    """CPU seconds the group spent between two snapshots."""
    ticks = 0
    for pid, now in after.items():
        then = before.get(pid)
        ticks += now.ticks - then.ticks if then is not None else now.ticks
    return ticks / ticks_per_s


def worker_pids(members: Mapping[int, ProcStat], leader: int) -> list[int]:
    """The live children of the group leader, in pid order."""
    return sorted(pid for pid, s in members.items() if s.ppid == leader and s.state != "Z")


def rss_kib(pids: Iterable[int], proc: Path = PROC) -> dict[int, int]:
    """VmRSS of each pid that is still there."""
    found = {}
    for pid in pids:
        try:
            value = parse_vmrss_kib((proc / str(pid) / "status").read_text())
        except OSError:
            continue
        if value is not None:
            found[pid] = value
    return found


def mean_mib(rss: Mapping[int, int]) -> float | None:
    """Mean RSS per process in MiB; None when there is none."""
    return sum(rss.values()) / len(rss) / 1024 if rss else None
