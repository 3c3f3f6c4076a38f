"""The compute curves of `bench_stages/still_encoder.py` and `targets.py` (ENGINE and one CE control checkpointed at
the same wall times: still_budget, still_most_budget and its seeds, still_most_fast, the longer one-seed curves), each
with the table it feeds."""

from __future__ import annotations

import pytest
from bench_helpers import (
    fake_curve_training,
    fake_model,
    make_bench,
    one_seed_first,
    picked,
)

from bench_stages import settings
from bench_tables.curves import section_budget, section_fast
from bench_tables.plots import plot_name


@pytest.mark.parametrize(("stage", "start", "built_by", "control_lr"),
                         [("still_budget", "cmlm_long_still", "still_long", 1e-4),
                          ("still_most_budget", "cmlm_most_still", "still_most", 1e-5)])
def test_still_budgets_run_a_sharp_seed_2_pair_four_times_as_long_with_the_still_encoder(tmp_path, monkeypatch, stage,
                                                                                         start, built_by, control_lr):
    def evaluate(model, split="test", **kwargs):
        assert kwargs == {**settings.CONFIRM_TEST, "num_iterations": kwargs["num_iterations"]}
        scored.append((model.name, kwargs["num_iterations"] if split == "test" else split))
        return {"libreoffice": {"bleu": 11.0 + kwargs["num_iterations"], "chrf": 41.0, "repetition": 0.1,
                                "teacher_energy": 3.0}}

    scored = []
    bench_a = make_bench(tmp_path, "a", quick=False)
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index(built_by)
    with pytest.raises(SystemExit, match=f"--rebuild {start}"):
        getattr(bench_a, f"stage_{stage}")()  # its start is not there yet
    fake_model(bench_a.root / start)
    calls = fake_curve_training(bench_a, monkeypatch, lambda seed: [5, 10, 15, 20])
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    run = [(start, 800, 0.25, 200, 2, False)]
    assert picked(calls, "engine", "start", "steps", "o1_temperature", "save_steps", "seed", "dropout") == run
    assert picked(calls, "control", "start", "seed", "learning_rate", "lr_scheduler_type", "dropout", "stop",
                  "pending") == [(start, 2, control_lr, "constant", False, 8.0, [2.0, 4.0, 6.0])]
    assert bench_a.encoder_dropout
    assert result["seed"] == 2 and result["initialised_from"] == start and not result["partial"]
    assert result["control_learning_rate"] == control_lr
    assert [p["control_step"] for p in result["points"]] == [5, 10, 15, 20]
    assert len(scored) == 3 * 9 and result["points"][-1]["engine_bleu_10"] == 21.0 == result["start"]["bleu_10"]
    assert result["points"][0]["control_bleu_dev"] == 12.0 and scored.count(("checkpoint-5", "validation")) == 1
    # --force on a result from before the ten-iteration and dev scores adds them and keeps the one-iteration ones.
    older = {**result, "start": {"bleu": 9.0, "chrf": 40.0, "repetition": 0.2, "teacher_energy": 3.5},
             "points": [{k: v for k, v in p.items() if not k.endswith(("_10", "_dev"))} | {"engine_bleu": 13.0}
                        for p in result["points"]]}
    bench_a.write(stage, older)
    scored.clear()
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    assert sorted(map(str, (n for _, n in scored))) == ["10"] * 9 + ["validation"] * 9
    assert picked(calls, "engine", "start", "steps", "o1_temperature", "save_steps", "seed", "dropout") == run
    assert result["start"]["bleu"] == 9.0 and result["points"][0]["engine_bleu"] == 13.0
    assert result["points"][0]["engine_bleu_10"] == 21.0 and not result["partial"]
    text = section_budget(result, "x.png", stage)
    assert "| 0 | 0 | 9.00 / 40.0 / 0.20 / 3.50 | 0 | 9.00 / 40.0 / 0.20 / 3.50 | - | 21.00 / 41.0 | 21.00 / 41.0 | - |" \
        in text and "| 200 | 2 | 13.00 / 41.0 / 0.10 / 3.00 | 5 | 12.00 / " in text and "| +1.00 / +0.0 | 21.00 / 41.0 |" in text
    # The table checks the first checkpoint against the sharp stage's pair of the same seed.
    result = {**result, "points": [p | {"engine_bleu": 11.0} for p in result["points"]]}
    replica = {"seed": 2, "engine_bleu": 11.0, "engine_chrf": 41.0, "control_bleu": 10.2, "control_chrf": 40.1,
               "control_steps": 870}
    text = section_budget(result, f"engine_{stage}.png", stage, replica)
    assert (f"(`{stage}`: O1 temperature 0.25, lr 1e-05, `ce_weight` 1, 800 energy steps from {start}, seed 2, "
            f"scored every 200; one control run (CE, lr {control_lr:g})") in text
    assert ("The 200-step ENGINE checkpoint scores 11.00 / 41.0; the matched pair of the same start and seed scored "
            "11.00 / 41.0 (the same run again), and its control 10.20 / 40.1 after 870 CE steps.") in text
    assert "not the same" in section_budget(result, "x.png", stage, {**replica, "engine_bleu": 11.1})
    assert "scored 9.90" not in text
    slow = {"seed": 2, "control_bleu": 9.9, "control_chrf": 40.5, "control_steps": 830}
    assert ("The control's first checkpoint (5 CE steps at lr 1e-05) scores 12.00 / 41.0; `still_most_slow`'s control "
            "of the same start, seed and lr scored 9.90 / 40.5 after 830 steps in its pair's wall time.") in \
        section_budget({**result, "control_learning_rate": 1e-5}, "x.png", stage, replica,
                                   ("still_most_slow", slow))
    assert plot_name("bench_", "", f"engine_{stage}") == f"engine_{stage}.png"


