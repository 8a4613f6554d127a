"""herder's configuration: one typed declaration per setting, loaded from four sources.

Public surface: `load_config(argv, environ) -> Config`, `Config` (one read-only attribute per
setting), `SETTINGS` (the declarations), `Bind`/`BindKind`/`parse_bind` (listening
addresses, used by the master) and `CommandLineExit` (`--help`/`--version` were printed).
This package imports only `herder.errors` and the protocol's `Limits`, never the layers that
use it.
"""

from __future__ import annotations

from herder.config.binds import Bind, BindKind, parse_bind
from herder.config.fields import DynamicDefault, Kind, Section, Setting
from herder.config.loader import CommandLineExit, build_parser, load_config
from herder.config.settings import BUILTIN_WORKERS, SETTINGS, SETTINGS_BY_NAME
from herder.config.values import Config

__all__ = [
    "BUILTIN_WORKERS",
    "SETTINGS",
    "SETTINGS_BY_NAME",
    "Bind",
    "BindKind",
    "CommandLineExit",
    "Config",
    "DynamicDefault",
    "Kind",
    "Section",
    "Setting",
    "build_parser",
    "load_config",
    "parse_bind",
]
