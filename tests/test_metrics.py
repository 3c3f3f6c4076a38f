"""The corpus metrics every benchmark table is built from."""

from __future__ import annotations

import pytest

from engine_hf import corpus_scores, paired_bootstrap, repetition_rate


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


REFERENCES = [f"Choose Format - Character {i} to open the dialog." for i in range(20)]


def test_paired_bootstrap_scores_both_systems_as_corpus_scores_does():
    baseline = [f"Choose Character {i} dialog." for i in range(20)]
    system = [REFERENCES[i] if i % 2 else f"Choose Format - Character {i} to open." for i in range(20)]
    found = paired_bootstrap([(baseline, system)], REFERENCES, n_samples=200)
    for metric in ("bleu", "chrf"):
        assert found[metric]["baseline"] == pytest.approx(corpus_scores(baseline, REFERENCES)[metric])
        assert found[metric]["system"] == pytest.approx(corpus_scores(system, REFERENCES)[metric])
        assert found[metric]["difference"] == pytest.approx(found[metric]["system"] - found[metric]["baseline"])
        # Better on every sentence: every resample says so, and the interval is clear of 0.
        assert found[metric]["p_not_better"] == 0.0 and 0 < found[metric]["low"] < found[metric]["high"]
    assert paired_bootstrap([(baseline, system)], REFERENCES, n_samples=200) == found  # seeded: repeatable


def test_paired_bootstrap_cannot_tell_a_gap_made_by_one_sentence_from_noise():
    baseline = [f"Choose Character {i} dialog." for i in range(20)]
    system = [REFERENCES[0], *baseline[1:]]  # right on sentence 0 only
    found = paired_bootstrap([(baseline, system)], REFERENCES, n_samples=1000)["bleu"]
    assert found["difference"] > 0 and found["low"] == 0.0 < found["high"]
    # A resample leaves sentence 0 out with probability (19/20)^20 = 0.358: then the two systems tie.
    assert found["p_not_better"] == pytest.approx((19 / 20) ** 20, abs=0.05)
    same = paired_bootstrap([(baseline, baseline)], REFERENCES, n_samples=100)["chrf"]
    assert (same["difference"], same["low"], same["high"], same["p_not_better"]) == (0.0, 0.0, 0.0, 1.0)


def test_paired_bootstrap_of_several_pairs_is_their_mean_on_shared_resamples():
    baseline = [f"Choose Character {i} dialog." for i in range(20)]
    right_on = [[REFERENCES[i] if i == k else baseline[i] for i in range(20)] for k in (0, 1)]
    one, other = (paired_bootstrap([(baseline, system)], REFERENCES, n_samples=500)["bleu"] for system in right_on)
    both = paired_bootstrap([(baseline, system) for system in right_on], REFERENCES, n_samples=500)["bleu"]
    assert both["difference"] == pytest.approx((one["difference"] + other["difference"]) / 2)
    assert both["system"] == pytest.approx((one["system"] + other["system"]) / 2)
    # The two seeds gain on different sentences: a resample ties them with the baseline only if it misses both.
    assert both["p_not_better"] == pytest.approx((18 / 20) ** 20, abs=0.03)
    assert both["p_not_better"] < min(one["p_not_better"], other["p_not_better"])


def test_paired_bootstrap_refuses_misaligned_or_empty_inputs():
    with pytest.raises(ValueError, match="1 baseline and 2 system outputs for 2 references"):
        paired_bootstrap([(["a"], ["a", "b"])], ["a", "b"])
    with pytest.raises(ValueError, match="No pairs or no sentences"):
        paired_bootstrap([], ["a"])
