"""The five operators of ENGINE (Tu et al., 2020, Table 1) that turn student logits z into distributions.

O1 chooses what is fed to the teacher's decoder (as a soft embedding), O2 what is scored against the teacher's
log-probabilities. Each operator is a forward value plus an (approximate) Jacobian dO/dz; the straight-through
ones are written as `forward_value - surrogate.detach() + surrogate`, whose gradient is the surrogate's.

| name | forward                          | Jacobian dO/dz used in the backward pass |
|------|----------------------------------|------------------------------------------|
| sx   | softmax(z)                       | d softmax(z) / dz                        |
| stl  | onehot(argmax z)                 | identity (the upstream gradient, unchanged) |
| sg   | onehot(argmax softmax(z + g))    | d softmax((z + g)/tau) / dz              |
| st   | onehot(argmax z)                 | d softmax(z) / dz                        |
| gx   | softmax((z + g)/tau)             | d softmax((z + g)/tau) / dz              |

g is Gumbel(0, 1) noise. Logits of never-emitted ids may be -inf: every operator gives them zero mass.

softmax(z) here zeroes the probabilities of logits more than 75 below the row's maximum (e^-75 ~ 3e-33 of its
weight): left alone they are subnormal floats, which CPUs without flush-to-zero process about 100x slower, and a
sharpened O1 (`o1_temperature` < 1) makes most of the vocabulary subnormal. Energies are unchanged in float32.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

Operator = Callable[[torch.Tensor, float], torch.Tensor]


SUBNORMAL_MARGIN = 75.0


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    """softmax(z) without subnormal probabilities (see the module docstring); gradients as the softmax's."""
    floor = logits.detach().amax(-1, keepdim=True) - SUBNORMAL_MARGIN
    return logits.masked_fill(logits < floor, float("-inf")).softmax(-1)


def _one_hot_argmax(scores: torch.Tensor) -> torch.Tensor:
    return F.one_hot(scores.argmax(-1), scores.shape[-1]).to(scores.dtype)


def sx(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """SX: softmax; its own Jacobian."""
    return _softmax(logits)


def stl(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """STL: one-hot argmax forward, identity Jacobian (straight-through *logits*)."""
    # -inf logits would make `z - z.detach()` NaN; their gradient is irrelevant (they never win the argmax).
    surrogate = torch.where(torch.isfinite(logits), logits, torch.zeros_like(logits))
    return _one_hot_argmax(logits) + surrogate - surrogate.detach()


def st(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """ST: one-hot argmax forward, the softmax's Jacobian (straight-through)."""
    soft = _softmax(logits)
    return _one_hot_argmax(logits) + soft - soft.detach()


def sg(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """SG: one-hot argmax of the Gumbel-perturbed logits forward, the Gumbel-softmax Jacobian."""
    return F.gumbel_softmax(logits, tau=tau, hard=True)


def gx(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """GX: Gumbel-softmax, forward and Jacobian."""
    return F.gumbel_softmax(logits, tau=tau, hard=False)


OPERATORS: dict[str, Operator] = {"sx": sx, "stl": stl, "sg": sg, "st": st, "gx": gx}


def get_operator(name: str) -> Operator:
    """Look an operator up by its name in the paper (case-insensitive)."""
    try:
        return OPERATORS[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown operator {name!r}: choose one of {sorted(OPERATORS)} (Table 1 of the paper).") from None


__all__ = ["OPERATORS", "Operator", "get_operator", "gx", "sg", "st", "stl", "sx"]
