"""How users reach a trained model: the nat-translation pipeline and the engine-hf CLI, bad input included."""

from __future__ import annotations

import io
import logging

import pytest
import torch
from conftest import tiny_cmlm_config, tiny_marian
from transformers import pipeline

import engine_hf  # noqa: F401  (registers the task)
from engine_hf import CMLMForConditionalGeneration
from engine_hf.cli import main


@pytest.fixture(scope="module")
def model_dir(tokenizer, tmp_path_factory):
    path = tmp_path_factory.mktemp("cmlm")
    torch.manual_seed(0)
    CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer, max_source_positions=16)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_pipeline_translates_batches_and_returns_translation_text(model_dir):
    translate = pipeline("nat-translation", model=str(model_dir))
    out = translate(["Im Anfang schuf Gott", "", "Und Gott sprach"], num_iterations=2, length_beam=2, batch_size=2)
    assert [set(row) for row in out] == [{"translation_text"}] * 3
    assert out[1]["translation_text"] == ""  # an empty source gives an empty translation
    single = translate("Im Anfang schuf Gott", num_iterations=2, length_beam=2)
    assert single == [out[0]]  # batching does not change a sentence's translation


def test_pipeline_truncates_overlong_sources_with_a_warning(model_dir, caplog):
    translate = pipeline("nat-translation", model=str(model_dir))
    with caplog.at_level(logging.WARNING):
        out = translate(" ".join(["Gott"] * 40))
    assert "truncated" in caplog.text and len(out) == 1


def test_pipeline_refuses_unknown_settings(model_dir):
    translate = pipeline("nat-translation", model=str(model_dir))
    with pytest.raises(ValueError, match="temperature"):
        translate("Gott", temperature=0.5)


def test_cli_translate_reads_stdin_and_writes_one_line_per_source(model_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("Im Anfang\nUnd Gott sprach\n"))
    assert main(["translate", "--model", str(model_dir), "--num_iterations", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train-energy", "--output_dir", "x", "--teacher_model", "t", "--o1", "softmax"], "Unknown operator 'softmax'"),
        (["translate", "--model", "./no/such/model"], "--model './no/such/model' does not exist"),
        (["evaluate", "--model", "/no/such", "--corpus", "bible"], "does not exist"),
        (["frobnicate"], "unknown command 'frobnicate'"),
    ],
)
def test_cli_bad_input_exits_non_zero_with_one_clear_line(argv, message, capsys):
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_cli_refuses_a_teacher_that_is_not_a_seq2seq_model(tmp_path, capsys):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(tmp_path / "bert")
    code = main(["train-energy", "--output_dir", str(tmp_path / "out"), "--teacher_model", str(tmp_path / "bert"),
                 "--use_cpu", "--do_train"])
    assert code != 0
    assert "Could not load the teacher" in capsys.readouterr().err


def test_cli_refuses_a_tokenizer_that_does_not_match_the_model(tokenizer, tmp_path, capsys):
    small = CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer, vocab_size=100, pad_token_id=0, eos_token_id=1))
    small.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)  # 600 tokens, the model embeds 100
    assert main(["translate", "--model", str(tmp_path), "--input", str(tmp_path / "config.json")]) != 0
    assert "do not belong together" in capsys.readouterr().err


def test_cli_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("prepare-data", "convert-bergamot", "train-teacher", "train-cmlm", "distill", "train-energy",
                    "translate", "evaluate"):
        assert command in out


def test_teacher_energy_of_outputs_matches_the_labels_path(tokenizer):
    from engine_hf import teacher_energy_of_outputs

    teacher = tiny_marian(tokenizer).eval()
    src = tokenizer(["Im Anfang", "Und Gott sprach zu ihm"], return_tensors="pt", padding=True)
    outputs = torch.tensor([[20, 21, 22, tokenizer.eos_token_id], [23, 24, tokenizer.pad_token_id, tokenizer.pad_token_id]])
    got = teacher_energy_of_outputs(teacher, src.input_ids, src.attention_mask, outputs, tokenizer.pad_token_id)
    labels = torch.tensor([[20, 21, 22, tokenizer.eos_token_id], [23, 24, tokenizer.eos_token_id, -100]])
    with torch.no_grad():
        logits = teacher(**src, labels=labels).logits
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, reduction="none", ignore_index=-100)
    torch.testing.assert_close(got, nll.sum(-1) / labels.ne(-100).sum(-1))


