"""`EnergyTrainer`: Seq2SeqTrainer whose loss is the frozen teacher's energy of the student's output (ENGINE)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel, Seq2SeqTrainer, Seq2SeqTrainingArguments

from .energy import energy
from .model_card import ModelCardMixin
from .modeling_cmlm import masked_token_loss
from .operators import get_operator
from .teacher import check_teacher_compatible, load_teacher

ENERGY_LENGTH_CHOICES = ("oracle", "predicted")
MODEL_SELECTION_CHOICES = ("energy", "bleu")


@dataclass
class EnergyTrainingArguments(Seq2SeqTrainingArguments):
    """`Seq2SeqTrainingArguments` plus ENGINE's settings (every field is also a CLI flag via HfArgumentParser)."""

    teacher_model: str | None = field(
        default=None, metadata={"help": "Frozen autoregressive teacher: a hub id or a local save_pretrained folder."}
    )
    o1: str = field(
        default="sx", metadata={"help": "Operator O1 feeding the teacher's decoder: sx, stl, sg, st or gx."}
    )
    o2: str = field(
        default="st", metadata={"help": "Operator O2 scored against the teacher's log-probs: sx, stl, sg, st or gx."}
    )
    gumbel_tau: float = field(default=1.0, metadata={"help": "Temperature of the Gumbel operators (sg, gx)."})
    o1_temperature: float = field(
        default=1.0,
        metadata={
            "help": "O1 reads the student's logits divided by this (1 = the paper). Below 1 the teacher reads "
            "a sharper mixture, closer to the tokens the student emits (see engine_hf.energy.energy)."
        },
    )
    length_loss_weight: float = field(
        default=0.1, metadata={"help": "Weight of the length-prediction loss added to the energy."}
    )
    energy_length: str = field(
        default="oracle",
        metadata={
            "help": "Target length during energy training: 'oracle' (reference lengths) or 'predicted' (the "
            "student's own length head; needs no reference: source-only training)."
        },
    )
    ce_weight: float = field(
        default=0.0,
        metadata={
            "help": "Weight of the CMLM cross-entropy on the references mixed into the loss (guards against energy "
            "hacking; 0 = the paper's pure energy objective). Needs energy_length='oracle'."
        },
    )
    model_selection: str = field(
        default="energy",
        metadata={"help": "Best-checkpoint criterion: 'energy' (dev discrete energy, as in the paper) or 'bleu'."},
    )

    def __post_init__(self):
        for name in ("o1", "o2"):
            get_operator(getattr(self, name))  # fails early, naming the valid operators
        if not self.o1_temperature > 0:
            raise ValueError(f"o1_temperature={self.o1_temperature}: it divides the logits, so it must be > 0 (1 = the paper).")
        if self.energy_length not in ENERGY_LENGTH_CHOICES:
            raise ValueError(f"energy_length={self.energy_length!r}: choose one of {ENERGY_LENGTH_CHOICES}.")
        if self.model_selection not in MODEL_SELECTION_CHOICES:
            raise ValueError(f"model_selection={self.model_selection!r}: choose one of {MODEL_SELECTION_CHOICES}.")
        if self.ce_weight > 0 and self.energy_length != "oracle":
            raise ValueError("ce_weight > 0 compares against the references, so it needs energy_length='oracle'.")
        if self.metric_for_best_model is None:
            # During evaluation the EnergyTrainer's loss *is* the discrete energy.
            self.metric_for_best_model = "loss" if self.model_selection == "energy" else "bleu"
            self.greater_is_better = self.model_selection == "bleu"
        super().__post_init__()


