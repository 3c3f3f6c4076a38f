"""The stages of `bench_stages/labels.py` (the UI and wider distillations, the stronger starts, their
controls, lengths, rescoring and length choice, the still encoder), each with the table it feeds."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from bench_helpers import fake_curve_training, fake_model, labels_with_fake_distillation, make_bench, picked

import bench_stages as bench
from bench_stages import labels as labels_stages
from bench_stages import settings
from bench_tables import common
from bench_tables.curves import section_transfer
from bench_tables.decoding import section_length_choice, section_lengths_strong, section_rescoring
from bench_tables.engine_settings import (
    section_edge_by_start,
    section_slow_control,
    section_stronger,
    section_wide,
)
from bench_tables.still_encoder import section_still_encoder
from bench_tables.targets import transfer_summary


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
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    labels = make_bench(tmp_path, "labels", quick=False)
    for name in ("cmlm_more", "cmlm_wide"):
        fake_model(labels.root / name)
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
    labels.budget["confirm_seeds"] = (0,)
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
    text = section_wide(labels.read("distill_wide"), labels.read("cmlm_wide"), labels.read("wide_sx"), decay)
    assert "the teacher's greedy outputs for the 8 new sources (5 s) join distilled-more's 10" in text.lower()
    assert "**The `engine` setting (O1 temperature 1) from cmlm_wide, over seeds** (`wide_sx`:" in text
    assert "- `wide_sx`: ENGINE - decaying control = +1.00 BLEU, +3.0 chrF, ENGINE above in chrF in 1 of 1" in text
    edge = section_edge_by_start([labels.read("wide_sx")])
    assert "| 1 | cmlm_wide (`wide_sx`) | 19.00 / 57.0 | +1.00 / +3.0 | 1 of 1 | +2.00 / +6.0 |" in edge


def test_stronger_runs_the_sharp_setting_from_cmlm_more_on_its_corpus_and_tabulates_the_edge_by_start(tmp_path,
                                                                                                     monkeypatch):
    """`stronger_sx` (the engine setting) is read beside it; the edge table sorts by temperature, then start."""
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    labels = make_bench(tmp_path, "labels", quick=False)
    fake_model(labels.root / "cmlm_more")
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
    labels.budget["confirm_seeds"] = (0,)
    labels.stage_stronger()
    assert runs == [("cmlm_more", str(labels.root / "distilled-more"), 0.25)]
    stronger = labels.read("stronger")
    sharp = {"stage": "sharp", "starts": {"cmlm_long": {"bleu": 14.0, "chrf": 49.0}}, "points": [
        {"start": "cmlm_long", "seed": 0, "engine_bleu": 12.0, "control_bleu": 13.0, "engine_chrf": 50.0,
         "control_chrf": 49.0}]}
    sharp["o1_temperature"] = 0.25
    plain = {**stronger, "stage": "stronger_sx", "o1_temperature": 1.0,
             "points": [{**stronger["points"][0], "engine_bleu": 19.5}]}
    text = section_stronger(None, None, stronger, plain)
    text += section_edge_by_start([None, sharp, stronger, plain])
    assert "**The sharp setting from the stronger start, over seeds** (`stronger`:" in text
    assert "**The `engine` setting (O1 temperature 1) from the stronger start, over seeds** (`stronger_sx`:" in text
    assert "from cmlm_more, against `stronger`'s ENGINE (O1 temperature 0.25) of the same seeds: -1.50 BLEU" in text
    rows = [line for line in text.splitlines() if line.startswith("| 0.25 |") or line.startswith("| 1 |")]
    assert rows == [
        "| 1 | cmlm_more (`stronger_sx`) | 19.00 / 57.0 | -0.50 / +3.0 | 1 of 1 | +0.50 / +6.0 | 0.10 / 0.10 / 0.10 |",
        "| 0.25 | cmlm_long (`sharp`) | 14.00 / 49.0 | -1.00 / +1.0 | 1 of 1 | -2.00 / +1.0 | - / - / - |",
        "| 0.25 | cmlm_more (`stronger`) | 19.00 / 57.0 | +1.00 / +3.0 | 1 of 1 | +2.00 / +6.0 | 0.10 / 0.10 / 0.10 |"]


def test_slow_and_decaying_controls_train_ce_beside_each_stronger_run(tmp_path, monkeypatch):
    """slow_control: lr 1e-5 for the run's wall time; decay_control: 1e-4 decaying over the first control's steps."""
    labels = make_bench(tmp_path, "labels", quick=False)
    fake_model(labels.root / "cmlm_more")
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
    text = section_slow_control(slow, labels.read("stronger"), None)
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
    text = section_slow_control(labels.read("decay_control"), labels.read("stronger"))
    assert "**A control with a short decaying schedule** (`decay_control`: CE from lr 0.0001 decaying linearly" in text
    assert "- `stronger`: ENGINE - decaying control = -1.00 BLEU" in text


def test_lengths_strong_scores_each_strong_model_at_predicted_and_reference_lengths_once(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    labels = make_bench(tmp_path, "labels", quick=False)
    folders = [labels.root / "cmlm_more"] + [labels.root / stage / "cmlm_more-seed0" / system
                                             for stage, system in (("stronger", "engine"), ("stronger", "control"),
                                                                   ("decay_control", "control"))]
    for folder in folders:
        fake_model(folder)
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
    text = section_lengths_strong(labels.read("lengths_strong"))
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
        fake_model(labels.root / name)
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
    text = section_rescoring(data)
    assert text.startswith("**Rescoring the length candidates of the strongest starts** (`rescoring_strong`:")
    assert "1 iteration(s), length beam 3: teacher picks - student picks = +1.00 BLEU" in text


def test_length_choice_refits_the_head_per_start_once_and_tabulates_it_against_the_start(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    for name in ("cmlm_kd", "cmlm_more"):  # cmlm_long and cmlm_wide not on this machine
        fake_model(labels.root / name)
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
    text = section_length_choice(data)
    assert text.startswith("**The teacher's choice of length, learnt by the length head** (`length_choice`: the "
                           "teacher's pick among the start's 5 likeliest lengths after 1 iteration(s)")
    digest = hashlib.sha256(b"cmlm_kd").hexdigest()[:8]
    assert f"| cmlm_kd `{digest}` | 11.00 / 50.0 / 0.90 |" in text
    assert "| cmlm_kd, head refitted to the teacher's choice | 13.00 / 52.0 / 0.90 | 15.00 / 52.0 / 0.90 |" in text
    assert "| 30% / -0.50 | 70% | 30% -> 60% |" in text
    assert ("- cmlm_kd, head refitted to the teacher's choice, 1 it, length beam 1: +2.00 BLEU / +2.0 chrF against "
            "the start") in text
    assert "(the target of the teacher's-choice head): 20.00 / 55.0 / 0.91; the teacher's choice equals the" in text


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
    assert trained == [("cmlm_kd_still", "distilled", labels.budget["cmlm_steps"], None, False, None),
                       ("cmlm_long_still", "distilled", labels.budget["long_steps"], "cmlm_kd_still", False, 3e-4)]
    assert labels.encoder_dropout  # every other stage keeps the recipe it was run with
    data = labels.read("still_encoder")
    assert list(data["rows"]) == ["cmlm_kd_still", "cmlm_long_still", "cmlm_kd", "cmlm_long"] and not data["partial"]
    assert data["rows"]["cmlm_long_still"]["train_seconds"] == 120.0
    text = section_still_encoder(data)
    assert text.startswith("**A still encoder: the frozen encoder without dropout while the student trains**")
    digest = bench.weights_digest(labels.root / "cmlm_kd_still")[:8]
    assert f"| cmlm_kd_still `{digest}` | no | 1 | 12.00 / 52.0 / 0.10 |" in text
    assert ("- cmlm_long_still - cmlm_long (BLEU / chrF): 1 it, length beam 1 +2.00 / +2.0; 1 it, length beam 3 "
            "+2.00 / +2.0") in text
    assert ("- cmlm_kd: dropout 0.1 in the frozen encoder moves the length summary by 40% of its norm on 3,000 "
            "training sources (mean of 3 draws); the length head is exact on 30% of them from clean summaries, 25% "
            "from noised ones") in text


def test_rebuild_finds_labels_still_starts_in_its_still_encoder_stage(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    weights = {"cmlm_kd_still": b"kd", "cmlm_long_still": b"long"}
    labels.write("still_encoder", {"rows": {name: {"model_sha256": hashlib.sha256(w).hexdigest()[:16]}
                                            for name, w in weights.items()}, "partial": False})
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, **overrides):
        trained.append((out.name, steps, student_model and Path(student_model).name, labels.encoder_dropout))
        fake_model(out)
        (out / "model.safetensors").write_bytes(weights[out.name])
        return 1.0

    monkeypatch.setattr(labels, "train_cmlm", train_cmlm)
    labels.rebuild("cmlm_kd_still")
    labels.rebuild("cmlm_long_still")
    assert trained == [("cmlm_kd_still", 2000, None, False), ("cmlm_long_still", 3000, "cmlm_kd_still", False)]
    assert make_bench(tmp_path / "a", "a", quick=False).rebuildable()["cmlm_long_still"][0] == "still_long"


def test_still_long_pure_fast_runs_the_targets_setting_from_labels_still_start_and_judges_its_prediction(
    tmp_path, monkeypatch
):
    """Seeds 0-2 of pure energy (O1 at temperature 0.25, lr 3e-5) for 400 steps from labels' `cmlm_long_still`, the
    still encoder, each against CE at lr 3e-5; the table says whether the prediction written before the run held."""
    labels = make_bench(tmp_path, "labels", quick=False)
    assert "still_long_pure_fast" not in settings.BENCHMARKS["a"].stages  # A has a cmlm_long_still of its own
    fake_model(labels.root / "cmlm_long_still")
    calls = fake_curve_training(labels, monkeypatch, lambda seed: [8, 16])
    bleu = {"cmlm_long_still": 20.0, "engine": 21.0, "control": 20.5}

    def evaluate(model, split="test", **kwargs):
        who = next((k for k in ("engine", "control") if f"/{k}" in model.as_posix()), "cmlm_long_still")
        score = bleu[who] + (kwargs.get("num_iterations") == 10)
        return {"libreoffice": {"bleu": score, "chrf": 2 * score, "repetition": 0.1, "teacher_energy": 3.0}}

    monkeypatch.setattr(labels, "evaluate", evaluate)
    labels.stage_still_long_pure_fast()
    assert picked(calls, "engine", "out", "start", "steps", "o1_temperature", "ce_weight", "learning_rate", "seed",
                  "dropout") == [(f"still_long_pure_fast/seed{seed}/engine", "cmlm_long_still", 400, 0.25, 0.0, 3e-5,
                                  seed, False) for seed in (0, 1, 2)]
    assert picked(calls, "control", "learning_rate", "lr_scheduler_type") == [(3e-5, "constant")] * 3
    text = section_transfer(labels.read("still_long_pure_fast"))
    assert "after 400 steps ENGINE is ahead" in text
    assert "Over 3 seeds: ENGINE - control +0.50 BLEU / +1.00 chrF, ENGINE - start +1.00 BLEU: **it held**" in text
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")  # the README summary's line on it
    assert ("the prediction, written before the runs: ahead of the CE control in BLEU and chrF, and of the start in "
            "BLEU):\n\n- from `cmlm_long_still`, 3 seeds (`still_long_pure_fast`): **it held**. ENGINE - CE control "
            "+0.50 BLEU / +1.00 chrF, ENGINE - start +1.00 BLEU (`python scripts/bench.py --benchmark labels --stages "
            "still_long_pure_fast`).") in transfer_summary()
    lead = {"engine_vs_control": {m: {"difference": 0.5, "low": -0.5, "high": 1.5} for m in ("bleu", "chrf")}}
    tested = {"sentences": {"scored": 145, "all": 145, "outside_a": 88}, "gone": [],
              "means": {"still_long_pure_fast": {"seeds": 3, "slices": {"scored": lead, "outside_a": lead}}}}
    labels.write("significance", tested)
    assert ("still_long_pure_fast`). ENGINE - CE control, 95% intervals (`python scripts/bench.py --benchmark labels "
            "--stages significance`): all 145 test labels: +0.50 BLEU [-0.50, +1.50] / +0.50 chrF [-0.50, +1.50]; the "
            "88 outside the 200 sentences A chose its setting on: +0.50 BLEU [-0.50, +1.50] / +0.50 chrF [-0.50, "
            "+1.50].") in transfer_summary()
    labels.write("significance", {**tested, "gone": ["still_long_pure_fast, seed2"]})  # not the curves' seeds
    assert "95% intervals" not in transfer_summary()
    bleu["control"] = 21.5  # behind its control: the prediction fails
    shutil.rmtree(labels.root / "still_long_pure_fast")
    labels.result_path("still_long_pure_fast").unlink()
    labels.stage_still_long_pure_fast()
    assert "**it did not hold**" in section_transfer(labels.read("still_long_pure_fast"))


def test_a_seeded_stage_recorded_with_another_setting_is_never_added_to(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    fake_model(labels.root / "cmlm_long_still")
    labels.write("still_confirm", {**settings.ENGINE.__dict__, "setting": settings.SHARP.key, "energy_steps": 200,
                                   "points": [], "partial": True})
    before = labels.result_path("still_confirm").read_text()
    monkeypatch.setattr(labels, "evaluate", lambda *args, **kwargs: pytest.fail("scored before the setting was checked"))
    with pytest.raises(SystemExit, match=r"bench_labels_still_confirm.json holds runs of another setting than engine"):
        labels.stage_still_confirm()
    assert labels.result_path("still_confirm").read_text() == before


def test_still_further_pure_fast_trains_its_start_once_and_keeps_that_record_beside_its_curves(tmp_path, monkeypatch):
    labels = make_bench(tmp_path, "labels", quick=False)
    fake_model(labels.root / "cmlm_long_still")
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **kwargs):
        if callbacks:  # a control: the curves' fake below
            return control(out, corpus, steps, student_model=student_model, callbacks=callbacks, **kwargs)
        trained.append((out.name, Path(corpus).name, steps, Path(student_model).name, kwargs["learning_rate"],
                        labels.encoder_dropout))
        fake_model(out)
        return 600.0

    calls = fake_curve_training(labels, monkeypatch, lambda seed: [8, 16])
    control = labels.train_cmlm
    monkeypatch.setattr(labels, "train_cmlm", train_cmlm)
    monkeypatch.setattr(labels, "evaluate", lambda model, split="test", **kwargs: {
        "libreoffice": {"bleu": 20.0, "chrf": 50.0, "repetition": 0.1, "teacher_energy": 3.0}})
    labels.stage_still_further_pure_fast()
    assert trained == [("cmlm_further_still", "distilled", 3000, "cmlm_long_still", 3e-4, False)]
    result = labels.read("still_further_pure_fast")
    assert result["start_training"]["train_seconds"] == 600.0 and not result["partial"]
    assert sorted(result["curves"]) == ["seed0", "seed1", "seed2"]
    assert {call["start"] for call in calls if call["run"] == "engine"} == {"cmlm_further_still"}
    labels.stage_still_further_pure_fast()  # finished: nothing trained again
    assert len(trained) == 1
    text = section_transfer(result, "still_further_pure_fast")
    assert text.startswith("**The same from a start cross-entropy has taken further (labels)**: `cmlm_further_still` "
                           "is `cmlm_long_still` + 3000 CE steps (lr 0.0003, decaying; 10 min).")
    assert ("ENGINE - control +0.00 BLEU / +0.00 chrF, ENGINE - start +0.00 BLEU: **it did not hold**. The controls "
            "rose +0.00 BLEU over the start in ENGINE's wall time: the start is saturated enough") in text
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")  # the README summary's line on it, with its condition
    assert ("- from `cmlm_further_still`, 3 seeds (`still_further_pure_fast`; it counts only if the controls rise <= 1 "
            "BLEU over the start in ENGINE's wall time: they rose +0.00, so it counts): **it did not hold**.") in (
        transfer_summary())
    for curve in result["curves"].values():  # controls that still rise: the start was not saturated
        curve["points"][-1]["control_bleu"] += 2
    labels.write("still_further_pure_fast", {k: v for k, v in result.items() if k not in ("stage", "command")})
    assert ("they rose +2.00, so the stage says nothing either way): **it did not hold** (does not count).") in (
        transfer_summary())
    assert "more than 1, so the start was not saturated" in section_transfer(labels.read("still_further_pure_fast"),
                                                                             "still_further_pure_fast")
