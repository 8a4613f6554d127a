"""Calling server hooks (`on_starting`, `pre_request`, ...) so that none can kill its caller.

Hooks are the user's code, run in the master or in a worker. A hook that raises is logged
with its traceback and the server goes on: a typo in `post_fork` must not take the service
down. `SystemExit` is let through (a hook may decide to stop a worker on purpose).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from herder.config.sections.lifecycle import HookDefault

if TYPE_CHECKING:
    from herder.config import Config


def run_hook(cfg: Config, log: logging.Logger, name: str, *args: object) -> None:
    """Call hook `name` with `args`; an exception is logged, not raised."""
    hook = getattr(cfg, name)
    try:
        hook(*args)
    except Exception:
        log.exception("Exception in hook %s", name)


def is_default_hook(hook: object) -> bool:
    """True for a hook the configuration left at its no-op default."""
    return isinstance(hook, HookDefault)
