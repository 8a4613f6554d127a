"""Binary upgrade (USR2): fork and exec a new master that inherits the listening sockets.

The new master runs the same command line, from the same directory, with the environment the
first master started with, plus `HERDER_FD=3,4` (the inherited listener descriptors, kept
inheritable across exec) and `HERDER_UPGRADE_FROM=<old master pid>`. It adopts those sockets
instead of binding, writes `<pidfile>.2`, and renames it to `<pidfile>` once the old master
is gone. The old master keeps serving until it gets WINCH (retire its workers) and TERM.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

FD_VARIABLE = "HERDER_FD"
FROM_VARIABLE = "HERDER_UPGRADE_FROM"


@dataclass(frozen=True, slots=True)
class Launch:
    """How the master was started, to reload its config and re-exec it the same way."""

    argv: tuple[str, ...]  # the full interpreter command line (`sys.orig_argv`)
    args: tuple[str, ...]  # herder's own arguments (for re-reading the configuration)
    cwd: str
    environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def current(cls, args: Sequence[str]) -> Launch:
        return cls(tuple(sys.orig_argv), tuple(args), os.getcwd(), dict(os.environ))


def inherited_fds(environ: Mapping[str, str]) -> list[int]:
    """The listener descriptors handed over by the previous master ([] when none)."""
    raw = environ.get(FD_VARIABLE, "")
    return [int(part) for part in raw.split(",") if part.strip().isdigit()]


def upgrade_parent(environ: Mapping[str, str]) -> int:
    """The pid of the master that exec'd this one by USR2, 0 otherwise."""
    raw = environ.get(FROM_VARIABLE, "")
    return int(raw) if raw.isdigit() else 0


def spawn_new_master(launch: Launch, fds: Sequence[int], pre_exec: Callable[[], None]) -> int:
    """Fork; the child execs a new master with `fds` inherited. Returns the child's pid."""
    master = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:
        for fd in fds:
            os.set_inheritable(fd, True)
        env = dict(launch.environ)
        env[FD_VARIABLE] = ",".join(str(fd) for fd in fds)
        env[FROM_VARIABLE] = str(master)
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        os.chdir(launch.cwd)
        pre_exec()
        os.execve(sys.executable, list(launch.argv), env)
    finally:
        os._exit(1)
