"""Evaluation: BLEU/chrF (sacrebleu, called directly: `evaluate.load` needs the hub) and repetition; the teacher's
energy of outputs is `teacher.teacher_energy_of_outputs`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import sacrebleu
from transformers import EvalPrediction, PreTrainedTokenizerBase


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU and chrF with sacrebleu's standard settings (13a tokenisation, detokenised input).

    ``length_ratio`` is BLEU's hypothesis/reference length in 13a tokens: outputs that shrink (a length head gone
    short, tokens merged into punctuation runs) show up here before they are guessed from BLEU's brevity penalty.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references.")
    refs = [list(references)]
    bleu = sacrebleu.corpus_bleu(list(hypotheses), refs)
    return {
        "bleu": bleu.score,
        "chrf": sacrebleu.corpus_chrf(list(hypotheses), refs).score,
        "length_ratio": bleu.ratio,
    }


def repetition_rate(token_sequences: Sequence[Sequence[int]]) -> float:
    """Share of output tokens equal to the token before them: the signature of NAT failure and energy hacking."""
    repeats = total = 0
    for tokens in token_sequences:
        tokens = list(tokens)
        total += max(len(tokens) - 1, 0)
        repeats += sum(a == b for a, b in zip(tokens, tokens[1:], strict=False))
    return repeats / total if total else 0.0


def _strip(ids: np.ndarray, pad_token_id: int, special_ids: set[int]) -> list[list[int]]:
    ids = np.where(ids < 0, pad_token_id, ids)
    return [[int(t) for t in row if int(t) not in special_ids] for row in ids]


def build_compute_metrics(tokenizer: PreTrainedTokenizerBase) -> Callable[[EvalPrediction], dict[str, float]]:
    """`compute_metrics` for `Seq2SeqTrainer(predict_with_generate=True)`: BLEU, chrF, repetition, length ratio."""
    special_ids = set(tokenizer.all_special_ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
        predictions = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        predictions = np.asarray(predictions)
        if predictions.ndim == 3:  # logits of one parallel pass (predict_with_generate=False): take the argmax
            predictions = predictions.argmax(-1)
        hyp_ids = _strip(predictions, pad, special_ids)
        ref_ids = _strip(np.asarray(prediction.label_ids), pad, special_ids)
        hypotheses = tokenizer.batch_decode(hyp_ids, skip_special_tokens=True)
        references = tokenizer.batch_decode(ref_ids, skip_special_tokens=True)
        scores = corpus_scores(hypotheses, references)
        scores["repetition"] = repetition_rate(hyp_ids)
        scores["length_ratio"] = sum(map(len, hyp_ids)) / max(sum(map(len, ref_ids)), 1)
        return scores

    return compute_metrics


__all__ = ["build_compute_metrics", "corpus_scores", "repetition_rate"]
