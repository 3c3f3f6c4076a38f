"""The benchmark plumbing (`bench_stages/settings.py`, `records.py`, `base.py`, `recipes.py`): where each
benchmark's results go, its missing-teacher error, the training logs and callbacks, the digests and
`--rebuild`."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from unittest import mock

import pytest
from bench_helpers import SCRIPTS, fake_model, load_script, make_bench
from transformers import TrainerControl, TrainerState

import bench_stages as bench
from bench_tables.curves import TRANSFER_STAGES
from bench_tables.measurements import MAKE_BENCH_STAGES

bench_script = load_script("bench")


def test_the_script_describes_every_stage_and_bench_runs_it():
    """`python scripts/bench.py --help` prints the script's docstring: each stage of STAGES is named there, and
    `Bench` has the method the script calls for it."""
    for stage in bench_script.STAGES:
        assert callable(getattr(bench_script.Bench, f"stage_{stage}", None)), stage
        assert re.search(rf"^  {stage}\b|, {stage}\b", bench_script.__doc__, re.M), stage


def test_bench_py_records_each_stage_s_whole_wall_time_and_skips_it_once_done(tmp_path, monkeypatch):
    """The stages time their training only; `stage_seconds`, added by the script around the whole stage, is what a run
    of `make bench` costs (evaluation and loading too). A stage that wrote nothing gets nothing."""
    import torch

    ran = []

    def stage_teacher(self):
        ran.append("teacher")
        time.sleep(0.05)
        self.write("teacher", {"greedy": {"bleu": 1.0}})

    monkeypatch.setattr(bench.Bench, "stage_teacher", stage_teacher)
    monkeypatch.setattr(bench.Bench, "stage_distill", lambda self: ran.append("distill"))
    argv = ["bench.py", "--quick", "--stages", "teacher,distill", "--runs-dir", str(tmp_path / "runs"),
            "--results-dir", str(tmp_path / "results"), "--threads", str(torch.get_num_threads())]
    monkeypatch.setattr("sys.argv", argv)
    assert bench_script.main() == 0
    written = json.loads((tmp_path / "results" / "bench_teacher_quick.json").read_text())
    assert written["greedy"] == {"bleu": 1.0} and 0.05 <= written["stage_seconds"] < 30
    assert not (tmp_path / "results" / "bench_distill_quick.json").exists()
    assert bench_script.main() == 0  # teacher is done now: skipped, its record untouched
    assert ran == ["teacher", "distill", "distill"]
    assert json.loads((tmp_path / "results" / "bench_teacher_quick.json").read_text()) == written


def test_a_training_killed_and_resumed_is_timed_over_both_processes(tmp_path, monkeypatch):
    """A training stage keeps no partial results, only checkpoints: its clock file, written at its start and beside
    each checkpoint (`OnSave`), carries the seconds to the process that resumes it, less what was done after the last
    record (done again). Distillation keeps its batches unrecorded: killed there, the time is a lower bound. A stage
    stopped by a check (SystemExit) is not counted as a process. The clock file goes once the stage has finished."""
    import pytest
    import torch

    from bench_stages.records import OnSave

    def stage_cmlm_kd(self):
        event = events.pop(0)
        if event == "check":
            raise SystemExit("runs/.../cmlm_kd: no model there")
        if event == "distill":
            self.clock.mark_unrecorded_work()
        time.sleep(0.1)
        if event == "checkpoint":
            OnSave(self.clock.save).on_save(None, None, None)  # the Trainer wrote a checkpoint
        if event != "finish":
            raise KeyboardInterrupt
        self.write("cmlm_kd", {"1_iterations": {"bleu": 1.0}})

    monkeypatch.setattr(bench.Bench, "stage_cmlm_kd", stage_cmlm_kd)
    argv = ["bench.py", "--quick", "--stages", "cmlm_kd", "--runs-dir", str(tmp_path / "runs"),
            "--results-dir", str(tmp_path / "results"), "--threads", str(torch.get_num_threads())]
    monkeypatch.setattr("sys.argv", argv)
    clock = tmp_path / "runs" / "bench-quick" / "stage_clocks" / "cmlm_kd.json"
    path = tmp_path / "results" / "bench_cmlm_kd_quick.json"

    def run(*sequence: str) -> dict:
        events[:] = sequence
        path.unlink(missing_ok=True)
        for event in sequence[:-1]:
            with pytest.raises(SystemExit if event == "check" else KeyboardInterrupt):
                bench_script.main()
        assert bench_script.main() == 0 and not clock.exists()
        return json.loads(path.read_text())

    events: list[str] = []
    done = run("checkpoint", "finish")  # killed after a checkpoint: both processes' seconds
    assert done["stage_processes"] == 2 and "stage_seconds_lower_bound" not in done and 0.2 <= done["stage_seconds"] < 30
    done = run("killed", "finish")  # killed before its first checkpoint: that work is done again, not counted
    assert done["stage_processes"] == 2 and "stage_seconds_lower_bound" not in done and 0.1 <= done["stage_seconds"] < 30
    done = run("distill", "finish")  # killed while distilling: kept batches, untimed
    assert done["stage_processes"] == 2 and done["stage_seconds_lower_bound"]
    done = run("check", "finish")  # stopped by a check, then run: one process, timed whole
    assert done["stage_processes"] == 1 and "stage_seconds_lower_bound" not in done


def test_a_stage_resumed_after_an_interruption_is_timed_over_both_processes(tmp_path, monkeypatch):
    """A stage of many short runs writes `partial` results with the seconds so far; the process that resumes it goes
    on from them, so `stage_seconds` covers both processes (up to the first one's last write) and says there were 2."""
    import pytest
    import torch

    def stage_table2(self):
        rows = self.finished_rows("table2")
        for pair in ("sx/st", "sx/sx"):
            if pair in rows:
                continue
            time.sleep(0.1)
            rows[pair] = {"bleu": 1.0}
            self.write("table2", {"rows": rows, "partial": len(rows) < 2})
            if pair == "sx/st" and not resumed:
                raise KeyboardInterrupt  # killed after its first pair

    resumed = False
    monkeypatch.setattr(bench.Bench, "stage_table2", stage_table2)
    argv = ["bench.py", "--quick", "--stages", "table2", "--runs-dir", str(tmp_path / "runs"),
            "--results-dir", str(tmp_path / "results"), "--threads", str(torch.get_num_threads())]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(KeyboardInterrupt):
        bench_script.main()
    path = tmp_path / "results" / "bench_table2_quick.json"
    first = json.loads(path.read_text())
    assert first["partial"] and first["stage_processes"] == 1 and 0.1 <= first["stage_seconds"] < 30
    resumed = True
    assert bench_script.main() == 0
    done = json.loads(path.read_text())
    assert not done["partial"] and set(done["rows"]) == {"sx/st", "sx/sx"}
    assert done["stage_processes"] == 2 and first["stage_seconds"] + 0.1 <= done["stage_seconds"] < 60
    # --force over the finished record: the stage keeps its finished rows, so the new time is only a lower bound
    monkeypatch.setattr("sys.argv", [*argv, "--force"])
    assert bench_script.main() == 0
    forced = json.loads(path.read_text())
    assert forced["stage_processes"] == 1 and forced["stage_seconds_lower_bound"] and forced["stage_seconds"] < 0.1
    # a partial record written before stages were timed: its process counts, untimed, so the time is a lower bound
    path.write_text(json.dumps({"rows": {"sx/st": {"bleu": 1.0}}, "partial": True}))
    monkeypatch.setattr("sys.argv", argv)
    assert bench_script.main() == 0
    older = json.loads(path.read_text())
    assert older["stage_processes"] == 2 and older["stage_seconds_lower_bound"] and 0.1 <= older["stage_seconds"] < 30
    assert "stage_seconds_lower_bound" not in done


def test_bench_speed_on_a_fresh_clone_says_how_to_get_the_models_it_times(tmp_path, monkeypatch):
    """`make bench` on a fresh clone skips the recorded stages, so the speed script finds no runs/ there: it stops
    before loading anything and names the way out."""
    speed = load_script("bench_speed")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["bench_speed.py", "--student", "runs/bench/engine", "--teacher",
                                     "runs/bench/teacher-en-pt"])
    with pytest.raises(SystemExit, match=r"^runs/bench/engine: no model there\..*`make bench RERUN=name` trains"):
        speed.main()
    (tmp_path / "runs/bench/engine").mkdir(parents=True)
    with pytest.raises(SystemExit, match=r"^runs/bench/teacher-en-pt: no model there"):
        speed.main()
    monkeypatch.setattr("sys.argv", ["bench_speed.py", "--student", "runs/demo/engine"])  # not a stage's model
    with pytest.raises(SystemExit, match=r"^runs/demo/engine: no model there\..*`make demo`, or the stage named"):
        speed.main()