class EnergyTrainer(ModelCardMixin, Seq2SeqTrainer):
    """Trains a CMLM student to minimise a frozen teacher's energy (Tu et al., 2020).

    `compute_loss` and `prediction_step` differ from `Seq2SeqTrainer` (and `log` adds the loss's parts). The teacher is loaded from
    `args.teacher_model` (or passed as `teacher=`), frozen, moved to the accelerator's device but never given to
    `accelerator.prepare` nor to the optimizer, and run under the accelerator's autocast.

    Training loss: energy(O1, O2) + length_loss_weight * length loss + ce_weight * CMLM cross-entropy.
    Evaluation loss: the *discrete* energy (argmax outputs), the paper's model-selection criterion.
    """

    def __init__(
        self,
        model: PreTrainedModel | None = None,
        args: EnergyTrainingArguments | None = None,
        teacher: str | PreTrainedModel | None = None,
        **kwargs: Any,
    ):
        if args is None or not isinstance(args, EnergyTrainingArguments):
            raise TypeError("EnergyTrainer needs EnergyTrainingArguments (they carry the teacher and operators).")
        teacher = teacher if teacher is not None else args.teacher_model
        if teacher is None:
            raise ValueError("No teacher: pass teacher=... or set EnergyTrainingArguments.teacher_model.")
        self.teacher = load_teacher(teacher)
        check_teacher_compatible(self.teacher, model.config)
        super().__init__(model=model, args=args, **kwargs)
        self.teacher.to(self.accelerator.device)
        self._loss_parts: dict[str, tuple[torch.Tensor, int]] = {}  # name -> (running sum, count) since the last log

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | None = None,
    ):
        args: EnergyTrainingArguments = self.args
        labels = inputs.get("labels")
        oracle_lengths = labels.ne(-100).sum(-1) if labels is not None else None
        use_oracle = args.energy_length == "oracle" and oracle_lengths is not None
        if args.energy_length == "oracle" and oracle_lengths is None:
            raise ValueError("energy_length='oracle' needs reference targets (labels); use 'predicted' for source-only data.")
        # The student decodes all positions masked, in one parallel pass (no decoder_input_ids given).
        outputs = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            target_lengths=oracle_lengths,
            decode_predicted_lengths=not use_oracle,
        )
        target_mask = torch.arange(outputs.logits.shape[1], device=outputs.logits.device) < outputs.decoder_lengths[:, None]
        operators = (args.o1, args.o2) if model.training else ("stl", "stl")  # eval: the discrete energy
        with self.accelerator.autocast():
            result = energy(
                self.teacher,
                outputs.logits,
                target_mask,
                inputs["input_ids"],
                inputs["attention_mask"],
                *operators,
                gumbel_tau=args.gumbel_tau,
                o1_temperature=args.o1_temperature,
            )
        loss = result.energy
        if model.training:
            parts = {"energy": result.energy}
            if outputs.length_loss is not None:
                parts["length_loss"] = outputs.length_loss
                loss = loss + args.length_loss_weight * outputs.length_loss
            if args.ce_weight > 0:
                parts["ce_loss"] = masked_token_loss(outputs.logits, labels)
                loss = loss + args.ce_weight * parts["ce_loss"]
            for name, value in parts.items():
                total, count = self._loss_parts.get(name, (0.0, 0))
                self._loss_parts[name] = (total + value.detach().float(), count + 1)
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Training log lines also carry the loss's parts (energy, ce_loss, length_loss), averaged since the last.

        Why: the sum alone hides energy hacking, where the energy falls while the cross-entropy climbs. The parts
        are this process's own values (not reduced across devices).
        """
        if "loss" in logs and self._loss_parts:
            for name, (total, count) in self._loss_parts.items():
                logs[name] = round(float(total) / count, 4)
            self._loss_parts.clear()
        super().log(logs, start_time)

    def prediction_step(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
        **gen_kwargs: Any,
    ):
        """Generate as Seq2SeqTrainer does, but report the discrete energy as the evaluation loss."""
        if prediction_loss_only or not self.args.predict_with_generate:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs)
        _, generated_tokens, labels = super().prediction_step(
            model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs
        )
        with torch.no_grad():
            loss = self.compute_loss(model, self._prepare_inputs(inputs)).detach()
        return loss, generated_tokens, labels


__all__ = ["EnergyTrainer", "EnergyTrainingArguments"]
