"""The error logger and the access log: atoms, escaping, files, reopen, and the off switch."""

from __future__ import annotations

import base64
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from herder.config import load_config
from herder.logs import AccessEntry, Logs, compile_access_format, format_log_time

ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "GET",
    "RAW_URI": "/a%20b?x=1",
    "PATH_INFO": "/a b",
    "QUERY_STRING": "x=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "192.0.2.7",
    "REMOTE_PORT": "5555",
    "HTTP_REFERER": "http://example.com/",
    "HTTP_USER_AGENT": "curl/8.0",
    "HTTP_X_FORWARDED_FOR": "203.0.113.9",
    "CONTENT_TYPE": "text/plain",
    "wsgi.url_scheme": "http",
}
HEADERS = [("Content-Type", "text/html"), ("Content-Length", "12")]


@pytest.fixture
def utc() -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.fixture
def make_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Logs]]:
    monkeypatch.chdir(tmp_path)
    made: list[Logs] = []

    def make(*argv: str) -> Logs:
        logs = Logs(load_config(list(argv), {}))
        made.append(logs)
        return logs

    yield make
    for logs in made:
        logs.close()


def render(log_format: str, environ: Mapping[str, Any] = ENVIRON, **fields: Any) -> str:
    entry = AccessEntry(
        environ,
        fields.get("status", "200 OK"),
        fields.get("headers", HEADERS),
        fields.get("length", 12),
        fields.get("request_time", 1.2345678),
    )
    return compile_access_format(log_format)(entry)


# -- atoms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("atom", "expected"),
    [
        ("h", "192.0.2.7"),
        ("l", "-"),
        ("u", "-"),
        ("r", "GET /a%20b?x=1 HTTP/1.1"),
        ("m", "GET"),
        ("U", "/a b"),
        ("q", "x=1"),
        ("H", "HTTP/1.1"),
        ("s", "200"),
        ("B", "12"),
        ("b", "12"),
        ("f", "http://example.com/"),
        ("a", "curl/8.0"),
        ("T", "1"),
        ("M", "1234"),
        ("D", "1234567"),
        ("L", "1.234568"),
        ("p", f"<{os.getpid()}>"),
        ("{x-forwarded-for}i", "203.0.113.9"),
        ("{X-Forwarded-For}i", "203.0.113.9"),
        ("{content-type}i", "text/plain"),
        ("{accept}i", "-"),
        ("{content-type}o", "text/html"),
        ("{CONTENT-LENGTH}o", "12"),
        ("{etag}o", "-"),
        ("{REMOTE_PORT}e", "5555"),
        ("{remote_port}e", "5555"),
        ("{wsgi.url_scheme}e", "http"),
        ("{nothing}e", "-"),
        ("zz", "-"),
        ("", "-"),
    ],
)
def test_atom(atom: str, expected: str) -> None:
    assert render(f"%({atom})s") == expected


def test_time_atom_has_apache_form(utc: None) -> None:
    assert format_log_time(971185536) == "[10/Oct/2000:13:45:36 +0000]"
    assert re.fullmatch(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", render("%(t)s"))


def test_time_atom_shows_negative_offsets() -> None:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "XST+07"  # seven hours west of UTC, no DST
    time.tzset()
    try:
        assert format_log_time(971185536) == "[10/Oct/2000:06:45:36 -0700]"
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_empty_body_lengths() -> None:
    assert render("%(b)s %(B)s", length=0) == "- 0"


def test_status_code_only() -> None:
    assert render("%(s)s", status="404 Not Found") == "404"


def test_request_line_without_raw_uri() -> None:
    environ = {k: v for k, v in ENVIRON.items() if k != "RAW_URI"}
    environ["SCRIPT_NAME"] = "/mnt"
    assert render("%(r)s", environ) == "GET /mnt/a b?x=1 HTTP/1.1"


def test_missing_values_render_dash() -> None:
    assert render("%(h)s %(f)s %(a)s %(m)s", {}) == "- - - -"


def test_remote_user_wins_over_basic_auth() -> None:
    token = base64.b64encode(b"alice:secret").decode()
    environ = {"HTTP_AUTHORIZATION": f"Basic {token}"}
    assert render("%(u)s", environ) == "alice"
    assert render("%(u)s", {**environ, "REMOTE_USER": "bob"}) == "bob"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "Basic !!!not-base64", "Basic " + base64.b64encode(b"nocolon").decode(), ""],
)
def test_user_is_dash_without_usable_basic_auth(authorization: str) -> None:
    assert render("%(u)s", {"HTTP_AUTHORIZATION": authorization}) == "-"


def test_literals_percent_and_braces_survive() -> None:
    assert render('{x} 100%% "%(m)s" %d %(s)s') == '{x} 100% "GET" %d 200'


def test_default_format(utc: None) -> None:
    cfg_format = load_config([], {}).access_log_format
    line = render(cfg_format)
    assert re.fullmatch(
        r'192\.0\.2\.7 - - \[[^\]]+\] "GET /a%20b\?x=1 HTTP/1\.1" 200 12 '
        r'"http://example\.com/" "curl/8\.0"',
        line,
    )


