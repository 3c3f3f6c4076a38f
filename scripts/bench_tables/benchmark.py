"""One benchmark's part of docs/RESULTS.md (`section_bench`): its main table, its targets and setup, then each stage
that has run, in the order the stages were added; each stage is drawn by the module of its topic."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .common import SCORE_COLUMNS, cells, dev_bleu_said, load, partial_note, source, table, unseeded_cmlms
from .curves import (
    TRANSFER_STAGES,
    section_budget,
    section_budget_seeds,
    section_fast,
    section_transfer,
    seed_curves,
)
from .decoding import (
    section_length_choice,
    section_lengths_strong,
    section_output_chars,
    section_ranking,
    section_rescoring,
)
from .engine_settings import (
    first_checkpoint_pairs,
    section_confirm,
    section_descent,
    section_edge_by_start,
    section_sharp,
    section_slow_control,
    section_stronger,
    section_unfrozen,
    section_wide,
)
from .plots import plot_name
from .still_encoder import (
    pooled_pairs,
    rise_points,
    rise_stages,
    section_more_steps,
    section_rise_by_start,
    section_still_encoder,
    section_still_long,
    section_still_main,
    section_still_more,
    section_still_rebuilt,
)
from .targets import (
    section_examples_targets,
    section_lengths_targets,
    section_rescoring_targets,
    section_significance,
    section_targets,
)


def bench_rows(prefix: str, suffix: str) -> list[list] | None:
    """The issue's main table: each system of items 1-5 that has run, at 1 and 10 iterations, on both test corpora;
    each row names its stage (`python scripts/bench.py --stages STAGE` writes it)."""
    names = {"teacher": None, "cmlm_ref": "CMLM (references)", "cmlm_kd": "CMLM (distilled)",
             "cmlm_long": "CMLM (distilled, +CE steps)", "engine": "ENGINE (SX/ST)", "control": "CMLM + matched-compute CE",
             "engine_selected": "ENGINE (SX/ST), lowest dev energy"}
    selected = load(f"{prefix}engine_selected{suffix}")
    if selected:  # at step 0 the "selected ENGINE" is the starting CMLM itself: say which step it is
        names["engine_selected"] += f" (step {selected['selected_step']})"
    rows = []
    teacher = load(f"{prefix}teacher{suffix}")
    if teacher:
        for label, key in (("teacher greedy", "greedy"), ("teacher beam 4", "beam4")):
            s = teacher[key]
            rows.append([f"{label} (`teacher`)", "-", *cells(s)])
    for stage, label in names.items():
        data = load(f"{prefix}{stage}{suffix}")
        if not data or label is None:
            continue
        for iterations in ("1_iterations", "10_iterations"):
            rows.append([f"{label} (`{stage}`)", iterations.split("_")[0], *cells(data[iterations])])
    return rows or None


def seeding_said(prefix: str, suffix: str) -> str:
    """Seed 0 everywhere, but for the CMLMs trained before the student was seeded (`unseeded_cmlms`)."""
    unseeded = unseeded_cmlms(prefix, suffix)
    if not unseeded:
        return "Seed 0 everywhere."
    names = " and ".join(f"`{name}`" for name in unseeded)
    return (f"Seed 0 everywhere, except the initialisation of {names} (and so of everything trained from them): "
            "recorded before the student's new layers were seeded, so their commands train another draw of the same "
            "recipe, and these rows cannot be repeated exactly (\"Rerunning a stage reproduces its model\" above; A's "
            "seeded rerun from nothing is `make bench RERUN=fresh`, tabled in \"`make bench` again from nothing\").")


def section_setup(prefix: str, suffix: str) -> str | None:
    """Corpus sizes, parameter counts and side-by-side translations, from the `examples` stage."""
    data = load(f"{prefix}examples{suffix}")
    if not data:
        return None
    sizes = [[Path(corpus).name, *(n.get(split, "-") for split in ("train", "validation", "test"))]
             for corpus, n in data["corpus_sizes"].items()]
    params = [[name, f"{p['total'] / 1e6:.1f}M", *(p["config"].get(k) for k in ("encoder_layers", "decoder_layers",
                                                                               "d_model", "vocab_size"))]
              for name, p in data["parameters"].items()]
    text = ("**Setup.** Corpus sizes (pairs; test scores use the first "
            f"{data['scale']['eval_sentences']} pairs of each test split):\n\n"
            + table(["corpus", "train", "validation", "test"], sizes) + "\n\nModels:\n\n"
            + table(["model", "parameters", "encoder layers", "decoder layers", "d_model", "vocabulary"], params)
            + f"\n\nStudent: `{data['student_config']}`, the teacher's encoder copied and frozen (with the token "
            "embeddings, which the decoder input and output layer share). " + seeding_said(prefix, suffix))
    systems = [k for k in data["examples"][0] if k not in ("source", "reference")]
    examples = []
    for row in data["examples"]:
        examples.append(f"- **source:** {row['source']}\n  - reference: {row['reference']}")
        examples += [f"  - {name}: {row[name]}" for name in systems]
    return text + "\n\n**Example translations** (help test set):\n\n" + "\n".join(examples)


def section_start_choice(start_choice: dict | None, engine: dict | None) -> str | None:
    """Which CMLM ENGINE and its control start from: the issue's "better CMLM", chosen on dev by `start_choice`; or,
    for a record older than that stage, the only CMLM trained when ENGINE ran (`cmlm_ref` came after it then)."""
    if start_choice:
        decoding = start_choice["decoding"]
        text = (f"**ENGINE's start** (`start_choice`: {decoding['split']} set, {decoding['num_iterations']} iteration, "
                f"length beam {decoding['length_beam']}): dev BLEU {dev_bleu_said(start_choice)}, so "
                f"`{start_choice['better']}`")
        started = start_choice.get("engine_started_from")
        if started:  # ENGINE ran before this stage existed: it checks the start instead of choosing it
            text += (f"; ENGINE had already started from `{started}`, "
                     + ("the same" if started == start_choice["better"] else "**not the better one**"))
        return text + ". " + source(start_choice)
    if engine:
        order = engine.get("benchmark_stages", [])
        if order and "cmlm_ref" not in order:
            return f"**ENGINE's start:** `{engine['initialised_from']}` (this benchmark trains no other CMLM)."
        why = ("its stage list then ran ENGINE before `cmlm_ref`, so `cmlm_kd` was the only CMLM trained"
               if order and order.index("engine") < order.index("cmlm_ref") else "as the engine stage recorded it")
        return (f"**ENGINE's start:** `{engine['initialised_from']}` ({why}; `start_choice`, which now picks the "
                "better CMLM on dev before ENGINE runs, has not run for this record).")
    return None


def section_dev_curve(data: dict) -> str:
    """ENGINE's two energies side by side: the relaxed one it minimises and the discrete one it is selected on."""
    train = {row["step"]: row for row in data["train_log"]}
    rows = [[point["step"], f"{point['dev_discrete_energy']:.3f}",
             *(f"{train[point['step']][k]:.3f}" if point["step"] in train and k in train[point["step"]] else "-"
               for k in ("energy", "ce_loss"))]
            for point in data["dev_curve"]]
    return ("**ENGINE's energies during training** (`engine_selected`: the engine stage's settings, evaluated every "
            f"{data['scale']['logging_steps']} steps; step 0 is the starting CMLM). Dev discrete energy = the "
            "teacher's energy of the argmax outputs at reference lengths (the paper's selection criterion), as the "
            "Trainer's evaluation computes it (per-token mean of each batch, averaged over batches: long sentences "
            "weigh more, so it is not on the scale of the per-sentence averages in the Table 2 and lengths tables); "
            "relaxed energy and "
            "CE = the training batches' averages since the previous row. "
            f"Selected: step {data['selected_step']}.\n\n"
            + table(["step", "dev discrete energy", "training energy (relaxed, SX/ST)", "training CE"], rows))


