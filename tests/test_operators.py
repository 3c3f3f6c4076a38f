"""Each operator's forward value and (approximate) Jacobian, exactly as in Table 1 of the ENGINE paper."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from engine_hf.operators import OPERATORS, get_operator


def softmax_vjp(probs: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    """g^T d softmax / dz = p * (g - <p, g>): the softmax Jacobian applied to an upstream gradient."""
    return probs * (upstream - (probs * upstream).sum(-1, keepdim=True))


@pytest.fixture
def logits_and_upstream():
    torch.manual_seed(0)
    return torch.randn(3, 5, 11), torch.randn(3, 5, 11)


def run(name: str, logits: torch.Tensor, upstream: torch.Tensor, tau: float = 1.0, seed: int = 7):
    z = logits.clone().requires_grad_(True)
    torch.manual_seed(seed)
    out = get_operator(name)(z, tau)
    out.backward(upstream)
    return out.detach(), z.grad


def one_hot_argmax(scores: torch.Tensor) -> torch.Tensor:
    return F.one_hot(scores.argmax(-1), scores.shape[-1]).float()


def test_sx_is_softmax_with_its_own_jacobian(logits_and_upstream):
    logits, upstream = logits_and_upstream
    out, grad = run("sx", logits, upstream)
    probs = logits.softmax(-1)
    torch.testing.assert_close(out, probs)
    torch.testing.assert_close(grad, softmax_vjp(probs, upstream))


def test_stl_is_one_hot_argmax_with_identity_jacobian(logits_and_upstream):
    logits, upstream = logits_and_upstream
    out, grad = run("stl", logits, upstream)
    torch.testing.assert_close(out, one_hot_argmax(logits))
    torch.testing.assert_close(grad, upstream)  # the upstream gradient, unchanged


def test_st_is_one_hot_argmax_with_the_softmax_jacobian(logits_and_upstream):
    logits, upstream = logits_and_upstream
    out, grad = run("st", logits, upstream)
    torch.testing.assert_close(out, one_hot_argmax(logits))
    torch.testing.assert_close(grad, softmax_vjp(logits.softmax(-1), upstream))


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_gx_is_gumbel_softmax_with_its_jacobian(logits_and_upstream, tau):
    logits, upstream = logits_and_upstream
    out, grad = run("gx", logits, upstream, tau=tau)
    torch.manual_seed(7)  # the same noise draw
    soft = F.gumbel_softmax(logits, tau=tau, hard=False)
    torch.testing.assert_close(out, soft)
    torch.testing.assert_close(grad, softmax_vjp(soft, upstream) / tau)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_sg_is_one_hot_of_the_gumbel_argmax_with_the_gumbel_softmax_jacobian(logits_and_upstream, tau):
    logits, upstream = logits_and_upstream
    out, grad = run("sg", logits, upstream, tau=tau)
    torch.manual_seed(7)
    soft = F.gumbel_softmax(logits, tau=tau, hard=False)
    torch.testing.assert_close(out, one_hot_argmax(soft))
    torch.testing.assert_close(grad, softmax_vjp(soft, upstream) / tau)
    assert not torch.equal(out, one_hot_argmax(logits))  # the noise does change some argmaxes


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_never_emitted_ids_get_no_mass_and_gradients_stay_finite(name, logits_and_upstream):
    logits, upstream = logits_and_upstream
    logits = logits.clone()
    logits[..., :2] = float("-inf")
    out, grad = run(name, logits, upstream)
    assert (out[..., :2] == 0).all()
    torch.testing.assert_close(out.sum(-1), torch.ones(3, 5))
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("name", ["sx", "st"])
def test_sharp_logits_give_no_subnormal_probabilities_and_the_same_values_and_gradients(name):
    """A sharpened O1 (logits / 0.25) spans hundreds of nats: plain softmax leaves most of the row subnormal."""
    torch.manual_seed(0)
    logits, upstream = 40 * torch.randn(2, 3, 257), torch.randn(2, 3, 257)
    plain = logits.softmax(-1)
    assert ((plain > 0) & (plain < torch.finfo(plain.dtype).tiny)).any()  # the case the guard is for
    out, grad = run(name, logits, upstream)
    soft = run("sx", logits, upstream)[0]
    assert not ((soft > 0) & (soft < torch.finfo(soft.dtype).tiny)).any()
    torch.testing.assert_close(soft, plain, atol=1e-30, rtol=0)
    torch.testing.assert_close(grad, softmax_vjp(plain, upstream))


def test_unknown_operator_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown operator 'softmax'.*\['gx', 'sg', 'st', 'stl', 'sx'\]"):
        get_operator("softmax")
    assert get_operator("SX") is OPERATORS["sx"]