def test_control_characters_are_escaped() -> None:
    environ = {**ENVIRON, "HTTP_USER_AGENT": "evil\n127.0.0.1 - - fake\x1b[31m"}
    assert render("%(a)s", environ) == "evil\\x0a127.0.0.1 - - fake\\x1b[31m"


def test_printable_non_ascii_is_kept() -> None:
    assert render("%(a)s", {"HTTP_USER_AGENT": "caf\xe9"}) == "caf\xe9"


# -- the Logs object -----------------------------------------------------------------------


class Untouchable(dict[str, Any]):
    def get(self, *args: Any) -> Any:
        raise AssertionError("the environ was read although the access log is off")

    def __getitem__(self, key: str) -> Any:
        raise AssertionError("the environ was read although the access log is off")


def test_access_log_off_does_no_work(
    make_logs: Callable[..., Logs], capsys: pytest.CaptureFixture[str]
) -> None:
    logs = make_logs()
    assert logs.access_enabled is False
    logs.access(Untouchable(), "200 OK", HEADERS, 1, 0.1)
    assert capsys.readouterr().out == ""


def test_access_log_to_stdout(
    make_logs: Callable[..., Logs], capsys: pytest.CaptureFixture[str]
) -> None:
    logs = make_logs("--access-logfile", "-", "--access-logformat", "%(m)s %(U)s %(s)s")
    assert logs.access_enabled is True
    logs.access(dict(ENVIRON), "204 No Content", [], 0, 0.01)
    assert capsys.readouterr().out == "GET /a b 204\n"


def test_access_log_appends_to_file(make_logs: Callable[..., Logs], tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text("earlier\n")
    logs = make_logs("--access-logfile", str(path), "--access-logformat", "%(h)s %(s)s")
    logs.access(dict(ENVIRON), "200 OK", HEADERS, 12, 0.5)
    logs.access(dict(ENVIRON), "500 Internal Server Error", HEADERS, 12, 0.5)
    assert path.read_text() == "earlier\n192.0.2.7 200\n192.0.2.7 500\n"


def test_access_log_reopen_after_rotation(make_logs: Callable[..., Logs], tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    logs = make_logs("--access-logfile", str(path), "--access-logformat", "%(s)s")
    logs.access(dict(ENVIRON), "200 OK", [], 0, 0.0)
    path.rename(tmp_path / "access.log.1")
    logs.reopen()
    logs.access(dict(ENVIRON), "201 Created", [], 0, 0.0)
    assert (tmp_path / "access.log.1").read_text() == "200\n"
    assert path.read_text() == "201\n"


def test_access_after_close_writes_nothing(make_logs: Callable[..., Logs], tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    logs = make_logs("--access-logfile", str(path))
    logs.close()
    logs.access(dict(ENVIRON), "200 OK", [], 0, 0.0)
    assert path.read_text() == ""


def test_error_log_format_and_level(
    make_logs: Callable[..., Logs], capsys: pytest.CaptureFixture[str]
) -> None:
    logs = make_logs("--log-level", "warning")
    assert logs.error.name == "herder.error"
    logs.error.info("not shown")
    logs.error.warning("Worker %d timed out", 7)
    err = capsys.readouterr().err
    assert re.fullmatch(
        rf"\[\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{{4}}\] \[{os.getpid()}\] "
        r"\[WARNING\] Worker 7 timed out\n",
        err,
    )


def test_error_log_does_not_propagate_to_root_until_closed(
    make_logs: Callable[..., Logs],
) -> None:
    logs = make_logs()
    assert logs.error.propagate is False
    logs.close()
    assert (logs.error.propagate, logs.error.handlers) == (True, [])


def test_error_log_to_file_and_reopen(make_logs: Callable[..., Logs], tmp_path: Path) -> None:
    path = tmp_path / "error.log"
    logs = make_logs("--error-logfile", str(path), "--log-level", "debug")
    logs.error.debug("first")
    path.rename(tmp_path / "error.log.1")
    logs.reopen()
    logs.error.error("second")
    assert (tmp_path / "error.log.1").read_text().endswith("[DEBUG] first\n")
    assert path.read_text().endswith("[ERROR] second\n")


def test_a_second_logs_replaces_the_handler(make_logs: Callable[..., Logs]) -> None:
    make_logs()
    logs = make_logs()
    assert len(logs.error.handlers) == 1
    assert isinstance(logs.error.handlers[0], logging.StreamHandler)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_unwritable_access_log_is_reported(
    make_logs: Callable[..., Logs], capsys: pytest.CaptureFixture[str]
) -> None:
    logs = make_logs("--access-logfile", "/dev/full", "--access-logformat", "%(s)s")
    logs.access(dict(ENVIRON), "200 OK", [], 0, 0.0)  # ENOSPC: reported, never raised
    assert "cannot write the access log" in capsys.readouterr().err