def test_reference_energy_is_the_teachers_label_loss_and_decode_scores_each_output(tokenizer, model_dir):
    """The ranking benchmark compares a reference's energy with an output's, sentence by sentence: both must be the
    teacher's per-token -log p of that target (its `</s>` included), whatever the batch."""
    from engine_hf.inference import decode, load_model, teacher_energy_of_references

    teacher = tiny_marian(tokenizer).eval()
    sources, references = ["Im Anfang", "Und Gott sprach zu ihm", "Gott"], ["In the beginning", "And God said", "God"]
    got = teacher_energy_of_references(teacher, tokenizer, sources, references, batch_size=2)
    for source, reference, energy in zip(sources, references, got, strict=True):
        labels = tokenizer(text_target=[reference], return_tensors="pt").input_ids
        with torch.no_grad():
            loss = teacher(**tokenizer([source], return_tensors="pt"), labels=labels).loss
        torch.testing.assert_close(energy, loss, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="3 sources but 2 references"):
        teacher_energy_of_references(teacher, tokenizer, sources, references[:2])

    model, model_tokenizer = load_model(str(model_dir))
    decoded = decode(model, model_tokenizer, sources, teacher, batch_size=2, num_iterations=1, length_beam=2)
    alone = decode(model, model_tokenizer, sources[1:2], teacher, num_iterations=1, length_beam=2)
    assert len(decoded.hypotheses) == len(decoded.token_rows) == decoded.teacher_energy.shape[0] == 3
    assert decoded.hypotheses[1] == alone.hypotheses[0]  # back in source order
    torch.testing.assert_close(decoded.teacher_energy[1], alone.teacher_energy[0], rtol=1e-4, atol=1e-4)
    assert decode(model, model_tokenizer, sources, num_iterations=1).teacher_energy is None

def test_cli_translate_warns_when_it_truncates_a_source(model_dir, monkeypatch, capsys, caplog):
    monkeypatch.setattr("sys.stdin", io.StringIO(" ".join(["Gott"] * 40) + "\nGott\n"))
    with caplog.at_level(logging.WARNING):
        assert main(["translate", "--model", str(model_dir), "--num_iterations", "1"]) == 0
    assert "1 source(s) longer than the model's 16 tokens were truncated" in caplog.text
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_cli_evaluate_scores_the_whole_split_unless_told_otherwise(monkeypatch, capsys):
    seen = []

    def fake_evaluate(model, data_args, **kwargs):
        seen.append(data_args.max_eval_samples)
        return {"sentences": 446, "bleu": 1.0}

    monkeypatch.setattr("engine_hf.inference.evaluate_model", fake_evaluate)
    assert main(["evaluate", "--model", "some-hub-id"]) == 0
    assert "sentences=446" in capsys.readouterr().out
    assert main(["evaluate", "--model", "some-hub-id", "--max_eval_samples", "20"]) == 0
    assert seen == [None, 20]


def test_cli_turns_a_corpus_that_cannot_be_built_into_one_line(monkeypatch, capsys):
    def unreachable(*args, **kwargs):
        raise RuntimeError("Could not fetch the corpus 'x/y' from the hub (offline?). Fix: use a local corpus.")

    monkeypatch.setattr("engine_hf.data.load_corpus", unreachable)
    assert main(["evaluate", "--model", "some-hub-id", "--corpus", "x/y"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Could not fetch the corpus" in err[0]


def test_cli_treats_a_path_under_an_existing_folder_as_local(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert main(["translate", "--model", "runs/engine"]) == 2  # not tried as the hub id "runs/engine"
    assert "--model 'runs/engine' does not exist" in capsys.readouterr().err
