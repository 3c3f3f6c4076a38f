"""The energy (Eq. 2-3) against the teacher's own likelihood, for several HF encoder-decoder families."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    EncoderDecoderConfig,
    EncoderDecoderModel,
    MarianConfig,
    MarianMTModel,
    T5Config,
    T5ForConditionalGeneration,
)

from engine_hf import (
    CMLMForConditionalGeneration,
    check_teacher_compatible,
    discrete_energy,
    energy,
    load_teacher,
)
from engine_hf.operators import OPERATORS

VOCAB = 40


def tiny_teacher(family: str):
    torch.manual_seed(0)
    small = dict(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                 encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64)
    if family == "marian":
        config = MarianConfig(vocab_size=VOCAB, pad_token_id=1, eos_token_id=0, decoder_start_token_id=1,
                              scale_embedding=True, **small)
        return MarianMTModel(config)
    if family == "bart":
        config = BartConfig(vocab_size=VOCAB, pad_token_id=1, eos_token_id=2, bos_token_id=0,
                            decoder_start_token_id=2, scale_embedding=True, **small)
        return BartForConditionalGeneration(config)
    if family == "t5":
        config = T5Config(vocab_size=VOCAB, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                          pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
        return T5ForConditionalGeneration(config)
    if family == "encoder-decoder":
        bert = dict(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=64, pad_token_id=0)
        config = EncoderDecoderConfig.from_encoder_decoder_configs(BertConfig(**bert), BertConfig(**bert))
        model = EncoderDecoderModel(config=config)
        model.config.decoder_start_token_id, model.config.eos_token_id, model.config.pad_token_id = 2, 3, 0
        model.generation_config.decoder_start_token_id, model.generation_config.eos_token_id = 2, 3
        return model
    raise ValueError(family)


def example(teacher):
    eos = teacher.generation_config.eos_token_id if teacher.config.eos_token_id is None else teacher.config.eos_token_id
    pad = teacher.config.pad_token_id
    input_ids = torch.tensor([[5, 6, 7, eos], [8, 9, eos, pad]])
    attention_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    outputs = torch.tensor([[10, 11, 12], [13, 14, 15]])
    target_mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    labels = torch.tensor([[10, 11, 12, eos], [13, 14, eos, -100]])
    return input_ids, attention_mask, outputs, target_mask, labels


@pytest.mark.parametrize("family", ["marian", "bart", "t5", "encoder-decoder"])
def test_one_hot_energy_equals_the_teachers_own_negative_log_likelihood(family):
    teacher = load_teacher(tiny_teacher(family))
    input_ids, attention_mask, outputs, target_mask, labels = example(teacher)
    # A one-hot "distribution" (huge logit gap) is a real token sequence.
    logits = torch.full((2, 3, VOCAB), -1e4).scatter(-1, outputs.unsqueeze(-1), 1e4)
    for o1, o2 in [("stl", "stl"), ("sx", "sx"), ("st", "st")]:
        result = energy(teacher, logits, target_mask, input_ids, attention_mask, o1, o2)
        nll = teacher(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        torch.testing.assert_close(result.energy, nll, atol=1e-5, rtol=1e-5)
    per_token = torch.nn.functional.cross_entropy(
        teacher(input_ids=input_ids, attention_mask=attention_mask, labels=labels).logits.transpose(1, 2),
        labels, reduction="none", ignore_index=-100,
    )
    expected = per_token.sum(-1) / labels.ne(-100).sum(-1)
    torch.testing.assert_close(result.sequence_energy, expected, atol=1e-5, rtol=1e-5)
    assert result.num_tokens.tolist() == [4, 3]


@pytest.mark.parametrize("o1", sorted(OPERATORS))
@pytest.mark.parametrize("o2", sorted(OPERATORS))
def test_every_operator_pair_sends_gradient_to_the_student_and_none_to_the_teacher(o1, o2):
    teacher = load_teacher(tiny_teacher("marian"))
    input_ids, attention_mask, _, target_mask, _ = example(teacher)
    torch.manual_seed(1)
    logits = torch.randn(2, 3, VOCAB, requires_grad=True)
    result = energy(teacher, logits, target_mask, input_ids, attention_mask, o1, o2)
    result.energy.backward()
    assert torch.isfinite(result.energy)
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


def test_gradient_reaches_the_student_through_both_o1_and_o2():
    """With O2 = STL (identity Jacobian) the O2 path alone would give d/dz = -log p_T / N at real positions;
    the actual gradient differs from that by exactly what flows back through the teacher via O1."""
    from engine_hf.teacher import soft_embed

    teacher = load_teacher(tiny_teacher("marian"))
    input_ids, attention_mask, _, target_mask, _ = example(teacher)
    torch.manual_seed(1)
    logits = torch.randn(2, 3, VOCAB, requires_grad=True)
    result = energy(teacher, logits, target_mask, input_ids, attention_mask, "sx", "stl")
    result.energy.backward()
    with torch.no_grad():
        start = torch.nn.functional.one_hot(torch.full((2, 1), 1), VOCAB).float()
        embeds = torch.cat([soft_embed(teacher, start), soft_embed(teacher, logits.softmax(-1))], 1)
        log_probs = teacher(input_ids=input_ids, attention_mask=attention_mask, decoder_inputs_embeds=embeds).logits
        log_probs = log_probs.log_softmax(-1)[:, :-1]
    o2_only = -log_probs * target_mask.unsqueeze(-1) / result.num_tokens.sum()
    assert logits.grad[target_mask.bool()].abs().sum() > 0
    assert not torch.allclose(logits.grad, o2_only, atol=1e-6)  # the O1 path adds its own share


def test_discrete_energy_scores_the_argmax_output():
    teacher = load_teacher(tiny_teacher("marian"))
    input_ids, attention_mask, _, target_mask, _ = example(teacher)
    torch.manual_seed(2)
    logits = torch.randn(2, 3, VOCAB)
    tokens = logits.argmax(-1)
    one_hot_logits = torch.full_like(logits, -1e4).scatter(-1, tokens.unsqueeze(-1), 1e4)
    expected = energy(teacher, one_hot_logits, target_mask, input_ids, attention_mask, "sx", "sx").energy
    torch.testing.assert_close(discrete_energy(teacher, logits, target_mask, input_ids, attention_mask).energy, expected)


def test_a_teacher_with_another_vocabulary_is_refused_with_the_fix():
    from engine_hf import CMLMConfig

    teacher = load_teacher(tiny_teacher("marian"))
    student = CMLMForConditionalGeneration(CMLMConfig(vocab_size=VOCAB + 5, d_model=16, encoder_layers=1,
                                                      decoder_layers=1, encoder_attention_heads=2,
                                                      decoder_attention_heads=2))
    with pytest.raises(ValueError, match=r"Vocabulary mismatch.*from_teacher"):
        check_teacher_compatible(teacher, student.config)


def test_teachers_that_cannot_serve_are_refused():
    from transformers import BertConfig, BertModel

    with pytest.raises(ValueError, match="not an encoder-decoder"):
        load_teacher(BertModel(BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1,
                                          num_attention_heads=2, intermediate_size=32)))

    class NoEmbedsTeacher(MarianMTModel):
        def forward(self, input_ids=None, attention_mask=None, labels=None):  # no decoder_inputs_embeds
            return super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels)

    with pytest.raises(ValueError, match="decoder_inputs_embeds"):
        load_teacher(NoEmbedsTeacher(tiny_teacher("marian").config))
    with pytest.raises(ValueError, match="Could not load the teacher"):
        load_teacher("/nonexistent/teacher")


def test_from_teacher_copies_a_marian_encoder_exactly():
    teacher = load_teacher(tiny_teacher("marian"))
    student = CMLMForConditionalGeneration.from_teacher(
        teacher, length_prediction="mean_pool", decoder_layers=1, max_source_positions=32, max_target_positions=16,
        dropout=0.0,
    ).eval()
    input_ids, attention_mask, *_ = example(teacher)
    with torch.no_grad():
        expected = teacher.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        actual = student.get_encoder()(input_ids, attention_mask).last_hidden_state
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(student.final_logits_bias, teacher.final_logits_bias.view(-1))
    assert student.config.vocab_size == VOCAB and student.config.mask_token_id == VOCAB


def test_o1_temperature_divides_the_logits_o1_reads_and_its_limit_is_the_discrete_energy():
    teacher = load_teacher(tiny_teacher("marian"))
    input_ids, attention_mask, _, target_mask, _ = example(teacher)
    torch.manual_seed(3)
    logits = torch.randn(2, 3, VOCAB) * 2
    args = (teacher, logits, target_mask, input_ids, attention_mask, "sx", "st")
    torch.testing.assert_close(energy(*args, o1_temperature=1.0).energy, energy(*args).energy)
    # O1 alone reads z / T: the same as feeding sx the scaled logits while O2 = ST keeps the unscaled argmax.
    halved = energy(*args, o1_temperature=0.5).energy
    assert not torch.allclose(halved, energy(*args).energy)
    # As T -> 0 the teacher reads the argmax tokens, and ST scores them: the relaxed energy becomes the discrete one.
    torch.testing.assert_close(energy(*args, o1_temperature=1e-4).energy,
                               discrete_energy(teacher, logits, target_mask, input_ids, attention_mask).energy)


def test_o1_temperature_must_be_positive():
    from engine_hf import EnergyTrainingArguments

    with pytest.raises(ValueError, match="o1_temperature=0.*> 0"):
        EnergyTrainingArguments(output_dir="unused", o1_temperature=0.0, use_cpu=True, report_to=[])


def test_minimize_energy_descends_the_relaxed_energy_and_keeps_checkpoints():
    from engine_hf import minimize_energy

    teacher = load_teacher(tiny_teacher("marian"))
    input_ids, attention_mask, _, target_mask, _ = example(teacher)
    torch.manual_seed(4)
    logits = torch.randn(2, 3, VOCAB)
    logits[..., 7] = float("-inf")  # an id the student never emits
    found = minimize_energy(teacher, logits, target_mask, input_ids, attention_mask, steps=20, learning_rate=0.1,
                            checkpoints=(0, 5))
    assert sorted(found) == [0, 5, 20]
    torch.testing.assert_close(found[0], logits)  # step 0 is the start, untouched
    relaxed = [energy(teacher, found[step], target_mask, input_ids, attention_mask, "sx", "st").energy.item()
               for step in (0, 5, 20)]
    assert relaxed[0] > relaxed[1] > relaxed[2]
    assert torch.isinf(found[20][..., 7]).all()  # never-emitted ids stay out of reach
    assert all(p.grad is None for p in teacher.parameters())
    assert logits.grad is None  # the caller's tensor is not touched


def test_minimize_energy_refuses_a_teacher_in_training_mode_and_negative_steps():
    from engine_hf import minimize_energy

    teacher = load_teacher(tiny_teacher("marian"))
    input_ids, attention_mask, _, target_mask, _ = example(teacher)
    logits = torch.randn(2, 3, VOCAB)
    with pytest.raises(ValueError, match="steps=-1"):
        minimize_energy(teacher, logits, target_mask, input_ids, attention_mask, steps=-1)
    with pytest.raises(ValueError, match=r"teacher.eval\(\)"):
        minimize_energy(teacher.train(), logits, target_mask, input_ids, attention_mask, steps=1)
