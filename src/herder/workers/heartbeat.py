"""The shared board: per-worker liveness and request state in shared memory.

The master maps an anonymous shared region before forking; each worker owns one slot of 40
bytes and writes into it with single `pack_into` calls (no syscall, no file on disk). Fields,
native byte order, at these offsets within a slot:

    0   double  beat       monotonic clock of the last heartbeat; 0.0 means "booting"
    8   double  started    monotonic start of the oldest request in flight; 0.0 when idle
    16  uint64  requests   requests served by this worker
    24  uint64  harakiri   requests this worker abandoned at their `--harakiri` deadline
    32  uint64  flags      `WANTS_REPLACEMENT`, `WANTS_RELOAD` (set by the worker)

CLOCK_MONOTONIC is system-wide on Linux, so both sides read the same clock. Only the owning
worker writes its slot (the master resets it before forking); a torn read of one field by the
master is impossible (aligned 8-byte stores), and fields are read independently.
"""

from __future__ import annotations

import mmap
import struct
import time

_DOUBLE = struct.Struct("d")
_COUNT = struct.Struct("Q")
SLOT_SIZE = 40
BEAT, STARTED, REQUESTS, HARAKIRI, FLAGS = 0, 8, 16, 24, 32

WANTS_REPLACEMENT = 1  # recycle me gracefully (max requests, memory): start my successor
WANTS_RELOAD = 2  # a source file changed (`--reload`): replace every worker


class HeartbeatBoard:
    """A fixed array of slots shared by the master and every worker it forks."""

    def __init__(self, slots: int = 4096) -> None:
        self.slots = slots
        self._mem = mmap.mmap(-1, slots * SLOT_SIZE)  # MAP_SHARED | MAP_ANONYMOUS

    def beat(self, slot: int, now: float | None = None) -> None:
        _DOUBLE.pack_into(self._mem, slot * SLOT_SIZE, time.monotonic() if now is None else now)

    def reset(self, slot: int) -> None:
        base = slot * SLOT_SIZE
        self._mem[base : base + SLOT_SIZE] = bytes(SLOT_SIZE)

    def last(self, slot: int) -> float:
        value: float = _DOUBLE.unpack_from(self._mem, slot * SLOT_SIZE)[0]
        return value

    def started(self, slot: int) -> float:
        value: float = _DOUBLE.unpack_from(self._mem, slot * SLOT_SIZE + STARTED)[0]
        return value

    def set_started(self, slot: int, when: float) -> None:
        _DOUBLE.pack_into(self._mem, slot * SLOT_SIZE + STARTED, when)

    def count(self, slot: int, field: int) -> int:
        value: int = _COUNT.unpack_from(self._mem, slot * SLOT_SIZE + field)[0]
        return value

    def set_count(self, slot: int, field: int, value: int) -> None:
        _COUNT.pack_into(self._mem, slot * SLOT_SIZE + field, value)

    def flags(self, slot: int) -> int:
        return self.count(slot, FLAGS)

    @property
    def memory(self) -> mmap.mmap:
        return self._mem

    def close(self) -> None:
        self._mem.close()


class Heartbeat:
    """A worker's handle on its own slot; `beat()` is cheap enough to call per request."""

    __slots__ = ("_base", "_board", "_mem", "_slot")

    def __init__(self, board: HeartbeatBoard, slot: int) -> None:
        self._board = board
        self._slot = slot
        self._mem = board.memory  # the per-request writes go straight to it
        self._base = slot * SLOT_SIZE

    def beat(self, now: float | None = None) -> None:
        _DOUBLE.pack_into(self._mem, self._base, time.monotonic() if now is None else now)

    def request_started(self, when: float) -> None:
        """`when` is the start of the oldest request in flight, 0.0 when none is."""
        _DOUBLE.pack_into(self._mem, self._base + STARTED, when)

    def request_finished(self, served: int) -> None:
        _DOUBLE.pack_into(self._mem, self._base + STARTED, 0.0)
        _COUNT.pack_into(self._mem, self._base + REQUESTS, served)

    def harakiri(self) -> None:
        count = self._board.count(self._slot, HARAKIRI)
        self._board.set_count(self._slot, HARAKIRI, count + 1)

    def ask(self, flag: int) -> None:
        """Raise a flag for the master (`WANTS_REPLACEMENT`, `WANTS_RELOAD`)."""
        flags = self._board.flags(self._slot)
        self._board.set_count(self._slot, FLAGS, flags | flag)
