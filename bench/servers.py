"""The servers under test and their exact command lines, as data.

Rules:
- Every server runs `bench/apps/mixed.py` with the same number of worker processes
  (`Launch.workers`, 2 by default), bound to 127.0.0.1 on a port picked free before the start.
- Every server that runs requests on threads gets the same thread count (`Launch.threads`,
  32 by default: 2 processes x 32 threads = 64 requests in flight, the sleep scenario's
  connections): herder `threaded`, Gunicorn `gthread`, uWSGI's `--threads` variants.
  Coroutine workers keep their default of 1000 connections per worker (the same in herder
  and Gunicorn). Granian keeps its own defaults (its Rust runtime and its pool of blocking
  threads for WSGI): it warns against 32 Python threads on a 2-core machine.
- `direct` servers answer HTTP from wrk; `behind_nginx` servers speak the uwsgi protocol to
  one nginx (`uwsgi_pass`). A server may be both (its command then depends on the front).
- A command line only depends on `Launch`, so the JSON report records exactly what ran.

Why these uWSGI variants (uWSGI's best per scenario is the fastest of them):
- `--http-socket`: HTTP parsed in each worker, no router process, so the process count
  matches. It closes every connection after the response, without `Connection: close`, so
  wrk counts one read error per response on keep-alive runs (complete responses still count).
- `--http-socket --threads`: the same with a thread pool per process (helps the sleep app).
- `--http11-socket --threads`: uWSGI's keep-alive socket; a thread stays with its connection
  until the client leaves, so enough threads are needed for every connection to be served.
- `--socket`: the uwsgi protocol, behind nginx only.
uWSGI's `--http-keepalive` belongs to its separate HTTP router (`--http`), an extra process,
so it is not used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

APP_MODULE = "mixed"
APP = f"{APP_MODULE}:app"


@dataclass(frozen=True, slots=True)
class Launch:
    """What a command line needs: binaries, the app's folder, port, sizes, the protocol."""

    bin_dir: Path
    apps_dir: Path
    port: int
    workers: int
    threads: int
    uwsgi_protocol: bool = False

    @property
    def bind(self) -> str:
        """`host:port` to listen on."""
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True, slots=True)
class Server:
    """One server configuration of the comparison."""

    name: str
    label: str
    family: str  # herder, gunicorn, uwsgi, granian
    build: Callable[[Launch], list[str]]
    direct: bool = True
    behind_nginx: bool = False

    def command(self, launch: Launch) -> list[str]:
        """The full command line that starts this server."""
        return self.build(launch)


def _herder(kind: str, *extra: str) -> Callable[[Launch], list[str]]:
    def build(launch: Launch) -> list[str]:
        threads = ("--threads", str(launch.threads)) if kind == "threaded" else ()
        protocol = ("--protocol", "uwsgi") if launch.uwsgi_protocol else ()
        return [
            str(launch.bin_dir / "herder"),
            *("-w", str(launch.workers), "-b", launch.bind, "-k", kind, *threads, *protocol),
            *extra,
            *("--chdir", str(launch.apps_dir), APP),
        ]

    return build


def _gunicorn(kind: str) -> Callable[[Launch], list[str]]:
    def build(launch: Launch) -> list[str]:
        threads = ("--threads", str(launch.threads)) if kind == "gthread" else ()
        protocol = ("--protocol", "uwsgi") if launch.uwsgi_protocol else ()
        return [
            str(launch.bin_dir / "gunicorn"),
            *("-w", str(launch.workers), "-b", launch.bind, "-k", kind, *threads, *protocol),
            *("--log-level", "warning", "--chdir", str(launch.apps_dir), APP),
        ]

    return build


def _uwsgi(socket_option: str, threaded: bool) -> Callable[[Launch], list[str]]:
    def build(launch: Launch) -> list[str]:
        threads = ("--threads", str(launch.threads)) if threaded else ()
        return [
            str(launch.bin_dir / "uwsgi"),
            *(socket_option, launch.bind, "--processes", str(launch.workers), *threads),
            *("--master", "--disable-logging", "--die-on-term", "--need-app"),
            *("--wsgi-file", str(launch.apps_dir / f"{APP_MODULE}.py"), "--callable", "app"),
        ]

    return build


def _granian(launch: Launch) -> list[str]:
    return [
        str(launch.bin_dir / "granian"),
        *("--interface", "wsgi", "--workers", str(launch.workers)),
        *("--log-level", "warning"),
        *("--host", "127.0.0.1", "--port", str(launch.port)),
        *("--working-dir", str(launch.apps_dir), APP),
    ]


SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server("herder-sync", "herder sync", "herder", _herder("sync"), behind_nginx=True),
        Server("herder-event", "herder event", "herder", _herder("event"), behind_nginx=True),
        Server(  # the kernel spreads connections over per-worker listeners
            "herder-event-reuseport",
            "herder event --reuse-port",
            "herder",
            _herder("event", "--reuse-port"),
        ),
        Server(  # the optional C head parser (docs/performance.md)
            "herder-event-httptools",
            "herder event --http-parser httptools",
            "herder",
            _herder("event", "--http-parser", "httptools"),
        ),
        Server("herder-threaded", "herder threaded", "herder", _herder("threaded")),
        Server("herder-gevent", "herder gevent", "herder", _herder("gevent")),
        Server("gunicorn-sync", "Gunicorn sync", "gunicorn", _gunicorn("sync"), behind_nginx=True),
        Server("gunicorn-gthread", "Gunicorn gthread", "gunicorn", _gunicorn("gthread")),
        Server("gunicorn-gevent", "Gunicorn gevent", "gunicorn", _gunicorn("gevent")),
        Server("uwsgi-http", "uWSGI http-socket", "uwsgi", _uwsgi("--http-socket", False)),
        Server(
            "uwsgi-http-threads",
            "uWSGI http-socket + threads",
            "uwsgi",
            _uwsgi("--http-socket", True),
        ),
        Server(
            "uwsgi-http11-threads",
            "uWSGI http11-socket + threads",
            "uwsgi",
            _uwsgi("--http11-socket", True),
        ),
        Server(
            "uwsgi-socket",
            "uWSGI socket (uwsgi)",
            "uwsgi",
            _uwsgi("--socket", False),
            direct=False,
            behind_nginx=True,
        ),
        Server("granian", "Granian", "granian", _granian),
    )
}


def labels() -> dict[str, str]:
    """Server name -> the label printed in tables and the chart."""
    return {name: server.label for name, server in SERVERS.items()}
