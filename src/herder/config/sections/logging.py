"""Settings of the section "Logging": where the access and error logs go, and how they look.

Names, options, defaults and the access-log atoms are Gunicorn's (see `herder.logs`).
"""

from __future__ import annotations

from typing import Any

from herder.config import validators as v
from herder.config.fields import Kind, Section, Setting

LOGGING = Section.LOGGING

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "accesslog",
        LOGGING,
        Kind.VALUE,
        ("--access-logfile",),
        v.optional(v.log_target),
        None,
        "The access log file to write to. `-` means standard output; unset, no access log "
        "is written (and no work is done for it).",
        meta="FILE",
    ),
    Setting(
        "access_log_format",
        LOGGING,
        Kind.VALUE,
        ("--access-logformat",),
        v.text,
        DEFAULT_ACCESS_LOG_FORMAT,
        "The access log format, with `%(atom)s` placeholders. Atoms: `h` remote address, `l` "
        "`-`, `u` user name, `t` date, `r` request line, `m` method, `U` path, `q` query, `H` "
        "protocol, `s` status, `B` response length, `b` response length or `-`, `f` referer, "
        "`a` user agent, `T`/`M`/`D` request time in seconds/milliseconds/microseconds, `L` "
        "request time in decimal seconds, `p` process id, `{name}i` request header, "
        "`{name}o` response header, `{name}e` environment variable. Unknown atoms print `-`.",
        meta="STRING",
    ),
    Setting(
        "errorlog",
        LOGGING,
        Kind.VALUE,
        ("--error-logfile",),
        v.log_target,
        "-",
        "The error log file to write to. `-` means standard error.",
        meta="FILE",
    ),
    Setting(
        "loglevel",
        LOGGING,
        Kind.VALUE,
        ("--log-level",),
        v.choice(LOG_LEVELS),
        "info",
        f"The granularity of error log outputs. One of {', '.join(LOG_LEVELS)}.",
        meta="LEVEL",
    ),
)
