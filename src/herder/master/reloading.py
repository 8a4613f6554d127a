"""What a reload changes in the master: the configuration, and a preloaded application.

- The configuration is re-read the way the master was started: the same arguments and the
  starting environment, from the starting directory (so a relative `-c` means the same
  file). A configuration that no longer loads is logged and the current one kept.
- With `--preload` the application lives in the master. Gunicorn never re-imports it on
  `HUP`; herder does when it is safe: only the modules the application's import added to
  `sys.modules` and whose files lie in the project directory (`--chdir`, or a
  `--pythonpath` entry) are dropped and imported again; libraries stay as they are. When the
  new import fails, the dropped modules are put back and the old application kept, so the
  workers keep running the old code.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

from herder.errors import AppImportError, ConfigError

if TYPE_CHECKING:
    from herder.config import Config
    from herder.master.reexec import Launch
    from herder.wsgi import WSGIApplication


def reread_config(launch: Launch, log: logging.Logger) -> Config | None:
    """The configuration loaded anew, or None (logged) when it does not load."""
    from herder.config import load_config

    here = os.getcwd()
    try:
        os.chdir(launch.cwd)
        return load_config(launch.args, launch.environ)
    except (ConfigError, OSError) as exc:
        log.error("Reload: the configuration is invalid, keeping the old one: %s", exc)
        return None
    finally:
        os.chdir(here)


class PreloadedApp:
    """The application imported in the master, and the project modules it brought in."""

    def __init__(self, spec: str, roots: list[str], load: Callable[[str], WSGIApplication]):
        self.spec = spec
        self.roots = [os.path.join(os.path.abspath(root), "") for root in roots]
        self._load = load
        self.modules: dict[str, ModuleType] = {}
        self.app: WSGIApplication | None = None

    def load(self) -> WSGIApplication:
        """Import the app (raises AppImportError) and remember its project modules."""
        before = set(sys.modules)
        self.app = self._load(self.spec)
        self.modules = {
            name: module
            for name in set(sys.modules) - before
            if (module := sys.modules[name]) is not None and self._is_project(module)
        }
        return self.app

    def reimport(self, log: logging.Logger) -> WSGIApplication | None:
        """Import the app again with fresh project modules; None (old app kept) on failure."""
        old_app, old_modules = self.app, dict(self.modules)
        for name in old_modules:
            sys.modules.pop(name, None)
        try:
            return self.load()
        except AppImportError as exc:
            log.error("Reload: the application failed to import, keeping the old code:\n%s", exc)
            sys.modules.update(old_modules)
            self.app, self.modules = old_app, old_modules
            return None

    def _is_project(self, module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if not path:
            return False
        path = os.path.abspath(path)
        return "site-packages" not in path and any(path.startswith(r) for r in self.roots)
