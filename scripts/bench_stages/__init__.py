"""The stages of `scripts/bench.py`, one module per line of work, assembled into one `Bench`.

Layers, each a class the next extends: `BenchBase` (results, teacher, data, evaluation, the two trainings),
`Recipes` (the shared starts and corpora, and `--rebuild`), `Comparisons` (ENGINE against cross-entropy at the same
compute). The stages themselves are methods `stage_<name>` of five mixins, by line of work: `ReplicationStages` (the
paper's pipeline at small scale), `FirstRecipeStages`, `LabelsStages`, `StillEncoderStages`, `TargetStages`
(scripts/bench.py's `--help` lists which stage is where). `settings` holds the stage list, the benchmarks, their
budgets and every ENGINE and decoding setting; `records` what the stages record beside scores. The records helpers
are re-exported here for the tests.
"""

from __future__ import annotations

from .first_recipe import FirstRecipeStages
from .labels import LabelsStages
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
from .replication import ReplicationStages
from .settings import BENCHMARKS, STAGES, Benchmark, EnergySetting
from .still_encoder import StillEncoderStages
from .targets import TargetStages


class Bench(ReplicationStages, FirstRecipeStages, LabelsStages, StillEncoderStages, TargetStages):
    """One benchmark (`--benchmark`, `--quick`) with every stage: `getattr(bench, f"stage_{name}")()` runs one."""


__all__ = ["BENCHMARKS", "STAGES", "Bench", "Benchmark", "EnergySetting", "LogHistory", "SaveAtSeconds",
           "corpus_digest", "dev_curve", "pairwise_agreement", "pooled_agreement", "training_log", "weights_digest"]
