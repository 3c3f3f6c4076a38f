"""The README tables and plots of `scripts/make_tables.py` (`bench_tables/`), rendered from results written
here, no stage run."""

from __future__ import annotations

import json

import pytest
from bench_helpers import curve_about, point

from bench_tables import common
from bench_tables.benchmark import section_bench, section_dev_curve, seeding_said
from bench_tables.curves import dev_choice, section_budget, section_budget_seeds
from bench_tables.decoding import rescored_pairs, section_ranking, section_rescoring
from bench_tables.engine_settings import section_confirm, section_unfrozen
from bench_tables.gain import gain_points_all, section_gain_all
from bench_tables.measurements import rerun_folders, section_compute, section_fresh, section_speed
from bench_tables.plots import plot_gain_all, plot_name, plot_rise_by_start
from bench_tables.still_encoder import rise_points, section_rise_by_start
from bench_tables.targets import fresh_summary, render_summary, section_targets


def scores(bleu: float) -> dict:
    return {"bleu": bleu, "chrf": 2 * bleu, "repetition": 0.1, "teacher_energy": 3.0}


def test_benchmark_b_tables_have_no_bible_columns_and_name_their_command(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    recorded = {"scale": {"cmlm_steps": 30}, "hardware": "2 CPU cores, no GPU"}
    files = {
        "bench_b_teacher": {"greedy": {"libreoffice": scores(30.0)}, "beam4": {"libreoffice": scores(31.0)}},
        "bench_b_engine": {"initialised_from": "cmlm_kd", "command": "python scripts/bench.py --benchmark b --stages engine",
                           "1_iterations": {"libreoffice": scores(20.0)},
                           "10_iterations": {"libreoffice": scores(25.0)}},
        "bench_b_cmlm_kd": {"1_iterations": {"libreoffice": scores(18.0)}, "10_iterations": {"libreoffice": scores(24.0)}},
    }
    for name, payload in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({**recorded, **payload}))
    text = section_bench("bench_b_", "", "Benchmark B")
    header = next(line for line in text.splitlines() if line.startswith("| system"))
    assert "Bible" not in header and header.count("|") == 7
    assert "| teacher greedy (`teacher`) | - | 30.0 | 60.0 | 0.10 | 3.00 |" in text
    assert "| ENGINE (SX/ST) (`engine`) | 10 | 25.0 |" in text
    assert "| ENGINE above the distilled CMLM, 1 iteration | 20.00 vs 18.00 (+2.00) | yes |" in text
    assert "`python scripts/bench.py --benchmark b --stages STAGE`" in text
    assert "*Each column's ENGINE, in order: `python scripts/bench.py --benchmark b --stages engine`; its start" in text
    assert section_bench("bench_", "", "Benchmark A") is None  # A's results are elsewhere


def test_benchmark_a_main_table_gives_both_corpora_four_columns_and_says_where_engine_started(tmp_path, monkeypatch):
    """The issue's columns (BLEU, chrF, teacher energy, repetition) on the help and the Bible test sets, and ENGINE's
    start: by `start_choice`'s dev BLEU, or, for an older record, why it was the one it was."""
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    both = {"libreoffice": scores(30.0), "bible": scores(15.0)}
    recorded = {"scale": {"cmlm_steps": 30}, "hardware": "2 CPU cores, no GPU"}
    files = {"bench_teacher": {"greedy": both, "beam4": both},
             "bench_cmlm_kd": {"1_iterations": both, "10_iterations": both},
             "bench_engine": {"initialised_from": "cmlm_kd", "1_iterations": both, "10_iterations": both,
                              "benchmark_stages": ["teacher", "cmlm_kd", "engine", "control", "cmlm_ref"]}}
    for name, payload in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({**recorded, **payload}))
    text = section_bench("bench_", "", "Benchmark A")
    assert ("| system | iterations | help BLEU | help chrF | help repetition | help teacher energy | Bible BLEU | "
            "Bible chrF | Bible repetition | Bible teacher energy |") in text
    assert "| teacher greedy (`teacher`) | - | 30.0 | 60.0 | 0.10 | 3.00 | 15.0 | 30.0 | 0.10 | 3.00 |" in text
    assert ("**ENGINE's start:** `cmlm_kd` (its stage list then ran ENGINE before `cmlm_ref`, so `cmlm_kd` was the "
            "only CMLM trained;") in text
    assert seeding_said("bench_", "").startswith("Seed 0 everywhere, except the initialisation of `cmlm_kd` (and so of")
    choice = {"dev_bleu": {"cmlm_kd": 3.0, "cmlm_ref": 4.0}, "better": "cmlm_ref", "engine_started_from": "cmlm_kd",
              "decoding": {"split": "validation", "num_iterations": 1, "length_beam": 5},
              "command": "python scripts/bench.py --stages start_choice"}
    (tmp_path / "bench_start_choice.json").write_text(json.dumps({**recorded, **choice}))
    text = section_bench("bench_", "", "Benchmark A")
    assert ("**ENGINE's start** (`start_choice`: validation set, 1 iteration, length beam 5): dev BLEU `cmlm_ref` "
            "4.00, `cmlm_kd` 3.00, so `cmlm_ref`; ENGINE had already started from `cmlm_kd`, **not the better one**. "
            "*Command: `python scripts/bench.py --stages start_choice`.") in text


def test_compute_table_sums_recorded_training_time_per_benchmark_without_double_counting(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    files = {
        "bench_distill": {"seconds": 1800.0},
        "bench_cmlm_kd": {"train_seconds": 3600.0, "1_iterations": {"libreoffice": scores(10.0)}},
        "bench_examples": {"rows": []},  # scores only: counted as a stage, not as time
        "bench_still_more_sharp": {"points": [{"train_seconds": 600.0, "control_train_seconds": 600.0}] * 3},
        "bench_still_main": {"rows": {"control_still": {"train_seconds": 900.0, "budget_seconds": 900.0}}},
        # a compute curve's checkpoint times are cumulative: only the last one counts, with the control's total
        "bench_still_budget": {"engine_seconds_at": {"200": 700.0, "400": 1400.0}, "control_seconds": 1400.0,
                               "points": [{"seconds": 700.0}, {"seconds": 1400.0}]},
        "bench_cmlm_kd_quick": {"train_seconds": 10**6},
        "bench_b_cmlm_kd": {"train_seconds": 7200.0},
        "bench_labels_descent": {"rows": {"SX": {"seconds_per_sentence": 2.0}}},
    }
    for name, payload in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(payload))
    text = section_compute()
    assert "| A, the still-encoder line (`still_*`, `distill_all`) | 3 of 3 | 2.03 | `still_more_sharp` (1.00 h) |" in text
    assert "| A, the rest | 2 of 3 | 1.50 | `cmlm_kd` (1.00 h) |" in text
    assert "| B | 1 of 1 | 2.00 | `cmlm_kd` (2.00 h) |" in text
    assert "labels" not in text.split("\n\n")[1]  # nothing timed there


