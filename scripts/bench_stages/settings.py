"""What the stages run with, in one place: the stage list, the benchmarks and their budgets (`scale`), the student's
shape, every ENGINE setting a stage trains (`EnergySetting`s), how stages decode (`CONFIRM_TEST`,
`STILL_DECODING`, `RESCORING_BEAMS`, `LENGTH_*`), and which stages the later checks read (`*_STAGES`)."""

from __future__ import annotations

from dataclasses import dataclass

# In the order `make bench-all` runs them (`make bench`: the items alone, BENCH_STAGES in the Makefile): both
# CMLMs before `start_choice`, which picks the better on dev for ENGINE and its control (the issue's "initialised from
# the better CMLM"), then the most informative first, table2 late.
STAGES = ["teacher", "distill", "cmlm_kd", "cmlm_ref", "start_choice", "engine", "control", "examples",
          "sweep", "lengths", "cmlm_long", "gain", "table2", "engine_selected", "confirm", "ranking", "budget",
          "unfrozen", "rescoring", "descent", "sharp", "sharper", "distill_ui", "cmlm_more", "stronger", "stronger_sx", "slow_control",
          "decay_control", "distill_wide", "cmlm_wide", "wide_sx", "wide_decay_control", "lengths_strong",
          "rescoring_strong", "length_choice", "still_encoder", "still_confirm", "still_main", "still_sharp", "still_seeds",
          "still_long", "still_long_seeds", "still_rebuilt", "still_long_sharp", "still_rebuilt_sharp", "output_chars",
          "still_budget", "distill_all", "still_more", "still_more_sharp", "still_more_decay", "still_more_slow",
          "still_most", "still_most_sharp", "still_most_decay", "still_most_slow", "still_most_budget",
          "still_most_budget_seeds", "still_most_fast", "still_most_fast_budget", "still_max", "still_max_sharp",
          "still_max_decay", "still_max_slow", "still_max_budget", "still_max_long", "still_peak", "still_peak_budget",
          "still_peak_pure", "still_peak_decay", "still_peak_pure_fast", "still_peak_pure_faster",
          "still_peak_pure_long", "still_max_pure_fast", "significance", "lengths_targets",
          "still_peak_pure_predicted", "examples_targets", "rescoring_targets", "still_long_pure_fast",
          "still_further_pure_fast"]


@dataclass(frozen=True)
class EnergySetting:
    """One ENGINE run's knobs beyond the shared budget: learning rate, weight of the CE term, the operator O1, and the
    lengths the energy is taken at (the references', or the student's own predicted ones)."""

    learning_rate: float
    ce_weight: float
    o1: str = "sx"
    o1_temperature: float = 1.0
    energy_length: str = "oracle"

    @property
    def key(self) -> str:
        """Its row name in the results (the rows keep the names they had before O1 and the lengths were knobs)."""
        o1 = "" if self.o1 == "sx" else f"O1 {self.o1.upper()}, "
        o1 += "" if self.o1_temperature == 1 else f"O1 temperature {self.o1_temperature:g}, "
        lengths = "" if self.energy_length == "oracle" else f", {self.energy_length} lengths"
        return f"engine ({o1}lr {self.learning_rate:g}, ce_weight {self.ce_weight:g}{lengths})"

    @property
    def folder(self) -> str:
        return (f"lr{self.learning_rate:g}-ce{self.ce_weight:g}" + ("" if self.o1 == "sx" else f"-{self.o1}")
                + ("" if self.o1_temperature == 1 else f"-t{self.o1_temperature:g}")
                + ("" if self.energy_length == "oracle" else f"-{self.energy_length}"))


# The `engine` stage's setting (O2 = ST throughout).
ENGINE = EnergySetting(1e-5, 1.0)
# The sweep's ENGINE settings, most telling first. At the control's learning rate with the CE term (weight 1, then 4:
# does adding the energy to CE help?), then the pure energy at small rates (the field notes saw BLEU fall at 3e-5
# from a weak student), then O1 = STL (the teacher reads the argmax tokens; the only O1 that kept chrF in Table 2).
SWEEP = [EnergySetting(1e-4, 1.0), EnergySetting(1e-4, 4.0), EnergySetting(3e-5, 0.0), EnergySetting(1e-5, 0.0),
         EnergySetting(1e-5, 0.0, "stl"), EnergySetting(3e-5, 0.0, "stl")]
