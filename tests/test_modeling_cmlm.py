"""The CMLM inference network: save/load, Auto classes, remote code, attention, generate(), bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import tiny_cmlm_config
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM

from engine_hf import CMLMConfig, CMLMForConditionalGeneration, CMLMModel


def make_model(**overrides) -> CMLMForConditionalGeneration:
    torch.manual_seed(0)
    return CMLMForConditionalGeneration(tiny_cmlm_config(**overrides)).eval()


def batch(model):
    eos, pad = model.config.eos_token_id, model.config.pad_token_id
    input_ids = torch.tensor([[5, 6, 7, 8, eos], [9, 10, eos, pad, pad]])
    attention_mask = input_ids.ne(pad).long()
    return input_ids, attention_mask


def test_save_load_round_trip_gives_identical_logits_and_generations(tmp_path):
    model = make_model()
    input_ids, attention_mask = batch(model)
    decoder_input_ids = torch.full((2, 4), model.config.mask_token_id)
    model.generation_config.num_iterations = 3
    model.save_pretrained(tmp_path)
    loaded = CMLMForConditionalGeneration.from_pretrained(tmp_path).eval()
    assert loaded.generation_config.num_iterations == 3
    with torch.no_grad():
        expected = model(input_ids, attention_mask, decoder_input_ids=decoder_input_ids).logits
        actual = loaded(input_ids, attention_mask, decoder_input_ids=decoder_input_ids).logits
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    assert torch.equal(loaded.generate(input_ids, attention_mask), model.generate(input_ids, attention_mask))
    assert loaded.lm_head.weight.data_ptr() == loaded.model.shared.weight.data_ptr()  # still tied


def test_auto_classes_resolve_the_cmlm(tmp_path):
    model = make_model()
    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), CMLMConfig)
    assert isinstance(AutoModelForSeq2SeqLM.from_pretrained(tmp_path), CMLMForConditionalGeneration)
    assert isinstance(AutoModel.from_config(model.config), CMLMModel)


def test_remote_code_export_loads_in_a_process_without_engine_hf(tmp_path):
    from transformers import MarianConfig, MarianMTModel

    model = make_model()
    input_ids, attention_mask = batch(model)
    model.save_pretrained(tmp_path)
    # Only the model's own code travels: nothing that imports evaluation packages (sacrebleu) a user may lack.
    assert sorted(path.name for path in tmp_path.glob("*.py")) == ["configuration_cmlm.py", "modeling_cmlm.py",
                                                                    "teacher.py"]
    torch.manual_seed(0)
    teacher = MarianMTModel(MarianConfig(vocab_size=60, d_model=16, encoder_layers=1, decoder_layers=1,
                                         encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                                         decoder_ffn_dim=32, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                                         forced_eos_token_id=None)).eval()
    teacher.save_pretrained(tmp_path / "teacher")
    expected = model.generate(input_ids, attention_mask).tolist()
    rescored = model.generate(input_ids, attention_mask, length_beam=3, rescoring_model=teacher).tolist()
    # the teacher chose other candidates than the student would have: the remote code below really rescores
    assert rescored != model.generate(input_ids, attention_mask, length_beam=3).tolist()
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "engine_hf" or name.startswith("engine_hf."):
                    raise ImportError("engine_hf is deliberately unavailable")
        sys.meta_path.insert(0, Block())
        import torch
        from transformers import AutoModelForSeq2SeqLM
        model = AutoModelForSeq2SeqLM.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
        assert "engine_hf" not in sys.modules
        ids = torch.tensor({input_ids.tolist()}); mask = torch.tensor({attention_mask.tolist()})
        print(model.generate(ids, mask).tolist())
        teacher = AutoModelForSeq2SeqLM.from_pretrained({str(tmp_path / "teacher")!r}).eval()
        print(model.generate(ids, mask, length_beam=3, rescoring_model=teacher).tolist())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-2:] == [str(expected), str(rescored)]


def test_a_frozen_encoder_gets_no_gradients_and_stays_without_dropout_under_train():
    """Trainer calls model.train() every step: the frozen encoder must stay a fixed function, or the decoder and the
    length head learn from noised states they never see at inference."""
    model = make_model(dropout=0.5)
    input_ids, attention_mask = batch(model)
    model.freeze_encoder()
    model.eval()
    model.train()  # as the Trainer does
    encoder = model.get_encoder()
    assert model.training and model.get_decoder().training and not encoder.training
    assert not any(p.requires_grad for p in encoder.parameters()) and not model.lm_head.weight.requires_grad
    once = encoder(input_ids, attention_mask)
    again = encoder(input_ids, attention_mask)
    assert torch.equal(once.last_hidden_state, again.last_hidden_state)
    assert torch.equal(once.length_hidden_state, again.length_hidden_state)
    out = model(input_ids, attention_mask, decoder_input_ids=torch.full((2, 4), model.config.mask_token_id),
                target_lengths=torch.tensor([4, 3]))
    out.logits.sum().add(out.length_logits.sum()).backward()
    assert all(p.grad is not None for p in model.get_decoder().layers.parameters())
    assert model.length_predictor.proj.weight.grad is not None

    noisy = make_model(dropout=0.5)
    noisy.freeze_encoder(dropout=True)  # the earlier behaviour: frozen, but dropout on in train mode
    noisy.train()
    assert noisy.get_encoder().training and not any(p.requires_grad for p in noisy.get_encoder().parameters())
    assert not torch.equal(noisy.get_encoder()(input_ids, attention_mask).last_hidden_state,
                           noisy.get_encoder()(input_ids, attention_mask).last_hidden_state)
    unfrozen = make_model(dropout=0.5).train()
    assert unfrozen.frozen_encoder_dropout is None and unfrozen.get_encoder().training


def test_decoder_is_bidirectional():
    model = make_model()
    input_ids, attention_mask = batch(model)
    mask = model.config.mask_token_id
    first = torch.tensor([[mask, mask, mask, 11], [mask, mask, mask, 11]])
    second = first.clone()
    second[:, 3] = 12  # change only the LAST decoder input
    with torch.no_grad():
        a = model(input_ids, attention_mask, decoder_input_ids=first).logits
        b = model(input_ids, attention_mask, decoder_input_ids=second).logits
    assert not torch.allclose(a[:, 0], b[:, 0])  # ... and the FIRST position's prediction moves


@pytest.mark.parametrize("length_prediction", ["token", "mean_pool"])
def test_sdpa_equals_eager_attention(length_prediction):
    torch.manual_seed(0)
    config = tiny_cmlm_config(length_prediction=length_prediction)
    sdpa = CMLMForConditionalGeneration._from_config(config, attn_implementation="sdpa").eval()
    eager = CMLMForConditionalGeneration._from_config(config, attn_implementation="eager").eval()
    eager.load_state_dict(sdpa.state_dict())
    input_ids, attention_mask = batch(sdpa)
    decoder_input_ids = torch.tensor([[60, 13, 60, 14], [60, 60, 15, 0]])
    with torch.no_grad():
        a = sdpa(input_ids, attention_mask, decoder_input_ids=decoder_input_ids)
        b = eager(input_ids, attention_mask, decoder_input_ids=decoder_input_ids)
    torch.testing.assert_close(a.logits, b.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.length_logits, b.length_logits, atol=1e-5, rtol=1e-5)


def test_padding_does_not_change_other_positions():
    model = make_model()
    eos, pad, mask = model.config.eos_token_id, model.config.pad_token_id, model.config.mask_token_id
    short_src = torch.tensor([[9, 10, eos]])
    padded_src = torch.tensor([[9, 10, eos, pad, pad]])
    short_tgt = torch.tensor([[mask, 20, mask]])
    padded_tgt = torch.tensor([[mask, 20, mask, pad, pad]])
    with torch.no_grad():
        a = model(short_src, torch.ones_like(short_src), decoder_input_ids=short_tgt)
        b = model(padded_src, padded_src.ne(pad).long(), decoder_input_ids=padded_tgt)
    torch.testing.assert_close(a.logits, b.logits[:, :3], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.length_logits, b.length_logits, atol=1e-5, rtol=1e-5)


def test_loss_scores_only_masked_positions_plus_weighted_length_loss():
    model = make_model(length_loss_weight=0.5)
    input_ids, attention_mask = batch(model)
    mask = model.config.mask_token_id
    labels = torch.tensor([[20, 21, 22], [23, 24, -100]])
    decoder_input_ids = torch.tensor([[mask, 21, mask], [23, mask, 0]])
    out = model(input_ids, attention_mask, decoder_input_ids=decoder_input_ids, labels=labels)
    log_probs = out.logits.log_softmax(-1)
    expected_token = -(log_probs[0, 0, 20] + log_probs[0, 2, 22] + log_probs[1, 1, 24]) / 3
    expected_length = torch.nn.functional.cross_entropy(out.length_logits, torch.tensor([3, 2]))
    torch.testing.assert_close(out.token_loss, expected_token)
    torch.testing.assert_close(out.loss, expected_token + 0.5 * expected_length)


def test_never_emitted_ids_get_minus_infinity_and_label_smoothing_stays_finite():
    model = make_model(label_smoothing=0.1)
    input_ids, attention_mask = batch(model)
    out = model(input_ids, attention_mask, labels=torch.tensor([[20, 21], [22, 23]]))
    assert torch.isinf(out.logits[..., model.config.never_emitted_token_ids]).all()
    assert torch.isfinite(out.loss)


# --- generate() ---------------------------------------------------------------------------------------------------
def test_generate_never_emits_mask_or_pad_inside_a_sequence():
    model = make_model()
    # Bias the output layer towards the special ids: generate must still never emit them.
    with torch.no_grad():
        model.final_logits_bias[[model.config.pad_token_id, model.config.eos_token_id]] = 100.0
    input_ids, attention_mask = batch(model)
    out = model.generate(input_ids, attention_mask, return_dict_in_generate=True, num_iterations=4, length_beam=3)
    for row, length in zip(out.sequences, out.lengths, strict=True):
        body = row[:length]
        assert not torch.isin(body, torch.tensor([model.config.pad_token_id, model.config.eos_token_id])).any()
        assert (body < model.config.vocab_size).all()  # the mask id is vocab_size: never emitted
        assert row[length] == model.config.eos_token_id


def test_generate_respects_oracle_lengths():
    model = make_model()
    input_ids, attention_mask = batch(model)
    out = model.generate(input_ids, attention_mask, target_lengths=torch.tensor([7, 2]), return_dict_in_generate=True)
    assert out.lengths.tolist() == [7, 2]
    assert out.sequences.shape == (2, 8)
    assert out.sequences[1, 2] == model.config.eos_token_id
    assert (out.sequences[1, 3:] == model.config.pad_token_id).all()


def test_length_beam_picks_the_candidate_with_the_best_mean_log_prob():
    model = make_model()
    input_ids, attention_mask = batch(model)
    out = model.generate(input_ids, attention_mask, length_beam=4, num_iterations=2, return_dict_in_generate=True)
    assert out.candidate_lengths.shape == (2, 4)
    torch.testing.assert_close(out.scores, out.candidate_scores.max(-1).values)
    best = out.candidate_scores.argmax(-1)
    assert out.lengths.tolist() == out.candidate_lengths.gather(1, best[:, None]).squeeze(1).tolist()
    # Each candidate's reported score is the mean log-prob of what decoding that length alone gives.
    for i in range(2):
        for k in range(4):
            single = model.generate(
                input_ids[i : i + 1],
                attention_mask[i : i + 1],
                target_lengths=out.candidate_lengths[i, k : k + 1],
                num_iterations=2,
                return_dict_in_generate=True,
            )
            torch.testing.assert_close(single.scores[0], out.candidate_scores[i, k], atol=1e-5, rtol=1e-5)


def test_mask_predict_refinement_schedule():
    """More iterations do NOT guarantee a higher mean log-prob: mask-predict keeps the *stale* probabilities of
    unmasked tokens, and a re-predicted token is conditioned on a new context, so the score can go either way
    (Ghazvininejad et al. report BLEU, not likelihood, improving). What holds, and is asserted here:
    one iteration equals the argmax of a single all-masked pass, and with T iterations every position whose token
    changed after the first pass was among the re-masked ones: a token is only ever replaced by a re-prediction."""
    model = make_model()
    input_ids, attention_mask = batch(model)
    lengths = torch.tensor([6, 4])
    one = model.generate(input_ids, attention_mask, target_lengths=lengths, num_iterations=1, return_dict_in_generate=True)
    with torch.no_grad():
        logits = model(input_ids, attention_mask, target_lengths=lengths).logits
    expected = logits.argmax(-1)
    for i, length in enumerate(lengths.tolist()):
        assert one.sequences[i, :length].tolist() == expected[i, :length].tolist()
        mean_log_prob = logits[i, :length].log_softmax(-1).max(-1).values.mean()
        torch.testing.assert_close(one.scores[i], mean_log_prob, atol=1e-5, rtol=1e-5)
    many = model.generate(input_ids, attention_mask, target_lengths=lengths, num_iterations=5, return_dict_in_generate=True)
    assert many.lengths.tolist() == lengths.tolist()
    assert torch.isfinite(many.scores).all()


def test_best_tokens_chunked_over_real_positions_equal_the_full_output_layer():
    model = make_model()
    hidden = torch.randn(3, 5, model.config.d_model)
    real = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        full = model.output_logits(hidden).log_softmax(-1).max(-1)
        log_probs, tokens = model._best_tokens(hidden, real, chunk_size=2)  # 8 real positions: 4 chunks
    assert tokens[real].tolist() == full.indices[real].tolist()
    torch.testing.assert_close(log_probs[real], full.values[real])
    assert (tokens[~real] == model.config.pad_token_id).all() and (log_probs[~real] == 0).all()


def test_vocabulary_major_output_layer_equals_the_linear_one_and_falls_back_for_other_layers():
    from engine_hf.benchmark import ShortlistOutputLayer
    from engine_hf.modeling_cmlm import VOCABULARY_MAJOR_MAX_ROWS

    model = make_model()
    model.lm_head.bias = torch.nn.Parameter(torch.randn(model.config.vocab_size))  # a biased head is honoured too
    hidden = torch.randn(2, 7, model.config.d_model)
    with torch.no_grad():
        linear = model.output_logits(hidden)
        major = model.output_logits(hidden, vocabulary_major=True)
        assert major.shape == linear.shape and major.is_contiguous()
        torch.testing.assert_close(major, linear)
        assert torch.isinf(major[..., model.config.never_emitted_token_ids]).all()
        # Few rows (vocabulary-major) and many rows (nn.Linear) give the same tokens.
        many = torch.randn(1, VOCABULARY_MAJOR_MAX_ROWS + 8, model.config.d_model)
        real = torch.ones(many.shape[:2], dtype=torch.bool)
        few_chunks = model._best_tokens(many, real, chunk_size=4)
        one_chunk = model._best_tokens(many, real)
        assert few_chunks[1].tolist() == one_chunk[1].tolist()
        torch.testing.assert_close(few_chunks[0], one_chunk[0])
        model.lm_head = ShortlistOutputLayer(model.lm_head, torch.arange(10))  # not a plain nn.Linear: called as is
        shortlisted = model.output_logits(hidden, vocabulary_major=True)
        assert torch.equal(shortlisted, model.output_logits(hidden))
    assert torch.isinf(shortlisted[..., 10:]).all() and torch.isfinite(shortlisted[..., :10]).sum() > 0


def test_empty_sources_get_empty_translations_in_a_mixed_batch():
    model = make_model()
    eos, pad = model.config.eos_token_id, model.config.pad_token_id
    input_ids = torch.tensor([[5, 6, 7, eos], [eos, pad, pad, pad]])
    out = model.generate(input_ids, input_ids.ne(pad).long(), return_dict_in_generate=True)
    assert out.lengths[1] == 0 and out.sequences[1, 0] == eos
    assert out.lengths[0] > 0


def test_bad_generation_settings_and_overlong_sources_raise_clear_errors():
    model = make_model()
    input_ids, attention_mask = batch(model)
    with pytest.raises(ValueError, match="Unknown generation setting 'temperature'"):
        model.generate(input_ids, attention_mask, temperature=0.7)
    with pytest.raises(ValueError, match="length_beam"):
        model.generate(input_ids, attention_mask, num_beams=4)
    with pytest.raises(ValueError, match="num_iterations"):
        model.generate(input_ids, attention_mask, num_iterations=0)
    with pytest.raises(ValueError, match="deterministic"):
        model.generate(input_ids, attention_mask, do_sample=True)
    assert torch.equal(model.generate(input_ids, attention_mask, do_sample=False, max_new_tokens=3),
                       model.generate(input_ids, attention_mask))  # what Trainer-style callers pass changes nothing
    too_long = torch.ones(1, model.config.max_source_positions + 1, dtype=torch.long)
    with pytest.raises(ValueError, match="truncation=True"):
        model.generate(too_long)
    with pytest.raises(ValueError, match="length_prediction"):
        tiny_cmlm_config(length_prediction="pool")


def test_return_dict_in_generate_comes_from_the_generation_config_unless_given():
    model = make_model()
    input_ids, attention_mask = batch(model)
    assert isinstance(model.generate(input_ids, attention_mask), torch.Tensor)
    model.generation_config.return_dict_in_generate = True
    out = model.generate(input_ids, attention_mask, num_iterations=2)
    assert out.sequences.shape[0] == input_ids.shape[0] and out.lengths.shape == (input_ids.shape[0],)
    assert isinstance(model.generate(input_ids, attention_mask, return_dict_in_generate=False), torch.Tensor)
    # call-time settings never change the model's own config (generate works on a copy)
    model.generate(input_ids, attention_mask, num_iterations=2, length_beam=2)
    assert model.generation_config.num_iterations != 2 and model.generation_config.length_beam != 2