def test_bench_speed_refuses_a_cuda_device_where_there_is_none(monkeypatch, capsys):
    """`--device cuda` on a machine without a CUDA GPU stops at once with the way out, before loading anything."""
    import torch

    speed = load_script("bench_speed")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("sys.argv", ["bench_speed.py", "--device", "cuda"])
    with pytest.raises(SystemExit):
        speed.main()
    assert "--device cuda: torch finds no CUDA GPU here; leave --device out to time on the CPU" in capsys.readouterr().err


def test_make_bench_runs_the_issue_s_items_in_the_order_of_the_stage_list():
    """`make bench` is the issue's items on A (the full list is `make bench-all`): each a stage of STAGES, in its
    order, ENGINE after both CMLMs and the choice between them, its control after it, the examples after every model
    they show."""
    makefile = (SCRIPTS.parent / "Makefile").read_text()
    stages = re.search(r"^BENCH_STAGES := (\S+)$", makefile, re.M).group(1).split(",")
    assert stages == ["teacher", "distill", "cmlm_kd", "cmlm_ref", "start_choice", "engine", "control", "examples",
                      "table2"]
    assert stages == [stage for stage in bench.STAGES if stage in stages]
    assert "--stages $(BENCH_STAGES) --runs-dir $(BENCH_RUNS) --results-dir $(BENCH_RESULTS)" in makefile
    assert tuple(stages) == MAKE_BENCH_STAGES  # what the rerun table checks a rerun against
    dry = subprocess.run(["make", "-n", "bench", "QUICK=1", "RERUN=check"], cwd=SCRIPTS.parent, capture_output=True,
                         text=True, check=True).stdout  # the same pipeline on the quick slice, speed step included
    assert "--runs-dir runs/check --results-dir results/check --quick" in dry
    assert "--student runs/check/bench-quick/engine --teacher runs/check/bench-quick/teacher-en-pt" in dry
    assert "--output results/check/speed_quick.json --sentences 8 --batch1-sentences 4 --repeats 1" in dry
    beside_the_record = subprocess.run(["make", "-n", "bench", "QUICK=1"], cwd=SCRIPTS.parent, capture_output=True,
                                       text=True)
    assert beside_the_record.returncode != 0 and "QUICK=1 needs RERUN=name" in beside_the_record.stderr