@pytest.mark.parametrize("stage, after, start, seeds", [
    ("still_most_budget_seeds", "still_most_budget", "cmlm_most_still", (0, 1)),
    ("still_max_budget", "still_max_slow", "cmlm_max_still", (2, 0, 1)),
    ("still_peak_budget", "still_peak", "cmlm_peak_still", (2, 0, 1)),
    ("still_peak_pure", "still_peak_budget", "cmlm_peak_still", (2, 0, 1))])
def test_budget_seeds_stages_run_one_400_step_curve_per_seed_in_one_stage(tmp_path, monkeypatch, stage, after, start,
                                                                          seeds):
    """Each seed: ENGINE (sharp O1, lr 1e-5) for 400 steps saved every 200, then its CE control at lr 1e-5 told to
    save at ENGINE's 200-step time and stop at its 400-step one; a kill during the last seed's control keeps the
    finished curves and reruns only that control."""
    scored = []
    last = seeds[-1]

    def control_steps(seed):
        if seed == last and fail_last:
            raise KeyboardInterrupt  # killed during the last seed's control: the earlier curves are kept
        return [7 + seed, 15]

    def evaluate(model, split="test", **kwargs):
        scored.append(model.as_posix())
        return {"libreoffice": {"bleu": 11.0, "chrf": 41.0, "repetition": 0.1, "teacher_energy": 3.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index(after)
    fake_model(bench_a.root / start)
    calls = fake_curve_training(bench_a, monkeypatch, control_steps)
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    fail_last = True
    with pytest.raises(KeyboardInterrupt):
        getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    assert result["partial"] and not bench_a.done(stage)
    assert [result["curves"][f"seed{seed}"]["partial"] for seed in seeds] == [False] * (len(seeds) - 1) + [True]
    fail_last, scored[:] = False, []
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    assert bench_a.done(stage) and sorted(result["curves"]) == sorted(f"seed{seed}" for seed in seeds)
    ce_weight = 0.0 if stage == "still_peak_pure" else 1.0  # the paper's pure energy against the mixed one
    assert picked(calls, "engine", "out", "start", "steps", "o1_temperature", "ce_weight", "learning_rate", "save_steps",
                  "seed", "dropout") == [
        (f"{stage}/seed{seed}/engine", start, 400, 0.25, ce_weight, 1e-5, 200, seed, False) for seed in seeds]
    last_control = (f"{stage}/seed{last}/control", last, 1e-5, "constant", 4.0, [2.0])  # run again after the kill
    assert picked(calls, "control", "out", "seed", "learning_rate", "lr_scheduler_type", "stop", "pending") == [
        *((f"{stage}/seed{seed}/control", seed, 1e-5, "constant", 4.0, [2.0]) for seed in seeds[:-1]),
        last_control, last_control]
    for seed in seeds:
        curve = result["curves"][f"seed{seed}"]
        assert curve["seed"] == seed and curve["energy_steps"] == 400 and curve["checkpoint_every"] == 200
        assert curve["control_learning_rate"] == 1e-5 and not curve["partial"] and curve["initialised_from"] == start
        assert [(p["engine_step"], p["control_step"]) for p in curve["points"]] == [(200, 7 + seed), (400, 15)]
    rescored = "".join(scored)
    assert f"{stage}/seed{last}/control/checkpoint-{7 + last}" in rescored
    assert not any(f"{stage}/seed{seed}/" in rescored for seed in seeds[:-1])


def test_still_most_fast_keeps_its_one_seed_run_as_seed_0_and_adds_seeds_1_and_2_at_3e_5(tmp_path, monkeypatch):
    def evaluate(model, split="test", num_iterations=1, **kwargs):
        bleu = {"engine": 15.0, "control": 13.0}.get(model.name, 13.5) + num_iterations / 10
        return {"libreoffice": {"bleu": bleu, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    stage = "still_most_fast"
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index("still_most_budget_seeds")
    start, calls, one_seed = one_seed_first(bench_a, monkeypatch, stage, "cmlm_most_still", settings.SHARP_FAST, 0,
                                            lambda seed: [610 + seed], evaluate)
    assert "curves" not in one_seed and one_seed["points"][0]["control_step"] == 610
    bench_a.stage_still_most_fast()
    result = bench_a.read(stage)
    assert bench_a.done(stage) and sorted(result["curves"]) == ["seed0", "seed1", "seed2"]
    assert result["curves"]["seed0"] == {k: v for k, v in one_seed.items() if k not in bench_a.header(stage)}
    assert (bench_a.root / stage / "seed0" / "engine").is_dir() and not (bench_a.root / stage / "engine").exists()
    assert picked(calls, "engine", "out", "start", "steps", "learning_rate", "o1_temperature", "seed", "dropout") == [
        (f"{stage}/seed{seed}/engine", "cmlm_most_still", 200, 3e-5, 0.25, seed, False) for seed in (1, 2)]
    assert picked(calls, "control", "out", "seed", "learning_rate", "lr_scheduler_type", "stop", "pending") == [
        (f"{stage}/seed{seed}/control", seed, 3e-5, "constant", 2.0, []) for seed in (1, 2)]
    assert [result["curves"][f"seed{seed}"]["points"][0]["control_step"] for seed in (0, 1, 2)] == [610, 611, 612]
    bench_a.as_curves(stage, "seed0")  # already in curves: nothing moves
    assert bench_a.read(stage) == result
    (start / "model.safetensors").write_bytes(b"rebuilt otherwise")
    with pytest.raises(SystemExit, match=r"still_most_fast: .*cmlm_most_still \(digest \w+\) is not the cmlm_most_still "
                                         r"its finished seeds started from .*--rebuild cmlm_most_still"):
        bench_a.stage_still_most_fast()
    assert bench_a.read(stage) == result

    slower = {"learning_rate": 1e-5, "points": [
        {"engine_step": 200, "engine_bleu": 14.55, "engine_chrf": 46.3, "engine_repetition": 0.33,
         "engine_teacher_energy": 5.28, "engine_bleu_10": 25.65, "engine_chrf_10": 56.1, "control_bleu": 14.03,
         "control_chrf": 45.6, "control_step": 871}]}
    decay = {"points": [{"seed": seed, "control_bleu": 14.0 + seed / 10, "control_chrf": 45.9, "control_bleu_10": 25.6,
                         "control_chrf_10": 56.3, "control_steps": 879, "train_seconds": 674.2} for seed in (0, 1)]}
    text = section_fast(result, {0: slower, 1: {**slower, "points": [
        {**slower["points"][0], "engine_bleu": 15.33}]}}, decay)
    assert "**The sharp O1 at lr 3e-05 from `cmlm_most_still`, over seeds** (`still_most_fast`: O1 temperature 0.25" in text
    assert "| 1 | 200 | 2 | 15.10 / 46.0 / 0.30 / 5.00 | 611 | 13.10 / 46.0 / 0.30 / 5.00 | +2.00 / +0.0 |" in text
    assert "- 200 energy steps, mean over 3 seeds: ENGINE - control +2.00 BLEU (from +2.00 to +2.00)" in text
    assert ("- seed 0: at lr 1e-05 the same seed's 200-step ENGINE scored 14.55 / 46.3 / 0.33 / 5.28 at one iteration "
            "and 25.65 / 56.1 at ten (the larger step: +0.55 / -0.3 and -9.65 / -10.1)") in text
    assert ("the decaying-lr control (`still_most_decay`: 879 CE steps in 674 s) scored 14.10 / 45.9 and 25.60 / 56.3: "
            "ENGINE at lr 3e-05 - it +1.00 / +0.1 at one iteration") in text
    assert ("- over 2 seeds the larger step moves ENGINE by +0.16 BLEU (from -0.23 to +0.55) at one iteration; ENGINE - "
            "the decaying-lr control +1.05 BLEU (from +1.00 to +1.10) at one iteration") in text
    assert "- seed 2:" not in text  # neither a slower run nor a decaying control of seed 2 given
    partial = {**result, "partial": True, "curves": {**result["curves"], "seed2": {"partial": True}}}
    assert "— **unfinished: 2 seeds so far**" in section_fast(partial, {}, None)
    assert "**unfinished**" in section_fast({"curves": {"seed1": {"partial": True}}, "partial": True}, {}, None)


@pytest.mark.parametrize("stage, after, start, lr, seed, control_steps", [
    ("still_most_fast_budget", "still_most_fast", "cmlm_most_still", 3e-5, 0, [600, 1210]),
    ("still_max_long", "still_max_budget", "cmlm_max_still", 1e-5, 2, [670, 1340, 2010]),
    ("still_peak_pure_faster", "still_peak_pure_fast", "cmlm_peak_still", 1e-4, 2, [590, 1180]),
    ("still_peak_pure_long", "still_peak_pure_faster", "cmlm_peak_still", 3e-5, 2, [600, 1200, 1800])])
def test_one_seed_longer_curves_run_the_sharp_o1_against_ce_at_the_same_lr(tmp_path, monkeypatch, stage, after, start,
                                                                          lr, seed, control_steps):
    """still_most_fast_budget: seed 0 at 3e-5 for 400 steps; still_max_long: seed 2 at 1e-5 for 600; each control at
    ENGINE's lr, told to save at ENGINE's checkpoint times (0.01 s a step here) and stop at its last."""
    def evaluate(model, split="test", num_iterations=1, **kwargs):
        return {"libreoffice": {"bleu": 15.0, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    fake_model(bench_a.root / start)
    calls = fake_curve_training(bench_a, monkeypatch, lambda seed: control_steps)
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index(after)
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    steps = 200 * len(control_steps)
    assert bench_a.done(stage) and result["seed"] == seed and result["control_learning_rate"] == lr
    assert result["initialised_from"] == start
    assert picked(calls, "engine", "out", "steps", "save_steps", "learning_rate", "o1_temperature", "seed", "dropout",
                  "ce_weight") == [(f"{stage}/engine", steps, 200, lr, 0.25, seed, False, 0.0 if "pure" in stage else 1.0)]
    assert picked(calls, "control", "out", "seed", "learning_rate", "lr_scheduler_type", "stop", "pending") == [
        (f"{stage}/control", seed, lr, "constant", steps / 100, [2.0 * i for i in range(1, len(control_steps))])]
    assert [(p["engine_step"], p["control_step"]) for p in result["points"]] == list(
        zip(range(200, steps + 1, 200), control_steps, strict=True))
