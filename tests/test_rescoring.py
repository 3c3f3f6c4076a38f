"""Teacher rescoring of the length candidates: `generate(rescoring_model=teacher)`, the pipeline and the CLI."""

from __future__ import annotations

import io

import pytest
import torch
from conftest import FIXTURES, tiny_cmlm_config, tiny_marian
from transformers import pipeline

import engine_hf  # noqa: F401  (registers the task)
from engine_hf import CMLMForConditionalGeneration, teacher_energy_of_outputs
from engine_hf.cli import main
from engine_hf.inference import evaluate_model, generation_kwargs

SOURCES = ["Im Anfang schuf Gott", "Und Gott sprach zu ihm", "Gott"]


@pytest.fixture(scope="module")
def student(tokenizer) -> CMLMForConditionalGeneration:
    torch.manual_seed(0)
    return CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()


@pytest.fixture(scope="module")
def teacher(tokenizer):
    return tiny_marian(tokenizer).eval()


@pytest.fixture(scope="module")
def saved(student, teacher, tokenizer, tmp_path_factory):
    """The student and the teacher as folders, each with the shared tokenizer (what the CLI loads)."""
    root = tmp_path_factory.mktemp("rescoring")
    for name, model in (("student", student), ("teacher", teacher)):
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return root


@pytest.mark.parametrize("num_iterations", [1, 3])
def test_rescoring_picks_the_length_candidate_with_the_lowest_teacher_energy(student, teacher, tokenizer,
                                                                             num_iterations):
    batch = tokenizer(SOURCES, return_tensors="pt", padding=True)
    out = student.generate(**batch, length_beam=4, num_iterations=num_iterations, rescoring_model=teacher,
                           return_dict_in_generate=True)
    for i in range(len(SOURCES)):
        row = {key: value[i : i + 1] for key, value in batch.items()}
        energies, decoded = [], []
        for length in out.candidate_lengths[i]:
            # A candidate decodes independently of the others, so decoding its length alone reproduces it.
            ids = student.generate(**row, target_lengths=length.view(1), num_iterations=num_iterations)
            decoded.append(ids[0])
            energies.append(teacher_energy_of_outputs(teacher, row["input_ids"], row["attention_mask"], ids,
                                                      tokenizer.pad_token_id)[0])
        torch.testing.assert_close(out.candidate_scores[i], -torch.stack(energies), rtol=1e-4, atol=1e-4)
        best = int(torch.stack(energies).argmin())
        assert out.lengths[i] == out.candidate_lengths[i, best]
        assert out.scores[i] == out.candidate_scores[i].max()
        length = int(out.lengths[i])
        assert torch.equal(out.sequences[i, : length + 1], decoded[best][: length + 1])


def test_rescoring_changes_only_which_candidate_is_chosen(student, teacher, tokenizer):
    batch = tokenizer(SOURCES, return_tensors="pt", padding=True)
    own = student.generate(**batch, length_beam=4, return_dict_in_generate=True)
    rescored = student.generate(**batch, length_beam=4, rescoring_model=teacher, return_dict_in_generate=True)
    assert torch.equal(own.candidate_lengths, rescored.candidate_lengths)
    assert not torch.equal(own.candidate_scores, rescored.candidate_scores)
    # Scoring a few candidates at a time (to bound the teacher's logits) gives the same scores as all at once.
    tokens = torch.randint(4, len(tokenizer), (6, 5))
    lengths = torch.tensor([5, 3, 1, 4, 2, 5])
    source = {key: value.repeat_interleave(2, dim=0) for key, value in batch.items()}
    whole = student._rescoring_scores(teacher, batch["input_ids"], batch["attention_mask"], tokens, lengths)
    chunked = student._rescoring_scores(teacher, batch["input_ids"], batch["attention_mask"], tokens, lengths,
                                        chunk_size=4)
    torch.testing.assert_close(whole, chunked, rtol=1e-5, atol=1e-5)
    alone = teacher_energy_of_outputs(teacher, source["input_ids"], source["attention_mask"],
                                      student._finalise(tokens, lengths), tokenizer.pad_token_id)
    torch.testing.assert_close(whole, -alone, rtol=1e-5, atol=1e-5)


def test_rescoring_keeps_empty_sources_empty_and_refuses_another_vocabulary(student, teacher, tokenizer):
    eos = tokenizer.eos_token_id
    batch = tokenizer(["", "Gott"], return_tensors="pt", padding=True)
    out = student.generate(**batch, length_beam=3, rescoring_model=teacher, return_dict_in_generate=True)
    assert out.lengths[0] == 0 and out.sequences[0, 0] == eos
    assert out.lengths[1] > 0
    other = tiny_marian(tokenizer, vocab_size=len(tokenizer) + 8).eval()
    with pytest.raises(ValueError, match="Vocabulary mismatch"):
        student.generate(**batch, rescoring_model=other)
    with pytest.raises(ValueError, match="this model is autoregressive"):
        generation_kwargs(teacher, None, None, 1, rescoring_model=teacher)
    noisy = tiny_marian(tokenizer, dropout=0.3).train()  # dropout would make the choice random
    with pytest.raises(ValueError, match=r"training mode.*rescoring_model.eval\(\)"):
        student.generate(**batch, rescoring_model=noisy)


def test_pipeline_and_cli_pass_the_rescoring_model_through(saved, student, teacher, tokenizer, monkeypatch, capsys):
    translate = pipeline("nat-translation", model=str(saved / "student"))
    got = [row["translation_text"] for row in translate(SOURCES, length_beam=4, rescoring_model=teacher)]
    expected = tokenizer.batch_decode(
        student.generate(**tokenizer(SOURCES, return_tensors="pt", padding=True), length_beam=4,
                         rescoring_model=teacher),
        skip_special_tokens=True,
    )
    assert got == expected
    assert got != [row["translation_text"] for row in translate(SOURCES, length_beam=4)]  # the teacher chose
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(SOURCES) + "\n"))
    argv = ["translate", "--model", str(saved / "student"), "--length_beam", "4",
            "--rescoring_model", str(saved / "teacher")]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == expected
    assert main(["translate", "--model", str(saved / "student"), "--rescoring_model", "./no/such/teacher"]) != 0
    assert "--rescoring_model './no/such/teacher' does not exist" in capsys.readouterr().err


def test_evaluate_with_rescoring_lowers_the_teacher_energy_of_the_outputs(saved):
    """Rescoring chooses, per source, the candidate of lowest energy among those the student's own choice is one
    of: the corpus mean energy can only go down, and does whenever some choice changes."""
    from engine_hf.training import DataArguments

    data = DataArguments(corpus=str(FIXTURES / "bible_de_en.jsonl"), src_lang="de", tgt_lang="en",
                         max_eval_samples=12)
    kwargs = dict(split="test", teacher_model=str(saved / "teacher"), num_iterations=1, length_beam=4)
    own = evaluate_model(str(saved / "student"), data, **kwargs)
    rescored = evaluate_model(str(saved / "student"), data, rescoring_model=str(saved / "teacher"), **kwargs)
    assert rescored["sentences"] == own["sentences"] == 12
    assert rescored["teacher_energy"] < own["teacher_energy"]  # strictly: here the choices differ
