"""The root of herder's errors and the exit codes the master and workers agree on.

Every error herder raises on purpose derives from `HerderError`. Process failures map to exit
codes so the master can tell "stop, this will never work" from "respawn".
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit statuses of herder processes (workers and master)."""

    OK = 0
    FAILURE = 1
    USAGE = 2  # bad command line or setting value
    WORKER_BOOT_ERROR = 3  # a worker could not set itself up: the master stops
    APP_LOAD_ERROR = 4  # the application failed to import: the master stops


class HerderError(Exception):
    """The root of every error herder raises on purpose."""


class ConfigError(HerderError):
    """A setting has a bad value; the message names the setting."""


class AppImportError(HerderError):
    """The WSGI application named on the command line could not be loaded."""