def test_fresh_rerun_table_sets_each_stage_beside_its_record_and_sums_the_whole_cost(tmp_path, monkeypatch):
    """results/fresh/: `make bench`'s stages again from nothing. Each row: the stage's whole wall time, its recorded
    training time here and there, and its scores recorded and again; the total adds the speed script's own time."""
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    assert section_fresh() is None  # nothing rerun yet
    header = {"benchmark_stages": ["teacher", "distill", "cmlm_kd", "engine", "control", "cmlm_ref", "examples",
                                   "sweep", "table2"], "hardware": "2 CPU cores (X), no GPU"}
    nat = {"1_iterations": {"libreoffice": scores(10.0)}, "10_iterations": {"libreoffice": scores(14.0)}}
    teacher = {"greedy": {"libreoffice": scores(40.0)}, "beam4": {"libreoffice": scores(41.0)}}
    table2 = {"rows": {"sx/st": {"bleu": 3.0}, "stl/st": {"bleu": 5.0}, "cmlm_init": {"bleu": 9.0}}}
    recorded = {"bench_teacher": teacher, "bench_cmlm_kd": {**nat, "train_seconds": 1800.0}}
    fresh = {"bench_teacher": {**teacher, "stage_seconds": 60.0},
             "bench_cmlm_kd": {**nat, "1_iterations": {"libreoffice": scores(11.0)}, "train_seconds": 1500.0,
                               "stage_seconds": 1620.0},
             "bench_table2": {**table2, "stage_seconds": 1320.0},
             "bench_distill": {"seconds": 400.0, "stage_seconds": 420.0}}
    (tmp_path / "fresh").mkdir()
    for name, payload in recorded.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({**header, **payload}))
    for name, payload in fresh.items():
        (tmp_path / "fresh" / f"{name}.json").write_text(json.dumps({**header, **payload}))
    (tmp_path / "fresh" / "bench_teacher_quick.json").write_text(json.dumps({**header, **teacher}))  # left out
    (tmp_path / "fresh" / "bench_b_teacher.json").write_text(json.dumps(  # another benchmark's: left out
        {**header, "benchmark_stages": ["teacher"], **teacher}))
    text = section_fresh()
    lines = text.splitlines()
    assert [line.split(" | ")[0] for line in lines if line.startswith("| `")] == [
        "| `teacher`", "| `distill`", "| `cmlm_kd`", "| `table2`"]  # in the benchmark's order
    assert ("| `cmlm_kd` | 27.0 | 30.0 / 25.0 | 1 it. 10.00 / 20.0, 10 it. 14.00 / 28.0 | 1 it. 11.00 / 22.0, 10 it. "
            "14.00 / 28.0 |") in lines
    assert "| `distill` | 7.0 | - / 6.7 | - | - |" in lines  # no record in results/: nothing beside it
    assert "| `table2` | 22.0 | - / - | - | dev BLEU: mean of 2 pairs 4.00, best stl/st 5.00 |" in lines
    assert ("took **0.95 h** (**incomplete**: not every stage of `make bench` is there, finished and timed whole, so "
            "this is not yet its cost) (the issue asks") in text
    assert "--stages teacher,distill,cmlm_kd,table2 --runs-dir runs/fresh --results-dir results/fresh`" in text
    speed = {"command": "python scripts/bench_speed.py --output results/fresh/speed.json", "script_seconds": 360.0,
             "results": {"batch_1": {"NAT 1 iteration, length beam 1": {"speedup_vs_teacher_greedy": 4.5}}}}
    assert fresh_summary() == ""  # not finished there: no line in the README
    (tmp_path / "fresh" / "speed.json").write_text(json.dumps(speed))
    for stage in ("engine", "control", "cmlm_ref", "examples"):  # the rest of `make bench`, timed
        (tmp_path / "fresh" / f"bench_{stage}.json").write_text(json.dumps({**header, "stage_seconds": 0.0}))
    (tmp_path / "fresh" / "bench_start_choice.json").write_text(json.dumps(  # a stage added, and run, after the rest
        {**header, "benchmark_stages": ["teacher", "distill", "cmlm_kd", "cmlm_ref", "start_choice", "engine"],
         "dev_bleu": {"cmlm_ref": 2.0, "cmlm_kd": 3.0}, "better": "cmlm_kd", "engine_started_from": "cmlm_kd",
         "stage_seconds": 0.0}))
    text = section_fresh()
    assert ("took **0.95 h** in all, and the speed table (item 7) 6.0 min more (**1.05 h**; its batch-1 ratio of one parallel pass to teacher "
            "greedy: 4.50x)") in text
    assert "*Command: `make bench RERUN=fresh`, which ran `python scripts/bench.py --stages teacher," in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows[-1] == ("| `start_choice` | not timed | - / - | - | dev BLEU `cmlm_kd` 3.00, `cmlm_ref` 2.00: `cmlm_kd` "
                        "(run after ENGINE, which had started from `cmlm_kd`: a check) |")  # in the order it ran
    assert "--stages teacher,distill,cmlm_kd,engine,control,cmlm_ref,examples,table2,start_choice --runs-dir" in text
    assert rerun_folders() == ["fresh"] and section_fresh("other") is None
    assert fresh_summary() == (  # the README's line on it
        "\n\n`make bench` (the issue's items on A, from nothing; target: about 3 h on 2 CPU cores): **1.05 h** (**yes**), "
        "2 CPU cores (X), no GPU; one-pass help BLEU, recorded -> again: `cmlm_kd` 10.00 -> 11.00 (`make bench "
        "RERUN=fresh`, which ran `python scripts/bench.py --stages teacher,distill,cmlm_kd,engine,control,cmlm_ref,"
        "examples,table2,start_choice --runs-dir runs/fresh --results-dir results/fresh` and `python scripts/bench_speed.py --output "
        "results/fresh/speed.json`).")


def test_dev_curve_table_puts_both_energies_of_a_step_on_one_row():
    data = {"scale": {"logging_steps": 25}, "selected_step": 0,
            "dev_curve": [{"step": 0, "dev_discrete_energy": 9.44}, {"step": 25, "dev_discrete_energy": 9.5}],
            "train_log": [{"step": 25, "energy": 7.8181, "ce_loss": 4.1719, "loss": 12.3}]}
    text = section_dev_curve(data)
    assert "| 0 | 9.440 | - | - |" in text  # the starting CMLM: scored, not trained
    assert "| 25 | 9.500 | 7.818 | 4.172 |" in text
    assert "Selected: step 0." in text


def test_rescoring_table_compares_teacher_and_student_picks_per_model():
    def grid(bleu_own: float, bleu_teacher: float) -> dict:
        cells = {}
        for n in (1, 10):
            cells[f"{n} it, length beam 1, student"] = {"bleu": 1.0, "chrf": 10.0}
            for beam in (3, 5):
                cells[f"{n} it, length beam {beam}, student"] = {"bleu": bleu_own, "chrf": 20.0}
                cells[f"{n} it, length beam {beam}, teacher"] = {"bleu": bleu_teacher, "chrf": 23.0}
        return {"model": "runs/x", "model_sha256": "0", "scores": cells}

    data = {"rows": {"start": grid(5.0, 8.0), "ENGINE": grid(6.0, 5.0)}}
    text = section_rescoring(data)
    assert "| start `0` | 1 | 1.00 / 10.0 | 5.00 / 20.0 | 8.00 / 23.0 | 5.00 / 20.0 | 8.00 / 23.0 |" in text
    assert "| ENGINE `0` | 10 | 1.00 / 10.0 | 6.00 / 20.0 | 5.00 / 23.0 |" in text
    # (+3 and -1 BLEU) / 2 models; chrF +3 for both; one of the two models gains BLEU
    assert ("1 iteration(s), length beam 3: teacher picks - student picks = +1.00 BLEU, +3.0 chrF on average over 2 "
            "models; higher BLEU for 1 of 2") in text
    assert "unfinished" in section_rescoring({**data, "partial": True})
    assert "confirm's" not in text  # no ENGINE/control pair of one start and seed
    pair = {"ENGINE (confirm, cmlm_long, seed 0)": grid(6.0, 9.5), "control (confirm, cmlm_long, seed 0)": grid(5.0, 8.0),
            "ENGINE (confirm, cmlm_long, seed 1)": grid(4.0, 8.5)}  # seed 1 has no control: not a pair
    lines = rescored_pairs(pair)
    assert lines[0] == ("confirm's ENGINE - control (same start and seed), 1 iteration(s), length beam 3: student "
                        "picks +1.00 BLEU / +0.0 chrF, ENGINE above in BLEU in 1 of 1; teacher picks +1.50 BLEU / "
                        "+0.0 chrF, ENGINE above in BLEU in 1 of 1")


