"""The stages of `bench_stages/first_recipe.py` (budget, confirm, gain, sharp, sharper, descent), each with
the table it feeds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from bench_helpers import fake_curve_training, fake_model, make_bench, picked

import bench_stages as bench
from bench_stages import first_recipe, settings
from bench_tables.engine_settings import section_confirm, section_descent, section_sharp


def test_budget_on_labels_runs_the_sharp_setting_from_cmlm_long_and_elsewhere_the_engine_stages(tmp_path,
                                                                                                   monkeypatch):
    def evaluate(model, **kwargs):
        return {"libreoffice": {"bleu": 1.0, "chrf": 2.0, "repetition": 0.1, "teacher_energy": 3.0}}

    runs = []
    for name, start in (("labels", "cmlm_long"), ("short", "cmlm_kd")):
        bench = make_bench(tmp_path / name, name, quick=False)
        fake_model(bench.root / start)
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


def test_confirm_runs_the_sweeps_best_engine_setting_with_a_control_per_seed_and_resumes(tmp_path, monkeypatch):
    short = make_bench(tmp_path, "short", quick=False)
    for stage in ("cmlm_kd", "cmlm_long"):
        fake_model(short.root / stage)
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
    short.budget["confirm_seeds"] = (0, 1)
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
    short.budget["confirm_seeds"] = (0, 1, 2)
    short.stage_confirm()
    assert len(energy_runs) == 6 and len(short.read("confirm")["points"]) == 6
    # a point recorded before the teacher energy was kept gets it from its saved models, without retraining
    old = short.read("confirm")
    for point in old["points"]:
        del point["engine_teacher_energy"], point["control_teacher_energy"]
    short.write("confirm", old)
    fake_model(short.root / "confirm" / "cmlm_kd-seed0" / "control")
    short.stage_confirm()
    backfilled = {(p["start"], p["seed"]): p for p in short.read("confirm")["points"]}
    assert len(energy_runs) == 6
    assert backfilled[("cmlm_kd", 0)]["engine_teacher_energy"] == 2.5
    assert "engine_teacher_energy" not in backfilled[("cmlm_long", 0)]  # its models are gone: left as it was
    # a sweep that now prefers another setting cannot add its runs to this table, nor rescore or rewrite it first
    short.write("sweep", {"rows": {**rows, bench.EnergySetting(1e-5, 0.0, "stl").key: {"bleu": 5.0}}})
    stale = short.read("confirm")
    del stale["points"][0]["engine_teacher_energy"]
    short.write("confirm", stale)
    before = short.result_path("confirm").read_text()
    monkeypatch.setattr(short, "scored_pair", lambda out: pytest.fail("rescored before the setting was checked"))
    with pytest.raises(SystemExit, match="another setting than engine \\(O1 STL, lr 1e-05, ce_weight 0\\)"):
        short.stage_confirm()
    assert short.result_path("confirm").read_text() == before
    # nor can an unfinished sweep choose
    short.write("sweep", {"rows": rows, "partial": True})
    with pytest.raises(SystemExit, match="sweep is not finished.*--stages sweep"):
        short.stage_confirm()


def test_confirm_on_a_benchmark_without_the_sweep_runs_the_engine_setting_from_the_engine_start(tmp_path, monkeypatch):
    b = make_bench(tmp_path, "b", quick=False)
    monkeypatch.setattr(b, "teacher_record", lambda: {"teacher": {"source": "runs/teacher-de-en", "steps": 20000}})
    for stage in ("cmlm_kd", "cmlm_ref"):
        fake_model(b.root / stage)
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
    b.budget["confirm_seeds"] = (0, 1)
    b.stage_confirm()
    result = b.read("confirm")
    assert energy_runs == [("cmlm_kd", 0, 1e-5, 1.0), ("cmlm_kd", 1, 1e-5, 1.0)]
    assert [(p["engine_bleu"], p["control_bleu"], p["engine_bleu_10"], p["control_bleu_10"])
            for p in result["points"]] == [(2.0, 2.0, 7.0, 6.0)] * 2
    text = section_confirm(result)
    assert "| +0.00 / +0.0 | +1.00 / +0.0 |" in text and "at 10 iterations +1.00 BLEU" in text
    assert result["setting"] == settings.ENGINE.key and "no sweep" in result["selected_on"]
    assert list(result["starts"]) == ["cmlm_kd"] and not result["partial"]
    assert "Confirming the `engine` setting over seeds" in section_confirm(result)


def test_confirm_on_labels_adds_the_cmlm_long_start_to_points_already_run_from_the_engine_start(tmp_path,
                                                                                               monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    for stage in ("cmlm_kd", "cmlm_long"):
        fake_model(labels.root / stage)
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
    labels.budget["confirm_seeds"] = (0,)
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


def test_gain_stage_scores_each_start_with_its_engine_and_control_at_one_and_ten_iterations(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    for folder in ("cmlm_kd", "cmlm_long", "cmlm_long/checkpoint-1500", "cmlm_long/checkpoint-3000"):
        fake_model(labels.root / folder)
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
    fake_model(labels.root / "cmlm_long")
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
    labels.budget["confirm_seeds"] = (0, 1)
    labels.stage_sharp()
    result = labels.read("sharp")
    assert runs == [("cmlm_long", 0, 1e-5, 1.0, "sx", 0.25), ("cmlm_long", 1, 1e-5, 1.0, "sx", 0.25)]
    assert result["setting"] == "engine (O1 temperature 0.25, lr 1e-05, ce_weight 1)" and not result["partial"]
    assert result["starts"]["cmlm_long"]["bleu"] == 4.0 and budgets == [("cmlm_long", 0, 70.0), ("cmlm_long", 1, 70.0)]
    labels.stage_sharp()  # finished seeds are not run again
    assert len(runs) == 2
    # once the engine stage has a start of its own, its seeds follow, and the earlier points stay
    fake_model(labels.root / "cmlm_kd")
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
    assert "(`sharp`:" in section_sharp(old_layout, {"confirm": None})
    result = labels.read("sharp")
    confirm = {"starts": {"cmlm_long": {"model_sha256": result["starts"]["cmlm_long"]["model_sha256"]},
                          "cmlm_kd": {"model_sha256": "0123456789abcdef"}},
               "points": [{"start": "cmlm_long", "seed": 0, "engine_bleu": 5.0, "engine_chrf": 52.0,
                           "engine_teacher_energy": 3.5},
                          {"start": "cmlm_kd", "seed": 0, "engine_bleu": 1.0, "engine_chrf": 1.0,
                           "engine_teacher_energy": 1.0}]}
    text = section_sharp(result, {"confirm": confirm})
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
        fake_model(labels.root / name)
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
    labels.budget["confirm_seeds"] = (0,)
    labels.stage_sharper()
    assert runs == [("cmlm_long", 0, 0.1, "sharper")]
    sharper = labels.read("sharper")
    assert sharper["setting"] == "engine (O1 temperature 0.1, lr 1e-05, ce_weight 1)" and not sharper["partial"]
    sharp = {**sharper, "o1_temperature": 0.25, "points": [{**sharper["points"][0], "engine_bleu": 6.0}]}
    text = section_sharp(sharper, {"confirm": None, "sharp": sharp})
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
    labels.budget["eval_sentences"] = 6
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
    text = section_descent(result)
    assert "**Gradient descent on the energy, no network trained**" in text and "| step 0 | step 2 | step 4 |" in text
