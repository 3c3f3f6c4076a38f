"""The stages of `bench_stages/still_encoder.py` (the still-encoder starts and their pairs, the second controls, the
rebuilt chain, output characters), each with the table it feeds; the compute curves are in test_bench_still_curves.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from bench_helpers import (
    curve_about,
    fake_model,
    labels_with_fake_distillation,
    make_bench,
    point,
)

import bench_stages as bench
from bench_stages import settings
from bench_tables import common
from bench_tables.decoding import section_output_chars
from bench_tables.engine_settings import first_checkpoint_pairs, section_confirm, section_slow_control
from bench_tables.still_encoder import (
    section_more_steps,
    section_still_long,
    section_still_main,
    section_still_more,
    section_still_rebuilt,
)


def test_distill_all_distills_the_help_sources_after_the_first_distill_sources_and_joins_them(tmp_path, monkeypatch):
    from datasets import Dataset, DatasetDict

    def pairs(*sources):
        return Dataset.from_dict({"translation": [{"en": s, "pt": "x"} for s in sources]})

    help_corpus = DatasetDict(train=pairs("Save", "Open", "Close", "Print", "Quit"), validation=pairs("Cut"),
                              test=pairs("Paste"))
    a = labels_with_fake_distillation(tmp_path, monkeypatch, help_corpus, [], "distilled", benchmark="a")
    a.budget["distill_sources"] = 2  # the distill stage took Save and Open
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
    assert quick.budget["ui_sources"] == 96 and a.budget["ui_sources"] is None


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
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
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
    assert a.rebuildable()["cmlm_more_still"][0] == "still_more"
    a.stage_still_more_sharp()
    assert runs == [("cmlm_more_still", "distilled-all", 0.25, seed, False) for seed in (2, 0, 1)]
    assert trained[-1][:2] == ("control", "distilled-all") and trained[-1][-1] is False
    sharp = a.read("still_more_sharp")
    assert [p["seed"] for p in sharp["points"]] == [2, 0, 1] and not sharp["partial"]
    # The README: the start against cmlm_long_still, with the sources it was trained on.
    long = {f"length beam {beam}": {its: {"libreoffice": {"bleu": 11.0 + (7 if its == "10_iterations" else 0),
                                                          "chrf": 42.0}} for its in ("1_iterations", "10_iterations")}
            for beam in (5, 3)}
    text = section_still_more(more, long, {"base_sources": 12000, "sources": 21782, "seconds": 1020.0})
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
    assert "the slow control - its start" in section_slow_control(slow, a.read(f"{line}_sharp"))
    assert a.read(f"{line}_decay")["points"][0]["control_steps"] == 880
    text = section_slow_control(a.read(f"{line}_decay"), a.read(f"{line}_sharp"))
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
    pairs = first_checkpoint_pairs(a.read("still_peak_budget"), "still_peak_budget")
    assert [(p["seed"], p["engine_bleu"], p["control_step"]) for p in pairs["points"]] == [(0, 15.0, 680), (2, 15.0, 682)]
    text = section_slow_control(decay, pairs)
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
    assert a.rebuildable()[model][0] == line and a.encoder_dropout and a.corpus_of(model).endswith("distilled-all")
    if after == f"{line}_sharp":
        getattr(a, f"stage_{line}_sharp")()
        assert runs == [(model, "distilled-all", 0.25, seed, False) for seed in (2, 0, 1)]
        assert [p["seed"] for p in a.read(f"{line}_sharp")["points"]] == [2, 0, 1]
    start = {"stage": before_stage, "length beam 5": {
        its: {"libreoffice": {"bleu": 12.0 + (7 if its == "10_iterations" else 0), "chrf": 44.0}}
        for its in ("1_iterations", "10_iterations")}}
    text = section_more_steps(after, start)
    assert (f"**More steps on every source** (`{line}`: {before} + 3000 CE steps at lr 0.0003 decaying, the "
            "still encoder, on `distilled-all`; 55 min of training)") in text
    assert (f"{model} - {before} (its start, `{before_stage}`), length beam 5 (BLEU / chrF): 1 it: help "
            "+2.50 / -0.5; 10 it: help +2.50 / -0.5") in text


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
    assert trained == [("cmlm_kd_still", "distilled", a.budget["cmlm_steps"], None, False, None, None),
                       ("engine_still", "distilled", a.budget["energy_steps"], "cmlm_kd_still", False),
                       ("engine_still", "distilled", a.budget["energy_steps"], "cmlm_kd_still", False),
                       ("control_still", "distilled", 10**6, "cmlm_kd_still", False, 300.0, 1e-4)]
    assert a.encoder_dropout  # the other stages keep the recipe they were run with
    data = a.read("still_main")
    assert not data["partial"] and list(data["rows"]["cmlm_kd_still"]) == [
        "train_seconds", "steps", "model", "model_sha256", "length beam 5", "length beam 3"]
    assert data["rows"]["control_still"]["budget_seconds"] == 300.0
    teacher = {"greedy": {"libreoffice": {"bleu": 40.0}}}
    old = {"libreoffice": {"bleu": 2.0, "chrf": 20.0}, "bible": {"bleu": 1.0, "chrf": 10.0}}
    text = section_still_main(data, teacher, {"cmlm_kd": {"1_iterations": old, "10_iterations": old}})
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
        fake_model(folder)
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
    text = section_still_main(main, None, {}, sharp)
    assert f"| ENGINE (SX/ST, O1 temperature 0.25), still encoder `{sharp['model_sha256'][:8]}` | 1 | 3 | 13.0 |" in text
    assert ("- ENGINE at O1 temperature 0.25 (`still_sharp`, one seed, 320 s; the control had 300 s) - control_still at "
            "length beam 3 (BLEU / chrF): 1 it: help +2.00 / +8.0, Bible +2.00 / +8.0") in text
    assert "- ENGINE at O1 temperature 0.25 (`still_sharp`, one seed, 320 s; the control had 300 s) - engine_still" in text
    assert "another draw" in text  # still_main's start here is not the one still_sharp trained from
    main["rows"]["cmlm_kd_still"]["model_sha256"] = sharp["start_sha256"]
    assert "another draw" not in section_still_main(main, None, {}, sharp)


def test_still_seeds_repeats_still_mains_pair_with_seeds_1_and_2_and_tables_them(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    assert "still_seeds" in a.benchmark.stages
    start = a.root / "cmlm_kd_still"
    fake_model(start)
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
    text = section_confirm(a.read("still_seeds"), title="t")
    assert "| cmlm_kd_still | 1 | 8.20 / 36.0 / 0.42 | 9.00 / 33.0 / 0.40 | 9.00 / 37.0 / 0.40 | +0.00 / -4.0 |" in text
    assert "ENGINE - control = +0.50 BLEU (sd 0.71), -4.0 chrF on average over 2 seed(s)" in text


def test_still_long_trains_cmlm_longs_recipe_from_cmlm_kd_still_and_its_seeds_start_there(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    assert {"still_long", "still_long_seeds"} <= set(a.benchmark.stages)
    with pytest.raises(SystemExit, match=r"cmlm_long_still does not.*--rebuild cmlm_long_still"):
        a.stage_still_long_seeds()  # its start is gone: the error names the command that trains it again
    start = a.root / "cmlm_kd_still"
    fake_model(start)
    (start / "model.safetensors").write_bytes(b"start")
    trained = []

    def train_cmlm(out, corpus, steps, student_model=None, callbacks=None, **overrides):
        trained.append((out.name, Path(corpus).name, steps, Path(student_model).name, a.encoder_dropout,
                        overrides["learning_rate"], overrides["save_steps"]))
        fake_model(out)
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
    text = section_still_long({**record, "length beam 3": record["length beam 5"]},
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
        fake_model(out)
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
    text = section_still_rebuilt(result, a.read("still_long_seeds"))
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
    text = section_still_rebuilt(result, seeds)
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
        fake_model(a.root / folder)
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
    text = section_output_chars(result)
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
