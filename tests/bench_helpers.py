"""What the benchmark tests share: a script loaded as a module, a `Bench` in a tmp folder, fake compute-curve trainings and their records, and a faked
distillation."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import bench_stages as bench

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def fake_model(folder: Path, weights: bytes | None = None) -> Path:
    """A model folder as `trained()` sees it (its config.json), nothing in it to load; with `weights`, a weights file
    too, for `weights_digest()`."""
    folder.mkdir(parents=True)
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text("{}")
    return folder


def make_bench(tmp_path: Path, benchmark: str, quick: bool = True):
    args = argparse.Namespace(quick=quick, benchmark=benchmark, runs_dir=str(tmp_path / "runs"),
                              results_dir=str(tmp_path / "results"), teacher=None)
    return bench.Bench(args)


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
