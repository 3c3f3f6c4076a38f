"""The stages of `bench_stages/targets.py` (the pure-energy curves, significance, lengths and examples
against the targets), each with the table it feeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bench_helpers import fake_curve_training, fake_model, make_bench, one_seed_first, picked

import bench_stages as bench
from bench_stages import settings
from bench_stages import targets as target_stages
from bench_tables.curves import section_budget_seeds
from bench_tables.targets import (
    section_examples_targets,
    section_lengths_targets,
    section_rescoring_targets,
    section_significance,
)


@pytest.mark.parametrize("stage, after, start, added", [
    ("still_peak_pure_fast", "still_peak_pure", "cmlm_peak_still", (0, 1, 3, 4)),
    ("still_max_pure_fast", "still_peak_pure_long", "cmlm_max_still", (0, 1))])
def test_pure_energy_at_3e_5_keeps_its_one_seed_run_as_seed_2_and_adds_seeds(tmp_path, monkeypatch, stage, after, start,
                                                                             added):
    """Seed 2's 400-step curve (pure energy at lr 3e-5) ran alone first; the stage keeps it, untouched, as `seed2` and
    runs seeds 0 and 1 (from `cmlm_peak_still` also 3 and 4) in the same setting, each against CE at lr 3e-5 saved at
    ENGINE's 200-step time."""
    def evaluate(model, split="test", num_iterations=1, **kwargs):
        return {"libreoffice": {"bleu": 15.0, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index(after)
    _, calls, one_seed = one_seed_first(bench_a, monkeypatch, stage, start, settings.SHARP_PURE_FAST, 2,
                                        lambda seed: [560 + seed, 1150], evaluate)
    getattr(bench_a, f"stage_{stage}")()
    result = bench_a.read(stage)
    assert bench_a.done(stage) and sorted(result["curves"]) == sorted(f"seed{seed}" for seed in (2, *added))
    assert result["curves"]["seed2"] == {k: v for k, v in one_seed.items() if k not in bench_a.header(stage)}
    assert (bench_a.root / stage / "seed2" / "engine").is_dir() and not (bench_a.root / stage / "engine").exists()
    assert picked(calls, "engine", "out", "steps", "save_steps", "learning_rate", "ce_weight", "o1_temperature",
                  "seed") == [(f"{stage}/seed{seed}/engine", 400, 200, 3e-5, 0.0, 0.25, seed) for seed in added]
    assert picked(calls, "control", "out", "seed", "learning_rate", "lr_scheduler_type", "stop", "pending") == [
        (f"{stage}/seed{seed}/control", seed, 3e-5, "constant", 4.0, [2.0]) for seed in added]
    assert [[p["control_step"] for p in result["curves"][f"seed{seed}"]["points"]] for seed in (2, *added)] == [
        [562, 1150], *([560 + seed, 1150] for seed in added)]


def test_pure_energy_at_the_predicted_lengths_runs_five_seeds_and_is_set_against_the_reference_lengths(tmp_path,
                                                                                                       monkeypatch):
    def evaluate(model, split="test", num_iterations=1, **kwargs):
        bleu = {"engine": 16.0, "control": 15.0}.get(model.name, 14.8 if "checkpoint" in model.name else 14.0)
        return {"libreoffice": {"bleu": bleu, "chrf": 46.0, "repetition": 0.3, "teacher_energy": 5.0}}

    bench_a = make_bench(tmp_path, "a", quick=False)
    stage = "still_peak_pure_predicted"
    assert bench_a.benchmark.stages.index(stage) > bench_a.benchmark.stages.index("lengths_targets")
    assert settings.SHARP_PURE_PREDICTED.key == "engine (O1 temperature 0.25, lr 3e-05, ce_weight 0, predicted lengths)"
    assert settings.SHARP_PURE_PREDICTED.folder == "lr3e-05-ce0-t0.25-predicted"
    assert settings.SHARP_PURE_FAST.key == "engine (O1 temperature 0.25, lr 3e-05, ce_weight 0)"  # names kept
    fake_model(bench_a.root / "cmlm_peak_still")
    calls = fake_curve_training(bench_a, monkeypatch, lambda seed: [560 + seed, 1150])
    monkeypatch.setattr(bench_a, "evaluate", evaluate)
    bench_a.stage_still_peak_pure_predicted()
    assert picked(calls, "engine", "out", "learning_rate", "ce_weight", "o1_temperature", "energy_length", "seed",
                  "dropout") == [(f"{stage}/seed{seed}/engine", 3e-5, 0.0, 0.25, "predicted", seed, False)
                                 for seed in (2, 0, 1, 3, 4)]
    assert picked(calls, "control", "seed", "learning_rate", "lr_scheduler_type") == [
        (seed, 3e-5, "constant") for seed in (2, 0, 1, 3, 4)]
    result = bench_a.read(stage)
    assert bench_a.done(stage) and {curve["energy_length"] for curve in result["curves"].values()} == {"predicted"}
    at_reference = {"curves": {name: {k: v for k, v in curve.items() if k != "energy_length"}
                               for name, curve in result["curves"].items()}}
    text = section_budget_seeds(result, None, None, None, stage=stage,
                                            against=(at_reference, "still_peak_pure_fast"))
    assert text.startswith("**Pure energy (`ce_weight` 0) with the sharp O1 at lr 3e-05, at the predicted lengths from "
                           "`cmlm_peak_still` at 200 and 400 steps, over seeds** (`still_peak_pure_predicted`: O1 "
                           "temperature 0.25, lr 3e-05, `ce_weight` 0, the energy at the predicted lengths, 400 energy "
                           "steps from cmlm_peak_still,")
    assert ("Against `still_peak_pure_fast` (the same start, O1 and steps; the energy at the reference lengths where "
            "this stage takes it at the predicted ones), mean over 5 seeds (0, 1, 2, 3, 4):") in text


def write_target_curves(a, bleu: dict[str, float], chrf: float = 50.0) -> None:
    """`still_peak_pure_fast` as `significance` and `lengths_targets` read it: seeds 2 and 1 finished with their models
    and start on disk (seed 2's ENGINE recorded 0.5 BLEU above `bleu`), seed 0's control gone, seed 3 unfinished."""
    start = a.root / "cmlm_peak_still"
    for folder in (start, *(a.root / "still_peak_pure_fast" / f"seed{seed}" / side
                            for seed in (2, 0, 1) for side in ("engine", "control"))):
        fake_model(folder)
    (start / "model.safetensors").write_bytes(b"weights")
    shutil.rmtree(a.root / "still_peak_pure_fast" / "seed0" / "control")

    def curve(seed: int, engine_bleu: float, partial: bool = False) -> dict:
        return {"seed": seed, "initialised_from": "cmlm_peak_still", "start_sha256": bench.weights_digest(start),
                "partial": partial, "start": {"bleu": bleu["start"], "chrf": chrf}, "points": [
                    {"engine_step": 400, "control_step": 1197, "engine_bleu": engine_bleu, "engine_chrf": chrf + 1,
                     "control_bleu": bleu["control"], "control_chrf": chrf}]}

    a.write("still_peak_pure_fast", {"curves": {"seed2": curve(2, bleu["engine"] + 0.5), "seed0": curve(0, 1.0),
                                                "seed1": curve(1, bleu["engine"]), "seed3": curve(3, 1.0, partial=True)}})


def test_lengths_targets_scores_each_finished_seed_at_the_reference_lengths(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    with pytest.raises(SystemExit, match=r"lengths_targets: no finished seed of still_max_budget, .*none run"):
        a.stage_lengths_targets()
    write_target_curves(a, {"start": 14.0, "engine": 16.0, "control": 15.0})
    at_reference = {"cmlm_peak_still": 16.5, "engine": 17.0, "control": 16.8}
    scored = []

    at_predicted = {"cmlm_peak_still": 14.2, "engine": 16.1, "control": 15.1}

    def oracle(model, teacher, data, split="validation", length_beam=None):
        scored.append((Path(model).relative_to(a.root).as_posix(), split, length_beam))
        name = Path(model).name
        return {"bleu": at_reference[name], "chrf": 52.0, "length_ratio": 1.02, "length_head_offset": -1.5,
                "length_head_exact": 0.2, "sentences": 195,
                "predicted": {"bleu": at_predicted[name], "chrf": 50.0, "length_ratio": 0.95}}

    monkeypatch.setattr(target_stages, "oracle_length_scores", oracle)
    monkeypatch.setattr(bench.Bench, "teacher_dir", tmp_path / "teacher")
    a.stage_lengths_targets()
    assert scored == [(folder, "test", 3) for folder in (  # the start once, seed 0 (its control gone) never
        "cmlm_peak_still", "still_peak_pure_fast/seed2/engine", "still_peak_pure_fast/seed2/control",
        "still_peak_pure_fast/seed1/engine", "still_peak_pure_fast/seed1/control")]
    result = a.read("lengths_targets")
    assert result["gone"] == ["still_peak_pure_fast, seed0", "still_peak_pure_fast, seed3"]
    engine = [row for row in result["rows"] if row["system"] == "engine"]
    assert [(row["seed"], row["predicted_lengths"]["bleu"]) for row in engine] == [(2, 16.5), (1, 16.0)]
    text = section_lengths_targets(result)
    assert "on the 195 of those whose reference fits the student" in text
    assert ("| `still_peak_pure_fast` | `cmlm_peak_still` | 2 | 14.00 / 50.0 | 14.20 / 50.0 / 0.95 | 16.50 / 52.0 / 1.02 "
            "| +2.30 | -1.50 / 20% |") in text
    assert ("| `still_peak_pure_fast` | engine | 2 | 16.25 / 51.0 | 16.10 / 50.0 / 0.95 | 17.00 / 52.0 / 1.02 | +0.90 "
            "| -1.50 / 20% |") in text  # recorded: seed 2 0.5 above seed 1
    assert ("- `still_peak_pure_fast`: ENGINE - start +1.90 BLEU / +0.00 chrF at the predicted lengths, +0.50 / +0.00 at "
            "the reference lengths; ENGINE - control +1.00 / +0.00 and +0.20 / +0.00") in text


def test_examples_targets_sets_the_median_seed_beside_its_start_control_and_teacher(tmp_path, monkeypatch):
    import engine_hf.inference
    import engine_hf.training

    a = make_bench(tmp_path, "a", quick=False)
    assert "examples_targets" in a.benchmark.stages
    write_target_curves(a, {"start": 14.0, "engine": 16.0, "control": 15.0})
    a.write("still_peak_pure_fast", {"curves": {**a.read("still_peak_pure_fast")["curves"], "seed4": {
        **a.read("still_peak_pure_fast")["curves"]["seed1"], "seed": 4}}})  # 16.0 too; its folders are missing
    for side in ("engine", "control"):
        fake_model(a.root / "still_peak_pure_fast" / "seed4" / side)
    # Seeds by recorded BLEU: 1 and 4 (16.0), 2 (16.5); the median is seed 4, whatever its outputs.
    test = [{"en": f"source {i}", "pt": f"alvo {i}"} for i in range(12)]
    monkeypatch.setattr(engine_hf.training, "load_corpus_splits", lambda data: {"test": {"translation": test}})
    monkeypatch.setattr(bench.Bench, "teacher_dir", tmp_path / "teacher")
    calls = []

    def translate(model, sources, **kwargs):
        calls.append((Path(model).relative_to(tmp_path).as_posix(), kwargs))
        return iter(f"{Path(model).name} {kwargs.get('num_iterations', 'greedy')} {s}" for s in sources)

    monkeypatch.setattr(engine_hf.inference, "translate", translate)
    a.stage_examples_targets()
    result = a.read("examples_targets")
    assert (result["seed"], result["seeds"], result["recorded_bleu"]) == (
        4, [1, 4, 2], {"start": 14.0, "engine": 16.0, "control": 15.0})
    assert calls == [("teacher", {"num_beams": 1}),
                     ("runs/bench/cmlm_peak_still", {"num_iterations": 1, "length_beam": 3}),
                     ("runs/bench/still_peak_pure_fast/seed4/control", {"num_iterations": 1, "length_beam": 3}),
                     ("runs/bench/still_peak_pure_fast/seed4/engine", {"num_iterations": 1, "length_beam": 3}),
                     ("runs/bench/still_peak_pure_fast/seed4/engine", {"num_iterations": 10, "length_beam": 3})]
    assert [row["source"] for row in result["examples"]] == [f"source {i}" for i in (0, 2, 4, 6, 8, 10)]
    assert result["examples"][1] == {"source": "source 2", "reference": "alvo 2", "teacher (greedy)": "teacher greedy source 2",
                                     "start (cmlm_peak_still), 1 it.": "cmlm_peak_still 1 source 2",
                                     "CE control, 1 it.": "control 1 source 2", "ENGINE, 1 it.": "engine 1 source 2",
                                     "ENGINE, 10 it.": "engine 10 source 2"}
    text = section_examples_targets(result)
    assert "`still_peak_pure_fast`'s seed 4, the median of seeds 1, 4, 2 ranked by" in text
    assert "- **source:** source 2\n  - reference: alvo 2\n  - teacher (greedy): teacher greedy source 2\n" in text


def test_significance_redecodes_each_finished_seed_and_bootstraps_its_gaps(tmp_path, monkeypatch):
    import engine_hf.inference
    import engine_hf.training
    from engine_hf import corpus_scores
    from engine_hf.inference import Decoded

    a = make_bench(tmp_path, "a", quick=False)
    assert {"significance", "lengths_targets"} <= set(a.benchmark.stages)
    with pytest.raises(SystemExit, match=r"significance: no finished seed of still_max_budget, .*none run"):
        a.stage_significance()
    monkeypatch.setitem(a.budget, "eval_sentences", 8)  # the tables score the first 8 of 12 test pairs
    references = [f"Inserir {i} células abaixo da seleção" for i in range(12)]
    outputs = {"cmlm_peak_still": [f"Inserir {i} células" for i in range(12)],
               "engine": [f"Inserir {i} células abaixo" for i in range(12)],
               "control": [f"Inserir {i} células abaixo da" if i in (0, 9) else f"Inserir {i} células" for i in range(12)]}
    bleu = {who: corpus_scores(hyps[:8], references[:8])["bleu"] for who, hyps in outputs.items()}
    write_target_curves(a, {"start": bleu["cmlm_peak_still"], "engine": bleu["engine"], "control": bleu["control"]})
    monkeypatch.setattr(engine_hf.training, "load_corpus_splits", lambda data: {"test": {"translation": [
        {"en": f"source {i}", "pt": r} for i, r in enumerate(references)][: data.max_eval_samples]}})
    monkeypatch.setattr(engine_hf.inference, "load_model", lambda path: (Path(path).name, None))
    monkeypatch.setattr(engine_hf.inference, "generation_kwargs", lambda model, n, beam, beams: {"n": n, "beam": beam})
    decoded = []

    def decode(model, tokenizer, sources, teacher=None, batch_size=32, **kwargs):
        decoded.append((model, len(sources), kwargs))
        hyps = [outputs[model][int(source.split()[1])] for source in sources]
        return Decoded(hyps, [[1]] * len(sources), None)

    monkeypatch.setattr(engine_hf.inference, "decode", decode)
    a.stage_significance()
    # Each model decodes the scored 8 alone (as its curve did) and the unseen 4; the start only once for both seeds.
    assert decoded[:4] == [("cmlm_peak_still", 8, {"n": 1, "beam": 3}), ("cmlm_peak_still", 4, {"n": 1, "beam": 3}),
                           ("engine", 8, {"n": 1, "beam": 3}), ("engine", 4, {"n": 1, "beam": 3})]
    assert len(decoded) == 10
    result = a.read("significance")
    assert result["sentences"] == {"scored": 8, "unseen": 4, "all": 12}
    assert result["gone"] == ["still_peak_pure_fast, seed0", "still_peak_pure_fast, seed3"]
    row, _ = result["rows"]
    assert [row["seed"] for row in result["rows"]] == [2, 1]
    assert (row["stage"], row["seed"], row["engine_step"], row["control_step"]) == ("still_peak_pure_fast", 2, 400, 1197)
    assert row["redecoded_bleu"] == pytest.approx({"start": bleu["cmlm_peak_still"], "engine": bleu["engine"],
                                                   "control": bleu["control"]})
    rise = row["slices"]["scored"]["engine_vs_start"]["bleu"]
    assert rise["difference"] == pytest.approx(bleu["engine"] - bleu["cmlm_peak_still"]) and rise["low"] > 0
    assert rise["p_not_better"] == 0.0  # ahead on every sentence
    over = row["slices"]["scored"]["engine_vs_control"]["bleu"]  # ahead on 7 of the 8 sentences, behind on 1
    assert over["difference"] == pytest.approx(bleu["engine"] - bleu["control"]) and over["low"] < over["difference"]
    everything = row["slices"]["all"]["engine_vs_control"]["bleu"]
    assert everything["difference"] == pytest.approx(corpus_scores(outputs["engine"], references)["bleu"]
                                                     - corpus_scores(outputs["control"], references)["bleu"])
    # Both seeds decoded the same outputs here, so their mean on the shared resamples is each seed's test.
    assert result["means"] == {"still_peak_pure_fast": {"seeds": 2, "slices": row["slices"]}}
    text = section_significance(result)
    assert "Seeds whose models were gone or unfinished: still_peak_pure_fast, seed0; still_peak_pure_fast, seed3." in text
    assert f"| `still_peak_pure_fast` | `cmlm_peak_still` | 2 | {rise['difference']:+.2f} [" in text
    assert text.count("| **no** (up to 0.50 BLEU apart) |") == 1  # seed 2's engine BLEU recorded 0.5 above
    assert "The other 4 sentences of the same held-out help files" in text and "All 12 test sentences" in text
    assert text.count("| `still_peak_pure_fast` | `cmlm_peak_still` | **mean of 2** | ") == 3  # one per slice
    assert text.count("| `still_peak_pure_fast` | `cmlm_peak_still` | 1 | ") == 2  # seeds: scored and unseen only
    whole = row["slices"]["all"]["engine_vs_start"]["bleu"]
    assert (f"- `still_peak_pure_fast`, all 12 sentences: the mean rise over the start, {whole['difference']:+.2f} "
            f"BLEU [{whole['low']:+.2f}, {whole['high']:+.2f}], is clear of 0 and excludes +3") in text


def test_rescoring_targets_scores_each_model_once_by_both_choosers_and_keeps_what_it_scored(tmp_path, monkeypatch):
    a = make_bench(tmp_path, "a", quick=False)
    assert a.benchmark.stages[-1] == "rescoring_targets"
    write_target_curves(a, {"start": 14.0, "engine": 16.0, "control": 15.0})
    monkeypatch.setattr(bench.Bench, "teacher_dir", tmp_path / "teacher")
    base = {"cmlm_peak_still": 14.0, "engine": 16.0, "control": 15.0}
    calls = []

    def evaluate(model, split="test", corpora=None, num_iterations=1, length_beam=3, rescoring_model=None):
        calls.append((Path(model).relative_to(a.root).as_posix(), length_beam, rescoring_model is not None))
        seed_one = 0.5 if "seed1" in str(model) else 0.0  # seed 1's ENGINE and control half a point up
        # the teacher's choice lifts the start by 1.5 and the others by 1, beam 5 by 0.2 more
        bleu = (base[Path(model).name] + seed_one + (length_beam == 5) * 0.2
                + (rescoring_model is not None) * (1.5 if Path(model).name == "cmlm_peak_still" else 1.0))
        return {"libreoffice": {"bleu": bleu, "chrf": 3 * bleu}}

    monkeypatch.setattr(a, "evaluate", evaluate)
    a.stage_rescoring_targets()
    # the start once (shared by both seeds), seed 0 (its control gone) and seed 3 (unfinished) never
    models = ["cmlm_peak_still", "still_peak_pure_fast/seed2/engine", "still_peak_pure_fast/seed2/control",
              "still_peak_pure_fast/seed1/engine", "still_peak_pure_fast/seed1/control"]
    assert calls == [(m, beam, teacher) for m in models for beam in (3, 5) for teacher in (False, True)]
    result = a.read("rescoring_targets")
    assert result["partial"] is False and result["gone"] == ["still_peak_pure_fast, seed0", "still_peak_pure_fast, seed3"]
    assert [(row["seed"], row["system"]) for row in result["systems"]][:3] == [(2, "start"), (2, "engine"),
                                                                              (2, "control")]
    a.stage_rescoring_targets()  # everything scored is kept
    assert len(calls) == 20
    teacher = {"greedy": {"libreoffice": {"bleu": 50.0}}}
    text = section_rescoring_targets(result, teacher)
    assert ("| `still_peak_pure_fast` | `cmlm_peak_still` | 14.00 / 42.0 | 15.50 / 46.5 | 14.20 / 42.6 | 15.70 / 47.1 |"
            in text)
    assert "| `still_peak_pure_fast` | engine | 16.25 / 48.8 | 17.25 / 51.8 | 16.45 / 49.3 | 17.45 / 52.3 |" in text
    assert ("- `still_peak_pure_fast`: ENGINE - start over 2 seeds: +2.25 BLEU (from +2.00 to +2.50) at length beam 3, "
            "student; +1.75 BLEU (from +1.50 to +2.00) at length beam 3, teacher;") in text
    assert "- `still_peak_pure_fast`: ENGINE - control over 2 seeds: +1.00 BLEU at length beam 3, student;" not in text
    assert "ENGINE - control over 2 seeds: +1.00 BLEU (from +1.00 to +1.00) at length beam 3, student" in text
    assert ("ENGINE's best column (length beam 5, teacher) is 17.45 BLEU, 35% of teacher greedy (50.00)") in text


def test_rescoring_targets_table_keeps_each_stage_apart_and_shares_a_start_scored_once():
    def scores(bleu: float) -> dict:
        return {f"length beam {beam}, {chooser}": {"bleu": bleu + (beam == 5) + 2 * (chooser == "teacher"),
                                                   "chrf": 40.0} for beam in (3, 5) for chooser in ("student", "teacher")}

    rows = {"start": {"scores": scores(10.0)}, "a/engine": {"scores": scores(13.0)}, "a/control": {"scores": scores(12.0)},
            "b/engine": {"scores": scores(11.0)}, "b/control": {"scores": scores(10.5)}}
    systems = [{"stage": stage, "seed": 0, "start": "cmlm_x", "system": who, "model": model}
               for stage in ("a", "b") for who, model in (("start", "start"), ("engine", f"{stage}/engine"),
                                                           ("control", f"{stage}/control"))]
    data = {"length_beams": [3, 5], "rows": rows, "systems": systems, "gone": [], "scale": {"eval_sentences": 200},
            "command": "python scripts/bench.py --stages rescoring_targets"}
    text = section_rescoring_targets(data, None)
    table_rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[:2] for row in table_rows] == [["| `a`", "`cmlm_x`"], ["| `a`", "engine"], ["| `a`", "control"],
                                                            ["| `b`", "`cmlm_x`"], ["| `b`", "engine"], ["| `b`", "control"]]
    assert "- `a`: ENGINE - start over 1 seed: +3.00 BLEU at length beam 3, student;" in text
    assert "- `b`: ENGINE - control over 1 seed: +0.50 BLEU at length beam 3, student;" in text
    assert "of teacher greedy" not in text  # no teacher scores given


def test_significance_on_labels_tests_the_transfer_stage_on_a_split_it_scores_whole(tmp_path, monkeypatch):
    import engine_hf.inference
    import engine_hf.training
    from engine_hf import corpus_scores
    from engine_hf.inference import Decoded

    labels = make_bench(tmp_path, "labels", quick=False)
    assert labels.benchmark.stages[-3:] == ("still_long_pure_fast", "still_further_pure_fast", "significance")
    start = labels.root / "cmlm_long_still"
    for folder in (start, *(labels.root / "still_long_pure_fast" / f"seed{seed}" / side
                            for seed in (0, 1) for side in ("engine", "control"))):
        fake_model(folder)
    point = {"engine_step": 400, "control_step": 900, "engine_bleu": 1.0, "engine_chrf": 1.0, "control_bleu": 1.0,
             "control_chrf": 1.0}
    labels.write("still_long_pure_fast", {"curves": {f"seed{seed}": {
        "seed": seed, "initialised_from": "cmlm_long_still", "start_sha256": bench.weights_digest(start),
        "partial": False, "start": {"bleu": 1.0, "chrf": 1.0}, "points": [point]} for seed in (0, 1)}})
    references = [f"Inserir {i} células abaixo" for i in range(6)]  # fewer test pairs than eval_sentences (200)
    outputs = {"cmlm_long_still": [f"Inserir {i}" for i in range(6)],
               "engine": [f"Inserir {i} células abaixo" for i in range(6)],
               "control": [f"Inserir {i} células" for i in range(6)]}
    labels_pairs = [{"en": f"source {i}", "pt": r} for i, r in enumerate(references)]
    # A's test split holds labels' pairs 1 and 4 among the 200 its tables score (and one pair labels drops)
    a_pairs = [labels_pairs[1], {"en": "Insert a row above the selection", "pt": "Inserir"}, labels_pairs[4]]
    monkeypatch.setattr(labels, "short_segments", lambda: Path("libreoffice-max4words"))
    monkeypatch.setattr(engine_hf.training, "load_corpus_splits", lambda data: {"test": {"translation": (
        a_pairs if data.corpus == "libreoffice" else labels_pairs)[: data.max_eval_samples]}})
    monkeypatch.setattr(engine_hf.inference, "load_model", lambda path: (Path(path).name, None))
    monkeypatch.setattr(engine_hf.inference, "generation_kwargs", lambda model, n, beam, beams: {})
    decoded = []

    def decode(model, tokenizer, sources, **kwargs):
        decoded.append((model, len(sources)))
        return Decoded([outputs[model][int(source.split()[1])] for source in sources], [[1]] * len(sources), None)

    monkeypatch.setattr(engine_hf.inference, "decode", decode)
    labels.stage_significance()
    assert decoded == [("cmlm_long_still", 6), ("engine", 6), ("control", 6), ("engine", 6), ("control", 6)]
    result = labels.read("significance")
    assert result["stages"] == ["still_long_pure_fast", "still_further_pure_fast"]  # the second not run: left out
    assert result["sentences"] == {"scored": 6, "all": 6, "outside_a": 4}
    assert [row["seed"] for row in result["rows"]] == [0, 1]
    outside = result["means"]["still_long_pure_fast"]["slices"]["outside_a"]["engine_vs_control"]["bleu"]
    assert outside["difference"] == pytest.approx(
        corpus_scores([outputs["engine"][i] for i in (0, 2, 3, 5)], [references[i] for i in (0, 2, 3, 5)])["bleu"]
        - corpus_scores([outputs["control"][i] for i in (0, 2, 3, 5)], [references[i] for i in (0, 2, 3, 5)])["bleu"])
    text = section_significance(result)
    assert "The other" not in text and "All 6 test sentences" not in text  # all = scored here: one table, not two
    assert "The 4 of them outside the 200 test sentences A's tables score" in text
    assert "- `still_long_pure_fast`, all 6 sentences: the mean rise over the start" in text
    assert f"on the 4 outside A's scored sentences the lead is {outside['difference']:+.2f} BLEU" in text
