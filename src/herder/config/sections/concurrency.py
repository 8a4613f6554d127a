"""Settings of the worker family and the accept strategies (issue 4).

`threads` is Gunicorn's setting (its `gthread` worker); herder's `threaded` worker defaults to
4 threads, since 1 would make it a slower `sync`. The accept strategies are herder's own and
off by default: the plain shared listener stays the default until `bench/herd.py` measures
otherwise. `reuse_port` makes `accept_lock` moot (no listener is shared, so it is ignored);
`epoll_exclusive` combines with either. The loop-based workers (`sync`, `event`, `threaded`)
implement all three; the coroutine workers implement `reuse_port` (their hub owns the epoll).
"""

from __future__ import annotations

from typing import Any

from herder.config import validators as v
from herder.config.fields import Kind, Section, Setting

SOCKET = Section.SERVER_SOCKET
WORKERS = Section.WORKER_PROCESSES

SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "threads",
        WORKERS,
        Kind.VALUE,
        ("--threads",),
        v.integer(minimum=1),
        4,
        "The number of threads per worker that run requests. Only affects the `threaded` "
        "worker (`gthread` is accepted as its alias): its event loop owns accepting and idle "
        "keep-alive connections, and hands each ready request to one of these threads.",
        meta="INT",
    ),
    Setting(
        "accept_lock",
        SOCKET,
        Kind.SWITCH_ON,
        ("--accept-lock",),
        v.boolean,
        False,
        "Only the worker holding a lock waits on the listeners; it accepts, releases the "
        "lock, then serves. The lock is a `flock` on an unlinked file: the kernel releases it "
        "when its holder dies, even by `kill -9`. For the `sync`, `event` and `threaded` "
        "workers; ignored with `--reuse-port`.",
    ),
    Setting(
        "epoll_exclusive",
        SOCKET,
        Kind.SWITCH_ON,
        ("--epoll-exclusive",),
        v.boolean,
        False,
        "Register the listeners with `EPOLLEXCLUSIVE` (Linux 4.5+): a new connection wakes "
        "one waiting worker instead of all of them. For the `sync`, `event` and `threaded` "
        "workers.",
    ),
    Setting(
        "reuse_port",
        SOCKET,
        Kind.SWITCH_ON,
        ("--reuse-port",),
        v.boolean,
        False,
        "Each worker binds its own `SO_REUSEPORT` listener for every TCP address after the "
        "fork, and the kernel spreads connections across them. The master holds each port "
        "with a bound, non-listening socket. Unix sockets stay shared.",
    ),
    Setting(
        "worker_stats",
        WORKERS,
        Kind.VALUE,
        ("--worker-stats",),
        v.optional(v.non_empty_text),
        None,
        "A file the master maps into shared memory, one fixed slot per worker, where each "
        "worker keeps its counters (listener wakeups, accepts, wakeups that found nothing, "
        "requests) up to date while it runs. Read it with `python -m herder.workers.stats "
        "FILE`. Without it the counters live in anonymous shared memory.",
        meta="FILE",
    ),
)
