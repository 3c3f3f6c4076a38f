"""Batch translation and corpus evaluation for any model: a CMLM (parallel) or an autoregressive teacher."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    BatchEncoding,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging

from .metrics import corpus_scores, repetition_rate
from .modeling_cmlm import CMLMForConditionalGeneration
from .teacher import teacher_energy_of_outputs

logger = logging.get_logger(__name__)


def load_model(model: str | PreTrainedModel) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model (eval mode) and its tokenizer from a folder or hub id; a clear error when either is missing."""
    if not isinstance(model, str):
        raise TypeError("load_model takes a folder or hub id.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        loaded = AutoModelForSeq2SeqLM.from_pretrained(model).eval()
    except (OSError, ValueError) as error:
        raise ValueError(
            f"Could not load a seq2seq model and tokenizer from {model!r}: {str(error).splitlines()[0]}"
        ) from error
    check_tokenizer_matches(loaded, tokenizer)
    return loaded, tokenizer


def check_tokenizer_matches(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Refuse a tokenizer whose ids the model cannot embed (the usual sign of a tokenizer from another model)."""
    vocab = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > vocab:
        raise ValueError(
            f"The tokenizer has {len(tokenizer)} tokens but the model embeds only {vocab}: they do not belong "
            "together. Save the tokenizer the model was trained with next to it (tokenizer.save_pretrained)."
        )


def generation_kwargs(
    model: PreTrainedModel,
    num_iterations: int | None,
    length_beam: int | None,
    num_beams: int,
    rescoring_model: PreTrainedModel | None = None,
) -> dict[str, Any]:
    """Settings that apply to this kind of model (parallel or autoregressive), omitting the unset ones."""
    if isinstance(model, CMLMForConditionalGeneration):
        kwargs = {"num_iterations": num_iterations, "length_beam": length_beam, "rescoring_model": rescoring_model}
        return {k: v for k, v in kwargs.items() if v is not None}
    if rescoring_model is not None:
        raise ValueError(
            "A rescoring model chooses among a CMLM's length candidates; this model is autoregressive. Drop "
            "--rescoring_model (rescoring_model=), or use its own beam search: --num_beams (num_beams=)."
        )
    return {"num_beams": num_beams}


def source_limit(model: PreTrainedModel) -> int | None:
    """The longest source (in tokens) the model embeds: a CMLM's `max_source_positions`, else its position table."""
    return getattr(model.config, "max_source_positions", None) or getattr(model.config, "max_position_embeddings", None)


def tokenize_sources(tokenizer: PreTrainedTokenizerBase, sources: list[str], limit: int | None) -> BatchEncoding:
    """Tokenize (padded tensors), cutting sources at `limit` tokens and saying so: a silently cut source would
    come back as a silently shortened translation."""
    if limit is not None:
        too_long = sum(len(ids) > limit for ids in tokenizer(sources).input_ids)
        if too_long:
            logger.warning(
                "%d source(s) longer than the model's %d tokens were truncated: split long inputs into sentences.",
                too_long, limit,
            )
    return tokenizer(sources, return_tensors="pt", padding=True, truncation=limit is not None, max_length=limit)


@torch.no_grad()
def generate_ids(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    batch_size: int = 32,
    **kwargs: Any,
) -> Iterator[tuple[list[int], dict[str, torch.Tensor], torch.Tensor]]:
    """Yield (source indices, tokenized batch, output ids), batching sources of similar length together.

    Sorting by length keeps padding (and so the cost of the 32k-way output layer) low; callers put results back
    in source order with the indices. Sources are truncated to the model's limit, with a warning.
    """
    limit = source_limit(model)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        batch = tokenize_sources(tokenizer, [sources[i] for i in indices], limit).to(model.device)
        yield indices, batch, model.generate(**batch, **kwargs)


def translate(
    model: str,
    sources: list[str],
    num_iterations: int | None = None,
    length_beam: int | None = None,
    num_beams: int = 1,
    batch_size: int = 32,
    rescoring_model: str | None = None,
) -> Iterator[str]:
    """Translations of `sources`, one string per source, in order; with `rescoring_model` (a teacher folder or hub
    id), each CMLM output is the length candidate that teacher scores best."""
    from .teacher import load_teacher

    loaded, tokenizer = load_model(model)
    rescorer = load_teacher(rescoring_model) if rescoring_model else None
    kwargs = generation_kwargs(loaded, num_iterations, length_beam, num_beams, rescorer)
    yield from decode(loaded, tokenizer, sources, batch_size=batch_size, **kwargs).hypotheses


@dataclass
class Decoded:
    """One system's outputs for a list of sources, in source order: what corpus scores are built from, kept per
    sentence so that systems can be compared sentence by sentence (which output does the teacher prefer?)."""

    hypotheses: list[str]
    token_rows: list[list[int]]  # output ids without special tokens: what the repetition rate counts
    teacher_energy: torch.Tensor | None  # (sources,) the teacher's mean -log p per token, when a teacher is given


@torch.no_grad()
def decode(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    teacher: PreTrainedModel | None = None,
    batch_size: int = 32,
    **generate_kwargs: Any,
) -> Decoded:
    """Translate `sources` and, with a teacher, score each output's energy on the same tokenized batch."""
    hypotheses = [""] * len(sources)
    token_rows: list[list[int]] = [[] for _ in sources]
    energies = torch.zeros(len(sources)) if teacher is not None else None
    special = set(tokenizer.all_special_ids)
    for indices, batch, output_ids in generate_ids(model, tokenizer, sources, batch_size, **generate_kwargs):
        texts = tokenizer.batch_decode(output_ids, skip_special_tokens=True)
        for i, text, row in zip(indices, texts, output_ids.tolist(), strict=True):
            hypotheses[i], token_rows[i] = text, [t for t in row if t not in special]
        if energies is not None:
            energies[indices] = teacher_energy_of_outputs(
                teacher, batch["input_ids"], batch["attention_mask"], output_ids, tokenizer.pad_token_id
            ).cpu()
    return Decoded(hypotheses, token_rows, energies)


@torch.no_grad()
def teacher_energy_of_references(
    teacher: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    references: list[str],
    batch_size: int = 32,
) -> torch.Tensor:
    """The teacher's energy of given target texts (references), per sentence, on the same scale as `decode`'s.

    Why: ENGINE moves the student towards what the teacher scores low; whether that is towards the references
    depends on where the references themselves sit, so they are scored like any system's output.
    """
    if len(sources) != len(references):
        raise ValueError(f"{len(sources)} sources but {len(references)} references.")
    limit = source_limit(teacher)
    energies = torch.zeros(len(sources))
    for start in range(0, len(sources), batch_size):
        batch = tokenize_sources(tokenizer, sources[start : start + batch_size], limit).to(teacher.device)
        targets = tokenizer(text_target=references[start : start + batch_size], return_tensors="pt", padding=True)
        energies[start : start + batch_size] = teacher_energy_of_outputs(
            teacher, batch["input_ids"], batch["attention_mask"], targets["input_ids"].to(teacher.device),
            tokenizer.pad_token_id,
        ).cpu()
    return energies


def evaluate_model(
    model: str,
    data_args: Any,
    split: str = "test",
    teacher_model: str | None = None,
    num_iterations: int | None = None,
    length_beam: int | None = None,
    num_beams: int = 1,
    batch_size: int = 32,
    rescoring_model: str | None = None,
) -> dict[str, float]:
    """BLEU, chrF, repetition rate and (with a teacher) the teacher's energy of the outputs on a corpus split.

    `rescoring_model`: choose each CMLM output among its length candidates by this teacher's score.
    """
    from .teacher import load_teacher
    from .training import load_corpus_splits

    corpus = load_corpus_splits(data_args)
    if split not in corpus:
        raise ValueError(f"The corpus has no split {split!r}; it has {sorted(corpus)}.")
    pairs = corpus[split]["translation"]
    sources = [pair[data_args.src_lang] for pair in pairs]
    references = [pair[data_args.tgt_lang] for pair in pairs]
    loaded, tokenizer = load_model(model)
    teacher = load_teacher(teacher_model) if teacher_model else None
    rescorer = teacher if rescoring_model and rescoring_model == teacher_model else None
    if rescoring_model and rescorer is None:
        rescorer = load_teacher(rescoring_model)
    kwargs = generation_kwargs(loaded, num_iterations, length_beam, num_beams, rescorer)
    decoded = decode(loaded, tokenizer, sources, teacher, batch_size, **kwargs)
    scores = corpus_scores(decoded.hypotheses, references)
    scores["repetition"] = repetition_rate(decoded.token_rows)
    scores["sentences"] = len(sources)
    if decoded.teacher_energy is not None:
        scores["teacher_energy"] = decoded.teacher_energy.mean().item()
    return scores


__all__ = [
    "Decoded",
    "check_tokenizer_matches",
    "decode",
    "evaluate_model",
    "generate_ids",
    "generation_kwargs",
    "load_model",
    "teacher_energy_of_references",
    "translate",
]
