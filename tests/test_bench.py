"""The benchmark plumbing: where each benchmark's results go, its missing-teacher error, and its README tables."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import re
import shutil
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from transformers import TrainerControl, TrainerState

import bench_stages as bench
from bench_stages import first_recipe, settings
from bench_stages import labels as labels_stages
from bench_stages import targets as target_stages

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench_script = load_script("bench")
make_tables = load_script("make_tables")


def make_bench(tmp_path: Path, benchmark: str, quick: bool = True):
    args = argparse.Namespace(quick=quick, benchmark=benchmark, runs_dir=str(tmp_path / "runs"),
                              results_dir=str(tmp_path / "results"), teacher=None)
    return bench.Bench(args)



def test_the_script_describes_every_stage_and_bench_runs_it():
    """`python scripts/bench.py --help` prints the script's docstring: each stage of STAGES is named there, and
    `Bench` has the method the script calls for it."""
    for stage in bench_script.STAGES:
        assert callable(getattr(bench_script.Bench, f"stage_{stage}", None)), stage
        assert re.search(rf"^  {stage}\b|, {stage}\b", bench_script.__doc__, re.M), stage

def test_each_benchmark_has_its_own_runs_and_results(tmp_path):
    a, b = make_bench(tmp_path, "a", quick=False), make_bench(tmp_path, "b")
    assert a.result_path("engine").name == "bench_engine.json" and a.root.name == "bench"
    assert b.result_path("engine").name == "bench_b_engine_quick.json" and b.root.name == "bench-b-quick"
    assert (b.data().src_lang, b.data().tgt_lang) == ("de", "en")
    # B's student takes the teacher's encoder shape; A pins the Firefox model's six encoder layers.
    assert "encoder_layers" not in b.benchmark.student_config
    assert a.benchmark.student_config.startswith("encoder_layers=6,")


def test_benchmark_b_without_its_teacher_says_how_to_train_it(tmp_path):
    with pytest.raises(SystemExit, match=r"scripts/train_teacher.py --quick"):
        _ = make_bench(tmp_path, "b").teacher_dir


HISTORY = [  # a Trainer log history: eval_on_start at step 0, logs and evaluations every 25 steps
    {"eval_loss": 9.44, "step": 0},
    {"loss": 12.345678, "energy": 7.8181, "ce_loss": 4.1719, "learning_rate": 1e-5, "step": 25},
    {"eval_loss": 9.5, "step": 25},
    {"loss": 11.9, "energy": 7.5, "ce_loss": 4.2, "step": 50},
    {"eval_loss": 9.31, "step": 50},
    {"eval_loss": 9.29, "step": 50},  # a resumed run re-scoring its resumed step: not the run's own value
    {"train_runtime": 30.0, "step": 50},
]


def test_training_log_keeps_the_logged_losses_only():
    assert bench.training_log(HISTORY) == [{"step": 25, "energy": 7.8181, "ce_loss": 4.1719, "loss": 12.3457},
                                           {"step": 50, "energy": 7.5, "ce_loss": 4.2, "loss": 11.9}]


def test_dev_curve_has_one_point_per_step_including_the_start():
    assert bench.dev_curve(HISTORY) == [{"step": 0, "dev_discrete_energy": 9.44},
                                        {"step": 25, "dev_discrete_energy": 9.5},
                                        {"step": 50, "dev_discrete_energy": 9.31}]


def test_log_history_is_read_at_the_end_of_training_and_times_the_training_loop(monkeypatch):
    callback = bench.LogHistory()
    clock = iter([100.0, 142.5])
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    callback.on_train_begin(None, None, None)
    callback.on_train_end(None, argparse.Namespace(log_history=HISTORY, global_step=37), None)
    assert callback.history == HISTORY and callback.history is not HISTORY
    assert (callback.seconds, callback.steps) == (42.5, 37)


def test_benchmark_b_copies_its_teacher_once_and_records_its_step(tmp_path):
    source = tmp_path / "runs" / "teacher-de-en-quick"
    source.mkdir(parents=True)
    (source / "config.json").write_text("{}")
    (source / "engine_hf_sessions.json").write_text(json.dumps([{"steps": 600}, {"steps": 5000}]))
    (source / "checkpoint-4800").mkdir()
    b = make_bench(tmp_path, "b")
    assert b.teacher_dir == b.root / "teacher" and (b.teacher_dir / "config.json").exists()
    assert not (b.teacher_dir / "checkpoint-4800").exists()
    assert b.teacher_record() == {"teacher": {"source": str(source), "steps": 5000}}
    (source / "engine_hf_sessions.json").write_text(json.dumps([{"steps": 9000}]))  # the teacher trains on
    assert make_bench(tmp_path, "b").teacher_record()["teacher"]["steps"] == 5000


def scores(bleu: float) -> dict:
    return {"bleu": bleu, "chrf": 2 * bleu, "repetition": 0.1, "teacher_energy": 3.0}


def test_benchmark_b_tables_have_no_bible_columns_and_name_their_command(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path)
    common = {"scale": {"cmlm_steps": 30}, "hardware": "2 CPU cores, no GPU"}
    files = {
        "bench_b_teacher": {"greedy": {"libreoffice": scores(30.0)}, "beam4": {"libreoffice": scores(31.0)}},
        "bench_b_engine": {"initialised_from": "cmlm_kd", "1_iterations": {"libreoffice": scores(20.0)},
                           "10_iterations": {"libreoffice": scores(25.0)}},
        "bench_b_cmlm_kd": {"1_iterations": {"libreoffice": scores(18.0)}, "10_iterations": {"libreoffice": scores(24.0)}},
    }
    for name, payload in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({**common, **payload}))
    text = make_tables.section_bench("bench_b_", "", "Benchmark B")
    header = next(line for line in text.splitlines() if line.startswith("| system"))
    assert "Bible" not in header and header.count("|") == 7
    assert "| teacher greedy | - | 30.0 | 60.0 | 0.10 | 3.00 |" in text
    assert "| ENGINE above the distilled CMLM, 1 iteration | 20.00 vs 18.00 (+2.00) | yes |" in text
    assert "`python scripts/bench.py --benchmark b --stages STAGE`" in text
    assert make_tables.section_bench("bench_", "", "Benchmark A") is None  # A's results are elsewhere


def test_compute_table_sums_recorded_training_time_per_benchmark_without_double_counting(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path)
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
    text = make_tables.section_compute()
    assert "| A, the still-encoder line (`still_*`, `distill_all`) | 3 of 3 | 2.03 | `still_more_sharp` (1.00 h) |" in text
    assert "| A, the rest | 2 of 3 | 1.50 | `cmlm_kd` (1.00 h) |" in text
    assert "| B | 1 of 1 | 2.00 | `cmlm_kd` (2.00 h) |" in text
    assert "labels" not in text.split("\n\n")[1]  # nothing timed there


def test_dev_curve_table_puts_both_energies_of_a_step_on_one_row():
    data = {"scale": {"logging_steps": 25}, "selected_step": 0,
            "dev_curve": [{"step": 0, "dev_discrete_energy": 9.44}, {"step": 25, "dev_discrete_energy": 9.5}],
            "train_log": [{"step": 25, "energy": 7.8181, "ce_loss": 4.1719, "loss": 12.3}]}
    text = make_tables.section_dev_curve(data)
    assert "| 0 | 9.440 | - | - |" in text  # the starting CMLM: scored, not trained
    assert "| 25 | 9.500 | 7.818 | 4.172 |" in text
    assert "Selected: step 0." in text


def test_pairwise_agreement_counts_only_sources_where_outputs_and_chrf_differ():
    hyps_a, hyps_b = ["x", "same", "p", "q", "r"], ["y", "same", "s", "t", "u"]
    energy_a, energy_b = [1.0, 2.0, 3.0, 1.0, 5.0], [2.0, 2.0, 1.0, 4.0, 1.0]
    chrf_a, chrf_b = [50.0, 40.0, 10.0, 30.0, 20.0], [40.0, 40.0, 20.0, 30.0, 10.0]
    # source 0: a lower energy, a higher chrF (agree); 1: same output; 2: b lower, b higher (agree);
    # 3: chrF tie; 4: b lower energy but a higher chrF (disagree)
    got = bench.pairwise_agreement(hyps_a, hyps_b, energy_a, energy_b, chrf_a, chrf_b)
    assert got == {"compared": 3, "agree": 2, "agreement": 2 / 3}
    none = bench.pairwise_agreement(["s"], ["s"], [1.0], [2.0], [1.0], [2.0])
    assert none == {"compared": 0, "agree": 0, "agreement": None}
    pooled = bench.pooled_agreement(pair for pair in (got, none, {"compared": 1, "agree": 1, "agreement": 1.0}))
    assert pooled == {"compared": 4, "agree": 3, "agreement": 0.75}


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
    text = make_tables.section_rescoring(data)
    assert "| start `0` | 1 | 1.00 / 10.0 | 5.00 / 20.0 | 8.00 / 23.0 | 5.00 / 20.0 | 8.00 / 23.0 |" in text
    assert "| ENGINE `0` | 10 | 1.00 / 10.0 | 6.00 / 20.0 | 5.00 / 23.0 |" in text
    # (+3 and -1 BLEU) / 2 models; chrF +3 for both; one of the two models gains BLEU
    assert ("1 iteration(s), length beam 3: teacher picks - student picks = +1.00 BLEU, +3.0 chrF on average over 2 "
            "models; higher BLEU for 1 of 2") in text
    assert "unfinished" in make_tables.section_rescoring({**data, "partial": True})
    assert "confirm's" not in text  # no ENGINE/control pair of one start and seed
    pair = {"ENGINE (confirm, cmlm_long, seed 0)": grid(6.0, 9.5), "control (confirm, cmlm_long, seed 0)": grid(5.0, 8.0),
            "ENGINE (confirm, cmlm_long, seed 1)": grid(4.0, 8.5)}  # seed 1 has no control: not a pair
    lines = make_tables.rescored_pairs(pair)
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
    text = make_tables.section_ranking(data)
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
    text = make_tables.section_budget(data, "engine_budget_b.png")
    assert "| 0 | 0 | 2.00 / 16.0 / 0.40 / 3.97 | 0 | 2.00 / 16.0 / 0.40 / 3.97 | - |" in text
    assert "| 200 | 347 | 2.36 / 4.7 / 0.50 / 3.50 | 468 | 2.25 / 4.5 / 0.50 / 3.50 | +0.11 / +0.2 |" in text
    assert "| 400 | 695 | 2.00 / 4.0 / 0.50 / 3.50 | 940 | 2.50 / 5.0 / 0.50 / 3.50 | -0.50 / -1.0 |" in text
    assert "](engine_budget_b.png)" in text
    assert "the engine stage's settings, lr 1e-05" in text
    assert "(`budget`: O1 temperature 0.25, lr 1e-05" in make_tables.section_budget(
        {**data, "o1_temperature": 0.25}, "x.png")
    assert "unfinished" in make_tables.section_budget({"partial": True}, "x.png")
    assert make_tables.plot_name("bench_b_", "", "engine_budget") == "engine_budget_b.png"
    assert make_tables.plot_name("bench_", "_quick") == "engine_gain_quick.png"


def fake_curve_training(bench_run, monkeypatch, control_steps) -> list[dict]:
    """`compute_curve`'s two trainings faked on `bench_run`: ENGINE's clock ticks 0.01 s a step; each control, told
    to save at ENGINE's checkpoint times and stop at its last, saves at `control_steps(seed)[:-1]` and ends at the
    last (`control_steps` may raise, as a killed run). Returns every call in order: `run` (engine or control), `out`
    (relative to the runs folder), `start`, `dropout` (the encoder's), the recipe's keyword arguments, and for ENGINE
    `steps`, for a control what it was told (`stop` seconds, `pending` save times)."""
    calls = []

    def train_energy(out, start, steps, clock=None, **kwargs):
        calls.append({"run": "engine", "out": out.relative_to(bench_run.root).as_posix(), "start": start.name,
                      "steps": steps, "dropout": bench_run.encoder_dropout, **kwargs})
        out.mkdir(parents=True, exist_ok=True)
        clock.elapsed = {step: step / 100 for step in range(1, steps + 1)}
        return steps / 100, []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        saver, stop, clock = callbacks
        calls.append({"run": "control", "out": out.relative_to(bench_run.root).as_posix(),
                      "start": Path(student_model).name, "dropout": bench_run.encoder_dropout, "stop": stop.seconds,
                      "pending": list(saver.pending), **kwargs})
        out.mkdir(parents=True, exist_ok=True)
        *saver.saved_steps, clock.steps = control_steps(kwargs.get("seed"))
        clock.seconds = stop.seconds

    monkeypatch.setattr(bench_run, "train_energy", train_energy)
    monkeypatch.setattr(bench_run, "train_cmlm", train_cmlm)
    return calls


def picked(calls: list[dict], run: str, *keys: str) -> list[tuple]:
    """The given fields of each `run` call of `fake_curve_training`."""
    return [tuple(call[key] for key in keys) for call in calls if call["run"] == run]


def test_budget_on_labels_runs_the_sharp_setting_from_cmlm_long_and_elsewhere_the_engine_stages(tmp_path,
                                                                                                   monkeypatch):
    def evaluate(model, **kwargs):
        return {"libreoffice": {"bleu": 1.0, "chrf": 2.0, "repetition": 0.1, "teacher_energy": 3.0}}

    runs = []
    for name, start in (("labels", "cmlm_long"), ("short", "cmlm_kd")):
        bench = make_bench(tmp_path / name, name, quick=False)
        (bench.root / start).mkdir(parents=True)
        (bench.root / start / "config.json").write_text("{}")
        bench.write("engine", {"initialised_from": "cmlm_kd"})
        calls = fake_curve_training(bench, monkeypatch, lambda seed: [5, 10, 15, 20])
        monkeypatch.setattr(bench, "evaluate", evaluate)
        bench.stage_budget()
        result = bench.read("budget")
        assert result["initialised_from"] == start and not result["partial"]
        assert [p["control_step"] for p in result["points"]] == [5, 10, 15, 20]
        assert picked(calls, "control", "stop", "pending") == [(8.0, [2.0, 4.0, 6.0])]
        runs += picked(calls, "engine", "start", "steps", "learning_rate", "o1_temperature", "save_steps")
    assert runs == [("cmlm_long", 800, 1e-5, 0.25, 200), ("cmlm_kd", 800, 1e-5, 1.0, 200)]


@pytest.mark.parametrize(("stage", "start", "built_by", "control_lr"),
                         [("still_budget", "cmlm_long_still", "still_long", 1e-4),
                          ("still_most_budget", "cmlm_most_still", "still_most", 1e-5)])
def test_still_budgets_run_a_sharp_seed_2_pair_four_times_as_long_with_the_still_encoder(tmp_path, monkeypatch, stage,
                                                                                         start, built_by, control_lr):
    def evaluate(model, split="test", **kwargs):
        assert kwargs == {**settings.CONFIRM_TEST, "num_iterations": kwargs["num_iterations"]}
        scored.append((model.name, kwargs["num_iterations"] if split == "test" else split))
        return {"libreoffice": {"bleu": 11.0 + kwargs["num_iterations"], "chrf": 41.0, "repetition": 0.1,
                                "teacher_energy": 3.0}}

    scored = []
    bench_a = make_bench(tmp_path, "a", quick=False)
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index(built_by)
    with pytest.raises(SystemExit, match=f"--rebuild {start}"):
        getattr(bench_a, f"stage_{stage}")()  # its start is not there yet
    (bench_a.root / start).mkdir(parents=True)
    (bench_a.root / start / "config.json").write_text("{}")
    calls = fake_curve_training(bench_a, monkeypatch, lambda seed: [5, 10, 15, 20])
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    run = [(start, 800, 0.25, 200, 2, False)]
    assert picked(calls, "engine", "start", "steps", "o1_temperature", "save_steps", "seed", "dropout") == run
    assert picked(calls, "control", "start", "seed", "learning_rate", "lr_scheduler_type", "dropout", "stop",
                  "pending") == [(start, 2, control_lr, "constant", False, 8.0, [2.0, 4.0, 6.0])]
    assert bench_a.encoder_dropout
    assert result["seed"] == 2 and result["initialised_from"] == start and not result["partial"]
    assert result["control_learning_rate"] == control_lr
    assert [p["control_step"] for p in result["points"]] == [5, 10, 15, 20]
    assert len(scored) == 3 * 9 and result["points"][-1]["engine_bleu_10"] == 21.0 == result["start"]["bleu_10"]
    assert result["points"][0]["control_bleu_dev"] == 12.0 and scored.count(("checkpoint-5", "validation")) == 1
    # --force on a result from before the ten-iteration and dev scores adds them and keeps the one-iteration ones.
    older = {**result, "start": {"bleu": 9.0, "chrf": 40.0, "repetition": 0.2, "teacher_energy": 3.5},
             "points": [{k: v for k, v in p.items() if not k.endswith(("_10", "_dev"))} | {"engine_bleu": 13.0}
                        for p in result["points"]]}
    bench_a.write(stage, older)
    scored.clear()
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    assert sorted(map(str, (n for _, n in scored))) == ["10"] * 9 + ["validation"] * 9
    assert picked(calls, "engine", "start", "steps", "o1_temperature", "save_steps", "seed", "dropout") == run
    assert result["start"]["bleu"] == 9.0 and result["points"][0]["engine_bleu"] == 13.0
    assert result["points"][0]["engine_bleu_10"] == 21.0 and not result["partial"]
    text = make_tables.section_budget(result, "x.png", stage)
    assert "| 0 | 0 | 9.00 / 40.0 / 0.20 / 3.50 | 0 | 9.00 / 40.0 / 0.20 / 3.50 | - | 21.00 / 41.0 | 21.00 / 41.0 | - |" \
        in text and "| 200 | 2 | 13.00 / 41.0 / 0.10 / 3.00 | 5 | 12.00 / " in text and "| +1.00 / +0.0 | 21.00 / 41.0 |" in text
    # The table checks the first checkpoint against the sharp stage's pair of the same seed.
    result = {**result, "points": [p | {"engine_bleu": 11.0} for p in result["points"]]}
    replica = {"seed": 2, "engine_bleu": 11.0, "engine_chrf": 41.0, "control_bleu": 10.2, "control_chrf": 40.1,
               "control_steps": 870}
    text = make_tables.section_budget(result, f"engine_{stage}.png", stage, replica)
    assert (f"(`{stage}`: O1 temperature 0.25, lr 1e-05, `ce_weight` 1, 800 energy steps from {start}, seed 2, "
            f"scored every 200; one control run (CE, lr {control_lr:g})") in text
    assert ("The 200-step ENGINE checkpoint scores 11.00 / 41.0; the matched pair of the same start and seed scored "
            "11.00 / 41.0 (the same run again), and its control 10.20 / 40.1 after 870 CE steps.") in text
    assert "not the same" in make_tables.section_budget(result, "x.png", stage, {**replica, "engine_bleu": 11.1})
    assert "scored 9.90" not in text
    slow = {"seed": 2, "control_bleu": 9.9, "control_chrf": 40.5, "control_steps": 830}
    assert ("The control's first checkpoint (5 CE steps at lr 1e-05) scores 12.00 / 41.0; `still_most_slow`'s control "
            "of the same start, seed and lr scored 9.90 / 40.5 after 830 steps in its pair's wall time.") in \
        make_tables.section_budget({**result, "control_learning_rate": 1e-5}, "x.png", stage, replica,
                                   ("still_most_slow", slow))
    assert make_tables.plot_name("bench_", "", f"engine_{stage}") == f"engine_{stage}.png"


@pytest.mark.parametrize("stage, after, start, seeds", [
    ("still_most_budget_seeds", "still_most_budget", "cmlm_most_still", (0, 1)),
    ("still_max_budget", "still_max_slow", "cmlm_max_still", (2, 0, 1)),
    ("still_peak_budget", "still_peak", "cmlm_peak_still", (2, 0, 1)),
    ("still_peak_pure", "still_peak_budget", "cmlm_peak_still", (2, 0, 1))])
def test_budget_seeds_stages_run_one_400_step_curve_per_seed_in_one_stage(tmp_path, monkeypatch, stage, after, start,
                                                                          seeds):
    """Each seed: ENGINE (sharp O1, lr 1e-5) for 400 steps saved every 200, then its CE control at lr 1e-5 told to
    save at ENGINE's 200-step time and stop at its 400-step one; a kill during the last seed's control keeps the
    finished curves and reruns only that control."""
    scored = []
    last = seeds[-1]

    def control_steps(seed):
        if seed == last and fail_last:
            raise KeyboardInterrupt  # killed during the last seed's control: the earlier curves are kept
        return [7 + seed, 15]

    def evaluate(model, split="test", **kwargs):
        scored.append(model.as_posix())
        return {"libreoffice": {"bleu": 11.0, "chrf": 41.0, "repetition": 0.1, "teacher_energy": 3.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index(after)
    (bench_a.root / start).mkdir(parents=True)
    (bench_a.root / start / "config.json").write_text("{}")
    calls = fake_curve_training(bench_a, monkeypatch, control_steps)
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    fail_last = True
    with pytest.raises(KeyboardInterrupt):
        getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    assert result["partial"] and not bench_a.done(stage)
    assert [result["curves"][f"seed{seed}"]["partial"] for seed in seeds] == [False] * (len(seeds) - 1) + [True]
    fail_last, scored[:] = False, []
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    assert bench_a.done(stage) and sorted(result["curves"]) == sorted(f"seed{seed}" for seed in seeds)
    ce_weight = 0.0 if stage == "still_peak_pure" else 1.0  # the paper's pure energy against the mixed one
    assert picked(calls, "engine", "out", "start", "steps", "o1_temperature", "ce_weight", "learning_rate", "save_steps",
                  "seed", "dropout") == [
        (f"{stage}/seed{seed}/engine", start, 400, 0.25, ce_weight, 1e-5, 200, seed, False) for seed in seeds]
    last_control = (f"{stage}/seed{last}/control", last, 1e-5, "constant", 4.0, [2.0])  # run again after the kill
    assert picked(calls, "control", "out", "seed", "learning_rate", "lr_scheduler_type", "stop", "pending") == [
        *((f"{stage}/seed{seed}/control", seed, 1e-5, "constant", 4.0, [2.0]) for seed in seeds[:-1]),
        last_control, last_control]
    for seed in seeds:
        curve = result["curves"][f"seed{seed}"]
        assert curve["seed"] == seed and curve["energy_steps"] == 400 and curve["checkpoint_every"] == 200
        assert curve["control_learning_rate"] == 1e-5 and not curve["partial"] and curve["initialised_from"] == start
        assert [(p["engine_step"], p["control_step"]) for p in curve["points"]] == [(200, 7 + seed), (400, 15)]
    rescored = "".join(scored)
    assert f"{stage}/seed{last}/control/checkpoint-{7 + last}" in rescored
    assert not any(f"{stage}/seed{seed}/" in rescored for seed in seeds[:-1])


def point(step, control_step, engine_bleu, control_bleu, engine_dev=10.0, control_dev=10.0):
    """One checkpoint of a compute curve as `compute_curve` records it (chrF 45, ten iterations 25 + BLEU / 10)."""
    return {"engine_step": step, "seconds": step * 3.2, "control_step": control_step,
            **{f"{who}_{m}{suffix}": value for who, bleu in (("engine", engine_bleu), ("control", control_bleu))
               for suffix, m, value in (("", "bleu", bleu), ("", "chrf", 45.0), ("", "repetition", 0.33),
                                        ("", "teacher_energy", 5.2), ("_10", "bleu", 25.0 + bleu / 10),
                                        ("_10", "chrf", 56.0), ("_dev", "bleu", 0.0))},
            "engine_bleu_dev": engine_dev, "control_bleu_dev": control_dev}


def curve_about(initialised_from):
    """A 400-step sharp-O1 curve's setting and its start's scores (13.5 BLEU at one pass, 11.0 on dev)."""
    start = {"bleu": 13.5, "chrf": 45.3, "repetition": 0.35, "teacher_energy": 5.64, "bleu_10": 25.64, "chrf_10": 56.7,
             "bleu_dev": 11.0}
    return {"o1_temperature": 0.25, "learning_rate": 1e-5, "ce_weight": 1.0, "energy_steps": 400,
            "checkpoint_every": 200, "initialised_from": initialised_from, "control_learning_rate": 1e-5,
            "start": start}


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
    text = make_tables.section_budget_seeds(data, seed_2, sharp, slow)
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
    assert "unfinished" in make_tables.section_budget_seeds({"partial": True}, seed_2, sharp, slow)


def test_the_seeds_table_of_still_max_budget_names_its_own_start_and_200_step_runs_and_borrows_no_seed():
    about = curve_about("cmlm_max_still")
    data = {"command": "python scripts/bench.py --stages still_max_budget", "partial": False, "curves": {
        f"seed{seed}": {**about, "seed": seed, "points": [point(200, 660, 15.0 + seed / 10, 14.0),
                                                          point(400, 1320, 15.2, 14.2, 12.0)]} for seed in (2, 0)}}
    sharp = {"points": [{"seed": s, "engine_bleu": 15.0 + s / 10, "engine_chrf": 45.0} for s in (0, 1, 2)]}
    slow = {"points": [{"seed": s, "control_bleu": 14.1, "control_chrf": 45.1, "control_steps": 655} for s in (0, 1, 2)]}
    text = make_tables.section_budget_seeds(data, None, sharp, slow, stage="still_max_budget")
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
    assert make_tables.section_budget_seeds({"partial": True}, None, sharp, slow, stage="still_max_budget") == (
        "**The sharp O1's edge from its start at 200 and 400 steps, over seeds** (`still_max_budget`): **unfinished**, "
        "the stage resumes where it stopped.")
    one_so_far = {**data, "partial": True, "curves": {**data["curves"], "seed1": {"partial": True}}}
    text = make_tables.section_budget_seeds(one_so_far, None, sharp, slow, stage="still_max_budget")
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
    text = make_tables.section_budget_seeds(pure, None, None, None, stage="still_peak_pure",
                                            against=(mixed, "still_peak_budget"))
    assert text.startswith("**Pure energy (`ce_weight` 0) with the sharp O1 at lr 1e-05 from `cmlm_peak_still` at 200 "
                           "and 400 steps, over seeds** (`still_peak_pure`: O1 temperature 0.25, lr 1e-05, `ce_weight` 0,")
    assert ("Against `still_peak_budget` (the same start, O1 and steps; `ce_weight` 1 where this stage has 0), mean "
            "over 1 seed (2):\n\n- 200 energy steps: this stage - `still_peak_budget` +0.50 BLEU / +0.0 chrF at one "
            "iteration, +0.05 BLEU at ten; teacher energy 4.00 against 5.00, repetition 0.33 against 0.33; the controls "
            "reached 600 against 680 CE steps\n- 400 energy steps: this stage - `still_peak_budget` +0.50 BLEU / +0.0 "
            "chrF at one iteration, +0.05 BLEU at ten; teacher energy 2.00 against 2.50") in text
    assert text.endswith("*Command: `python scripts/bench.py --stages s0`. Hardware: ?, ? thread(s).*")
    assert "Against `" not in make_tables.section_budget_seeds(pure, None, None, None, stage="still_peak_pure",
                                                               against=(None, "still_peak_budget"))
    assert make_tables.section_budget_seeds({"partial": True}, None, None, None, stage="still_peak_pure",
                                            against=(mixed, "still_peak_budget")).startswith(
        "**The sharp O1's edge from its start at 200 and 400 steps, over seeds** (`still_peak_pure`): **unfinished**")
    # A larger lr beside a smaller one, both pure: the lr is what differs.
    fast = stage(0.0, (15.5,), (650,), 3.0)
    for curve in fast["curves"].values():
        curve["learning_rate"] = 3e-5
    text = make_tables.section_budget_seeds(fast, None, None, None, stage="still_peak_pure_fast",
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
    points = make_tables.rise_points(stages)
    assert sorted((q["start"], q["steps"], q["seed"], q["engine_bleu"], q.get("control_bleu")) for q in points) == [
        ("cmlm_long_still", 200, 0, 11.3, None), ("cmlm_long_still", 200, 2, 11.5, None),
        ("cmlm_max_still", 200, 0, 15.3, None), ("cmlm_max_still", 200, 2, 15.5, 14.0),
        ("cmlm_max_still", 400, 0, 16.0, 14.5), ("cmlm_max_still", 400, 2, 16.2, 14.5),
        ("cmlm_peak_still", 200, 2, 15.7, 14.7), ("cmlm_peak_still", 400, 2, 16.7, 14.9)]
    text = make_tables.section_rise_by_start(points, "engine_rise_by_start.png")
    rows = [line for line in text.splitlines() if line.startswith("| cmlm")]
    assert [row.split(" | ")[:4] for row in rows] == [
        ["| cmlm_long_still", "11.00 / 45.3", "200", "0, 2"], ["| cmlm_max_still", "13.80 / 45.3", "200", "0, 2"],
        ["| cmlm_max_still", "13.80 / 45.3", "400", "0, 2"], ["| cmlm_peak_still", "14.20 / 45.3", "200", "2"],
        ["| cmlm_peak_still", "14.20 / 45.3", "400", "2"]]
    assert rows[0].endswith("| 11.40 / 45.0 | +0.40 / -0.3 (+0.30 to +0.50, 2 of 2 seeds) | - | - |")
    assert rows[1].endswith("| +1.60 / -0.3 (+1.50 to +1.70, 2 of 2 seeds) | +1.50 / -1.0 (1 of 2 seeds) | -0.50 (1 of 2 seeds) |")
    assert rows[4].endswith("| 16.70 / 45.0 | +2.50 / -0.3 | +1.80 / +0.0 | +0.18 |")
    assert "the issue's +3" not in text and "The issue asks for +3 BLEU" in text
    assert text.endswith("*Commands: `python scripts/bench.py --stages still_long_sharp`, `python scripts/bench.py "
                         "--stages still_max_budget`, `python scripts/bench.py --stages still_max_sharp`, `python "
                         "scripts/bench.py --stages still_peak_budget`.*")
    monkeypatch.setattr(make_tables.common, "DOCS", tmp_path)
    make_tables.plot_rise_by_start(points, "rise.png")
    assert (tmp_path / "rise.png").read_bytes().startswith(b"\x89PNG")


def one_seed_first(bench_a, monkeypatch, stage: str, start_name: str, setting, seed: int, control_steps, evaluate):
    """A stage that first ran one seed's curve alone (`compute_curve`, the one-curve layout) from a fake start `start_name`
    whose weights are recorded: the start's folder, the training calls (cleared) and that one-seed result."""
    start = bench_a.root / start_name
    start.mkdir(parents=True)
    (start / "config.json").write_text("{}")
    (start / "model.safetensors").write_bytes(b"recorded")
    calls = fake_curve_training(bench_a, monkeypatch, control_steps)
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    with bench_a.still_encoder():
        bench_a.compute_curve(stage, start_name, start, setting, seed=seed, control_learning_rate=setting.learning_rate,
                              checkpoints=len(control_steps(seed)))
    calls.clear()
    return start, calls, bench_a.read(stage)


def test_still_most_fast_keeps_its_one_seed_run_as_seed_0_and_adds_seeds_1_and_2_at_3e_5(tmp_path, monkeypatch):
    def evaluate(model, split="test", num_iterations=1, **kwargs):
        bleu = {"engine": 15.0, "control": 13.0}.get(model.name, 13.5) + num_iterations / 10
        return {"libreoffice": {"bleu": bleu, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    stage = "still_most_fast"
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index("still_most_budget_seeds")
    start, calls, one_seed = one_seed_first(bench_a, monkeypatch, stage, "cmlm_most_still", settings.SHARP_FAST, 0,
                                            lambda seed: [610 + seed], evaluate)
    assert "curves" not in one_seed and one_seed["points"][0]["control_step"] == 610
    bench_a.stage_still_most_fast()
    result = bench_a.read(stage)
    assert bench_a.done(stage) and sorted(result["curves"]) == ["seed0", "seed1", "seed2"]
    assert result["curves"]["seed0"] == {k: v for k, v in one_seed.items() if k not in bench_a.header(stage)}
    assert (bench_a.root / stage / "seed0" / "engine").is_dir() and not (bench_a.root / stage / "engine").exists()
    assert picked(calls, "engine", "out", "start", "steps", "learning_rate", "o1_temperature", "seed", "dropout") == [
        (f"{stage}/seed{seed}/engine", "cmlm_most_still", 200, 3e-5, 0.25, seed, False) for seed in (1, 2)]
    assert picked(calls, "control", "out", "seed", "learning_rate", "lr_scheduler_type", "stop", "pending") == [
        (f"{stage}/seed{seed}/control", seed, 3e-5, "constant", 2.0, []) for seed in (1, 2)]
    assert [result["curves"][f"seed{seed}"]["points"][0]["control_step"] for seed in (0, 1, 2)] == [610, 611, 612]
    bench_a.as_curves(stage, "seed0")  # already in curves: nothing moves
    assert bench_a.read(stage) == result
    (start / "model.safetensors").write_bytes(b"rebuilt otherwise")
    with pytest.raises(SystemExit, match=r"still_most_fast: .*cmlm_most_still \(digest \w+\) is not the cmlm_most_still "
                                         r"its finished seeds started from .*--rebuild cmlm_most_still"):
        bench_a.stage_still_most_fast()
    assert bench_a.read(stage) == result

    slower = {"learning_rate": 1e-5, "points": [
        {"engine_step": 200, "engine_bleu": 14.55, "engine_chrf": 46.3, "engine_repetition": 0.33,
         "engine_teacher_energy": 5.28, "engine_bleu_10": 25.65, "engine_chrf_10": 56.1, "control_bleu": 14.03,
         "control_chrf": 45.6, "control_step": 871}]}
    decay = {"points": [{"seed": seed, "control_bleu": 14.0 + seed / 10, "control_chrf": 45.9, "control_bleu_10": 25.6,
                         "control_chrf_10": 56.3, "control_steps": 879, "train_seconds": 674.2} for seed in (0, 1)]}
    text = make_tables.section_fast(result, {0: slower, 1: {**slower, "points": [
        {**slower["points"][0], "engine_bleu": 15.33}]}}, decay)
    assert "**The sharp O1 at lr 3e-05 from `cmlm_most_still`, over seeds** (`still_most_fast`: O1 temperature 0.25" in text
    assert "| 1 | 200 | 2 | 15.10 / 46.0 / 0.30 / 5.00 | 611 | 13.10 / 46.0 / 0.30 / 5.00 | +2.00 / +0.0 |" in text
    assert "- 200 energy steps, mean over 3 seeds: ENGINE - control +2.00 BLEU (from +2.00 to +2.00)" in text
    assert ("- seed 0: at lr 1e-05 the same seed's 200-step ENGINE scored 14.55 / 46.3 / 0.33 / 5.28 at one iteration "
            "and 25.65 / 56.1 at ten (the larger step: +0.55 / -0.3 and -9.65 / -10.1)") in text
    assert ("the decaying-lr control (`still_most_decay`: 879 CE steps in 674 s) scored 14.10 / 45.9 and 25.60 / 56.3: "
            "ENGINE at lr 3e-05 - it +1.00 / +0.1 at one iteration") in text
    assert ("- over 2 seeds the larger step moves ENGINE by +0.16 BLEU (from -0.23 to +0.55) at one iteration; ENGINE - "
            "the decaying-lr control +1.05 BLEU (from +1.00 to +1.10) at one iteration") in text
    assert "- seed 2:" not in text  # neither a slower run nor a decaying control of seed 2 given
    partial = {**result, "partial": True, "curves": {**result["curves"], "seed2": {"partial": True}}}
    assert "— **unfinished: 2 seeds so far**" in make_tables.section_fast(partial, {}, None)
    assert "**unfinished**" in make_tables.section_fast({"curves": {"seed1": {"partial": True}}, "partial": True}, {}, None)


@pytest.mark.parametrize("stage, after, start, added", [
    ("still_peak_pure_fast", "still_peak_pure", "cmlm_peak_still", (0, 1, 3, 4)),
    ("still_max_pure_fast", "still_peak_pure_long", "cmlm_max_still", (0, 1))])
def test_pure_energy_at_3e_5_keeps_its_one_seed_run_as_seed_2_and_adds_seeds(tmp_path, monkeypatch, stage, after, start,
                                                                             added):
    """Seed 2's 400-step curve (pure energy at lr 3e-5) ran alone first; the stage keeps it, untouched, as `seed2` and
    runs seeds 0 and 1 (from `cmlm_peak_still` also 3 and 4) in the same setting, each against CE at lr 3e-5 saved at
    ENGINE's 200-step time."""
    def evaluate(model, split="test", num_iterations=1, **kwargs):
        return {"libreoffice": {"bleu": 15.0, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index(after)
    _, calls, one_seed = one_seed_first(bench_a, monkeypatch, stage, start, settings.SHARP_PURE_FAST, 2,
                                        lambda seed: [560 + seed, 1150], evaluate)
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    assert bench_a.done(stage) and sorted(result["curves"]) == sorted(f"seed{seed}" for seed in (2, *added))
    assert result["curves"]["seed2"] == {k: v for k, v in one_seed.items() if k not in bench_a.header(stage)}
    assert (bench_a.root / stage / "seed2" / "engine").is_dir() and not (bench_a.root / stage / "engine").exists()
    assert picked(calls, "engine", "out", "steps", "save_steps", "learning_rate", "ce_weight", "o1_temperature",
                  "seed") == [(f"{stage}/seed{seed}/engine", 400, 200, 3e-5, 0.0, 0.25, seed) for seed in added]
    assert picked(calls, "control", "out", "seed", "learning_rate", "lr_scheduler_type", "stop", "pending") == [
        (f"{stage}/seed{seed}/control", seed, 3e-5, "constant", 4.0, [2.0]) for seed in added]
    assert [[p["control_step"] for p in result["curves"][f"seed{seed}"]["points"]] for seed in (2, *added)] == [
        [562, 1150], *([560 + seed, 1150] for seed in added)]


def test_pure_energy_at_the_predicted_lengths_runs_five_seeds_and_is_set_against_the_reference_lengths(tmp_path,
                                                                                                       monkeypatch):
    def evaluate(model, split="test", num_iterations=1, **kwargs):
        bleu = {"engine": 16.0, "control": 15.0}.get(model.name, 14.8 if "checkpoint" in model.name else 14.0)
        return {"libreoffice": {"bleu": bleu, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    stage = "still_peak_pure_predicted"
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index("lengths_targets")
    assert settings.SHARP_PURE_PREDICTED.key == "engine (O1 temperature 0.25, lr 3e-05, ce_weight 0, predicted lengths)"
    assert settings.SHARP_PURE_PREDICTED.folder == "lr3e-05-ce0-t0.25-predicted"
    assert settings.SHARP_PURE_FAST.key == "engine (O1 temperature 0.25, lr 3e-05, ce_weight 0)"  # names kept
    (bench_a.root / "cmlm_peak_still").mkdir(parents=True)
    (bench_a.root / "cmlm_peak_still" / "config.json").write_text("{}")
    calls = fake_curve_training(bench_a, monkeypatch, lambda seed: [560 + seed, 1150])
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    bench_a.stage_still_peak_pure_predicted()
    assert picked(calls, "engine", "out", "learning_rate", "ce_weight", "o1_temperature", "energy_length", "seed",
                  "dropout") == [(f"{stage}/seed{seed}/engine", 3e-5, 0.0, 0.25, "predicted", seed, False)
                                 for seed in (2, 0, 1, 3, 4)]
    assert picked(calls, "control", "seed", "learning_rate", "lr_scheduler_type") == [
        (seed, 3e-5, "constant") for seed in (2, 0, 1, 3, 4)]
    result = bench_a.read(stage)
    assert bench_a.done(stage) and {curve["energy_length"] for curve in result["curves"].values()} == {"predicted"}
    at_reference = {"curves": {name: {k: v for k, v in curve.items() if k != "energy_length"}
                               for name, curve in result["curves"].items()}}
    text = make_tables.section_budget_seeds(result, None, None, None, stage=stage,
                                            against=(at_reference, "still_peak_pure_fast"))
    assert text.startswith("**Pure energy (`ce_weight` 0) with the sharp O1 at lr 3e-05, at the predicted lengths from "
                           "`cmlm_peak_still` at 200 and 400 steps, over seeds** (`still_peak_pure_predicted`: O1 "
                           "temperature 0.25, lr 3e-05, `ce_weight` 0, the energy at the predicted lengths, 400 energy "
                           "steps from cmlm_peak_still,")
    assert ("Against `still_peak_pure_fast` (the same start, O1 and steps; the energy at the reference lengths where "
            "this stage takes it at the predicted ones), mean over 5 seeds (0, 1, 2, 3, 4):") in text


@pytest.mark.parametrize("stage, after, start, lr, seed, control_steps", [
    ("still_most_fast_budget", "still_most_fast", "cmlm_most_still", 3e-5, 0, [600, 1210]),
    ("still_max_long", "still_max_budget", "cmlm_max_still", 1e-5, 2, [670, 1340, 2010]),
    ("still_peak_pure_faster", "still_peak_pure_fast", "cmlm_peak_still", 1e-4, 2, [590, 1180]),
    ("still_peak_pure_long", "still_peak_pure_faster", "cmlm_peak_still", 3e-5, 2, [600, 1200, 1800])])
def test_one_seed_longer_curves_run_the_sharp_o1_against_ce_at_the_same_lr(tmp_path, monkeypatch, stage, after, start,
                                                                          lr, seed, control_steps):
    """still_most_fast_budget: seed 0 at 3e-5 for 400 steps; still_max_long: seed 2 at 1e-5 for 600; each control at
    ENGINE's lr, told to save at ENGINE's checkpoint times (0.01 s a step here) and stop at its last."""
    def evaluate(model, split="test", num_iterations=1, **kwargs):
        return {"libreoffice": {"bleu": 15.0, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    (bench_a.root / start).mkdir(parents=True)
    (bench_a.root / start / "config.json").write_text("{}")
    calls = fake_curve_training(bench_a, monkeypatch, lambda seed: control_steps)
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index(after)
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    steps = 200 * len(control_steps)
    assert bench_a.done(stage) and result["seed"] == seed and result["control_learning_rate"] == lr
    assert result["initialised_from"] == start
    assert picked(calls, "engine", "out", "steps", "save_steps", "learning_rate", "o1_temperature", "seed", "dropout",
                  "ce_weight") == [(f"{stage}/engine", steps, 200, lr, 0.25, seed, False, 0.0 if "pure" in stage else 1.0)]
    assert picked(calls, "control", "out", "seed", "learning_rate", "lr_scheduler_type", "stop", "pending") == [
        (f"{stage}/control", seed, lr, "constant", steps / 100, [2.0 * i for i in range(1, len(control_steps))])]
    assert [(p["engine_step"], p["control_step"]) for p in result["points"]] == list(
        zip(range(200, steps + 1, 200), control_steps, strict=True))


def test_a_compute_curves_checkpoints_are_chosen_on_dev_and_compared_on_test():
    def point(step, control_step, engine_dev, control_dev, engine_bleu, control_bleu):
        return {"engine_step": step, "control_step": control_step, "engine_bleu_dev": engine_dev,
                "control_bleu_dev": control_dev, "engine_bleu": engine_bleu, "engine_chrf": 45.0,
                "engine_bleu_10": 25.0, "engine_chrf_10": 56.0, "control_bleu": control_bleu, "control_chrf": 44.0,
                "control_bleu_10": 26.0, "control_chrf_10": 56.5}

    start = {"bleu_dev": 10.0, "bleu": 13.0, "chrf": 44.5, "bleu_10": 25.5, "chrf_10": 56.2}
    data = {"start": start, "points": [point(200, 800, 11.0, 9.0, 14.0, 12.0), point(400, 1600, 13.0, 10.5, 16.0, 13.5),
                                       point(600, 2400, 12.0, 9.5, 15.0, 14.0)]}
    text = make_tables.dev_choice(data)
    assert ("ENGINE's pick is 400 energy steps (dev 13.00; test 16.00 / 45.0 at one iteration, 25.00 / 56.0 at ten) "
            "and the control's pick 1600 CE steps (dev 10.50; test 13.50 / 44.0 at one iteration, 26.00 / 56.5 at ten): "
            "ENGINE - control +2.50 / +1.0 at one iteration and -1.00 / -0.5 at ten.") in text
    # The start competes: a control that never beats it on dev is not trained further.
    data["points"][1]["control_bleu_dev"] = 9.9
    assert "the control's pick the start (dev 10.00; test 13.00 / 44.5 at one iteration" in make_tables.dev_choice(data)


def test_unfrozen_table_sets_the_frozen_stages_beside_the_unfrozen_ones():
    def nat(bleu: float) -> dict:
        return {f"{n}_iterations": {"libreoffice": scores(bleu + n)} for n in (1, 10)}

    data = {"initialised_from": "cmlm_kd", "train_seconds": 400.2, "steps": 200, "control_steps": 450,
            "engine": nat(2.0), "control": nat(2.5)}
    text = make_tables.section_unfrozen(data, {"steps": 200, "train_seconds": 347.0, **nat(1.0)},
                                        {"steps": 468, **nat(1.5)})
    assert "each unfrozen run 400 s, the frozen ones 347 s" in text
    assert "| encoder + tied embeddings frozen (engine, control stages) | ENGINE (200 energy steps) | " \
           "2.00 / 4.0 / 0.10 / 3.00 | 11.00 / 22.0 / 0.10 / 3.00 |" in text
    assert "| nothing frozen (unfrozen stage) | control (450 CE steps) | 3.50 / 7.0 / 0.10 / 3.00 |" in text
    assert "unfinished" in make_tables.section_unfrozen({"partial": True}, None, None)

def test_save_at_seconds_saves_once_per_time_passed():
    saver = bench.SaveAtSeconds([10.0, 20.0, 21.0])
    control = TrainerControl()
    state = TrainerState()
    clock = iter([0.0, 5.0, 12.0, 25.0, 30.0])
    with mock.patch.object(time, "perf_counter", lambda: next(clock)):
        saver.on_train_begin(None, state, control)
        for step in (1, 2, 3, 4):
            state.global_step, control.should_save = step, False
            saver.on_step_end(None, state, control)
            assert control.should_save == (step in (2, 3))
    assert saver.saved_steps == [2, 3, 3]  # step 3 passed both 20 s and 21 s: one checkpoint stands for both

def test_decoding_latency_batches_sources_by_length(tokenizer):
    """Batches hold sentences of similar length (as `translate` makes them), so no system pays for another's padding."""
    import torch

    from engine_hf.benchmark import decoding_latency

    class Recorder:
        device = torch.device("cpu")
        widths: list[int] = []

        def generate(self, input_ids, attention_mask, **kwargs):
            self.widths.append(input_ids.shape[1])
            return input_ids

    sources = ["Und Gott sprach: Es werde Licht! Und es ward Licht, und es war gut so.", "Am Anfang.",
               "Und Gott sah das Licht.", "Es werde Licht!"]
    model = Recorder()
    result = decoding_latency(model, tokenizer, sources, batch_size=2, repeats=1)
    assert result["sentences"] == 4 and result["batch_size"] == 2 and result["sentences_per_second"] > 0
    timed = model.widths[1:]  # after the untimed warm-up batch
    short = max(len(tokenizer(s)["input_ids"]) for s in ("Am Anfang.", "Es werde Licht!"))
    assert timed[0] == short and timed[0] < timed[1]
    # the Recorder "translates" a source into itself: its mean output length is the sources' (specials excluded)
    words = sum(len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in sources)
    assert result["mean_output_tokens"] == words / 4


def test_batch1_components_time_both_encoders_and_the_output_layer_at_both_widths(tokenizer):
    from conftest import tiny_cmlm_config, tiny_marian

    from engine_hf import CMLMForConditionalGeneration
    from engine_hf.benchmark import batch1_components

    student = CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()
    parts = batch1_components(student, tiny_marian(tokenizer).eval(), tokenizer, ["Am Anfang.", "Es werde Licht!"],
                              student_output_tokens=6.4, repeats=2)
    assert list(parts) == ["student encoder", "teacher encoder", "output layer, 1 position (one teacher step)",
                           "output layer, 6 positions (one parallel pass)"]
    assert all(ms > 0 for ms in parts.values())


def test_shortlisted_output_layer_keeps_ids_and_greedy_outputs_and_is_restored(tokenizer):
    """A shortlist containing every id the full models emit changes no output; other ids get -inf; lm_head returns."""
    import torch
    from conftest import tiny_cmlm_config, tiny_marian

    from engine_hf import CMLMForConditionalGeneration
    from engine_hf.benchmark import ShortlistOutputLayer, shortlisted

    torch.manual_seed(0)
    student = CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()
    teacher = tiny_marian(tokenizer).eval()
    batch = tokenizer(["Am Anfang.", "Es werde Licht!"], return_tensors="pt", padding=True)
    with torch.no_grad():
        full = {"teacher": teacher.generate(**batch, num_beams=1, max_new_tokens=8),
                "student": student.generate(**batch, num_iterations=1, length_beam=1)}
    keep = torch.cat([ids.flatten() for ids in full.values()] + [torch.tensor(tokenizer.all_special_ids)]).unique()
    assert len(keep) < len(tokenizer) // 4  # a real restriction
    layer = ShortlistOutputLayer(teacher.lm_head, keep)
    hidden = torch.randn(3, teacher.config.d_model)
    logits = layer(hidden)
    assert logits.shape == (3, len(tokenizer))
    torch.testing.assert_close(logits[:, keep], teacher.lm_head(hidden)[:, keep].detach())
    dropped = torch.ones(len(tokenizer), dtype=torch.bool)
    dropped[keep] = False
    assert torch.isneginf(logits[:, dropped]).all()
    with torch.no_grad():
        with shortlisted(teacher, keep):
            assert isinstance(teacher.lm_head, ShortlistOutputLayer)
            assert torch.equal(teacher.generate(**batch, num_beams=1, max_new_tokens=8), full["teacher"])
        with shortlisted(student, keep):
            assert torch.equal(student.generate(**batch, num_iterations=1, length_beam=1), full["student"])
    assert isinstance(teacher.lm_head, torch.nn.Linear) and isinstance(student.lm_head, torch.nn.Linear)


def test_linear_output_layer_turns_the_vocabulary_major_projection_off_and_back_on(tokenizer, monkeypatch):
    """Inside `linear_output_layer` generate() projects with nn.Linear only; outputs are the same; restored on exit."""
    import torch
    from conftest import tiny_cmlm_config

    from engine_hf import CMLMForConditionalGeneration, modeling_cmlm
    from engine_hf.benchmark import linear_output_layer

    torch.manual_seed(0)
    student = CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()
    batch = tokenizer(["Am Anfang.", "Es werde Licht!"], return_tensors="pt", padding=True)
    calls = []
    output_logits = student.output_logits
    monkeypatch.setattr(student, "output_logits",
                        lambda hidden, vocabulary_major=False: calls.append(vocabulary_major) or output_logits(
                            hidden, vocabulary_major))
    lengths = torch.tensor([3, 4])  # 7 positions: a batch-1-sized pass
    default = student.generate(**batch, num_iterations=2, target_lengths=lengths)
    assert calls and all(calls)  # a few positions: vocabulary-major
    calls.clear()
    with linear_output_layer():
        assert modeling_cmlm.VOCABULARY_MAJOR_MAX_ROWS == 0
        assert torch.equal(student.generate(**batch, num_iterations=2, target_lengths=lengths), default)
    assert calls and not any(calls)
    assert modeling_cmlm.VOCABULARY_MAJOR_MAX_ROWS == 32


def test_short_benchmark_keeps_only_short_targets_in_every_split(tmp_path, monkeypatch):
    from datasets import Dataset, DatasetDict

    import engine_hf.data

    def pairs(*targets):
        return Dataset.from_dict({"translation": [{"en": f"source {i}", "pt": t} for i, t in enumerate(targets)]})

    long = "um dois três quatro cinco seis sete oito nove"  # 9 words
    corpus = DatasetDict(train=pairs("Salvar", long, "Abrir o documento"), validation=pairs(long, "Fechar"),
                         test=pairs("Inserir tabela", long))
    monkeypatch.setattr(engine_hf.data, "load_corpus", lambda corpus_name, src, tgt, **kw: corpus)
    short = make_bench(tmp_path, "short", quick=False)
    assert short.result_path("engine").name == "bench_short_engine.json" and short.root.name == "bench-short"
    data = short.data()
    assert Path(data.corpus).parent == short.root and (data.src_lang, data.tgt_lang) == ("en", "pt")
    saved = DatasetDict.load_from_disk(data.corpus)
    assert {split: [p["pt"] for p in saved[split]["translation"]] for split in saved} == {
        "train": ["Salvar", "Abrir o documento"], "validation": ["Fechar"], "test": ["Inserir tabela"]}
    assert make_bench(tmp_path, "a").data().corpus == "libreoffice"  # A itself is not cut
    labels = make_bench(tmp_path, "labels", quick=False)  # the same cut at 4 words, in a folder of its own
    assert labels.result_path("gain").name == "bench_labels_gain.json" and labels.root.name == "bench-labels"
    saved = DatasetDict.load_from_disk(labels.data().corpus)
    assert {split: [p["pt"] for p in saved[split]["translation"]] for split in saved} == {
        "train": ["Salvar", "Abrir o documento"], "validation": ["Fechar"], "test": ["Inserir tabela"]}
    assert Path(labels.data().corpus).name == "libreoffice-max4words"


def test_gain_table_of_all_benchmarks_orders_points_by_start_and_shows_engine_minus_control(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path)
    monkeypatch.setattr(make_tables.common, "DOCS", tmp_path / "docs")
    assert make_tables.section_gain_all() is None  # no gain stage has run

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
    text = make_tables.section_gain_all()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "benchmark" not in line]
    assert [row.split(" | ")[1] for row in rows] == ["cmlm_kd", "cmlm_kd", "cmlm_long"]  # weakest start first
    assert rows[2].split(" | ")[3] == "75% of 40.0"  # 30 BLEU against its teacher's 40
    assert rows[0] == ("| A (all help segments) | cmlm_kd | 2.00 / 20.0 | 4% of 50.0 | -1.00 / -10.0 | +0.50 / +5.0 | "
                       "**-1.50 / -15.0** | - |")  # recorded before the 10-iteration scores
    assert rows[2].endswith("| +1.50 / +15.0 | +0.50 / +5.0 | **+1.00 / +10.0** | +2.00 / -1.0 |")
    assert "`python scripts/bench.py --benchmark labels --stages gain`" in text
    make_tables.plot_gain_all(make_tables.gain_points_all())
    assert (tmp_path / "docs" / "engine_gain_all.png").stat().st_size > 0


def test_gain_table_of_all_benchmarks_adds_the_still_encoder_points_under_their_own_name(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path)
    monkeypatch.setattr(make_tables.common, "DOCS", tmp_path / "docs")
    for prefix in ("bench_", "bench_labels_"):
        (tmp_path / f"{prefix}teacher.json").write_text(json.dumps({"greedy": {"libreoffice": {"bleu": 40.0}}}))

    def scores(bleu: float) -> dict:
        return {f"{n}_iterations": {"libreoffice": {"bleu": bleu + n, "chrf": 2 * bleu + n}} for n in (1, 10)}

    still_main = {"command": "python scripts/bench.py --stages still_main", "partial": False, "rows": {
        name: {"length beam 3": scores(bleu)} for name, bleu in
        (("cmlm_kd_still", 7.0), ("engine_still", 6.0), ("control_still", 9.0))}}
    (tmp_path / "bench_still_main.json").write_text(json.dumps({**still_main, "partial": True}))
    assert make_tables.gain_points_all() == []  # a partial stage gives no point
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
    rows = [line for line in make_tables.section_gain_all().splitlines()
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
    make_tables.plot_gain_all(make_tables.gain_points_all())
    assert (tmp_path / "docs" / "engine_gain_all.png").stat().st_size > 0


def test_targets_of_a_are_checked_on_the_still_encoder_students_beside_the_main_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path)

    def one_pass(bleu: float) -> dict:
        return {"1_iterations": {"libreoffice": {"bleu": bleu}}}

    (tmp_path / "bench_teacher.json").write_text(json.dumps({"greedy": {"libreoffice": {"bleu": 10.0}}}))
    (tmp_path / "bench_engine.json").write_text(json.dumps({"initialised_from": "cmlm_kd", **one_pass(1.0)}))
    (tmp_path / "bench_cmlm_kd.json").write_text(json.dumps(one_pass(2.0)))
    (tmp_path / "bench_control.json").write_text(json.dumps(one_pass(3.0)))
    assert "still encoder" not in make_tables.section_targets("bench_", "")  # before still_main has run
    (tmp_path / "bench_still_main.json").write_text(json.dumps({"partial": False, "rows": {
        "cmlm_kd_still": {"length beam 5": one_pass(5.0), "length beam 3": one_pass(4.0)},
        "engine_still": {"length beam 3": one_pass(9.6)}, "control_still": {"length beam 3": one_pass(9.0)}}}))
    rows = [line for line in make_tables.section_targets("bench_", "").splitlines() if line.startswith("| ")]
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
    text = make_tables.section_targets("bench_", "")
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
    assert "after the fact" not in make_tables.section_targets("bench_", "")  # two seeds
    fast["curves"]["seed1"] = {**fast["curves"]["seed0"], "seed": 1}
    (tmp_path / "bench_still_peak_pure_fast.json").write_text(json.dumps(fast))
    rows = [line for line in make_tables.section_targets("bench_", "").splitlines() if line.startswith("| ")]
    assert rows[0].endswith("| setting found after the fact (`still_peak_pure_fast`: pure energy, lr 3e-05, sharp O1, "
                            "400 steps from `cmlm_peak_still`, mean of 3 seeds; its control CE at lr 3e-05) | met |")
    assert rows[1].endswith("| 9.50 vs 6.00 (+3.50) | yes | 8.67 vs 7.00 (+1.67) | **no** |")
    assert rows[3].endswith("| 8.67 vs 8.50 (+0.17) | yes |")
    # The same setting from another start gets its own columns beside it, not in place of the weaker one.
    other = curves("still_max_pure_fast", "cmlm_max_still", 6.0, {2: 9.5, 0: 8.0, 1: 8.0})
    for curve in other["curves"].values():
        curve.update(ce_weight=0.0, learning_rate=3e-5, control_learning_rate=3e-5)
    (tmp_path / "bench_still_max_pure_fast.json").write_text(json.dumps(other))
    rows = [line for line in make_tables.section_targets("bench_", "").splitlines() if line.startswith("| ")]
    assert "(`still_peak_pure_fast`: pure energy" in rows[0] and rows[0].endswith(
        "| setting found after the fact (`still_max_pure_fast`: pure energy, lr 3e-05, sharp O1, 400 steps from "
        "`cmlm_max_still`, mean of 3 seeds; its control CE at lr 3e-05) | met |")
    assert rows[1].endswith("| 8.67 vs 7.00 (+1.67) | **no** | 8.50 vs 6.00 (+2.50) | **no** |")
    predicted = curves("still_peak_pure_predicted", "cmlm_peak_still", 7.0, {2: 10.0, 0: 10.0, 1: 10.0})
    for curve in predicted["curves"].values():
        curve.update(ce_weight=0.0, learning_rate=3e-5, control_learning_rate=3e-5, energy_length="predicted")
    (tmp_path / "bench_still_peak_pure_predicted.json").write_text(json.dumps(predicted))
    rows = [line for line in make_tables.section_targets("bench_", "").splitlines() if line.startswith("| ")]
    assert rows[0].endswith("| setting found after the fact (`still_peak_pure_predicted`: pure energy at the predicted "
                            "lengths, lr 3e-05, sharp O1, 400 steps from `cmlm_peak_still`, mean of 3 seeds; its "
                            "control CE at lr 3e-05) | met |")
    assert rows[1].endswith("| 8.50 vs 6.00 (+2.50) | **no** | 10.00 vs 7.00 (+3.00) | yes |")


def test_readme_summary_has_one_row_per_targets_column_with_its_interval_and_command(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path)
    assert make_tables.render_summary().startswith("(no results yet")

    def one_pass(bleu: float, command: str = "") -> dict:
        return {"1_iterations": {"libreoffice": {"bleu": bleu}}, "command": command}

    (tmp_path / "bench_teacher.json").write_text(json.dumps({"greedy": {"libreoffice": {"bleu": 10.0}}}))
    (tmp_path / "bench_engine.json").write_text(json.dumps({"initialised_from": "cmlm_kd",
                                                            **one_pass(9.6, "python scripts/bench.py --stages engine")}))
    (tmp_path / "bench_cmlm_kd.json").write_text(json.dumps(one_pass(6.0)))
    (tmp_path / "bench_control.json").write_text(json.dumps(one_pass(9.0)))
    interval = {"difference": 3.5, "low": 2.25, "high": 4.75}
    (tmp_path / "bench_significance.json").write_text(json.dumps({"sentences": {"all": 446}, "means": {
        "engine": {"slices": {"all": {"engine_vs_start": {"bleu": interval}}}}}}))
    text = make_tables.render_summary()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert "rise over all 446 test sentences, mean over seeds [95% interval]" in rows[0]
    assert rows[1] == ("| A: `engine` from `cmlm_kd` | 1 | 9.60 | 6.00 | yes | +3.60 (yes) | +3.50 [+2.25, +4.75] | +0.60 "
                       "| 96% of 10.00 (yes) | `python scripts/bench.py --stages engine` |")
    assert "Speed" not in text  # until speed_still is measured
    (tmp_path / "speed_still.json").write_text(json.dumps({"command": "python scripts/bench_speed.py", "repeats": 5,
                                                           "hardware": "2 CPU cores", "results": {"batch_1": {
                                                               "NAT 1 iteration, length beam 1": {
                                                                   "speedup_vs_teacher_greedy": 4.9}}}}))
    assert "**4.90x** (**no**), A's still-encoder ENGINE" in make_tables.render_summary()


def write_target_curves(a, bleu: dict[str, float], chrf: float = 50.0) -> None:
    """`still_peak_pure_fast` as `significance` and `lengths_targets` read it: seeds 2 and 1 finished with their models
    and start on disk (seed 2's ENGINE recorded 0.5 BLEU above `bleu`), seed 0's control gone, seed 3 unfinished."""
    start = a.root / "cmlm_peak_still"
    for folder in (start, *(a.root / "still_peak_pure_fast" / f"seed{seed}" / side
                            for seed in (2, 0, 1) for side in ("engine", "control"))):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
    (start / "model.safetensors").write_bytes(b"weights")
    shutil.rmtree(a.root / "still_peak_pure_fast" / "seed0" / "control")

    def curve(seed: int, engine_bleu: float, partial: bool = False) -> dict:
        return {"seed": seed, "initialised_from": "cmlm_peak_still", "start_sha256": bench.weights_digest(start),
                "partial": partial, "start": {"bleu": bleu["start"], "chrf": chrf}, "points": [
                    {"engine_step": 400, "control_step": 1197, "engine_bleu": engine_bleu, "engine_chrf": chrf + 1,
                     "control_bleu": bleu["control"], "control_chrf": chrf}]}

    a.write("still_peak_pure_fast", {"curves": {"seed2": curve(2, bleu["engine"] + 0.5), "seed0": curve(0, 1.0),
                                                "seed1": curve(1, bleu["engine"]), "seed3": curve(3, 1.0, partial=True)}})


def test_lengths_targets_scores_each_finished_seed_at_the_reference_lengths(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    with pytest.raises(SystemExit, match=r"lengths_targets: no finished seed of still_max_budget, .*none run"):
        a.stage_lengths_targets()
    write_target_curves(a, {"start": 14.0, "engine": 16.0, "control": 15.0})
    at_reference = {"cmlm_peak_still": 16.5, "engine": 17.0, "control": 16.8}
    scored = []

    at_predicted = {"cmlm_peak_still": 14.2, "engine": 16.1, "control": 15.1}

    def oracle(model, teacher, data, split="validation", length_beam=None):
        scored.append((Path(model).relative_to(a.root).as_posix(), split, length_beam))
        name = Path(model).name
        return {"bleu": at_reference[name], "chrf": 52.0, "length_ratio": 1.02, "length_head_offset": -1.5,
                "length_head_exact": 0.2, "sentences": 195,
                "predicted": {"bleu": at_predicted[name], "chrf": 50.0, "length_ratio": 0.95}}

    monkeypatch.setattr(target_stages, "oracle_length_scores", oracle)
    monkeypatch.setattr(bench.Bench, "teacher_dir", tmp_path / "teacher")
    a.stage_lengths_targets()
    assert scored == [(folder, "test", 3) for folder in (  # the start once, seed 0 (its control gone) never
        "cmlm_peak_still", "still_peak_pure_fast/seed2/engine", "still_peak_pure_fast/seed2/control",
        "still_peak_pure_fast/seed1/engine", "still_peak_pure_fast/seed1/control")]
    result = a.read("lengths_targets")
    assert result["gone"] == ["still_peak_pure_fast, seed0", "still_peak_pure_fast, seed3"]
    engine = [row for row in result["rows"] if row["system"] == "engine"]
    assert [(row["seed"], row["predicted_lengths"]["bleu"]) for row in engine] == [(2, 16.5), (1, 16.0)]
    text = make_tables.section_lengths_targets(result)
    assert "on the 195 of those whose reference fits the student" in text
    assert ("| `still_peak_pure_fast` | `cmlm_peak_still` | 2 | 14.00 / 50.0 | 14.20 / 50.0 / 0.95 | 16.50 / 52.0 / 1.02 "
            "| +2.30 | -1.50 / 20% |") in text
    assert ("| `still_peak_pure_fast` | engine | 2 | 16.25 / 51.0 | 16.10 / 50.0 / 0.95 | 17.00 / 52.0 / 1.02 | +0.90 "
            "| -1.50 / 20% |") in text  # recorded: seed 2 0.5 above seed 1
    assert ("- `still_peak_pure_fast`: ENGINE - start +1.90 BLEU / +0.00 chrF at the predicted lengths, +0.50 / +0.00 at "
            "the reference lengths; ENGINE - control +1.00 / +0.00 and +0.20 / +0.00") in text


def test_examples_targets_sets_the_median_seed_beside_its_start_control_and_teacher(tmp_path, monkeypatch):
    import engine_hf.inference
    import engine_hf.training

    a = make_bench(tmp_path, "a", quick=False)
    assert a.benchmark.stages[-1] == "examples_targets"
    write_target_curves(a, {"start": 14.0, "engine": 16.0, "control": 15.0})
    a.write("still_peak_pure_fast", {"curves": {**a.read("still_peak_pure_fast")["curves"], "seed4": {
        **a.read("still_peak_pure_fast")["curves"]["seed1"], "seed": 4}}})  # 16.0 too; its folders are missing
    for side in ("engine", "control"):
        (a.root / "still_peak_pure_fast" / "seed4" / side).mkdir(parents=True)
        (a.root / "still_peak_pure_fast" / "seed4" / side / "config.json").write_text("{}")
    # Seeds by recorded BLEU: 1 and 4 (16.0), 2 (16.5); the median is seed 4, whatever its outputs.
    test = [{"en": f"source {i}", "pt": f"alvo {i}"} for i in range(12)]
    monkeypatch.setattr(engine_hf.training, "load_corpus_splits", lambda data: {"test": {"translation": test}})
    monkeypatch.setattr(bench.Bench, "teacher_dir", tmp_path / "teacher")
    calls = []

    def translate(model, sources, **kwargs):
        calls.append((Path(model).relative_to(tmp_path).as_posix(), kwargs))
        return iter(f"{Path(model).name} {kwargs.get('num_iterations', 'greedy')} {s}" for s in sources)

    monkeypatch.setattr(engine_hf.inference, "translate", translate)
    a.stage_examples_targets()
    result = a.read("examples_targets")
    assert (result["seed"], result["seeds"], result["recorded_bleu"]) == (
        4, [1, 4, 2], {"start": 14.0, "engine": 16.0, "control": 15.0})
    assert calls == [("teacher", {"num_beams": 1}),
                     ("runs/bench/cmlm_peak_still", {"num_iterations": 1, "length_beam": 3}),
                     ("runs/bench/still_peak_pure_fast/seed4/control", {"num_iterations": 1, "length_beam": 3}),
                     ("runs/bench/still_peak_pure_fast/seed4/engine", {"num_iterations": 1, "length_beam": 3}),
                     ("runs/bench/still_peak_pure_fast/seed4/engine", {"num_iterations": 10, "length_beam": 3})]
    assert [row["source"] for row in result["examples"]] == [f"source {i}" for i in (0, 2, 4, 6, 8, 10)]
    assert result["examples"][1] == {"source": "source 2", "reference": "alvo 2", "teacher (greedy)": "teacher greedy source 2",
                                     "start (cmlm_peak_still), 1 it.": "cmlm_peak_still 1 source 2",
                                     "CE control, 1 it.": "control 1 source 2", "ENGINE, 1 it.": "engine 1 source 2",
                                     "ENGINE, 10 it.": "engine 10 source 2"}
    text = make_tables.section_examples_targets(result)
    assert "`still_peak_pure_fast`'s seed 4, the median of seeds 1, 4, 2 ranked by" in text
    assert "- **source:** source 2\n  - reference: alvo 2\n  - teacher (greedy): teacher greedy source 2\n" in text


def test_significance_redecodes_each_finished_seed_and_bootstraps_its_gaps(tmp_path, monkeypatch):
    import engine_hf.inference
    import engine_hf.training
    from engine_hf import corpus_scores
    from engine_hf.inference import Decoded

    a = make_bench(tmp_path, "a", quick=False)
    assert {"significance", "lengths_targets"} <= set(a.benchmark.stages)
    with pytest.raises(SystemExit, match=r"significance: no finished seed of still_max_budget, .*none run"):
        a.stage_significance()
    monkeypatch.setitem(a.s, "eval_sentences", 8)  # the tables score the first 8 of 12 test pairs
    references = [f"Inserir {i} células abaixo da seleção" for i in range(12)]
    outputs = {"cmlm_peak_still": [f"Inserir {i} células" for i in range(12)],
               "engine": [f"Inserir {i} células abaixo" for i in range(12)],
               "control": [f"Inserir {i} células abaixo da" if i in (0, 9) else f"Inserir {i} células" for i in range(12)]}
    bleu = {who: corpus_scores(hyps[:8], references[:8])["bleu"] for who, hyps in outputs.items()}
    write_target_curves(a, {"start": bleu["cmlm_peak_still"], "engine": bleu["engine"], "control": bleu["control"]})
    monkeypatch.setattr(engine_hf.training, "load_corpus_splits", lambda data: {"test": {"translation": [
        {"en": f"source {i}", "pt": r} for i, r in enumerate(references)][: data.max_eval_samples]}})
    monkeypatch.setattr(engine_hf.inference, "load_model", lambda path: (Path(path).name, None))
    monkeypatch.setattr(engine_hf.inference, "generation_kwargs", lambda model, n, beam, beams: {"n": n, "beam": beam})
    decoded = []

    def decode(model, tokenizer, sources, teacher=None, batch_size=32, **kwargs):
        decoded.append((model, len(sources), kwargs))
        hyps = [outputs[model][int(source.split()[1])] for source in sources]
        return Decoded(hyps, [[1]] * len(sources), None)

    monkeypatch.setattr(engine_hf.inference, "decode", decode)
    a.stage_significance()
    # Each model decodes the scored 8 alone (as its curve did) and the unseen 4; the start only once for both seeds.
    assert decoded[:4] == [("cmlm_peak_still", 8, {"n": 1, "beam": 3}), ("cmlm_peak_still", 4, {"n": 1, "beam": 3}),
                           ("engine", 8, {"n": 1, "beam": 3}), ("engine", 4, {"n": 1, "beam": 3})]
    assert len(decoded) == 10
    result = a.read("significance")
    assert result["sentences"] == {"scored": 8, "unseen": 4, "all": 12}
    assert result["gone"] == ["still_peak_pure_fast, seed0", "still_peak_pure_fast, seed3"]
    row, _ = result["rows"]
    assert [row["seed"] for row in result["rows"]] == [2, 1]
    assert (row["stage"], row["seed"], row["engine_step"], row["control_step"]) == ("still_peak_pure_fast", 2, 400, 1197)
    assert row["redecoded_bleu"] == pytest.approx({"start": bleu["cmlm_peak_still"], "engine": bleu["engine"],
                                                   "control": bleu["control"]})
    rise = row["slices"]["scored"]["engine_vs_start"]["bleu"]
    assert rise["difference"] == pytest.approx(bleu["engine"] - bleu["cmlm_peak_still"]) and rise["low"] > 0
    assert rise["p_not_better"] == 0.0  # ahead on every sentence
    over = row["slices"]["scored"]["engine_vs_control"]["bleu"]  # ahead on 7 of the 8 sentences, behind on 1
    assert over["difference"] == pytest.approx(bleu["engine"] - bleu["control"]) and over["low"] < over["difference"]
    everything = row["slices"]["all"]["engine_vs_control"]["bleu"]
    assert everything["difference"] == pytest.approx(corpus_scores(outputs["engine"], references)["bleu"]
                                                     - corpus_scores(outputs["control"], references)["bleu"])
    # Both seeds decoded the same outputs here, so their mean on the shared resamples is each seed's test.
    assert result["means"] == {"still_peak_pure_fast": {"seeds": 2, "slices": row["slices"]}}
    text = make_tables.section_significance(result)
    assert "Seeds whose models were gone or unfinished: still_peak_pure_fast, seed0; still_peak_pure_fast, seed3." in text
    assert f"| `still_peak_pure_fast` | `cmlm_peak_still` | 2 | {rise['difference']:+.2f} [" in text
    assert text.count("| **no** (up to 0.50 BLEU apart) |") == 1  # seed 2's engine BLEU recorded 0.5 above
    assert "The other 4 sentences of the same held-out help files" in text and "All 12 test sentences" in text
    assert text.count("| `still_peak_pure_fast` | `cmlm_peak_still` | **mean of 2** | ") == 3  # one per slice
    assert text.count("| `still_peak_pure_fast` | `cmlm_peak_still` | 1 | ") == 2  # seeds: scored and unseen only
    whole = row["slices"]["all"]["engine_vs_start"]["bleu"]
    assert (f"- `still_peak_pure_fast`, all 12 sentences: the mean rise over the start, {whole['difference']:+.2f} "
            f"BLEU [{whole['low']:+.2f}, {whole['high']:+.2f}], is clear of 0 and excludes +3") in text


def test_a_finished_stage_whose_model_is_gone_says_how_to_rebuild_it(tmp_path):
    a = make_bench(tmp_path, "a")
    a.write("engine", {"initialised_from": "cmlm_kd"})
    with pytest.raises(SystemExit, match=r"runs/ is not kept.*--rebuild cmlm_kd --quick"):
        a.better_cmlm()  # a model with a recipe is rebuilt alone
    with pytest.raises(SystemExit, match=r"runs/ is not kept.*--stages cmlm_ref --force --quick"):
        a.trained("cmlm_ref")  # one without reruns its stage
    (a.root / "cmlm_kd").mkdir(parents=True)
    (a.root / "cmlm_kd" / "config.json").write_text("{}")
    assert a.better_cmlm() == ("cmlm_kd", a.root / "cmlm_kd")


def test_confirm_runs_the_sweeps_best_engine_setting_with_a_control_per_seed_and_resumes(tmp_path, monkeypatch):
    short = make_bench(tmp_path, "short", quick=False)
    for stage in ("cmlm_kd", "cmlm_long"):
        (short.root / stage).mkdir(parents=True)
        (short.root / stage / "config.json").write_text("{}")
    short.write("engine", {"initialised_from": "cmlm_kd"})
    short.write("cmlm_long", {})
    rows = {"cmlm (start)": {"bleu": 2.0}, "control (CE, lr 0.0001)": {"bleu": 9.0},  # not an ENGINE setting
            settings.ENGINE.key: {"bleu": 2.5}, bench.EnergySetting(3e-5, 0.0).key: {"bleu": 4.0},
            bench.EnergySetting(1e-5, 0.0, "stl").key: {"bleu": 3.0}}
    short.write("sweep", {"rows": rows})
    energy_runs, control_runs = [], []

    def train_energy(out, start, steps, **kwargs):
        energy_runs.append((start.name, kwargs["seed"], kwargs["learning_rate"], kwargs["ce_weight"], kwargs["o1"]))
        return 100.0 + len(energy_runs), [{"step": steps, "energy": 1.0, "loss": 1.0}]

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        control_runs.append((Path(student_model).name, kwargs["seed"], callbacks[0].seconds))
        return callbacks[0].seconds

    def evaluate(model, **kwargs):
        score = {"engine": 5.0, "control": 4.0}.get(Path(model).name, 3.0)
        return {"libreoffice": {"bleu": score, "chrf": 10 * score, "repetition": 0.1, "teacher_energy": score / 2}}

    monkeypatch.setattr(short, "train_energy", train_energy)
    monkeypatch.setattr(short, "train_cmlm", train_cmlm)
    monkeypatch.setattr(short, "evaluate", evaluate)
    short.s["confirm_seeds"] = (0, 1)
    short.stage_confirm()
    result = short.read("confirm")
    assert (result["learning_rate"], result["ce_weight"]) == (3e-5, 0.0) and not result["partial"]
    assert [(p["start"], p["seed"]) for p in result["points"]] == [
        ("cmlm_kd", 0), ("cmlm_long", 0), ("cmlm_kd", 1), ("cmlm_long", 1)]
    assert energy_runs[0] == ("cmlm_kd", 0, 3e-5, 0.0, "sx")
    # each control: the same start and seed, CE for that energy run's own wall time
    assert control_runs == [("cmlm_kd", 0, 101.0), ("cmlm_long", 0, 102.0), ("cmlm_kd", 1, 103.0),
                            ("cmlm_long", 1, 104.0)]
    assert result["starts"]["cmlm_long"]["bleu"] == 3.0
    assert result["points"][0]["engine_bleu"] == 5.0 and result["points"][0]["control_chrf"] == 40.0
    assert result["points"][0]["engine_teacher_energy"] == 2.5 and result["points"][0]["control_teacher_energy"] == 2.0
    # a rerun with one more seed trains only the new points
    short.s["confirm_seeds"] = (0, 1, 2)
    short.stage_confirm()
    assert len(energy_runs) == 6 and len(short.read("confirm")["points"]) == 6
    # a point recorded before the teacher energy was kept gets it from its saved models, without retraining
    old = short.read("confirm")
    for point in old["points"]:
        del point["engine_teacher_energy"], point["control_teacher_energy"]
    short.write("confirm", old)
    (short.root / "confirm" / "cmlm_kd-seed0" / "control").mkdir(parents=True)
    (short.root / "confirm" / "cmlm_kd-seed0" / "control" / "config.json").write_text("{}")
    short.stage_confirm()
    backfilled = {(p["start"], p["seed"]): p for p in short.read("confirm")["points"]}
    assert len(energy_runs) == 6
    assert backfilled[("cmlm_kd", 0)]["engine_teacher_energy"] == 2.5
    assert "engine_teacher_energy" not in backfilled[("cmlm_long", 0)]  # its models are gone: left as it was
    # a sweep that now prefers another setting cannot add its runs to this table
    short.write("sweep", {"rows": {**rows, bench.EnergySetting(1e-5, 0.0, "stl").key: {"bleu": 5.0}}})
    with pytest.raises(SystemExit, match="another setting than engine \\(O1 STL, lr 1e-05, ce_weight 0\\)"):
        short.stage_confirm()
    # nor can an unfinished sweep choose
    short.write("sweep", {"rows": rows, "partial": True})
    with pytest.raises(SystemExit, match="sweep is not finished.*--stages sweep"):
        short.stage_confirm()


def test_confirm_on_a_benchmark_without_the_sweep_runs_the_engine_setting_from_the_engine_start(tmp_path, monkeypatch):
    b = make_bench(tmp_path, "b", quick=False)
    monkeypatch.setattr(b, "teacher_record", lambda: {"teacher": {"source": "runs/teacher-de-en", "steps": 20000}})
    for stage in ("cmlm_kd", "cmlm_ref"):
        (b.root / stage).mkdir(parents=True)
        (b.root / stage / "config.json").write_text("{}")
    b.write("engine", {"initialised_from": "cmlm_kd"})
    energy_runs = []

    def train_energy(out, start, steps, **kwargs):
        energy_runs.append((start.name, kwargs["seed"], kwargs["learning_rate"], kwargs["ce_weight"]))
        return 50.0, []

    monkeypatch.setattr(b, "train_energy", train_energy)
    monkeypatch.setattr(b, "train_cmlm", lambda out, corpus, steps, callbacks=None, **kwargs: callbacks[0].seconds)
    monkeypatch.setattr(b, "better_cmlm", lambda: pytest.fail("the engine stage's start, not a new choice"))
    def evaluate(model, num_iterations, **kwargs):  # ENGINE ahead only after refinement
        bleu = 2.0 + (num_iterations == 10) * (4.0 + (model.name == "engine"))
        return {"libreoffice": {"bleu": bleu, "chrf": 17.0, "repetition": 0.4, "teacher_energy": 3.7}}

    monkeypatch.setattr(b, "evaluate", evaluate)
    b.s["confirm_seeds"] = (0, 1)
    b.stage_confirm()
    result = b.read("confirm")
    assert energy_runs == [("cmlm_kd", 0, 1e-5, 1.0), ("cmlm_kd", 1, 1e-5, 1.0)]
    assert [(p["engine_bleu"], p["control_bleu"], p["engine_bleu_10"], p["control_bleu_10"])
            for p in result["points"]] == [(2.0, 2.0, 7.0, 6.0)] * 2
    text = make_tables.section_confirm(result)
    assert "| +0.00 / +0.0 | +1.00 / +0.0 |" in text and "at 10 iterations +1.00 BLEU" in text
    assert result["setting"] == settings.ENGINE.key and "no sweep" in result["selected_on"]
    assert list(result["starts"]) == ["cmlm_kd"] and not result["partial"]
    assert "Confirming the `engine` setting over seeds" in make_tables.section_confirm(result)


def test_confirm_on_labels_adds_the_cmlm_long_start_to_points_already_run_from_the_engine_start(tmp_path,
                                                                                               monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    for stage in ("cmlm_kd", "cmlm_long"):
        (labels.root / stage).mkdir(parents=True)
        (labels.root / stage / "config.json").write_text("{}")
    (labels.root / "cmlm_long" / "model.safetensors").write_bytes(b"weights")
    labels.write("engine", {"initialised_from": "cmlm_kd"})
    energy_runs = []

    def train_energy(out, start, steps, **kwargs):
        energy_runs.append((start.name, kwargs["seed"]))
        return 60.0, []

    monkeypatch.setattr(labels, "train_energy", train_energy)
    monkeypatch.setattr(labels, "train_cmlm", lambda out, corpus, steps, callbacks=None, **kwargs: callbacks[0].seconds)
    monkeypatch.setattr(labels, "evaluate", lambda model, **kwargs: {"libreoffice": {
        "bleu": 1.0, "chrf": 2.0, "repetition": 0.0, "teacher_energy": 3.0}})
    labels.s["confirm_seeds"] = (0,)
    labels.stage_confirm()
    assert energy_runs == [("cmlm_kd", 0), ("cmlm_long", 0)]
    # a record from before cmlm_long was a start (only cmlm_kd points) gains the cmlm_long points and keeps its own
    old = labels.read("confirm")
    old["points"] = [p for p in old["points"] if p["start"] == "cmlm_kd"]
    del old["starts"]["cmlm_long"]
    labels.write("confirm", old)
    labels.stage_confirm()
    result = labels.read("confirm")
    assert energy_runs[2:] == [("cmlm_long", 0)] and list(result["starts"]) == ["cmlm_kd", "cmlm_long"]
    assert [(p["start"], p["seed"]) for p in result["points"]] == [("cmlm_kd", 0), ("cmlm_long", 0)]
    assert result["corpora"]["cmlm_long"] == str(labels.root / "distilled") and "no sweep" in result["selected_on"]
    # which model each start was: a rebuilt runs/ folder can be told from the one the earlier points came from
    assert result["starts"]["cmlm_long"]["model_sha256"] == hashlib.sha256(b"weights").hexdigest()[:16]
    assert result["starts"]["cmlm_kd"]["model_sha256"] is None  # no weights file in this fake folder


def test_confirm_table_gives_each_seed_its_own_difference_and_the_mean_per_start():
    def point(start, seed, engine, control):
        return {"start": start, "seed": seed, "engine_bleu": engine, "engine_chrf": 30.0, "engine_repetition": 0.1,
                "control_bleu": control, "control_chrf": 31.0, "control_repetition": 0.2}

    data = {"setting": "engine (lr 1e-05, ce_weight 0)", "selected_on": "dev BLEU (sweep stage)", "energy_steps": 200,
            "starts": {"cmlm_kd": {"bleu": 4.0, "chrf": 30.0, "repetition": 0.3},
                       "cmlm_long": {"bleu": 9.0, "chrf": 40.0, "repetition": 0.2}},
            "points": [point("cmlm_kd", 1, 6.0, 5.0), point("cmlm_kd", 0, 4.0, 5.0), point("cmlm_long", 0, 9.5, 9.0)]}
    text = make_tables.section_confirm(data)
    assert "| cmlm_kd | 0 | 4.00 / 30.0 / 0.30 | 4.00 / 30.0 / 0.10 | 5.00 / 31.0 / 0.20 | -1.00 / -1.0 |" in text
    assert "from cmlm_kd: ENGINE - control = +0.00 BLEU (sd 1.41), -1.0 chrF on average over 2 seed(s); ENGINE " \
           "above the control in BLEU in 1 of 2" in text
    assert "from cmlm_long: ENGINE - control = +0.50 BLEU, -1.0 chrF on average over 1 seed(s)" in text
    assert "teacher energy" not in text  # these points predate it
    for p in data["points"]:
        p.update(engine_teacher_energy=5.0, control_teacher_energy=5.5)
    for start in data["starts"].values():
        start["teacher_energy"] = 6.0
    text = make_tables.section_confirm(data)
    assert "| cmlm_kd | 0 | 4.00 / 30.0 / 0.30 / 6.00 | 4.00 / 30.0 / 0.10 / 5.00 | 5.00 / 31.0 / 0.20 / 5.50 |" in text
    assert "teacher energy ENGINE - control -0.50 nats/token, ENGINE lower in 2 of 2" in text


def test_gain_stage_scores_each_start_with_its_engine_and_control_at_one_and_ten_iterations(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    for folder in ("cmlm_kd", "cmlm_long", "cmlm_long/checkpoint-1500", "cmlm_long/checkpoint-3000"):
        (labels.root / folder).mkdir(parents=True)
        (labels.root / folder / "config.json").write_text("{}")
    stage = {"1_iterations": {"libreoffice": {"bleu": 5.0, "chrf": 40.0, "repetition": 0.1}},
             "10_iterations": {"libreoffice": {"bleu": 9.0, "chrf": 45.0, "repetition": 0.0}}}
    labels.write("engine", {"initialised_from": "cmlm_kd", **stage})
    labels.write("control", stage)
    starts = []

    def train_energy(out, start, steps, **kwargs):
        starts.append(str(start.relative_to(labels.root)))
        return 42.0, []

    def evaluate(model, num_iterations, **kwargs):  # BLEU says which model and how many iterations it was scored at
        bleu = {"engine": 2.0, "control": 3.0}.get(model.name, 1.0) + 10 * (num_iterations == 10)
        return {"libreoffice": {"bleu": bleu, "chrf": 10 * bleu, "repetition": 0.2}}

    monkeypatch.setattr(labels, "train_energy", train_energy)
    monkeypatch.setattr(labels, "train_cmlm", lambda out, corpus, steps, callbacks=None, **kwargs: callbacks[0].seconds)
    monkeypatch.setattr(labels, "evaluate", evaluate)
    labels.stage_gain()
    points = {p["checkpoint"]: p for p in labels.read("gain")["points"]}
    # the final cmlm_long checkpoint is cmlm_long itself; the engine and control stages are the cmlm_kd point
    assert starts == ["cmlm_long/checkpoint-1500", "cmlm_long"] and list(points) == ["cmlm_kd", *starts]
    assert {k: points["cmlm_kd"][k] for k in ("start_bleu", "engine_bleu", "engine_bleu_10", "start_bleu_10")} == {
        "start_bleu": 1.0, "engine_bleu": 5.0, "engine_bleu_10": 9.0, "start_bleu_10": 11.0}
    assert {k: points["cmlm_long"][k] for k in ("engine_bleu", "control_bleu", "engine_bleu_10", "control_chrf_10")} \
        == {"engine_bleu": 2.0, "control_bleu": 3.0, "engine_bleu_10": 12.0, "control_chrf_10": 130.0}


def test_sharp_runs_the_engine_setting_with_o1_at_temperature_0_25_and_compares_with_confirm(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    (labels.root / "cmlm_long").mkdir(parents=True)
    (labels.root / "cmlm_long" / "config.json").write_text("{}")
    runs = []

    def train_energy(out, start, steps, **kwargs):
        runs.append((start.name, kwargs["seed"], kwargs["learning_rate"], kwargs["ce_weight"], kwargs["o1"],
                     kwargs["o1_temperature"]))
        return 70.0, []

    def evaluate(model, **kwargs):
        bleu = {"engine": 6.0, "control": 5.0}.get(Path(model).name, 4.0)
        return {"libreoffice": {"bleu": bleu, "chrf": 10 * bleu, "repetition": 0.1, "teacher_energy": bleu / 2}}

    budgets = []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        budgets.append((Path(student_model).name, kwargs["seed"], callbacks[0].seconds))

    monkeypatch.setattr(labels, "train_energy", train_energy)
    monkeypatch.setattr(labels, "train_cmlm", train_cmlm)
    monkeypatch.setattr(labels, "evaluate", evaluate)
    labels.s["confirm_seeds"] = (0, 1)
    labels.stage_sharp()
    result = labels.read("sharp")
    assert runs == [("cmlm_long", 0, 1e-5, 1.0, "sx", 0.25), ("cmlm_long", 1, 1e-5, 1.0, "sx", 0.25)]
    assert result["setting"] == "engine (O1 temperature 0.25, lr 1e-05, ce_weight 1)" and not result["partial"]
    assert result["starts"]["cmlm_long"]["bleu"] == 4.0 and budgets == [("cmlm_long", 0, 70.0), ("cmlm_long", 1, 70.0)]
    labels.stage_sharp()  # finished seeds are not run again
    assert len(runs) == 2
    # once the engine stage has a start of its own, its seeds follow, and the earlier points stay
    (labels.root / "cmlm_kd").mkdir(parents=True)
    (labels.root / "cmlm_kd" / "config.json").write_text("{}")
    labels.write("engine", {"initialised_from": "cmlm_kd"})
    labels.stage_sharp()
    assert [run[:2] for run in runs[2:]] == [("cmlm_kd", 0), ("cmlm_kd", 1)]
    assert [(p["start"], p["seed"]) for p in labels.read("sharp")["points"]] == [
        ("cmlm_long", 0), ("cmlm_long", 1), ("cmlm_kd", 0), ("cmlm_kd", 1)]
    # a record in the one-start layout (before the second start) is read as cmlm_long's points
    old = labels.read("sharp")
    old_layout = {**old, "initialised_from": "cmlm_long", "start": old["starts"]["cmlm_long"],
                  "points": [{k: v for k, v in p.items() if k != "start"} for p in old["points"][:2]]}
    del old_layout["starts"]
    labels.write("sharp", old_layout)
    labels.stage_sharp()
    assert len(runs) == 6 and [run[:2] for run in runs[4:]] == [("cmlm_kd", 0), ("cmlm_kd", 1)]
    assert "(`sharp`:" in make_tables.section_sharp(old_layout, {"confirm": None})
    result = labels.read("sharp")
    confirm = {"starts": {"cmlm_long": {"model_sha256": result["starts"]["cmlm_long"]["model_sha256"]},
                          "cmlm_kd": {"model_sha256": "0123456789abcdef"}},
               "points": [{"start": "cmlm_long", "seed": 0, "engine_bleu": 5.0, "engine_chrf": 52.0,
                           "engine_teacher_energy": 3.5},
                          {"start": "cmlm_kd", "seed": 0, "engine_bleu": 1.0, "engine_chrf": 1.0,
                           "engine_teacher_energy": 1.0}]}
    text = make_tables.section_sharp(result, {"confirm": confirm})
    assert "**ENGINE with a sharpened O1 (temperature 0.25), over seeds** (`sharp`: engine (O1 temperature 0.25" in text
    assert "chosen on a first look at 64 dev labels" in text
    assert "| cmlm_long | 0 | 4.00 / 40.0 / 0.10 / 2.00 | 6.00 / 60.0 / 0.10 / 3.00 | 5.00 / 50.0 / 0.10 / 2.50 |" in text
    assert ("from cmlm_long, against `confirm`'s ENGINE (O1 temperature 1) of the same seeds: +1.00 BLEU, +8.0 chrF, "
            "teacher energy -0.50 nats/token on average over 1 seed(s); higher BLEU in 1 of 1") in text
    # confirm's cmlm_kd runs started from another build of it: no comparison across builds
    assert "from cmlm_kd: not set beside `confirm`, whose runs started from another build of cmlm_kd (weights " \
           "digest 01234567" in text and "from cmlm_kd, against" not in text


def test_sharper_runs_temperature_0_1_from_cmlm_long_only_and_is_set_beside_sharp(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    for name in ("cmlm_long", "cmlm_kd"):
        (labels.root / name).mkdir(parents=True)
        (labels.root / name / "config.json").write_text("{}")
    labels.write("engine", {"initialised_from": "cmlm_kd"})
    runs = []

    def train_energy(out, start, steps, **kwargs):
        runs.append((start.name, kwargs["seed"], kwargs["o1_temperature"], out.parent.parent.name))
        return 70.0, []

    def evaluate(model, **kwargs):
        bleu = {"engine": 7.0, "control": 5.0}.get(Path(model).name, 4.0)
        return {"libreoffice": {"bleu": bleu, "chrf": 10 * bleu, "repetition": 0.1, "teacher_energy": bleu / 2}}

    monkeypatch.setattr(labels, "train_energy", train_energy)
    monkeypatch.setattr(labels, "train_cmlm", lambda *args, **kwargs: None)
    monkeypatch.setattr(labels, "evaluate", evaluate)
    labels.s["confirm_seeds"] = (0,)
    labels.stage_sharper()
    assert runs == [("cmlm_long", 0, 0.1, "sharper")]
    sharper = labels.read("sharper")
    assert sharper["setting"] == "engine (O1 temperature 0.1, lr 1e-05, ce_weight 1)" and not sharper["partial"]
    sharp = {**sharper, "o1_temperature": 0.25, "points": [{**sharper["points"][0], "engine_bleu": 6.0}]}
    text = make_tables.section_sharp(sharper, {"confirm": None, "sharp": sharp})
    assert "**ENGINE with a sharpened O1 (temperature 0.1), over seeds** (`sharper`:" in text
    assert "chosen on nothing: the next step down from `sharp`" in text
    assert "from cmlm_long, against `sharp`'s ENGINE (O1 temperature 0.25) of the same seeds: +1.00 BLEU" in text


def test_descent_stage_starts_from_the_cmlms_own_output_and_scores_each_search_step(tmp_path, monkeypatch, pairs,
                                                                                   tokenizer):
    """Real tiny models: step 0 of every search is the CMLM's own 1-iteration, length-beam-3 output (the same
    BLEU and teacher energy as `evaluate_model` gives it), and the later steps are scored like any output."""
    from conftest import tiny_cmlm_config, tiny_marian
    from datasets import Dataset, DatasetDict

    from engine_hf import CMLMForConditionalGeneration
    from engine_hf.inference import evaluate_model

    labels = make_bench(tmp_path, "labels", quick=False)
    teacher_dir, student_dir = labels.root / "teacher-en-pt", labels.root / "cmlm_long"
    tiny_marian(tokenizer).save_pretrained(teacher_dir)
    tokenizer.save_pretrained(teacher_dir)
    CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).save_pretrained(student_dir)
    tokenizer.save_pretrained(student_dir)
    rows = [{"en": de, "pt": en} for de, en in pairs[:12]]
    split = Dataset.from_dict({"translation": rows, "document": ["fixture"] * len(rows)})
    DatasetDict({"train": split, "validation": split, "test": split}).save_to_disk(
        str(labels.root / "libreoffice-max4words"))
    labels.s["eval_sentences"] = 6
    monkeypatch.setattr(first_recipe, "DESCENT_STEPS", (0, 2, 4))
    monkeypatch.setattr(first_recipe, "DESCENT_LEARNING_RATE", 0.5)
    labels.stage_descent()
    result = labels.read("descent")
    assert list(result["rows"]) == ["O1 SX, temperature 1", "O1 SX, temperature 0.25", "O1 STL, temperature 1"]
    assert result["initialised_from"] == "cmlm_long" and not result["partial"]
    own = evaluate_model(str(student_dir), labels.data(), teacher_model=str(teacher_dir), num_iterations=1,
                         length_beam=3)
    for row in result["rows"].values():
        assert list(row["steps"]) == ["0", "2", "4"] and row["seconds_per_sentence"] > 0
        assert row["steps"]["0"]["bleu"] == pytest.approx(own["bleu"])
        assert row["steps"]["0"]["teacher_energy"] == pytest.approx(own["teacher_energy"], rel=1e-5)
    moved = result["rows"]["O1 SX, temperature 1"]["steps"]
    assert moved["4"]["teacher_energy"] != moved["0"]["teacher_energy"]  # the search changed the argmax output
    text = make_tables.section_descent(result)
    assert "**Gradient descent on the energy, no network trained**" in text and "| step 0 | step 2 | step 4 |" in text


def labels_with_fake_distillation(tmp_path: Path, monkeypatch, help_corpus, ui: list, base: str,
                                  benchmark: str = "labels"):
    """The labels bench (or `benchmark`) with the help corpus, the UI catalogs, the teacher and `distill_corpus` faked (a distilled
    target is "T:" + its source), and a corpus folder `base` of one line per split (twice for `distilled-more`)."""
    import transformers

    import engine_hf
    import engine_hf.data
    import engine_hf.training
    from engine_hf.data import libreoffice_ui

    monkeypatch.setattr(engine_hf.data, "load_corpus", lambda corpus_name, src, tgt, **kw: help_corpus)
    monkeypatch.setattr(libreoffice_ui, "libreoffice_ui_pairs", lambda src, tgt: ui)
    monkeypatch.setattr(engine_hf, "load_teacher", lambda path: "teacher")
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda path: "tokenizer")

    def distill(teacher, tokenizer, corpus, src, tgt, out, **kwargs):
        out.mkdir(parents=True)
        (out / "train.jsonl").write_text("".join(json.dumps({"translation": {src: p[src], tgt: "T:" + p[src]}}) + "\n"
                                                 for p in corpus["train"]["translation"]))
        return out

    monkeypatch.setattr(engine_hf.training, "distill_corpus", distill)
    labels = make_bench(tmp_path, benchmark, quick=False)
    (labels.root / "teacher-en-pt").mkdir(parents=True)
    (labels.root / "teacher-en-pt" / "config.json").write_text("{}")
    (labels.root / base).mkdir()
    for split in ("train", "validation", "test"):
        (labels.root / base / f"{split}.jsonl").write_text(f'{{"split": "{split}"}}\n' * (2 if base == "distilled-more" else 1))
    return labels


def test_distill_ui_distills_only_new_short_ui_sources_and_joins_them_to_the_help(tmp_path, monkeypatch):
    from datasets import Dataset, DatasetDict

    from engine_hf.data import Pair

    def pairs(*sources):
        return Dataset.from_dict({"translation": [{"en": s, "pt": "x"} for s in sources]})

    help_corpus = DatasetDict(train=pairs("Save"), validation=pairs("Close"), test=pairs("Insert Table"))
    ui = [Pair("insert table", "Inserir tabela", "sw"),  # a test source, case aside: dropped
          Pair("Open", "Abrir", "cui"), Pair("Long one", "um dois três quatro cinco", "cui"),  # 5 words: dropped
          Pair("Save", "Salvar", "sw"), Pair("Rename", "Renomear", "sw")]
    labels = labels_with_fake_distillation(tmp_path, monkeypatch, help_corpus, ui, "distilled")
    labels.stage_distill_ui()
    record = labels.read("distill_ui")
    assert (record["ui_pairs"], record["within_word_limit"], record["removed_as_help_sources"], record["sources"],
            record["help_train_sources"]) == (5, 4, 2, 2, 1)
    more = labels.root / "distilled-more"
    assert labels.corpus_of("cmlm_more") == str(more) and labels.corpus_of("cmlm_long") == str(labels.root / "distilled")
    lines = (more / "train.jsonl").read_text().splitlines()
    assert lines[0] == '{"split": "train"}' and [json.loads(line)["translation"]["pt"] for line in lines[1:]] == [
        "T:Open", "T:Rename"]
    assert (more / "test.jsonl").read_text() == '{"split": "test"}\n'


def test_distill_all_distills_the_help_sources_after_the_first_distill_sources_and_joins_them(tmp_path, monkeypatch):
    from datasets import Dataset, DatasetDict

    def pairs(*sources):
        return Dataset.from_dict({"translation": [{"en": s, "pt": "x"} for s in sources]})

    help_corpus = DatasetDict(train=pairs("Save", "Open", "Close", "Print", "Quit"), validation=pairs("Cut"),
                              test=pairs("Paste"))
    a = labels_with_fake_distillation(tmp_path, monkeypatch, help_corpus, [], "distilled", benchmark="a")
    a.s["distill_sources"] = 2  # the distill stage took Save and Open
    a.stage_distill_all()
    record = a.read("distill_all")
    assert (record["base_sources"], record["sources"], record["help_train_pairs"]) == (1, 3, 5)
    everything = a.root / "distilled-all"
    assert a.corpus_of("cmlm_more_still") == str(everything) and a.corpus_of("cmlm_long_still") == str(a.root / "distilled")
    lines = (everything / "train.jsonl").read_text().splitlines()
    assert lines[0] == '{"split": "train"}' and [json.loads(line)["translation"]["pt"] for line in lines[1:]] == [
        "T:Close", "T:Print", "T:Quit"]
    assert (everything / "test.jsonl").read_text() == '{"split": "test"}\n'
    assert record["train_sha256"] == hashlib.sha256((everything / "train.jsonl").read_bytes()).hexdigest()[:16]
    # --quick caps the new sources at `ui_sources` (96); full scale takes them all.
    quick = make_bench(tmp_path / "quick", "a")
    assert quick.s["ui_sources"] == 96 and a.s["ui_sources"] is None


def fake_model(folder: Path, weights: bytes) -> None:
    """A model folder as `trained()` and `weights_digest()` see it."""
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text("{}")


def fake_further_training(bench_a, trained: list, model: str, weights: bytes):
    """A stand-in for `Bench.train_cmlm` that records each call (with the encoder's dropout switch), makes `model`'s
    folder with `weights`, and gives every callback 70 s and 300 steps."""
    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        trained.append((out.name, Path(corpus).name, steps, Path(student_model).name, kwargs["learning_rate"],
                        kwargs.get("save_steps"), bench_a.encoder_dropout))
        if out.name == model:
            fake_model(out, weights)
        for callback in callbacks or []:
            callback.seconds, callback.steps = 70.0, 300
        return 3300.0
    return train_cmlm


def test_still_more_trains_cmlm_long_still_on_every_source_and_the_sharp_pairs_start_there(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path / "results")
    a = make_bench(tmp_path, "a", quick=False)
    first = a.benchmark.stages.index("distill_all")
    assert a.benchmark.stages[first:first + 3] == ("distill_all", "still_more", "still_more_sharp")
    with pytest.raises(SystemExit, match="--rebuild cmlm_long_still"):
        a.stage_still_more()  # its start is not there
    fake_model(a.root / "cmlm_long_still", b"long")
    trained, runs = [], []
    train_cmlm = fake_further_training(a, trained, "cmlm_more_still", b"more")

    def train_energy(out, start, steps, **kwargs):
        runs.append((start.name, Path(kwargs["corpus"]).name, kwargs["o1_temperature"], kwargs["seed"], a.encoder_dropout))
        return 70.0, []

    def evaluate(model, num_iterations=1, length_beam=3, corpora=None, **kwargs):
        bleu = {"engine": 14.0, "control": 13.0, "cmlm_more_still": 13.5}.get(Path(model).name, 11.0)
        row = {"bleu": bleu + length_beam / 10 + (7 if num_iterations == 10 else 0), "chrf": 3 * bleu,
               "repetition": 0.1, "teacher_energy": bleu / 10, "length_ratio": 0.9}
        return {corpus: row for corpus in corpora or a.benchmark.test_corpora}

    for attribute, fake in (("train_cmlm", train_cmlm), ("train_energy", train_energy), ("evaluate", evaluate)):
        monkeypatch.setattr(a, attribute, fake)
    a.stage_still_more()
    assert trained == [("cmlm_more_still", "distilled-all", 3000, "cmlm_long_still", 3e-4, 1500, False)]
    more = a.read("still_more")
    assert more["initialised_from"] == "cmlm_long_still" and more["steps"] == 3000 and a.encoder_dropout
    assert more["model_sha256"] == hashlib.sha256(b"more").hexdigest()[:16]
    assert more["length beam 3"]["1_iterations"]["libreoffice"]["bleu"] == pytest.approx(13.8)
    assert a.recipes()["cmlm_more_still"][0] == "still_more"
    a.stage_still_more_sharp()
    assert runs == [("cmlm_more_still", "distilled-all", 0.25, seed, False) for seed in (2, 0, 1)]
    assert trained[-1][:2] == ("control", "distilled-all") and trained[-1][-1] is False
    sharp = a.read("still_more_sharp")
    assert [p["seed"] for p in sharp["points"]] == [2, 0, 1] and not sharp["partial"]
    # The README: the start against cmlm_long_still, with the sources it was trained on.
    long = {f"length beam {beam}": {its: {"libreoffice": {"bleu": 11.0 + (7 if its == "10_iterations" else 0),
                                                          "chrf": 42.0}} for its in ("1_iterations", "10_iterations")}
            for beam in (5, 3)}
    text = make_tables.section_still_more(more, long, {"base_sources": 12000, "sources": 21782, "seconds": 1020.0})
    assert ("**A start trained on every source** (`distill_all`, `still_more`: cmlm_long_still + 3000 CE steps at lr "
            "0.0003 decaying, the still encoder, on 33,782 distilled sources, 2.8x the 12,000 it had seen; the 21,782 "
            "new ones distilled in 17 min; 55 min of training)") in text
    assert "| cmlm_more_still `" in text
    assert ("cmlm_more_still - cmlm_long_still (its start, `still_long`), length beam 5 (BLEU / chrF): 1 it: help "
            "+3.00 / -1.5; 10 it: help +3.00 / -1.5") in text


@pytest.mark.parametrize("line, start", [("still_more", "cmlm_more_still"), ("still_most", "cmlm_most_still"),
                                         ("still_max", "cmlm_max_still")])
def test_second_controls_of_the_sharp_pairs_train_ce_from_their_start_with_the_still_encoder(tmp_path, monkeypatch,
                                                                                             line, start):
    """<line>_decay: lr 1e-4 decaying over the matched control's steps; <line>_slow: 1e-5 for ENGINE's wall time; both
    on distilled-all, the encoder still, each control also measured against its start, and none before every sharp
    pair has run."""
    a = make_bench(tmp_path, "a", quick=False)
    stages = a.benchmark.stages
    controls = [f"{line}_decay", f"{line}_slow"]
    assert [stages.index(stage) for stage in [f"{line}_sharp", *controls]] == sorted(
        stages.index(stage) for stage in [f"{line}_sharp", *controls])
    fake_model(a.root / start, b"start")
    point = {"start": start, "seed": 2, "train_seconds": 700.0, "control_steps": 880, "engine_bleu": 13.6,
             "engine_chrf": 45.4, "engine_repetition": 0.34, "engine_teacher_energy": 5.3, "control_bleu": 12.0,
             "control_chrf": 42.8, "control_repetition": 0.38, "control_teacher_energy": 5.9, "engine_bleu_10": 25.0,
             "engine_chrf_10": 55.5, "control_bleu_10": 24.0, "control_chrf_10": 55.0}
    sharp = {"stage": f"{line}_sharp", "o1_temperature": 0.25, "points": [point], "starts": {start: {"bleu": 12.7,
                                                                                                    "chrf": 44.6}}}
    a.write(f"{line}_sharp", {**sharp, "partial": True})
    with pytest.raises(SystemExit, match=f"{line}_sharp is unfinished .* --stages {line}_sharp"):
        getattr(a, f"stage_{controls[0]}")()
    assert not a.result_path(controls[0]).exists()
    a.write(f"{line}_sharp", {**sharp, "partial": False})
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        trained.append((Path(student_model).name, Path(corpus).name, steps, kwargs["learning_rate"],
                        kwargs["lr_scheduler_type"], callbacks[0].seconds if len(callbacks) == 2 else None,
                        a.encoder_dropout))
        callbacks[-1].seconds, callbacks[-1].steps = 690.0, steps if steps < 10**6 else 7000

    def evaluate(model, num_iterations, **kwargs):
        bleu = 13.0 if num_iterations == 1 else 24.5
        return {"libreoffice": {"bleu": bleu, "chrf": 45.0, "repetition": 0.35, "teacher_energy": 5.7}}

    monkeypatch.setattr(a, "train_cmlm", train_cmlm)
    monkeypatch.setattr(a, "evaluate", evaluate)
    for stage in controls:
        getattr(a, f"stage_{stage}")()
    getattr(a, f"stage_{line}_slow")()  # finished points are not run again
    slow_run = (start, "distilled-all", 10**6, 1e-5, "constant", 700.0, False)
    assert trained == [(start, "distilled-all", 880, 1e-4, "linear", None, False), slow_run]
    assert a.encoder_dropout  # restored after each stage
    slow = a.read(f"{line}_slow")
    assert slow["points"][0]["control_steps"] == 7000
    assert "the slow control - its start" in make_tables.section_slow_control(slow, a.read(f"{line}_sharp"))
    assert a.read(f"{line}_decay")["points"][0]["control_steps"] == 880
    text = make_tables.section_slow_control(a.read(f"{line}_decay"), a.read(f"{line}_sharp"))
    assert (f"- `{line}_sharp`: ENGINE - decaying control = +0.60 BLEU, +0.4 chrF, ENGINE above in chrF in 1 of 1; "
            "at 10 iterations +0.50 / +10.5; the decaying control - its start, 1 it: +0.30 / +0.4, above it in "
            "both in 1 of 1") in text


def test_the_decaying_control_of_still_peak_budget_trains_from_each_curves_first_checkpoint(tmp_path, monkeypatch):
    """`still_peak_decay`: for each seed's 400-step curve, CE from its start at lr 1e-4 decaying over the CE steps its
    lr-1e-5 control took by ENGINE's first (200-step) wall time; the table sets it beside that first checkpoint and
    names the curve's own control lr."""
    a = make_bench(tmp_path, "a", quick=False)
    assert a.benchmark.stages.index("still_peak_decay") > a.benchmark.stages.index("still_peak_budget")
    fake_model(a.root / "cmlm_peak_still", b"start")
    about = curve_about("cmlm_peak_still")
    budget = {"command": "python scripts/bench.py --stages still_peak_budget", "curves": {
        f"seed{seed}": {**about, "seed": seed, "engine_seconds_at": {"200": 400.0 + seed, "400": 800.0},
                        "control_steps_at": [680 + seed, 1360], "points": [point(200, 680 + seed, 15.0, 14.0),
                                                                            point(400, 1360, 15.5, 14.5)]}
        for seed in (2, 0)}}
    a.write("still_peak_budget", {**budget, "partial": True})
    with pytest.raises(SystemExit, match="still_peak_budget is unfinished .* --stages still_peak_budget"):
        a.stage_still_peak_decay()
    a.write("still_peak_budget", {**budget, "partial": False})
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        trained.append((out.relative_to(a.root).as_posix(), Path(student_model).name, Path(corpus).name, steps,
                        kwargs["learning_rate"], kwargs["lr_scheduler_type"], kwargs["seed"], a.encoder_dropout))
        callbacks[-1].seconds, callbacks[-1].steps = 300.0, steps

    monkeypatch.setattr(a, "train_cmlm", train_cmlm)
    monkeypatch.setattr(a, "evaluate", lambda model, num_iterations, **kwargs: {"libreoffice": {
        "bleu": 14.2 if num_iterations == 1 else 26.0, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}})
    a.stage_still_peak_decay()
    assert trained == [(f"still_peak_decay/cmlm_peak_still-seed{seed}/control", "cmlm_peak_still", "distilled-all",
                        680 + seed, 1e-4, "linear", seed, False) for seed in (2, 0)]
    decay = a.read("still_peak_decay")
    assert not decay["partial"] and [p["control_steps"] for p in decay["points"]] == [682, 680]
    pairs = make_tables.first_checkpoint_pairs(a.read("still_peak_budget"), "still_peak_budget")
    assert [(p["seed"], p["engine_bleu"], p["control_step"]) for p in pairs["points"]] == [(0, 15.0, 680), (2, 15.0, 682)]
    text = make_tables.section_slow_control(decay, pairs)
    assert "| ENGINE run | seed | ENGINE | control, constant lr 1e-5 | decaying control |" in text
    assert ("- `still_peak_budget`: ENGINE - decaying control = +0.80 BLEU, -1.0 chrF, ENGINE above in chrF in 0 of 2; "
            "at 10 iterations +0.50 / +10.0; the decaying control - its start, 1 it: +0.70 / +0.7") in text


@pytest.mark.parametrize("line, before, before_stage, model", [
    ("still_most", "cmlm_more_still", "still_more", "cmlm_most_still"),
    ("still_max", "cmlm_most_still", "still_most", "cmlm_max_still"),
    ("still_peak", "cmlm_max_still", "still_max", "cmlm_peak_still")])
def test_more_steps_train_the_start_before_again_and_the_sharp_pairs_start_there(tmp_path, monkeypatch, line, before,
                                                                                  before_stage, model):
    """The next start: the one before + 3000 CE steps; then the stage that runs the sharp O1 from it (the 200-step
    pairs `<line>_sharp`; from `cmlm_peak_still` the 400-step curves of `still_peak_budget`, tested above)."""
    a = make_bench(tmp_path, "a", quick=False)
    first = a.benchmark.stages.index(line)
    after = f"{line}_sharp" if f"{line}_sharp" in a.benchmark.stages else f"{line}_budget"
    assert a.benchmark.stages[first:first + 2] == (line, after)
    with pytest.raises(SystemExit, match=f"--rebuild {before}"):
        getattr(a, f"stage_{line}")()  # its start is not there
    fake_model(a.root / before, b"before")
    trained, runs = [], []
    train_cmlm = fake_further_training(a, trained, model, b"after")

    def evaluate(model_dir, num_iterations=1, length_beam=3, corpora=None, **kwargs):
        bleu = {"engine": 15.0, "control": 14.0, model: 14.5}.get(Path(model_dir).name, 11.0)
        row = {"bleu": bleu + (7 if num_iterations == 10 else 0), "chrf": 3 * bleu, "repetition": 0.1,
               "teacher_energy": bleu / 10, "length_ratio": 0.9}
        return {corpus: row for corpus in corpora or a.benchmark.test_corpora}

    monkeypatch.setattr(a, "train_cmlm", train_cmlm)
    monkeypatch.setattr(a, "evaluate", evaluate)
    monkeypatch.setattr(a, "train_energy", lambda out, start, steps, **kwargs: runs.append(
        (start.name, Path(kwargs["corpus"]).name, kwargs["o1_temperature"], kwargs["seed"], a.encoder_dropout)) or (70.0, []))
    getattr(a, f"stage_{line}")()
    assert trained == [(model, "distilled-all", 3000, before, 3e-4, 1500, False)]
    after = a.read(line)
    assert after["initialised_from"] == before and after["model_sha256"] == hashlib.sha256(b"after").hexdigest()[:16]
    assert a.recipes()[model][0] == line and a.encoder_dropout and a.corpus_of(model).endswith("distilled-all")
    if after == f"{line}_sharp":
        getattr(a, f"stage_{line}_sharp")()
        assert runs == [(model, "distilled-all", 0.25, seed, False) for seed in (2, 0, 1)]
        assert [p["seed"] for p in a.read(f"{line}_sharp")["points"]] == [2, 0, 1]
    start = {"stage": before_stage, "length beam 5": {
        its: {"libreoffice": {"bleu": 12.0 + (7 if its == "10_iterations" else 0), "chrf": 44.0}}
        for its in ("1_iterations", "10_iterations")}}
    text = make_tables.section_more_steps(after, start)
    assert (f"**More steps on every source** (`{line}`: {before} + 3000 CE steps at lr 0.0003 decaying, the "
            "still encoder, on `distilled-all`; 55 min of training)") in text
    assert (f"{model} - {before} (its start, `{before_stage}`), length beam 5 (BLEU / chrF): 1 it: help "
            "+2.50 / -0.5; 10 it: help +2.50 / -0.5") in text


def test_distill_wide_adds_longer_help_and_new_ui_sources_after_distilled_more(tmp_path, monkeypatch):
    """5-8 target words (labels' 4, doubled); UI sources found anywhere in the help, of any length, are dropped."""
    from datasets import Dataset, DatasetDict

    from engine_hf.data import Pair

    def pairs(*rows):
        return Dataset.from_dict({"translation": [{"en": en, "pt": pt} for en, pt in rows]})

    five = "um dois três quatro cinco"
    help_corpus = DatasetDict(train=pairs(("Save", "Salvar"), ("Saving files", five), ("Long", five + " seis sete oito nove")),
                              validation=pairs(("Close all windows", five)), test=pairs(("Insert", "Inserir")))
    ui = [Pair("close all windows", five, "sw"),  # a help source (dev, 5 words): dropped
          Pair("Open", "Abrir", "cui"),  # 1 word: distill_ui's, not this stage's
          Pair("Open a file now", five, "cui"), Pair("Too long", five + " seis sete oito nove", "sw")]
    labels = labels_with_fake_distillation(tmp_path, monkeypatch, help_corpus, ui, "distilled-more")
    labels.stage_distill_wide()
    record = labels.read("distill_wide")
    assert (record["target_words"], record["help_train_sources"], record["ui_within_word_limit"],
            record["ui_removed_as_help_sources"], record["ui_sources"], record["base_sources"]) == ([5, 8], 1, 2, 1, 1, 2)
    wide = labels.root / "distilled-wide"
    assert labels.corpus_of("cmlm_wide") == str(wide)
    lines = (wide / "train.jsonl").read_text().splitlines()
    assert lines[:2] == ['{"split": "train"}'] * 2 and [json.loads(line)["translation"]["pt"] for line in lines[2:]] == [
        "T:Saving files", "T:Open a file now"]
    assert (wide / "test.jsonl").read_text() == '{"split": "test"}\n' * 2


def test_wide_start_trains_on_from_cmlm_more_and_runs_the_engine_setting_with_its_decaying_control(tmp_path,
                                                                                                  monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path / "results")
    labels = make_bench(tmp_path, "labels", quick=False)
    for name in ("cmlm_more", "cmlm_wide"):
        (labels.root / name).mkdir(parents=True)
        (labels.root / name / "config.json").write_text("{}")
    trained, runs = [], []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        trained.append((out.name, Path(corpus).name, steps, Path(student_model).name, kwargs["learning_rate"],
                        kwargs.get("lr_scheduler_type", "linear")))
        for callback in callbacks or []:
            callback.seconds, callback.steps = 70.0, 300
        return 1800.0

    def train_energy(out, start, steps, **kwargs):
        runs.append((start.name, Path(kwargs["corpus"]).name, kwargs["o1_temperature"], kwargs["learning_rate"]))
        return 70.0, []

    def evaluate(model, num_iterations=1, **kwargs):
        bleu = {"engine": 21.0, "control": 20.0}.get(Path(model).name, 19.0) + (5 if num_iterations == 10 else 0)
        return {"libreoffice": {"bleu": bleu, "chrf": 3 * bleu, "repetition": 0.1, "teacher_energy": bleu / 10}}

    monkeypatch.setattr(labels, "train_cmlm", train_cmlm)
    monkeypatch.setattr(labels, "train_energy", train_energy)
    monkeypatch.setattr(labels, "evaluate", evaluate)
    labels.s["confirm_seeds"] = (0,)
    labels.stage_cmlm_wide()
    assert trained == [("cmlm_wide", "distilled-wide", 6000, "cmlm_more", 3e-4, "linear")]
    assert labels.read("cmlm_wide")["initialised_from"] == "cmlm_more"
    labels.stage_wide_sx()
    assert runs == [("cmlm_wide", "distilled-wide", 1.0, 1e-5)]
    labels.stage_wide_decay_control()
    assert trained[-1] == ("control", "distilled-wide", 300, "cmlm_wide", 1e-4, "linear")
    decay = labels.read("wide_decay_control")
    assert decay["against"] == "wide_sx" and decay["points"][0]["control_bleu"] == 20.0
    labels.write("distill_wide", {"target_words": [5, 8], "help_train_sources": 6, "ui_within_word_limit": 3,
                                  "ui_removed_as_help_sources": 1, "ui_sources": 2, "base_sources": 10, "seconds": 5.0})
    text = make_tables.section_wide(labels.read("distill_wide"), labels.read("cmlm_wide"), labels.read("wide_sx"), decay)
    assert "the teacher's greedy outputs for the 8 new sources (5 s) join distilled-more's 10" in text.lower()
    assert "**The `engine` setting (O1 temperature 1) from cmlm_wide, over seeds** (`wide_sx`:" in text
    assert "- `wide_sx`: ENGINE - decaying control = +1.00 BLEU, +3.0 chrF, ENGINE above in chrF in 1 of 1" in text
    edge = make_tables.section_edge_by_start([labels.read("wide_sx")])
    assert "| 1 | cmlm_wide (`wide_sx`) | 19.00 / 57.0 | +1.00 / +3.0 | 1 of 1 | +2.00 / +6.0 |" in edge


def test_stronger_runs_the_sharp_setting_from_cmlm_more_on_its_corpus_and_tabulates_the_edge_by_start(tmp_path,
                                                                                                     monkeypatch):
    """`stronger_sx` (the engine setting) is read beside it; the edge table sorts by temperature, then start."""
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path / "results")
    labels = make_bench(tmp_path, "labels", quick=False)
    (labels.root / "cmlm_more").mkdir(parents=True)
    (labels.root / "cmlm_more" / "config.json").write_text("{}")
    runs = []

    def train_energy(out, start, steps, **kwargs):
        runs.append((start.name, kwargs["corpus"], kwargs["o1_temperature"]))
        return 70.0, []

    def evaluate(model, **kwargs):
        bleu = {"engine": 21.0, "control": 20.0}.get(Path(model).name, 19.0)
        return {"libreoffice": {"bleu": bleu, "chrf": 3 * bleu, "repetition": 0.1, "teacher_energy": bleu / 10}}

    monkeypatch.setattr(labels, "train_energy", train_energy)
    monkeypatch.setattr(labels, "train_cmlm", lambda *args, **kwargs: None)
    monkeypatch.setattr(labels, "evaluate", evaluate)
    labels.s["confirm_seeds"] = (0,)
    labels.stage_stronger()
    assert runs == [("cmlm_more", str(labels.root / "distilled-more"), 0.25)]
    stronger = labels.read("stronger")
    sharp = {"stage": "sharp", "starts": {"cmlm_long": {"bleu": 14.0, "chrf": 49.0}}, "points": [
        {"start": "cmlm_long", "seed": 0, "engine_bleu": 12.0, "control_bleu": 13.0, "engine_chrf": 50.0,
         "control_chrf": 49.0}]}
    sharp["o1_temperature"] = 0.25
    plain = {**stronger, "stage": "stronger_sx", "o1_temperature": 1.0,
             "points": [{**stronger["points"][0], "engine_bleu": 19.5}]}
    text = make_tables.section_stronger(None, None, stronger, plain)
    text += make_tables.section_edge_by_start([None, sharp, stronger, plain])
    assert "**The sharp setting from the stronger start, over seeds** (`stronger`:" in text
    assert "**The `engine` setting (O1 temperature 1) from the stronger start, over seeds** (`stronger_sx`:" in text
    assert "from cmlm_more, against `stronger`'s ENGINE (O1 temperature 0.25) of the same seeds: -1.50 BLEU" in text
    rows = [line for line in text.splitlines() if line.startswith("| 0.25 |") or line.startswith("| 1 |")]
    assert rows == ["| 1 | cmlm_more (`stronger_sx`) | 19.00 / 57.0 | -0.50 / +3.0 | 1 of 1 | +0.50 / +6.0 |",
                    "| 0.25 | cmlm_long (`sharp`) | 14.00 / 49.0 | -1.00 / +1.0 | 1 of 1 | -2.00 / +1.0 |",
                    "| 0.25 | cmlm_more (`stronger`) | 19.00 / 57.0 | +1.00 / +3.0 | 1 of 1 | +2.00 / +6.0 |"]


def test_slow_and_decaying_controls_train_ce_beside_each_stronger_run(tmp_path, monkeypatch):
    """slow_control: lr 1e-5 for the run's wall time; decay_control: 1e-4 decaying over the first control's steps."""
    labels = make_bench(tmp_path, "labels", quick=False)
    (labels.root / "cmlm_more").mkdir(parents=True)
    (labels.root / "cmlm_more" / "config.json").write_text("{}")
    point = {"start": "cmlm_more", "seed": 1, "train_seconds": 250.0, "engine_bleu": 15.0, "engine_chrf": 53.0,
             "engine_repetition": 0.1, "engine_teacher_energy": 3.4, "control_bleu": 11.0, "control_chrf": 49.0,
             "control_repetition": 0.13, "control_teacher_energy": 3.6, "engine_bleu_10": 26.0,
             "engine_chrf_10": 60.0, "control_bleu_10": 27.0, "control_chrf_10": 57.0}
    labels.write("stronger", {"stage": "stronger", "o1_temperature": 0.25, "starts": {"cmlm_more": {"bleu": 16.0}},
                              "points": [point]})
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        trained.append((Path(student_model).name, Path(corpus).name, kwargs["learning_rate"], kwargs["seed"],
                        callbacks[0].seconds))
        callbacks[1].seconds, callbacks[1].steps = 250.5, 640

    def evaluate(model, num_iterations, **kwargs):
        bleu = 16.0 if num_iterations == 1 else 28.0
        return {"libreoffice": {"bleu": bleu, "chrf": 3 * bleu, "repetition": 0.12, "teacher_energy": 3.5}}

    monkeypatch.setattr(labels, "train_cmlm", train_cmlm)
    monkeypatch.setattr(labels, "evaluate", evaluate)
    labels.stage_slow_control()
    labels.stage_slow_control()  # finished points are not run again
    assert trained == [("cmlm_more", "distilled-more", 1e-5, 1, 250.0)]
    slow = labels.read("slow_control")
    assert not slow["partial"] and slow["points"][0]["control_steps"] == 640
    assert (slow["points"][0]["control_bleu"], slow["points"][0]["control_chrf_10"]) == (16.0, 84.0)
    text = make_tables.section_slow_control(slow, labels.read("stronger"), None)
    assert ("| `stronger` (O1 temperature 0.25) | 1 | 15.00 / 53.0 / 0.10 / 3.40 | 11.00 / 49.0 / 0.13 / 3.60 | "
            "16.00 / 48.0 / 0.12 / 3.50 (640 steps, 250 s) | -1.00 / +5.0 | -2.00 / -24.0 |") in text
    assert "- `stronger`: ENGINE - slow control = -1.00 BLEU, +5.0 chrF, ENGINE above in chrF in 1 of 1" in text

    decayed = []  # the decaying control: the first control's step count, no stopwatch
    monkeypatch.setattr(labels, "train_cmlm", lambda out, corpus, steps, student_model=None, callbacks=None, **kwargs:
                        decayed.append((steps, kwargs["learning_rate"], kwargs["lr_scheduler_type"], len(callbacks))))
    point["control_steps"] = 700
    labels.write("stronger", {"stage": "stronger", "o1_temperature": 0.25, "starts": {}, "points": [point]})
    labels.stage_decay_control()
    assert decayed == [(700, 1e-4, "linear", 1)]
    text = make_tables.section_slow_control(labels.read("decay_control"), labels.read("stronger"))
    assert "**A control with a short decaying schedule** (`decay_control`: CE from lr 0.0001 decaying linearly" in text
    assert "- `stronger`: ENGINE - decaying control = -1.00 BLEU" in text


def test_lengths_strong_scores_each_strong_model_at_predicted_and_reference_lengths_once(tmp_path, monkeypatch):
    monkeypatch.setattr(make_tables.common, "RESULTS", tmp_path / "results")
    labels = make_bench(tmp_path, "labels", quick=False)
    folders = [labels.root / "cmlm_more"] + [labels.root / stage / "cmlm_more-seed0" / system
                                             for stage, system in (("stronger", "engine"), ("stronger", "control"),
                                                                   ("decay_control", "control"))]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(folder.parent.name.encode())
    labels.write("stronger", {"points": [{"start": "cmlm_more", "seed": 0}]})
    labels.write("decay_control", {"points": [{"start": "cmlm_more", "seed": 0}]})
    bleu = {"cmlm_more": 16.0, "engine": 17.0, "control": 12.0}
    scored = []

    def evaluate(model, **kwargs):
        scored.append(Path(model))
        name = Path(model).name
        b = bleu[name] - (1 if "decay_control" in str(model) else 0)
        return {"libreoffice": {"bleu": b, "chrf": 3 * b, "length_ratio": 0.9, "repetition": 0.1}}

    def oracle(model, teacher, data, split):
        assert split == "test"
        b = bleu[Path(model).name] + (6 if Path(model).name == "cmlm_more" else 4)
        return {"bleu": b, "chrf": 3 * b, "length_ratio": 1.05, "repetition": 0.1, "discrete_energy": 3.0,
                "length_head_offset": -0.5, "length_head_exact": 0.25}

    monkeypatch.setattr(labels, "evaluate", evaluate)
    monkeypatch.setattr(labels_stages, "oracle_length_scores", oracle)
    labels.stage_lengths_strong()
    labels.stage_lengths_strong()  # scored rows are kept, not scored again
    assert len(scored) == 5 and labels.read("lengths_strong")["partial"] is False  # the start at 10 it. too
    text = make_tables.section_lengths_strong(labels.read("lengths_strong"))
    assert "| cmlm_more (start) | 1 | 16.00 / 48.0 / 0.90 | 22.00 / 66.0 / 1.05 | - | -0.50 / 25% |" in text
    assert ("| `stronger` engine | 1 | 17.00 / 51.0 / 0.90 | 21.00 / 63.0 / 1.05 | +1.00 / +3.0 ; -1.00 / -3.0 | "
            "-0.50 / 25% |") in text
    assert ("- `stronger` ENGINE - its matched control (lr 1e-4), 1 seed(s): +5.00 / +15.0 at predicted lengths, "
            "+5.00 / +15.0 at the reference lengths") in text
    assert "- `stronger` ENGINE - `decay_control`, 1 seed(s): +6.00 / +18.0 at predicted lengths" in text
    assert "- cmlm_more (start) at 10 iterations, length beam 3: 16.00 / 48.0" in text


def test_rescoring_strong_scores_the_two_strongest_starts_under_its_own_name(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    for name in ("cmlm_more", "cmlm_wide"):
        (labels.root / name).mkdir(parents=True)
        (labels.root / name / "config.json").write_text("{}")
    calls = []

    def evaluate(model, num_iterations, length_beam, **kwargs):
        calls.append((Path(model).name, num_iterations, length_beam, "rescoring_model" in kwargs))
        return {"libreoffice": {"bleu": 20.0 + ("rescoring_model" in kwargs), "chrf": 50.0}}

    monkeypatch.setattr(labels, "evaluate", evaluate)
    labels.stage_rescoring_strong()
    data = labels.read("rescoring_strong")
    assert list(data["rows"]) == ["cmlm_more", "cmlm_wide"] and not data["partial"]
    assert len(calls) == 2 * 2 * (1 + 2 * 3)  # 2 models x 2 iteration counts x (beam 1 + beams 3/5/10 x 2 pickers)
    assert not labels.result_path("rescoring").exists()
    text = make_tables.section_rescoring(data)
    assert text.startswith("**Rescoring the length candidates of the strongest starts** (`rescoring_strong`:")
    assert "1 iteration(s), length beam 3: teacher picks - student picks = +1.00 BLEU" in text


def test_length_choice_refits_the_head_per_start_once_and_tabulates_it_against_the_start(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    for name in ("cmlm_kd", "cmlm_more"):  # cmlm_long and cmlm_wide not on this machine
        (labels.root / name).mkdir(parents=True)
        (labels.root / name / "config.json").write_text("{}")
        (labels.root / name / "model.safetensors").write_bytes(name.encode())
    done = []

    def result(bleu: float, head_exact: float, fit: bool) -> dict:
        row = {f"{n} it, length beam {beam}": {"bleu": bleu + beam, "chrf": 40.0 + bleu, "length_ratio": 0.9}
               for n, beam in ((1, 1), (1, 3), (10, 3))}
        row["head_on_test"] = {"reference exact": head_exact, "reference offset": -0.5,
                               "teacher's choice exact": 1 - head_exact}
        if fit:
            row["fit"] = {"final_loss": 1.0, "agreement_before": 0.3, "agreement_after": 0.6}
        return {"model": "m", **row}

    def row(start: str) -> dict:
        done.append(start)
        return {"training_sources": 8741, "training_choice_equals_target": 0.25,
                "start, 1 it, length beam 5, teacher rescoring": {"bleu": 20.0, "chrf": 55.0, "length_ratio": 0.91},
                "systems": {"start": result(10.0, 0.4, False), "teacher's choice": result(12.0, 0.3, True),
                            "training targets' lengths": result(9.5, 0.45, True)}}

    monkeypatch.setattr(labels, "length_choice_row", row)
    labels.stage_length_choice()
    labels.stage_length_choice()  # finished starts are kept
    data = labels.read("length_choice")
    assert done == ["cmlm_kd", "cmlm_more"] and list(data["rows"]) == done and not data["partial"]
    text = make_tables.section_length_choice(data)
    assert text.startswith("**The teacher's choice of length, learnt by the length head** (`length_choice`: the "
                           "teacher's pick among the start's 5 likeliest lengths after 1 iteration(s)")
    digest = hashlib.sha256(b"cmlm_kd").hexdigest()[:8]
    assert f"| cmlm_kd `{digest}` | 11.00 / 50.0 / 0.90 |" in text
    assert "| cmlm_kd, head refitted to the teacher's choice | 13.00 / 52.0 / 0.90 | 15.00 / 52.0 / 0.90 |" in text
    assert "| 30% / -0.50 | 70% | 30% -> 60% |" in text
    assert ("- cmlm_kd, head refitted to the teacher's choice, 1 it, length beam 1: +2.00 BLEU / +2.0 chrF against "
            "the start") in text
    assert "(the target of the teacher's-choice head): 20.00 / 55.0 / 0.91; the teacher's choice equals the" in text


def test_hardware_description_names_cores_cpu_model_and_vector_unit():
    import os

    import torch

    from engine_hf.benchmark import hardware_description

    text = hardware_description()
    assert text.startswith(f"{os.cpu_count()} CPU cores (")
    assert f", {torch.backends.cpu.get_cpu_capability()}), " in text
    assert text.endswith("no GPU") != torch.cuda.is_available()


def test_still_encoder_trains_both_recipes_without_encoder_dropout_once_and_sets_them_beside_the_noisy_ones(
    tmp_path, monkeypatch
):
    labels = make_bench(tmp_path, "labels", quick=False)

    def save(folder: Path, weights: bytes) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(weights)

    for name in ("cmlm_kd", "cmlm_long"):
        save(labels.root / name, name.encode())
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, **overrides):
        trained.append((out.name, Path(corpus).name, steps, student_model and Path(student_model).name,
                        labels.encoder_dropout, overrides.get("learning_rate")))
        save(out, out.name.encode())
        return 60.0 * len(trained)

    def still_row(model: Path) -> dict:
        bleu = 10.0 + 2 * model.name.endswith("_still") + 5 * ("long" in model.name)
        scores = {"bleu": bleu, "chrf": 40.0 + bleu, "repetition": 0.1}
        return {"model": str(model), "model_sha256": bench.weights_digest(model),
                **{f"{n} it, length beam {beam}": scores for n, beam in settings.STILL_DECODING},
                "reference lengths": {**scores, "length_head_exact": 0.4, "length_head_offset": -0.5}}

    measured = []

    def dropout_noise(model: Path) -> dict:
        measured.append(model.name)
        return {"sources": 3000, "draws": 3, "dropout": 0.1, "relative_change": 0.4, "head_exact_clean": 0.3,
                "head_exact_noised": 0.25}

    monkeypatch.setattr(labels, "train_cmlm", train_cmlm)
    monkeypatch.setattr(labels, "still_row", still_row)
    monkeypatch.setattr(labels, "dropout_noise", dropout_noise)
    labels.stage_still_encoder()
    labels.stage_still_encoder()  # finished models are kept
    assert measured == ["cmlm_kd_still", "cmlm_long_still", "cmlm_kd", "cmlm_long"]
    assert trained == [("cmlm_kd_still", "distilled", labels.s["cmlm_steps"], None, False, None),
                       ("cmlm_long_still", "distilled", labels.s["long_steps"], "cmlm_kd_still", False, 3e-4)]
    assert labels.encoder_dropout  # every other stage keeps the recipe it was run with
    data = labels.read("still_encoder")
    assert list(data["rows"]) == ["cmlm_kd_still", "cmlm_long_still", "cmlm_kd", "cmlm_long"] and not data["partial"]
    assert data["rows"]["cmlm_long_still"]["train_seconds"] == 120.0
    text = make_tables.section_still_encoder(data)
    assert text.startswith("**A still encoder: the frozen encoder without dropout while the student trains**")
    digest = bench.weights_digest(labels.root / "cmlm_kd_still")[:8]
    assert f"| cmlm_kd_still `{digest}` | no | 1 | 12.00 / 52.0 / 0.10 |" in text
    assert ("- cmlm_long_still - cmlm_long (BLEU / chrF): 1 it, length beam 1 +2.00 / +2.0; 1 it, length beam 3 "
            "+2.00 / +2.0") in text
    assert ("- cmlm_kd: dropout 0.1 in the frozen encoder moves the length summary by 40% of its norm on 3,000 "
            "training sources (mean of 3 draws); the length head is exact on 30% of them from clean summaries, 25% "
            "from noised ones") in text


def test_still_main_retrains_the_main_rows_without_encoder_dropout_resumes_and_tables_them(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)

    def save(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(folder.name.encode())

    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **overrides):
        trained.append((out.name, Path(corpus).name, steps, student_model and Path(student_model).name,
                        a.encoder_dropout, callbacks and callbacks[0].seconds, overrides.get("learning_rate")))
        save(out)
        return 1500.0

    def train_energy(out, start, steps, corpus, **overrides):
        trained.append((out.name, Path(corpus).name, steps, start.name, a.encoder_dropout))
        save(out)
        if len(trained) == 2:
            raise KeyboardInterrupt  # killed after ENGINE's training, before its scores were written
        return 300.0, []

    def evaluate_nat(model, length_beam):  # BLEU says which model and which length beam
        bleu = {"cmlm_kd_still": 10.0, "engine_still": 12.0, "control_still": 11.0}[model.name] + length_beam / 10
        scores = {corpus: {"bleu": bleu, "chrf": 4 * bleu, "repetition": 0.1, "teacher_energy": 3.0}
                  for corpus in ("libreoffice", "bible")}
        return {"1_iterations": scores, "10_iterations": scores}

    monkeypatch.setattr(a, "train_cmlm", train_cmlm)
    monkeypatch.setattr(a, "train_energy", train_energy)
    monkeypatch.setattr(a, "evaluate_nat", evaluate_nat)
    assert "still_main" in a.benchmark.stages
    with pytest.raises(KeyboardInterrupt):
        a.stage_still_main()
    assert a.read("still_main")["partial"] and list(a.read("still_main")["rows"]) == ["cmlm_kd_still"]
    a.stage_still_main()  # resumes: the finished CMLM is not trained again
    a.stage_still_main()  # and a finished stage trains nothing
    assert trained == [("cmlm_kd_still", "distilled", a.s["cmlm_steps"], None, False, None, None),
                       ("engine_still", "distilled", a.s["energy_steps"], "cmlm_kd_still", False),
                       ("engine_still", "distilled", a.s["energy_steps"], "cmlm_kd_still", False),
                       ("control_still", "distilled", 10**6, "cmlm_kd_still", False, 300.0, 1e-4)]
    assert a.encoder_dropout  # the other stages keep the recipe they were run with
    data = a.read("still_main")
    assert not data["partial"] and list(data["rows"]["cmlm_kd_still"]) == [
        "train_seconds", "steps", "model", "model_sha256", "length beam 5", "length beam 3"]
    assert data["rows"]["control_still"]["budget_seconds"] == 300.0
    teacher = {"greedy": {"libreoffice": {"bleu": 40.0}}}
    old = {"libreoffice": {"bleu": 2.0, "chrf": 20.0}, "bible": {"bleu": 1.0, "chrf": 10.0}}
    text = make_tables.section_still_main(data, teacher, {"cmlm_kd": {"1_iterations": old, "10_iterations": old}})
    digest = bench.weights_digest(a.root / "engine_still")[:8]
    assert f"| ENGINE (SX/ST), still encoder `{digest}` | 1 | 3 | 12.3 | 49.2 | 0.10 | 3.00 | 12.3 | 49.2 |" in text
    assert ("- ENGINE - control_still at length beam 3 (BLEU / chrF): 1 it: help +1.00 / +4.0, Bible +1.00 / +4.0"
            in text)
    assert "- cmlm_kd_still - the main table's cmlm_kd (dropout in the frozen encoder; length beam 5): 1 it: help " \
           "+8.50 / +22.0" in text
    assert "ENGINE at one pass reaches 31% of teacher greedy's help BLEU (12.30 vs 40.00; the target is 95%)" in text


def test_still_sharp_trains_the_sharp_setting_from_cmlm_kd_still_and_joins_still_mains_table(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    assert "still_sharp" in a.benchmark.stages
    with pytest.raises(SystemExit, match=r"cmlm_kd_still does not.*--rebuild cmlm_kd_still"):
        a.stage_still_sharp()  # the start is gone: the error names the stage that trains it
    for folder in (a.root / "cmlm_kd_still", a.root / "still_sharp"):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(folder.name.encode())
    trained = []

    def train_energy(out, start, steps, corpus, **overrides):
        trained.append((out.name, start.name, Path(corpus).name, a.encoder_dropout, overrides))
        return 320.0, []

    def scores(bleu: float) -> dict:
        per_corpus = {corpus: {"bleu": bleu, "chrf": 4 * bleu, "repetition": 0.1, "teacher_energy": 3.0}
                      for corpus in ("libreoffice", "bible")}
        return {"1_iterations": per_corpus, "10_iterations": per_corpus}

    monkeypatch.setattr(a, "train_energy", train_energy)
    monkeypatch.setattr(a, "evaluate_nat", lambda model, length_beam: scores(13.0))
    a.stage_still_sharp()
    assert trained == [("still_sharp", "cmlm_kd_still", "distilled", False,
                        {"learning_rate": 1e-5, "ce_weight": 1.0, "o1": "sx", "o1_temperature": 0.25})]
    assert a.encoder_dropout
    sharp = a.read("still_sharp")
    assert sharp["train_seconds"] == 320.0 and sharp["start_sha256"] == bench.weights_digest(a.root / "cmlm_kd_still")
    main = {"rows": {"cmlm_kd_still": {"model_sha256": "c" * 16, "length beam 3": scores(10.0)},
                     "engine_still": {"model_sha256": "e" * 16, "length beam 3": scores(12.0)},
                     "control_still": {"model_sha256": "f" * 16, "budget_seconds": 300.0, "length beam 3": scores(11.0)}}}
    text = make_tables.section_still_main(main, None, {}, sharp)
    assert f"| ENGINE (SX/ST, O1 temperature 0.25), still encoder `{sharp['model_sha256'][:8]}` | 1 | 3 | 13.0 |" in text
    assert ("- ENGINE at O1 temperature 0.25 (`still_sharp`, one seed, 320 s; the control had 300 s) - control_still at "
            "length beam 3 (BLEU / chrF): 1 it: help +2.00 / +8.0, Bible +2.00 / +8.0") in text
    assert "- ENGINE at O1 temperature 0.25 (`still_sharp`, one seed, 320 s; the control had 300 s) - engine_still" in text
    assert "another draw" in text  # still_main's start here is not the one still_sharp trained from
    main["rows"]["cmlm_kd_still"]["model_sha256"] = sharp["start_sha256"]
    assert "another draw" not in make_tables.section_still_main(main, None, {}, sharp)


def test_still_seeds_repeats_still_mains_pair_with_seeds_1_and_2_and_tables_them(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    assert "still_seeds" in a.benchmark.stages
    start = a.root / "cmlm_kd_still"
    start.mkdir(parents=True)
    (start / "config.json").write_text("{}")
    (start / "model.safetensors").write_bytes(b"start")
    pairs = []

    def matched_pair(out, start_dir, corpus, seed, setting):
        pairs.append((out.name, start_dir.name, Path(corpus).name, seed, setting, a.encoder_dropout))
        return {"engine_bleu": 8.0 + seed, "engine_chrf": 33.0, "engine_repetition": 0.4, "control_bleu": 9.0,
                "control_chrf": 37.0, "control_repetition": 0.4}

    monkeypatch.setattr(a, "matched_pair", matched_pair)
    monkeypatch.setattr(a, "evaluate", lambda model, **kw: {"libreoffice": {"bleu": 8.2, "chrf": 36.0, "repetition": 0.42}})
    a.stage_still_seeds()
    assert pairs == [("cmlm_kd_still-seed1", "cmlm_kd_still", "distilled", 1, settings.ENGINE, False),
                     ("cmlm_kd_still-seed2", "cmlm_kd_still", "distilled", 2, settings.ENGINE, False)]
    assert a.encoder_dropout
    text = make_tables.section_confirm(a.read("still_seeds"), title="t")
    assert "| cmlm_kd_still | 1 | 8.20 / 36.0 / 0.42 | 9.00 / 33.0 / 0.40 | 9.00 / 37.0 / 0.40 | +0.00 / -4.0 |" in text
    assert "ENGINE - control = +0.50 BLEU (sd 0.71), -4.0 chrF on average over 2 seed(s)" in text


def test_still_long_trains_cmlm_longs_recipe_from_cmlm_kd_still_and_its_seeds_start_there(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    assert {"still_long", "still_long_seeds"} <= set(a.benchmark.stages)
    with pytest.raises(SystemExit, match=r"cmlm_long_still does not.*--rebuild cmlm_long_still"):
        a.stage_still_long_seeds()  # its start is gone: the error names the command that trains it again
    start = a.root / "cmlm_kd_still"
    start.mkdir(parents=True)
    (start / "config.json").write_text("{}")
    (start / "model.safetensors").write_bytes(b"start")
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **overrides):
        trained.append((out.name, Path(corpus).name, steps, Path(student_model).name, a.encoder_dropout,
                        overrides["learning_rate"], overrides["save_steps"]))
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(b"long")
        return 3000.0

    def scores(model: Path, length_beam: int) -> dict:
        per_corpus = {corpus: {"bleu": 12.0 + length_beam, "chrf": 40.0} for corpus in ("libreoffice", "bible")}
        return {"1_iterations": per_corpus, "10_iterations": per_corpus}

    monkeypatch.setattr(a, "train_cmlm", train_cmlm)
    monkeypatch.setattr(a, "evaluate_nat", scores)
    a.stage_still_long()
    assert trained == [("cmlm_long_still", "distilled", 3000, "cmlm_kd_still", False, 3e-4, 1500)]
    assert a.encoder_dropout  # the other stages keep the recipe they were run with
    record = a.read("still_long")
    assert record["model_sha256"] == bench.weights_digest(a.root / "cmlm_long_still")
    assert record["length beam 5"]["1_iterations"]["libreoffice"]["bleu"] == 17.0
    assert record["length beam 3"]["1_iterations"]["bible"]["bleu"] == 15.0
    start = {its: {"libreoffice": {"bleu": 8.0, "chrf": 35.0}} for its in ("1_iterations", "10_iterations")}
    noisy = {its: {"libreoffice": {"bleu": 6.0, "chrf": 30.0}} for its in ("1_iterations", "10_iterations")}
    for corpus_scores in record["length beam 5"].values():  # the table's cells need these too
        for scores_ in corpus_scores.values():
            scores_.update(repetition=0.3, teacher_energy=5.0)
    text = make_tables.section_still_long({**record, "length beam 3": record["length beam 5"]},
                                          {"rows": {"cmlm_kd_still": {"length beam 5": start}}}, noisy)
    assert "3000 more CE steps at lr 0.0003 decaying, from cmlm_kd_still with the still encoder; 50 min" in text
    assert f"| cmlm_long_still `{record['model_sha256'][:8]}` | 1 | 5 | 17.0 | 40.0 | 0.30 | 5.00 | 17.0 | 40.0 |" in text
    assert "- cmlm_long_still - cmlm_kd_still (its start, `still_main`), length beam 5 (BLEU / chrF): 1 it: help " \
           "+9.00 / +5.0; 10 it: help +9.00 / +5.0" in text
    assert "- cmlm_long_still - cmlm_long (dropout in the frozen encoder), length beam 5 (BLEU / chrF): 1 it: help " \
           "+11.00 / +10.0" in text

    pairs = []

    def matched_pair(out, start_dir, corpus, seed, setting):
        pairs.append((out.name, start_dir.name, Path(corpus).name, seed, setting, a.encoder_dropout))
        return {"engine_bleu": 14.0, "engine_chrf": 41.0, "control_bleu": 15.0, "control_chrf": 42.0}

    monkeypatch.setattr(a, "matched_pair", matched_pair)
    monkeypatch.setattr(a, "evaluate", lambda model, **kw: {"libreoffice": {"bleu": 15.0, "chrf": 41.5}})
    a.stage_still_long_seeds()
    assert pairs == [(f"cmlm_long_still-seed{seed}", "cmlm_long_still", "distilled", seed, settings.ENGINE, False)
                     for seed in (0, 1, 2)]
    assert a.encoder_dropout
    assert [p["seed"] for p in a.read("still_long_seeds")["points"]] == [0, 1, 2]
    # still_long_sharp: the sharp O1 from the same start, seed 2 first (the seed output_chars counted), own controls
    a.stage_still_long_sharp()
    assert pairs[3:] == [(f"cmlm_long_still-seed{seed}", "cmlm_long_still", "distilled", seed, settings.SHARP, False)
                         for seed in (2, 0, 1)]
    assert a.read("still_long_sharp")["setting"] == settings.SHARP.key and a.encoder_dropout
    del pairs[3:]
    # a start rebuilt with other weights cannot add seeds beside the finished ones
    finished = a.read("still_long_seeds")
    finished["points"], finished["partial"] = finished["points"][:2], True
    a.write("still_long_seeds", finished)
    (a.root / "cmlm_long_still" / "model.safetensors").write_bytes(b"rebuilt otherwise")
    with pytest.raises(SystemExit, match=r"is not the cmlm_long_still its finished seeds started from.*--rebuild "
                                         r"cmlm_long_still"):
        a.stage_still_long_seeds()
    assert len(pairs) == 3


def test_rebuild_trains_a_gone_start_by_its_recipe_and_checks_the_recorded_digest(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    with pytest.raises(SystemExit, match=r"no recipe for 'engine'; choose from distilled, distilled-all, cmlm_kd"):
        a.rebuild("engine")
    with pytest.raises(SystemExit, match=r"records no finished cmlm_kd_still.*--stages still_main"):
        a.rebuild("cmlm_kd_still")
    weights = {"cmlm_kd_still": b"kd", "cmlm_long_still": b"long"}
    a.write("still_main", {"rows": {"cmlm_kd_still": {"model_sha256": hashlib.sha256(b"kd").hexdigest()[:16]}},
                           "partial": True})
    a.write("still_long", {"model_sha256": hashlib.sha256(b"long").hexdigest()[:16]})
    results = {path.name: path.read_text() for path in a.results.iterdir()}
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, **overrides):
        trained.append((out.name, Path(corpus).name, steps, student_model and Path(student_model).name,
                        a.encoder_dropout))
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(weights[out.name])
        return 1.0

    monkeypatch.setattr(a, "train_cmlm", train_cmlm)
    with pytest.raises(SystemExit, match=r"cmlm_kd_still does not.*--rebuild cmlm_kd_still"):
        a.rebuild("cmlm_long_still")  # its start first
    a.rebuild("cmlm_kd_still")
    a.rebuild("cmlm_long_still")
    a.rebuild("cmlm_long_still")  # there already, with the recorded weights: nothing to do
    assert trained == [("cmlm_kd_still", "distilled", 2000, None, False),
                       ("cmlm_long_still", "distilled", 3000, "cmlm_kd_still", False)]
    assert a.encoder_dropout
    assert {path.name: path.read_text() for path in a.results.iterdir()} == results  # results untouched
    # weights that come out otherwise stop the rebuild and are kept
    shutil.rmtree(a.root / "cmlm_long_still")
    weights["cmlm_long_still"] = b"nondeterministic"
    with pytest.raises(SystemExit, match=r"differ from the ones .*bench_still_long.json recorded"):
        a.rebuild("cmlm_long_still")
    assert (a.root / "cmlm_long_still" / "model.safetensors").read_bytes() == b"nondeterministic"
    # and a folder holding other weights is never trained over
    with pytest.raises(SystemExit, match=r"holds other weights.*nothing was changed"):
        a.rebuild("cmlm_long_still")
    assert len(trained) == 3


def test_distill_records_its_corpus_digest_and_rebuild_distilled_checks_it(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    outputs = {"text": "uma"}

    def distill():  # the teacher faked: distill_corpus resumes, so a whole corpus is left as it is
        out = a.root / "distilled"
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "train.jsonl").exists():
            (out / "train.jsonl").write_text(f'{{"translation": {{"en": "one", "pt": "{outputs["text"]}"}}}}\n')
        return 2.0

    monkeypatch.setattr(a, "distill", distill)
    a.stage_distill()
    recorded = a.read("distill")["train_sha256"]
    assert recorded == bench.corpus_digest(a.root / "distilled") and len(recorded) == 16
    results = {path.name: path.read_text() for path in a.results.iterdir()}
    a.rebuild("distilled")  # there, as recorded: nothing to do
    shutil.rmtree(a.root / "distilled")
    a.rebuild("distilled")  # gone: distilled again to the same text
    outputs["text"] = "um"  # a near-tie decided the other way on another CPU
    shutil.rmtree(a.root / "distilled")
    with pytest.raises(SystemExit, match=r"train.jsonl \(digest \w+\) differs from the corpus .*bench_distill.json "
                                         r"recorded .*it is kept.*ATEN_CPU_CAPABILITY=avx2"):
        a.rebuild("distilled")
    assert '"um"' in (a.root / "distilled" / "train.jsonl").read_text()
    assert {path.name: path.read_text() for path in a.results.iterdir()} == results  # results untouched


def test_distill_all_records_its_corpus_digest_and_rebuild_distilled_all_checks_it(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    outputs = {"text": "dois"}

    def distill_all():  # the teacher faked: a whole corpus is left as it is
        out = a.root / "distilled-all"
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "train.jsonl").exists():
            (out / "train.jsonl").write_text(f'{{"translation": {{"en": "two", "pt": "{outputs["text"]}"}}}}\n')
        return {"base_sources": 1, "sources": 2, "help_train_pairs": 2, "num_beams": 1, "seconds": 3.0}

    monkeypatch.setattr(a, "distill_all", distill_all)
    a.stage_distill_all()
    record = a.read("distill_all")
    assert record["train_sha256"] == bench.corpus_digest(a.root / "distilled-all") and record["sources"] == 2
    assert record["corpus"] == str(a.root / "distilled-all")
    results = {path.name: path.read_text() for path in a.results.iterdir()}
    shutil.rmtree(a.root / "distilled-all")
    a.rebuild("distilled-all")  # gone: distilled again to the same text
    outputs["text"] = "duas"
    shutil.rmtree(a.root / "distilled-all")
    with pytest.raises(SystemExit, match=r"--rebuild distilled-all: .*differs from the corpus .*bench_distill_all.json"):
        a.rebuild("distilled-all")
    with pytest.raises(SystemExit, match=r"no recipe for 'nothing'; choose from distilled, distilled-all, cmlm_kd"):
        a.rebuild("nothing")
    assert {path.name: path.read_text() for path in a.results.iterdir()} == results  # results untouched


def test_still_rebuilt_trains_the_still_chain_again_and_runs_seed_2_from_it_beside_the_recorded_starts(
        tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    assert "still_rebuilt" in a.benchmark.stages
    recorded = {"bleu": 11.0, "chrf": 42.0, "teacher_energy": 6.1, "repetition": 0.3, "model_sha256": "be07f873aaaa"}
    a.write("still_seeds", {"starts": {"cmlm_kd_still": {**recorded, "bleu": 8.0, "model_sha256": "efc21fdabbbb"}}})
    a.write("still_long_seeds", {**{"setting": settings.ENGINE.key, "selected_on": "x", "energy_steps": 200},
                                 "starts": {"cmlm_long_still": recorded},
                                 "points": [{"start": "cmlm_long_still", "seed": seed, "engine_bleu": 11.0 + seed,
                                             "control_bleu": 10.0, "engine_chrf": 40.0, "control_chrf": 41.0,
                                             "engine_repetition": 0.3, "control_repetition": 0.3} for seed in (0, 1)]})
    trained, pairs = [], []

    def train_cmlm(out, corpus, steps, student_model=None, **overrides):
        trained.append((out.relative_to(a.root).as_posix(), steps, student_model and Path(student_model).name,
                        a.encoder_dropout))
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(out.name.encode())
        return 1.0

    def evaluate(model, **kwargs):
        bleu = {"cmlm_kd_still": 8.5, "cmlm_long_still": 10.5}[Path(model).name]
        return {"libreoffice": {"bleu": bleu, "chrf": 41.0, "teacher_energy": 6.2, "repetition": 0.3}}

    def matched_pair(out, start_dir, corpus, seed, setting):
        pairs.append((out.relative_to(a.root).as_posix(), start_dir.relative_to(a.root).as_posix(), seed,
                      a.encoder_dropout))
        return {"engine_bleu": 11.5, "control_bleu": 10.5, "engine_chrf": 40.0, "control_chrf": 42.0,
                "engine_repetition": 0.3, "control_repetition": 0.3}

    monkeypatch.setattr(a, "train_cmlm", train_cmlm)
    monkeypatch.setattr(a, "evaluate", evaluate)
    monkeypatch.setattr(a, "matched_pair", matched_pair)
    a.stage_still_rebuilt()
    a.stage_still_rebuilt()  # resumes: nothing trained or run twice
    assert trained == [("rebuilt/cmlm_kd_still", 2000, None, False),
                       ("rebuilt/cmlm_long_still", 3000, "cmlm_kd_still", False)]
    assert pairs == [("still_rebuilt/cmlm_long_still_rebuilt-seed2", "rebuilt/cmlm_long_still", 2, False)]
    assert a.encoder_dropout
    result = a.read("still_rebuilt")
    rebuilt = result["rebuilt"]["cmlm_long_still"]
    assert rebuilt["recorded"]["model_sha256"] == "be07f873aaaa" and rebuilt["bleu"] == 10.5
    assert rebuilt["model_sha256"] == bench.weights_digest(a.root / "rebuilt" / "cmlm_long_still")
    assert result["rebuilt"]["cmlm_kd_still"]["recorded"]["bleu"] == 8.0
    text = make_tables.section_still_rebuilt(result, a.read("still_long_seeds"))
    assert f"| cmlm_long_still | `be07f873` | 11.00 / 42.0 / 6.10 | `{rebuilt['model_sha256'][:8]}` | 10.50 / 41.0 / " \
           "6.20 | -0.50 / -1.0 |" in text
    assert "| cmlm_long_still_rebuilt | 2 | 10.50 / 41.0 / 0.30 | 11.50 / 40.0 / 0.30 | 10.50 / 42.0 / 0.30 | " \
           "+1.00 / -2.0 |" in text
    # pooled over seeds 0, 1 (recorded start) and 2 (rebuilt): BLEU +1, +2, +1; chrF -1, -1, -2
    assert "(seed 2, the seed `still_long_seeds` had not run then)" in text
    assert "(3 pairs: seeds 0, 1 from cmlm_long_still; seed 2 from cmlm_long_still_rebuilt): ENGINE - control = " \
           "+1.33 BLEU (sd 0.58), -1.3 chrF at one pass; ENGINE above in BLEU in 3 of 3, in chrF in 0 of 3." in text
    # once seed 2 has run from the recorded start as well, the title and the pooled line say so
    seeds = a.read("still_long_seeds")
    seeds["points"].append({**seeds["points"][0], "seed": 2})
    text = make_tables.section_still_rebuilt(result, seeds)
    assert "(seed 2, also run from the recorded start in `still_long_seeds`)" in text
    assert "(4 pairs: seeds 0, 1, 2 from cmlm_long_still; seed 2 from cmlm_long_still_rebuilt)" in text

    # still_rebuilt_sharp: the sharp O1 from the same rebuilt start, seed 2, and only from those weights
    assert "still_rebuilt_sharp" in a.benchmark.stages and "still_rebuilt_sharp" in settings.OUTPUT_CHARS_STAGES
    a.stage_still_rebuilt_sharp()
    assert pairs[1:] == [(f"still_rebuilt_sharp/cmlm_long_still_rebuilt-seed{seed}", "rebuilt/cmlm_long_still", seed,
                          False) for seed in (2, 0, 1)]
    sharp = a.read("still_rebuilt_sharp")
    assert sharp["setting"] == settings.SHARP.key and not sharp["partial"]
    assert sharp["starts"]["cmlm_long_still_rebuilt"]["model_sha256"] == rebuilt["model_sha256"]
    (a.root / "rebuilt" / "cmlm_long_still" / "model.safetensors").write_bytes(b"trained again, otherwise")
    a.result_path("still_rebuilt_sharp").unlink()
    with pytest.raises(SystemExit, match=r"is not the cmlm_long_still_rebuilt its finished seeds started from"):
        a.stage_still_rebuilt_sharp()
    assert len(pairs) == 4


def test_output_chars_counts_what_each_system_of_the_pairs_on_disk_outputs(tmp_path, monkeypatch):
    import engine_hf.inference
    import engine_hf.training
    from engine_hf.inference import Decoded

    a = make_bench(tmp_path, "a", quick=False)
    assert "output_chars" in a.benchmark.stages
    with pytest.raises(SystemExit, match=r"no pair of still_long_seeds, still_rebuilt, still_long_sharp, still_rebuilt_sharp has.*none run"):
        a.stage_output_chars()
    point = {"engine_bleu": 11.0, "control_bleu": 10.0, "engine_chrf": 40.0, "control_chrf": 41.0}
    a.write("still_long_seeds", {"points": [{"start": "cmlm_long_still", "seed": s, **point} for s in (0, 1)]})
    a.write("still_rebuilt", {"points": [{"start": "cmlm_long_still_rebuilt", "seed": 2, **point}]})
    for folder in ("cmlm_long_still", "rebuilt/cmlm_long_still", "still_long_seeds/cmlm_long_still-seed0/engine",
                   "still_long_seeds/cmlm_long_still-seed0/control", "still_rebuilt/cmlm_long_still_rebuilt-seed2/engine",
                   "still_rebuilt/cmlm_long_still_rebuilt-seed2/control"):  # seed 1's models are gone
        (a.root / folder).mkdir(parents=True)
        (a.root / folder / "config.json").write_text("{}")
    references = ["Valor de retorno:", "Inserir células abaixo"]
    outputs = {"engine": ["Valor de:", "Inserir para baixo"], "control": ["Valor de retorno:", "Inserir para baixo"],
               "cmlm_long_still": ["Valor retorno retorno", "Inserir células"]}
    monkeypatch.setattr(engine_hf.training, "load_corpus_splits", lambda data: {"test": {"translation": [
        {"en": f"source {i}", "pt": r} for i, r in enumerate(references)]}})
    monkeypatch.setattr(engine_hf.inference, "load_model", lambda path: (Path(path).name, None))
    monkeypatch.setattr(engine_hf.inference, "generation_kwargs", lambda model, n, beam, beams: {"n": n, "beam": beam})
    decoded = []

    def decode(model, tokenizer, sources, teacher=None, batch_size=32, **kwargs):
        decoded.append((model, kwargs))
        hyps = outputs[model]
        return Decoded(hyps, [[1] * len(h.split()) for h in hyps], None)

    monkeypatch.setattr(engine_hf.inference, "decode", decode)
    a.stage_output_chars()
    assert decoded[:3] == [("cmlm_long_still", {"n": 1, "beam": 3}), ("engine", {"n": 1, "beam": 3}),
                           ("control", {"n": 1, "beam": 3})] and len(decoded) == 6
    result = a.read("output_chars")
    assert result["gone"] == ["still_long_seeds, cmlm_long_still, seed 1"]
    assert [(p["stage"], p["seed"]) for p in result["pairs"]] == [("still_long_seeds", 0), ("still_rebuilt", 2)]
    engine, control = result["pairs"][0]["systems"]["engine"], result["pairs"][0]["systems"]["control"]
    assert (engine["tokens"], engine["words"], engine["characters"]) == (5, 5, 24)
    assert (control["tokens"], control["words"], control["characters"]) == (6, 6, 31)
    assert control["sentence_chrf"][0] == 100.0 and engine["sentence_chrf"][0] < 100.0
    assert engine["sentence_chrf"][1] == control["sentence_chrf"][1]
    text = make_tables.section_output_chars(result)
    assert "Pairs whose models were gone: still_long_seeds, cmlm_long_still, seed 1." in text
    assert "| still_long_seeds: cmlm_long_still, seed 0 | engine |" in text and "| 5 | 5 | 24 | 0.686 | 4.80 |" in text
    assert "the pairs of `still_long_seeds`, `still_rebuilt` whose" in text
    assert ("still_long_seeds: cmlm_long_still, seed 0: ENGINE - control -1 tokens (-16.7%), -1 words, -7 characters (-22.6%); "
            "n-gram precisions") in text
    assert result["pairs"][0]["engine_more"] == [] and result["pairs"][0]["engine_less"] == [["retorno", 1]]
    assert "counts_13a" not in engine and (engine["words_13a"], engine["punctuation_13a"]) == (6, 1)
    assert result["reference"] == {"words": 6, "characters": 35, "words_13a": 7, "punctuation_13a": 1}
    assert ('+0 punctuation marks (+0%); sentence chrF lower in 1, higher in 0 of 2; ENGINE writes more nothing; '
            'less `retorno` (-1)') in text
