"""Inference by gradient descent on the energy: the slow search that ENGINE's inference network amortises.

Inference networks (Tu & Gimpel, 2018) were proposed to replace test-time minimisation of a structured energy by
gradient descent on the output (as in structured prediction energy networks, Belanger & McCallum, 2016). Here that
search is run directly: a student's logits for one batch of sentences become free parameters, and Adam lowers the
teacher's energy (`engine_hf.energy.energy`, Eq. 2-3) through the same operators ENGINE trains with. No student
parameter moves, so the result says whether the energy and the operators point towards better outputs at all,
apart from whether a network trained on them learns to follow. It costs one teacher forward and backward pass per
step, far more than the teacher's own greedy decoding: a diagnostic, not a decoder.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from .energy import energy


def minimize_energy(
    teacher: PreTrainedModel,
    logits: torch.Tensor,
    target_mask: torch.Tensor,
    input_ids: torch.LongTensor,
    attention_mask: torch.Tensor,
    steps: int,
    learning_rate: float = 0.05,
    o1: str = "sx",
    o2: str = "st",
    o1_temperature: float = 1.0,
    checkpoints: tuple[int, ...] = (),
) -> dict[int, torch.Tensor]:
    """Adam on the logits themselves for `steps` steps against the relaxed energy `energy(..., o1, o2)`.

    Args:
        teacher: The frozen teacher (eval mode); its parameters get no gradient.
        logits: (batch, L, vocab) starting logits, e.g. a CMLM's one parallel pass; `-inf` entries stay `-inf`.
        target_mask / input_ids / attention_mask: As for `energy`.
        steps: Number of Adam steps.
        learning_rate: Adam's step size, in logit units (logits of a trained CMLM span about 10-20).
        o1 / o2 / o1_temperature: The energy's operators and O1's temperature, as in ENGINE's training.
        checkpoints: Steps (besides the last) at which to keep a copy of the logits; 0 is the start.

    Returns:
        Step -> detached logits at that step (the argmax of each is an output to score).
    """
    if steps < 0:
        raise ValueError(f"steps={steps}: the number of descent steps cannot be negative.")
    if teacher.training:
        raise ValueError("minimize_energy needs the teacher in eval mode (teacher.eval()): dropout would make the "
                         "energy it descends random.")
    with torch.no_grad():
        encoded = teacher.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    variable = logits.detach().clone().float().requires_grad_(True)
    optimizer = torch.optim.Adam([variable], lr=learning_rate)
    kept = {0: variable.detach().clone()} if 0 in checkpoints else {}
    for step in range(1, steps + 1):
        optimizer.zero_grad(set_to_none=True)
        loss = energy(teacher, variable, target_mask, input_ids, attention_mask, o1, o2,
                      teacher_encoder_outputs=encoded, o1_temperature=o1_temperature).energy
        loss.backward()
        optimizer.step()
        if step in checkpoints or step == steps:
            kept[step] = variable.detach().clone()
    if steps == 0:
        kept[0] = variable.detach().clone()
    return kept


__all__ = ["minimize_energy"]
