"""Worker classes by name, imported lazily after the fork.

Built-in names map to module paths so the master never imports a worker module it does not
need (an optional stack such as gevent must not be loaded into the master). A custom class is
named `package.module:Class` or `package.module.Class` and must derive from `Worker`.
"""

from __future__ import annotations

import importlib

from herder.config.settings import BUILTIN_WORKERS
from herder.workers.base import Worker, WorkerBootError

BUILTIN = BUILTIN_WORKERS


def resolve(name: str) -> type[Worker]:
    """The worker class for `name`; WorkerBootError when it cannot be had."""
    path = BUILTIN.get(name, name)
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise WorkerBootError(f"worker class {name!r}: expected a name or module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WorkerBootError(f"worker class {name!r}: cannot import {module_name}: {exc}") from exc
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Worker)):
        raise WorkerBootError(f"worker class {name!r} is not a herder Worker subclass")
    return cls
