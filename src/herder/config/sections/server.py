"""Settings of the sections "Server socket" and "Worker processes".

Names, options and meanings are Gunicorn's, so a Gunicorn command line or config file carries
over; defaults are Gunicorn's except `worker_class` (herder's event-loop worker).
"""

from __future__ import annotations

from typing import Any

from herder.config import validators as v
from herder.config.binds import parse_binds, render_binds
from herder.config.fields import Kind, Section, Setting

SOCKET = Section.SERVER_SOCKET
WORKERS = Section.WORKER_PROCESSES

# Builtin worker names and the classes they stand for (resolved lazily by the master).
BUILTIN_WORKERS = {
    "sync": "herder.workers.sync:SyncWorker",
    "event": "herder.workers.event:EventWorker",
    "threaded": "herder.workers.threaded:ThreadedWorker",
    "gthread": "herder.workers.threaded:ThreadedWorker",  # Gunicorn's name for it
    "gevent": "herder.workers.ggevent:GeventWorker",
    "eventlet": "herder.workers.geventlet:EventletWorker",
}

SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "bind",
        SOCKET,
        Kind.REPEATED,
        ("-b", "--bind"),
        parse_binds,
        parse_binds("127.0.0.1:8000"),
        "The socket to bind. Repeat the option to listen on several addresses. Forms: "
        "`HOST:PORT`, `HOST` (port 8000), `[IPv6]:PORT`, `unix:PATH`, `fd://N` (an "
        "inherited listening socket). Port 0 asks the system for a free port.",
        meta="ADDRESS",
        render=render_binds,
    ),
    Setting(
        "backlog",
        SOCKET,
        Kind.VALUE,
        ("--backlog",),
        v.integer(minimum=1),
        2048,
        "The maximum number of pending connections. This is the queue of clients waiting to "
        "be served; the system may cap it (`net.core.somaxconn`).",
        meta="INT",
    ),
    Setting(
        "workers",
        WORKERS,
        Kind.VALUE,
        ("-w", "--workers"),
        v.integer(minimum=1),
        1,
        "The number of worker processes for handling requests. A positive integer, "
        "generally in the 2-4 x number of cores range.",
        meta="INT",
        default_env="WEB_CONCURRENCY",
    ),
    Setting(
        "worker_class",
        WORKERS,
        Kind.VALUE,
        ("-k", "--worker-class"),
        v.worker_class(tuple(BUILTIN_WORKERS)),
        "event",
        "The type of workers to use. `sync` serves one connection at a time per process; "
        "`event` multiplexes connections on an event loop; `threaded` (alias `gthread`) runs "
        "requests on `--threads` threads behind an event loop; `gevent` and `eventlet` run "
        "each connection on a coroutine (install `herder[gevent]` or `herder[eventlet]`). "
        "A custom worker class can be given as `package.module:Class` or "
        "`package.module.Class` (see docs/workers.md).",
        meta="STRING",
    ),
    Setting(
        "worker_connections",
        WORKERS,
        Kind.VALUE,
        ("--worker-connections",),
        v.integer(minimum=1),
        1000,
        "The maximum number of simultaneous clients per worker. Only affects workers that "
        "serve several connections at once (`event`, `threaded`, `gevent`, `eventlet`); a "
        "worker stops accepting at the limit.",
        meta="INT",
    ),
    Setting(
        "max_requests",
        WORKERS,
        Kind.VALUE,
        ("--max-requests",),
        v.integer(minimum=0),
        0,
        "The maximum number of requests a worker will process before restarting. A simple "
        "way to limit the damage of memory leaks; 0 disables automatic restarts.",
        meta="INT",
    ),
    Setting(
        "max_requests_jitter",
        WORKERS,
        Kind.VALUE,
        ("--max-requests-jitter",),
        v.integer(minimum=0),
        0,
        "The maximum jitter to add to `max_requests`. Each worker restarts after "
        "`randint(0, max_requests_jitter)` more requests, so workers do not all restart "
        "at once.",
        meta="INT",
    ),
    Setting(
        "timeout",
        WORKERS,
        Kind.VALUE,
        ("-t", "--timeout"),
        v.integer(minimum=0),
        30,
        "Workers silent for more than this many seconds are killed and restarted. A worker "
        "that does not notify the master within this time is assumed hung; 0 disables the "
        "check.",
        meta="INT",
    ),
    Setting(
        "graceful_timeout",
        WORKERS,
        Kind.VALUE,
        ("--graceful-timeout",),
        v.integer(minimum=0),
        30,
        "Timeout for graceful workers restart. After receiving a restart signal, workers have "
        "this many seconds to finish the requests in progress before they are force killed.",
        meta="INT",
    ),
    Setting(
        "keepalive",
        WORKERS,
        Kind.VALUE,
        ("--keep-alive",),
        v.integer(minimum=0),
        2,
        "The number of seconds to wait for requests on a Keep-Alive connection. 0 closes the "
        "connection after each response.",
        meta="INT",
    ),
)