def stage_loader(prefix: str, suffix: str) -> Callable[[str], dict | None]:
    """`stage(name)`: that stage's results JSON of one benchmark and slice (None where it has not run)."""
    return lambda name: load(f"{prefix}{name}{suffix}")


def section_bench(prefix: str, suffix: str, title: str) -> str | None:
    """One benchmark's tables: `prefix` is `bench_` (A) or `bench_b_` (B), `suffix` `_quick` for the quick slice.

    The main table, targets and setup, then each line of work in the order it ran (`bench_stages`' modules):
    the first recipe, labels' stronger starts, A's still-encoder line, and the checks on the targets' seeds."""
    rows = bench_rows(prefix, suffix)
    if not rows:
        return None
    return (main_tables(prefix, suffix, title, rows) + first_recipe_sections(prefix, suffix)
            + labels_sections(prefix, suffix) + still_sections(prefix, suffix) + closing_sections(prefix, suffix))


def main_tables(prefix: str, suffix: str, title: str, rows: list[list]) -> str:
    """The issue's table, the targets, the setup, what has not run, and the budgets and hardware it ran with."""
    stage = stage_loader(prefix, suffix)
    any_stage = next(stage(s) for s in ("teacher", "cmlm_ref", "engine") if stage(s))
    header = ["system", "iterations", *SCORE_COLUMNS][: len(rows[0])]
    text = f"### {title}\n\n" + table(header, rows)
    for extra in (section_start_choice(stage("start_choice"), stage("engine")), section_targets(prefix, suffix),
                  section_setup(prefix, suffix)):
        if extra:
            text += "\n\n" + extra
    stages = any_stage.get("benchmark_stages") or ("teacher", "cmlm_ref", "distill", "cmlm_kd", "engine", "control",
                                                   "examples", "table2", "gain", "sweep", "cmlm_long", "lengths",
                                                   "engine_selected")
    missing = [name for name in stages if not stage(name) or stage(name).get("partial")]
    if missing:
        text += f"\n\n**Not run yet, or unfinished, at this budget:** {', '.join(missing)} (see the issue notes)."
    flags = "" if prefix == "bench_" else f"--benchmark {prefix.removeprefix('bench_').rstrip('_')} "
    text += f"\n\n*Budgets: {json.dumps(any_stage['scale'])}. Each stage: `python scripts/bench.py {flags}--stages STAGE"
    text += " --quick" if suffix else ""
    text += f"`. Hardware: {any_stage['hardware']}.*"
    if "teacher" in any_stage:  # benchmark B: its own teacher, frozen when the benchmark first used it
        teacher = any_stage["teacher"]
        at = f" taken at training step {teacher['steps']}" if teacher.get("steps") is not None else ""
        text += f" *Teacher: a copy of `{teacher['source']}`{at}.*"
    return text