def test_ranking_table_puts_the_reference_beside_the_systems():
    system = {"bleu": 2.5, "chrf": 17.0, "teacher_energy": 3.69, "reference_preferred": 0.25,
              "differs_from_reference": 200}
    data = {"sentences": 200, "initialised_from": "cmlm_kd", "reference_teacher_energy": 4.5,
            "systems": {"teacher greedy": {**system, "teacher_energy": 1.13, "reference_preferred": 0.0},
                        "ENGINE": system},
            "energy_rerank": {"bleu": 2.6, "chrf": 17.5, "picked": {"control": 120, "ENGINE": 80}},
            "chrf_oracle": {"bleu": 4.0, "chrf": 20.0},
            "agreement": {"control vs ENGINE": {"compared": 150, "agree": 60, "agreement": 0.4}},
            "agreement_nat": {"compared": 150, "agree": 60, "agreement": 0.4}}
    text = section_ranking(data)
    assert "| reference | - | - | 4.50 | - |" in text
    assert "| teacher greedy | 2.50 | 17.0 | 1.13 | 0% of 200 |" in text
    assert "| ENGINE | 2.50 | 17.0 | 3.69 | 25% of 200 |" in text
    assert "(picked: control 120, ENGINE 80) | 2.60 | 17.5 |" in text
    assert "| control vs ENGINE | 150 | 40% |" in text
    assert "Pooled over the three NAT pairs: 40% of 150." in text


def test_budget_table_pairs_each_engine_checkpoint_with_the_control_at_the_same_wall_time():
    def point(step, seconds, control_step, engine_bleu, control_bleu):
        return {"engine_step": step, "seconds": seconds, "control_step": control_step,
                **{f"{who}_{m}": v for who, bleu in (("engine", engine_bleu), ("control", control_bleu))
                   for m, v in (("bleu", bleu), ("chrf", 2 * bleu), ("repetition", 0.5), ("teacher_energy", 3.5))}}

    data = {"learning_rate": 1e-5, "ce_weight": 1.0, "energy_steps": 800, "initialised_from": "cmlm_kd",
            "checkpoint_every": 200, "control_learning_rate": 1e-4,
            "start": {"bleu": 2.0, "chrf": 16.0, "repetition": 0.4, "teacher_energy": 3.97},
            "points": [point(200, 347.4, 468, 2.36, 2.25), point(400, 695.0, 940, 2.0, 2.5)]}
    text = section_budget(data, "engine_budget_b.png")
    assert "| 0 | 0 | 2.00 / 16.0 / 0.40 / 3.97 | 0 | 2.00 / 16.0 / 0.40 / 3.97 | - |" in text
    assert "| 200 | 347 | 2.36 / 4.7 / 0.50 / 3.50 | 468 | 2.25 / 4.5 / 0.50 / 3.50 | +0.11 / +0.2 |" in text
    assert "| 400 | 695 | 2.00 / 4.0 / 0.50 / 3.50 | 940 | 2.50 / 5.0 / 0.50 / 3.50 | -0.50 / -1.0 |" in text
    assert "](engine_budget_b.png)" in text
    assert "the engine stage's settings, lr 1e-05" in text
    assert "(`budget`: O1 temperature 0.25, lr 1e-05" in section_budget(
        {**data, "o1_temperature": 0.25}, "x.png")
    assert "unfinished" in section_budget({"partial": True}, "x.png")
    assert plot_name("bench_b_", "", "engine_budget") == "engine_budget_b.png"
    assert plot_name("bench_", "_quick") == "engine_gain_quick.png"


def test_the_seeds_table_sets_three_seeds_400_step_curves_side_by_side_with_seed_2_from_still_most_budget():
    about = curve_about("cmlm_most_still")
    data = {"command": "python scripts/bench.py --stages still_most_budget_seeds", "partial": False, "curves": {
        "seed1": {**about, "seed": 1, "points": [point(200, 800, 15.0, 14.0), point(400, 1600, 15.5, 14.5, 12.0)]},
        "seed0": {**about, "seed": 0, "points": [point(200, 870, 14.5, 14.0, 11.5), point(400, 1700, 14.0, 14.5)]}}}
    seed_2 = {**about, "seed": 2, "energy_steps": 800, "partial": False,
              "points": [point(200, 834, 15.0, 13.8), point(400, 1691, 16.0, 13.4, 12.0, 11.5),
                         point(600, 2531, 99.0, 0.0, 99.0), point(800, 3436, 99.0, 0.0, 99.0)]}
    sharp = {"points": [{"seed": s, "engine_bleu": b, "engine_chrf": 45.0} for s, b in ((0, 14.5), (1, 15.1), (2, 15.0))]}
    slow = {"points": [{"seed": s, "control_bleu": 14.1, "control_chrf": 45.1, "control_steps": 860} for s in (0, 1, 2)]}
    text = section_budget_seeds(data, seed_2, sharp, slow)
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split(" | ")[:2] for line in rows] == [["| 0", "200"], ["| 0", "400"], ["| 1", "200"], ["| 1", "400"],
                                                       ["| 2", "200"], ["| 2", "400"]]  # seed 2 cut to 400 steps
    assert rows[0] == ("| 0 | 200 | 640 | 14.50 / 45.0 / 0.33 / 5.20 | 870 | 14.00 / 45.0 / 0.33 / 5.20 | +0.50 / +0.0 | "
                       "26.45 / 56.0 | 26.40 / 56.0 | +0.05 / +0.0 |")
    assert ("- 200 energy steps, mean over 3 seeds: ENGINE - control +0.90 BLEU (from +0.50 to +1.20) at one iteration "
            "and +0.09 BLEU (from +0.05 to +0.12) at ten; ENGINE - start +1.33 BLEU (from +1.00 to +1.50) at one "
            "iteration") in text
    assert "- 400 energy steps, mean over 3 seeds: ENGINE - control +1.03 BLEU (from -0.50 to +2.60)" in text
    # Dev picks: seed 0 ENGINE at 200 steps (11.5) and its control at the start (11.0 beats 10.0): 14.50 - 13.50;
    # seed 2 from its first two checkpoints only (the 600- and 800-step ones would win on dev).
    assert ("ENGINE - control +1.87 BLEU (from +1.00 to +2.60) at one iteration" in text
            and "picks (energy steps / CE steps): seed 0 200 / the start, seed 1 400 / the start, seed 2 400 / 1691" in text)
    assert ("seed 0: ENGINE 14.50 / 45.0 against `still_most_sharp`'s 14.50 / 45.0 (the same run again), control "
            "14.00 / 45.0 after 870 steps against `still_most_slow`'s 14.10 / 45.1 after 860") in text
    assert "seed 1: ENGINE 15.00 / 45.0 against `still_most_sharp`'s 15.10 / 45.0 (not the same" in text
    assert text.endswith("*Command: `python scripts/bench.py --stages still_most_budget_seeds`. Hardware: ?, ? thread(s).*")
    assert "unfinished" in section_budget_seeds({"partial": True}, seed_2, sharp, slow)


