"""The base every worker class derives from, and what the master hands to it.

A worker is built after the fork and owns its process: it installs its own signal handlers,
drops privileges, loads the app (unless the master preloaded it), then runs its accept loop
until told to stop. What the master expects of every worker class:

- call `self.notify()` at least once a second, even when idle (the heartbeat; a worker silent
  for `--timeout` seconds is aborted and replaced);
- stop accepting and finish in-flight work when `self.alive` turns False (SIGTERM), within
  `--graceful-timeout`; SIGINT/SIGQUIT end it at once;
- bracket every request with `token = self.request_started(method, path)` and
  `self.request_finished(token)`: this publishes the request's start in the shared board
  (the master's harakiri backstop), runs the `--harakiri` deadline (an interval timer for a
  single-threaded worker; threaded and coroutine workers start `self.start_watchdog()`),
  counts the request and decides recycling (`--max-requests`, `--max-worker-memory`);
- when a request hits its deadline (`HarakiriTimeout`), call `self.on_harakiri(token, exc)`;
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
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from herder.config.binds import Bind
from herder.errors import AppImportError, ExitCode, HerderError
from herder.workers.accepting import (
    Accepted,
    AcceptLock,
    accept_batch,
    accept_while,
    drain_and_close,
    own_listeners,
    set_nodelay,
)
from herder.workers.harakiri import (
    AlarmDeadline,
    GreenDeadline,
    HarakiriTimeout,
    RequestToken,
    Watchdog,
)
from herder.workers.heartbeat import WANTS_REPLACEMENT, Heartbeat
from herder.workers.hooks import run_hook
from herder.workers.recycling import is_over_memory, request_budget, resident_bytes
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
    server: object = None  # the master's Arbiter, handed to hooks as `server`
    counters: Counters | None = None  # this worker's slot of the master's stats board
    accept_lock_fd: int | None = None  # the master's lock file, with --accept-lock


class Worker:
    """Shared lifecycle of all worker classes; subclasses implement `run()`."""

    multithread = False
    # The --harakiri deadline as a SIGALRM timer in the main thread: right for workers that run
    # one request at a time there (sync, event); threaded workers use the watchdog instead,
    # coroutine workers rely on the master's backstop (see docs/design.md).
    alarm_deadline = True
    loads_app = True  # False for a worker that serves no WSGI app (a raw TCP service)

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.log = ctx.logs.error
        self.listeners = ctx.listeners
        self.alive = True
        self.pid = os.getpid()
        self.requests = 0
        self.max_requests = request_budget(self.cfg.max_requests, self.cfg.max_requests_jitter)
        self.app: WSGIApplication = ctx.app if ctx.app is not None else _unloaded_app
        self.counters = ctx.counters or Counters(StatsBoard(slots=1), 0)
        self.accept_lock: AcceptLock | None = None
        self._reopen_logs = False
        self._next_check = 0.0
        self.in_flight: dict[int, RequestToken] = {}
        self._heartbeat = ctx.heartbeat
        self.deadline: AlarmDeadline | GreenDeadline | None = None
        self.watchdog: Watchdog | None = None
        self._replacement_asked = False
        self._lock = threading.Lock()

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
        run_hook(self.cfg, self.log, "post_worker_init", self)
        if self.cfg.reload:
            from herder.workers.reloader import start_reloader

            start_reloader(self)
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
        set_nodelay(self.listeners)

    def accept(self, index: int, limit: int = 1) -> list[Accepted]:
        """Up to `limit` connections from listener `index`, counted in `self.counters`."""
        return accept_batch(self.listeners[index].sock, self.counters, limit)

    def accept_while(
        self,
        index: int,
        limit: int,
        take: Callable[[socket.socket, tuple[str, int] | None], bool],
    ) -> None:
        """Like `accept`, handing each connection to `take` as it comes; stop when it
        returns False."""
        accept_while(self.listeners[index].sock, self.counters, limit, take)

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
        signal.signal(signal.SIGABRT, self._on_abort)
        if self.cfg.harakiri and not self.multithread and self.alarm_deadline:
            self.deadline = AlarmDeadline(self.cfg.harakiri)
            self.deadline.install()

    def _enable_fault_dumps(self) -> None:
        # The master aborts a worker that stopped beating with SIGUSR2 then SIGABRT. SIGUSR2
        # has a C-level handler that dumps every thread's traceback into the error log even
        # while the worker is stuck in C code; SIGABRT's Python handler then runs the
        # `worker_abort` hook and exits (SIGKILL follows if it cannot run). `enable()` also
        # dumps on fatal errors (SIGSEGV...).
        stream = self.error_stream()
        faulthandler.enable(file=stream, all_threads=True)
        faulthandler.register(signal.SIGUSR2, file=stream, all_threads=True, chain=False)

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
        run_hook(self.cfg, self.log, "worker_int", self)
        sys.exit(ExitCode.OK)

    def _on_abort(self, signum: int, frame: FrameType | None) -> None:
        self.alive = False
        run_hook(self.cfg, self.log, "worker_abort", self)
        sys.exit(ExitCode.FAILURE)

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

    # -- requests: deadlines, counting, recycling ----------------------------------------

    def request_started(self, method: str, path: str) -> RequestToken:
        """A request begins: publish its start, arm its deadline; pass the token back to
        `request_finished`. Thread-safe (threaded workers call it from request threads)."""
        token = RequestToken(method, path, time.monotonic())
        in_flight = self.in_flight
        with self._lock:
            in_flight[id(token)] = token
            if len(in_flight) == 1:
                self._heartbeat.request_started(token.started)
        if self.deadline is not None:
            self.deadline.arm(token)
            if isinstance(self.deadline, AlarmDeadline):  # one request per process at a time
                faulthandler.dump_traceback_later(self.cfg.harakiri + 1.0, file=self.error_stream())
        return token

    def request_finished(self, token: RequestToken) -> None:
        if self.deadline is not None:
            self.deadline.disarm()
            faulthandler.cancel_dump_traceback_later()
        self.count_request()
        in_flight = self.in_flight
        with self._lock:
            in_flight.pop(id(token), None)
            if in_flight:
                oldest = min(t.started for t in in_flight.values())
                self._heartbeat.request_started(oldest)
            else:
                self._heartbeat.request_finished(self.requests)

    def in_flight_tokens(self) -> list[RequestToken]:
        with self._lock:
            return list(self.in_flight.values())

    def start_watchdog(self) -> None:
        """For threaded and coroutine workers: interrupt requests past `--harakiri`."""
        if self.cfg.harakiri and self.watchdog is None:
            self.watchdog = Watchdog(self.cfg.harakiri, self.in_flight_tokens, self._expired)
            self.watchdog.start()

    def _expired(self, token: RequestToken) -> None:
        self.log.error(
            "HARAKIRI: %s %s interrupted in thread %s", token.method, token.path, token.thread_id
        )

    def on_harakiri(self, token: RequestToken, exc: HarakiriTimeout) -> None:
        """Log where the request was stuck, count it, and ask to be replaced."""
        self.log.error(
            "HARAKIRI: %s %s exceeded %g s (worker %s); traceback:\n%s",
            token.method,
            token.path,
            self.cfg.harakiri,
            self.pid,
            "".join(traceback.format_exception(exc)),
        )
        self.ctx.heartbeat.harakiri()
        self.ask_replacement("a request hit the harakiri deadline")

    def count_request(self) -> None:
        self.requests += 1
        self.counters.request()
        if self.max_requests and self.requests >= self.max_requests:
            self.ask_replacement(f"served {self.requests} requests")
        elif self.cfg.max_worker_memory and self.requests % 16 == 0:
            rss = resident_bytes()
            if is_over_memory(self.cfg.max_worker_memory, rss):
                self.ask_replacement(f"resident memory {rss >> 20} MiB over the limit")

    def ask_replacement(self, why: str) -> None:
        """Tell the master to start this worker's successor, then retire this one; the
        worker serves on meanwhile."""
        if self._replacement_asked or not self.alive:
            return
        self._replacement_asked = True
        self.log.info("Worker %s asks to be replaced: %s", self.pid, why)
        self.ctx.heartbeat.ask(WANTS_REPLACEMENT)

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
