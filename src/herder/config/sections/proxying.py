"""Settings for running behind a front proxy: uwsgi protocol, PROXY protocol, trusted
forwarded headers, static files.

Names, options and defaults are Gunicorn's where Gunicorn has the setting (`--protocol`,
`--uwsgi-allow-from`, `--proxy-protocol`, `--proxy-allow-from`, `--forwarded-allow-ips` with
its `FORWARDED_ALLOW_IPS` environment default, `secure_scheme_headers`); `--uwsgi-buffer-size`
(named after uWSGI's `--buffer-size`) and `--static-map` are herder's own.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from herder.config import validators as v
from herder.config.binds import PROTOCOLS
from herder.config.fields import Kind, Section, Setting
from herder.protocol.proxy import ProxyMode
from herder.protocol.uwsgi.parser import MAX_VARS_SIZE

SOCKET = Section.SERVER_SOCKET
MECHANICS = Section.SERVER_MECHANICS
LOCAL = "127.0.0.1,::1"
SECURE_SCHEME_HEADERS = {
    "X-FORWARDED-PROTOCOL": "ssl",
    "X-FORWARDED-PROTO": "https",
    "X-FORWARDED-SSL": "on",
}


def addresses(raw: object) -> list[str]:
    """`127.0.0.1,10.0.0.0/8,::1` or `*` (or a list of those) -> the checked list."""
    items = v.comma_list(raw)
    for item in items:
        if item != "*":
            ipaddress.ip_network(item, strict=False)  # its ValueError names the bad item
    return items


def scheme_headers(raw: object) -> dict[str, str]:
    """A dict of header name -> value, or `NAME=VALUE,NAME=VALUE`; names upper-cased."""
    if isinstance(raw, str):
        pairs = [item.partition("=") for item in v.comma_list(raw)]
        if any(not sep or not key.strip() for key, sep, _ in pairs):
            raise ValueError(f"expected NAME=VALUE,... got {raw!r}")
        raw = {key.strip(): value.strip() for key, _, value in pairs}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(x, str) for k, x in raw.items()
    ):
        raise TypeError(f"expected a dict of header names to values, got {raw!r}")
    return {key.upper(): value for key, value in raw.items()}


def proxy_mode(raw: object) -> ProxyMode:
    """`off`, `v1`, `v2`, `auto`; True/False from a config file (Gunicorn's older boolean
    setting) mean `auto`/`off`."""
    if isinstance(raw, bool):
        return ProxyMode.AUTO if raw else ProxyMode.OFF
    return v.enum_choice(ProxyMode)(raw)


def static_mounts(raw: object) -> list[str]:
    """`/PREFIX=DIRECTORY` items whose directory exists (the workers resolve them)."""
    items = v.string_list(raw)
    for item in items:
        prefix, equals, directory = item.partition("=")
        if not equals or not prefix.startswith("/") or not directory:
            raise ValueError(f"expected /PREFIX=DIRECTORY, got {item!r}")
        if not os.path.isdir(directory):
            raise ValueError(f"{directory!r} is not a directory")
    return items


SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "protocol",
        SOCKET,
        Kind.VALUE,
        ("--protocol",),
        v.choice(PROTOCOLS),
        "http",
        "The protocol for incoming connections: `http` or `uwsgi` (the binary protocol of "
        "nginx's `uwsgi_pass`). A bind spelled `uwsgi://HOST:PORT`, `uwsgi:unix:PATH` or "
        "`http://...` chooses for that listener alone, so HTTP and uwsgi listeners can mix.",
        meta="STRING",
    ),
    Setting(
        "uwsgi_allow_ips",
        SOCKET,
        Kind.VALUE,
        ("--uwsgi-allow-from",),
        addresses,
        ["127.0.0.1", "::1"],
        "Addresses or networks allowed to send uwsgi protocol requests, comma separated; `*` "
        "allows any. Unix socket peers are always allowed. Others are answered 403.",
        meta="UWSGI_ALLOW_IPS",
        render=",".join,
    ),
    Setting(
        "uwsgi_buffer_size",
        SOCKET,
        Kind.VALUE,
        ("--uwsgi-buffer-size",),
        v.integer(minimum=1024, maximum=MAX_VARS_SIZE),
        MAX_VARS_SIZE,
        "The largest uwsgi vars block accepted, in bytes (1024 to 65535, the protocol's "
        "limit). A larger one is answered 431 and logged with the name of this setting.",
        meta="INT",
    ),
    Setting(
        "proxy_protocol",
        MECHANICS,
        Kind.VALUE,
        ("--proxy-protocol",),
        proxy_mode,
        ProxyMode.OFF,
        "Enable PROXY protocol support: `off`, `v1` (text), `v2` (binary) or `auto` (either). "
        "A connection may still come without the header; one from an address outside "
        "`proxy_allow_ips` is refused.",
        meta="MODE",
        render=lambda mode: mode.value,
    ),
    Setting(
        "proxy_allow_ips",
        MECHANICS,
        Kind.VALUE,
        ("--proxy-allow-from",),
        addresses,
        ["127.0.0.1", "::1"],
        "Front-end addresses or networks allowed to send a PROXY protocol header, comma "
        "separated; `*` allows any.",
        meta="PROXY_ALLOW_IPS",
        render=",".join,
    ),
    Setting(
        "forwarded_allow_ips",
        MECHANICS,
        Kind.VALUE,
        ("--forwarded-allow-ips",),
        addresses,
        ["127.0.0.1", "::1"],
        "Front-end addresses or networks trusted to set forwarded headers, comma separated; "
        "`*` trusts any. From them `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`, "
        "`Forwarded` and `secure_scheme_headers` set REMOTE_ADDR, `wsgi.url_scheme` and the "
        "host; from others they are ordinary headers.",
        meta="STRING",
        default_env="FORWARDED_ALLOW_IPS",
        render=",".join,
    ),
    Setting(
        "secure_scheme_headers",
        MECHANICS,
        Kind.VALUE,
        ("--secure-scheme-headers",),
        scheme_headers,
        SECURE_SCHEME_HEADERS,
        "Headers and values by which a trusted front-end says a request came over HTTPS. "
        "A present header whose value matches sets `wsgi.url_scheme` to https, one that "
        "does not match sets http; present headers that disagree are answered 400. A dict in "
        "a config file, `NAME=VALUE,...` on the command line.",
        meta="NAME=VALUE,...",
    ),
    Setting(
        "static_map",
        MECHANICS,
        Kind.REPEATED,
        ("--static-map",),
        static_mounts,
        [],
        "Serve the files of a directory under a URL prefix without calling the app, as "
        "`/PREFIX=DIRECTORY`; repeatable. With sendfile, ETag/Last-Modified and 304, Range "
        "requests and HEAD; paths leaving the directory are answered 404.",
        meta="/PREFIX=DIR",
    ),
)
