"""`--reload`: watch the app's source files and ask the master for a reload on a change.

A daemon thread in each worker watches the files of every loaded module (plus
`--reload-extra-file`) with inotify through ctypes (no dependency), or polls their mtimes once
a second where inotify is missing. A changed Python file is compiled first: a syntax error is
logged and nothing else happens (the workers keep serving the old code). Otherwise the worker
raises `WANTS_RELOAD` in its board slot and the master rolls out new workers the way `HUP`
does (the old ones keep serving if the new ones cannot boot).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from herder.workers.heartbeat import WANTS_RELOAD

if TYPE_CHECKING:
    from herder.workers.base import Worker

POLL_INTERVAL = 1.0
IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x4, 0x8, 0x80, 0x100
IN_MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
_EVENT = struct.Struct("iIII")


def source_files(extra: Iterable[str] = ()) -> set[str]:
    """The source files of loaded modules (outside the standard library), and `extra`."""
    files = {os.path.abspath(path) for path in extra}
    stdlib = os.path.dirname(os.__file__)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and not path.startswith(stdlib):
            files.add(os.path.abspath(path))
    return {path for path in files if os.path.exists(path)}


def syntax_error(path: str) -> str:
    """The syntax error of a Python file, "" when it compiles (or is not Python)."""
    if not path.endswith(".py"):
        return ""
    try:
        with open(path, "rb") as f:
            compile(f.read(), path, "exec")
    except (SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    except OSError:
        return ""
    return ""


class Poller:
    """Changed files by mtime, checked once per `changes()` call."""

    def __init__(self, files: set[str]) -> None:
        self.mtimes = {path: _mtime(path) for path in files}

    def changes(self) -> list[str]:
        changed = []
        for path, seen in self.mtimes.items():
            now = _mtime(path)
            if now != seen:
                self.mtimes[path] = now
                changed.append(path)
        return changed


class Inotify:
    """Changed files through inotify(7): directories are watched, events filtered by name."""

    def __init__(self, files: set[str]) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = libc.inotify_init1(os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.files = files
        self.dirs: dict[int, str] = {}
        for directory in {os.path.dirname(path) for path in files}:
            wd = libc.inotify_add_watch(self.fd, directory.encode(), IN_MASK)
            if wd >= 0:
                self.dirs[wd] = directory

    def changes(self) -> list[str]:
        """Blocks until something happens in a watched directory."""
        data = os.read(self.fd, 65536)
        changed, offset = [], 0
        while offset < len(data):
            wd, _mask, _cookie, size = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size : offset + _EVENT.size + size].rstrip(b"\0")
            offset += _EVENT.size + size
            path = os.path.join(self.dirs.get(wd, ""), name.decode(errors="replace"))
            if path in self.files and path not in changed:
                changed.append(path)
        return changed


def start_reloader(worker: Worker) -> threading.Thread:
    files = source_files(worker.cfg.reload_extra_files)
    watcher: Inotify | Poller
    try:
        watcher = Inotify(files)
    except OSError:
        watcher = Poller(files)
    ask = lambda: worker.ctx.heartbeat.ask(WANTS_RELOAD)  # noqa: E731
    thread = threading.Thread(
        target=_watch, args=(watcher, ask, worker.log.error), name="reloader", daemon=True
    )
    thread.start()
    return thread


def _watch(watcher: Inotify | Poller, ask: Callable[[], None], error: Callable[..., None]) -> None:
    import time

    while True:
        changed = watcher.changes()
        if not changed:
            time.sleep(POLL_INTERVAL) if isinstance(watcher, Poller) else None
            continue
        broken = [(path, why) for path in changed if (why := syntax_error(path))]
        for path, why in broken:
            error("Reload skipped: %s has an error (%s); serving the old code", path, why)
        if not broken:
            ask()
            return


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