def first_recipe_sections(prefix: str, suffix: str) -> str:
    """Table 2, the sweep, the lengths, the dev curve, the gain plot, and the first recipe's studies."""
    stage = stage_loader(prefix, suffix)
    text = ""
    table2 = stage("table2")
    if table2:
        rows2 = [[k, f"{v['discrete_energy']:.3f}", v["bleu"], v["chrf"], f"{v['repetition']:.2f}"]
                 for k, v in table2["rows"].items()]
        text += ("\n\n**Table 2 at small scale** (dev set, oracle lengths, one pass; each pair trained "
                 f"{table2['steps_per_pair']} steps from the same CMLM){partial_note(table2, 25)}:\n\n"
                 + table(["O1/O2", "discrete energy", "BLEU", "chrF", "repetition"], rows2) + "\n\n" + source(table2))
    sweep = stage("sweep")
    if sweep:
        rows4 = [[k, v["bleu"], v["chrf"], f"{v['repetition']:.2f}", f"{v['teacher_energy']:.2f}"]
                 for k, v in sweep["rows"].items()]
        text += ("\n\n**Which ENGINE settings help?** Dev set (help), 1 iteration, length beam 3; every ENGINE row "
                 f"is {sweep['steps']} energy steps from the same CMLM ({sweep['initialised_from']}), the control is CE "
                 f"for the same wall time{partial_note(sweep)}:\n\n"
                 + table(["system", "dev BLEU", "dev chrF", "repetition", "teacher energy"], rows4) + "\n\n" + source(sweep))
    lengths = stage("lengths")
    if lengths:
        rows5 = [[name, *(f"{r[kind]['bleu']:.2f} / {r[kind]['chrf']:.1f} / {r[kind]['length_ratio']:.2f} / "
                          f"{r[kind]['repetition']:.2f}" for kind in ("predicted_lengths", "oracle_lengths"))]
                 + [f"{r['predicted_lengths']['teacher_energy']:.2f}", f"{r['oracle_lengths']['discrete_energy']:.2f}"]
                 for name, r in lengths["rows"].items()]
        text += ("\n\n**Length head or tokens?** Dev set (help), one pass: at the lengths the model predicts (length "
                 "beam 3) and at the reference lengths. Length ratio = output/reference length in sacrebleu's 13a "
                 "tokens; energies in nats per token, lower = the teacher likes the output more:\n\n"
                 + table(["system", "predicted lengths: BLEU / chrF / length ratio / rep.",
                          "oracle lengths: BLEU / chrF / length ratio / rep.", "teacher energy (predicted)",
                          "discrete energy (oracle)"], rows5) + "\n\n" + source(lengths))
    selected = stage("engine_selected")
    if selected:
        text += "\n\n" + section_dev_curve(selected)
    gain = stage("gain")
    if gain:
        rows3 = [[p["checkpoint"], *(f"{p[f'{who}_bleu']:.2f} / {p.get(f'{who}_chrf', float('nan')):.1f} / "
                                     f"{p[f'{who}_repetition']:.2f}" for who in ("start", "engine", "control"))]
                 for p in sorted(gain["points"], key=lambda p: p["start_bleu"])]
        text += ("\n\n**ENGINE gain against the starting CMLM** (help test set, 1 iteration, length beam 3; "
                 f"ENGINE = {gain.get('energy_steps', '')} energy steps with the `engine` stage's settings, control = CE "
                 f"for ENGINE's wall time, both from the start checkpoint){partial_note(gain)}:\n\n"
                 + table(["start CMLM", "start BLEU / chrF / rep.", "ENGINE BLEU / chrF / rep.",
                          "matched CE control BLEU / chrF / rep."], rows3) + "\n\n" + source(gain))
        text += f"\n\n![ENGINE gain]({plot_name(prefix, suffix)})"
    for name, section in (("confirm", section_confirm), ("ranking", section_ranking), ("rescoring", section_rescoring),
                          ("descent", section_descent)):
        if found := stage(name):
            text += "\n\n" + section(found)
    confirm, sharp = stage("confirm"), stage("sharp")
    if sharp:
        text += "\n\n" + section_sharp(sharp, {"confirm": confirm})
    sharper = stage("sharper")
    if sharper:
        text += "\n\n" + section_sharp(sharper, {"confirm": confirm, "sharp": sharp})
    return text


