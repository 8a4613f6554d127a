"""A rollout: a new set of workers replacing old ones only once every new one has booted.

Used for `HUP` and `--reload` (every worker, with the configuration just re-read) and for
graceful recycling (one worker: `--max-requests`, `--max-worker-memory`,
`--max-worker-lifetime`, a harakiri). The old workers keep serving while the new ones boot;
when the last new worker has booted (its heartbeat slot is non-zero) the old ones are retired
gracefully. If a new worker exits first, or they are not all booted within `--boot-timeout`,
the rollout fails: the new workers are stopped and the old ones go on serving.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from herder.config import Config
    from herder.master.workers import WorkerRecord, WorkerTable
    from herder.wsgi import WSGIApplication


class Outcome(Enum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class Rollout:
    reason: str  # "reload" or "recycle"
    old: list[WorkerRecord]
    new: dict[int, WorkerRecord]
    deadline: float
    previous_cfg: Config | None = None  # restored when a reload fails
    previous_app: WSGIApplication | None = None  # the preloaded app, restored likewise
    failure: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def is_reload(self) -> bool:
        return self.reason == "reload"

    def check(self, table: WorkerTable, now: float) -> Outcome:
        """DONE once every new worker booted; FAILED past the deadline or after `fail`."""
        if self.failure:
            return Outcome.FAILED
        if all(table.is_booted(record) for record in self.new.values()):
            return Outcome.DONE
        if now > self.deadline:
            self.failure = f"new workers did not boot within {self.deadline - self.started:g} s"
            return Outcome.FAILED
        return Outcome.PENDING

    def fail(self, why: str) -> None:
        if not self.failure:
            self.failure = why

    def finish(self, table: WorkerTable) -> None:
        """Success: retire the old workers (they finish their in-flight requests)."""
        for record in self.old:
            if record.pid in table.records and not record.retired:
                table.retire(record)

    def abandon(self, table: WorkerTable) -> None:
        """Failure: stop the new workers; the old ones serve on."""
        for record in self.new.values():
            if record.pid in table.records and not record.retired:
                table.retire(record)