# The `sharp` stage: the `engine` setting with O1 reading z / 0.25. Chosen before any test run, from a first look on
# 64 dev labels: gradient descent on cmlm_long's logits (60 Adam steps, lr 0.05) took the discrete energy from 5.32
# to 3.54 / 3.64 / 3.38 and chrF from 47.0 to 48.7 / 50.7 / 53.7 at O1 temperature 1 / 0.5 / 0.25.
SHARP = EnergySetting(1e-5, 1.0, o1_temperature=0.25)
# The `sharper` stage: the same at 0.1, the next step down, chosen after sharp's test results (an exploration).
SHARPER = EnergySetting(1e-5, 1.0, o1_temperature=0.1)
# The `still_most_fast` stage: the sharp setting at 3x the learning rate, chosen after `still_most_budget_seeds`.
SHARP_FAST = EnergySetting(3e-5, 1.0, o1_temperature=0.25)
# The `still_peak_pure` stage: the sharp setting without the CE term (the paper's pure energy), chosen after
# `still_peak_budget`, the one knob the issue names that no still-encoder start had tried.
SHARP_PURE = EnergySetting(1e-5, 0.0, o1_temperature=0.25)
# The `still_peak_pure_fast` stage: the same at 3x the lr (`SHARP_FAST`'s), chosen after `still_peak_pure` showed no hacking.
SHARP_PURE_FAST = EnergySetting(3e-5, 0.0, o1_temperature=0.25)
# The `still_peak_pure_faster` stage: the same at 10x the lr, the rate that took a weak student to 0.2 BLEU in the
# field notes (section 6), chosen after `still_peak_pure_fast`'s seed 2 rose with no hacking.
SHARP_PURE_FASTER = EnergySetting(1e-4, 0.0, o1_temperature=0.25)
# The `still_peak_pure_predicted` stage: `SHARP_PURE_FAST` with the energy taken at the student's predicted lengths,
# chosen after `lengths_targets` found ENGINE's rise to be mostly at the predicted lengths.
SHARP_PURE_PREDICTED = EnergySetting(3e-5, 0.0, o1_temperature=0.25, energy_length="predicted")
# The `descent` stage's searches: (O1, O1 temperature), O2 = ST; Adam on the logits, learning rate and checkpoints.
DESCENT = (("sx", 1.0), ("sx", 0.25), ("stl", 1.0))
DESCENT_LEARNING_RATE, DESCENT_STEPS = 0.05, (0, 15, 30, 60)
# How confirm and sharp score their pairs: the test set, one iteration, length beam 3 (and 10 iterations too).
CONFIRM_TEST = dict(corpora=("libreoffice",), num_iterations=1, length_beam=3)
# The matched-pair stages whose ENGINE, control and start `output_chars` counts, where their models are on disk.
OUTPUT_CHARS_STAGES = ("still_long_seeds", "still_rebuilt", "still_long_sharp", "still_rebuilt_sharp")
# The significance stage's curves: the targets table's (the strongest start's pre-registered setting, and the settings
# found after the fact), with the pre-registered setting from the start before for comparison.
SIGNIFICANCE_STAGES = ("still_max_budget", "still_peak_budget", "still_peak_pure_fast", "still_max_pure_fast",
                       "still_peak_pure_predicted")
# The examples_targets stage's students: the setting found after the fact from the strongest start, at the reference
# lengths (the paper's energy).
EXAMPLES_STAGE = "still_peak_pure_fast"
# The rescoring_targets stage: the seeds of the targets table's curves (the headline setting first, then the rest,
# added after its results), at one pass and these length beams, the candidate chosen by the student and by the teacher.
RESCORING_TARGETS = ("still_peak_pure_fast",) + tuple(s for s in SIGNIFICANCE_STAGES if s != "still_peak_pure_fast")
RESCORING_TARGETS_BEAMS = (3, 5)
# The length_choice stage: the teacher picks among the student's 5 likeliest lengths after one pass (rescoring's
# best beam on labels), and the head is refitted by Adam over the training sources' encoder summaries; scored on the
# help test slice.
LENGTH_FIT = {"choice": dict(length_beam=5, num_iterations=1),
              "fit": dict(epochs=20, learning_rate=1e-3, batch_size=256, seed=0)}
LENGTH_TEST = dict(corpora=("libreoffice",))
# How the two CMLMs compete for ENGINE's start (`start_choice`): on dev, at one pass with the CMLM rows' length beam.
START_CHOICE_DECODING = dict(split="validation", corpora=("libreoffice",), num_iterations=1, length_beam=5)
# The still_encoder stage's decodings of each model: (iterations, length beam).
STILL_DECODING = ((1, 1), (1, 3), (1, 5), (10, 3))
# Length beams of the rescoring stage: 1 has nothing to choose; the teacher's pick kept improving from 3 to 5.
RESCORING_BEAMS = (1, 3, 5, 10)
# The student's decoder; its encoder is the teacher's, copied and frozen (`CMLMForConditionalGeneration.from_teacher`).
STUDENT_DECODER = ("decoder_layers=3,decoder_attention_heads=4,decoder_ffn_dim=1024,"
                   "length_prediction=mean_pool,max_source_positions=128,max_target_positions=64,dropout=0.1")


@dataclass(frozen=True)
class Benchmark:
    """What differs between benchmarks A and B: the direction, the teacher, the test corpora, where things go."""

    name: str
    src: str
    tgt: str
    test_corpora: tuple[str, ...]
    student_config: str
    runs_name: str  # runs/<runs_name>[-quick]
    results_prefix: str  # results/<results_prefix><stage>[_quick].json
    own_teacher: bool  # B: the MarianMT of scripts/train_teacher.py; A: the converted Firefox model
    stages: tuple[str, ...]  # what a plain run does
    # Keep only the LibreOffice help pairs whose reference target has at most this many words, in every split.
    max_target_words: int | None = None
    # The curves stages whose seeds the significance stage tests (A: the targets table's; labels: the transfer).
    # lengths_targets, examples_targets and rescoring_targets run on A only and read SIGNIFICANCE_STAGES itself.
    significance_stages: tuple[str, ...] = ()


