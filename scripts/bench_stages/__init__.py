"""The stages of `scripts/bench.py`, one module per line of work, assembled into one `Bench`.

Layers, each a class the next extends: `BenchBase` (results, teacher, data, evaluation, the two trainings),
`Recipes` (the shared starts and corpora, and `--rebuild`), `Comparisons` (ENGINE against cross-entropy at the same
wall time). The stages themselves are methods `stage_<name>` of five mixins, in the order the work went:
`PaperStages` (the issue's items), `FirstRecipeStages`, `LabelsStages`, `StillStages`, `TargetStages`.
`settings` holds the stage list, the benchmarks, their budgets and every ENGINE setting; `records` what the stages
record beside scores.
"""

from __future__ import annotations

from .first_recipe import FirstRecipeStages
from .labels import LabelsStages
from .paper import PaperStages
from .records import (
    LogHistory,
    SaveAtSeconds,
    corpus_digest,
    dev_curve,
    pairwise_agreement,
    pooled_agreement,
    training_log,
    weights_digest,
)
from .settings import BENCHMARKS, STAGES, Benchmark, EnergySetting
from .still import StillStages
from .targets import TargetStages


class Bench(PaperStages, FirstRecipeStages, LabelsStages, StillStages, TargetStages):
    """One benchmark (`--benchmark`, `--quick`) with every stage: `getattr(bench, f"stage_{name}")()` runs one."""


__all__ = ["BENCHMARKS", "STAGES", "Bench", "Benchmark", "EnergySetting", "LogHistory", "SaveAtSeconds",
           "corpus_digest", "dev_curve", "pairwise_agreement", "pooled_agreement", "training_log", "weights_digest"]
