"""The error log (a `logging` logger) and the access log (a compiled format, raw writes).

Rules:
- The error log is the `herder.error` logger: level from `loglevel`, one handler (standard
  error for `-`, else the file), lines like `[2024-01-02 03:04:05 +0000] [42] [INFO] msg`.
- The access log costs nothing when `accesslog` is unset: `access_enabled` is False, no
  format is compiled and `access()` returns at once. When set, `access_log_format` is compiled
  once into a `str.format` template and one getter per atom the format uses; nothing else is
  computed per request.
- Atoms mean what they mean in Gunicorn (see the `access_log_format` setting); unknown atoms
  render `-`. Values from the request are printed with control characters escaped (`\\xHH`),
  so a client cannot forge log lines.
- Each access line goes out in one `write(2)` on an `O_APPEND` descriptor: no user-space
  buffer to duplicate across `fork()`, and lines from several workers never interleave.
- `reopen()` (SIGUSR1, after logrotate) reopens the files at the same descriptor numbers.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from herder.config import Config

ERROR_LOGGER = "herder.error"
ERROR_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
ERROR_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"
STANDARD_STREAM = "-"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ATOM = re.compile(r"%\(([^)]*)\)s|%%")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e\xa0-\U0010ffff]")
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """What one access line is rendered from."""

    environ: Mapping[str, Any]
    status: str
    response_headers: list[tuple[str, str]]
    response_length: int
    request_time: float  # seconds


Getter = Callable[[AccessEntry], str]


def _env(key: str) -> Getter:
    return lambda entry: str(entry.environ.get(key) or "-")


def _request_line(entry: AccessEntry) -> str:
    env = entry.environ
    target = env.get("RAW_URI") or env.get("REQUEST_URI")
    if target is None:
        query = env.get("QUERY_STRING")
        target = (
            env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", "") + (f"?{query}" if query else "")
        )
    return f"{env.get('REQUEST_METHOD', '-')} {target} {env.get('SERVER_PROTOCOL', '-')}"


def _user(entry: AccessEntry) -> str:
    user = entry.environ.get("REMOTE_USER")
    if user:
        return str(user)
    scheme, _, credentials = str(entry.environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    if scheme.lower() != "basic":
        return "-"
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        return "-"
    name, colon, _ = decoded.partition(":")
    return name if colon and name else "-"


def format_log_time(seconds: float) -> str:
    """`[10/Oct/2000:13:55:36 -0700]` in local time, independent of the locale."""
    tm = time.localtime(seconds)
    offset = (tm.tm_gmtoff or 0) // 60
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    return (
        f"[{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {sign}{hours:02d}{minutes:02d}]"
    )


_ATOMS: dict[str, Getter] = {
    "h": _env("REMOTE_ADDR"),
    "l": lambda entry: "-",
    "u": _user,
    "t": lambda entry: format_log_time(time.time()),
    "r": _request_line,
    "m": _env("REQUEST_METHOD"),
    "U": _env("PATH_INFO"),
    "q": lambda entry: str(entry.environ.get("QUERY_STRING", "")),
    "H": _env("SERVER_PROTOCOL"),
    "s": lambda entry: entry.status.split(" ", 1)[0],
    "B": lambda entry: str(entry.response_length),
    "b": lambda entry: str(entry.response_length) if entry.response_length else "-",
    "f": _env("HTTP_REFERER"),
    "a": _env("HTTP_USER_AGENT"),
    "T": lambda entry: str(int(entry.request_time)),
    "M": lambda entry: str(int(entry.request_time * 1_000)),
    "D": lambda entry: str(int(entry.request_time * 1_000_000)),
    "L": lambda entry: f"{entry.request_time:.6f}",
    "p": lambda entry: f"<{os.getpid()}>",
}


def _request_header(name: str) -> Getter:
    key = name.upper().replace("-", "_")
    key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"
    return _env(key)


def _response_header(name: str) -> Getter:
    wanted = name.lower()

    def get(entry: AccessEntry) -> str:
        for field, value in entry.response_headers:
            if field.lower() == wanted:
                return value
        return "-"

    return get


def _environ_variable(name: str) -> Getter:
    upper = name.upper()
    return lambda entry: str(entry.environ.get(name, entry.environ.get(upper, "-")))


def _atom_getter(atom: str) -> Getter:
    """The getter for one atom; `-` for an atom herder does not know."""
    match = re.fullmatch(r"\{([^}]*)\}([ioe])", atom)
    if match is None:
        return _ATOMS.get(atom, lambda entry: "-")
    name, kind = match.groups()
    factories = {"i": _request_header, "o": _response_header, "e": _environ_variable}
    return factories[kind](name)


def _escape(value: str) -> str:
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def compile_access_format(log_format: str) -> Callable[[AccessEntry], str]:
    """Turn `%(h)s ... %(r)s` into a function of an entry (without the newline)."""
    getters: list[Getter] = []
    template: list[str] = []
    position = 0
    for match in _ATOM.finditer(log_format):
        template.append(log_format[position : match.start()].replace("{", "{{").replace("}", "}}"))
        if match.group(1) is None:
            template.append("%")
        else:
            template.append("{}")
            getters.append(_atom_getter(match.group(1)))
        position = match.end()
    template.append(log_format[position:].replace("{", "{{").replace("}", "}}"))
    fill = "".join(template).format

    def render(entry: AccessEntry) -> str:
        values = [getter(entry) for getter in getters]
        return fill(*[v if v.isprintable() else _escape(v) for v in values])

    return render


class Logs:
    """The error logger and the access log of one herder process (inherited across forks)."""

    def __init__(self, cfg: Config) -> None:
        self.error = logging.getLogger(ERROR_LOGGER)
        self._errorlog = cfg.errorlog
        self.error.setLevel(cfg.loglevel.upper())
        self.error.propagate = False
        self._install_error_handler()
        self.access_enabled = cfg.accesslog is not None
        self._accesslog = cfg.accesslog
        self._render = compile_access_format(cfg.access_log_format) if self.access_enabled else None
        self._access_fd = self._open_access_log()

    def access(
        self,
        environ: dict[str, Any],
        status: str,
        response_headers: list[tuple[str, str]],
        response_length: int,
        request_time: float,
    ) -> None:
        """Write one access line (nothing at all when the access log is off)."""
        if self._render is None:
            return
        entry = AccessEntry(environ, status, response_headers, response_length, request_time)
        self._write_access(self._render(entry) + "\n")

    def error_stream(self) -> TextIO:
        """The error log's current stream (it changes when the logs are reopened)."""
        for handler in self.error.handlers:
            if isinstance(handler, logging.StreamHandler):
                stream: TextIO = handler.stream
                return stream
        return sys.stderr

    def reopen(self) -> None:
        """Reopen the log files (SIGUSR1, after logrotate moved them)."""
        self._install_error_handler()
        if self._access_fd is not None and self._accesslog is not None:
            fresh = os.open(self._accesslog, _FILE_FLAGS, 0o644)
            os.dup2(fresh, self._access_fd)  # same number: a concurrent write never sees a gap
            os.close(fresh)

    def close(self) -> None:
        """Close the files; the logger keeps no handler and propagates again (to the root)."""
        self._remove_error_handlers()
        self.error.propagate = True
        if self._access_fd is not None:
            os.close(self._access_fd)
            self._access_fd = None
        self._render = None
        self.access_enabled = False

    def _install_error_handler(self) -> None:
        self._remove_error_handlers()
        handler: logging.Handler
        if self._errorlog == STANDARD_STREAM:
            handler = logging.StreamHandler(sys.stderr)
        else:
            handler = logging.FileHandler(self._errorlog, encoding="utf-8")
        handler.setFormatter(logging.Formatter(ERROR_FORMAT, ERROR_DATE_FORMAT))
        self.error.addHandler(handler)

    def _remove_error_handlers(self) -> None:
        for handler in list(self.error.handlers):
            self.error.removeHandler(handler)
            handler.close()

    def _open_access_log(self) -> int | None:
        """The access log's descriptor; None for standard output (or when off)."""
        if self._accesslog is None or self._accesslog == STANDARD_STREAM:
            return None
        return os.open(self._accesslog, _FILE_FLAGS, 0o644)

    def _write_access(self, line: str) -> None:
        try:
            if self._access_fd is None:
                sys.stdout.write(line)
                sys.stdout.flush()  # one write per line: nothing buffered to copy into a fork
                return
            view = memoryview(line.encode("utf-8", "backslashreplace"))
            while view:
                view = view[os.write(self._access_fd, view) :]
        except OSError as exc:
            self.error.error("cannot write the access log: %s", exc)


class ErrorStream(io.TextIOBase):
    """`wsgi.errors`: text written by the app goes to the error log's current stream."""

    def __init__(self, logs: Logs) -> None:
        super().__init__()
        self._logs = logs

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        stream = self._logs.error_stream()
        stream.write(text)
        stream.flush()
        return len(text)

    def flush(self) -> None:
        self._logs.error_stream().flush()