BENCHMARKS = {
    "a": Benchmark("a", "en", "pt", ("libreoffice", "bible"), "encoder_layers=6," + STUDENT_DECODER, "bench", "bench_",
                   own_teacher=False,
                   stages=tuple(stage for stage in STAGES
                                if stage not in ("confirm", "budget", "unfrozen", "descent", "sharp", "sharper",
                                                 "distill_ui", "cmlm_more", "stronger", "stronger_sx",
                                                 "slow_control", "decay_control", "distill_wide", "cmlm_wide",
                                                 "wide_sx", "wide_decay_control", "lengths_strong",
                                                 "rescoring_strong", "length_choice", "still_encoder",
                                                 "still_confirm", "still_long_pure_fast",
                                                 "still_further_pure_fast")),
                   significance_stages=SIGNIFICANCE_STAGES),
    # B: the items 1-6, then confirm, ranking, budget, unfrozen and rescoring (the analyses sweep, lengths,
    # cmlm_long and gain ran on A and short).
    "b": Benchmark("b", "de", "en", ("libreoffice",), STUDENT_DECODER, "bench-b", "bench_b_", own_teacher=True,
                   stages=("teacher", "distill", "cmlm_kd", "cmlm_ref", "start_choice", "engine", "control", "examples",
                           "table2", "engine_selected", "confirm", "ranking", "budget", "unfrozen", "rescoring")),
    # A on short help segments (reference target <= 8 words: 44% of train, 240 of 446 test pairs): an easier task
    # on which a CPU-trained CMLM starts far stronger, to test the claim that the energy guides well only near good
    # outputs. Its numbers are on its own test slice and compare with nothing but each other.
    "short": Benchmark("short", "en", "pt", ("libreoffice",), "encoder_layers=6," + STUDENT_DECODER, "bench-short",
                       "bench_short_", own_teacher=False,
                       stages=("teacher", "distill", "cmlm_kd", "engine", "control", "cmlm_long", "gain", "sweep",
                               "lengths", "confirm", "engine_selected", "ranking", "unfrozen", "rescoring"),
                       max_target_words=8),
    # A on help segments of at most 4 target words (headings, menu and dialog names: 26% of train, 145 of 446 test
    # pairs): easier still, so the gain plot gets a start far above short's 5-12 BLEU. Same student, same budgets.
    "labels": Benchmark("labels", "en", "pt", ("libreoffice",), "encoder_layers=6," + STUDENT_DECODER, "bench-labels",
                        "bench_labels_", own_teacher=False,
                        stages=("teacher", "distill", "cmlm_kd", "engine", "control", "cmlm_long", "gain", "ranking",
                                "confirm", "rescoring", "descent", "sharp", "budget", "sharper", "distill_ui",
                                "cmlm_more", "stronger", "stronger_sx", "slow_control", "decay_control",
                                "distill_wide", "cmlm_wide", "wide_sx", "wide_decay_control", "lengths_strong",
                                "rescoring_strong", "length_choice", "still_encoder", "still_confirm",
                                "still_long_pure_fast", "still_further_pure_fast", "significance"),
                        max_target_words=4, significance_stages=("still_long_pure_fast", "still_further_pure_fast")),
}


def scale(quick: bool) -> dict:
    """Budgets of the two modes. Full: sized for about 3 hours of 2 CPU cores in all."""
    if quick:
        return dict(cmlm_steps=30, energy_steps=6, logging_steps=2, table2_steps=2, table2_learning_rate=1e-5, distill_sources=96, distill_beams=4,
                    eval_sentences=32, batch_size=16, checkpoint_every=15, long_steps=30, long_checkpoint_every=15,
                    confirm_seeds=(0,), ui_sources=96, more_steps=30)
    # Measured on 2 cores: a CE step ~0.8 s, an energy step ~2 s (batch 48); 10-iteration decoding with length
    # beam 5 ~0.3 s/sentence. table2: 25 short runs, so a larger learning rate than ENGINE's main run for the
    # argmax to move at all.
    # Distillation is greedy at full scale: beam 4 ran at 6 sentences/s here (33 min for 12k sources) for +0.7 BLEU.
    # cmlm_long: cmlm_kd's loss was still falling fast when its schedule ended (3.5 at step 2000), so 3000 more
    # steps (~35 min) give the gain plot a stronger start; its mid-way checkpoint is one more point.
    # cmlm_more (labels): cmlm_long trained 6000 more steps (~40 min) on the help and UI distilled sources together.
    return dict(cmlm_steps=2000, energy_steps=200, logging_steps=25, table2_steps=16, table2_learning_rate=5e-5, distill_sources=12000,
                distill_beams=1, eval_sentences=200, batch_size=48, checkpoint_every=1000, long_steps=3000,
                long_checkpoint_every=1500, confirm_seeds=(0, 1, 2), ui_sources=None, more_steps=6000)

