"""Training for real on the verse fixture: CMLM baseline overfitting, EnergyTrainer behaviour, resumption."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_cmlm_config, tiny_marian
from datasets import Dataset
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, TrainerCallback

from engine_hf import (
    CMLMForConditionalGeneration,
    DataCollatorForCMLM,
    EnergyTrainer,
    EnergyTrainingArguments,
    build_compute_metrics,
)
from engine_hf.training import tokenize_pairs


def translation_dataset(pairs) -> Dataset:
    return Dataset.from_dict({"translation": [{"de": s, "en": t} for s, t in pairs]})


def encode(pairs, tokenizer, config) -> Dataset:
    return tokenize_pairs(
        translation_dataset(pairs), tokenizer, "de", "en", config.max_source_positions, config.max_target_positions
    )


def common_args(tmp_path, **overrides):
    values = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    values.update(overrides)
    return values


@pytest.fixture(scope="module")
def short_pairs(pairs):
    return sorted(pairs, key=lambda p: len(p[1]))[:24]


@pytest.fixture(scope="module")
def teacher(tokenizer, pairs, tmp_path_factory):
    """A tiny Marian teacher fitted to 64 fixture pairs: a poor translator, but a real, peaked conditional model."""
    model = tiny_marian(tokenizer)
    data = translation_dataset(pairs[:64]).map(
        lambda batch: tokenizer(
            [p["de"] for p in batch["translation"]], text_target=[p["en"] for p in batch["translation"]]
        ),
        batched=True,
        remove_columns=["translation"],
    )
    from transformers import DataCollatorForSeq2Seq

    args = Seq2SeqTrainingArguments(**common_args(tmp_path_factory.mktemp("teacher"), learning_rate=3e-3,
                                                  num_train_epochs=40, per_device_train_batch_size=16))
    Seq2SeqTrainer(model=model, args=args, train_dataset=data,
                   data_collator=DataCollatorForSeq2Seq(tokenizer, model=model)).train()
    return model.eval()


def test_collator_masks_between_one_and_all_target_tokens(tokenizer, short_pairs):
    config = tiny_cmlm_config(tokenizer)
    data = encode(short_pairs, tokenizer, config)
    collator = DataCollatorForCMLM.for_model(CMLMForConditionalGeneration(config), generator=torch.Generator().manual_seed(0))
    batch = collator([data[i] for i in range(8)])
    real = batch["labels"].ne(-100)
    masked = batch["decoder_input_ids"].eq(config.mask_token_id)
    assert (masked & ~real).sum() == 0
    assert ((masked.sum(-1) >= 1) & (masked.sum(-1) <= real.sum(-1))).all()
    unmasked = real & ~masked
    assert torch.equal(batch["decoder_input_ids"][unmasked], batch["labels"][unmasked])
    assert (batch["decoder_input_ids"][~real] == config.pad_token_id).all()
    everything = DataCollatorForCMLM.for_model(CMLMForConditionalGeneration(config), mask_all=True)([data[0]])
    assert everything["decoder_input_ids"].eq(config.mask_token_id).all()
    with pytest.raises(ValueError, match="max_target_positions"):
        DataCollatorForCMLM(pad_token_id=0, mask_token_id=600, max_target_positions=2)([data[0]])


def test_tiny_cmlm_overfits_fixture_pairs_until_one_iteration_decoding_reproduces_them(tokenizer, short_pairs, tmp_path):
    torch.manual_seed(0)
    config = tiny_cmlm_config(tokenizer, d_model=64, encoder_ffn_dim=128, decoder_ffn_dim=128, length_loss_weight=1.0)
    model = CMLMForConditionalGeneration(config)
    data = encode(short_pairs, tokenizer, config)
    args = Seq2SeqTrainingArguments(**common_args(
        tmp_path, learning_rate=3e-3, num_train_epochs=150, warmup_steps=20, predict_with_generate=True,
    ))
    trainer = Seq2SeqTrainer(
        model=model, args=args, train_dataset=data, eval_dataset=data,
        data_collator=DataCollatorForCMLM.for_model(model), processing_class=tokenizer,
        compute_metrics=build_compute_metrics(tokenizer),
    )
    trainer.train()
    model.eval()
    metrics = trainer.evaluate(num_iterations=1, length_beam=1)  # Seq2SeqTrainer drives our generate()
    assert metrics["eval_bleu"] > 95, metrics
    batch = tokenizer([s for s, _ in short_pairs], return_tensors="pt", padding=True)
    outputs = tokenizer.batch_decode(model.generate(**batch, num_iterations=1, length_beam=1), skip_special_tokens=True)
    exact = sum(o == tokenizer.decode(tokenizer(t).input_ids, skip_special_tokens=True) for o, (_, t) in zip(outputs, short_pairs, strict=True))
    assert exact >= 22, list(zip(outputs, [t for _, t in short_pairs], strict=True))[:5]


class GradientProbe(TrainerCallback):
    """Records which student parameters had a non-zero gradient before the first optimizer step."""

    def __init__(self, model):
        self.model, self.with_gradient = model, None

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self.with_gradient is None:
            self.with_gradient = {n for n, p in self.model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def energy_trainer(teacher, tokenizer, pairs, tmp_path, student=None, **overrides):
    student = student or CMLMForConditionalGeneration.from_teacher(
        teacher, decoder_layers=1, max_source_positions=64, max_target_positions=64, dropout=0.1,
    )
    data = encode(pairs, tokenizer, student.config)
    values = common_args(tmp_path, learning_rate=1e-3, max_steps=4, o1="sx", o2="st")
    values.update(overrides)
    return EnergyTrainer(
        model=student, args=EnergyTrainingArguments(**values), teacher=teacher, train_dataset=data,
        eval_dataset=data, data_collator=DataCollatorForCMLM.for_model(student, mask_all=True), processing_class=tokenizer,
        compute_metrics=build_compute_metrics(tokenizer),
    )


def test_energy_training_leaves_the_teacher_bit_identical_and_trains_every_student_parameter(
    teacher, tokenizer, pairs, tmp_path
):
    before = {n: p.detach().clone() for n, p in teacher.named_parameters()}
    trainer = energy_trainer(teacher, tokenizer, pairs[:32], tmp_path)
    probe = GradientProbe(trainer.model)
    trainer.add_callback(probe)
    trainer.train()
    assert all(torch.equal(before[n], p) for n, p in teacher.named_parameters())
    assert not any(p.requires_grad for p in teacher.parameters())
    assert teacher not in [group for group in trainer.optimizer.param_groups]
    optimized = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not optimized & {id(p) for p in teacher.parameters()}
    student_names = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert student_names - probe.with_gradient == set()  # the length head learns through the length loss too


class ModeProbe(TrainerCallback):
    """Records (model.training, encoder.training) at the end of each training step."""

    def __init__(self):
        self.seen = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.seen.append((model.training, model.get_encoder().training))


def test_a_student_frozen_by_its_arguments_trains_with_its_encoder_in_eval_mode(teacher, tokenizer, pairs, tmp_path):
    """--freeze_encoder: no gradients and no dropout in the encoder through the Trainer's steps (which call
    model.train()); --frozen_encoder_dropout keeps the dropout, as every benchmark table before `still_encoder`."""
    from engine_hf.training import StudentArguments, build_student

    modes = {}
    for name, extra in (("still", {}), ("noisy", {"frozen_encoder_dropout": True})):
        student = build_student(StudentArguments(student_config="decoder_layers=1,max_target_positions=64,"
                                                 "max_source_positions=64", freeze_encoder=True, **extra), teacher)
        before = {n: p.detach().clone() for n, p in student.get_encoder().named_parameters()}
        trainer = energy_trainer(teacher, tokenizer, pairs[:16], tmp_path / name, student=student, max_steps=2)
        probe = ModeProbe()
        trainer.add_callback(probe)
        trainer.train()
        assert all(torch.equal(before[n], p) for n, p in student.get_encoder().named_parameters())
        modes[name] = set(probe.seen)
    assert modes == {"still": {(True, False)}, "noisy": {(True, True)}}


@pytest.mark.parametrize("o1", ["sx", "stl", "sg", "st", "gx"])
def test_all_25_operator_pairs_run_a_training_step(teacher, tokenizer, pairs, tmp_path, o1):
    for o2 in ["sx", "stl", "sg", "st", "gx"]:
        trainer = energy_trainer(teacher, tokenizer, pairs[:8], tmp_path / o2, o1=o1, o2=o2, max_steps=1)
        loss = trainer.train().training_loss
        assert loss == loss and loss > 0, (o1, o2)  # finite (not NaN) and positive


def test_energy_steps_lower_the_dev_discrete_energy(teacher, tokenizer, pairs, tmp_path):
    trainer = energy_trainer(teacher, tokenizer, pairs[:32], tmp_path, max_steps=30, learning_rate=3e-3,
                             predict_with_generate=False)
    trainer.eval_dataset = encode(pairs[32:64], tokenizer, trainer.model.config)
    before = trainer.evaluate()["eval_loss"]  # the EnergyTrainer's eval loss is the discrete energy
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    assert after < before - 0.1, (before, after)


def test_training_logs_carry_the_parts_of_the_loss(teacher, tokenizer, pairs, tmp_path):
    trainer = energy_trainer(teacher, tokenizer, pairs[:16], tmp_path, max_steps=2, logging_strategy="steps",
                             logging_steps=1, ce_weight=0.5, length_loss_weight=0.1)
    trainer.train()
    lines = [line for line in trainer.state.log_history if "loss" in line and "energy" in line]
    assert len(lines) == 2
    for line in lines:
        assert line["energy"] > 0 and line["ce_loss"] > 0 and line["length_loss"] > 0
    pure = energy_trainer(teacher, tokenizer, pairs[:16], tmp_path / "pure", max_steps=1, logging_strategy="steps",
                          logging_steps=1)
    pure.train()
    assert "ce_loss" not in next(line for line in pure.state.log_history if "energy" in line)


def test_source_only_training_with_predicted_lengths(teacher, tokenizer, pairs, tmp_path):
    trainer = energy_trainer(teacher, tokenizer, pairs[:16], tmp_path, energy_length="predicted", max_steps=2)
    trainer.train_dataset = trainer.train_dataset.remove_columns(["labels"]).map(lambda ex: {"labels": []})
    trainer.data_collator = source_only_collator(trainer.model.config.pad_token_id)
    assert trainer.train().training_loss > 0


def source_only_collator(pad_token_id):
    from torch.nn.utils.rnn import pad_sequence

    def collate(features):
        ids = [torch.tensor(f["input_ids"]) for f in features]
        input_ids = pad_sequence(ids, batch_first=True, padding_value=pad_token_id)
        return {"input_ids": input_ids, "attention_mask": input_ids.ne(pad_token_id).long()}

    return collate


def test_energy_training_resumes_from_a_checkpoint_with_the_same_result(teacher, tokenizer, pairs, tmp_path):
    torch.manual_seed(0)
    initial = CMLMForConditionalGeneration.from_teacher(
        teacher, decoder_layers=1, max_source_positions=64, max_target_positions=64, dropout=0.1
    )
    initial.save_pretrained(tmp_path / "init")
    common = dict(max_steps=6, save_strategy="steps", save_steps=3, o1="sx", o2="gx")

    straight = energy_trainer(teacher, tokenizer, pairs[:64], tmp_path / "a",
                              student=CMLMForConditionalGeneration.from_pretrained(tmp_path / "init"), **common)
    straight.train()

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 4:
                raise KeyboardInterrupt

    killed = energy_trainer(teacher, tokenizer, pairs[:64], tmp_path / "b",
                            student=CMLMForConditionalGeneration.from_pretrained(tmp_path / "init"), **common)
    killed.add_callback(Kill())
    with pytest.raises(KeyboardInterrupt):
        killed.train()
    resumed = energy_trainer(teacher, tokenizer, pairs[:64], tmp_path / "b",
                             student=CMLMForConditionalGeneration.from_pretrained(tmp_path / "init"), **common)
    resumed.train(resume_from_checkpoint=str(tmp_path / "b" / "checkpoint-3"))
    for (name, a), (_, b) in zip(straight.model.named_parameters(), resumed.model.named_parameters(), strict=True):
        assert torch.equal(a, b), (name, (a - b).abs().max().item())


def test_energy_arguments_reject_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="Unknown operator 'softmax'"):
        EnergyTrainingArguments(output_dir=str(tmp_path), o1="softmax", use_cpu=True)
    with pytest.raises(ValueError, match="energy_length"):
        EnergyTrainingArguments(output_dir=str(tmp_path), energy_length="guess", use_cpu=True)
    with pytest.raises(ValueError, match="ce_weight"):
        EnergyTrainingArguments(output_dir=str(tmp_path), ce_weight=0.5, energy_length="predicted", use_cpu=True)
    args = EnergyTrainingArguments(output_dir=str(tmp_path), model_selection="bleu", use_cpu=True)
    assert args.metric_for_best_model == "bleu" and args.greater_is_better


def test_distillation_writes_a_resumable_corpus_that_training_can_read(teacher, tokenizer, pairs, tmp_path):
    from datasets import DatasetDict

    from engine_hf.data import load_corpus
    from engine_hf.training import distill_corpus

    corpus = DatasetDict({
        "train": translation_dataset(pairs[:6]), "validation": translation_dataset(pairs[6:8]),
        "test": translation_dataset(pairs[8:10]),
    })
    out = tmp_path / "kd"
    distill_corpus(teacher, tokenizer, corpus, "de", "en", out, batch_size=4, num_beams=2, max_new_tokens=12)
    lines = (out / "train.jsonl").read_text().splitlines()
    assert len(lines) == 6
    # Killed after the first batch: the rerun only translates what is missing.
    (out / "train.jsonl").write_text("\n".join(lines[:4]) + "\n")
    distill_corpus(teacher, tokenizer, corpus, "de", "en", out, batch_size=4, num_beams=2, max_new_tokens=12)
    assert (out / "train.jsonl").read_text().splitlines() == lines
    batch = tokenizer([s for s, _ in pairs[:6]], return_tensors="pt", padding=True)
    expected = tokenizer.batch_decode(teacher.generate(**batch, num_beams=2, max_new_tokens=12), skip_special_tokens=True)
    import json

    assert [json.loads(line)["translation"]["en"] for line in lines][:4] == expected[:4]
    reread = load_corpus(str(out), "de", "en")
    assert len(reread["validation"]) == 2 and len(reread["test"]) == 2


def test_training_jobs_resume_from_the_given_checkpoint_else_from_the_last_one(tmp_path):
    from types import SimpleNamespace

    from transformers import Seq2SeqTrainingArguments

    from engine_hf.training import _run

    class RecordingTrainer:
        eval_dataset = None

        def __init__(self):
            self.resumed_from = []

        def train(self, resume_from_checkpoint=None):
            self.resumed_from.append(resume_from_checkpoint)
            return SimpleNamespace(metrics={})

        def save_model(self):
            pass

        def create_model_card(self):
            pass

        def is_world_process_zero(self):
            return True

    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "checkpoint-6").mkdir()
    trainer = RecordingTrainer()
    _run(trainer, Seq2SeqTrainingArguments(output_dir=str(tmp_path), do_train=True, use_cpu=True))
    chosen = str(tmp_path / "checkpoint-3")
    _run(trainer, Seq2SeqTrainingArguments(output_dir=str(tmp_path), do_train=True, use_cpu=True,
                                           resume_from_checkpoint=chosen))
    assert trainer.resumed_from == [str(tmp_path / "checkpoint-6"), chosen]


def test_a_student_built_from_the_teacher_starts_from_the_same_weights_for_the_same_seed(
    tokenizer, pairs, tmp_path, monkeypatch
):
    """A new student's decoder draws its initial weights before the Trainer exists, and the Trainer seeds only in its
    own constructor: train_cmlm must seed first. (Before it did, retraining benchmark labels' `cmlm_kd` with the same
    command scored 7.7 BLEU at one iteration where the first run had 9.3.)"""
    import json
    from types import SimpleNamespace

    from engine_hf import training

    teacher_dir = tmp_path / "teacher"
    tiny_marian(tokenizer).save_pretrained(teacher_dir)
    tokenizer.save_pretrained(teacher_dir)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, chunk in (("train", pairs[:8]), ("validation", pairs[8:10])):
        (corpus / f"{split}.jsonl").write_text(
            "".join(json.dumps({"translation": {"de": s, "en": t}}) + "\n" for s, t in chunk))
    built = []
    monkeypatch.setattr(training, "CMLMTrainer", lambda model, **kwargs: built.append(model) or SimpleNamespace())
    monkeypatch.setattr(training, "_run", lambda trainer, args: {})
    for seed in (0, 0, 1):
        torch.manual_seed(len(built))  # whatever the caller's random state, the seed decides
        training.train_cmlm(
            training.DataArguments(corpus=str(corpus), src_lang="de", tgt_lang="en"),
            training.TeacherArguments(teacher_model=str(teacher_dir)),
            training.StudentArguments(student_config="decoder_layers=1"),
            Seq2SeqTrainingArguments(**common_args(tmp_path / f"out{len(built)}", seed=seed)),
        )
    first, again, other = (model.state_dict() for model in built)
    assert all(torch.equal(first[name], again[name]) for name in first)
    fresh = ("length_predictor.proj.weight", "model.decoder.mask_embedding")  # drawn, not copied from the teacher
    assert not any(torch.equal(first[name], other[name]) for name in fresh)
