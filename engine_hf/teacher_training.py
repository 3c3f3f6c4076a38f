"""Train an autoregressive MarianMT teacher (and its joint tokenizer) from scratch on a local corpus.

ENGINE needs a frozen autoregressive teacher whose energy the student minimises. Only one pretrained MT model is
reachable offline here (the Bergamot EN<->PT-BR pair, see `convert_bergamot`), so for any other language pair the
teacher has to be trained on the spot. This module does that with stock Hugging Face parts only, so the result is
an ordinary `MarianMTModel` folder that `AutoModelForSeq2SeqLM`/`AutoTokenizer` (and `engine_hf.teacher`) load:

* a joint Unigram tokenizer (`engine_hf.tokenization.train_joint_tokenizer`) over the training split's source and
  target text: Marian shares one embedding matrix between encoder, decoder and output layer, which needs one
  vocabulary for both languages;
* a `MarianMTModel(MarianConfig(...))`: post-norm transformer, sinusoidal positions, embeddings scaled by
  sqrt(d_model), all embeddings tied; the decoder starts from `<pad>` as Marian's does;
* `Seq2SeqTrainer` + `DataCollatorForSeq2Seq`, resuming from the last checkpoint in ``output_dir``;
* a final greedy and beam-4 evaluation (BLEU/chrF, sacrebleu) on the held-out test split.

    engine-hf train-teacher --corpus libreoffice --src_lang de --tgt_lang en --output_dir teachers/de-en \\
        --max_steps 8000 --per_device_train_batch_size 64 --learning_rate 7e-4
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict
from transformers import (
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    GenerationConfig,
    HfArgumentParser,
    MarianConfig,
    MarianMTModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from .metrics import corpus_scores
from .tokenization import SPECIAL_TOKENS, train_joint_tokenizer
from .training import DataArguments

logger = logging.get_logger(__name__)

METRICS_FILE = "teacher_metrics.json"


@dataclass
class TeacherTrainingArguments:
    """Tokenizer and model size of a teacher trained from scratch, and how it is evaluated.

    The defaults (d_model 256, 4 heads, FFN 1024, 4 encoder + 1 decoder layers, 8k joint vocabulary: ~6.5M
    parameters) were picked by measurement: on DE->EN LibreOffice help (~34k pairs) a few epochs of this size
    fit in about an hour on one shared CPU core (see ``results/teacher_de_en.json``). The shallow decoder is
    deliberate: it is the part that runs once per output token, so it dominates the cost of the greedy/beam
    decoding that distillation and evaluation repeat, and deep-encoder/shallow-decoder models lose little quality.
    """

    vocab_size: int = field(default=8000, metadata={"help": "Joint (source+target) Unigram vocabulary size."})
    d_model: int = field(default=256, metadata={"help": "Hidden size (= embedding size)."})
    encoder_layers: int = field(default=4, metadata={"help": "Encoder layers."})
    decoder_layers: int = field(default=1, metadata={"help": "Decoder layers."})
    attention_heads: int = field(default=4, metadata={"help": "Attention heads in encoder and decoder."})
    ffn_dim: int = field(default=1024, metadata={"help": "Feed-forward inner size in encoder and decoder."})
    activation_function: str = field(default="relu", metadata={"help": "'relu' or 'swish' (Marian's choices)."})
    dropout: float = field(default=0.1, metadata={"help": "Residual/embedding dropout."})
    attention_dropout: float = field(default=0.0, metadata={"help": "Dropout on attention weights."})
    max_source_length: int = field(default=128, metadata={"help": "Training pairs with a longer source are dropped."})
    max_target_length: int = field(default=128, metadata={"help": "Training pairs with a longer target are dropped."})
    max_position_embeddings: int = field(default=512, metadata={"help": "Longest sequence the model accepts."})
    max_test_samples: int | None = field(default=None, metadata={"help": "Score only the first N test pairs."})
    test_split: str = field(default="test", metadata={"help": "Held-out split scored after training."})
    eval_beams: int = field(default=4, metadata={"help": "Beam size of the second test evaluation (1 = skip it)."})
    generation_batch_size: int = field(default=64, metadata={"help": "Sentences per batch in the test evaluation."})
    max_new_tokens: int = field(default=256, metadata={"help": "Generation length cap saved in generation_config."})


def _texts(dataset: Dataset, lang: str) -> list[str]:
    return [pair[lang] for pair in dataset["translation"]]


def load_or_train_tokenizer(
    train: Dataset, src_lang: str, tgt_lang: str, args: TeacherTrainingArguments, output_dir: str | Path
) -> PreTrainedTokenizerBase:
    """The tokenizer saved in ``output_dir`` by an earlier (interrupted) run, else a new one trained and saved.

    Saved *before* training starts, so that a resumed run gets exactly the vocabulary its checkpoints were trained
    with. `tokenizers`' Unigram training is not deterministic: two trainings on the same text (even with
    TOKENIZERS_PARALLELISM=false) agree on only ~90% of the 8k pieces' order, so a run started over from scratch gets
    another vocabulary, and another model.
    """
    output_dir = Path(output_dir)
    if (output_dir / "tokenizer.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(output_dir)
        logger.info("Reusing the tokenizer in %s (%d pieces).", output_dir, len(tokenizer))
        return tokenizer
    texts = _texts(train, src_lang) + _texts(train, tgt_lang)
    tokenizer = train_joint_tokenizer(texts, vocab_size=args.vocab_size)
    output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(output_dir)
    return tokenizer


def build_teacher(tokenizer: PreTrainedTokenizerBase, args: TeacherTrainingArguments) -> MarianMTModel:
    """A randomly initialised Marian transformer over the tokenizer's vocabulary.

    Marian conventions: post-norm layers, sinusoidal positions, embeddings scaled by sqrt(d_model), one embedding
    matrix shared by encoder input, decoder input and output projection, decoding starts from `<pad>`. Generation
    defaults (greedy, `max_new_tokens`) live in the model's `generation_config`, since transformers 5 drops
    generation parameters from model configs.
    """
    if args.activation_function not in ("relu", "swish", "silu", "gelu"):
        raise ValueError(f"activation_function {args.activation_function!r}: use 'relu' or 'swish'.")
    if args.d_model % args.attention_heads:
        raise ValueError(f"d_model {args.d_model} is not divisible by attention_heads {args.attention_heads}.")
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    config = MarianConfig(
        vocab_size=len(tokenizer),
        decoder_vocab_size=len(tokenizer),
        d_model=args.d_model,
        encoder_layers=args.encoder_layers,
        decoder_layers=args.decoder_layers,
        encoder_attention_heads=args.attention_heads,
        decoder_attention_heads=args.attention_heads,
        encoder_ffn_dim=args.ffn_dim,
        decoder_ffn_dim=args.ffn_dim,
        activation_function=args.activation_function,
        dropout=args.dropout,
        attention_dropout=args.attention_dropout,
        activation_dropout=0.0,
        max_position_embeddings=args.max_position_embeddings,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        forced_eos_token_id=None,
    )
    model = MarianMTModel(config)
    _marian_style_init(model, args.d_model, pad)
    model.generation_config = teacher_generation_config(tokenizer, args.max_new_tokens)
    return model


def _marian_style_init(model: MarianMTModel, d_model: int, pad_token_id: int) -> None:
    """Glorot-uniform linear layers, N(0, d_model^-1/2) embeddings and *fixed* sinusoidal positions, as Marian and
    fairseq initialise transformers.

    transformers' default (N(0, 0.02) everywhere, position table trainable) was measured to fail here: twice, on
    DE->EN LibreOffice help, the post-norm encoder's output stopped depending on its input within 600-1500 steps
    (loss with a shuffled source equal to the loss with the true one) and the model became a target-side language
    model. With embeddings of std d^-1/2, the sqrt(d_model) embedding scale makes token and position signals the
    same size, as the architecture assumes.
    """
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module is not model.lm_head:
            torch.nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
    with torch.no_grad():
        embedding = model.get_input_embeddings().weight
        torch.nn.init.normal_(embedding, mean=0.0, std=d_model**-0.5)
        embedding[pad_token_id].zero_()
    model.model.encoder.embed_positions.weight.requires_grad_(False)
    model.model.decoder.embed_positions.weight.requires_grad_(False)


def teacher_generation_config(tokenizer: PreTrainedTokenizerBase, max_new_tokens: int = 256) -> GenerationConfig:
    """Greedy by default (ENGINE's energy and distillation start from the teacher's own decoding), `<pad>` as the
    start token and never generated (as Marian does), `</s>` forced when the length cap is reached."""
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    return GenerationConfig(
        decoder_start_token_id=pad,
        pad_token_id=pad,
        eos_token_id=eos,
        forced_eos_token_id=eos,
        bad_words_ids=[[pad]],
        num_beams=1,
        max_new_tokens=max_new_tokens,
    )


def tokenize_for_teacher(
    dataset: Dataset,
    tokenizer: PreTrainedTokenizerBase,
    src_lang: str,
    tgt_lang: str,
    max_source_length: int,
    max_target_length: int,
) -> Dataset:
    """`input_ids` (source + `</s>`), `labels` (target + `</s>`, via ``text_target``) and a `length` column.

    Over-long pairs are dropped rather than truncated: a cropped target (or a target whose source was cropped)
    teaches the model to stop or hallucinate in the wrong place. `length` lets
    ``--train_sampling_strategy group_by_length`` batch similar lengths together, which on CPU is most of the
    speed (padding is paid for in full).
    """

    def encode(batch: dict[str, list]) -> dict[str, list]:
        sources = [pair[src_lang] for pair in batch["translation"]]
        targets = [pair[tgt_lang] for pair in batch["translation"]]
        input_ids = tokenizer(sources)["input_ids"]
        labels = tokenizer(text_target=targets)["input_ids"]
        return {"input_ids": input_ids, "labels": labels, "length": [max(len(s), len(t)) for s, t in zip(input_ids, labels, strict=True)]}

    tokenized = dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="Tokenizing")
    kept = tokenized.filter(
        lambda ex: len(ex["input_ids"]) <= max_source_length and 1 < len(ex["labels"]) <= max_target_length,
        desc="Filtering lengths",
    )
    if len(kept) < len(tokenized):
        logger.warning("Dropped %d of %d pairs that are empty or longer than the limits.", len(tokenized) - len(kept), len(tokenized))
    return kept


@torch.no_grad()
def translate_batched(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[str],
    num_beams: int = 1,
    batch_size: int = 64,
    max_new_tokens: int | None = None,
) -> list[str]:
    """Translate in batches of similar source length (less padding), returning outputs in input order."""
    model.eval()
    limit = model.config.max_position_embeddings
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]), reverse=True)
    outputs: list[str] = [""] * len(sources)
    kwargs: dict[str, Any] = {"num_beams": num_beams}
    if max_new_tokens is not None:
        kwargs["max_new_tokens"] = max_new_tokens
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        batch = tokenizer([sources[i] for i in index], return_tensors="pt", padding=True, truncation=True, max_length=limit)
        generated = model.generate(**batch.to(model.device), **kwargs)
        for i, text in zip(index, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
            outputs[i] = text
    return outputs


def evaluate_teacher(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Dataset,
    src_lang: str,
    tgt_lang: str,
    beams: Sequence[int] = (1, 4),
    batch_size: int = 64,
    output_dir: str | Path | None = None,
) -> dict[str, float]:
    """BLEU/chrF of greedy (``beams`` 1) and beam search on a held-out split; hypotheses are written to
    ``output_dir/<split>_<greedy|beamN>.txt`` when given, so that the numbers can be inspected, not just trusted."""
    sources, references = _texts(dataset, src_lang), _texts(dataset, tgt_lang)
    metrics: dict[str, float] = {"test_samples": len(sources)}
    for num_beams in beams:
        name = "greedy" if num_beams == 1 else f"beam{num_beams}"
        start = time.perf_counter()
        hypotheses = translate_batched(model, tokenizer, sources, num_beams=num_beams, batch_size=batch_size)
        seconds = time.perf_counter() - start
        scores = corpus_scores(hypotheses, references)
        metrics[f"test_{name}_bleu"] = round(scores["bleu"], 2)
        metrics[f"test_{name}_chrf"] = round(scores["chrf"], 2)
        metrics[f"test_{name}_seconds"] = round(seconds, 1)
        if output_dir is not None:
            Path(output_dir, f"test_{name}.txt").write_text("\n".join(hypotheses) + "\n", encoding="utf-8")
    return metrics


def _load_splits(data_args: DataArguments) -> DatasetDict:
    """The corpus with `max_train_samples`/`max_eval_samples` applied to train/validation only: the teacher's
    quality is always reported on the whole test split unless `max_test_samples` says otherwise."""
    from .data import load_corpus

    kwargs = {"cache_dir": data_args.data_cache_dir} if data_args.data_cache_dir else {}
    corpus = load_corpus(data_args.corpus, data_args.src_lang, data_args.tgt_lang, **kwargs)
    if data_args.max_train_samples is not None:
        corpus["train"] = corpus["train"].select(range(min(data_args.max_train_samples, len(corpus["train"]))))
    if data_args.max_eval_samples is not None and "validation" in corpus:
        corpus["validation"] = corpus["validation"].select(range(min(data_args.max_eval_samples, len(corpus["validation"]))))
    return corpus


def train_teacher(
    data_args: DataArguments,
    teacher_args: TeacherTrainingArguments,
    training_args: Seq2SeqTrainingArguments,
) -> dict[str, Any]:
    """Tokenizer + MarianMT teacher trained on ``data_args``' corpus, saved to ``output_dir`` and scored on test.

    Always trains (``--do_train`` is implied: this is what the command is for); a run that finds checkpoints in
    ``output_dir`` resumes from the last one, and one whose checkpoint already reached ``max_steps`` just
    re-saves and re-evaluates. Evaluation on the validation split during training happens only when an
    ``--eval_strategy`` is set (loss only). Returns the metrics and writes them to ``output_dir/teacher_metrics.json``.
    """
    output_dir = Path(training_args.output_dir)
    corpus = _load_splits(data_args)
    src, tgt = data_args.src_lang, data_args.tgt_lang
    tokenizer = load_or_train_tokenizer(corpus["train"], src, tgt, teacher_args, output_dir)
    missing = [token for token in SPECIAL_TOKENS.values() if tokenizer.convert_tokens_to_ids(token) in (None, tokenizer.unk_token_id) and token != tokenizer.unk_token]
    if missing:
        raise ValueError(f"The tokenizer in {output_dir} lacks the special tokens {missing}.")

    set_seed(training_args.seed)
    model = build_teacher(tokenizer, teacher_args)
    train = tokenize_for_teacher(corpus["train"], tokenizer, src, tgt, teacher_args.max_source_length, teacher_args.max_target_length)
    validation = None
    if training_args.eval_strategy != "no" and "validation" in corpus:
        validation = tokenize_for_teacher(corpus["validation"], tokenizer, src, tgt, teacher_args.max_source_length, teacher_args.max_target_length)
    trainer = Seq2SeqTrainer(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=validation,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        processing_class=tokenizer,
    )
    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if last is not None:
        logger.warning("Resuming from %s.", last)
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    train_seconds = time.perf_counter() - start

    model = trainer.model
    model.generation_config = teacher_generation_config(tokenizer, teacher_args.max_new_tokens)
    trainer.save_model(str(output_dir))  # model, tokenizer (processing_class) and generation_config.json

    metrics: dict[str, Any] = {
        "train_pairs": len(corpus["train"]),
        "train_pairs_used": len(train),
        "test_pairs": len(corpus[teacher_args.test_split]),
        "vocab_size": len(tokenizer),
        "num_parameters": model.num_parameters(),
        "global_step": trainer.state.global_step,
        "resumed_from": last,
        "train_seconds_this_run": round(train_seconds, 1),
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.metrics.items()},
    }
    if validation is not None:
        metrics.update({k: round(v, 4) if isinstance(v, float) else v for k, v in trainer.evaluate().items()})

    if trainer.is_world_process_zero():
        test = corpus[teacher_args.test_split]
        if teacher_args.max_test_samples is not None:
            test = test.select(range(min(teacher_args.max_test_samples, len(test))))
        beams = (1,) if teacher_args.eval_beams <= 1 else (1, teacher_args.eval_beams)
        metrics.update(
            evaluate_teacher(model, tokenizer, test, src, tgt, beams, teacher_args.generation_batch_size, output_dir)
        )
        metrics["teacher_args"] = asdict(teacher_args)
        (output_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str) + "\n", encoding="utf-8")
    return metrics


def _summary(metrics: dict[str, Any]) -> str:
    parts = [f"{metrics['num_parameters'] / 1e6:.1f}M parameters", f"{metrics['global_step']} steps"]
    for name in ("greedy", "beam4"):
        if f"test_{name}_bleu" in metrics:
            parts.append(f"{name} BLEU {metrics[f'test_{name}_bleu']:.1f} chrF {metrics[f'test_{name}_chrf']:.1f}")
    if not math.isnan(metrics.get("train_loss", math.nan)):
        parts.append(f"train_loss {metrics['train_loss']:.3f}")
    return ", ".join(parts)


def train_teacher_main(argv: list[str] | None = None) -> int:
    """``engine-hf train-teacher``: parse data, teacher and `Seq2SeqTrainingArguments` flags, train, print one line.

    DataArguments defaults to EN->PT; a DE->EN teacher needs ``--src_lang de --tgt_lang en``.
    """
    parser = HfArgumentParser((DataArguments, TeacherTrainingArguments, Seq2SeqTrainingArguments), prog="engine-hf train-teacher")
    data_args, teacher_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    metrics = train_teacher(data_args, teacher_args, training_args)
    print(f"train-teacher: saved to {training_args.output_dir}; " + _summary(metrics))
    return 0


__all__ = [
    "TeacherTrainingArguments",
    "build_teacher",
    "evaluate_teacher",
    "load_or_train_tokenizer",
    "teacher_generation_config",
    "tokenize_for_teacher",
    "train_teacher",
    "train_teacher_main",
    "translate_batched",
]