def test_the_seeds_table_of_still_max_budget_names_its_own_start_and_200_step_runs_and_borrows_no_seed():
    about = curve_about("cmlm_max_still")
    data = {"command": "python scripts/bench.py --stages still_max_budget", "partial": False, "curves": {
        f"seed{seed}": {**about, "seed": seed, "points": [point(200, 660, 15.0 + seed / 10, 14.0),
                                                          point(400, 1320, 15.2, 14.2, 12.0)]} for seed in (2, 0)}}
    sharp = {"points": [{"seed": s, "engine_bleu": 15.0 + s / 10, "engine_chrf": 45.0} for s in (0, 1, 2)]}
    slow = {"points": [{"seed": s, "control_bleu": 14.1, "control_chrf": 45.1, "control_steps": 655} for s in (0, 1, 2)]}
    text = section_budget_seeds(data, None, sharp, slow, stage="still_max_budget")
    assert text.startswith("**The sharp O1's edge at lr 1e-05 from `cmlm_max_still` at 200 and 400 steps, over seeds** "
                           "(`still_max_budget`: O1 temperature 0.25")
    assert "still_most" not in text and "seed 2 is" not in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split(" | ")[:2] for line in rows] == [["| 0", "200"], ["| 0", "400"], ["| 2", "200"], ["| 2", "400"]]
    assert "- 400 energy steps, mean over 2 seeds: ENGINE - control +1.00 BLEU (from +1.00 to +1.00)" in text
    assert ("seed 2: ENGINE 15.20 / 45.0 against `still_max_sharp`'s 15.20 / 45.0 (the same run again), control "
            "14.00 / 45.0 after 660 steps against `still_max_slow`'s 14.10 / 45.1 after 655") in text
    assert "picks (energy steps / CE steps): seed 0 400 / the start, seed 2 400 / the start" in text
    assert text.endswith("*Command: `python scripts/bench.py --stages still_max_budget`. Hardware: ?, ? thread(s).*")
    assert section_budget_seeds({"partial": True}, None, sharp, slow, stage="still_max_budget") == (
        "**The sharp O1's edge from its start at 200 and 400 steps, over seeds** (`still_max_budget`): **unfinished**, "
        "the stage resumes where it stopped.")
    one_so_far = {**data, "partial": True, "curves": {**data["curves"], "seed1": {"partial": True}}}
    text = section_budget_seeds(one_so_far, None, sharp, slow, stage="still_max_budget")
    assert "; the start scores 13.50" in text and " — **unfinished: 2 seeds so far**, the stage resumes" in text
    assert "| 1 | 200" not in text and "mean over 2 seeds" in text


def test_the_pure_energy_seeds_table_sets_each_checkpoint_against_the_mixed_energy_of_the_same_start_and_seeds():
    """`still_peak_pure` beside `still_peak_budget`: pure - mixed per checkpoint over the seeds both ran from the same
    weights (a mixed seed from other weights, or one pure lacks, is left out), energies, repetition and CE steps."""
    def stage(ce_weight, bleus, control_steps, energy, digest="d1"):
        return {"command": f"python scripts/bench.py --stages s{ce_weight:g}", "partial": False, "curves": {
            f"seed{seed}": {**curve_about("cmlm_peak_still"), "ce_weight": ce_weight, "seed": seed, "start_sha256": digest,
                            "points": [{**point(200 * k, steps * k, bleu + k, 14.0), "engine_teacher_energy": energy / k}
                                       for k in (1, 2)]}
            for seed, bleu, steps in zip((2, 0, 1), bleus, control_steps, strict=False)}}

    pure = stage(0.0, (15.0, 16.0), (600, 620), 4.0)
    mixed = stage(1.0, (14.5, 15.0, 15.5), (680, 680, 680), 5.0)
    mixed["curves"]["seed0"]["start_sha256"] = "other"  # a rebuilt start: not the same weights, not compared
    text = section_budget_seeds(pure, None, None, None, stage="still_peak_pure",
                                            against=(mixed, "still_peak_budget"))
    assert text.startswith("**Pure energy (`ce_weight` 0) with the sharp O1 at lr 1e-05 from `cmlm_peak_still` at 200 "
                           "and 400 steps, over seeds** (`still_peak_pure`: O1 temperature 0.25, lr 1e-05, `ce_weight` 0,")
    assert ("Against `still_peak_budget` (the same start, O1 and steps; `ce_weight` 1 where this stage has 0), mean "
            "over 1 seed (2):\n\n- 200 energy steps: this stage - `still_peak_budget` +0.50 BLEU / +0.0 chrF at one "
            "iteration, +0.05 BLEU at ten; teacher energy 4.00 against 5.00, repetition 0.33 against 0.33; the controls "
            "reached 600 against 680 CE steps\n- 400 energy steps: this stage - `still_peak_budget` +0.50 BLEU / +0.0 "
            "chrF at one iteration, +0.05 BLEU at ten; teacher energy 2.00 against 2.50") in text
    assert text.endswith("*Command: `python scripts/bench.py --stages s0`. Hardware: ?, ? thread(s).*")
    assert "Against `" not in section_budget_seeds(pure, None, None, None, stage="still_peak_pure",
                                                               against=(None, "still_peak_budget"))
    assert section_budget_seeds({"partial": True}, None, None, None, stage="still_peak_pure",
                                            against=(mixed, "still_peak_budget")).startswith(
        "**The sharp O1's edge from its start at 200 and 400 steps, over seeds** (`still_peak_pure`): **unfinished**")
    # A larger lr beside a smaller one, both pure: the lr is what differs.
    fast = stage(0.0, (15.5,), (650,), 3.0)
    for curve in fast["curves"].values():
        curve["learning_rate"] = 3e-5
    text = section_budget_seeds(fast, None, None, None, stage="still_peak_pure_fast",
                                            against=(pure, "still_peak_pure"))
    assert text.startswith("**Pure energy (`ce_weight` 0) with the sharp O1 at lr 3e-05 from `cmlm_peak_still`")
    assert ("Against `still_peak_pure` (the same start, O1 and steps; lr 1e-05 where this stage has 3e-05), mean over 1 "
            "seed (2):\n\n- 200 energy steps: this stage - `still_peak_pure` +0.50 BLEU / +0.0 chrF at one iteration") in text


