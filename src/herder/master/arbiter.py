"""The master loop: keep the right number of workers alive and obey signals.

Startup: `on_starting`, umask, pid file, listeners (bound, inherited from a previous master
by `HERDER_FD`, or from systemd by `LISTEN_FDS`), optional preload, `when_ready`, then fork
`--workers` workers; `READY=1` goes to systemd once they have booted. Then the loop: reap
exited children, handle one queued signal (`handle_<name>`), advance a rollout (new workers
replacing old ones once booted, see `rollout.py`), start graceful replacements asked for in
the shared board or due to `--max-worker-lifetime`, abort silent or stuck workers, spawn or
retire workers to match the wanted count, and sleep until a signal or one second passes.

Signals (Gunicorn's meanings, table in docs/design.md): TERM graceful stop, INT/QUIT fast
stop, HUP re-read the config and roll out new workers (the old ones serve until the new ones
booted; on failure they keep serving), TTIN/TTOU one worker more/less, USR1 reopen log files,
USR2 exec a new master on the same sockets, WINCH retire the workers (daemonized, or after
USR2). A worker exiting with `APP_LOAD_ERROR`/`WORKER_BOOT_ERROR` before the first workers
booted stops the master with that status; later, `MAX_BOOT_FAILURES` such exits in a row do.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from herder.errors import AppImportError, ExitCode, HerderError
from herder.master import systemd
from herder.master.listeners import adopt_listeners, close_listeners, open_listeners
from herder.master.pidfile import Pidfile
from herder.master.reexec import Launch, inherited_fds, spawn_new_master, upgrade_parent
from herder.master.reloading import PreloadedApp, reread_config
from herder.master.rollout import Outcome, Rollout
from herder.master.signals import SignalQueue
from herder.master.workers import Exited, WorkerRecord, WorkerTable
from herder.workers.accepting import open_lock_file
from herder.workers.heartbeat import WANTS_RELOAD, WANTS_REPLACEMENT, HeartbeatBoard
from herder.workers.hooks import run_hook
from herder.workers.stats import StatsBoard

if TYPE_CHECKING:
    from herder.config import Config
    from herder.logs import Logs
    from herder.workers.base import Listener
    from herder.wsgi import WSGIApplication

WAKE_INTERVAL = 1.0
STOP_POLL = 0.1
FATAL_EXITS = {ExitCode.APP_LOAD_ERROR, ExitCode.WORKER_BOOT_ERROR}
MAX_BOOT_FAILURES = 5  # boot failures in a row, after the first start, that stop the master
RETRY_REPLACEMENT = 5.0  # seconds before a failed graceful replacement is tried again


class StopServer(Exception):
    """Leave the master loop with this exit status."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Arbiter:
    def __init__(self, cfg: Config, logs: Logs, launch: Launch | None = None) -> None:
        self.cfg = cfg
        self.logs = logs
        self.log = logs.error
        self.launch = launch or Launch.current([])
        self.signals = SignalQueue()
        self.board = HeartbeatBoard()
        self.stats = StatsBoard(self.board.slots, cfg.worker_stats)
        lock_fd = open_lock_file() if cfg.accept_lock and not cfg.reuse_port else None
        self.workers = WorkerTable(
            cfg, logs, board=self.board, server=self, stats=self.stats, accept_lock_fd=lock_fd
        )
        self.num_workers = cfg.workers
        self.listeners: tuple[Listener, ...] = ()
        self.app: WSGIApplication | None = None
        self.pidfile: Pidfile | None = None
        self.pid = os.getpid()
        self.rollout: Rollout | None = None
        self.ready = False  # the first workers booted
        self.boot_failures = 0
        self.reexec_pid = 0  # the new master started by USR2, while it runs
        self.upgraded_from = 0  # the old master, when this one was started by USR2
        self.hup_pending = False
        self.preloaded: PreloadedApp | None = None

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
        run_hook(self.cfg, self.log, "on_starting", self)
        os.umask(self.cfg.umask)
        self.signals.install()
        self._set_title()
        self.log.info("Starting herder %s", _version())
        self.upgraded_from = upgrade_parent(os.environ)
        self._write_pidfile()
        self.listeners = self._listeners()
        for listener in self.listeners:
            self.log.info("Listening at: %s (%s)", listener.url, self.pid)
        self.log.info("Using worker: %s", self.cfg.worker_class)
        if self.cfg.preload_app and self.cfg.wsgi_app is not None:
            self.app = self._load_app()
            if self.cfg.gc_freeze:
                import gc

                gc.freeze()
        run_hook(self.cfg, self.log, "when_ready", self)
        self.manage_workers()

    def _write_pidfile(self) -> None:
        if self.cfg.pidfile:
            path = self.cfg.pidfile + (".2" if self.upgraded_from else "")
            self.pidfile = Pidfile(path)
            self.pidfile.create(self.pid)

    def _listeners(self) -> tuple[Listener, ...]:
        fds = inherited_fds(os.environ) or systemd.listen_fds(os.environ, self.pid)
        for name in ("HERDER_FD", "LISTEN_FDS", "LISTEN_PID", "HERDER_UPGRADE_FROM"):
            os.environ.pop(name, None)  # not inherited by workers or a later USR2
        if fds:
            return tuple(
                adopt_listeners(
                    fds, self.cfg.bind, self.cfg.backlog, self.cfg.protocol, self.cfg.reuse_port
                )
            )
        return tuple(
            open_listeners(self.cfg.bind, self.cfg.backlog, self.cfg.protocol, self.cfg.reuse_port)
        )

    def _load_app(self) -> WSGIApplication:
        from herder.app import load_app

        assert self.cfg.wsgi_app is not None  # the CLI refuses to start without one
        roots = [self.cfg.chdir, *(self.cfg.pythonpath or ())]
        self.preloaded = PreloadedApp(self.cfg.wsgi_app, roots, load_app)
        try:
            return self.preloaded.load()
        except AppImportError as exc:
            self.log.error("Failed to load the application:\n%s", exc)
            raise StopServer(ExitCode.APP_LOAD_ERROR) from exc

    # -- the loop -------------------------------------------------------------------------

    def tick(self) -> None:
        self.handle_exits(self.workers.reap())
        self.handle_strangers()
        sig = self.signals.pop()
        if sig is not None:
            self.dispatch(sig)
            return
        now = time.monotonic()
        self.advance_rollout(now)
        self.check_board(now)
        self.workers.check_timeouts(self.cfg.timeout, self.cfg.graceful_timeout)
        self.manage_workers()
        self.check_upgrade()
        self.signals.wait(0.05 if self.rollout or not self.ready else WAKE_INTERVAL)

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
            run_hook(self.cfg, self.log, "child_exit", self, gone.record)
            message = gone.describe()
            if message:
                self.log.error("%s", message)
            rollout = self.rollout
            if rollout is not None and gone.record.pid in rollout.new:
                rollout.fail(f"new worker {gone.record.pid} exited with {gone.how}")
                continue
            if gone.code in FATAL_EXITS:
                self._boot_failed(gone)

    def _boot_failed(self, gone: Exited) -> None:
        self.boot_failures += 1
        if self.ready and self.boot_failures < MAX_BOOT_FAILURES:
            return
        self.log.error("Workers cannot boot (%s in a row); stopping.", self.boot_failures)
        self.halt(graceful=False)
        raise StopServer(gone.code or ExitCode.FAILURE)

    def handle_strangers(self) -> None:
        """Children that are not workers: the new master of a binary upgrade."""
        for pid, _status in self.workers.strangers:
            if pid == self.reexec_pid:
                self.log.warning("The new master (pid:%s) exited; serving on.", pid)
                self.reexec_pid = 0
        self.workers.strangers.clear()

    def manage_workers(self) -> None:
        if self.rollout is not None:
            return
        active = self.workers.active()
        for _ in range(self.num_workers - len(active)):
            self.spawn()
        for record in active[: max(0, len(active) - self.num_workers)]:
            self.workers.retire(record)

    def spawn(self) -> WorkerRecord:
        return self.workers.spawn(self.listeners, self.app, self.signals.uninstall_in_child)

    # -- rollouts: reloads and graceful replacements ---------------------------------------

    def advance_rollout(self, now: float) -> None:
        if not self.ready or self.boot_failures:
            self._check_booted()
        rollout = self.rollout
        if rollout is None:
            if self.hup_pending:
                self.hup_pending = False
                self.reload()
            return
        outcome = rollout.check(self.workers, now)
        if outcome is Outcome.PENDING:
            return
        self.rollout = None
        if outcome is Outcome.DONE:
            rollout.finish(self.workers)
            self.boot_failures = 0
            self.log.info("%s complete: %s new worker(s) serving", rollout.reason, len(rollout.new))
        else:
            rollout.abandon(self.workers)
            self._rollback(rollout)
        if rollout.is_reload:
            systemd.notify("READY=1")

    def _rollback(self, rollout: Rollout) -> None:
        self.log.error(
            "%s failed: %s; the old workers keep serving", rollout.reason, rollout.failure
        )
        if rollout.previous_cfg is not None:
            self._apply_config(rollout.previous_cfg)
        if rollout.previous_app is not None:
            self.app = rollout.previous_app
        for record in rollout.old:
            record.replace_after = time.monotonic() + RETRY_REPLACEMENT

    def _check_booted(self) -> None:
        """Every active worker booted: the first start is done, a failure streak ends."""
        active = self.workers.active()
        if not active or not all(self.workers.is_booted(r) for r in active):
            return
        self.boot_failures = 0
        if not self.ready:
            self.ready = True
            self.log.info("Ready: %s worker(s) booted", len(active))
            systemd.notify(f"READY=1\nMAINPID={self.pid}")

    def check_board(self, now: float) -> None:
        """Start the graceful replacements workers asked for, and `--max-worker-lifetime`."""
        if self.rollout is not None:
            return
        lifetime = self.cfg.max_worker_lifetime
        for record in self.workers.active():
            flags = self.board.flags(record.slot)
            if flags & WANTS_RELOAD:
                self.log.info("Worker %s saw a source change: reloading", record.pid)
                self.reload()
                return
            if record.replace_after > now:
                continue
            old = lifetime and now - record.spawned > lifetime
            if flags & WANTS_REPLACEMENT or old:
                self.replace(record, now)
                return

    def replace(self, record: WorkerRecord, now: float) -> None:
        self.log.info("Replacing worker %s gracefully", record.pid)
        new = self.spawn()
        self.rollout = Rollout("recycle", [record], {new.pid: new}, now + self.cfg.boot_timeout)

    def reload(self) -> None:
        """Re-read the configuration, reopen logs, roll out a new generation of workers."""
        if self.rollout is not None:
            self.hup_pending = True
            return
        systemd.notify(systemd.reloading_state())
        run_hook(self.cfg, self.log, "on_reload", self)
        previous, previous_app = self.cfg, self.app
        self._reread_config()
        self.logs.reopen()
        if self.preloaded is not None:
            self.app = self.preloaded.reimport(self.log) or self.app
        old_count, self.num_workers = self.num_workers, self.cfg.workers
        if old_count != self.num_workers:
            run_hook(self.cfg, self.log, "nworkers_changed", self, self.num_workers, old_count)
        old = self.workers.active()
        self.workers.generation += 1
        new = {r.pid: r for r in (self.spawn() for _ in range(self.num_workers))}
        deadline = time.monotonic() + self.cfg.boot_timeout
        self.rollout = Rollout("reload", old, new, deadline, previous, previous_app)

    def _reread_config(self) -> None:
        cfg = reread_config(self.launch, self.log)
        if cfg is None:
            return
        if cfg.bind != self.cfg.bind:
            self.log.warning("Reload: bind changes need a restart or USR2; keeping the sockets")
        self._apply_config(cfg)

    def _apply_config(self, cfg: Config) -> None:
        self.cfg = cfg
        self.workers.cfg = cfg

    # -- signal handlers ------------------------------------------------------------------

    def handle_term(self) -> None:
        self.halt(graceful=True)
        raise StopServer(ExitCode.OK)

    def handle_int(self) -> None:
        self.halt(graceful=False)
        raise StopServer(ExitCode.OK)

    handle_quit = handle_int

    def handle_ttin(self) -> None:
        self._set_workers(self.num_workers + 1)

    def handle_ttou(self) -> None:
        self._set_workers(max(1, self.num_workers - 1))

    def _set_workers(self, count: int) -> None:
        old, self.num_workers = self.num_workers, count
        if old != count:
            run_hook(self.cfg, self.log, "nworkers_changed", self, count, old)
        self.manage_workers()

    def handle_usr1(self) -> None:
        self.logs.reopen()
        self.workers.kill_all(signal.SIGUSR1)

    def handle_hup(self) -> None:
        self.log.info("Hang up: reloading")
        self.reload()

    def handle_usr2(self) -> None:
        """Binary upgrade: exec a new master on the same sockets; both serve meanwhile."""
        if self.reexec_pid or self.upgraded_from:
            self.log.warning("USR2 ignored: an upgrade is already in progress")
            return
        fds = [listener.sock.fileno() for listener in self.listeners]
        hook = lambda: run_hook(self.cfg, self.log, "pre_exec", self)  # noqa: E731
        self.reexec_pid = spawn_new_master(self.launch, fds, hook)
        self.log.info("Started the new master (pid:%s)", self.reexec_pid)

    def handle_winch(self) -> None:
        """Retire every worker gracefully (the master stays): after USR2, or daemonized."""
        if not (self.cfg.daemon or self.reexec_pid):
            self.log.info("WINCH ignored: not daemonized and no new master running")
            return
        self.log.info("Retiring all workers gracefully")
        self._set_workers_to_zero()

    def _set_workers_to_zero(self) -> None:
        self.num_workers = 0
        for record in self.workers.active():
            self.workers.retire(record)

    def check_upgrade(self) -> None:
        """A master started by USR2 takes the pid file over once the old master is gone."""
        if not self.upgraded_from or os.getppid() == self.upgraded_from:
            return
        self.log.info("The old master (pid:%s) is gone; taking over", self.upgraded_from)
        self.upgraded_from = 0
        if self.pidfile is not None and self.cfg.pidfile:
            os.replace(self.pidfile.path, self.cfg.pidfile)
            self.pidfile.path = self.cfg.pidfile
        systemd.notify(f"MAINPID={self.pid}\nREADY=1")

    # -- stopping -------------------------------------------------------------------------

    def halt(self, graceful: bool) -> None:
        """Stop every worker: TERM and wait `--graceful-timeout`, or QUIT; then KILL."""
        systemd.notify("STOPPING=1")
        close_listeners(list(self.listeners), unlink=not self.reexec_pid)
        self.listeners = ()
        self.workers.kill_all(signal.SIGTERM if graceful else signal.SIGQUIT)
        deadline = time.monotonic() + (self.cfg.graceful_timeout if graceful else 1.0)
        while len(self.workers) and time.monotonic() < deadline:
            self._reap_stopping()
            time.sleep(STOP_POLL)
        self.workers.kill_all(signal.SIGKILL)
        while len(self.workers):
            self._reap_stopping()
            time.sleep(0.01)
        served, harakiri = self.workers.totals()
        self.log.info("Shutting down: Master (requests served: %s, harakiri: %s)", served, harakiri)

    def _reap_stopping(self) -> None:
        for gone in self.workers.reap():
            run_hook(self.cfg, self.log, "child_exit", self, gone.record)

    def cleanup(self) -> None:
        close_listeners(list(self.listeners), unlink=not self.reexec_pid)
        if self.pidfile is not None:
            self.pidfile.unlink()
        run_hook(self.cfg, self.log, "on_exit", self)
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
