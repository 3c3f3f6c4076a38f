"""End-to-end jobs shared by the CLI, `scripts/train.py` and the benchmarks: CMLM baseline, ENGINE, distillation.

Settings are dataclasses parsed by `HfArgumentParser`, so every `Seq2SeqTrainingArguments` flag works on the
command line next to the few of engine_hf's own.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict
from transformers import (
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    TrainerCallback,
    set_seed,
)
from transformers.utils import logging

from .data_collator import DataCollatorForCMLM
from .metrics import build_compute_metrics
from .model_card import ModelCardMixin
from .modeling_cmlm import CMLMForConditionalGeneration
from .teacher import load_teacher
from .trainer import EnergyTrainer, EnergyTrainingArguments

logger = logging.get_logger(__name__)


@dataclass
class DataArguments:
    """Which parallel corpus to train and evaluate on."""

    corpus: str = field(
        default="libreoffice",
        metadata={"help": "'libreoffice', 'bible', a local file/folder (JSONL, TSV, save_to_disk), or a hub dataset id."},
    )
    src_lang: str = field(default="en", metadata={"help": "Source language code (e.g. en, de, pt)."})
    tgt_lang: str = field(default="pt", metadata={"help": "Target language code."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training pairs."})
    max_eval_samples: int | None = field(default=200, metadata={"help": "Evaluate on the first N validation pairs."})
    data_cache_dir: str | None = field(default=None, metadata={"help": "Where built corpora are cached."})


@dataclass
class TeacherArguments:
    """The teacher whose tokenizer and vocabulary a student is built on (train-cmlm)."""

    teacher_model: str = field(
        default=None, metadata={"help": "Teacher folder or hub id: gives the tokenizer, vocabulary and initial weights."}
    )


@dataclass
class StudentArguments:
    """How the CMLM student is obtained."""

    student_model: str | None = field(
        default=None, metadata={"help": "Start from this CMLM checkpoint instead of building one from the teacher."}
    )
    student_config: str = field(
        default="",
        metadata={
            "help": "CMLMConfig overrides for a new student, 'key=value,...' (PreTrainedConfig.update_from_string "
            "syntax), e.g. 'decoder_layers=3,length_prediction=mean_pool'."
        },
    )
    freeze_encoder: bool = field(
        default=False,
        metadata={
            "help": "Keep the (teacher-initialised) encoder frozen, its token embeddings included: with "
            "tie_word_embeddings (the default) those are also the decoder's input embeddings and output "
            "projection, so only the decoder layers and the length predictor train. The frozen encoder runs "
            "without dropout (`CMLMForConditionalGeneration.freeze_encoder`)."
        },
    )
    frozen_encoder_dropout: bool = field(
        default=False,
        metadata={
            "help": "With --freeze_encoder, keep dropout on in the frozen encoder while training: the behaviour "
            "every benchmark table before the `still_encoder` stage was trained with."
        },
    )


class StopAfterSeconds(TrainerCallback):
    """Stop training after a wall-clock budget: a matched-compute control trains for as long as ENGINE did."""

    def __init__(self, seconds: float):
        self.seconds, self.started = seconds, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.started >= self.seconds:
            control.should_training_stop = True


class CMLMTrainer(ModelCardMixin, Seq2SeqTrainer):
    """`Seq2SeqTrainer` whose model card (README.md, also on `push_to_hub`) describes a CMLM."""


def tokenize_pairs(
    dataset: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    src_lang: str,
    tgt_lang: str,
    max_source_positions: int,
    max_target_positions: int,
) -> Dataset:
    """`translation` pairs -> `input_ids` (source, ending with `</s>`) and `labels` (target, no special tokens).

    Sources longer than the model's limit are truncated; pairs with an empty or over-long target are dropped
    (a cropped target would teach the length predictor a wrong length).
    """

    def encode(batch: dict[str, list]) -> dict[str, list]:
        sources = [pair[src_lang] for pair in batch["translation"]]
        targets = [pair[tgt_lang] for pair in batch["translation"]]
        input_ids = tokenizer(sources, truncation=True, max_length=max_source_positions)["input_ids"]
        labels = tokenizer(text_target=targets, add_special_tokens=False)["input_ids"]
        return {"input_ids": input_ids, "labels": labels}

    tokenized = dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="Tokenizing")
    kept = tokenized.filter(lambda ex: 0 < len(ex["labels"]) <= max_target_positions, desc="Filtering lengths")
    if len(kept) < len(tokenized):
        logger.warning("Dropped %d pairs with an empty or over-long target.", len(tokenized) - len(kept))
    return kept


def load_corpus_splits(data_args: DataArguments) -> DatasetDict:
    """The corpus as train/validation/test, trimmed to the requested sizes."""
    from .data import load_corpus

    kwargs = {"cache_dir": data_args.data_cache_dir} if data_args.data_cache_dir else {}
    corpus = load_corpus(data_args.corpus, data_args.src_lang, data_args.tgt_lang, **kwargs)
    if data_args.max_train_samples is not None:
        corpus["train"] = corpus["train"].select(range(min(data_args.max_train_samples, len(corpus["train"]))))
    if data_args.max_eval_samples is not None:
        for split in ("validation", "test"):
            if split in corpus:
                corpus[split] = corpus[split].select(range(min(data_args.max_eval_samples, len(corpus[split]))))
    return corpus


def build_student(
    student_args: StudentArguments, teacher: PreTrainedModel | None
) -> CMLMForConditionalGeneration:
    """Load the given CMLM checkpoint, or build a new one from the teacher (its vocabulary and weights)."""
    if student_args.student_model:
        student = CMLMForConditionalGeneration.from_pretrained(student_args.student_model)
    elif teacher is not None:
        overrides: dict[str, Any] = {}
        if student_args.student_config:
            probe = CMLMForConditionalGeneration.config_class()
            probe.update_from_string(student_args.student_config)
            keys = [item.split("=")[0].strip() for item in student_args.student_config.split(",") if item.strip()]
            overrides = {key: getattr(probe, key) for key in keys}
        student = CMLMForConditionalGeneration.from_teacher(teacher, **overrides)
    else:
        raise ValueError("Give --student_model (a CMLM checkpoint) or --teacher_model to build a student from.")
    if student_args.freeze_encoder:
        student.freeze_encoder(dropout=student_args.frozen_encoder_dropout)
    return student


def _tokenized_splits(
    data_args: DataArguments, tokenizer: PreTrainedTokenizerBase, student: CMLMForConditionalGeneration
) -> tuple[Dataset, Dataset | None]:
    corpus = load_corpus_splits(data_args)
    limits = (student.config.max_source_positions, student.config.max_target_positions)
    train = tokenize_pairs(corpus["train"], tokenizer, data_args.src_lang, data_args.tgt_lang, *limits)
    validation = None
    if "validation" in corpus:
        validation = tokenize_pairs(corpus["validation"], tokenizer, data_args.src_lang, data_args.tgt_lang, *limits)
    return train, validation


def train_cmlm(
    data_args: DataArguments,
    teacher_args: TeacherArguments,
    student_args: StudentArguments,
    training_args: Seq2SeqTrainingArguments,
    callbacks: list | None = None,
) -> dict[str, float]:
    """The CMLM baseline: cross-entropy on masked target tokens (references or distilled outputs)."""
    source = student_args.student_model or teacher_args.teacher_model
    if source is None:
        raise ValueError("train-cmlm needs --teacher_model (tokenizer, vocabulary, initial weights) or --student_model.")
    tokenizer = AutoTokenizer.from_pretrained(source)
    teacher = None if student_args.student_model else load_teacher(teacher_args.teacher_model)
    set_seed(training_args.seed)  # the Trainer seeds only once it exists: too late for a new decoder's initial weights
    student = build_student(student_args, teacher)
    del teacher
    train, validation = _tokenized_splits(data_args, tokenizer, student)
    trainer = CMLMTrainer(
        model=student,
        args=training_args,
        train_dataset=train,
        eval_dataset=validation,
        data_collator=DataCollatorForCMLM.for_model(student),
        processing_class=tokenizer,
        compute_metrics=build_compute_metrics(tokenizer),
        callbacks=callbacks,
    )
    trainer.model_card_kwargs = _card_kwargs(data_args, teacher_args.teacher_model)
    return _run(trainer, training_args)


def _card_kwargs(data_args: DataArguments, teacher: str | None) -> dict[str, Any]:
    return {"teacher": teacher, "languages": (data_args.src_lang, data_args.tgt_lang),
            "training_summary": {"data": data_args.corpus}}


def train_energy(
    data_args: DataArguments,
    student_args: StudentArguments,
    training_args: EnergyTrainingArguments,
    callbacks: list | None = None,
) -> dict[str, float]:
    """ENGINE: train the CMLM inference network to minimise the frozen teacher's energy."""
    if training_args.teacher_model is None:
        raise ValueError("train-energy needs --teacher_model.")
    teacher = load_teacher(training_args.teacher_model)
    tokenizer = AutoTokenizer.from_pretrained(student_args.student_model or training_args.teacher_model)
    set_seed(training_args.seed)  # as in train_cmlm: a student built here draws its initial weights now
    student = build_student(student_args, teacher)
    train, validation = _tokenized_splits(data_args, tokenizer, student)
    trainer = EnergyTrainer(
        model=student,
        args=training_args,
        teacher=teacher,
        train_dataset=train,
        eval_dataset=validation,
        data_collator=DataCollatorForCMLM.for_model(student, mask_all=True),
        processing_class=tokenizer,
        compute_metrics=build_compute_metrics(tokenizer),
        callbacks=callbacks,
    )
    trainer.model_card_kwargs = _card_kwargs(data_args, training_args.teacher_model)
    return _run(trainer, training_args)


