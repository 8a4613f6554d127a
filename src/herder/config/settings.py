"""Every setting herder has, in reference order: the declarations of `sections/` combined.

To add a setting, declare it in the module of its section and annotate its type on `Config`
(`values.py`); the option, the environment variable, the config-file name, validation and the
reference (`docs/settings.md`, regenerated with `python -m herder.config.docs`) follow.
"""

from __future__ import annotations

from typing import Any

from herder.config.fields import Section, Setting
from herder.config.sections import (
    concurrency,
    lifecycle,
    logging,
    mechanics,
    parsing,
    proxying,
    security,
    server,
)

BUILTIN_WORKERS = server.BUILTIN_WORKERS
DEFAULT_CONFIG_FILE = mechanics.DEFAULT_CONFIG_FILE


def _in_reference_order(*groups: tuple[Setting[Any], ...]) -> tuple[Setting[Any], ...]:
    """Sections in `Section` order; declaration order within a section. Names are unique."""
    order = list(Section)
    combined = sorted((s for group in groups for s in group), key=lambda s: order.index(s.section))
    names = [setting.name for setting in combined]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RuntimeError(f"settings declared twice: {', '.join(duplicates)}")
    return tuple(combined)


SETTINGS: tuple[Setting[Any], ...] = _in_reference_order(
    server.SETTINGS,
    concurrency.SETTINGS,
    mechanics.SETTINGS,
    parsing.SETTINGS,
    logging.SETTINGS,
    security.SETTINGS,
    proxying.SETTINGS,
    lifecycle.SETTINGS,
)
SETTINGS_BY_NAME: dict[str, Setting[Any]] = {setting.name: setting for setting in SETTINGS}