def confirm_section(stage: Callable[[str], dict | None], name: str, title: str) -> str:
    """`name`'s pairs over seeds (`section_confirm`) under `title`, where that stage has run."""
    data = stage(name)
    return "\n\n" + section_confirm(data, title=title) if data else ""


def labels_sections(prefix: str, suffix: str) -> str:
    """Labels' stronger starts and their ENGINE runs, lengths and rescoring from them, the learnt length choice,
    and the still encoder."""
    stage = stage_loader(prefix, suffix)
    text = ""
    stronger, stronger_sx = stage("stronger"), stage("stronger_sx")
    if stronger:
        text += "\n\n" + section_stronger(stage("distill_ui"), stage("cmlm_more"), stronger, stronger_sx,
                                          tuple(filter(None, (stage(c) for c in ("slow_control", "decay_control")))))
    wide_sx = stage("wide_sx")
    if wide_sx:
        text += "\n\n" + section_wide(stage("distill_wide"), stage("cmlm_wide"), wide_sx, stage("wide_decay_control"))
    if stronger:
        text += "\n\n" + section_edge_by_start([stage("confirm"), stage("sharp"), stronger, stronger_sx, wide_sx])
    for name, section in (("lengths_strong", section_lengths_strong), ("rescoring_strong", section_rescoring),
                          ("length_choice", section_length_choice), ("still_encoder", section_still_encoder)):
        if found := stage(name):
            text += "\n\n" + section(found)
    text += confirm_section(stage, "still_confirm", "ENGINE from a student trained with a still encoder, over "
                                                    "seeds (every run with the still encoder too)")
    for name in TRANSFER_STAGES:
        if found := stage(name):
            text += "\n\n" + section_transfer(found, name)
    return text


