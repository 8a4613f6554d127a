"""The master's table of worker processes: spawn by fork, signal, reap, watch heartbeats.

The forked child never returns into the master's code: it builds its worker (class resolved
after the fork, so the master never imports an optional stack), serves, and leaves with
`os._exit` and an `ExitCode` the master understands.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from herder.errors import ExitCode
from herder.workers.base import Listener, WorkerBootError, WorkerContext
from herder.workers.heartbeat import Heartbeat, HeartbeatBoard
from herder.workers.stats import Counters, StatsBoard

if TYPE_CHECKING:
    from herder.config import Config
    from herder.logs import Logs
    from herder.wsgi import WSGIApplication

ABORT_GRACE = 2.0  # seconds between SIGABRT (dump tracebacks) and SIGKILL for a hung worker


@dataclass(slots=True)
class WorkerRecord:
    pid: int
    slot: int
    age: int
    spawned: float
    aborted: float = 0.0  # when SIGABRT was sent for a timeout, 0 if never
    retired: float = 0.0  # when it was told to stop gracefully, 0 while it serves


@dataclass(frozen=True, slots=True)
class Exited:
    """A reaped worker and how it ended."""

    record: WorkerRecord
    code: int | None  # exit status, None when killed by a signal
    signal: int | None


class WorkerTable:
    def __init__(
        self,
        cfg: Config,
        logs: Logs,
        board: HeartbeatBoard,
        stats: StatsBoard | None = None,
        accept_lock_fd: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.logs = logs
        self.board = board
        self.stats = stats if stats is not None else StatsBoard(board.slots)
        self.accept_lock_fd = accept_lock_fd
        self.records: dict[int, WorkerRecord] = {}
        self._free = list(range(board.slots - 1, -1, -1))
        self._age = 0

    def __len__(self) -> int:
        return len(self.records)

    def active(self) -> list[WorkerRecord]:
        """Serving workers (not retiring), oldest first."""
        return sorted((r for r in self.records.values() if not r.retired), key=lambda r: r.age)

    def retire(self, record: WorkerRecord) -> None:
        """Ask a worker to finish its in-flight work and exit (SIGTERM)."""
        record.retired = time.monotonic()
        self.kill(record.pid, signal.SIGTERM)

    def spawn(
        self,
        listeners: tuple[Listener, ...],
        app: WSGIApplication | None,
        in_child: Callable[[], None],
    ) -> WorkerRecord:
        slot = self._free.pop()
        self.board.reset(slot)
        self._age += 1
        pid = os.fork()
        if pid:
            record = WorkerRecord(pid, slot, self._age, time.monotonic())
            self.records[pid] = record
            self.logs.error.info("Booting worker with pid: %s", pid)
            return record
        code: int = ExitCode.FAILURE
        try:
            in_child()
            heartbeat = Heartbeat(self.board, slot)
            self.stats.claim(slot, os.getpid())
            ctx = WorkerContext(
                self.cfg,
                self.logs,
                listeners,
                heartbeat,
                os.getppid(),
                self._age,
                app,
                Counters(self.stats, slot),
                self.accept_lock_fd,
            )
            code = _serve(ctx)
        finally:
            os._exit(code)

    def kill(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            self.forget(pid)

    def kill_all(self, sig: int) -> None:
        for pid in list(self.records):
            self.kill(pid, sig)

    def reap(self) -> list[Exited]:
        exited: list[Exited] = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            record = self.forget(pid)
            if record is None:
                continue
            if os.WIFSIGNALED(status):
                exited.append(Exited(record, None, os.WTERMSIG(status)))
            else:
                exited.append(Exited(record, os.waitstatus_to_exitcode(status), None))
        return exited

    def forget(self, pid: int) -> WorkerRecord | None:
        record = self.records.pop(pid, None)
        if record is not None:
            self._free.append(record.slot)
            self.stats.release(record.slot)
        return record

    def check_timeouts(self, timeout: float, graceful_timeout: float) -> None:
        """Abort workers silent for `timeout` seconds: SIGABRT first, SIGKILL if still there.
        Retiring workers get SIGKILL once `graceful_timeout` has passed."""
        now = time.monotonic()
        for record in list(self.records.values()):
            if record.retired:
                if now - record.retired > graceful_timeout:
                    self.kill(record.pid, signal.SIGKILL)
                continue
            if not timeout:
                continue
            last = self.board.last(record.slot) or record.spawned
            if now - last <= timeout:
                continue
            if not record.aborted:
                self.logs.error.critical("WORKER TIMEOUT (pid:%s)", record.pid)
                record.aborted = now
                self.kill(record.pid, signal.SIGABRT)
            elif now - record.aborted > ABORT_GRACE:
                self.kill(record.pid, signal.SIGKILL)


def _serve(ctx: WorkerContext) -> int:
    from herder.workers.registry import resolve

    try:
        worker = resolve(ctx.cfg.worker_class)(ctx)
        return worker.serve()
    except WorkerBootError as exc:
        ctx.logs.error.error("Worker failed to boot: %s", exc)
        return ExitCode.WORKER_BOOT_ERROR
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else ExitCode.OK
    except BaseException:
        ctx.logs.error.error("Worker crashed:\n%s", traceback.format_exc())
        return ExitCode.FAILURE
    finally:
        for handler in ctx.logs.error.handlers:
            handler.flush()
