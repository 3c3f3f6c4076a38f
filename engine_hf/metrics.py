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


def paired_bootstrap(
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
    references: Sequence[str],
    n_samples: int = 1000,
    seed: int = 12345,
) -> dict[str, dict[str, float]]:
    """System - baseline in corpus BLEU and chrF, averaged over `pairs` of (baseline, system) outputs for the same
    `references`, with Koehn's (2004) paired bootstrap: every system rescored on the same `n_samples` resamples (with
    replacement) of the sentences.

    Returns per metric the mean baseline and system scores, their ``difference``, its 95% interval over the resamples
    (``low``, ``high``) and ``p_not_better``, the share of resamples in which the systems are not ahead (Koehn's
    p-value). Why: on a test set of a few hundred sentences a +2 BLEU gap can be the sentences, not the systems; the
    interval says which gaps (a target's +3) the test set cannot tell apart. Several pairs (the seeds of one setting,
    each against its start or its control) share the resamples, so the interval of their mean keeps the sentences'
    share of the noise, which averaging over seeds does not remove. sacrebleu's `PairedTest` reports each system's
    interval and a two-sided p-value but not a difference's interval, so the resamples are scored here with the
    sentence statistics its test uses (`_extract_corpus_statistics`, `_compute_score_from_stats`).
    """
    if not pairs or not references:
        raise ValueError("No pairs or no sentences to resample.")
    for baseline, system in pairs:
        if not len(baseline) == len(system) == len(references):
            raise ValueError(f"{len(baseline)} baseline and {len(system)} system outputs for {len(references)} "
                             "references.")
    refs = [list(references)]
    resamples = np.random.default_rng(seed).choice(len(references), size=(n_samples, len(references)))
    result = {}
    for name, metric in (("bleu", sacrebleu.BLEU()), ("chrf", sacrebleu.CHRF())):
        def score(outputs: Sequence[str], metric=metric) -> tuple[float, np.ndarray]:
            """The corpus score and the score on each resample."""
            stats = np.asarray(metric._extract_corpus_statistics(list(outputs), refs), dtype=np.float64)
            return (float(metric._compute_score_from_stats(stats.sum(0)).score),
                    np.array([metric._compute_score_from_stats(stats[rows].sum(0)).score for rows in resamples]))

        scored = [(score(baseline), score(system)) for baseline, system in pairs]
        baseline_score = float(np.mean([base[0] for base, _ in scored]))
        system_score = float(np.mean([system[0] for _, system in scored]))
        differences = np.mean([system[1] - base[1] for base, system in scored], axis=0)
        low, high = np.percentile(differences, [2.5, 97.5])
        result[name] = {"baseline": baseline_score, "system": system_score, "difference": system_score - baseline_score,
                        "low": float(low), "high": float(high), "p_not_better": float((differences <= 0).mean())}
    return result


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


__all__ = ["build_compute_metrics", "corpus_scores", "paired_bootstrap", "repetition_rate"]
