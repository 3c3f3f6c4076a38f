"""The teacher's choice of length, learnt by the length head (`engine_hf.length_choice`)."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_cmlm_config, tiny_marian

from engine_hf import CMLMForConditionalGeneration
from engine_hf.length_choice import (
    fit_length_head,
    head_on,
    length_summaries,
    teacher_chosen_lengths,
    top_length,
)

SOURCES = ["Im Anfang schuf Gott", "Und Gott sprach zu ihm", "Gott", "Und es ward Abend und es ward Morgen"]


@pytest.fixture
def student(tokenizer) -> CMLMForConditionalGeneration:
    torch.manual_seed(0)
    return CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()


@pytest.fixture(scope="module")
def teacher(tokenizer):
    return tiny_marian(tokenizer).eval()


def test_teacher_chosen_lengths_are_what_rescoring_outputs_in_source_order(student, teacher, tokenizer):
    # batch_size 2 with sources of mixed lengths: generate_ids reorders them, the result must not be.
    chosen = teacher_chosen_lengths(student, teacher, tokenizer, SOURCES, length_beam=4, batch_size=2)
    for i, source in enumerate(SOURCES):
        out = student.generate(**tokenizer([source], return_tensors="pt"), length_beam=4, num_iterations=1,
                               rescoring_model=teacher, return_dict_in_generate=True)
        assert chosen[i] == out.lengths[0]
        assert chosen[i] in out.candidate_lengths[0]


def test_fit_length_head_learns_the_targets_and_moves_nothing_else(student, tokenizer):
    targets = torch.tensor([3, 7, 2, 11])
    before = {name: value.clone() for name, value in student.state_dict().items()}
    fit = fit_length_head(student, tokenizer, SOURCES, targets, epochs=300, learning_rate=1e-2, batch_size=2)
    assert fit["agreement_after"] == 1.0 and fit["agreement_before"] < 1.0
    assert torch.equal(top_length(student, length_summaries(student, tokenizer, SOURCES)), targets)
    changed = {name for name, value in student.state_dict().items() if not torch.equal(value, before[name])}
    assert changed == {"length_predictor.proj.weight", "length_predictor.proj.bias"}
    assert not student.training
    # generate() now decodes the fitted length at length beam 1.
    out = student.generate(**tokenizer(SOURCES[:1], return_tensors="pt"), length_beam=1, return_dict_in_generate=True)
    assert out.lengths.tolist() == [3]


def test_head_on_reports_exact_rate_and_offset_per_target(student, tokenizer):
    top = top_length(student, length_summaries(student, tokenizer, SOURCES))
    result = head_on(student, tokenizer, SOURCES, {"same": top, "longer": top + 2})
    assert result == {"same exact": 1.0, "same offset": 0.0, "longer exact": 0.0, "longer offset": -2.0}


@pytest.mark.parametrize(("targets", "problem"), [(torch.tensor([1, 2]), "4 sources but 2"),
                                                   (torch.tensor([0, 1, 2, 3]), "1..max_target_positions=48"),
                                                   (torch.tensor([1, 2, 3, 49]), "1..max_target_positions=48")])
def test_fit_length_head_refuses_bad_targets_before_touching_the_model(student, tokenizer, targets, problem):
    before = student.length_predictor.proj.weight.clone()
    with pytest.raises(ValueError, match=problem):
        fit_length_head(student, tokenizer, SOURCES, targets)
    assert torch.equal(student.length_predictor.proj.weight, before)
