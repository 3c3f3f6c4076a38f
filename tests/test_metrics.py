"""The corpus metrics every benchmark table is built from."""

from __future__ import annotations

import pytest

from engine_hf import corpus_scores, repetition_rate


def test_corpus_scores_of_a_perfect_and_of_a_truncated_output():
    references = ["Choose Format - Character.", "The dialog opens."]
    perfect = corpus_scores(references, references)
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["chrf"] == pytest.approx(100.0)
    assert perfect["length_ratio"] == pytest.approx(1.0)
    short = corpus_scores(["Choose Format", "The dialog"], references)
    # 13a tokens: 4 hypothesis tokens against 9 reference tokens ("-" and "." are tokens of their own).
    assert short["length_ratio"] == pytest.approx(4 / 9)
    assert short["bleu"] < perfect["bleu"] and short["chrf"] < perfect["chrf"]


def test_corpus_scores_refuse_misaligned_inputs():
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        corpus_scores(["a", "b"], ["a"])


def test_repetition_rate_counts_tokens_equal_to_the_one_before():
    assert repetition_rate([[5, 5, 5, 7], [1, 2]]) == pytest.approx(2 / 4)
    assert repetition_rate([[3], []]) == 0.0
