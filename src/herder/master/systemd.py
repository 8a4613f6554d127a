"""systemd integration without a dependency: `sd_notify` and socket activation.

- `notify("READY=1")` sends one datagram to the AF_UNIX socket named by `$NOTIFY_SOCKET`
  (a path, or an abstract name written with a leading `@`); without the variable it does
  nothing. The master sends `READY=1` once its first workers have booted, `RELOADING=1` with
  `MONOTONIC_USEC` when a reload starts (then `READY=1` again), `STOPPING=1` when it stops
  and `MAINPID=<pid>` when a new master takes over after a binary upgrade.
- Socket activation: when `$LISTEN_PID` is this process and `$LISTEN_FDS` is N, descriptors
  3 .. 3+N-1 are listening sockets handed over by systemd (sd_listen_fds(3)).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

LISTEN_FDS_START = 3


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send `state` to the service manager; True when it was sent."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError:
        return False
    return True


def reloading_state() -> str:
    """`RELOADING=1` with the timestamp systemd's `Type=notify-reload` expects."""
    return f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"


def listen_fds(environ: Mapping[str, str], pid: int) -> list[int]:
    """The descriptors passed by socket activation to process `pid` ([] when none)."""
    if environ.get("LISTEN_PID", "") != str(pid):
        return []
    try:
        count = int(environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    return list(range(LISTEN_FDS_START, LISTEN_FDS_START + max(0, count)))
