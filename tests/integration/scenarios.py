"""The fault scenarios of the master-lifecycle work, shared by the integration tests and
`bench/faults.py`: each starts a real master, runs a bounded load, injects a fault with real
signals, and returns its figures (failed/total requests, respawn times). The tests assert on
the figures; the bench script prints them as a table.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.harness import APPS, Server, get, wait_until, worker_pids
from tests.integration.load import Figures, Load

LIFECYCLE_APP = "apps.lifecycle:app"
RELOADED = "reload complete"
STEP_TIMEOUT = 20.0


@dataclass
class Result:
    name: str
    figures: Figures
    respawn: list[float] = field(default_factory=list)  # seconds until a replacement served
    notes: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        f = self.figures
        text = f"{self.name}: failed {f.failed}/{f.total} (retried {f.retried})"
        if self.respawn:
            text += f", respawn max {max(self.respawn):.3f} s, mean "
            text += f"{sum(self.respawn) / len(self.respawn):.3f} s over {len(self.respawn)}"
        for key, value in self.notes.items():
            text += f", {key} {value}"
        return text


def served_by(figures: Figures) -> set[int]:
    """Worker pids that answered (bodies are `version pid ppid`)."""
    with figures.lock:
        return {int(body.split()[1]) for body in figures.bodies if body.count(b" ") == 2}


def masters_of(figures: Figures) -> set[int]:
    with figures.lock:
        return {int(body.split()[2]) for body in figures.bodies if body.count(b" ") == 2}


def app_copy(tmp: Path) -> Path:
    """A private copy of the test apps, so a test may edit the code."""
    target = tmp / "site"
    shutil.copytree(APPS, target / "apps")
    return target


# -- scenarios ------------------------------------------------------------------------------


def three_hups(worker_class: str = "event") -> Result:
    with Server("-k", worker_class, "-w", "2", app=LIFECYCLE_APP) as srv:
        before = worker_pids(srv.pid)
        with Load(srv.connect, seconds=60) as load:
            time.sleep(0.5)
            for n in range(1, 4):
                srv.signal(signal.SIGHUP)
                assert wait_until(lambda n=n: srv.count(RELOADED) >= n, STEP_TIMEOUT), srv.output
                time.sleep(0.5)
            figures = load.stop()
        after = worker_pids(srv.pid)
        assert wait_until(lambda: len(worker_pids(srv.pid)) == 2, STEP_TIMEOUT)
        after = worker_pids(srv.pid)
        return Result("3 x HUP", figures, notes={"old pids left": len(before & after)})


def upgrade(tmp: Path, worker_class: str = "event") -> Result:
    pidfile = tmp / "herder.pid"
    with Server("-k", worker_class, "-w", "2", "--pid", str(pidfile), app=LIFECYCLE_APP) as srv:
        with Load(srv.connect, seconds=60) as load:
            time.sleep(0.5)
            srv.signal(signal.SIGUSR2)
            second = Path(f"{pidfile}.2")
            assert wait_until(second.exists, STEP_TIMEOUT), srv.output
            new_master = int(second.read_text())
            assert wait_until(lambda: new_master in masters_of(load.figures), STEP_TIMEOUT)
            srv.signal(signal.SIGWINCH)
            # the old master's only child left is the new master
            assert wait_until(lambda: worker_pids(srv.pid) == {new_master}, STEP_TIMEOUT)
            srv.signal(signal.SIGTERM)
            code = srv.wait(STEP_TIMEOUT)
            assert wait_until(lambda: pidfile.exists() and not second.exists(), STEP_TIMEOUT)
            taken_over = int(pidfile.read_text()) == new_master
            time.sleep(0.5)
            figures = load.stop()
        served = get(srv)  # still answered, now by the new master's workers
        os.kill(new_master, signal.SIGTERM)
        notes = {"old exit": code, "pidfile moved": taken_over, "after": served[0]}
        return Result("USR2+WINCH+TERM", figures, notes=notes)


def kill_workers(seconds: float = 10.0, worker_class: str = "event") -> Result:
    with Server("-k", worker_class, "-w", "2", app=LIFECYCLE_APP) as srv:
        respawn: list[float] = []
        with Load(srv.connect, seconds=60) as load:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                started = time.monotonic()
                respawn.append(_kill_one(srv))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
            figures = load.stop()
        return Result(f"kill -9 x{len(respawn)}", figures, respawn)


def _kill_one(srv: Server) -> float:
    before = worker_pids(srv.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    fresh: set[int] = set()

    def replacement_served() -> bool:
        fresh.update(worker_pids(srv.pid) - before)
        if not fresh:
            return False
        body = get(srv, "/pid")[2]
        return int(body.split()[1]) in fresh

    assert wait_until(replacement_served, 5, step=0.005), srv.output
    return time.monotonic() - killed


def scale(worker_class: str = "event") -> Result:
    counts: list[int] = []
    steps = [(signal.SIGTTIN, n) for n in (3, 4, 5)] + [(signal.SIGTTOU, n) for n in (4, 3)]
    srv = Server("-k", worker_class, "-w", "2", app=LIFECYCLE_APP)
    with srv, Load(srv.connect, seconds=60) as load:
        for sig, expected in steps:
            srv.signal(sig)
            assert wait_until(lambda e=expected: len(worker_pids(srv.pid)) == e, 10), expected
            time.sleep(0.3)
            counts.append(len(worker_pids(srv.pid)))
        figures = load.stop()
    return Result("TTIN x3, TTOU x2", figures, notes={"workers": counts})


def harakiri(worker_class: str = "event") -> Result:
    with Server("-k", worker_class, "-w", "2", "--harakiri", "1", app=LIFECYCLE_APP) as srv:
        before = worker_pids(srv.pid)
        with Load(srv.connect, seconds=60) as load:
            status = get(srv, "/sleep?s=30")[0]
            assert wait_until(lambda: srv.count(RELOADED.replace("reload", "recycle")), 15)
            time.sleep(0.5)
            figures = load.stop()
        replaced = len(before - worker_pids(srv.pid))
        srv.stop()
        counted = "harakiri: 1)" in srv.output
        logged = "HARAKIRI: GET /sleep exceeded 1 s" in srv.output
        named = "in sleeping_beauty" in srv.output
        notes = {"status": status, "replaced": replaced, "traceback logged": logged and named}
        notes["counted"] = counted
        return Result("harakiri 1 s", figures, notes=notes)


def hup_broken_code(tmp: Path, worker_class: str = "event") -> Result:
    site = app_copy(tmp)
    with Server("-k", worker_class, "-w", "2", app=LIFECYCLE_APP, cwd=site) as srv:
        before = worker_pids(srv.pid)
        module = site / "apps" / "lifecycle.py"
        with Load(srv.connect, seconds=60) as load:
            time.sleep(0.3)
            module.write_text(module.read_text() + "\nraise RuntimeError('broken on purpose')\n")
            srv.signal(signal.SIGHUP)
            assert wait_until(lambda: "reload failed" in srv.output, STEP_TIMEOUT), srv.output
            time.sleep(0.5)
            figures = load.stop()
        still = worker_pids(srv.pid)
        notes = {"old workers serving": len(before & still), "of": len(before)}
        return Result("HUP with broken code", figures, notes=notes)


def term_during_slow_request(worker_class: str = "event") -> Result:
    srv = Server("-k", worker_class, "-w", "1", "--graceful-timeout", "20", app=LIFECYCLE_APP)
    try:
        with srv.connect(timeout=20) as sock:
            sock.sendall(b"GET /sleep?s=2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            time.sleep(0.3)
            srv.signal(signal.SIGTERM)
            from tests.integration.harness import read_response

            status = read_response(sock)[0]
        code = srv.wait(20)
    finally:
        srv.stop()
    figures = Figures(total=1, failed=int(status != 200))
    return Result("TERM during slow request", figures, notes={"status": status, "exit": code})


def timeout_names(output: str) -> list[str]:
    return re.findall(r"in (sleeping_beauty|stuck_in_c)", output)
