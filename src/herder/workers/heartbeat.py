"""Worker liveness in shared memory: one slot of 8 bytes per worker.

The master maps an anonymous shared region before forking; each worker writes the monotonic
clock into its own slot (CLOCK_MONOTONIC is system-wide on Linux, so both sides read the same
clock). No file on disk, no syscall per beat: a beat is one `struct.pack_into`.
A slot holding 0.0 means "booting": the worker has not finished loading the app yet.
"""

from __future__ import annotations

import mmap
import struct
import time

_SLOT = struct.Struct("d")


class HeartbeatBoard:
    """A fixed array of slots shared by the master and every worker it forks."""

    def __init__(self, slots: int = 4096) -> None:
        self.slots = slots
        self._mem = mmap.mmap(-1, slots * _SLOT.size)  # MAP_SHARED | MAP_ANONYMOUS

    def beat(self, slot: int, now: float | None = None) -> None:
        _SLOT.pack_into(self._mem, slot * _SLOT.size, time.monotonic() if now is None else now)

    def reset(self, slot: int) -> None:
        _SLOT.pack_into(self._mem, slot * _SLOT.size, 0.0)

    def last(self, slot: int) -> float:
        value: float = _SLOT.unpack_from(self._mem, slot * _SLOT.size)[0]
        return value

    def close(self) -> None:
        self._mem.close()


class Heartbeat:
    """A worker's handle on its own slot; `beat()` is cheap enough to call per request."""

    __slots__ = ("_board", "_slot")

    def __init__(self, board: HeartbeatBoard, slot: int) -> None:
        self._board = board
        self._slot = slot

    def beat(self, now: float | None = None) -> None:
        self._board.beat(self._slot, now)
