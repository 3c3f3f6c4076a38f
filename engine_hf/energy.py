"""The ENGINE energy (Tu et al., 2020, Eq. 2-3): how unlikely the frozen teacher finds the student's output."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from .operators import get_operator
from .teacher import soft_embed, teacher_special_ids


@dataclass
class EnergyOutput:
    """`energy`: batch mean per token (the training loss); `sequence_energy`: per-sentence mean per token."""

    energy: torch.Tensor
    sequence_energy: torch.Tensor
    num_tokens: torch.Tensor


def energy(
    teacher: PreTrainedModel,
    student_logits: torch.Tensor,
    target_mask: torch.Tensor,
    input_ids: torch.LongTensor,
    attention_mask: torch.Tensor,
    o1: str = "sx",
    o2: str = "st",
    gumbel_tau: float = 1.0,
    teacher_encoder_outputs: BaseModelOutput | None = None,
    o1_temperature: float = 1.0,
) -> EnergyOutput:
    r"""Eq. 2-3 of the paper, computed in one teacher-forced pass of the frozen teacher:

        E(x, y) = - \sum_{t=1}^{L} O2(z_t)^T log p_T(. | O1(z_0), ..., O1(z_{t-1}), x) - log p_T(</s> | O1(z_{1..L}), x)

    where z_t are the student's logits at target position t (the student ran once, in parallel), the teacher's
    decoder input at step t is the expected embedding O1(z_{t-1}) @ E_teacher and step 0 is the teacher's own
    start token. The `</s>` term scores that the output ends where the student says. The result is averaged
    per token (L + 1 per sentence) so that, for one-hot inputs, it equals the teacher's own cross-entropy.
    Gradients reach the student through both O1 and O2; the teacher is frozen and receives none.

    Args:
        teacher: Frozen encoder-decoder whose vocabulary is the student's (`check_teacher_compatible`).
        student_logits: (batch, L, vocab) student scores; never-emitted ids may be -inf.
        target_mask: (batch, L) 1 on real target positions; each row's real positions come first.
        input_ids / attention_mask: The source, in the teacher's tokenisation.
        o1 / o2: Operator names (`sx`, `stl`, `sg`, `st`, `gx`; see `engine_hf.operators`).
        gumbel_tau: Temperature of the Gumbel operators.
        teacher_encoder_outputs: The teacher's encoding of the source, if already computed.
        o1_temperature: O1 reads z / T. 1 is the paper. Below 1, the mixture of embeddings the teacher reads with
            O1 = SX moves towards the argmax tokens the student will emit, so lowering this relaxed energy lowers
            the discrete one more directly (a flat student's mixture is far from any sentence it would output).
    """
    start_id, eos_id = teacher_special_ids(teacher)
    target_mask = target_mask.bool()
    lengths = target_mask.sum(-1)
    p1 = get_operator(o1)(student_logits / o1_temperature, gumbel_tau)
    p2 = get_operator(o2)(student_logits, gumbel_tau)

    if teacher_encoder_outputs is None:
        with torch.no_grad():  # the source encoding does not depend on the student
            teacher_encoder_outputs = teacher.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    start = torch.full_like(lengths[:, None], start_id)
    start_embeds = soft_embed(teacher, F.one_hot(start, p1.shape[-1]).to(p1.dtype))
    decoder_inputs_embeds = torch.cat([start_embeds, soft_embed(teacher, p1)], dim=1)
    teacher_logits = teacher(
        encoder_outputs=teacher_encoder_outputs,
        attention_mask=attention_mask,
        decoder_inputs_embeds=decoder_inputs_embeds,
        use_cache=False,
    ).logits
    log_probs = F.log_softmax(teacher_logits.float(), dim=-1)

    # Eq. 3: position t scores the student's token t against p_T(. | y_<t, x).
    token_energy = -(p2.float() * log_probs[:, :-1]).sum(-1) * target_mask
    # ... and the step after the last real token scores </s>.
    eos_log_prob = log_probs.gather(1, lengths.view(-1, 1, 1).expand(-1, 1, log_probs.shape[-1]))[:, 0, eos_id]
    per_sequence = token_energy.sum(-1) - eos_log_prob
    num_tokens = lengths + 1
    return EnergyOutput(
        energy=per_sequence.sum() / num_tokens.sum(),
        sequence_energy=per_sequence / num_tokens,
        num_tokens=num_tokens,
    )


def discrete_energy(
    teacher: PreTrainedModel,
    student_logits: torch.Tensor,
    target_mask: torch.Tensor,
    input_ids: torch.LongTensor,
    attention_mask: torch.Tensor,
    teacher_encoder_outputs: BaseModelOutput | None = None,
) -> EnergyOutput:
    """The energy of the student's argmax output (one-hot O1 and O2): the paper's model-selection criterion."""
    with torch.no_grad():
        return energy(
            teacher, student_logits, target_mask, input_ids, attention_mask, "stl", "stl",
            teacher_encoder_outputs=teacher_encoder_outputs,
        )


__all__ = ["EnergyOutput", "discrete_energy", "energy"]