def still_sections(prefix: str, suffix: str) -> str:
    """Benchmark A's still-encoder line: each start of the chain, ENGINE from it against its controls over seeds,
    and the compute curves, in the order the stages ran."""
    stage = stage_loader(prefix, suffix)
    text = ""
    still_main = stage("still_main")
    if still_main:
        text += "\n\n" + section_still_main(still_main, stage("teacher"),
                                              {name: stage(name) for name in ("cmlm_kd", "engine", "control")},
                                              stage("still_sharp"))
    text += confirm_section(stage, "still_seeds", "The still-encoder main pair over more seeds (seeds 1-2; seed 0 is "
                                                  "`still_main`'s pair)")
    still_long = stage("still_long")
    if still_long:
        text += "\n\n" + section_still_long(still_long, stage("still_main"), stage("cmlm_long"))
    still_long_seeds = stage("still_long_seeds")
    if still_long_seeds:
        text += "\n\n" + section_confirm(still_long_seeds, title="ENGINE from the stronger still-encoder start "
                                                                   "(`still_long`'s cmlm_long_still), over seeds")
    still_rebuilt = stage("still_rebuilt")
    if still_rebuilt:
        text += "\n\n" + section_still_rebuilt(still_rebuilt, still_long_seeds)
    text += confirm_section(stage, "still_long_sharp", "The sharp O1 (softmax(z / 0.25)) from cmlm_long_still, over seeds")
    still_rebuilt_sharp = stage("still_rebuilt_sharp")
    if still_rebuilt_sharp:
        text += "\n\n" + section_confirm(still_rebuilt_sharp, title="The sharp O1 from the rebuilt cmlm_long_still "
                                           "(a second start; `still_rebuilt`'s pair is the same seed at O1 temperature 1)")
        text += pooled_pairs((stage("still_long_sharp") or {}).get("points", [])
                             + still_rebuilt_sharp["points"], "`still_long_sharp`")
    output_chars = stage("output_chars")
    if output_chars:
        text += "\n\n" + section_output_chars(output_chars)
    still_budget = stage("still_budget")
    if still_budget:
        replica = next((p for p in (stage("still_long_sharp") or {}).get("points", [])
                        if p["seed"] == still_budget.get("seed")), None)
        text += "\n\n" + section_budget(still_budget, plot_name(prefix, suffix, "engine_still_budget"),
                                          "still_budget", replica)

    def sharp_pairs(line: str, title: str) -> str:
        """`<line>_sharp`'s table over seeds, and its second controls' (`<line>_decay`, `<line>_slow`) there are."""
        sharp = stage(f"{line}_sharp")
        found = [section_confirm(sharp, title=title)] if sharp else []
        for control in (f"{line}_decay", f"{line}_slow"):
            if sharp and (second := stage(control)):
                found.append(section_slow_control(second, sharp))
        return "".join(f"\n\n{section}" for section in found)

    still_more = stage("still_more")
    if still_more:
        text += "\n\n" + section_still_more(still_more, still_long, stage("distill_all"))
    text += sharp_pairs("still_more", "The sharp O1 from the start trained on every source (`still_more`'s "
                                      "cmlm_more_still), over seeds")
    still_most = stage("still_most")
    if still_most:
        text += "\n\n" + section_more_steps(still_most, still_more)
    text += sharp_pairs("still_most", "The sharp O1 from `still_most`'s cmlm_most_still, over seeds")

    def longer_run(line: str, title: str) -> str:
        """`<line>`'s one longer curve (`budget` stage) beside the same seed's 200-step pair and slow control."""
        name = {"still_most": "still_most_budget", "still_max": "still_max_long"}[line]
        curve = stage(name)
        if not curve:
            return ""

        def same_seed(of: str) -> dict | None:
            return next((p for p in (stage(of) or {}).get("points", []) if p["seed"] == curve.get("seed")), None)

        slow = same_seed(f"{line}_slow")
        return "\n\n" + section_budget(curve, plot_name(prefix, suffix, f"engine_{name}"), name,
                                         same_seed(f"{line}_sharp"), (f"{line}_slow", slow) if slow else None,
                                         **({"title": title} if title else {}))

    still_most_budget = stage("still_most_budget")
    text += longer_run("still_most", "")
    still_most_budget_seeds = stage("still_most_budget_seeds")
    if still_most_budget_seeds:
        text += "\n\n" + section_budget_seeds(still_most_budget_seeds, still_most_budget, stage("still_most_sharp"),
                                                stage("still_most_slow"))
    still_most_fast = stage("still_most_fast")
    if still_most_fast:
        slower = {**({2: still_most_budget} if still_most_budget else {}),
                  **seed_curves(still_most_budget_seeds or {})}
        text += "\n\n" + section_fast(still_most_fast, slower, stage("still_most_decay"))

    def one_curve(name: str, title: str, repeats: dict | None = None) -> str:
        """`name`'s one-seed compute curve (`section_budget`, with its plot; `{lr}` in `title` is its lr); `repeats`
        is a seeded-curves stage whose same-seed curve its first checkpoint repeats (both lrs constant)."""
        data = stage(name)
        if not data:
            return ""
        first = seed_curves(repeats or {}).get(data.get("seed"), {}).get("points", [None])[0]
        return "\n\n" + section_budget(data, plot_name(prefix, suffix, f"engine_{name}"), name,
                                         {**first, "control_steps": first["control_step"]} if first else None,
                                         title=title.format(lr=data.get("learning_rate", 0)))

    text += one_curve("still_most_fast_budget", "The sharp O1 at lr {lr:g} from `cmlm_most_still` as compute grows",
                      still_most_fast)
    still_max = stage("still_max")
    if still_max:
        text += "\n\n" + section_more_steps(still_max, still_most)
    text += sharp_pairs("still_max", "The sharp O1 from `still_max`'s cmlm_max_still, over seeds")
    still_max_budget = stage("still_max_budget")
    if still_max_budget:
        text += "\n\n" + section_budget_seeds(still_max_budget, None, stage("still_max_sharp"), stage("still_max_slow"),
                                                stage="still_max_budget")
    text += longer_run("still_max", "The sharp O1 from `cmlm_max_still` as compute grows")
    still_peak = stage("still_peak")
    if still_peak:
        text += "\n\n" + section_more_steps(still_peak, still_max)
    still_peak_budget = stage("still_peak_budget")
    if still_peak_budget:
        text += "\n\n" + section_budget_seeds(still_peak_budget, None, None, None, stage="still_peak_budget")
    still_peak_decay = stage("still_peak_decay")
    if still_peak_budget and still_peak_decay:
        text += "\n\n" + section_slow_control(still_peak_decay, first_checkpoint_pairs(still_peak_budget,
                                                                                        "still_peak_budget"))
    # Each found setting's seeds against the setting it was found from.
    for name, against in (("still_peak_pure", "still_peak_budget"), ("still_peak_pure_fast", "still_peak_pure"),
                          ("still_peak_pure_predicted", "still_peak_pure_fast")):
        if found := stage(name):
            text += "\n\n" + section_budget_seeds(found, None, None, None, stage=name, against=(stage(against), against))
    text += one_curve("still_peak_pure_faster", "Pure energy at lr {lr:g} from `cmlm_peak_still` as compute grows")
    text += one_curve("still_peak_pure_long", "Pure energy at lr {lr:g} from `cmlm_peak_still`, one seed for 600 steps",
                      stage("still_peak_pure_fast"))
    if found := stage("still_max_pure_fast"):
        text += "\n\n" + section_budget_seeds(found, None, None, None, stage="still_max_pure_fast",
                                                against=(still_max_budget, "still_max_budget"))
    return text


