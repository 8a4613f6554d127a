"""The base every worker class derives from, and what the master hands to it.

A worker is built after the fork and owns its process: it installs its own signal handlers,
drops privileges, loads the app (unless the master preloaded it), then runs its accept loop
until told to stop. What the master expects of every worker class:

- call `self.notify()` at least once a second, even when idle (the heartbeat; a worker silent
  for `--timeout` seconds is aborted and replaced);
- stop accepting and finish in-flight work when `self.alive` turns False (SIGTERM), within
  `--graceful-timeout`; SIGINT/SIGQUIT end it at once;
- call `self.count_request()` once per request served (it handles `--max-requests` and the
  `requests` counter), and take connections with `self.accept(index, limit)` (it counts
  wakeups, accepts and EAGAIN wakeups in `self.counters`, see `workers/stats.py`);
- honour the accept strategy: `self.accept_lock` (None unless `--accept-lock`) and
  `self.listeners` (the worker's own SO_REUSEPORT listeners under `--reuse-port`; on a graceful
  stop, `self.drain_own_listeners()` takes what is queued on them before they close);
- exit by returning from `run()`; a worker whose master died stops by itself.

Exit statuses follow `herder.errors.ExitCode`: a boot or app-load failure tells the master to
stop instead of respawning in a loop.
"""

from __future__ import annotations

import faulthandler
import os
import random
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from herder.config.binds import Bind
from herder.errors import AppImportError, ExitCode, HerderError
from herder.workers.accepting import (
    Accepted,
    AcceptLock,
    accept_batch,
    drain_and_close,
    own_listeners,
)
from herder.workers.heartbeat import Heartbeat
from herder.workers.stats import Counters, StatsBoard

if TYPE_CHECKING:
    from herder.config import Config
    from herder.logs import Logs
    from herder.wsgi import WSGIApplication


class WorkerBootError(HerderError):
    """The worker could not set itself up; the master must not keep respawning it."""


@dataclass(frozen=True, slots=True)
class Listener:
    """A bound, listening socket as the workers see it."""

    sock: socket.socket
    bind: Bind
    url: str  # how it is announced: http://127.0.0.1:8000, unix:/run/app.sock


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """Everything a worker receives from the master at fork time."""

    cfg: Config
    logs: Logs
    listeners: tuple[Listener, ...]
    heartbeat: Heartbeat
    master_pid: int
    age: int  # the how-many-th worker this master spawned
    app: WSGIApplication | None  # preloaded in the master, or None to import after the fork
    counters: Counters | None = None  # this worker's slot of the master's stats board
    accept_lock_fd: int | None = None  # the master's lock file, with --accept-lock