def test_the_rise_by_start_takes_200_step_pairs_first_and_only_the_curves_checkpoints_they_lack(tmp_path, monkeypatch):
    """200 steps: the sharp pairs beside their slow controls (none for `still_long_sharp`); 400 steps, and 200 where no
    pair ran (`cmlm_peak_still`): the curves; a curve's 200-step point never doubles a pair's, nor 600 steps count."""
    def pair(start, seed, engine):
        return {"start": start, "seed": seed, "engine_bleu": engine, "engine_chrf": 45.0, "engine_bleu_10": 26.0,
                "control_bleu": 0.0, "control_chrf": 0.0, "control_bleu_10": 0.0}  # the matched lr-1e-4 control: unused

    def sharp(line, start, start_bleu, engines):
        return {"stage": f"{line}_sharp", "command": f"python scripts/bench.py --stages {line}_sharp", "energy_steps": 200,
                "starts": {start: {"bleu": start_bleu, "chrf": 45.3}},
                "points": [pair(start, seed, bleu) for seed, bleu in engines.items()]}

    def curves(stage, start, start_bleu, points):
        about = {**curve_about(start), "start": {**curve_about(start)["start"], "bleu": start_bleu}}
        return {"command": f"python scripts/bench.py --stages {stage}", "partial": False,
                "curves": {f"seed{seed}": {**about, "seed": seed, "points": ps} for seed, ps in points.items()}}

    stages = {
        "still_long_sharp": sharp("still_long", "cmlm_long_still", 11.0, {2: 11.5, 0: 11.3}),
        "still_max_sharp": sharp("still_max", "cmlm_max_still", 13.8, {2: 15.5, 0: 15.3}),
        "still_max_slow": {"points": [{"seed": 2, "control_bleu": 14.0, "control_chrf": 46.0, "control_bleu_10": 26.5}]},
        "still_max_budget": curves("still_max_budget", "cmlm_max_still", 13.8, {
            seed: [point(200, 670, 99.0, 99.0), point(400, 1340, 16.0 + seed / 10, 14.5)] for seed in (2, 0)}),
        "still_peak_budget": curves("still_peak_budget", "cmlm_peak_still", 14.2, {
            2: [point(200, 670, 15.7, 14.7), point(400, 1340, 16.7, 14.9), point(600, 2010, 99.0, 0.0)]}),
        "still_more_sharp": None}
    points = rise_points(stages)
    assert sorted((q["start"], q["steps"], q["seed"], q["engine_bleu"], q.get("control_bleu")) for q in points) == [
        ("cmlm_long_still", 200, 0, 11.3, None), ("cmlm_long_still", 200, 2, 11.5, None),
        ("cmlm_max_still", 200, 0, 15.3, None), ("cmlm_max_still", 200, 2, 15.5, 14.0),
        ("cmlm_max_still", 400, 0, 16.0, 14.5), ("cmlm_max_still", 400, 2, 16.2, 14.5),
        ("cmlm_peak_still", 200, 2, 15.7, 14.7), ("cmlm_peak_still", 400, 2, 16.7, 14.9)]
    text = section_rise_by_start(points, "engine_rise_by_start.png")
    rows = [line for line in text.splitlines() if line.startswith("| cmlm")]
    assert [row.split(" | ")[:4] for row in rows] == [
        ["| cmlm_long_still", "11.00 / 45.3", "200", "0, 2"], ["| cmlm_max_still", "13.80 / 45.3", "200", "0, 2"],
        ["| cmlm_max_still", "13.80 / 45.3", "400", "0, 2"], ["| cmlm_peak_still", "14.20 / 45.3", "200", "2"],
        ["| cmlm_peak_still", "14.20 / 45.3", "400", "2"]]
    assert rows[0].endswith("| 11.40 / 45.0 | +0.40 / -0.3 (+0.30 to +0.50, 2 of 2 seeds) | - | - | - / - / - |")
    assert rows[1].endswith("| +1.60 / -0.3 (+1.50 to +1.70, 2 of 2 seeds) | +1.50 / -1.0 (1 of 2 seeds) | -0.50 (1 of 2 seeds) "
                            "| - / - / - |")  # pairs recorded without repetition
    assert rows[4].endswith("| 16.70 / 45.0 | +2.50 / -0.3 | +1.80 / +0.0 | +0.18 | 0.35 / 0.33 / 0.33 |")
    assert "the issue's +3" not in text and "The issue asks for +3 BLEU" in text
    assert text.endswith("*Commands: `python scripts/bench.py --stages still_long_sharp`, `python scripts/bench.py "
                         "--stages still_max_budget`, `python scripts/bench.py --stages still_max_sharp`, `python "
                         "scripts/bench.py --stages still_peak_budget`.*")
    monkeypatch.setattr(common, "DOCS", tmp_path)
    plot_rise_by_start(points, "rise.png")
    assert (tmp_path / "rise.png").read_bytes().startswith(b"\x89PNG")


def test_a_compute_curves_checkpoints_are_chosen_on_dev_and_compared_on_test():
    def point(step, control_step, engine_dev, control_dev, engine_bleu, control_bleu):
        return {"engine_step": step, "control_step": control_step, "engine_bleu_dev": engine_dev,
                "control_bleu_dev": control_dev, "engine_bleu": engine_bleu, "engine_chrf": 45.0,
                "engine_bleu_10": 25.0, "engine_chrf_10": 56.0, "control_bleu": control_bleu, "control_chrf": 44.0,
                "control_bleu_10": 26.0, "control_chrf_10": 56.5}

    start = {"bleu_dev": 10.0, "bleu": 13.0, "chrf": 44.5, "bleu_10": 25.5, "chrf_10": 56.2}
    data = {"start": start, "points": [point(200, 800, 11.0, 9.0, 14.0, 12.0), point(400, 1600, 13.0, 10.5, 16.0, 13.5),
                                       point(600, 2400, 12.0, 9.5, 15.0, 14.0)]}
    text = dev_choice(data)
    assert ("ENGINE's pick is 400 energy steps (dev 13.00; test 16.00 / 45.0 at one iteration, 25.00 / 56.0 at ten) "
            "and the control's pick 1600 CE steps (dev 10.50; test 13.50 / 44.0 at one iteration, 26.00 / 56.5 at ten): "
            "ENGINE - control +2.50 / +1.0 at one iteration and -1.00 / -0.5 at ten.") in text
    # The start competes: a control that never beats it on dev is not trained further.
    data["points"][1]["control_bleu_dev"] = 9.9
    assert "the control's pick the start (dev 10.00; test 13.00 / 44.5 at one iteration" in dev_choice(data)


def test_unfrozen_table_sets_the_frozen_stages_beside_the_unfrozen_ones():
    def nat(bleu: float) -> dict:
        return {f"{n}_iterations": {"libreoffice": scores(bleu + n)} for n in (1, 10)}

    data = {"initialised_from": "cmlm_kd", "train_seconds": 400.2, "steps": 200, "control_steps": 450,
            "engine": nat(2.0), "control": nat(2.5)}
    text = section_unfrozen(data, {"steps": 200, "train_seconds": 347.0, **nat(1.0)},
                                        {"steps": 468, **nat(1.5)})
    assert "each unfrozen run 400 s, the frozen ones 347 s" in text
    assert "| encoder + tied embeddings frozen (engine, control stages) | ENGINE (200 energy steps) | " \
           "2.00 / 4.0 / 0.10 / 3.00 | 11.00 / 22.0 / 0.10 / 3.00 |" in text
    assert "| nothing frozen (unfrozen stage) | control (450 CE steps) | 3.50 / 7.0 / 0.10 / 3.00 |" in text
    assert "unfinished" in section_unfrozen({"partial": True}, None, None)


def test_gain_table_of_all_benchmarks_orders_points_by_start_and_shows_engine_minus_control(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(common, "DOCS", tmp_path / "docs")
    assert section_gain_all() is None  # no gain stage has run

    def point(name: str, start: float, engine: float, control: float) -> dict:
        return {"checkpoint": name, "start_bleu": start, "start_chrf": 10 * start, "engine_bleu": engine,
                "engine_chrf": 10 * engine, "control_bleu": control, "control_chrf": 10 * control}

    for prefix, teacher_bleu in (("bench_", 50.0), ("bench_labels_", 40.0)):
        (tmp_path / f"{prefix}teacher.json").write_text(json.dumps({"greedy": {"libreoffice": {"bleu": teacher_bleu}}}))
    (tmp_path / "bench_gain.json").write_text(json.dumps({"command": "python scripts/bench.py --stages gain",
                                                          "points": [point("cmlm_kd", 2.0, 1.0, 2.5)]}))
    (tmp_path / "bench_labels_gain.json").write_text(json.dumps({
        "command": "python scripts/bench.py --benchmark labels --stages gain",
        "points": [{**point("cmlm_long", 30.0, 31.5, 30.5), "engine_bleu_10": 35.0, "control_bleu_10": 33.0,
                    "engine_chrf_10": 60.0, "control_chrf_10": 61.0}, point("cmlm_kd", 20.0, 19.0, 21.0)]}))
    text = section_gain_all()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "benchmark" not in line]
    assert [row.split(" | ")[1] for row in rows] == ["cmlm_kd", "cmlm_kd", "cmlm_long"]  # weakest start first
    assert rows[2].split(" | ")[3] == "75% of 40.0"  # 30 BLEU against its teacher's 40
    assert rows[0] == ("| A (all help segments) | cmlm_kd | 2.00 / 20.0 | 4% of 50.0 | -1.00 / -10.0 | +0.50 / +5.0 | "
                       "**-1.50 / -15.0** | - |")  # recorded before the 10-iteration scores
    assert rows[2].endswith("| +1.50 / +15.0 | +0.50 / +5.0 | **+1.00 / +10.0** | +2.00 / -1.0 |")
    assert "`python scripts/bench.py --benchmark labels --stages gain`" in text
    plot_gain_all(gain_points_all())
    assert (tmp_path / "docs" / "engine_gain_all.png").stat().st_size > 0


