"""The master's table of worker processes: spawn by fork, signal, reap, watch heartbeats.

The forked child never returns into the master's code: it builds its worker (class resolved
after the fork, so the master never imports an optional stack), serves, and leaves with
`os._exit` and an `ExitCode` the master understands.

Aborting a worker (heartbeat silent for `--timeout`, or a request past `--harakiri` plus a
grace period, seen in the shared board): SIGUSR2 makes its C-level faulthandler dump every
thread's traceback (works even when the worker is stuck in C code), SIGABRT runs its
`worker_abort` hook and ends it, SIGKILL follows `ABORT_GRACE` seconds later if it is still
there.
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
from herder.workers.heartbeat import HARAKIRI, REQUESTS, Heartbeat, HeartbeatBoard
from herder.workers.hooks import run_hook
from herder.workers.stats import Counters, StatsBoard

if TYPE_CHECKING:
    from herder.config import Config
    from herder.logs import Logs
    from herder.wsgi import WSGIApplication

ABORT_GRACE = 2.0  # seconds between SIGABRT (dump tracebacks) and SIGKILL for a hung worker
HARAKIRI_GRACE = 2.0  # seconds past --harakiri before the master aborts the worker itself


@dataclass(slots=True)
class WorkerRecord:
    pid: int
    slot: int
    age: int
    spawned: float
    aborted: float = 0.0  # when SIGABRT was sent for a timeout, 0 if never
    retired: float = 0.0  # when it was told to stop gracefully, 0 while it serves
    generation: int = 0  # bumped by each reload
    replace_after: float = 0.0  # a failed replacement is not retried before this time


@dataclass(frozen=True, slots=True)
class Exited:
    """A reaped worker and how it ended."""

    record: WorkerRecord
    code: int | None  # exit status, None when killed by a signal
    signal: int | None

    @property
    def how(self) -> str:
        """`SIGKILL` or `status 4`."""
        if self.signal is not None:
            return signal.Signals(self.signal).name
        return f"status {self.code}"

    def describe(self) -> str:
        """The error-log line for this exit ("" for a clean one)."""
        pid = self.record.pid
        if self.code == ExitCode.APP_LOAD_ERROR:
            return f"App failed to load (pid:{pid})"
        if self.code == ExitCode.WORKER_BOOT_ERROR:
            return f"Worker failed to boot (pid:{pid})"
        if self.signal == signal.SIGKILL:
            return f"Worker (pid:{pid}) was sent SIGKILL! Perhaps out of memory?"
        if self.signal is not None:
            return f"Worker (pid:{pid}) was sent {self.how}!"
        return f"Worker (pid:{pid}) exited with code {self.code}" if self.code else ""


class WorkerTable:
    def __init__(
        self,
        cfg: Config,
        logs: Logs,
        board: HeartbeatBoard,
        server: object = None,
        stats: StatsBoard | None = None,
        accept_lock_fd: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.logs = logs
        self.board = board
        self.server = server  # handed to hooks
        self.stats = stats if stats is not None else StatsBoard(board.slots)
        self.accept_lock_fd = accept_lock_fd
        self.records: dict[int, WorkerRecord] = {}
        self.strangers: list[tuple[int, int]] = []  # reaped children that are not workers
        self.generation = 0
        self.served = 0  # requests served by workers already reaped
        self.harakiri = 0  # their requests abandoned at the --harakiri deadline
        self._free = list(range(board.slots - 1, -1, -1))
        self._age = 0

    def __len__(self) -> int:
        return len(self.records)

    def active(self) -> list[WorkerRecord]:
        """Serving workers (not retiring), oldest first."""
        return sorted((r for r in self.records.values() if not r.retired), key=lambda r: r.age)

    def is_booted(self, record: WorkerRecord) -> bool:
        """The worker loaded the app and beat at least once."""
        return self.board.last(record.slot) != 0.0

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
        record = WorkerRecord(0, slot, self._age, time.monotonic(), generation=self.generation)
        run_hook(self.cfg, self.logs.error, "pre_fork", self.server, record)
        pid = os.fork()
        if pid:
            record.pid = pid
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
                server=self.server,
                counters=Counters(self.stats, slot),
                accept_lock_fd=self.accept_lock_fd,
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
                self.strangers.append((pid, status))
                continue
            if os.WIFSIGNALED(status):
                exited.append(Exited(record, None, os.WTERMSIG(status)))
            else:
                exited.append(Exited(record, os.waitstatus_to_exitcode(status), None))
        return exited

    def forget(self, pid: int) -> WorkerRecord | None:
        record = self.records.pop(pid, None)
        if record is not None:
            self.served += self.board.count(record.slot, REQUESTS)
            self.harakiri += self.board.count(record.slot, HARAKIRI)
            self._free.append(record.slot)
            self.stats.release(record.slot)
        return record

    def totals(self) -> tuple[int, int]:
        """Requests served and harakiri'd requests, by every worker so far."""
        live = [r.slot for r in self.records.values()]
        served = self.served + sum(self.board.count(slot, REQUESTS) for slot in live)
        harakiri = self.harakiri + sum(self.board.count(slot, HARAKIRI) for slot in live)
        return served, harakiri

    def check_timeouts(self, timeout: float, graceful_timeout: float) -> None:
        """Abort workers silent for `timeout` seconds: SIGABRT first, SIGKILL if still there.
        Retiring workers get SIGKILL once `graceful_timeout` has passed."""
        now = time.monotonic()
        for record in list(self.records.values()):
            if record.aborted:
                if now - record.aborted > ABORT_GRACE:
                    self.kill(record.pid, signal.SIGKILL)
                continue
            if record.retired:
                if now - record.retired > graceful_timeout:
                    self.kill(record.pid, signal.SIGKILL)
                continue
            why = self._overdue(record, now, timeout)
            if why:
                self.logs.error.critical("%s (pid:%s)", why, record.pid)
                self.abort(record, now)

    def _overdue(self, record: WorkerRecord, now: float, timeout: float) -> str:
        """Why `record` must be aborted now ("" when it need not be)."""
        last = self.board.last(record.slot) or record.spawned
        if timeout and now - last > timeout:
            return "WORKER TIMEOUT"
        started = self.board.started(record.slot)
        harakiri = self.cfg.harakiri
        if harakiri and started and now - started > harakiri + HARAKIRI_GRACE:
            return f"HARAKIRI: a request ran {now - started:.1f} s, past --harakiri"
        return ""

    def abort(self, record: WorkerRecord, now: float) -> None:
        """Dump the worker's threads (USR2), run its worker_abort hook (ABRT); KILL later."""
        record.aborted = now
        self.kill(record.pid, signal.SIGUSR2)
        self.kill(record.pid, signal.SIGABRT)


def _serve(ctx: WorkerContext) -> int:
    from herder.workers.registry import resolve

    worker = None
    try:
        worker = resolve(ctx.cfg.worker_class)(ctx)
        run_hook(ctx.cfg, ctx.logs.error, "post_fork", ctx.server, worker)
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
        if worker is not None:
            run_hook(ctx.cfg, ctx.logs.error, "worker_exit", ctx.server, worker)
        for handler in ctx.logs.error.handlers:
            handler.flush()
