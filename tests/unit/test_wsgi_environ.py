"""The WSGI environ: required keys and types, PATH_INFO decoding, mounts, header mapping."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from herder import SERVER_SOFTWARE
from herder.protocol.events import RequestHead
from herder.wsgi.environ import KEY_CACHE_SIZE, EnvironBuilder, ServerInfo
from herder.wsgi.file_wrapper import FileWrapper
from herder.wsgi.input import Input

ERRORS = io.StringIO()
TCP = ServerInfo("example.org", "8000", "http", "", False, True, False, ERRORS)
UNIX = ServerInfo("", "", "http", "", False, True, False, ERRORS)


def make_head(
    target: str = "/",
    headers: tuple[tuple[str, str], ...] = (("HOST", "example.org"),),
    **fields: object,
) -> RequestHead:
    path, _, query = target.partition("?")
    head = RequestHead(
        method="GET",
        target=target,
        path=path,
        query=query,
        version=(1, 1),
        headers=headers,
        content_length=None,
        chunked=False,
        keep_alive=True,
        expect_continue=False,
    )
    return replace(head, **fields)  # type: ignore[arg-type]


def build(
    head: RequestHead | None = None,
    server: ServerInfo = TCP,
    peer: tuple[str, int] | None = ("192.0.2.7", 51234),
) -> dict[str, object]:
    return EnvironBuilder(server).build(head or make_head(), peer, Input())


def test_required_keys_and_types() -> None:
    wsgi_input = Input()
    env = EnvironBuilder(TCP).build(make_head("/a/b?x=1&y=2"), ("192.0.2.7", 51234), wsgi_input)
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/a/b"
    assert env["QUERY_STRING"] == "x=1&y=2"
    assert env["SERVER_NAME"] == "example.org"
    assert env["SERVER_PORT"] == "8000"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_SOFTWARE"] == SERVER_SOFTWARE
    assert env["REMOTE_ADDR"] == "192.0.2.7"
    assert env["REMOTE_PORT"] == "51234"
    assert env["RAW_URI"] == env["REQUEST_URI"] == "/a/b?x=1&y=2"
    assert env["HTTP_HOST"] == "example.org"
    assert env["wsgi.version"] == (1, 0)
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.input"] is wsgi_input
    assert env["wsgi.errors"] is ERRORS
    assert env["wsgi.multithread"] is False
    assert env["wsgi.multiprocess"] is True
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.file_wrapper"] is FileWrapper


def test_every_cgi_key_is_a_native_string() -> None:
    env = build(make_head("/p?q", (("HOST", "h"), ("X-A", "1"), ("CONTENT-TYPE", "text/plain"))))
    cgi = {key: value for key, value in env.items() if "." not in key}
    assert all(type(value) is str for value in cgi.values()), cgi


def test_no_body_means_no_content_keys() -> None:
    env = build()
    assert "CONTENT_TYPE" not in env
    assert "CONTENT_LENGTH" not in env


def test_content_type_and_length_are_not_http_keys() -> None:
    head = make_head(
        headers=(("HOST", "h"), ("CONTENT-TYPE", "application/json"), ("CONTENT-LENGTH", "12")),
        content_length=12,
    )
    env = build(head)
    assert env["CONTENT_TYPE"] == "application/json"
    assert env["CONTENT_LENGTH"] == "12"
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env


def test_content_length_comes_from_the_parsed_value() -> None:
    head = make_head(headers=(("CONTENT-LENGTH", "5"), ("CONTENT-LENGTH", "5")), content_length=5)
    assert build(head)["CONTENT_LENGTH"] == "5"


def test_chunked_request_has_no_content_length() -> None:
    fields = (("TRANSFER-ENCODING", "chunked"), ("CONTENT-LENGTH", "10"))  # chunked wins
    head = make_head(headers=fields, chunked=True)
    env = build(head)
    assert "CONTENT_LENGTH" not in env
    assert env["HTTP_TRANSFER_ENCODING"] == "chunked"


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("/plain", "/plain"),
        ("/a%2Fb", "/a/b"),
        ("/%E2%82%AC", "/\xe2\x82\xac"),  # UTF-8 octets of the euro sign, one code point each
        ("/caf%e9", "/caf\xe9"),
        ("/caf\xe9", "/caf\xe9"),  # a raw octet stays that octet
        ("/a%20b%", "/a b%"),  # a stray % is left alone
        ("/%zz", "/%zz"),
    ],
)
def test_path_info_is_percent_decoded_to_latin1(raw: str, decoded: str) -> None:
    env = build(make_head(raw))
    assert env["PATH_INFO"] == decoded
    assert env["RAW_URI"] == raw


def test_path_info_decoding_matches_pep3333_recipe() -> None:
    decoded = build(make_head("/%E2%82%AC/x"))["PATH_INFO"]
    assert isinstance(decoded, str)
    assert decoded.encode("latin-1").decode("utf-8") == "/\u20ac/x"


@pytest.mark.parametrize(
    ("script_name", "path", "expected_script", "expected_path"),
    [
        ("/app", "/app/users", "/app", "/users"),
        ("/app", "/app", "/app", ""),
        ("/app/", "/app/x", "/app", "/x"),
        ("/app", "/application", "/app", "/application"),  # not a whole segment
        ("/app", "/other", "/app", "/other"),
        ("/app", "/ap%70/x", "/app", "/x"),  # compared after decoding
        ("/", "/x", "", "/x"),
    ],
)
def test_script_name_is_stripped_from_path_info(
    script_name: str, path: str, expected_script: str, expected_path: str
) -> None:
    env = build(make_head(path), replace(TCP, script_name=script_name))
    assert env["SCRIPT_NAME"] == expected_script
    assert env["PATH_INFO"] == expected_path


def test_header_names_map_to_http_keys() -> None:
    env = build(make_head(headers=(("X-FORWARDED-FOR", "a"), ("ACCEPT", "*/*"))))
    assert env["HTTP_X_FORWARDED_FOR"] == "a"
    assert env["HTTP_ACCEPT"] == "*/*"


def test_repeated_fields_are_joined_with_commas() -> None:
    head = make_head(headers=(("ACCEPT", "a"), ("X-A", "1"), ("ACCEPT", "b"), ("ACCEPT", "c")))
    env = build(head)
    assert env["HTTP_ACCEPT"] == "a,b,c"
    assert env["HTTP_X_A"] == "1"


def test_cookies_are_joined_with_semicolons() -> None:
    head = make_head(headers=(("COOKIE", "a=1"), ("COOKIE", "b=2; c=3")))
    assert build(head)["HTTP_COOKIE"] == "a=1; b=2; c=3"


def test_dash_and_underscore_names_share_a_key() -> None:
    # the parser only lets `_` names through with header_map=dangerous
    head = make_head(headers=(("X-USER", "a"), ("X_USER", "b")))
    assert build(head)["HTTP_X_USER"] == "a,b"


def test_key_cache_is_bounded() -> None:
    builder = EnvironBuilder(TCP)
    names = tuple((f"X-{i}", "v") for i in range(KEY_CACHE_SIZE + 50))
    env = builder.build(make_head(headers=names), None, Input())
    assert env[f"HTTP_X_{KEY_CACHE_SIZE + 49}"] == "v"
    assert len(builder._keys) == KEY_CACHE_SIZE


def test_environs_are_independent() -> None:
    builder = EnvironBuilder(TCP)
    first = builder.build(make_head(headers=(("X-A", "1"),)), None, Input())
    second = builder.build(make_head(headers=(("X-A", "2"),)), None, Input())
    first["PATH_INFO"] = "/changed"
    assert second["HTTP_X_A"] == "2"
    assert second["PATH_INFO"] == "/"


def test_http_10() -> None:
    assert build(make_head(version=(1, 0)))["SERVER_PROTOCOL"] == "HTTP/1.0"


def test_unknown_peer() -> None:
    env = build(peer=None)
    assert env["REMOTE_ADDR"] == ""
    assert env["REMOTE_PORT"] == ""


def test_https_scheme() -> None:
    assert build(server=replace(TCP, url_scheme="https"))["wsgi.url_scheme"] == "https"


@pytest.mark.parametrize(
    ("host", "scheme", "name", "port"),
    [
        ("example.org:8080", "http", "example.org", "8080"),
        ("example.org", "http", "example.org", "80"),
        ("example.org", "https", "example.org", "443"),
        ("[::1]:9000", "http", "[::1]", "9000"),
        ("[::1]", "https", "[::1]", "443"),
    ],
)
def test_unix_listener_takes_server_name_from_host(
    host: str, scheme: str, name: str, port: str
) -> None:
    env = build(make_head(headers=(("HOST", host),)), replace(UNIX, url_scheme=scheme), None)
    assert env["SERVER_NAME"] == name
    assert env["SERVER_PORT"] == port


def test_unix_listener_without_host_falls_back() -> None:
    assert build(make_head(headers=()), UNIX, None)["SERVER_NAME"] == "localhost"
    named = replace(UNIX, server_name="/run/app.sock")
    env = build(make_head(headers=()), named, None)
    assert env["SERVER_NAME"] == "/run/app.sock"
    assert env["SERVER_PORT"] == "80"


def test_tcp_listener_ignores_host_for_server_name() -> None:
    env = build(make_head(headers=(("HOST", "other:1"),)))
    assert env["SERVER_NAME"] == "example.org"
    assert env["SERVER_PORT"] == "8000"


def test_absolute_form_authority_replaces_host() -> None:
    head = make_head(
        "http://target.example:81/p",
        headers=(("HOST", "ignored.example"),),
        path="/p",
        scheme="http",
        authority="target.example:81",
    )
    env = build(head, UNIX, None)
    assert env["HTTP_HOST"] == "target.example:81"
    assert env["SERVER_NAME"] == "target.example"
    assert env["SERVER_PORT"] == "81"
    assert env["PATH_INFO"] == "/p"
    assert env["RAW_URI"] == "http://target.example:81/p"
