"""`make bench-all` (and `make bench`, the issue's items alone): the paper's findings at small scale, stage by stage, each
resumable and writing results/*.json.

Four benchmarks (`--benchmark a|b|short|labels`), each running its own list of the stages below (`BENCHMARKS`):
  A  EN->PT, teacher = the converted Firefox Translations model; LibreOffice help + a Bible test set (second domain).
     Runs in runs/bench, writes results/bench_STAGE.json.
  B  DE->EN, teacher = the project's own MarianMT (scripts/train_teacher.py); LibreOffice help.
     Runs in runs/bench-b, writes results/bench_b_STAGE.json.
  short  A restricted to help pairs whose reference has <= 8 words (every split): an easier task, so a stronger
     CMLM start for ENGINE. Runs in runs/bench-short, writes results/bench_short_STAGE.json.
  labels  the same with <= 4 words (headings, menu and dialog names): a stronger start still.
     Runs in runs/bench-labels, writes results/bench_labels_STAGE.json.

The stages:
  teacher      teacher greedy and beam 4 on the test sets
  distill      the teacher's translations of the training sources
  cmlm_kd      CMLM trained on the distilled outputs          (1 and 10 iterations, length beam 5)
  cmlm_ref     CMLM trained on references                     (1 and 10 iterations, length beam 5)
  start_choice the better of the two CMLMs by dev BLEU (1 iteration, length beam 5): ENGINE's and the control's start
  engine       ENGINE (O1=SX, O2=ST) from the better CMLM     (1 and 10 iterations, length beam 3)
  control      the same CMLM trained further with cross-entropy for ENGINE's wall time
  examples     the setup (corpus sizes, parameter counts) and side-by-side translations of a few test sentences
  sweep        ENGINE's learning rate, ce_weight and O1, scored on the dev set (never the test set), against the control
  lengths      why ENGINE's chrF falls: dev scores at predicted lengths against scores at the reference lengths
  cmlm_long    the distilled CMLM trained further with cross-entropy: a stronger starting point for ENGINE
  gain         ENGINE gain over the matched control against the starting CMLM's BLEU (cmlm_kd, cmlm_long checkpoints)
  table2       dev energy and BLEU for all 25 (O1, O2) pairs, oracle lengths, same init, same small budget
  engine_selected  the engine stage's run again, evaluated on the dev discrete energy every `logging_steps` and
               the best checkpoint kept (the paper's model selection); records the dev energy curve
  confirm      the sweep's best ENGINE setting (dev BLEU) on the test set, from cmlm_kd and cmlm_long, over seeds,
               each run with its own matched control (same seed, CE for the run's wall time)
  ranking      does the teacher's energy rank outputs the way the references do? Per test sentence: the energy of
               the reference and of each system's output, which of two outputs the energy prefers against which
               sentence chrF prefers, and the NAT outputs reranked by energy
  budget       the engine stage's run 4x longer, scored at each quarter, against one control run checkpointed at
               the same wall times: does ENGINE's gain over cross-entropy grow with compute?
  unfrozen     the engine and control stages again with the whole student training (the encoder and the tied
               embeddings / output layer too, frozen everywhere else): is the frozen output layer the limit?
  rescoring    the teacher at inference instead of in training: each NAT model's length candidates chosen by the
               teacher (`generate(rescoring_model=teacher)`) against by the student itself, 1 and 10 iterations,
               length beam 1, 3, 5 and 10
  descent      no training: the start CMLM's logits on the test set optimised directly (Adam, per sentence)
               against the teacher energy, O1 = SX at temperature 1 and 0.25 and O1 = STL: do the energy and the
               operators point towards better outputs at all, apart from a network learning to follow them?
  sharp        the engine stage's setting with O1 reading z / 0.25, and a matched control, over seeds, from
               cmlm_long and then cmlm_kd: does training with the sharper O1 follow where the descent stage went?
  sharper      the same at O1 temperature 0.1
  distill_ui   (labels) LibreOffice's UI strings of <= 4 words, not sources of the help, distilled: distilled-more
  cmlm_more    cmlm_long + 6000 CE steps on distilled-more: a stronger start
  stronger, stronger_sx  sharp's setting and the engine setting from cmlm_more, seeds and matched controls
  slow_control, decay_control  two more controls for each `stronger` run: CE at ENGINE's lr 1e-5, and CE from
               lr 1e-4 decaying to 0 over the first control's steps (a fresh short schedule)
  distill_wide (labels) help training pairs and UI strings of 5-8 words, distilled: distilled-wide
  cmlm_wide    cmlm_more + 6000 CE steps on distilled-wide: the next start on the gain-against-start curve
  wide_sx, wide_decay_control  the engine setting from cmlm_wide with its matched controls, and its decaying control
  lengths_strong  length head or tokens, from the strong starts: every model of the stages above on the test set at
               its predicted lengths and at the reference lengths
  rescoring_strong  `rescoring` for cmlm_more and cmlm_wide: their length candidates chosen by the teacher
  length_choice  the teacher's choice of length learnt by the length head (fitted on the training sources, encoder
               frozen), against the same head refitted to the training targets' lengths: rescoring's gain without a
               teacher at inference?
  still_encoder  (labels) cmlm_kd's and cmlm_long's recipes with the frozen encoder in eval mode (no dropout in it),
               beside the two trained with dropout in it, same seed: does that noise hold the students back?
  still_confirm  (labels) the engine setting from still_encoder's cmlm_long, seeds and matched controls, every run with
               the still encoder: does ENGINE gain over cross-entropy from a student trained without that noise?
  still_main   (A) the issue's items 3-5 again with the frozen encoder in eval mode throughout: cmlm_kd's recipe
               (cmlm_kd_still), the engine setting from it and its matched control, on both test corpora
  still_sharp  (A) sharp's setting (O1 reads z / 0.25) from still_main's cmlm_kd_still, seed 0, scored as still_main's
               rows and set beside its ENGINE and control: the one knob that moved ENGINE up on labels, on A
  still_seeds  (A) still_main's ENGINE-against-control pair from cmlm_kd_still again with seeds 1 and 2, each ENGINE run
               with its own matched control: is still_main's one-seed verdict a draw?
  still_long   (A) cmlm_long's recipe (3000 more CE steps, lr 3e-4 decaying) from still_main's cmlm_kd_still, the
               still encoder throughout: the stronger still-encoder start, scored as still_main's rows
  still_long_seeds  (A) the engine setting from still_long's cmlm_long_still, seeds 0-2, each run with its own matched
               control, every run with the still encoder: does a stronger start change ENGINE against cross-entropy?
  still_rebuilt  (A) cmlm_kd_still and cmlm_long_still trained again (runs/bench/rebuilt/; a rebuild is not
               bit-exact across machines), scored against the recorded starts, and still_long_seeds' seed 2 pair
               run from the rebuilt cmlm_long_still
  still_long_sharp  (A) sharp's setting (O1 reads z / 0.25) from cmlm_long_still, seeds 2, 0, 1, each with its own
               matched control: does a sharper O1 stop ENGINE trading content words for punctuation (output_chars)?
  still_rebuilt_sharp  (A) still_long_sharp's setting from still_rebuilt's cmlm_long_still, seeds 2, 0, 1, each with
               its matched control: does the sharp O1's edge hold from a second start, beside still_rebuilt's temperature-1 pair?
  output_chars  (A) where ENGINE's chrF goes: tokens, words, characters and BLEU's n-gram precisions of ENGINE,
               its matched control and its start, for the pairs of still_long_seeds, still_rebuilt,
               still_long_sharp and still_rebuilt_sharp still on disk
  still_budget (A) still_long_sharp's seed-2 run trained 800 steps, scored every 200, against one control run
               checkpointed at the same wall times: does ENGINE ever leave its start, and does the control catch it?
  distill_all  (A) the help training sources the distill stage left out (all after the first 12,000), distilled
               greedily and joined to distilled: distilled-all, every training source of the benchmark
  still_more   (A) cmlm_long_still + 3000 CE steps (lr 3e-4 decaying) on distilled-all, the still encoder: a start
               trained on 2.8x the sources, scored as still_long's rows
  still_more_sharp  (A) still_long_sharp's setting from still_more's cmlm_more_still, seeds 2, 0, 1, each with its
               matched control: does the sharp O1's edge grow, or ENGINE leave its start, from a stronger start?
  still_more_decay  (A) a CE control from cmlm_more_still for each still_more_sharp run: lr 1e-4 decaying to 0 over
               its matched control's steps (the jolt-free way to spend the same compute)
  still_more_slow  (A) the same at ENGINE's constant lr 1e-5 for the run's wall time
  still_most   (A) cmlm_more_still + 3000 more CE steps (the same schedule) on distilled-all: cmlm_most_still
  still_most_sharp  (A) still_more_sharp's setting and seeds from cmlm_most_still, each with its matched control
  still_most_decay  (A) still_more_decay's control from cmlm_most_still for each still_most_sharp run
  still_most_slow  (A) still_more_slow's control from cmlm_most_still for each still_most_sharp run
  still_most_budget  (A) still_most_sharp's seed-2 run trained 800 steps, scored every 200, against one control run
               at ENGINE's lr 1e-5 checkpointed at the same wall times: does the edge grow, or the control catch it?
  still_most_budget_seeds  (A) still_most_budget's first 400 steps with seeds 0 and 1, each against its own control
               at lr 1e-5: do the 200- and 400-step edges hold on three seeds?
  still_most_fast  (A) the sharp O1 from cmlm_most_still at lr 3e-5, seeds 0-2, 200 steps, each against CE at
               3e-5 for the same wall time: does a larger step buy the energy's gain sooner, or hack it?
  still_most_fast_budget  (A) still_most_fast's seed 0 for 400 steps, scored at 200 and 400, against one CE run at
               3e-5 checkpointed at the same wall times: does ENGINE keep rising at the larger step, or hack the energy?
  still_max    (A) cmlm_most_still + 3000 more CE steps (the same schedule) on distilled-all: cmlm_max_still
  still_max_sharp  (A) still_most_sharp's setting and seeds from cmlm_max_still, each with its matched control: one
               more point on the edge-against-start curve
  still_max_decay  (A) still_more_decay's control from cmlm_max_still for each still_max_sharp run
  still_max_slow  (A) still_more_slow's control from cmlm_max_still for each still_max_sharp run
  still_max_budget  (A) still_max_sharp's seeds for 400 steps, scored at 200 and 400 (test and dev), each against CE
               at ENGINE's lr 1e-5 checkpointed at the same wall times: from the strongest start, does a longer run at
               the paper's small lr keep rising, and does dev pick the better checkpoint?
  still_max_long  (A) still_max_budget's seed 2 for 600 steps, scored every 200, against CE at lr 1e-5 checkpointed
               at the same wall times: does the rise go on past 400 steps (from cmlm_most_still it peaked there)?
  still_peak   (A) cmlm_max_still + 3000 more CE steps (the same schedule) on distilled-all: cmlm_peak_still
  still_peak_budget  (A) still_max_budget from cmlm_peak_still (seeds 2, 0, 1, 400 steps, scored at 200 and 400,
               each against CE at lr 1e-5 at the same wall times): one more point on the rise-against-start curve
  still_peak_pure  (A) still_peak_budget without the CE term (ce_weight 0, the paper's pure energy): does the CE
               term hold ENGINE back from a strong start, or does pure energy hack it (field notes, section 6)?
  still_peak_decay  (A) still_max_decay for each still_peak_budget seed at 200 steps: CE at lr 1e-4 decaying to 0
               over the steps its lr-1e-5 control took by then, the strongest CE use of that compute
  still_peak_pure_fast  (A) still_peak_pure's seeds at lr 3e-5 (then seeds 3 and 4), each against CE at lr 3e-5
               at the same wall times: does pure energy at 3x the lr hack the energy from a strong start, or rise?
  still_peak_pure_faster  (A) still_peak_pure_fast's seed 2 at lr 1e-4 (the field notes' worst lr) against CE at lr
               1e-4 at the same wall times: where does the strong start stop keeping pure energy honest?
  still_peak_pure_long  (A) still_peak_pure_fast's seed 2 for 600 steps, scored every 200, against CE at lr 3e-5
               checkpointed at the same wall times: does pure energy at lr 3e-5 keep rising past 400 steps?
  still_max_pure_fast  (A) still_peak_pure_fast's setting (pure energy, lr 3e-5, seeds 2, 0, 1) from the start
               before, cmlm_max_still, each against CE at lr 3e-5: does its rise depend on the start?
  significance  (A) each seed of the targets table's curves (SIGNIFICANCE_STAGES) redecoded: ENGINE against its
               start and its control, paired bootstrap over the 200 scored help test sentences and over the rest of
               the test split, which no table had scored (decoding only); (labels) the same for still_*_pure_fast
  lengths_targets  (A) the same seeds, and their starts, at the reference lengths beside their recorded scores at
               the predicted ones: how much of ENGINE's rise is better tokens (decoding only)
  still_peak_pure_predicted  (A) still_peak_pure_fast with the energy at the student's predicted lengths (seeds
               2, 0, 1, 3, 4, each against CE at lr 3e-5): trained where its gain shows, does ENGINE gain more?
  examples_targets  (A) side-by-side translations from the targets table's students: teacher, start, CE control
               and ENGINE of still_peak_pure_fast's median seed (decoding only)
  rescoring_targets  (A) the targets table's seeds (RESCORING_TARGETS) and their starts at one pass, length beam 3 and
               5, the length candidate chosen by the student and by the teacher: does ENGINE's rise survive the
               teacher's choice?
  still_long_pure_fast  (labels) still_peak_pure_fast's setting (found on A after the fact) from labels'
               cmlm_long_still, seeds 0-2, 400 steps against CE at its lr: does it hold where it was not chosen?
  still_further_pure_fast  (labels) the same from cmlm_further_still (cmlm_long_still + 3000 CE steps): does ENGINE
               lead CE from a start where CE has stopped paying?

--rebuild distilled,cmlm_kd_still,... trains gone starts again by their recipes, checked against recorded digests
             (corpora: distilled, distilled-all; models: cmlm_kd, cmlm_ref, cmlm_long and the still chain).
Speed lives in scripts/bench_speed.py; the train-step cost in scripts/bench_train_step.py.
The stages' code lives in scripts/bench_stages/: settings.py (the stage list, the benchmarks, their budgets, every
ENGINE and decoding setting), the plumbing (records.py, base.py, recipes.py, comparisons.py), and the stages by line
of work:
  replication.py    teacher, distill, cmlm_kd, cmlm_ref, start_choice, engine, control, examples, table2,
                    engine_selected
  first_recipe.py   sweep, lengths, cmlm_long, gain, confirm, ranking, budget, unfrozen, rescoring, descent, sharp(er)
  labels.py         distill_ui ... length_choice, still_encoder, still_confirm, still_(long|further)_pure_fast
  still_encoder.py  still_main ... still_peak_decay (A with the encoder still), distill_all, output_chars
  targets.py        still_peak_pure_fast ... still_max_pure_fast, still_peak_pure_predicted, and the checks
                    significance, lengths_targets, examples_targets, rescoring_targets

    python scripts/bench.py            # full scale (hours on 2 CPU cores)
    python scripts/bench.py --quick    # the same pipeline on a small slice, minutes
    python scripts/bench.py --stages teacher,cmlm_ref
    python scripts/bench.py --benchmark b --stages teacher,distill,cmlm_kd,cmlm_ref,start_choice,engine,control,examples
    python scripts/bench.py --benchmark short   # A on help segments of <= 8 target words: a stronger CMLM start
    python scripts/bench.py --benchmark labels  # ... of <= 4 target words: stronger still

Re-running skips finished stages (their results JSON exists) and resumes unfinished training from checkpoints.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from bench_stages import BENCHMARKS, STAGES, Bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the same pipeline on a small slice (minutes)")
    parser.add_argument("--benchmark", choices=sorted(BENCHMARKS), default="a",
                        help="a: EN->PT with the Firefox teacher; b: DE->EN with the teacher of scripts/train_teacher.py; "
                        "short: A on help segments of <= 8 target words; labels: ... of <= 4")
    parser.add_argument("--teacher", help="benchmark B: the DE->EN teacher to copy on first use (default "
                        "runs/teacher-de-en, with --quick runs/teacher-de-en-quick)")
    parser.add_argument("--stages", help=f"comma-separated subset of {STAGES} (default: the benchmark's own list)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="redo stages whose results exist")
    parser.add_argument("--rebuild", help="comma-separated models to train again, in order, by the recipe of the "
                        "stage that built them, checked against the digest it recorded, e.g. distilled,cmlm_kd_still,"
                        "cmlm_long_still (runs/ is not kept between machines); results are not touched")
    args = parser.parse_args()
    if args.teacher and not BENCHMARKS[args.benchmark].own_teacher:
        parser.error(f"--teacher is for benchmark B; benchmark {args.benchmark.upper()} converts its own teacher")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    bench = Bench(args)
    for name in args.rebuild.split(",") if args.rebuild else ():
        bench.rebuild(name)
    default = () if args.rebuild else bench.benchmark.stages  # --rebuild alone runs no stage
    for stage in (args.stages.split(",") if args.stages else default):
        if stage not in STAGES:
            parser.error(f"unknown stage {stage!r}; choose from {STAGES}")
        if bench.done(stage) and not args.force:
            print(f"[bench] {stage}: done ({bench.result_path(stage)}), skipping")
            continue
        print(f"[bench] {stage}: running")
        bench.clock.start(stage)
        try:
            getattr(bench, f"stage_{stage}")()
        except SystemExit:  # a check stopped it (a missing model, say): not a process that did the stage's work
            bench.clock.abandon(stage)
            raise
        bench.record_stage_seconds(stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