def test_gain_table_of_all_benchmarks_adds_the_still_encoder_points_under_their_own_name(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(common, "DOCS", tmp_path / "docs")
    for prefix in ("bench_", "bench_labels_"):
        (tmp_path / f"{prefix}teacher.json").write_text(json.dumps({"greedy": {"libreoffice": {"bleu": 40.0}}}))

    def scores(bleu: float) -> dict:
        return {f"{n}_iterations": {"libreoffice": {"bleu": bleu + n, "chrf": 2 * bleu + n}} for n in (1, 10)}

    still_main = {"command": "python scripts/bench.py --stages still_main", "partial": False, "rows": {
        name: {"length beam 3": scores(bleu)} for name, bleu in
        (("cmlm_kd_still", 7.0), ("engine_still", 6.0), ("control_still", 9.0))}}
    (tmp_path / "bench_still_main.json").write_text(json.dumps({**still_main, "partial": True}))
    assert gain_points_all() == []  # a partial stage gives no point
    (tmp_path / "bench_still_main.json").write_text(json.dumps(still_main))
    (tmp_path / "bench_labels_still_confirm.json").write_text(json.dumps({
        "command": "python scripts/bench.py --benchmark labels --stages still_confirm", "partial": False,
        "starts": {"cmlm_long_still": {"bleu": 20.0, "chrf": 50.0}},
        "points": [{"start": "cmlm_long_still", "seed": seed, "engine_bleu": 21.0 + seed, "engine_chrf": 51.0,
                    "control_bleu": 22.0, "control_chrf": 50.0, "engine_bleu_10": 25.0, "engine_chrf_10": 55.0,
                    "control_bleu_10": 24.0, "control_chrf_10": 56.0} for seed in (0, 1)]}))
    (tmp_path / "bench_still_seeds.json").write_text(json.dumps({  # partial: its finished pair counts
        "command": "python scripts/bench.py --stages still_seeds", "partial": True,
        "starts": {"cmlm_kd_still": {"bleu": 10.0, "chrf": 30.0}},
        "points": [{"start": "cmlm_kd_still", "seed": 1, "engine_bleu": 9.0, "engine_chrf": 29.0,
                    "control_bleu": 11.0, "control_chrf": 33.0}]}))
    rows = [line for line in section_gain_all().splitlines()
            if line.startswith("| ") and "benchmark" not in line]
    assert rows == [
        "| A, still encoder | cmlm_kd_still | 8.00 / 15.0 | 20% of 40.0 | -1.00 / -2.0 | +2.00 / +4.0 | "
        "**-3.00 / -6.0** | -3.00 / -6.0 |",
        "| A, still encoder | cmlm_kd_still, seed 1 | 10.00 / 30.0 | 25% of 40.0 | -1.00 / -1.0 | +1.00 / +3.0 | "
        "**-2.00 / -4.0** | - |",
        "| labels, still encoder | cmlm_long_still, seed 0 | 20.00 / 50.0 | 50% of 40.0 | +1.00 / +1.0 | "
        "+2.00 / +0.0 | **-1.00 / +1.0** | +1.00 / -1.0 |",
        "| labels, still encoder | cmlm_long_still, seed 1 | 20.00 / 50.0 | 50% of 40.0 | +2.00 / +1.0 | "
        "+2.00 / +0.0 | **+0.00 / +1.0** | +1.00 / -1.0 |"]
    plot_gain_all(gain_points_all())
    assert (tmp_path / "docs" / "engine_gain_all.png").stat().st_size > 0


def test_targets_of_a_are_checked_on_the_still_encoder_students_beside_the_main_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)

    def one_pass(bleu: float) -> dict:
        return {"1_iterations": {"libreoffice": {"bleu": bleu}}}

    (tmp_path / "bench_teacher.json").write_text(json.dumps({"greedy": {"libreoffice": {"bleu": 10.0}}}))
    (tmp_path / "bench_engine.json").write_text(json.dumps({"initialised_from": "cmlm_kd", **one_pass(1.0)}))
    (tmp_path / "bench_cmlm_kd.json").write_text(json.dumps(one_pass(2.0)))
    (tmp_path / "bench_control.json").write_text(json.dumps(one_pass(3.0)))
    assert "still encoder" not in section_targets("bench_", "")  # before still_main has run
    (tmp_path / "bench_still_main.json").write_text(json.dumps({"partial": False, "rows": {
        "cmlm_kd_still": {"length beam 5": one_pass(5.0), "length beam 3": one_pass(4.0)},
        "engine_still": {"length beam 3": one_pass(9.6)}, "control_still": {"length beam 3": one_pass(9.0)}}}))
    rows = [line for line in section_targets("bench_", "").splitlines() if line.startswith("| ")]
    assert rows[0] == "| target | measured | met | still encoder (`still_main`) | met |"
    assert rows[1] == "| ENGINE >= CMLM (cmlm_kd) + 3 BLEU, 1 iteration | 1.00 vs 2.00 (-1.00) | **no** | 9.60 vs 5.00 (+4.60) | yes |"
    assert rows[3].endswith("| 9.60 vs 9.00 (+0.60) | yes |")  # above its control
    assert rows[4].endswith("| 9.6 vs 10.0 (96%) | yes |")  # the CMLM at length beam 5, the rest at 3
    # The strongest start with three seeds and fair controls, at its most steps: cmlm_max_still's 400-step curves,
    # not the stronger cmlm_peak_still (two seeds) nor cmlm_max_still's 200-step pairs.
    def curves(stage, start, start_bleu, engines):
        about = {**curve_about(start), "start": {**curve_about(start)["start"], "bleu": start_bleu}}
        return {"command": stage, "partial": False, "curves": {f"seed{seed}": {**about, "seed": seed, "points": [
            point(200, 670, bleu - 1, 8.0), point(400, 1340, bleu, 8.5)]} for seed, bleu in engines.items()}}

    for stage, data in (("still_max_budget", curves("still_max_budget", "cmlm_max_still", 6.0, {2: 9.0, 0: 9.5, 1: 10.0})),
                        ("still_peak_budget", curves("still_peak_budget", "cmlm_peak_still", 7.0, {2: 11.0, 0: 11.0}))):
        (tmp_path / f"bench_{stage}.json").write_text(json.dumps(data))
    text = section_targets("bench_", "")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert "one seed, the strongest start's columns a mean over seeds" in text
    assert rows[0].endswith("| strongest start (`cmlm_max_still`, sharp O1, 400 steps, mean of 3 seeds; its start is the "
                            "CMLM, its control CE at lr 1e-5) | met |")
    assert rows[1].endswith("| 9.50 vs 6.00 (+3.50) | yes |") and rows[3].endswith("| 9.50 vs 8.50 (+1.00) | yes |")
    assert rows[4].endswith("| 9.5 vs 10.0 (95%) | yes |")
    # A setting found after the fact gets its own columns, labelled as such, once three seeds finished.
    fast = curves("still_peak_pure_fast", "cmlm_peak_still", 7.0, {2: 8.0, 0: 9.0})
    for curve in fast["curves"].values():
        curve.update(ce_weight=0.0, learning_rate=3e-5, control_learning_rate=3e-5)
    (tmp_path / "bench_still_peak_pure_fast.json").write_text(json.dumps(fast))
    assert "after the fact" not in section_targets("bench_", "")  # two seeds
    fast["curves"]["seed1"] = {**fast["curves"]["seed0"], "seed": 1}
    (tmp_path / "bench_still_peak_pure_fast.json").write_text(json.dumps(fast))
    rows = [line for line in section_targets("bench_", "").splitlines() if line.startswith("| ")]
    assert rows[0].endswith("| setting found after the fact (`still_peak_pure_fast`: pure energy, lr 3e-05, sharp O1, "
                            "400 steps from `cmlm_peak_still`, mean of 3 seeds; its control CE at lr 3e-05) | met |")
    assert rows[1].endswith("| 9.50 vs 6.00 (+3.50) | yes | 8.67 vs 7.00 (+1.67) | **no** |")
    assert rows[3].endswith("| 8.67 vs 8.50 (+0.17) | yes |")
    # The same setting from another start gets its own columns beside it, not in place of the weaker one.
    other = curves("still_max_pure_fast", "cmlm_max_still", 6.0, {2: 9.5, 0: 8.0, 1: 8.0})
    for curve in other["curves"].values():
        curve.update(ce_weight=0.0, learning_rate=3e-5, control_learning_rate=3e-5)
    (tmp_path / "bench_still_max_pure_fast.json").write_text(json.dumps(other))
    rows = [line for line in section_targets("bench_", "").splitlines() if line.startswith("| ")]
    assert "(`still_peak_pure_fast`: pure energy" in rows[0] and rows[0].endswith(
        "| setting found after the fact (`still_max_pure_fast`: pure energy, lr 3e-05, sharp O1, 400 steps from "
        "`cmlm_max_still`, mean of 3 seeds; its control CE at lr 3e-05) | met |")
    assert rows[1].endswith("| 8.67 vs 7.00 (+1.67) | **no** | 8.50 vs 6.00 (+2.50) | **no** |")
    predicted = curves("still_peak_pure_predicted", "cmlm_peak_still", 7.0, {2: 10.0, 0: 10.0, 1: 10.0})
    for curve in predicted["curves"].values():
        curve.update(ce_weight=0.0, learning_rate=3e-5, control_learning_rate=3e-5, energy_length="predicted")
    (tmp_path / "bench_still_peak_pure_predicted.json").write_text(json.dumps(predicted))
    rows = [line for line in section_targets("bench_", "").splitlines() if line.startswith("| ")]
    assert rows[0].endswith("| setting found after the fact (`still_peak_pure_predicted`: pure energy at the predicted "
                            "lengths, lr 3e-05, sharp O1, 400 steps from `cmlm_peak_still`, mean of 3 seeds; its "
                            "control CE at lr 3e-05) | met |")
    assert rows[1].endswith("| 8.50 vs 6.00 (+2.50) | **no** | 10.00 vs 7.00 (+3.00) | yes |")


