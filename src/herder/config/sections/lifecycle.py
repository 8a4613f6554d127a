"""Settings of the master's lifecycle: recycling, per-request deadlines, reloading, hooks.

Names, options and meanings are Gunicorn's where Gunicorn has the setting (`reload`,
`reload_extra_files`, every server hook); `harakiri` is uWSGI's name for a per-request
deadline; `max_worker_memory`, `max_worker_lifetime`, `boot_timeout` and `gc_freeze` are
herder's. A value of 0 turns a limit off.

Hooks are callables set in the config file only, with Gunicorn's names and arguments; the
default does nothing. A hook that raises is logged and does not stop the server.
"""

from __future__ import annotations

from typing import Any

from herder.config import validators as v
from herder.config.fields import Kind, Section, Setting

WORKERS = Section.WORKER_PROCESSES
MECHANICS = Section.SERVER_MECHANICS
DEBUGGING = Section.DEBUGGING
HOOKS = Section.SERVER_HOOKS


class HookDefault:
    """The do-nothing default of a hook; shown in the reference by its signature."""

    def __init__(self, name: str, params: tuple[str, ...]) -> None:
        self.signature = f"{name}({', '.join(params)})"

    def __call__(self, *args: object) -> None:
        return None

    def __repr__(self) -> str:
        return f"no-op {self.signature}"


def _hook(name: str, params: tuple[str, ...], doc: str) -> Setting[Any]:
    return Setting(name, HOOKS, Kind.HOOK, (), v.hook(len(params)), HookDefault(name, params), doc)


def _non_negative_float(raw: object) -> float:
    return 0.0 if raw in (0, "0") else v.positive_float(raw)


SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "harakiri",
        WORKERS,
        Kind.VALUE,
        ("--harakiri",),
        _non_negative_float,
        0.0,
        "A per-request deadline in seconds; 0 disables it. A request still running past it "
        "is abandoned: its traceback is logged with its method and path, the client gets a "
        "504 (or a closed connection once the response has begun) and the worker is "
        "replaced. The master kills a worker whose request is stuck where the worker cannot "
        "interrupt it (C code) two seconds after the deadline.",
        meta="SECONDS",
    ),
    Setting(
        "max_worker_memory",
        WORKERS,
        Kind.VALUE,
        ("--max-worker-memory",),
        v.integer(minimum=0),
        0,
        "Replace a worker whose resident memory exceeds this many MiB; 0 disables it. The "
        "worker finishes its current request, its replacement boots, then it is retired.",
        meta="MIB",
    ),
    Setting(
        "max_worker_lifetime",
        WORKERS,
        Kind.VALUE,
        ("--max-worker-lifetime",),
        v.integer(minimum=0),
        0,
        "Replace a worker after it has lived this many seconds; 0 disables it. The "
        "replacement boots before the old worker is retired.",
        meta="SECONDS",
    ),
    Setting(
        "boot_timeout",
        WORKERS,
        Kind.VALUE,
        ("--boot-timeout",),
        v.positive_float,
        30.0,
        "Seconds new workers have to boot (load the app) during a reload (`HUP`, "
        "`--reload`) or a graceful replacement. When they do not, they are killed and the "
        "old workers keep serving.",
        meta="SECONDS",
    ),
    Setting(
        "gc_freeze",
        MECHANICS,
        Kind.SWITCH_ON,
        ("--gc-freeze",),
        v.boolean,
        False,
        "With `--preload`, move every object the master created into the permanent "
        "generation (`gc.freeze()`) before forking, so that garbage collections in the "
        "workers do not touch (and copy) the shared pages.",
    ),
    Setting(
        "reload",
        DEBUGGING,
        Kind.SWITCH_ON,
        ("--reload",),
        v.boolean,
        False,
        "Restart workers when application code changes (development only). Source files of "
        "loaded modules are watched with inotify, or polled once a second where inotify is "
        "missing; a changed file with a syntax error is reported and the workers keep "
        "serving the old code.",
    ),
    Setting(
        "reload_extra_files",
        DEBUGGING,
        Kind.REPEATED,
        ("--reload-extra-file",),
        v.string_list,
        [],
        "Extends `--reload` to watch these files too (templates, configuration).",
        meta="FILE",
    ),
    _hook("on_starting", ("server",), "Called just before the master process is initialized."),
    _hook("on_reload", ("server",), "Called when the master reloads (`HUP`, `--reload`)."),
    _hook("when_ready", ("server",), "Called just after the server is started."),
    _hook("pre_fork", ("server", "worker"), "Called just before a worker is forked."),
    _hook("post_fork", ("server", "worker"), "Called in the worker just after it is forked."),
    _hook(
        "post_worker_init",
        ("worker",),
        "Called in the worker just after it has loaded the application.",
    ),
    _hook("worker_int", ("worker",), "Called in the worker when it gets `INT` or `QUIT`."),
    _hook(
        "worker_abort",
        ("worker",),
        "Called in the worker when it gets `ABRT` (a heartbeat timeout): after the "
        "traceback of every thread has been logged.",
    ),
    _hook("pre_exec", ("server",), "Called in the new master just before it is exec'd (USR2)."),
    _hook("pre_request", ("worker", "req"), "Called in the worker just before a request."),
    _hook(
        "post_request",
        ("worker", "req", "environ", "resp"),
        "Called in the worker after a request was answered.",
    ),
    _hook(
        "child_exit",
        ("server", "worker"),
        "Called in the master just after a worker exited.",
    ),
    _hook(
        "worker_exit",
        ("server", "worker"),
        "Called in the worker just before it exits.",
    ),
    _hook(
        "nworkers_changed",
        ("server", "new_value", "old_value"),
        "Called when the number of workers changes (`TTIN`, `TTOU`, a reload).",
    ),
    _hook("on_exit", ("server",), "Called just before the master exits."),
)
