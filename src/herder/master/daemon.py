"""Detaching from the terminal for `-D/--daemon` (the classic double fork)."""

from __future__ import annotations

import os


def daemonize() -> None:
    """Run on in a grandchild that has no controlling terminal; stdio goes to /dev/null."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