def _run(trainer: Seq2SeqTrainer, args: Seq2SeqTrainingArguments) -> dict[str, float]:
    """Train, evaluate, save, summarise.

    Training resumes from `--resume_from_checkpoint` when given, else from the last checkpoint in output_dir if
    there is one (an interrupted job restarts where it stopped; use a fresh output_dir to start over).
    """
    from transformers.trainer_utils import get_last_checkpoint

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and args.world_size == 1:
        raise ValueError(
            "Launched as several processes but the Trainer sees one: each would train its own model. On CPU add "
            "--use_cpu (and launch with --multi_gpu, see the README)."
        )
    metrics: dict[str, float] = {}
    if args.do_train:
        last = args.resume_from_checkpoint
        if last is None and Path(args.output_dir).is_dir():
            last = get_last_checkpoint(args.output_dir)
        result = trainer.train(resume_from_checkpoint=last)
        metrics.update(result.metrics)
        trainer.save_model()
    if args.do_eval and trainer.eval_dataset is not None:
        metrics.update(trainer.evaluate())
    trainer.create_model_card()
    if args.push_to_hub:
        trainer.push_to_hub()
    if trainer.is_world_process_zero():
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.output_dir) / "engine_hf_metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


@torch.no_grad()
def distill_corpus(
    teacher: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    corpus: DatasetDict,
    src_lang: str,
    tgt_lang: str,
    output_dir: str | Path,
    batch_size: int = 32,
    num_beams: int = 4,
    max_new_tokens: int = 256,
) -> Path:
    """Sequence-level distillation: the teacher's beam-search translations of the training sources.

    Writes `output_dir/train.jsonl` (teacher outputs as targets) one batch at a time, so a killed run resumes
    where it stopped, and copies the validation/test references unchanged: evaluation stays against humans.
    The folder is a corpus `load_corpus(output_dir, src_lang, tgt_lang)` (and `--corpus output_dir`) reads.
    """
    from tqdm.auto import tqdm

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for split in ("validation", "test"):
        if split in corpus and not (output_dir / f"{split}.jsonl").exists():
            corpus[split].to_json(output_dir / f"{split}.jsonl", lines=True, force_ascii=False)
    train_path = output_dir / "train.jsonl"
    done = sum(1 for _ in train_path.open(encoding="utf-8")) if train_path.exists() else 0
    rows = corpus["train"]
    with train_path.open("a", encoding="utf-8") as sink, tqdm(total=len(rows), initial=done, desc="Distilling") as bar:
        for start in range(done, len(rows), batch_size):
            chunk = rows.select(range(start, min(start + batch_size, len(rows))))
            sources = [pair[src_lang] for pair in chunk["translation"]]
            batch = tokenizer(sources, return_tensors="pt", padding=True, truncation=True).to(teacher.device)
            generated = teacher.generate(**batch, num_beams=num_beams, max_new_tokens=max_new_tokens)
            for source, output in zip(sources, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
                sink.write(json.dumps({"translation": {src_lang: source, tgt_lang: output}}, ensure_ascii=False) + "\n")
            sink.flush()
            bar.update(len(sources))
    return output_dir


__all__ = [
    "DataArguments",
    "StudentArguments",
    "TeacherArguments",
    "CMLMTrainer",
    "StopAfterSeconds",
    "build_student",
    "distill_corpus",
    "load_corpus_splits",
    "tokenize_pairs",
    "train_cmlm",
    "train_energy",
]