def test_the_tables_know_labels_transfer_stages_as_the_benchmark_does():
    assert TRANSFER_STAGES == bench.BENCHMARKS["labels"].significance_stages


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
    fake_model(source)
    (source / "engine_hf_sessions.json").write_text(json.dumps([{"steps": 600}, {"steps": 5000}]))
    (source / "checkpoint-4800").mkdir()
    b = make_bench(tmp_path, "b")
    assert b.teacher_dir == b.root / "teacher" and (b.teacher_dir / "config.json").exists()
    assert not (b.teacher_dir / "checkpoint-4800").exists()
    assert b.teacher_record() == {"teacher": {"source": str(source), "steps": 5000}}
    (source / "engine_hf_sessions.json").write_text(json.dumps([{"steps": 9000}]))  # the teacher trains on
    assert make_bench(tmp_path, "b").teacher_record()["teacher"]["steps"] == 5000


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


def test_start_choice_picks_the_better_cmlm_on_dev_and_engine_starts_from_it(tmp_path, monkeypatch):
    """The issue's "ENGINE initialised from the better CMLM": dev BLEU at one pass chooses, once, and is recorded;
    ENGINE (also when --force retrains it) starts from that choice while it describes the CMLMs trained, the stages
    after ENGINE from the start it recorded."""
    a = make_bench(tmp_path, "a")
    for name in ("cmlm_kd", "cmlm_ref"):
        fake_model(a.root / name)
        a.write(name, {"model_sha256": f"{name}-weights"})
    calls = []

    def evaluate(model, **kwargs):
        calls.append((model.name, kwargs))
        return {"libreoffice": {"bleu": {"cmlm_ref": 4.0, "cmlm_kd": 3.0}[model.name]}}

    monkeypatch.setattr(a, "evaluate", evaluate)
    a.stage_start_choice()
    record = a.read("start_choice")
    assert record["dev_bleu"] == {"cmlm_ref": 4.0, "cmlm_kd": 3.0} and record["better"] == "cmlm_ref"
    assert record["digests"] == {"cmlm_ref": "cmlm_ref-weights", "cmlm_kd": "cmlm_kd-weights"}
    assert "engine_started_from" not in record
    assert [kwargs for _, kwargs in calls] == [dict(split="validation", corpora=("libreoffice",), num_iterations=1,
                                                    length_beam=5)] * 2  # never the test set
    started = []
    monkeypatch.setattr(a, "train_energy", lambda out, start, steps, corpus: started.append((start.name, corpus)) or (
        9.0, []))
    monkeypatch.setattr(a, "evaluate_nat", lambda model, length_beam: {})
    monkeypatch.setattr(a, "evaluate", lambda model, **kwargs: pytest.fail("the recorded choice, not a new one"))
    a.stage_engine()
    assert started == [("cmlm_ref", "libreoffice")]  # the references' CMLM trains on the references
    assert a.read("engine")["initialised_from"] == "cmlm_ref" and a.better_cmlm() == ("cmlm_ref", a.root / "cmlm_ref")
    a.write("engine", {"initialised_from": "cmlm_kd"})  # an ENGINE from before the choice existed
    assert a.better_cmlm() == ("cmlm_kd", a.root / "cmlm_kd")  # its control, Table 2... keep to its start
    a.stage_engine()  # --force over it: the choice, not the old record
    assert started[-1] == ("cmlm_ref", "libreoffice")
    a.write("cmlm_kd", {"model_sha256": "retrained"})  # a CMLM trained again after the choice: choose again
    monkeypatch.setattr(a, "evaluate", lambda model, **kwargs: {"libreoffice": {"bleu": {"cmlm_ref": 4.0,
                                                                                         "cmlm_kd": 5.0}[model.name]}})
    a.stage_engine()
    assert started[-1][0] == "cmlm_kd"
    a.write("engine", {"initialised_from": "cmlm_kd"})
    a.stage_start_choice()  # run after ENGINE: a check of the start it took
    assert a.read("start_choice")["engine_started_from"] == "cmlm_kd"