def test_readme_summary_has_one_row_per_targets_column_with_its_interval_and_command(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    assert render_summary().startswith("(no results yet")

    def one_pass(bleu: float, command: str = "", repetition: float | None = None) -> dict:
        found = {"bleu": bleu} | ({"repetition": repetition} if repetition is not None else {})
        return {"1_iterations": {"libreoffice": found}, "command": command}

    (tmp_path / "bench_teacher.json").write_text(json.dumps({"greedy": {"libreoffice": {"bleu": 10.0}}}))
    (tmp_path / "bench_engine.json").write_text(json.dumps({"initialised_from": "cmlm_kd", **one_pass(
        9.6, "python scripts/bench.py --stages engine", repetition=0.3)}))
    (tmp_path / "bench_cmlm_kd.json").write_text(json.dumps(one_pass(6.0, repetition=0.4)))
    (tmp_path / "bench_control.json").write_text(json.dumps(one_pass(9.0)))
    interval = {"difference": 3.5, "low": 2.25, "high": 4.75}
    (tmp_path / "bench_significance.json").write_text(json.dumps({"sentences": {"all": 446}, "means": {
        "engine": {"slices": {"all": {"engine_vs_start": {"bleu": interval}}}}}}))
    text = render_summary()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert "rise over all 446 test sentences, mean over seeds [95% interval]" in rows[0]
    assert rows[1] == ("| A: `engine` from `cmlm_kd` | 1 | 9.60 | 6.00 | yes | +3.60 (yes) | +3.50 [+2.25, +4.75] | +0.60 "
                       "| 0.40 -> 0.30 | 96% of 10.00 (yes) | `python scripts/bench.py --stages engine` |")
    assert "Speed" not in text  # until a still-encoder student is timed
    assert ("A's `engine` row: their `cmlm_kd` was trained before the student was seeded, so training it again "
            "(`--stages cmlm_kd --force`, then ENGINE from it) gives another draw") in text  # no weights' digest
    (tmp_path / "bench_cmlm_kd.json").write_text(json.dumps({**one_pass(6.0), "model_sha256": "ab12"}))
    assert "| +0.60 | - | 96% of 10.00" in render_summary()  # no repetition recorded for the start: said so
    assert "before the student was seeded" not in render_summary()
    assert seeding_said("bench_", "") == "Seed 0 everywhere."

    def speed(name: str, ratio: float, encoder_ms: float) -> None:
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "command": f"python scripts/bench_speed.py --output results/{name}.json", "repeats": 5,
            "hardware": "2 CPU cores", "student": f"runs/{name}", "batch1_components_ms": {"student encoder": encoder_ms},
            "results": {"batch_1": {"NAT 1 iteration, length beam 1": {"speedup_vs_teacher_greedy": ratio}}}}))

    speed("speed_still", 5.1, 5.6)
    assert "**5.10x** (yes), A's still-encoder ENGINE (`runs/speed_still`)" in render_summary()
    speed("speed_targets", 4.2, 2.8)  # the targets' own student, timed later, reads the verdict
    text = render_summary()
    assert ("**4.20x** (**no**), A's still-encoder ENGINE (`runs/speed_targets`) against its teacher on the same "
            "sentences and threads, 5 repeats (timed one system after another: the ratio of the median times; 2 CPU "
            "cores)") in text
    assert ("An earlier run (`speed_still`, another student of the same architecture) measured 5.10x on a host where "
            "the student's encoder took 5.6 ms at batch 1, against 2.8 ms in `speed_targets`") in text


