"""The plumbing every stage stands on: results JSON, the teacher, the data, evaluation, and the two trainings
(cross-entropy and energy) with the benchmark's budgets."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from engine_hf.benchmark import hardware_description

from .clock import StageClocks
from .records import LogHistory, OnSave
from .settings import BENCHMARKS, ENGINE, scale


class BenchBase:
    """One benchmark's runs and results (`--benchmark`, `--quick`): paths, records, training and scoring."""

    def __init__(self, args: argparse.Namespace):
        self.quick = args.quick
        self.budget = scale(args.quick)
        self.benchmark = BENCHMARKS[args.benchmark]
        self.runs = Path(args.runs_dir)
        self.teacher_override = getattr(args, "teacher", None)
        self.root = self.runs / (self.benchmark.runs_name + ("-quick" if args.quick else ""))
        self.results = Path(args.results_dir)
        self.results.mkdir(parents=True, exist_ok=True)
        self.suffix = "_quick" if args.quick else ""
        self.threads = torch.get_num_threads()
        # Dropout stays on in the frozen encoder while training: the recipe of every stage before `still_encoder`
        # (CMLMForConditionalGeneration.freeze_encoder). `Recipes.still_encoder()` turns it off: `still_encoder`,
        # `still_confirm`, every `still_*` stage, and `--rebuild` of the still chain.
        self.encoder_dropout = True
        self.clock = StageClocks(self.root / "stage_clocks",
                                 lambda stage: self.read(stage) if self.result_path(stage).exists() else {})

    def result_path(self, stage: str) -> Path:
        return self.results / f"{self.benchmark.results_prefix}{stage}{self.suffix}.json"

    def done(self, stage: str) -> bool:
        return self.result_path(stage).exists() and not self.read(stage).get("partial", False)

    def finished_rows(self, stage: str) -> dict:
        """Rows of a stage of many short runs written so far (its results JSON is rewritten after each run)."""
        return self.read(stage).get("rows", {}) if self.result_path(stage).exists() else {}

    def header(self, stage: str) -> dict:
        """What every results JSON records beside its stage's own payload: scale, hardware, command."""
        return {"stage": stage, "quick": self.quick, "scale": self.budget, "threads": self.threads,
                "hardware": hardware_description(), "benchmark_stages": list(self.benchmark.stages),
                "command": f"python scripts/bench.py {self.flags}--stages {stage}" + (" --quick" if self.quick else ""),
                **self.teacher_record()}

    def write(self, stage: str, payload: dict) -> None:
        payload = {**self.header(stage), **payload, **self.clock.fields(stage)}
        self.result_path(stage).write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        print(f"[bench] {stage}: wrote {self.result_path(stage)}")

    def read(self, stage: str) -> dict:
        return json.loads(self.result_path(stage).read_text())

    def record_stage_seconds(self, stage: str) -> None:
        """Write the stage's whole wall time, over every process that ran it (`clock.StageClocks`), to its results
        JSON once it has finished, and stop its clock. A stage that wrote no results (a check that found nothing to do) is left
        alone."""
        if self.result_path(stage).exists():
            payload = self.read(stage)
            self.result_path(stage).write_text(json.dumps({**payload, **self.clock.fields(stage)}, indent=2,
                                                          ensure_ascii=False))
        self.clock.finish(stage)

    @property
    def flags(self) -> str:
        """The command-line flags that name this benchmark, as recorded in every results JSON."""
        flags = "" if self.benchmark.name == "a" else f"--benchmark {self.benchmark.name} "
        return flags + (f"--teacher {self.teacher_override} " if self.teacher_override else "")

    @property
    def teacher_dir(self) -> Path:
        """A: the Firefox model, converted on first use. B: a frozen copy of the MarianMT of scripts/train_teacher.py.

        B copies its teacher into its own runs folder on first use: the training folder keeps changing (the teacher
        trains on over sessions), and every stage of one benchmark must see the same teacher.
        """
        if self.benchmark.own_teacher:
            return self.teacher_snapshot()
        path = self.root / "teacher-en-pt"
        if not (path / "config.json").exists():
            from engine_hf.convert_bergamot import convert_bergamot

            convert_bergamot("en-pt", path)
        return path

    def teacher_snapshot(self) -> Path:
        source = Path(self.teacher_override) if self.teacher_override else (
            self.runs / ("teacher-de-en-quick" if self.quick else "teacher-de-en"))
        snapshot = self.root / "teacher"
        record = snapshot / "engine_hf_snapshot.json"
        if record.exists():
            taken = json.loads(record.read_text())
            if self.teacher_override and Path(taken["source"]).resolve() != source.resolve():
                raise SystemExit(f"{self.root} already uses the teacher copied from {taken['source']} (step "
                                 f"{taken['steps']}); to start benchmark {self.benchmark.name.upper()} over with "
                                 f"{source}, remove {self.root} and results/{self.benchmark.results_prefix}*.")
            return snapshot
        if not (source / "config.json").exists():
            command = "python scripts/train_teacher.py" + (" --quick" if self.quick else " --threads 2")
            raise SystemExit(f"Benchmark {self.benchmark.name.upper()} needs its DE->EN teacher at {source}, and "
                             f"there is none: train it with `{command}` (or pass --teacher DIR).")
        snapshot.mkdir(parents=True, exist_ok=True)
        for path in source.iterdir():
            if path.is_file():
                shutil.copy2(path, snapshot / path.name)
        sessions = source / "engine_hf_sessions.json"
        steps = json.loads(sessions.read_text())[-1].get("steps") if sessions.exists() else None
        record.write_text(json.dumps({"source": str(source), "steps": steps}))
        return snapshot

    def teacher_record(self) -> dict:
        """For benchmark B's results: which teacher (source folder, training step) its stages used."""
        if not self.benchmark.own_teacher:
            return {}
        return {"teacher": json.loads((self.teacher_dir / "engine_hf_snapshot.json").read_text())}

    def data(self, corpus: str = "libreoffice", train: int | None = None):
        from engine_hf.training import DataArguments

        if corpus == "libreoffice" and self.benchmark.max_target_words:
            corpus = str(self.short_segments())
        return DataArguments(corpus=corpus, src_lang=self.benchmark.src, tgt_lang=self.benchmark.tgt,
                             max_train_samples=train, max_eval_samples=self.budget["eval_sentences"])

    def short_segments(self) -> Path:
        """The help corpus cut to pairs whose reference target has at most `max_target_words` words (every split,
        so the test slice is held-out help files as before); saved once under the benchmark's runs folder."""
        limit, tgt = self.benchmark.max_target_words, self.benchmark.tgt
        path = self.root / f"libreoffice-max{limit}words"
        if not (path / "dataset_dict.json").exists():
            from engine_hf.data import load_corpus

            corpus = load_corpus("libreoffice", self.benchmark.src, tgt)
            corpus.filter(lambda ex: len(ex["translation"][tgt].split()) <= limit).save_to_disk(str(path))
        return path

    def training_args(self, output_dir: Path, steps: int, **overrides):
        from transformers import Seq2SeqTrainingArguments

        values = dict(output_dir=str(output_dir), per_device_train_batch_size=self.budget["batch_size"],
                      per_device_eval_batch_size=64, use_cpu=True, logging_steps=self.budget["logging_steps"], save_strategy="steps",
                      save_steps=self.budget["checkpoint_every"], report_to=[], seed=0, dataloader_num_workers=0,
                      do_train=True, max_steps=steps, train_sampling_strategy="group_by_length",
                      disable_tqdm=True)
        values.update(overrides)
        cls = Seq2SeqTrainingArguments
        if "teacher_model" in values:
            from engine_hf import EnergyTrainingArguments as cls  # noqa: N813
        return cls(**values)

    def evaluate(self, model: Path, split: str = "test", corpora: tuple[str, ...] | None = None,
                 **generate_kwargs) -> dict:
        """Scores on the benchmark's test corpora (A: LibreOffice help and the Bible); the test split unless told."""
        from engine_hf.inference import evaluate_model

        return {corpus: evaluate_model(str(model), self.data(corpus), split=split, teacher_model=str(self.teacher_dir),
                                       **generate_kwargs)
                for corpus in corpora or self.benchmark.test_corpora}

    def evaluate_nat(self, model: Path, length_beam: int) -> dict:
        return {f"{n}_iterations": self.evaluate(model, num_iterations=n, length_beam=length_beam) for n in (1, 10)}

    def train_cmlm(self, out: Path, corpus: str, steps: int, student_model: str | None = None, callbacks=None,
                   freeze_encoder: bool = True, clock_on_save: bool = True, **overrides) -> float:
        """A CE (CMLM) run; returns its wall time. `clock_on_save`: record the stage clock beside each checkpoint, for
        a run that resumes from them (not one its stage deletes and trains again when interrupted)."""
        from engine_hf.training import StudentArguments, TeacherArguments, train_cmlm

        student = StudentArguments(student_model=student_model,
                                   student_config="" if student_model else self.benchmark.student_config,
                                   freeze_encoder=freeze_encoder, frozen_encoder_dropout=self.encoder_dropout)
        started = time.perf_counter()
        values = dict(learning_rate=7e-4, warmup_steps=min(200, steps // 10))
        values.update(overrides)
        train_cmlm(self.data(corpus), TeacherArguments(teacher_model=str(self.teacher_dir)), student,
                   self.training_args(out, steps, **values), callbacks=[*(callbacks or []), *self.clock_callback(clock_on_save)])
        return time.perf_counter() - started

    def clock_callback(self, on_save: bool) -> list[OnSave]:
        """The callback that records the stage clock beside each checkpoint, where a run resumes from them."""
        return [OnSave(self.clock.save)] if on_save else []

    def train_energy(self, out: Path, student_model: Path, steps: int, corpus: str = "libreoffice",
                     clock: LogHistory | None = None, freeze_encoder: bool = True, clock_on_save: bool = True,
                     **overrides) -> tuple[float, list[dict]]:
        """An ENGINE run; returns its training loop's wall time and the Trainer's log history (`training_log`).
        Pass `clock` to keep its per-step times as well; `clock_on_save` as in `train_cmlm`."""
        from engine_hf.training import StudentArguments, train_energy

        # The `engine` stage's setting unless a stage overrides it.
        values = dict(teacher_model=str(self.teacher_dir), o1=ENGINE.o1, o2="st", learning_rate=ENGINE.learning_rate,
                      lr_scheduler_type="constant", ce_weight=ENGINE.ce_weight)
        values.update(overrides)
        logged = clock or LogHistory()
        student = StudentArguments(student_model=str(student_model), freeze_encoder=freeze_encoder,
                                   frozen_encoder_dropout=self.encoder_dropout)
        train_energy(self.data(corpus), student, self.training_args(out, steps, **values),
                     callbacks=[logged, *self.clock_callback(clock_on_save)])
        return logged.seconds, logged.history
