"""Per-worker counters in shared memory, readable while the server runs.

The master maps one region before forking: a fixed slot per worker (the same slot index as its
heartbeat). A worker adds to its own slot with one `struct.pack_into` per event, so a reader
(a test, `bench/herd.py`, `python -m herder.workers.stats FILE`) sees live numbers without
asking the worker anything. With `--worker-stats FILE` the region is that file (mapped
shared); without it, anonymous shared memory that only the master's family sees.

Slot layout (little-endian, 8 bytes each): pid, listener wakeups, successful accepts,
wakeups that found nothing (EAGAIN: another worker was faster), requests served.
A pid of 0 marks a free slot. Counters only grow; a reader takes differences.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from dataclasses import dataclass

FIELDS = ("pid", "wakeups", "accepts", "eagain", "requests")
_SLOT = struct.Struct("<5q")
_INT = struct.Struct("<q")  # one cell
PID, WAKEUPS, ACCEPTS, EAGAIN, REQUESTS = range(5)
_CELL = 8


@dataclass(frozen=True, slots=True)
class WorkerCounters:
    """One worker's counters as read at one moment."""

    pid: int
    wakeups: int
    accepts: int
    eagain: int
    requests: int


class StatsBoard:
    """The shared region: `slots` fixed slots, in a file or anonymous."""

    def __init__(self, slots: int = 4096, path: str | None = None) -> None:
        self.slots = slots
        size = slots * _SLOT.size
        if path is None:
            self._mem = mmap.mmap(-1, size)  # MAP_SHARED | MAP_ANONYMOUS
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.ftruncate(fd, size)
            self._mem = mmap.mmap(fd, size)
        finally:
            os.close(fd)

    def claim(self, slot: int, pid: int) -> None:
        """Zero `slot` and mark it as `pid`'s (before or just after the fork)."""
        _SLOT.pack_into(self._mem, slot * _SLOT.size, pid, 0, 0, 0, 0)

    def release(self, slot: int) -> None:
        _INT.pack_into(self._mem, slot * _SLOT.size, 0)

    def add(self, slot: int, field: int, amount: int = 1) -> None:
        offset = slot * _SLOT.size + field * _CELL
        _INT.pack_into(self._mem, offset, _INT.unpack_from(self._mem, offset)[0] + amount)

    def read(self, slot: int) -> WorkerCounters:
        return WorkerCounters(*_SLOT.unpack_from(self._mem, slot * _SLOT.size))

    def close(self) -> None:
        self._mem.close()


def read_file(path: str) -> list[WorkerCounters]:
    """The live workers' counters in a `--worker-stats` file (slots with a pid)."""
    with open(path, "rb") as f:
        data = f.read()
    rows = (
        WorkerCounters(*row)
        for row in _SLOT.iter_unpack(data[: len(data) // _SLOT.size * _SLOT.size])
    )
    return [row for row in rows if row.pid]


class Counters:
    """A worker's handle on its own slot."""

    __slots__ = ("_board", "_slot")

    def __init__(self, board: StatsBoard, slot: int) -> None:
        self._board = board
        self._slot = slot

    def wakeup(self) -> None:
        self._board.add(self._slot, WAKEUPS)

    def accepted(self, count: int = 1) -> None:
        if count:
            self._board.add(self._slot, ACCEPTS, count)

    def found_nothing(self) -> None:
        self._board.add(self._slot, EAGAIN)

    def request(self) -> None:
        self._board.add(self._slot, REQUESTS)

    def read(self) -> WorkerCounters:
        return self._board.read(self._slot)


def _main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m herder.workers.stats FILE", file=sys.stderr)
        return 2
    print(f"{'pid':>8} {'wakeups':>10} {'accepts':>10} {'eagain':>10} {'requests':>10}")
    for row in read_file(argv[0]):
        print(
            f"{row.pid:>8} {row.wakeups:>10} {row.accepts:>10} {row.eagain:>10} {row.requests:>10}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
