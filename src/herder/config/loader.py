"""Load a `Config`: defaults < config file < `HERDER_*` environment < command line.

Rules:
- Every value passes its setting's validator, whatever its source; a bad value raises
  `ConfigError` naming the setting and the source: `--workers: invalid int value 'x'`,
  `HERDER_WORKERS: ...`, `/etc/herder.conf.py: workers: ...`.
- Some defaults come from foreign variables (`WEB_CONCURRENCY`, `SCRIPT_NAME`), as in
  Gunicorn; they sit between the static default and the config file.
- The config file is `-c`, else `$HERDER_CONFIG`, else `./herder.conf.py` if it exists. It is
  Python executed in a fresh namespace: names that are settings are taken, others ignored.
- Repeatable options (`--bind`, `--env`) are comma-separated in the environment.
- The argparse parser is generated from the declarations; `--help` and `--version` print and
  raise `CommandLineExit` (the CLI returns its status) instead of exiting the process.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from herder import __version__
from herder.config.fields import Kind, Section, Setting
from herder.config.settings import DEFAULT_CONFIG_FILE, SETTINGS
from herder.config.values import Config
from herder.errors import ConfigError, HerderError

DEFAULT_SOURCE = "default"


class CommandLineExit(HerderError):
    """`--help` or `--version` was given and printed: exit with `status`, no error."""

    def __init__(self, status: int) -> None:
        super().__init__(f"exit {status}")
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main()` decides what the process does."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise ConfigError(message.strip())
        raise CommandLineExit(status)


def build_parser(
    settings: Sequence[Setting[Any]] = SETTINGS,
) -> argparse.ArgumentParser:
    """The command-line parser: one option per setting, grouped by section."""
    parser = _Parser(
        prog="herder",
        description="herder: a prefork WSGI application server.",
        argument_default=argparse.SUPPRESS,  # only options actually given reach the loader
        allow_abbrev=False,  # `--work` must not silently mean `--workers`
    )
    parser.add_argument("--version", action="version", version=f"herder {__version__}")
    groups = {section: parser.add_argument_group(section.value) for section in Section}
    for setting in settings:
        _add_option(groups[setting.section], setting)
    return parser


def _add_option(group: argparse._ArgumentGroup, setting: Setting[Any]) -> None:
    text = f"{setting.summary()} [{setting.default_text()}]".replace("`", "")
    help_text = text.replace("%", "%%")  # argparse expands %-placeholders in help
    match setting.kind:
        case Kind.POSITIONAL:
            group.add_argument(setting.name, nargs="?", metavar=setting.meta, help=help_text)
        case Kind.VALUE:
            group.add_argument(
                *setting.flags, dest=setting.name, metavar=setting.meta, help=help_text
            )
        case Kind.REPEATED:
            group.add_argument(
                *setting.flags,
                dest=setting.name,
                action="append",
                metavar=setting.meta,
                help=help_text,
            )
        case Kind.SWITCH_ON | Kind.SWITCH_OFF:
            action = "store_true" if setting.kind is Kind.SWITCH_ON else "store_false"
            group.add_argument(*setting.flags, dest=setting.name, action=action, help=help_text)
        case Kind.HOOK:
            pass  # config file only


def load_config(
    argv: Sequence[str],
    environ: Mapping[str, str],
    settings: Sequence[Setting[Any]] = SETTINGS,
) -> Config:
    """Parse the command line and merge every source; raises ConfigError on a bad value."""
    given: dict[str, Any] = vars(build_parser(settings).parse_args(list(argv)))
    layers = _Layers(settings)
    layers.apply_default_env(environ)
    config_file = layers.resolve_config_file(given, environ)
    if config_file is not None:
        layers.apply_file(config_file, read_config_file(config_file))
    layers.apply_env(environ)
    layers.apply_command_line(given)
    return Config(layers.values, layers.sources)


def read_config_file(path: str) -> dict[str, Any]:
    """Execute a Python config file in a fresh namespace and return that namespace."""
    namespace: dict[str, Any] = {"__file__": path, "__name__": "__config__"}
    try:
        with open(path, "rb") as file:
            code = compile(file.read(), path, "exec")
        exec(code, namespace)  # the config file is trusted code, as in Gunicorn
    except Exception as exc:
        raise ConfigError(f"config file {path!r} failed: {type(exc).__name__}: {exc}") from exc
    return namespace


class _Layers:
    """The values being merged, each with the source that set it last."""

    def __init__(self, settings: Sequence[Setting[Any]]) -> None:
        self.settings = {setting.name: setting for setting in settings}
        self.values: dict[str, Any] = {s.name: s.initial() for s in settings}
        self.sources: dict[str, str] = dict.fromkeys(self.settings, DEFAULT_SOURCE)

    def assign(self, setting: Setting[Any], raw: object, source: str, label: str) -> None:
        try:
            self.values[setting.name] = setting.validate(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{label}: {exc}") from None
        self.sources[setting.name] = source

    def apply_default_env(self, environ: Mapping[str, str]) -> None:
        for setting in self.settings.values():
            name = setting.default_env
            if name is not None and name in environ:
                self.assign(setting, environ[name], name, name)

    def resolve_config_file(
        self, given: Mapping[str, Any], environ: Mapping[str, str]
    ) -> str | None:
        """`-c`, `$HERDER_CONFIG` or `./herder.conf.py`, validated; None when there is none."""
        setting = self.settings.get("config")
        if setting is None:
            return None
        if "config" in given:
            self.assign(setting, given["config"], setting.label, setting.label)
        elif setting.env_var is not None and setting.env_var in environ:
            self.assign(setting, environ[setting.env_var], setting.env_var, setting.env_var)
        elif os.path.isfile(DEFAULT_CONFIG_FILE):
            self.assign(setting, DEFAULT_CONFIG_FILE, DEFAULT_SOURCE, DEFAULT_CONFIG_FILE)
        value: str | None = self.values["config"]
        return value

    def apply_file(self, path: str, namespace: Mapping[str, Any]) -> None:
        for name, raw in namespace.items():
            setting = self.settings.get(name)
            if setting is not None and setting.in_file:
                self.assign(setting, raw, path, f"{path}: {name}")

    def apply_env(self, environ: Mapping[str, str]) -> None:
        for setting in self.settings.values():
            name = setting.env_var
            if name is None or name not in environ:
                continue
            raw: object = environ[name]
            if setting.kind is Kind.REPEATED:
                raw = [item.strip() for item in environ[name].split(",") if item.strip()]
            self.assign(setting, raw, name, name)

    def apply_command_line(self, given: Mapping[str, Any]) -> None:
        for name, raw in given.items():
            setting = self.settings[name]
            self.assign(setting, raw, setting.label, setting.label)