def test_confirm_table_gives_each_seed_its_own_difference_and_the_mean_per_start():
    def point(start, seed, engine, control):
        return {"start": start, "seed": seed, "engine_bleu": engine, "engine_chrf": 30.0, "engine_repetition": 0.1,
                "control_bleu": control, "control_chrf": 31.0, "control_repetition": 0.2}

    data = {"setting": "engine (lr 1e-05, ce_weight 0)", "selected_on": "dev BLEU (sweep stage)", "energy_steps": 200,
            "starts": {"cmlm_kd": {"bleu": 4.0, "chrf": 30.0, "repetition": 0.3},
                       "cmlm_long": {"bleu": 9.0, "chrf": 40.0, "repetition": 0.2}},
            "points": [point("cmlm_kd", 1, 6.0, 5.0), point("cmlm_kd", 0, 4.0, 5.0), point("cmlm_long", 0, 9.5, 9.0)]}
    text = section_confirm(data)
    assert "| cmlm_kd | 0 | 4.00 / 30.0 / 0.30 | 4.00 / 30.0 / 0.10 | 5.00 / 31.0 / 0.20 | -1.00 / -1.0 |" in text
    assert "from cmlm_kd: ENGINE - control = +0.00 BLEU (sd 1.41), -1.0 chrF on average over 2 seed(s); ENGINE " \
           "above the control in BLEU in 1 of 2" in text
    assert "from cmlm_long: ENGINE - control = +0.50 BLEU, -1.0 chrF on average over 1 seed(s)" in text
    assert "teacher energy" not in text  # these points predate it
    for p in data["points"]:
        p.update(engine_teacher_energy=5.0, control_teacher_energy=5.5)
    for start in data["starts"].values():
        start["teacher_energy"] = 6.0
    text = section_confirm(data)
    assert "| cmlm_kd | 0 | 4.00 / 30.0 / 0.30 / 6.00 | 4.00 / 30.0 / 0.10 / 5.00 | 5.00 / 31.0 / 0.20 / 5.50 |" in text
    assert "teacher energy ENGINE - control -0.50 nats/token, ENGINE lower in 2 of 2" in text


def test_speed_runs_table_sets_sequential_and_interleaved_runs_side_by_side_with_the_spread(tmp_path, monkeypatch):
    """The run-to-run table: one row per speed file of `make bench`'s ENGINE, the per-repeat lowest and highest ratio
    where the repeats were interleaved; the speed table of an interleaved run names the method under it."""
    from bench_tables.measurements import section_speed, section_speed_runs

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    (tmp_path / "fresh").mkdir()

    def speed(name: str, ratios: list[float] | None) -> None:
        nat = {"seconds_per_sentence": 0.015, "sentences_per_second": 66.7, "mean_output_tokens": 8.7,
               "speedup_vs_teacher_greedy": 5.29 if ratios is None else sorted(ratios)[len(ratios) // 2]}
        if ratios:
            nat["speedup_vs_teacher_greedy_per_repeat"] = ratios
        teacher = {"seconds_per_sentence": 0.08, "sentences_per_second": 12.5, "speedup_vs_teacher_greedy": 1.0}
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "command": f"python scripts/bench_speed.py --output results/{name}.json", "repeats": len(ratios or "abc"),
            "hardware": "2 CPU cores", "threads": 2, "student": "runs/fresh/bench/engine",
            "results": {f"batch_{b}": {"teacher greedy": teacher,
                                       "NAT 1 iteration, length beam 1": {**nat, "sentences": 24 if b == 1 else 64}}
                        for b in (1, 64)}}))

    speed("fresh/speed", None)
    assert section_speed_runs() is None  # one run alone moves nowhere
    speed("speed_interleaved", [4.8, 5.1, 4.9, 5.4, 5.0])
    text = section_speed_runs()
    assert ("| `fresh/speed` | `runs/fresh/bench/engine` | 2 CPU cores | 3 | one system after another | 24 / 64 | 80.0 "
            "| 15.0 | 8.7 | 5.29x | 5.29x |") in text
    assert "| 5 | interleaved | 24 / 64 | 80.0 | 15.0 | 8.7 | 5.00x (4.80-5.40) | 5.00x (4.80-5.40) |" in text
    assert "*`speed_interleaved`: `python scripts/bench_speed.py --output results/speed_interleaved.json`.*" in text
    table = section_speed("speed_interleaved")
    assert "vs teacher greedy (median; lowest-highest repeat)" in table and "| 5.00x (4.80-5.40) |" in table
    assert "Interleaved repeats" in table and "Interleaved repeats" not in section_speed("fresh/speed")


def test_summary_adds_the_interleaved_speed_runs_with_their_spread(tmp_path, monkeypatch):
    """The README's speed paragraph gains one line for the interleaved runs: each run's median and lowest and highest
    repeat, and what sets them apart from the verdict's run (output length, the host's teacher time), without a
    verdict of their own; a run timed one system after another adds nothing there."""
    from bench_tables.targets import interleaved_speed_summary

    monkeypatch.setattr(common, "RESULTS", tmp_path)

    def speed(name: str, ratios: list[float] | None, teacher_ms: float, tokens: float) -> dict:
        nat = {"speedup_vs_teacher_greedy": 5.29 if ratios is None else sorted(ratios)[len(ratios) // 2],
               "mean_output_tokens": tokens}
        if ratios:
            nat["speedup_vs_teacher_greedy_per_repeat"] = ratios
        data = {"command": f"python scripts/bench_speed.py --output results/{name}.json",
                "student": "runs/fresh/bench/engine", "hardware": "2 CPU cores",
                "results": {"batch_1": {"NAT 1 iteration, length beam 1": nat,
                                        "teacher greedy": {"seconds_per_sentence": teacher_ms / 1000}}}}
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
        return data

    (tmp_path / "fresh").mkdir()
    verdict_run = speed("speed_targets", None, 38.5, 9.9)
    speed("fresh/speed", None, 82.6, 8.7)
    assert interleaved_speed_summary(verdict_run) == ""
    speed("speed_interleaved", [5.5, 4.9, 6.7], 86.5, 8.7)
    speed("speed_interleaved_again", [4.7, 4.8, 5.2], 83.2, 8.7)
    text = interleaved_speed_summary(verdict_run)
    assert ("2 more runs, timed with interleaved repeats" in text and "do not change that verdict: they time "
            "`make bench`'s weak ENGINE (`runs/fresh/bench/engine`, the same architecture, 8.7 output tokens a sentence "
            "against the verdict's student's 9.9) on a host that ran teacher greedy at 86.5 and 83.2 ms a sentence, "
            "against 38.5 in the verdict's run, and give **5.50x** (4.90x to 6.70x over 3 repeats) and **4.80x** "
            "(4.70x to 5.20x over 3 repeats) (2 CPU cores; `python scripts/bench_speed.py --output "
            "results/speed_interleaved.json`;") in text
    assert "(yes)" not in text and "(**no**)" not in text


def test_speed_tables_refuse_a_file_timed_on_another_device(tmp_path, monkeypatch):
    """A GPU run must not land in a CPU table (nor decide the CPU target), nor a CPU run in the GPU table."""
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    row = {"seconds_per_sentence": 0.01, "sentences_per_second": 100.0, "speedup_vs_teacher_greedy": 5.5}
    speed = {"command": "python scripts/bench_speed.py --device cuda", "hardware": "1 GPU", "threads": 2,
             "results": {"batch_1": {"NAT 1 iteration, length beam 1": row}}}
    (tmp_path / "speed.json").write_text(json.dumps({**speed, "device": "cuda:0"}))
    with pytest.raises(ValueError, match=r"results/speed.json was timed on cuda, but its table is for cpu: time it "
                                         r"again with `--device cpu`, or write the cuda run to its own file"):
        section_speed()
    (tmp_path / "speed_gpu.json").write_text(json.dumps({**speed, "device": "cuda"}))
    assert "| batch 1 | NAT 1 iteration, length beam 1 | 10.0 | 100.0 | 5.50x |" in section_speed("speed_gpu", "GPU", "cuda")
    (tmp_path / "speed.json").write_text(json.dumps(speed))  # no device recorded: from before --device, the CPU
    assert "5.50x" in section_speed()
    with pytest.raises(ValueError, match="timed on cpu, but its table is for cuda"):
        section_speed("speed", "GPU", "cuda")
