"""When a worker should be replaced: request budget and resident memory.

Checked by the worker between requests. Replacement is graceful: the worker raises
`WANTS_REPLACEMENT` in its board slot and goes on serving; the master forks the successor,
waits until it has booted, then retires this worker. (`--max-worker-lifetime` is checked by
the master, which knows when it forked each worker.)
"""

from __future__ import annotations

import os
import random

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20


def request_budget(max_requests: int, jitter: int) -> int:
    """Requests to serve before asking for a replacement; 0 for no limit."""
    if max_requests <= 0:
        return 0
    return max_requests + random.randint(0, max(0, jitter))


def resident_bytes(statm: str = "/proc/self/statm") -> int:
    """This process's resident set size in bytes (0 where /proc is missing)."""
    try:
        with open(statm, "rb") as f:
            fields = f.read().split()
    except OSError:
        return 0
    return int(fields[1]) * PAGE_SIZE


def is_over_memory(limit_mib: int, rss: int) -> bool:
    return limit_mib > 0 and rss > limit_mib * MIB
