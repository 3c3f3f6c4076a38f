"""What the stages record beside scores, and how: the Trainer's log history and wall time (`LogHistory`), checkpoints
at given wall times (`SaveAtSeconds`), the stage clock beside each checkpoint (`OnSave`), weight and corpus digests, shares and agreement between the energy and chrF,
and a model's scores at the reference lengths (`oracle_length_scores`)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


class LogHistory(TrainerCallback):
    """Keeps the Trainer's log history at the end of training, for the results JSON, and times the training loop.

    The history is saved with every checkpoint and restored on resume, so a killed and resumed run still reports
    its early points (and the step-0 evaluation). Evaluations after `train()` returns are not in it.
    `seconds` runs from `on_train_begin` to `on_train_end`, the same span `StopAfterSeconds` budgets: a matched
    control gets ENGINE's training time, not its loading, tokenising and saving too.
    """

    def __init__(self) -> None:
        self.history: list[dict] = []
        self.elapsed: dict[int, float] = {}  # seconds since on_train_begin at the end of each step
        self.seconds, self.steps, self.started = 0.0, 0, 0.0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        self.started = time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        self.elapsed[state.global_step] = time.perf_counter() - self.started

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        self.history = list(state.log_history)
        self.seconds, self.steps = time.perf_counter() - self.started, state.global_step


class OnSave(TrainerCallback):
    """Calls `save` after every checkpoint the Trainer writes: the stage clock (`clock.StageClocks.save`) records
    the stage's seconds so far beside each checkpoint, so a training killed and resumed from it is timed over both
    processes."""

    def __init__(self, save: Callable[[], None]) -> None:
        self.save = save

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        if state is None or state.is_world_process_zero:
            self.save()


class SaveAtSeconds(TrainerCallback):
    """Save a checkpoint at the first step ending after each of `seconds` (since `on_train_begin`): a control
    checkpointed at the wall times another run reached its own checkpoints. `saved_steps` lists where it saved."""

    def __init__(self, seconds: list[float]) -> None:
        self.pending, self.saved_steps, self.started = sorted(seconds), [], 0.0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        self.started = time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs) -> None:
        elapsed = time.perf_counter() - self.started
        while self.pending and elapsed >= self.pending[0]:  # one step may pass two times: it stands for both
            self.pending.pop(0)
            control.should_save = True
            self.saved_steps.append(state.global_step)


def training_log(history: list[dict]) -> list[dict]:
    """The losses an energy run logged every `logging_steps`: relaxed energy, CE, length loss, their sum.

    The trainer minimises the *relaxed* energy (O1/O2 on the logits) while the tables report the *discrete* energy of
    the argmax: on a weak student the first can fall while the second rises, so both belong in the results.
    """
    keys = ("energy", "ce_loss", "length_loss", "loss")
    return [{"step": row["step"], **{k: round(float(row[k]), 4) for k in keys if k in row}}
            for row in history if "energy" in row]


def dev_curve(history: list[dict]) -> list[dict]:
    """The dev discrete energy (the EnergyTrainer's eval loss) at each evaluated step, the first value per step.

    A resumed run re-evaluates its resumed step on start (eval_on_start); the first value is the one from the run.
    """
    curve: dict[int, dict] = {}
    for row in history:
        if "eval_loss" in row and row["step"] not in curve:
            curve[row["step"]] = {"step": row["step"], "dev_discrete_energy": round(float(row["eval_loss"]), 4)}
    return list(curve.values())


def file_digest(path: Path) -> str | None:
    """The first 16 hex digits of a file's SHA-256, None if there is no file."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


def weights_digest(model_dir: Path) -> str | None:
    """Which CMLM a later stage started from (its weights' digest), when a stage is rebuilt (runs/ is not kept
    between sessions, and seeded training is not bit-exact across CPUs)."""
    return file_digest(Path(model_dir) / "model.safetensors")


def corpus_digest(corpus_dir: Path) -> str | None:
    """Which distilled corpus a CMLM was trained on (its training file's digest): one greedy output in 12,000
    changed between an AVX-512 and an AVX2 distillation."""
    return file_digest(Path(corpus_dir) / "train.jsonl")


def share(flags) -> float | None:
    """The fraction of true values, None for none at all (a share of nothing is not 0)."""
    flags = list(flags)
    return sum(flags) / len(flags) if flags else None


def pairwise_agreement(hyps_a: list[str], hyps_b: list[str], energy_a: list[float], energy_b: list[float],
                       chrf_a: list[float], chrf_b: list[float]) -> dict:
    """How often the teacher's energy and sentence chrF pick the same one of two systems' outputs for a source.

    Only sources where the two outputs differ and their chrF differs count: a tie in chrF gives the energy nothing
    to agree with. 0.5 is a coin; below 0.5 the energy prefers the output that is further from the reference.
    """
    votes = [(energy_a[i] < energy_b[i]) == (chrf_a[i] > chrf_b[i])
             for i in range(len(hyps_a)) if hyps_a[i] != hyps_b[i] and chrf_a[i] != chrf_b[i]]
    return {"compared": len(votes), "agree": sum(votes), "agreement": share(votes)}


def pooled_agreement(pairs) -> dict:
    """`pairwise_agreement` over all pairs of systems at once (each source-pair one vote)."""
    pairs = list(pairs)
    compared = sum(pair["compared"] for pair in pairs)
    agree = sum(pair["agree"] for pair in pairs) if compared else 0
    return {"compared": compared, "agree": agree, "agreement": agree / compared if compared else None}


@torch.no_grad()
def oracle_length_scores(model_dir: Path, teacher_dir: Path, data, split: str = "validation",
                         length_beam: int | None = None) -> dict:
    """Discrete energy and BLEU of one parallel pass at the reference lengths (the paper's Table 2 setting), on the
    dev set unless told; and the length head alone: its most likely length minus the reference's, in tokens (mean),
    and how often the two are equal. With a `length_beam`, also the scores of one pass at the lengths the model
    predicts (`predicted`), on the same sentences: those whose reference fits the model."""
    from transformers import AutoTokenizer

    from engine_hf import (
        CMLMForConditionalGeneration,
        DataCollatorForCMLM,
        corpus_scores,
        discrete_energy,
        load_teacher,
        repetition_rate,
    )
    from engine_hf.training import load_corpus_splits, tokenize_pairs

    model = CMLMForConditionalGeneration.from_pretrained(model_dir).eval()
    teacher = load_teacher(str(teacher_dir))
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    dev = tokenize_pairs(load_corpus_splits(data)[split], tokenizer, data.src_lang, data.tgt_lang,
                         model.config.max_source_positions, model.config.max_target_positions)
    collate = DataCollatorForCMLM.for_model(model, mask_all=True)
    energies, hyps, refs, rows, offsets, predicted = [], [], [], [], [], []
    for start in range(0, len(dev), 32):
        batch = collate([dev[i] for i in range(start, min(start + 32, len(dev)))])
        lengths = batch["labels"].ne(-100).sum(-1)
        if length_beam:
            predicted += tokenizer.batch_decode(model.generate(batch["input_ids"], batch["attention_mask"],
                                                               num_iterations=1, length_beam=length_beam),
                                                skip_special_tokens=True)
        out = model(batch["input_ids"], batch["attention_mask"], target_lengths=lengths)
        mask = torch.arange(out.logits.shape[1]) < lengths[:, None]
        result = discrete_energy(teacher, out.logits, mask, batch["input_ids"], batch["attention_mask"])
        energies.append(result.sequence_energy)
        offsets.append(CMLMForConditionalGeneration._candidate_lengths(out.length_logits, 1)[:, 0] - lengths)
        tokens = out.logits.argmax(-1)
        rows += [row[: int(n)].tolist() for row, n in zip(tokens, lengths, strict=True)]
        hyps += tokenizer.batch_decode([row[: int(n)] for row, n in zip(tokens, lengths, strict=True)],
                                       skip_special_tokens=True)
        refs += tokenizer.batch_decode([row[row.ne(-100)] for row in batch["labels"]], skip_special_tokens=True)
    scores = corpus_scores(hyps, refs)
    offsets = torch.cat(offsets).float()
    return {"discrete_energy": torch.cat(energies).mean().item(), **scores, "repetition": repetition_rate(rows),
            "length_head_offset": offsets.mean().item(), "length_head_exact": offsets.eq(0).float().mean().item(),
            "sentences": len(hyps), **({"predicted": corpus_scores(predicted, refs)} if length_beam else {})}
