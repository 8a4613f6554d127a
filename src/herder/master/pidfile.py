"""The pid file: written at start, removed at exit only if it still holds our pid."""

from __future__ import annotations

import contextlib
import os

from herder.errors import HerderError


class PidfileError(HerderError):
    """Another live process owns the pid file."""


class Pidfile:
    def __init__(self, path: str) -> None:
        self.path = path
        self.pid: int | None = None

    def create(self, pid: int) -> None:
        other = self.read()
        if other is not None and other != pid and _is_alive(other):
            raise PidfileError(f"pid file {self.path} is held by running process {other}")
        tmp = f"{self.path}.{pid}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{pid}\n")
        os.replace(tmp, self.path)
        self.pid = pid

    def read(self) -> int | None:
        try:
            with open(self.path) as f:
                return int(f.read().strip() or "0") or None
        except (OSError, ValueError):
            return None

    def unlink(self) -> None:
        if self.pid is not None and self.read() == self.pid:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