def closing_sections(prefix: str, suffix: str) -> str:
    """The decoding-only checks on the targets' seeds, ENGINE's rise and edge against the start's strength, and the
    first recipe's longer run and unfrozen student."""
    stage = stage_loader(prefix, suffix)
    text = ""
    for name, section in (("significance", section_significance), ("lengths_targets", section_lengths_targets),
                          ("examples_targets", section_examples_targets)):
        if found := stage(name):  # the decoding-only checks of the targets table's seeds
            text += "\n\n" + section(found)
    if found := stage("rescoring_targets"):
        text += "\n\n" + section_rescoring_targets(found, stage("teacher"))
    if rise := rise_points(rise_stages(prefix, suffix)):
        text += "\n\n" + section_rise_by_start(rise, plot_name(prefix, suffix, "engine_rise_by_start"))
    if any(stage(f"{line}_sharp") for line in ("still_more", "still_most")):
        text += "\n\n" + section_edge_by_start([stage(name) for name in (
            "still_seeds", "still_long_seeds", "still_rebuilt", "still_long_sharp", "still_rebuilt_sharp",
            "still_more_sharp", "still_most_sharp", "still_max_sharp")])
    budget = stage("budget")
    if budget:
        text += "\n\n" + section_budget(budget, plot_name(prefix, suffix, "engine_budget"))
    unfrozen = stage("unfrozen")
    if unfrozen:
        text += "\n\n" + section_unfrozen(unfrozen, stage("engine"), stage("control"))
    return text
