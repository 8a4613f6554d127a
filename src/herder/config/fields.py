"""The declaration of one setting: everything herder knows about it, in one place.

A `Setting` is the single source for a setting's command-line option, its environment
variable (`HERDER_<NAME>`), its config-file name, its default, its validator and its line in
the reference (`docs/settings.md`). The loader, the argparse parser and the docs generator are
all driven by these records; adding a setting means adding a declaration.

Rules:
- A validator takes the raw value (a string from the command line or the environment, any
  Python object from a config file) and returns the typed value, or raises `ValueError` (a
  bad value) or `TypeError` (a value of the wrong type) with a message that does not repeat
  the setting's name: the loader prefixes where the value came from
  (`--workers: invalid int value 'x'`).
- `Kind.HOOK` settings (server hooks such as `on_starting`) hold callables; they are accepted
  from the config file only and have neither an option nor an environment variable.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

ENV_PREFIX = "HERDER_"


class Section(enum.Enum):
    """Where a setting is listed in `--help` and in the reference, in this order."""

    SERVER_SOCKET = "Server socket"
    WORKER_PROCESSES = "Worker processes"
    SERVER_MECHANICS = "Server mechanics"
    LOGGING = "Logging"
    PROCESS_NAMING = "Process naming"
    SECURITY = "Security (limits)"
    DEBUGGING = "Debugging"
    SERVER_HOOKS = "Server hooks"


class Kind(enum.Enum):
    """How a setting appears on the command line."""

    VALUE = "value"  # `--flag VALUE`
    REPEATED = "repeated"  # `--flag VALUE`, repeatable; the values form a list
    SWITCH_ON = "switch on"  # `--flag` sets True
    SWITCH_OFF = "switch off"  # `--no-flag` sets False
    POSITIONAL = "positional"  # a positional argument
    HOOK = "hook"  # a callable: config file only, no option, no environment variable


@dataclass(frozen=True, slots=True)
class DynamicDefault(Generic[T]):
    """A default computed when the configuration is loaded (the current directory, euid)."""

    factory: Callable[[], T]
    doc: str  # how the reference describes it, e.g. "the current directory"


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One setting: name, option, environment variable, default, validator and doc."""

    name: str
    section: Section
    kind: Kind
    flags: tuple[str, ...]  # option strings, e.g. ("-w", "--workers"); () for none
    validate: Callable[[Any], T]  # raw -> typed value; raises ValueError/TypeError
    default: T | DynamicDefault[T]
    doc: str  # the first sentence doubles as the `--help` line
    meta: str | None = None  # argparse metavar, e.g. "INT"
    default_env: str | None = None  # a foreign variable that overrides the default
    in_file: bool = True  # whether a config file may set it (`config` itself may not)
    render: Callable[[T], object] | None = None  # the config-file form, for print/docs

    @property
    def env_var(self) -> str | None:
        """`HERDER_<NAME>`, or None for hooks (config file only)."""
        if self.kind is Kind.HOOK:
            return None
        return ENV_PREFIX + self.name.upper()

    @property
    def label(self) -> str:
        """How error messages name the command-line source: the long option."""
        if self.kind is Kind.POSITIONAL:
            return self.meta or self.name.upper()
        long_flags = [flag for flag in self.flags if flag.startswith("--")]
        return (long_flags or list(self.flags) or [self.name])[0]

    def initial(self) -> T:
        """The default value (computed now for a dynamic default)."""
        if isinstance(self.default, DynamicDefault):
            return self.default.factory()
        return copy.copy(self.default)  # a fresh list per load: values are never shared

    def plain(self, value: T) -> object:
        """The value as one would write it in a config file (`Bind` -> "host:port")."""
        return value if self.render is None else self.render(value)

    def default_text(self) -> str:
        """The default as the reference and `--help` show it."""
        if isinstance(self.default, DynamicDefault):
            text = self.default.doc
        else:
            text = f"`{self.plain(self.default)!r}`"
        if self.default_env is not None:
            text += f", or `${self.default_env}` when set"
        return text

    def summary(self) -> str:
        """The first sentence of the doc, for `--help`."""
        first, _, _ = self.doc.partition(". ")
        return first.rstrip(".") + "."
