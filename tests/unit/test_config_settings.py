"""Every setting: its default, good values from the command line, bad values and their messages."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path
from typing import Any

import pytest

from herder.config import SETTINGS, Bind, BindKind, Config, load_config
from herder.config.sections import lifecycle
from herder.errors import ConfigError
from herder.protocol.limits import HeaderMap
from herder.protocol.proxy import ProxyMode

# Lifecycle settings are covered in test_config_lifecycle.py.
LIFECYCLE = {setting.name for setting in lifecycle.SETTINGS}
DEFAULT_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray ./herder.conf.py can leak into these tests."""
    monkeypatch.chdir(tmp_path)


def load(*argv: str, env: dict[str, str] | None = None) -> Config:
    return load_config(list(argv), env or {})


def error_of(*argv: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(*argv, env=env)
    return str(caught.value)


def expected_defaults(cwd: str) -> dict[str, Any]:
    return {
        "bind": [Bind(BindKind.TCP, host="127.0.0.1", port=8000)],
        "backlog": 2048,
        "workers": 1,
        "worker_class": "event",
        "worker_connections": 1000,
        "max_requests": 0,
        "max_requests_jitter": 0,
        "timeout": 30,
        "graceful_timeout": 30,
        "keepalive": 2,
        "wsgi_app": None,
        "config": None,
        "preload_app": False,
        "sendfile": True,
        "chdir": cwd,
        "daemon": False,
        "raw_env": [],
        "pidfile": None,
        "user": os.geteuid(),
        "group": os.getegid(),
        "umask": 0,
        "pythonpath": None,
        "script_name": "",
        "accesslog": None,
        "access_log_format": DEFAULT_FORMAT,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": None,
        "limit_request_line": 4094,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "limit_request_head": 65536,
        "header_timeout": 10.0,
        "permit_obsolete_folding": False,
        "strip_header_spaces": False,
        "permit_unconventional_http_method": False,
        "casefold_http_method": False,
        "header_map": HeaderMap.DROP,
        "protocol": "http",
        "uwsgi_allow_ips": ["127.0.0.1", "::1"],
        "uwsgi_buffer_size": 65535,
        "proxy_protocol": ProxyMode.OFF,
        "proxy_allow_ips": ["127.0.0.1", "::1"],
        "forwarded_allow_ips": ["127.0.0.1", "::1"],
        "secure_scheme_headers": {
            "X-FORWARDED-PROTOCOL": "ssl",
            "X-FORWARDED-PROTO": "https",
            "X-FORWARDED-SSL": "on",
        },
        "static_map": [],
        "check_config": False,
        "print_config": False,
        "threads": 4,
        "accept_lock": False,
        "epoll_exclusive": False,
        "reuse_port": False,
        "worker_stats": None,
        "http_parser": "python",
    }


def test_defaults_cover_every_setting_and_match(tmp_path: Path) -> None:
    expected = expected_defaults(str(tmp_path))
    assert set(expected) == {setting.name for setting in SETTINGS} - LIFECYCLE
    loaded = load().as_dict()
    assert {k: v for k, v in loaded.items() if k not in LIFECYCLE} == expected


def test_every_source_is_default_without_input() -> None:
    cfg = load()
    assert {cfg.settings_source(setting.name) for setting in SETTINGS} == {"default"}


GOOD = [
    (["-b", "0.0.0.0:80"], "bind", [Bind(BindKind.TCP, host="0.0.0.0", port=80)]),
    (
        ["--bind", "unix:/tmp/h.sock", "-b", "fd://3"],
        "bind",
        [Bind(BindKind.UNIX, path="/tmp/h.sock"), Bind(BindKind.FD, fd=3)],
    ),
    (["--backlog", "64"], "backlog", 64),
    (["-w", "4"], "workers", 4),
    (["--workers", "12"], "workers", 12),
    (["-k", "sync"], "worker_class", "sync"),
    (["--worker-class", "pkg.mod:MyWorker"], "worker_class", "pkg.mod:MyWorker"),
    (["--worker-class", "pkg.mod.MyWorker"], "worker_class", "pkg.mod.MyWorker"),
    (["--worker-connections", "1"], "worker_connections", 1),
    (["-t", "0"], "timeout", 0),
    (["--timeout", "120"], "timeout", 120),
    (["--graceful-timeout", "5"], "graceful_timeout", 5),
    (["--keep-alive", "0"], "keepalive", 0),
    (["--max-requests", "1000"], "max_requests", 1000),
    (["--max-requests-jitter", "50"], "max_requests_jitter", 50),
    (["--preload"], "preload_app", True),
    (["--no-sendfile"], "sendfile", False),
    (["-D"], "daemon", True),
    (["--daemon"], "daemon", True),
    (["-e", "A=1", "--env", "B=x=y"], "raw_env", ["A=1", "B=x=y"]),
    (["-e", "EMPTY="], "raw_env", ["EMPTY="]),
    (["--pid", "run/herder.pid"], "pidfile", "run/herder.pid"),
    (["-u", "1234"], "user", 1234),
    (["-g", "4321"], "group", 4321),
    (["--umask", "18"], "umask", 18),
    (["--umask", "0o22"], "umask", 18),
    (["--umask", "022"], "umask", 18),
    (["--umask", "0x12"], "umask", 18),
    (["--umask", "0"], "umask", 0),
    (["--pythonpath", "a, b,,c"], "pythonpath", ["a", "b", "c"]),
    (["--script-name", "/app"], "script_name", "/app"),
    (["--script-name", ""], "script_name", ""),
    (["--limit-request-line", "0"], "limit_request_line", 0),
    (["--limit-request-line", "8190"], "limit_request_line", 8190),
    (["--limit-request-fields", "32768"], "limit_request_fields", 32768),
    (["--limit-request-field_size", "0"], "limit_request_field_size", 0),
    (["--limit-request-head", "1024"], "limit_request_head", 1024),
    (["--header-timeout", "2.5"], "header_timeout", 2.5),
    (["--header-timeout", "3"], "header_timeout", 3.0),
    (["--permit-obsolete-folding"], "permit_obsolete_folding", True),
    (["--strip-header-spaces"], "strip_header_spaces", True),
    (["--permit-unconventional-http-method"], "permit_unconventional_http_method", True),
    (["--casefold-http-method"], "casefold_http_method", True),
    (["--header-map", "refuse"], "header_map", HeaderMap.REFUSE),
    (["--header-map", "DANGEROUS"], "header_map", HeaderMap.DANGEROUS),
    (["--protocol", "uwsgi"], "protocol", "uwsgi"),
    (["--uwsgi-allow-from", "10.0.0.0/8, ::1"], "uwsgi_allow_ips", ["10.0.0.0/8", "::1"]),
    (["--uwsgi-buffer-size", "8192"], "uwsgi_buffer_size", 8192),
    (["--proxy-protocol", "auto"], "proxy_protocol", ProxyMode.AUTO),
    (["--proxy-protocol", "v2"], "proxy_protocol", ProxyMode.V2),
    (["--proxy-allow-from", "*"], "proxy_allow_ips", ["*"]),
    (["--forwarded-allow-ips", "192.168.0.0/16,*"], "forwarded_allow_ips", ["192.168.0.0/16", "*"]),
    (["--secure-scheme-headers", "x-proto=https"], "secure_scheme_headers", {"X-PROTO": "https"}),
    (["--static-map", "/s=/", "--static-map", "/t=/"], "static_map", ["/s=/", "/t=/"]),
    (["--access-logfile", "-"], "accesslog", "-"),
    (["--access-logfile", "/var/log/a.log"], "accesslog", "/var/log/a.log"),
    (["--access-logformat", "%(h)s %(s)s"], "access_log_format", "%(h)s %(s)s"),
    (["--error-logfile", "/var/log/e.log"], "errorlog", "/var/log/e.log"),
    (["--log-level", "debug"], "loglevel", "debug"),
    (["--log-level", "WARNING"], "loglevel", "warning"),
    (["-n", "myapp"], "proc_name", "myapp"),
    (["--name", "myapp"], "proc_name", "myapp"),
    (["--check-config"], "check_config", True),
    (["--print-config"], "print_config", True),
    (["myproject.wsgi"], "wsgi_app", "myproject.wsgi"),
    (["myproject.wsgi:app"], "wsgi_app", "myproject.wsgi:app"),
    (["m:create_app('x', n=1)"], "wsgi_app", "m:create_app('x', n=1)"),
    (["-k", "threaded"], "worker_class", "threaded"),
    (["-k", "gthread"], "worker_class", "gthread"),
    (["-k", "gevent"], "worker_class", "gevent"),
    (["-k", "eventlet"], "worker_class", "eventlet"),
    (["--threads", "8"], "threads", 8),
    (["--accept-lock"], "accept_lock", True),
    (["--epoll-exclusive"], "epoll_exclusive", True),
    (["--reuse-port"], "reuse_port", True),
    (["--worker-stats", "/run/herder.stats"], "worker_stats", "/run/herder.stats"),
    (["--http-parser", "httptools"], "http_parser", "httptools"),
    (["--http-parser", "Python"], "http_parser", "python"),
]


@pytest.mark.parametrize(("argv", "name", "expected"), GOOD)
def test_good_command_line_value(argv: list[str], name: str, expected: object) -> None:
    cfg = load(*argv)
    assert cfg.as_dict()[name] == expected
    assert cfg.settings_source(name) != "default"


def test_every_option_is_exercised_by_a_good_value() -> None:
    tried = {name for _, name, _ in GOOD}
    assert (
        tried >= {s.name for s in SETTINGS} - {"config", "chdir"} - LIFECYCLE
    )  # those two need files


def test_chdir_takes_an_existing_directory_as_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    assert load("--chdir", "site").chdir == str(tmp_path / "site")


def test_user_and_group_by_name() -> None:
    user = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(os.getegid())
    cfg = load("-u", user.pw_name, "-g", group.gr_name)
    assert (cfg.user, cfg.group) == (user.pw_uid, group.gr_gid)


BAD = [
    (["-w", "x"], "--workers: invalid int value 'x'"),
    (["-w", "0"], "--workers: must be at least 1, got 0"),
    (["-w", "2.5"], "--workers: invalid int value '2.5'"),
    (["-w", "\u0663"], "--workers: invalid int value '\u0663'"),
    (["--backlog", "0"], "--backlog: must be at least 1, got 0"),
    (["-b", "host:99999"], "--bind: invalid address 'host:99999'"),
    (["-b", "::1"], "--bind: invalid address '::1'"),
    (["-k", "threads maybe"], "--worker-class: invalid worker class 'threads maybe'"),
    (["-k", "tornado"], "--worker-class: invalid worker class 'tornado'"),
    (["--worker-connections", "0"], "--worker-connections: must be at least 1"),
    (["-t", "-1"], "--timeout: must be at least 0, got -1"),
    (["--graceful-timeout", "soon"], "--graceful-timeout: invalid int value 'soon'"),
    (["--keep-alive", "-2"], "--keep-alive: must be at least 0"),
    (["--max-requests", "-1"], "--max-requests: must be at least 0"),
    (["--max-requests-jitter", "x"], "--max-requests-jitter: invalid int value"),
    (["-e", "NOEQUALS"], "--env: expected KEY=VALUE, got 'NOEQUALS'"),
    (["-e", "=value"], "--env: expected KEY=VALUE, got '=value'"),
    (["--pid", ""], "--pid: must not be empty"),
    (["-u", "no-such-user-herder"], "--user: no such user 'no-such-user-herder'"),
    (["-g", "no-such-group-herder"], "--group: no such group 'no-such-group-herder'"),
    (["--umask", "rw"], "--umask: invalid umask value 'rw'"),
    (["--umask", "0o1000"], "--umask: must be between 0 and 511, got 512"),
    (["--umask", "089"], "--umask: invalid umask value"),
    (["--chdir", "does/not/exist"], "--chdir: no such directory 'does/not/exist'"),
    (["-c", "missing.conf.py"], "--config: no such file 'missing.conf.py'"),
    (["--script-name", "app"], "--script-name: must be empty or start with '/'"),
    (["--script-name", "/app/"], "--script-name: must be empty or start with '/'"),
    (["--limit-request-line", "8191"], "--limit-request-line: must be between 0 and 8190"),
    (["--limit-request-fields", "32769"], "--limit-request-fields: must be between 0 and 32768"),
    (["--limit-request-field_size", "-1"], "--limit-request-field_size: must be at least 0"),
    (["--limit-request-head", "1023"], "--limit-request-head: must be at least 1024"),
    (["--header-timeout", "0"], "--header-timeout: must be greater than 0"),
    (["--header-timeout", "nan"], "--header-timeout: invalid float value 'nan'"),
    (["--header-timeout", "soon"], "--header-timeout: invalid float value 'soon'"),
    (["--header-map", "keep"], "--header-map: invalid choice 'keep' (choose from drop, refuse"),
    (["--log-level", "loud"], "--log-level: invalid choice 'loud'"),
    (["--protocol", "fastcgi"], "--protocol: invalid choice 'fastcgi'"),
    (["--uwsgi-allow-from", "10.0.0.300"], "--uwsgi-allow-from: '10.0.0.300' does not appear"),
    (["--uwsgi-buffer-size", "65536"], "--uwsgi-buffer-size: must be between 1024 and 65535"),
    (["--proxy-protocol", "v3"], "--proxy-protocol: invalid choice 'v3'"),
    (["--proxy-allow-from", "nginx"], "--proxy-allow-from: 'nginx' does not appear"),
    (["--forwarded-allow-ips", "1.2.3.4/40"], "--forwarded-allow-ips: '1.2.3.4/40' does not"),
    (["--secure-scheme-headers", "X-PROTO"], "--secure-scheme-headers: expected NAME=VALUE"),
    (["--static-map", "static=/"], "--static-map: expected /PREFIX=DIRECTORY"),
    (["--static-map", "/s=/no/such/dir"], "--static-map: '/no/such/dir' is not a directory"),
    (["--error-logfile", " "], "--error-logfile: must not be empty"),
    (["--access-logfile", ""], "--access-logfile: must not be empty"),
    (["-n", ""], "--name: must not be empty"),
    (["my app"], "APP_MODULE: invalid application 'my app'"),
    (["mod:"], "APP_MODULE: invalid application 'mod:'"),
    (["-w"], "argument -w/--workers: expected one argument"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--work", "2"], "unrecognized arguments: --work"),
    (["--preload=yes"], "ignored explicit argument 'yes'"),
    (["--threads", "0"], "--threads: must be at least 1, got 0"),
    (["--worker-stats", ""], "--worker-stats: must not be empty"),
    (["--http-parser", "llhttp"], "--http-parser: invalid choice 'llhttp' (choose from python"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_command_line_value_names_the_option(argv: list[str], message: str) -> None:
    assert message in error_of(*argv)


def test_bad_values_fail_for_every_valued_option() -> None:
    failing = {message.split(":")[0] for _, message in BAD}
    valued = {s.label for s in SETTINGS if s.meta is not None and s.name not in LIFECYCLE}
    # any string is a valid format, and any list of directories a valid path
    assert valued - failing == {"--access-logformat", "--pythonpath"}
