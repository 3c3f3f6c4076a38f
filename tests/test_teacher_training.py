"""A tiny MarianMT teacher trained end to end on the real verse fixture: the saved folder must be a normal
transformers model that ENGINE can use as a frozen teacher (reloadable, soft decoder inputs accepted)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import FIXTURES
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, Seq2SeqTrainingArguments

from engine_hf.teacher_training import TeacherTrainingArguments, train_teacher, train_teacher_main
from engine_hf.training import DataArguments

TINY = dict(
    vocab_size=400, d_model=32, encoder_layers=1, decoder_layers=1, attention_heads=4, ffn_dim=64,
    max_new_tokens=12, generation_batch_size=32, max_test_samples=8,
)


def _args(output_dir, max_steps: int = 4) -> Seq2SeqTrainingArguments:
    return Seq2SeqTrainingArguments(
        output_dir=str(output_dir), max_steps=max_steps, per_device_train_batch_size=16, learning_rate=3e-3,
        save_strategy="steps", save_steps=2, report_to="none", disable_tqdm=True, use_cpu=True,
        dataloader_pin_memory=False, train_sampling_strategy="group_by_length", seed=0,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("teacher")
    data = DataArguments(corpus=str(FIXTURES / "bible_de_en.jsonl"), src_lang="de", tgt_lang="en")
    metrics = train_teacher(data, TeacherTrainingArguments(**TINY), _args(output_dir))
    return output_dir, metrics


def test_metrics_report_greedy_and_beam_scores(trained):
    output_dir, metrics = trained
    for key in ("test_greedy_bleu", "test_greedy_chrf", "test_beam4_bleu", "test_beam4_chrf"):
        assert isinstance(metrics[key], float) and 0.0 <= metrics[key] <= 100.0
    assert metrics["global_step"] == 4 and metrics["test_samples"] == 8
    assert json.loads((output_dir / "teacher_metrics.json").read_text())["test_greedy_bleu"] == metrics["test_greedy_bleu"]
    assert len((output_dir / "test_beam4.txt").read_text().splitlines()) == 8


def test_saved_folder_reloads_as_marian_with_special_tokens(trained):
    output_dir, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(output_dir).eval()
    assert model.config.model_type == "marian"
    assert model.config.scale_embedding and model.config.tie_word_embeddings
    for attr, token, index in (("pad", "<pad>", 0), ("eos", "</s>", 1), ("unk", "<unk>", 2), ("mask", "<mask>", 3)):
        assert getattr(tokenizer, f"{attr}_token") == token
        assert tokenizer.convert_tokens_to_ids(token) == index
    assert tokenizer("Im Anfang")["input_ids"][-1] == tokenizer.eos_token_id
    generation = model.generation_config
    assert generation.decoder_start_token_id == tokenizer.pad_token_id == model.config.decoder_start_token_id
    assert generation.num_beams == 1 and generation.max_new_tokens == 12
    # The shared embedding is the output layer (Marian ties all three).
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    out = model.generate(**tokenizer(["Im Anfang schuf Gott die Himmel."], return_tensors="pt"))
    assert out[0, 0].item() == tokenizer.pad_token_id and out.shape[1] <= 1 + 12


def test_decoder_accepts_soft_inputs(trained):
    """ENGINE feeds the teacher's decoder soft embeddings (probabilities @ embedding matrix): one-hot inputs must
    give exactly the logits of the token ids."""
    output_dir, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(output_dir).eval()
    batch = tokenizer(["Und Gott sah das Licht."], return_tensors="pt")
    decoder_ids = torch.tensor([[tokenizer.pad_token_id, 5, 6, 7]])
    weight = model.get_input_embeddings().weight
    soft = torch.nn.functional.one_hot(decoder_ids, weight.shape[0]).float() @ weight
    with torch.no_grad():
        by_ids = model(**batch, decoder_input_ids=decoder_ids).logits
        by_embeds = model(**batch, decoder_inputs_embeds=soft).logits
    torch.testing.assert_close(by_embeds, by_ids, rtol=1e-4, atol=1e-4)


def test_rerun_resumes_and_reuses_tokenizer(trained):
    """A rerun with a higher max_steps continues from the last checkpoint with the saved vocabulary."""
    output_dir, _ = trained
    vocab_before = (output_dir / "tokenizer.json").read_text()
    argv = [
        "--corpus", str(FIXTURES / "bible_de_en.jsonl"), "--src_lang", "de", "--tgt_lang", "en",
        "--output_dir", str(output_dir), "--max_steps", "5", "--per_device_train_batch_size", "16",
        "--save_strategy", "no", "--report_to", "none", "--disable_tqdm", "true", "--use_cpu", "true",
        "--eval_beams", "1", *[f"--{k}={v}" for k, v in TINY.items()],
    ]
    assert train_teacher_main(argv) == 0
    metrics = json.loads((output_dir / "teacher_metrics.json").read_text())
    assert metrics["resumed_from"].endswith("checkpoint-4") and metrics["global_step"] == 5
    assert "test_beam4_bleu" not in metrics
    assert (output_dir / "tokenizer.json").read_text() == vocab_before