def test_engine_without_any_cmlm_says_which_stage_to_run(tmp_path):
    a = make_bench(tmp_path, "b")
    with pytest.raises(SystemExit, match=r"no CMLM to start ENGINE from: run the cmlm_kd stage .* python "
                                         r"scripts/bench.py --benchmark b --stages cmlm_kd,cmlm_ref"):
        a.chosen_cmlm()


def test_a_finished_stage_whose_model_is_gone_says_how_to_rebuild_it(tmp_path):
    a = make_bench(tmp_path, "a")
    a.write("engine", {"initialised_from": "cmlm_kd"})
    with pytest.raises(SystemExit, match=r"runs/ is not kept.*--rebuild cmlm_kd --quick"):
        a.better_cmlm()  # a model with a recipe is rebuilt alone
    with pytest.raises(SystemExit, match=r"runs/ is not kept.*--rebuild cmlm_ref --quick"):
        a.trained("cmlm_ref")  # ENGINE may start from it too
    with pytest.raises(SystemExit, match=r"runs/ is not kept.*--stages control --force --quick"):
        a.trained("control")  # one without a recipe reruns its stage
    fake_model(a.root / "cmlm_kd")
    assert a.better_cmlm() == ("cmlm_kd", a.root / "cmlm_kd")


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
        fake_model(out)
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
