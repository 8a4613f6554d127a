"""The master loop: keep the right number of workers alive and obey signals.

Startup: umask, pid file, listeners, optional preload, then fork `--workers` workers.
Then the loop: reap exited children, handle one queued signal (`handle_<name>`), abort
workers whose heartbeat is older than `--timeout`, spawn or retire workers to match the wanted
count, and sleep until a signal or one second passes.

Signals (Gunicorn's meanings): TERM graceful stop, INT/QUIT fast stop, HUP new workers then
retire the old ones, TTIN/TTOU one worker more/less, USR1 reopen log files.
A worker that exits with `APP_LOAD_ERROR` or `WORKER_BOOT_ERROR` stops the master with the
same status instead of being respawned in a loop.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from herder.errors import AppImportError, ExitCode, HerderError
from herder.master.listeners import close_listeners, open_listeners
from herder.master.pidfile import Pidfile
from herder.master.signals import SignalQueue
from herder.master.workers import Exited, WorkerTable
from herder.workers.accepting import open_lock_file
from herder.workers.heartbeat import HeartbeatBoard
from herder.workers.stats import StatsBoard

if TYPE_CHECKING:
    from herder.config import Config
    from herder.logs import Logs
    from herder.workers.base import Listener
    from herder.wsgi import WSGIApplication

WAKE_INTERVAL = 1.0
STOP_POLL = 0.1
FATAL_EXITS = {ExitCode.APP_LOAD_ERROR, ExitCode.WORKER_BOOT_ERROR}


class StopServer(Exception):
    """Leave the master loop with this exit status."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Arbiter:
    def __init__(self, cfg: Config, logs: Logs) -> None:
        self.cfg = cfg
        self.logs = logs
        self.log = logs.error
        self.signals = SignalQueue()
        self.board = HeartbeatBoard()
        self.stats = StatsBoard(self.board.slots, cfg.worker_stats)
        lock_fd = open_lock_file() if cfg.accept_lock and not cfg.reuse_port else None
        self.workers = WorkerTable(cfg, logs, self.board, self.stats, lock_fd)
        self.num_workers = cfg.workers
        self.listeners: tuple[Listener, ...] = ()
        self.app: WSGIApplication | None = None
        self.pidfile: Pidfile | None = None
        self.pid = os.getpid()

    def run(self) -> int:
        try:
            self.start()
            while True:
                self.tick()
        except StopServer as stop:
            return stop.code
        except HerderError as exc:
            self.log.error("%s", exc)
            self.halt(graceful=False)
            return ExitCode.FAILURE
        finally:
            self.cleanup()

    # -- startup --------------------------------------------------------------------------

    def start(self) -> None:
        if self.cfg.daemon:
            from herder.master.daemon import daemonize

            daemonize()
        self.pid = os.getpid()
        os.umask(self.cfg.umask)
        self.signals.install()
        self._set_title()
        self.log.info("Starting herder %s", _version())
        if self.cfg.pidfile:
            self.pidfile = Pidfile(self.cfg.pidfile)
            self.pidfile.create(self.pid)
        self.listeners = tuple(
            open_listeners(self.cfg.bind, self.cfg.backlog, reuse_port=self.cfg.reuse_port)
        )
        for listener in self.listeners:
            self.log.info("Listening at: %s (%s)", listener.url, self.pid)
        self.log.info("Using worker: %s", self.cfg.worker_class)
        if self.cfg.preload_app and self.cfg.wsgi_app is not None:
            self.app = self._load_app()
        self.manage_workers()

    def _load_app(self) -> WSGIApplication:
        from herder.app import load_app

        assert self.cfg.wsgi_app is not None  # the CLI refuses to start without one
        try:
            return load_app(self.cfg.wsgi_app)
        except AppImportError as exc:
            self.log.error("Failed to load the application:\n%s", exc)
            raise StopServer(ExitCode.APP_LOAD_ERROR) from exc

    # -- the loop -------------------------------------------------------------------------

    def tick(self) -> None:
        self.handle_exits(self.workers.reap())
        sig = self.signals.pop()
        if sig is not None:
            self.dispatch(sig)
            return
        self.workers.check_timeouts(self.cfg.timeout, self.cfg.graceful_timeout)
        self.manage_workers()
        self.signals.wait(WAKE_INTERVAL)

    def dispatch(self, sig: signal.Signals) -> None:
        name = sig.name[3:].lower()
        handler = getattr(self, f"handle_{name}", None)
        if handler is None:
            self.log.warning("Ignoring signal %s", sig.name)
            return
        self.log.info("Handling signal: %s", name)
        handler()

    def handle_exits(self, exited: list[Exited]) -> None:
        for gone in exited:
            pid = gone.record.pid
            if gone.code in FATAL_EXITS:
                reason = (
                    "App failed to load"
                    if gone.code == ExitCode.APP_LOAD_ERROR
                    else ("Worker failed to boot")
                )
                self.log.error("%s (pid:%s); stopping.", reason, pid)
                self.halt(graceful=False)
                raise StopServer(gone.code)
            if gone.signal == signal.SIGKILL:
                self.log.error("Worker (pid:%s) was sent SIGKILL! Perhaps out of memory?", pid)
            elif gone.signal is not None:
                self.log.error(
                    "Worker (pid:%s) was sent %s!", pid, signal.Signals(gone.signal).name
                )
            elif gone.code:
                self.log.error("Worker (pid:%s) exited with code %s", pid, gone.code)

    def manage_workers(self) -> None:
        active = self.workers.active()
        for _ in range(self.num_workers - len(active)):
            self.spawn()
        for record in active[: max(0, len(active) - self.num_workers)]:
            self.workers.retire(record)

    def spawn(self) -> None:
        self.workers.spawn(self.listeners, self.app, self.signals.uninstall_in_child)

    # -- signal handlers ------------------------------------------------------------------

    def handle_term(self) -> None:
        self.halt(graceful=True)
        raise StopServer(ExitCode.OK)

    def handle_int(self) -> None:
        self.halt(graceful=False)
        raise StopServer(ExitCode.OK)

    handle_quit = handle_int

    def handle_ttin(self) -> None:
        self.num_workers += 1
        self.manage_workers()

    def handle_ttou(self) -> None:
        self.num_workers = max(1, self.num_workers - 1)
        self.manage_workers()

    def handle_usr1(self) -> None:
        self.logs.reopen()
        self.workers.kill_all(signal.SIGUSR1)

    def handle_hup(self) -> None:
        """Start a fresh set of workers (they import the app anew), then retire the old."""
        old = self.workers.active()
        for _ in range(self.num_workers):
            self.spawn()
        for record in old:
            self.workers.retire(record)

    # -- stopping -------------------------------------------------------------------------

    def halt(self, graceful: bool) -> None:
        """Stop every worker: TERM and wait `--graceful-timeout`, or QUIT; then KILL."""
        close_listeners(list(self.listeners))
        self.listeners = ()
        self.workers.kill_all(signal.SIGTERM if graceful else signal.SIGQUIT)
        deadline = time.monotonic() + (self.cfg.graceful_timeout if graceful else 1.0)
        while len(self.workers) and time.monotonic() < deadline:
            self.workers.reap()
            time.sleep(STOP_POLL)
        self.workers.kill_all(signal.SIGKILL)
        while len(self.workers):
            self.workers.reap()
            time.sleep(0.01)
        self.log.info("Shutting down: Master")

    def cleanup(self) -> None:
        close_listeners(list(self.listeners))
        if self.pidfile is not None:
            self.pidfile.unlink()
        for handler in self.log.handlers:
            handler.flush()

    def _set_title(self) -> None:
        try:
            from setproctitle import setproctitle
        except ImportError:
            return
        name = self.cfg.proc_name or self.cfg.wsgi_app or "herder"
        setproctitle(f"herder: master [{name}]")


def _version() -> str:
    from herder import __version__

    return __version__
