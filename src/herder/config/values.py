"""`Config`: the loaded settings, read-only, one typed attribute per setting.

A `Config` is built once by the loader, before any fork, and never changes afterwards (a
reload builds a new one). Each layer receives only its slice: the parser gets
`protocol_limits()`, not the whole object.

Every setting declared in `settings.py` has a type annotation here (a unit test keeps the two
in step); the annotation is what lets `mypy --strict` check `cfg.workers + 1`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from herder.config.binds import Bind
from herder.config.sections.security import MAX_HEADER_FIELDS
from herder.config.settings import BUILTIN_WORKERS
from herder.protocol.limits import HeaderMap, Limits
from herder.protocol.proxy import ProxyMode


class Config:
    """The resolved value of every setting, and where each value came from."""

    # Values are also copied into the instance dict: attribute access is then a plain lookup
    # (hot paths read settings per request); `__getattr__` only runs for unknown names.
    __slots__ = ("__dict__", "_sources", "_values")

    # Server socket
    bind: list[Bind]
    backlog: int
    # Worker processes
    workers: int
    worker_class: str
    worker_connections: int
    max_requests: int
    max_requests_jitter: int
    timeout: int
    graceful_timeout: int
    keepalive: int
    # Server mechanics
    wsgi_app: str | None
    config: str | None
    preload_app: bool
    sendfile: bool
    chdir: str
    daemon: bool
    raw_env: list[str]
    pidfile: str | None
    user: int
    group: int
    umask: int
    pythonpath: list[str] | None
    script_name: str
    # Logging
    accesslog: str | None
    access_log_format: str
    errorlog: str
    loglevel: str
    # Process naming
    proc_name: str | None
    # Security (limits)
    limit_request_line: int
    limit_request_fields: int
    limit_request_field_size: int
    limit_request_head: int
    header_timeout: float
    permit_obsolete_folding: bool
    strip_header_spaces: bool
    permit_unconventional_http_method: bool
    casefold_http_method: bool
    header_map: HeaderMap
    # Behind a front proxy (sections/proxying.py)
    protocol: str
    uwsgi_allow_ips: list[str]
    uwsgi_buffer_size: int
    proxy_protocol: ProxyMode
    proxy_allow_ips: list[str]
    forwarded_allow_ips: list[str]
    secure_scheme_headers: dict[str, str]
    static_map: list[str]
    # Debugging
    check_config: bool
    print_config: bool
    # Lifecycle (sections/lifecycle.py): recycling, deadlines, reloading, hooks
    harakiri: float
    max_worker_memory: int
    max_worker_lifetime: int
    boot_timeout: float
    gc_freeze: bool
    reload: bool
    reload_extra_files: list[str]
    on_starting: Callable[..., object]
    on_reload: Callable[..., object]
    when_ready: Callable[..., object]
    pre_fork: Callable[..., object]
    post_fork: Callable[..., object]
    post_worker_init: Callable[..., object]
    worker_int: Callable[..., object]
    worker_abort: Callable[..., object]
    pre_exec: Callable[..., object]
    pre_request: Callable[..., object]
    post_request: Callable[..., object]
    child_exit: Callable[..., object]
    worker_exit: Callable[..., object]
    nworkers_changed: Callable[..., object]
    on_exit: Callable[..., object]
    # Worker family and accept strategies (sections/concurrency.py)
    threads: int
    accept_lock: bool
    epoll_exclusive: bool
    reuse_port: bool
    worker_stats: str | None
    # The head parser (sections/parsing.py)
    http_parser: str

    _values: dict[str, Any]
    _sources: dict[str, str]

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_sources", dict(sources))
        object.__getattribute__(self, "__dict__").update(values)

    if not TYPE_CHECKING:  # hidden from mypy, so a misspelt setting is a type error

        def __getattr__(self, name: str) -> Any:
            values = object.__getattribute__(self, "_values")
            if name.startswith("_") or name not in values:
                raise AttributeError(f"no setting named {name!r}")
            return values[name]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Config is read-only (cannot set {name!r})")

    def __repr__(self) -> str:
        return f"<Config {len(self._values)} settings, wsgi_app={self._values.get('wsgi_app')!r}>"

    def as_dict(self) -> dict[str, Any]:
        """Every setting's value by name (a copy)."""
        return dict(self._values)

    def settings_source(self, name: str) -> str:
        """Where a value came from: `default`, a file path, `HERDER_X`, `--x`, `WEB_CONCURRENCY`."""
        try:
            return self._sources[name]
        except KeyError:
            raise KeyError(f"no setting named {name!r}") from None

    @property
    def worker_class_uri(self) -> str:
        """The worker class as `package.module:Class` (builtin names expanded)."""
        name: str = self._values["worker_class"]
        if name in BUILTIN_WORKERS:
            return BUILTIN_WORKERS[name]
        if ":" in name:
            return name
        module, _, attribute = name.rpartition(".")
        return f"{module}:{attribute}"

    def protocol_limits(self) -> Limits:
        """The HTTP parser's slice of the configuration."""
        get = self._values.__getitem__
        return Limits(
            request_line=get("limit_request_line"),
            fields=get("limit_request_fields") or MAX_HEADER_FIELDS,  # 0 means the maximum
            field_size=get("limit_request_field_size"),
            head_size=get("limit_request_head"),
            header_map=get("header_map"),
            permit_obsolete_folding=get("permit_obsolete_folding"),
            permit_unconventional_http_method=get("permit_unconventional_http_method"),
            casefold_http_method=get("casefold_http_method"),
            strip_header_spaces=get("strip_header_spaces"),
        )
