"""`load_app`: every accepted spelling, and every way it refuses or fails."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from herder.app import AppSpec, load_app, parse_app_spec
from herder.errors import AppImportError

APP_SOURCE = """
def application(environ, start_response):
    start_response("200 OK", [])
    return [b"application"]

def app(environ, start_response):
    return [b"app"]

class Holder:
    def __init__(self):
        self.wsgi = app

holder = Holder()
not_callable = 42

def create_app(*args, **kwargs):
    def made(environ, start_response):
        return [repr((args, kwargs)).encode()]
    return made

def broken_factory():
    raise ValueError("no database")

def returns_number():
    return 7
"""

_counter = itertools.count()


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write a uniquely named module to tmp_path (on sys.path); returns its name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def write(source: str) -> str:
        name = f"herder_test_app_{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def module(write_module: Callable[[str], str]) -> str:
    return write_module(APP_SOURCE)


def call(app: object) -> list[bytes]:
    assert callable(app)
    return list(app({}, lambda status, headers, exc_info=None: None))


# -- accepted forms ------------------------------------------------------------------------


def test_module_alone_means_application(module: str) -> None:
    assert call(load_app(module)) == [b"application"]


def test_module_colon_name(module: str) -> None:
    assert call(load_app(f"{module}:app")) == [b"app"]


def test_attribute_path(module: str) -> None:
    assert call(load_app(f"{module}:holder.wsgi")) == [b"app"]


def test_factory_without_arguments(module: str) -> None:
    assert call(load_app(f"{module}:create_app()")) == [b"((), {})"]


def test_factory_with_literal_arguments(module: str) -> None:
    app = load_app(f"{module}:create_app('a', 2, flags=[1, (2, 3)], opts={{'x': None}})")
    assert call(app) == [repr((("a", 2), {"flags": [1, (2, 3)], "opts": {"x": None}})).encode()]


def test_package_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "herder_test_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "wsgi.py").write_text("def application(e, s):\n    return [b'pkg']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert call(load_app("herder_test_pkg.wsgi")) == [b"pkg"]
    finally:
        sys.modules.pop("herder_test_pkg.wsgi", None)
        sys.modules.pop("herder_test_pkg", None)


def test_parse_app_spec_forms() -> None:
    assert parse_app_spec("a.b") == AppSpec("a.b", ("application",))
    assert parse_app_spec("a:b.c") == AppSpec("a", ("b", "c"))
    assert parse_app_spec("a:f(1, k='v')") == AppSpec("a", ("f",), (1,), (("k", "v"),))
    assert parse_app_spec("a: f() ") == AppSpec("a", ("f",), ())


# -- refused specs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("m:f(x)", "factory arguments must be literals"),
        ("m:f(*args)", "factory arguments must be literals"),
        ("m:f(**kw)", "factory arguments must be literals"),
        ("m:f(1 + os.getpid())", "factory arguments must be literals"),
        ("m:f(open('x'))", "factory arguments must be literals"),
        ("m:apps[0]", "only a name, an attribute path or a call"),
        ("m:a + b", "only a name, an attribute path or a call"),
        ("m:f()()", "only a name, an attribute path or a call"),
        ("m:lambda: 1", "only a name, an attribute path or a call"),
        ("m:f(", "is not a name or a function call"),
        ("m:import os", "is not a name or a function call"),
        ("", "bad module name ''"),
        ("my-app:app", "bad module name 'my-app'"),
        ("a..b", "bad module name 'a..b'"),
    ],
)
def test_refused_specs_are_never_imported(spec: str, reason: str) -> None:
    with pytest.raises(AppImportError, match="invalid application") as caught:
        load_app(spec)
    assert reason in str(caught.value)


# -- failures ------------------------------------------------------------------------------


def test_missing_module_carries_the_traceback() -> None:
    with pytest.raises(AppImportError) as caught:
        load_app("herder_no_such_module_anywhere:app")
    message = str(caught.value)
    assert message.startswith("failed to import module 'herder_no_such_module_anywhere'")
    assert "Traceback (most recent call last)" in message
    assert "ModuleNotFoundError" in message


def test_module_raising_on_import_carries_its_traceback(write_module: Callable[[str], str]) -> None:
    name = write_module("x = 1\nraise RuntimeError('bad settings')\n")
    with pytest.raises(AppImportError) as caught:
        load_app(name)
    message = str(caught.value)
    assert f"failed to import module {name!r}: RuntimeError: bad settings" in message
    assert f"{name}.py" in message  # the traceback points into the app's file


def test_module_with_syntax_error(write_module: Callable[[str], str]) -> None:
    name = write_module("def application(:\n")
    with pytest.raises(AppImportError, match="SyntaxError"):
        load_app(name)


def test_missing_attribute(module: str) -> None:
    with pytest.raises(AppImportError, match=f"failed to find attribute 'nope' in '{module}'"):
        load_app(f"{module}:nope")


def test_missing_nested_attribute_names_its_owner(module: str) -> None:
    with pytest.raises(AppImportError, match=f"'missing' in '{module}:holder'"):
        load_app(f"{module}:holder.missing")


def test_module_without_application(write_module: Callable[[str], str]) -> None:
    name = write_module("app = None\n")
    with pytest.raises(AppImportError, match="failed to find attribute 'application'"):
        load_app(name)


def test_not_callable(module: str) -> None:
    with pytest.raises(AppImportError, match=r"is not callable \(got int\)"):
        load_app(f"{module}:not_callable")


def test_factory_that_raises(module: str) -> None:
    with pytest.raises(AppImportError) as caught:
        load_app(f"{module}:broken_factory()")
    message = str(caught.value)
    assert message.startswith(
        f"application factory '{module}:broken_factory' raised ValueError: no database"
    )
    assert "Traceback" in message


def test_factory_with_wrong_arguments(module: str) -> None:
    with pytest.raises(AppImportError, match="raised TypeError"):
        load_app(f"{module}:broken_factory(1)")


def test_factory_returning_non_callable(module: str) -> None:
    with pytest.raises(AppImportError, match=r"is not callable \(got int\)"):
        load_app(f"{module}:returns_number()")


def test_calling_a_non_callable_factory(module: str) -> None:
    with pytest.raises(AppImportError, match=r"application factory .* is not callable"):
        load_app(f"{module}:not_callable()")
