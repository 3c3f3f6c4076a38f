"""What a stage costs: its whole wall time over every process that ran it (`StageClocks`), recorded in its results
JSON as `stage_seconds`, `stage_processes` and, where earlier work was kept untimed, `stage_seconds_lower_bound`.

Why a clock of its own: the training times the stages record leave out evaluation, loading and distillation, so
only this sums to what a run of `make bench` costs; and a stage killed and resumed (every stage is resumable) would
otherwise be timed over its last process alone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


class StageClock(NamedTuple):
    """A stage being timed: when this process started it, and what its earlier, interrupted processes recorded."""

    started: float
    seconds: float
    processes: int
    lower_bound: bool  # earlier work was kept untimed


class StageClocks:
    """The stages one `bench.py` process is timing, with a clock file per stage in `folder` (under runs/: it belongs
    with the checkpoints it times), written at each start and beside every checkpoint a training resumes from.

    A stage resumed after an interruption goes on from the seconds and processes recorded by the process before it,
    in its partial results (a stage of many short runs rewrites them after each run) or in its clock file, whichever
    is further on. So a stage run in several processes is timed over all of them, less what each interrupted one did
    after its last record, which the next one does again. Where earlier work was kept untimed, the time is marked a
    lower bound: a distillation killed midway (it keeps its finished batches: `mark_unrecorded_work`), a partial
    record written before stages were timed, an unreadable clock file, or `--force` over a finished record (the
    stages keep finished runs and checkpoints, so a forced stage may redo only part of its work). A stage started
    over by hand should have its clock file deleted with its runs.
    """

    def __init__(self, folder: Path, results: Callable[[str], dict]) -> None:
        self.folder = folder
        self.results = results  # a stage's results JSON as it stands ({} where none)
        self.running: dict[str, StageClock] = {}
        self.found: dict[str, str | None] = {}  # each running stage's clock file as this process found it

    def path(self, stage: str) -> Path:
        return self.folder / f"{stage}.json"

    def start(self, stage: str) -> None:
        """Start timing `stage`, from where its earlier processes' records left off."""
        result = self.results(stage)
        partial = result if result.get("partial") and "stage_seconds" in result else {}
        earlier = max((partial, self.read(stage)), key=lambda record: record.get("stage_seconds", -1.0))
        if earlier:
            clock = StageClock(time.monotonic(), earlier["stage_seconds"], earlier.get("stage_processes", 1),
                               bool(earlier.get("stage_seconds_lower_bound") or earlier.get("unrecorded_work")))
        else:  # a record without times (older, or forced over) leaves earlier work untimed
            clock = StageClock(time.monotonic(), 0.0, int(bool(result.get("partial"))), lower_bound=bool(result))
        self.running[stage] = clock
        self.found[stage] = self.path(stage).read_text() if self.path(stage).exists() else None
        self.save(stage)

    def read(self, stage: str) -> dict:
        """A stage's clock file; an unreadable one (a process killed while writing it) as a lower bound at 0 s."""
        if not self.path(stage).exists():
            return {}
        try:
            return json.loads(self.path(stage).read_text())
        except json.JSONDecodeError:
            return {"stage_seconds": 0.0, "stage_processes": 1, "stage_seconds_lower_bound": True}

    def fields(self, stage: str) -> dict:
        """`stage_seconds` and `stage_processes` so far (and `stage_seconds_lower_bound` where earlier work went
        untimed), for a stage this process is timing; nothing for any other."""
        if stage not in self.running:
            return {}
        clock = self.running[stage]
        fields = {"stage_seconds": clock.seconds + time.monotonic() - clock.started, "stage_processes": clock.processes + 1}
        return {**fields, "stage_seconds_lower_bound": True} if clock.lower_bound else fields

    def save(self, stage: str | None = None, unrecorded_work: bool = False) -> None:
        """Record the seconds so far of `stage` (default: every stage being timed) in its clock file, atomically;
        `records.OnSave` calls this beside each training checkpoint. `unrecorded_work`: what follows is kept without
        a record (`mark_unrecorded_work`)."""
        for name in [stage] if stage else list(self.running):
            self.folder.mkdir(parents=True, exist_ok=True)
            written = self.path(name).with_suffix(".tmp")
            written.write_text(json.dumps({**self.fields(name), "unrecorded_work": unrecorded_work}))
            os.replace(written, self.path(name))

    def mark_unrecorded_work(self) -> None:
        """Say that the work that follows (a distillation, which keeps its finished batches) is kept with no record
        of its time: if the process dies before the next record, the stage's time becomes a lower bound."""
        self.save(unrecorded_work=True)

    def abandon(self, stage: str) -> None:
        """Put a stage's clock file back as this process found it: for a stage that stopped at a check (a missing
        model, an unfinished earlier stage) before doing any work, so that stopping is not counted as a process."""
        found = self.found.pop(stage, None)
        self.running.pop(stage, None)
        if found is None:
            self.path(stage).unlink(missing_ok=True)
        else:
            self.path(stage).write_text(found)

    def finish(self, stage: str) -> None:
        """Stop timing a stage whose final results hold its time (`BenchBase.record_stage_seconds`)."""
        self.running.pop(stage, None)
        self.found.pop(stage, None)
        self.path(stage).unlink(missing_ok=True)