class Worker:
    """Shared lifecycle of all worker classes; subclasses implement `run()`."""

    multithread = False
    loads_app = True  # False for a worker that serves no WSGI app (a raw TCP service)

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.log = ctx.logs.error
        self.listeners = ctx.listeners
        self.alive = True
        self.pid = os.getpid()
        self.requests = 0
        self.max_requests = self._request_budget()
        self.app: WSGIApplication = ctx.app if ctx.app is not None else _unloaded_app
        self.counters = ctx.counters or Counters(StatsBoard(slots=1), 0)
        self.accept_lock: AcceptLock | None = None
        self._reopen_logs = False
        self._next_check = 0.0

    # -- lifecycle ------------------------------------------------------------------------

    def serve(self) -> int:
        """Boot, run, and return the process exit status."""
        try:
            self.init_process()
        except AppImportError as exc:
            self.log.error("Failed to load the application:\n%s", exc)
            return ExitCode.APP_LOAD_ERROR
        except Exception:
            self.log.error("Worker failed to boot:\n%s", traceback.format_exc())
            return ExitCode.WORKER_BOOT_ERROR
        self.run()
        return ExitCode.OK

    def init_process(self) -> None:
        self.init_signals()
        self.init_accepting()
        self._set_title()
        self._drop_privileges()
        if self.ctx.app is None and self.loads_app:
            from herder.app import load_app

            if self.cfg.wsgi_app is None:
                raise WorkerBootError(f"{type(self).__name__} needs an application (APP_MODULE)")
            self.app = load_app(self.cfg.wsgi_app)
        self.notify()

    def run(self) -> None:
        raise NotImplementedError

    # -- accepting ------------------------------------------------------------------------

    def init_accepting(self) -> None:
        """Set up the accept strategy after the fork (own listeners, the lock)."""
        if self.cfg.reuse_port:
            self.listeners = own_listeners(self.ctx.listeners, self.cfg.backlog)
        elif self.cfg.accept_lock and self.ctx.accept_lock_fd is not None:
            self.accept_lock = AcceptLock(self.ctx.accept_lock_fd)

    def accept(self, index: int, limit: int = 1) -> list[Accepted]:
        """Up to `limit` connections from listener `index`, counted in `self.counters`."""
        return accept_batch(self.listeners[index].sock, self.counters, limit)

    def drain_own_listeners(self) -> list[tuple[int, Accepted]]:
        """Under --reuse-port: take what is queued on this worker's listeners, close them."""
        if not self.cfg.reuse_port:
            return []
        return drain_and_close(self.listeners, self.counters)

    # -- signals --------------------------------------------------------------------------

    def init_signals(self) -> None:
        for sig in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_quit)
        signal.signal(signal.SIGQUIT, self._on_quit)
        signal.signal(signal.SIGUSR1, self._on_usr1)
        signal.siginterrupt(signal.SIGTERM, False)
        signal.siginterrupt(signal.SIGUSR1, False)
        self._enable_fault_dumps()

    def _enable_fault_dumps(self) -> None:
        # The master sends SIGABRT to a worker that stopped beating: the C-level handler dumps
        # every thread's traceback into the error log even when Python code is stuck, then the
        # worker dies of the signal.
        faulthandler.enable(file=self.error_stream(), all_threads=True)

    def signal_pipe(self) -> int:
        """A descriptor that becomes readable when a signal arrives, to wake a poll loop."""
        read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._signal_fds = (read_fd, write_fd)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        return read_fd

    def drain_signal_pipe(self) -> None:
        try:
            while os.read(self._signal_fds[0], 512):
                pass
        except BlockingIOError:
            pass

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        self.alive = False

    def _on_quit(self, signum: int, frame: FrameType | None) -> None:
        self.alive = False
        sys.exit(ExitCode.OK)

    def _on_usr1(self, signum: int, frame: FrameType | None) -> None:
        self._reopen_logs = True
        self._next_check = 0.0

    def error_stream(self) -> TextIO:
        """The error log's current stream: thread dumps go there."""
        return self.ctx.logs.error_stream()

    # -- duties ---------------------------------------------------------------------------

    def notify(self) -> None:
        """Beat the heartbeat; at most once a second also notice a dead master and pending
        log reopening (a busy loop calls this per wakeup: keep it free of syscalls)."""
        now = time.monotonic()
        self.ctx.heartbeat.beat(now)
        if now < self._next_check:
            return
        self._next_check = now + 1.0
        if self._reopen_logs:
            self._reopen_logs = False
            self.ctx.logs.reopen()
            self._enable_fault_dumps()
        if os.getppid() != self.ctx.master_pid:
            self.log.info("Parent changed, shutting down: %s", self)
            self.alive = False

    def count_request(self) -> None:
        self.requests += 1
        self.counters.request()
        if self.max_requests and self.requests >= self.max_requests and self.alive:
            self.log.info("Autorestarting worker after current request.")
            self.alive = False

    def _request_budget(self) -> int:
        if self.cfg.max_requests <= 0:
            return 0
        return self.cfg.max_requests + random.randint(0, max(0, self.cfg.max_requests_jitter))

    def _set_title(self) -> None:
        try:
            from setproctitle import setproctitle
        except ImportError:
            return
        name = self.cfg.proc_name or self.cfg.wsgi_app or "herder"
        setproctitle(f"herder: worker [{name}]")

    def _drop_privileges(self) -> None:
        uid, gid = self.cfg.user, self.cfg.group
        if gid != os.getegid():
            os.setgid(gid)
        if uid != os.geteuid():
            os.setuid(uid)

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.pid}>"


def _unloaded_app(environ: dict[str, Any], start_response: Any) -> Any:
    raise RuntimeError("the application was not loaded")
