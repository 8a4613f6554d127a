"""Load the WSGI application named by `wsgi_app`: `MODULE[:EXPRESSION]`.

Accepted forms:
- `module` means `module:application`;
- `module:name` and `module:obj.attr` (an attribute path);
- `module:factory()` and `module:factory('a', n=1)`: a call whose arguments are literals
  (strings, numbers, tuples, lists, dicts, sets, booleans, None).

The spec comes from a command line or a config file and is not evaluated as Python: it is
parsed with `ast`, and anything beyond the forms above (a variable argument, an operator, a
subscript) is refused. Every failure raises `AppImportError`; when the module cannot be
imported or the factory raises, the message carries the formatted traceback, which the caller
prints before exiting with `ExitCode.APP_LOAD_ERROR`.
"""

from __future__ import annotations

import ast
import importlib
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeAlias, cast

from herder.errors import AppImportError

WSGIEnviron: TypeAlias = dict[str, Any]
StartResponse: TypeAlias = Callable[..., Callable[[bytes], object]]
WSGIApplication: TypeAlias = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]
"""The PEP 3333 application callable: `app(environ, start_response) -> iterable of bytes`."""

DEFAULT_ATTRIBUTE = "application"


@dataclass(frozen=True, slots=True)
class AppSpec:
    """A parsed `wsgi_app`: the module, the attribute path and, for factories, the call."""

    module: str
    attributes: tuple[str, ...]  # ("create_app",) or ("obj", "attr")
    args: tuple[Any, ...] | None = None  # None: not a call
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def target(self) -> str:
        """`module:obj.attr`, for messages."""
        return f"{self.module}:{'.'.join(self.attributes)}"


def parse_app_spec(spec: str) -> AppSpec:
    """Split and parse `MODULE[:EXPRESSION]`; raises AppImportError on anything else."""
    module, _, expression = spec.strip().partition(":")
    if not module or not all(part.isidentifier() for part in module.split(".")):
        raise AppImportError(f"invalid application {spec!r}: bad module name {module!r}")
    expression = expression.strip() or DEFAULT_ATTRIBUTE
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise AppImportError(
            f"invalid application {spec!r}: {expression!r} is not a name or a function call"
        ) from None
    if not isinstance(node, ast.Call):
        return AppSpec(module, _attribute_path(node, spec))
    args, kwargs = _literal_arguments(node, spec)
    return AppSpec(module, _attribute_path(node.func, spec), args, kwargs)


def _attribute_path(node: ast.expr, spec: str) -> tuple[str, ...]:
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise AppImportError(
            f"invalid application {spec!r}: only a name, an attribute path or a call "
            "with literal arguments is allowed"
        )
    names.append(node.id)
    return tuple(reversed(names))


def _literal_arguments(
    call: ast.Call, spec: str
) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    try:
        args = tuple(_literal(arg) for arg in call.args)
        kwargs = tuple((_keyword_name(kw), _literal(kw.value)) for kw in call.keywords)
    except ValueError:
        raise AppImportError(
            f"invalid application {spec!r}: factory arguments must be literals "
            "(strings, numbers, tuples, lists, dicts, booleans, None)"
        ) from None
    return args, kwargs


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Starred):
        raise ValueError("*args")
    try:
        return ast.literal_eval(node)
    except (TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


def _keyword_name(keyword: ast.keyword) -> str:
    if keyword.arg is None:
        raise ValueError("**kwargs")
    return keyword.arg


def load_app(spec: str) -> WSGIApplication:
    """Import the module, resolve the attribute path, call the factory, check callability."""
    parsed = parse_app_spec(spec)
    target = _resolve(_import(parsed.module), parsed)
    app = target if parsed.args is None else _call_factory(target, parsed)
    if not callable(app):
        raise AppImportError(
            f"application object {spec!r} is not callable (got {type(app).__name__})"
        )
    return cast(WSGIApplication, app)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        first = f"failed to import module {name!r}: {type(exc).__name__}: {exc}"
        raise AppImportError(f"{first}\n{traceback.format_exc().rstrip()}") from exc


def _resolve(module: ModuleType, spec: AppSpec) -> object:
    value: object = module
    for depth, name in enumerate(spec.attributes, start=1):
        try:
            value = getattr(value, name)
        except AttributeError:
            owner = ".".join(spec.attributes[: depth - 1])
            where = f"{spec.module}:{owner}" if owner else spec.module
            raise AppImportError(f"failed to find attribute {name!r} in {where!r}") from None
    return value


def _call_factory(factory: object, spec: AppSpec) -> object:
    if not callable(factory):
        raise AppImportError(
            f"application factory {spec.target!r} is not callable (got {type(factory).__name__})"
        )
    try:
        return factory(*(spec.args or ()), **dict(spec.kwargs))
    except Exception as exc:
        first = f"application factory {spec.target!r} raised {type(exc).__name__}: {exc}"
        raise AppImportError(f"{first}\n{traceback.format_exc().rstrip()}") from exc
