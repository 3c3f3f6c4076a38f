"""Regenerate the results from results/*.json: every table and plot of docs/RESULTS.md (and docs/*.png), and the
README's summary table. Nothing is typed by hand.

    python scripts/make_tables.py
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
RESULTS_DOC = DOCS / "RESULTS.md"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def table(header: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def source(data: dict) -> str:
    return f"*Command: `{data['command']}`. Hardware: {data.get('hardware', '?')}, {data.get('threads', '?')} thread(s).*"


def section_fidelity() -> str | None:
    data = load("bergamot_fidelity")
    if not data:
        return None
    rows = [["identical greedy outputs", f"{data['exact_match']['count']}/{data['exact_match']['of']}"],
            ["... with the engine's lexical shortlist applied to the port",
             f"{data['exact_match_with_native_shortlist']['count']}/{data['exact_match_with_native_shortlist']['of']}"],
            ["BLEU native engine", data["bleu"]["native_engine"]],
            ["BLEU converted model", data["bleu"]["converted_model"]]]
    return ("### Firefox Translations EN->PT: converted teacher vs the native engine\n\n"
            f"{data['sentences']} held-out LibreOffice help sentences ({data['source_of_sentences']}), greedy.\n\n"
            + table(["", "value"], rows) + "\n\n*Command: `" + data["command"] + "`.*")


def section_teacher_de_en() -> str | None:
    data = load("teacher_de_en")
    if not data or "test" not in data:
        return None
    test, training, model = data["test"], data["training"], data["model"]
    rows = [[f"greedy ({data['corpus']['test_pairs_scored']} test pairs)", test["greedy"]["bleu"], test["greedy"]["chrf"]],
            ["beam 4", test["beam4"]["bleu"], test["beam4"]["chrf"]]]
    return ("### MarianMT teacher trained here (DE->EN, LibreOffice help test split)\n\n"
            + table(["decoding", "BLEU", "chrF"], rows)
            + f"\n\n{model['parameters'] / 1e6:.1f}M parameters, {training['steps']} steps "
            f"({training['epochs']:.1f} epochs of {training['batch_sentences']} sentences), "
            f"{training['wall_seconds_total'] / 60:.0f} min on {data['hardware']['torch_threads']} thread(s). "
            + ("Below the 30-BLEU aim; see the issue notes.\n\n" if test["beam4"]["bleu"] < 30 else "\n\n")
            + teacher_curve(training["sessions"])
            + ("![teacher learning curve](teacher_de_en_curve.png)\n\n" if curve_points(training["sessions"]) else "")
            + f"*Command: `{data['command']}` (resumes the run from `{data['output_dir']}` when that folder is there, else trains it again from the "
            "start: the minutes above; `--max-steps N` stops at step N and scores). A run started over does not give "
            "the same scores: `tokenizers`' Unigram training is not deterministic, so it trains another vocabulary.*")


def curve_points(sessions: list[dict]) -> list[dict]:
    """Sessions that ended with a test evaluation, each with the run's wall time up to its end."""
    points, minutes = [], 0.0
    for session in sessions:
        minutes += session["seconds"] / 60
        if "greedy_bleu" in session:
            points.append({**session, "minutes": minutes})
    return points


def teacher_curve(sessions: list[dict]) -> str:
    """The run's learning curve, one row per session that ended with a test evaluation."""
    rows = [[p["steps"], f"{p['epochs']:.1f}", f"{p['minutes']:.0f}", p["threads"], p["greedy_bleu"], p["beam4_bleu"]]
            for p in curve_points(sessions)]
    if not rows:
        return ""
    return ("Learning curve (test BLEU after each session):\n\n"
            + table(["steps", "epochs", "minutes so far", "threads", "greedy BLEU", "beam-4 BLEU"], rows) + "\n\n")


def section_demo() -> str | None:
    data = load("demo")
    if not data:
        return None
    rows = [[name, s["bleu"], s["chrf"], f"{s['repetition']:.2f}", f"{s['teacher_energy']:.2f}"]
            for name, s in data["scores"].items()]
    speed = data["speed_batch_1"]
    return ("### `make demo` (EN->PT, LibreOffice help, held-out help files)\n\n"
            + table(["system", "BLEU", "chrF", "repetition", "teacher energy (nats/token)"], rows)
            + f"\n\nBatch-1 latency: teacher greedy {speed['teacher_greedy_ms']:.0f} ms, ENGINE one pass "
            f"{speed['engine_1_iteration_ms']:.0f} ms per sentence ({speed['speedup']:.1f}x)"
            + (f", ENGINE one pass over 3 length candidates rescored by the teacher {speed['engine_rescored_ms']:.0f} ms "
               f"({speed['speedup_rescored']:.1f}x)" if "engine_rescored_ms" in speed else "")
            + f", {speed['sentences']} sentences. Run time {data['minutes']:.0f} min.\n\n" + source(data))


def bench_rows(prefix: str, suffix: str) -> list[list] | None:
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
            rows.append([label, "-", *cells(s)])
    for stage, label in names.items():
        data = load(f"{prefix}{stage}{suffix}")
        if not data or label is None:
            continue
        for iterations in ("1_iterations", "10_iterations"):
            rows.append([label, iterations.split("_")[0], *cells(data[iterations])])
    return rows or None


def cells(scores: dict) -> list:
    """Help BLEU, chrF, repetition, teacher energy; then BLEU and chrF on the Bible where the benchmark has it."""
    lo = scores["libreoffice"]
    row = [lo["bleu"], lo["chrf"], f"{lo['repetition']:.2f}", f"{lo['teacher_energy']:.2f}"]
    return row + ([scores["bible"]["bleu"], scores["bible"]["chrf"]] if "bible" in scores else [])


def section_bench(prefix: str, suffix: str, title: str) -> str | None:
    """One benchmark's tables: `prefix` is `bench_` (A) or `bench_b_` (B), `suffix` `_quick` for the quick slice."""
    rows = bench_rows(prefix, suffix)
    if not rows:
        return None
    any_stage = next(load(f"{prefix}{s}{suffix}") for s in ("teacher", "cmlm_ref", "engine") if load(f"{prefix}{s}{suffix}"))
    header = ["system", "iterations", "help BLEU", "help chrF", "help repetition", "help teacher energy",
              "Bible BLEU", "Bible chrF"][: len(rows[0])]
    text = f"### {title}\n\n" + table(header, rows)
    for extra in (section_targets(prefix, suffix), section_setup(prefix, suffix)):
        if extra:
            text += "\n\n" + extra
    stages = any_stage.get("benchmark_stages") or ("teacher", "cmlm_ref", "distill", "cmlm_kd", "engine", "control",
                                                   "examples", "table2", "gain", "sweep", "cmlm_long", "lengths",
                                                   "engine_selected")
    missing = [stage for stage in stages
               if not load(f"{prefix}{stage}{suffix}") or load(f"{prefix}{stage}{suffix}").get("partial")]
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
    table2 = load(f"{prefix}table2{suffix}")
    if table2:
        rows2 = [[k, f"{v['discrete_energy']:.3f}", v["bleu"], v["chrf"], f"{v['repetition']:.2f}"]
                 for k, v in table2["rows"].items()]
        text += ("\n\n**Table 2 at small scale** (dev set, oracle lengths, one pass; each pair trained "
                 f"{table2['steps_per_pair']} steps from the same CMLM){partial_note(table2, 25)}:\n\n"
                 + table(["O1/O2", "discrete energy", "BLEU", "chrF", "repetition"], rows2))
    sweep = load(f"{prefix}sweep{suffix}")
    if sweep:
        rows4 = [[k, v["bleu"], v["chrf"], f"{v['repetition']:.2f}", f"{v['teacher_energy']:.2f}"]
                 for k, v in sweep["rows"].items()]
        text += ("\n\n**Which ENGINE settings help?** Dev set (help), 1 iteration, length beam 3; every ENGINE row "
                 f"is {sweep['steps']} energy steps from the same CMLM ({sweep['initialised_from']}), the control is CE "
                 f"for the same wall time{partial_note(sweep)}:\n\n"
                 + table(["system", "dev BLEU", "dev chrF", "repetition", "teacher energy"], rows4))
    lengths = load(f"{prefix}lengths{suffix}")
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
                          "discrete energy (oracle)"], rows5))
    selected = load(f"{prefix}engine_selected{suffix}")
    if selected:
        text += "\n\n" + section_dev_curve(selected)
    gain = load(f"{prefix}gain{suffix}")
    if gain:
        rows3 = [[p["checkpoint"], *(f"{p[f'{who}_bleu']:.2f} / {p.get(f'{who}_chrf', float('nan')):.1f} / "
                                     f"{p[f'{who}_repetition']:.2f}" for who in ("start", "engine", "control"))]
                 for p in sorted(gain["points"], key=lambda p: p["start_bleu"])]
        text += ("\n\n**ENGINE gain against the starting CMLM** (help test set, 1 iteration, length beam 3; "
                 f"ENGINE = {gain.get('energy_steps', '')} energy steps with the `engine` stage's settings, control = CE "
                 f"for ENGINE's wall time, both from the start checkpoint){partial_note(gain)}:\n\n"
                 + table(["start CMLM", "start BLEU / chrF / rep.", "ENGINE BLEU / chrF / rep.",
                          "matched CE control BLEU / chrF / rep."], rows3))
        text += f"\n\n![ENGINE gain]({plot_name(prefix, suffix)})"
    confirm = load(f"{prefix}confirm{suffix}")
    if confirm:
        text += "\n\n" + section_confirm(confirm)
    ranking = load(f"{prefix}ranking{suffix}")
    if ranking:
        text += "\n\n" + section_ranking(ranking)
    rescoring = load(f"{prefix}rescoring{suffix}")
    if rescoring:
        text += "\n\n" + section_rescoring(rescoring)
    descent = load(f"{prefix}descent{suffix}")
    if descent:
        text += "\n\n" + section_descent(descent)
    sharp = load(f"{prefix}sharp{suffix}")
    if sharp:
        text += "\n\n" + section_sharp(sharp, {"confirm": confirm})
    sharper = load(f"{prefix}sharper{suffix}")
    if sharper:
        text += "\n\n" + section_sharp(sharper, {"confirm": confirm, "sharp": sharp})
    stronger, stronger_sx = load(f"{prefix}stronger{suffix}"), load(f"{prefix}stronger_sx{suffix}")
    if stronger:
        text += "\n\n" + section_stronger(load(f"{prefix}distill_ui{suffix}"), load(f"{prefix}cmlm_more{suffix}"),
                                          stronger, stronger_sx,
                                          tuple(filter(None, (load(f"{prefix}{c}{suffix}")
                                                              for c in ("slow_control", "decay_control")))))
    wide_sx = load(f"{prefix}wide_sx{suffix}")
    if wide_sx:
        text += "\n\n" + section_wide(load(f"{prefix}distill_wide{suffix}"), load(f"{prefix}cmlm_wide{suffix}"),
                                      wide_sx, load(f"{prefix}wide_decay_control{suffix}"))
    if stronger:
        text += "\n\n" + section_edge_by_start([confirm, sharp, stronger, stronger_sx, wide_sx])
    lengths_strong = load(f"{prefix}lengths_strong{suffix}")
    if lengths_strong:
        text += "\n\n" + section_lengths_strong(lengths_strong)
    rescoring_strong = load(f"{prefix}rescoring_strong{suffix}")
    if rescoring_strong:
        text += "\n\n" + section_rescoring(rescoring_strong)
    length_choice = load(f"{prefix}length_choice{suffix}")
    if length_choice:
        text += "\n\n" + section_length_choice(length_choice)
    still_encoder = load(f"{prefix}still_encoder{suffix}")
    if still_encoder:
        text += "\n\n" + section_still_encoder(still_encoder)
    def confirm(stage: str, title: str) -> str:
        data = load(f"{prefix}{stage}{suffix}")
        return "\n\n" + section_confirm(data, title=title) if data else ""

    text += confirm("still_confirm", "ENGINE from a student trained with a still encoder, over seeds (every run with "
                                     "the still encoder too)")
    still_main = load(f"{prefix}still_main{suffix}")
    if still_main:
        text += "\n\n" + section_still_main(still_main, load(f"{prefix}teacher{suffix}"),
                                              {name: load(f"{prefix}{name}{suffix}") for name in ("cmlm_kd", "engine", "control")},
                                              load(f"{prefix}still_sharp{suffix}"))
    text += confirm("still_seeds", "The still-encoder main pair over more seeds (seeds 1-2; seed 0 is `still_main`'s "
                                   "pair)")
    still_long = load(f"{prefix}still_long{suffix}")
    if still_long:
        text += "\n\n" + section_still_long(still_long, load(f"{prefix}still_main{suffix}"),
                                              load(f"{prefix}cmlm_long{suffix}"))
    still_long_seeds = load(f"{prefix}still_long_seeds{suffix}")
    if still_long_seeds:
        text += "\n\n" + section_confirm(still_long_seeds, title="ENGINE from the stronger still-encoder start "
                                                                   "(`still_long`'s cmlm_long_still), over seeds")
    still_rebuilt = load(f"{prefix}still_rebuilt{suffix}")
    if still_rebuilt:
        text += "\n\n" + section_still_rebuilt(still_rebuilt, still_long_seeds)
    text += confirm("still_long_sharp", "The sharp O1 (softmax(z / 0.25)) from cmlm_long_still, over seeds")
    still_rebuilt_sharp = load(f"{prefix}still_rebuilt_sharp{suffix}")
    if still_rebuilt_sharp:
        text += "\n\n" + section_confirm(still_rebuilt_sharp, title="The sharp O1 from the rebuilt cmlm_long_still "
                                           "(a second start; `still_rebuilt`'s pair is the same seed at O1 temperature 1)")
        text += pooled_pairs((load(f"{prefix}still_long_sharp{suffix}") or {}).get("points", [])
                             + still_rebuilt_sharp["points"], "`still_long_sharp`")
    output_chars = load(f"{prefix}output_chars{suffix}")
    if output_chars:
        text += "\n\n" + section_output_chars(output_chars)
    still_budget = load(f"{prefix}still_budget{suffix}")
    if still_budget:
        replica = next((p for p in (load(f"{prefix}still_long_sharp{suffix}") or {}).get("points", [])
                        if p["seed"] == still_budget.get("seed")), None)
        text += "\n\n" + section_budget(still_budget, plot_name(prefix, suffix, "engine_still_budget"),
                                          "still_budget", replica)
    def sharp_pairs(line: str, title: str) -> str:
        """`<line>_sharp`'s table over seeds, and its second controls' (`<line>_decay`, `<line>_slow`) there are."""
        sharp = load(f"{prefix}{line}_sharp{suffix}")
        found = [section_confirm(sharp, title=title)] if sharp else []
        for control in (f"{line}_decay", f"{line}_slow"):
            if sharp and (second := load(f"{prefix}{control}{suffix}")):
                found.append(section_slow_control(second, sharp))
        return "".join(f"\n\n{section}" for section in found)

    still_more = load(f"{prefix}still_more{suffix}")
    if still_more:
        text += "\n\n" + section_still_more(still_more, still_long, load(f"{prefix}distill_all{suffix}"))
    text += sharp_pairs("still_more", "The sharp O1 from the start trained on every source (`still_more`'s "
                                      "cmlm_more_still), over seeds")
    still_most = load(f"{prefix}still_most{suffix}")
    if still_most:
        text += "\n\n" + section_more_steps(still_most, still_more)
    text += sharp_pairs("still_most", "The sharp O1 from `still_most`'s cmlm_most_still, over seeds")

    def longer_run(line: str, title: str) -> str:
        """`<line>`'s one longer curve (`budget` stage) beside the same seed's 200-step pair and slow control."""
        stage = {"still_most": "still_most_budget", "still_max": "still_max_long"}[line]
        curve = load(f"{prefix}{stage}{suffix}")
        if not curve:
            return ""

        def same_seed(of: str) -> dict | None:
            return next((p for p in (load(f"{prefix}{of}{suffix}") or {}).get("points", [])
                         if p["seed"] == curve.get("seed")), None)

        slow = same_seed(f"{line}_slow")
        return "\n\n" + section_budget(curve, plot_name(prefix, suffix, f"engine_{stage}"), stage,
                                         same_seed(f"{line}_sharp"), (f"{line}_slow", slow) if slow else None,
                                         **({"title": title} if title else {}))

    still_most_budget = load(f"{prefix}still_most_budget{suffix}")
    text += longer_run("still_most", "")
    still_most_budget_seeds = load(f"{prefix}still_most_budget_seeds{suffix}")
    if still_most_budget_seeds:
        text += "\n\n" + section_budget_seeds(still_most_budget_seeds, still_most_budget,
                                                load(f"{prefix}still_most_sharp{suffix}"),
                                                load(f"{prefix}still_most_slow{suffix}"))
    still_most_fast = load(f"{prefix}still_most_fast{suffix}")
    if still_most_fast:
        slower = {**({2: still_most_budget} if still_most_budget else {}),
                  **seed_curves(still_most_budget_seeds or {})}
        text += "\n\n" + section_fast(still_most_fast, slower, load(f"{prefix}still_most_decay{suffix}"))
    def one_curve(stage: str, title: str, repeats: dict | None = None) -> str:
        """`stage`'s one-seed compute curve (`section_budget`, with its plot; `{lr}` in `title` is its lr); `repeats`
        is a seeded-curves stage whose same-seed curve its first checkpoint repeats (both lrs constant)."""
        data = load(f"{prefix}{stage}{suffix}")
        if not data:
            return ""
        first = seed_curves(repeats or {}).get(data.get("seed"), {}).get("points", [None])[0]
        return "\n\n" + section_budget(data, plot_name(prefix, suffix, f"engine_{stage}"), stage,
                                         {**first, "control_steps": first["control_step"]} if first else None,
                                         title=title.format(lr=data.get("learning_rate", 0)))

    text += one_curve("still_most_fast_budget", "The sharp O1 at lr {lr:g} from `cmlm_most_still` as compute grows",
                      still_most_fast)
    still_max = load(f"{prefix}still_max{suffix}")
    if still_max:
        text += "\n\n" + section_more_steps(still_max, still_most)
    text += sharp_pairs("still_max", "The sharp O1 from `still_max`'s cmlm_max_still, over seeds")
    still_max_budget = load(f"{prefix}still_max_budget{suffix}")
    if still_max_budget:
        text += "\n\n" + section_budget_seeds(still_max_budget, None, load(f"{prefix}still_max_sharp{suffix}"),
                                                load(f"{prefix}still_max_slow{suffix}"), stage="still_max_budget")
    text += longer_run("still_max", "The sharp O1 from `cmlm_max_still` as compute grows")
    still_peak = load(f"{prefix}still_peak{suffix}")
    if still_peak:
        text += "\n\n" + section_more_steps(still_peak, still_max)
    still_peak_budget = load(f"{prefix}still_peak_budget{suffix}")
    if still_peak_budget:
        text += "\n\n" + section_budget_seeds(still_peak_budget, None, None, None, stage="still_peak_budget")
    still_peak_decay = load(f"{prefix}still_peak_decay{suffix}")
    if still_peak_budget and still_peak_decay:
        text += "\n\n" + section_slow_control(still_peak_decay, first_checkpoint_pairs(still_peak_budget,
                                                                                        "still_peak_budget"))
    still_peak_pure = load(f"{prefix}still_peak_pure{suffix}")
    if still_peak_pure:
        text += "\n\n" + section_budget_seeds(still_peak_pure, None, None, None, stage="still_peak_pure",
                                                against=(still_peak_budget, "still_peak_budget"))
    still_peak_pure_fast = load(f"{prefix}still_peak_pure_fast{suffix}")
    if still_peak_pure_fast:
        text += "\n\n" + section_budget_seeds(still_peak_pure_fast, None, None, None, stage="still_peak_pure_fast",
                                                against=(still_peak_pure, "still_peak_pure"))
    still_peak_pure_predicted = load(f"{prefix}still_peak_pure_predicted{suffix}")
    if still_peak_pure_predicted:
        text += "\n\n" + section_budget_seeds(still_peak_pure_predicted, None, None, None,
                                                stage="still_peak_pure_predicted",
                                                against=(still_peak_pure_fast, "still_peak_pure_fast"))
    text += one_curve("still_peak_pure_faster", "Pure energy at lr {lr:g} from `cmlm_peak_still` as compute grows")
    text += one_curve("still_peak_pure_long", "Pure energy at lr {lr:g} from `cmlm_peak_still`, one seed for 600 steps",
                      still_peak_pure_fast)
    still_max_pure_fast = load(f"{prefix}still_max_pure_fast{suffix}")
    if still_max_pure_fast:
        text += "\n\n" + section_budget_seeds(still_max_pure_fast, None, None, None, stage="still_max_pure_fast",
                                                against=(still_max_budget, "still_max_budget"))
    for stage, section in (("significance", section_significance), ("lengths_targets", section_lengths_targets),
                           ("examples_targets", section_examples_targets)):
        if found := load(f"{prefix}{stage}{suffix}"):  # the decoding-only checks of the targets table's seeds
            text += "\n\n" + section(found)
    if rise := rise_points(rise_stages(prefix, suffix)):
        text += "\n\n" + section_rise_by_start(rise, plot_name(prefix, suffix, "engine_rise_by_start"))
    if any(load(f"{prefix}{line}_sharp{suffix}") for line in ("still_more", "still_most")):
        text += "\n\n" + section_edge_by_start([load(f"{prefix}{stage}{suffix}") for stage in (
            "still_seeds", "still_long_seeds", "still_rebuilt", "still_long_sharp", "still_rebuilt_sharp",
            "still_more_sharp", "still_most_sharp", "still_max_sharp")])
    budget = load(f"{prefix}budget{suffix}")
    if budget:
        text += "\n\n" + section_budget(budget, plot_name(prefix, suffix, "engine_budget"))
    unfrozen = load(f"{prefix}unfrozen{suffix}")
    if unfrozen:
        text += "\n\n" + section_unfrozen(unfrozen, load(f"{prefix}engine{suffix}"), load(f"{prefix}control{suffix}"))
    return text


def section_significance(data: dict) -> str:
    """Each targets-table seed's ENGINE - start and ENGINE - control with the paired bootstrap's 95% interval on the
    test sentences A's tables score and on the rest of the test split, each stage's mean over its seeds on the same
    resamples, and what the intervals over the whole split say about the targets."""
    def gap(test: dict, metric: str) -> str:
        found = test[metric]
        return f"{found['difference']:+.2f} [{found['low']:+.2f}, {found['high']:+.2f}], p {found['p_not_better']:.3f}"

    def cells(tests: dict) -> list[str]:
        return [gap(tests[test], metric) for test in ("engine_vs_start", "engine_vs_control") for metric in ("bleu", "chrf")]

    def redecoded(row: dict) -> str:
        worst = max(abs(row["redecoded_bleu"][who] - row["recorded_bleu"][who]) for who in row["recorded_bleu"])
        return "yes" if worst < 0.005 else f"**no** (up to {worst:.2f} BLEU apart)"

    def clear(found: dict) -> str:
        return "clear of 0" if found["low"] > 0 else "**not** clear of 0"

    stages = list(dict.fromkeys(row["stage"] for row in data["rows"]))
    header = ["stage", "start", "seed", "ENGINE - start, BLEU", "ENGINE - start, chrF", "ENGINE - control, BLEU",
              "ENGINE - control, chrF"]
    tables = {}
    for cut in ("scored", "unseen", "all"):
        rows = []
        for stage in stages:
            group = [row for row in data["rows"] if row["stage"] == stage]
            if cut != "all":  # the whole split's seeds are in the JSON; its means are what the targets need
                rows += [[f"`{stage}`", f"`{row['start']}`", row["seed"], *cells(row["slices"][cut]),
                          *([redecoded(row)] if cut == "scored" else [])] for row in group]
            if stage in data["means"]:
                mean = data["means"][stage]
                rows.append([f"`{stage}`", f"`{group[0]['start']}`", f"**mean of {mean['seeds']}**",
                             *cells(mean["slices"][cut]), *([""] if cut == "scored" else [])])
        tables[cut] = table(header + (["redecoded"] if cut == "scored" else []), rows)
    summary = []
    for stage, mean in data["means"].items():
        whole, scored, unseen = (mean["slices"][cut] for cut in ("all", "scored", "unseen"))
        rise, over = whole["engine_vs_start"]["bleu"], whole["engine_vs_control"]["bleu"]
        summary.append(
            f"`{stage}`, all {data['sentences']['all']} sentences: the mean rise over the start, "
            f"{rise['difference']:+.2f} BLEU [{rise['low']:+.2f}, {rise['high']:+.2f}], is {clear(rise)} and "
            f"{'holds' if rise['low'] <= 3 <= rise['high'] else 'excludes'} +3; the lead over the control, "
            f"{over['difference']:+.2f} BLEU / {whole['engine_vs_control']['chrf']['difference']:+.2f} chrF, is "
            f"{clear(over)} in BLEU and {clear(whole['engine_vs_control']['chrf'])} in chrF; on the unseen sentences "
            f"the rise is {unseen['engine_vs_start']['bleu']['difference']:+.2f} and the lead "
            f"{unseen['engine_vs_control']['bleu']['difference']:+.2f} BLEU (scored: "
            f"{scored['engine_vs_start']['bleu']['difference']:+.2f} and "
            f"{scored['engine_vs_control']['bleu']['difference']:+.2f})")
    gone = f" Seeds whose models were gone or unfinished: {'; '.join(data['gone'])}." if data["gone"] else ""
    sentences = data["sentences"]
    return (f"**How much of each gap the test set can tell from noise** (`significance`: each seed of "
            f"{', '.join(f'`{stage}`' for stage in data['stages'])} whose models were on disk, its ENGINE at the "
            "curve's last checkpoint and its control at the same wall time decoded again as they were scored: help "
            "test split, 1 iteration, length beam 3. Each cell: the difference, its 95% interval over "
            f"{data['resamples']:,} paired bootstrap resamples of the sentences (Koehn 2004; all systems scored on the "
            "same resamples), and p = the share of resamples in which ENGINE is not ahead; the mean rows average the "
            "seeds' differences on each resample, so their interval keeps the noise of the sentences, which more seeds "
            f"do not remove.{gone}\n\n"
            f"The {sentences['scored']} test sentences every table of A scores (redecoded = the BLEU of all three "
            "systems within 0.005 of what their stage recorded):\n\n" + tables["scored"]
            + f"\n\nThe other {sentences['unseen']} sentences of the same held-out help files, which no model of A was "
            "scored on before (so no setting was chosen on them):\n\n" + tables["unseen"]
            + f"\n\nAll {sentences['all']} test sentences, means over seeds:\n\n" + tables["all"]
            + ("\n\n" + "\n".join(f"- {line}" for line in summary) if summary else "")
            + "\n\n" + source(data))


def section_lengths_targets(data: dict) -> str:
    """`lengths_targets`: the targets table's seeds and their starts at the predicted lengths and at the reference
    lengths on the same sentences, means over seeds, and ENGINE's rise and lead under both: tokens, or lengths?"""
    def mean(rows: list[dict], metric: str, *keys: str) -> float:
        def value(row: dict) -> float:
            for key in keys:
                row = row[key]
            return row[metric]
        return statistics.mean(value(row) for row in rows)

    predicted, reference = ("oracle_lengths", "predicted"), ("oracle_lengths",)
    rows, lines = [], []
    for stage in dict.fromkeys(row["stage"] for row in data["rows"]):
        systems = {who: [row for row in data["rows"] if row["stage"] == stage and row["system"] == who]
                   for who in ("start", "engine", "control")}
        for who, group in systems.items():
            rows.append([f"`{stage}`", f"`{group[0]['start']}`" if who == "start" else who, len(group),
                         f"{mean(group, 'bleu', 'predicted_lengths'):.2f} / {mean(group, 'chrf', 'predicted_lengths'):.1f}",
                         f"{mean(group, 'bleu', *predicted):.2f} / {mean(group, 'chrf', *predicted):.1f} / "
                         f"{mean(group, 'length_ratio', *predicted):.2f}",
                         f"{mean(group, 'bleu', *reference):.2f} / {mean(group, 'chrf', *reference):.1f} / "
                         f"{mean(group, 'length_ratio', *reference):.2f}",
                         f"{mean(group, 'bleu', *reference) - mean(group, 'bleu', *predicted):+.2f}",
                         f"{mean(group, 'length_head_offset', *reference):+.2f} / "
                         f"{100 * mean(group, 'length_head_exact', *reference):.0f}%"])

        def gap(other: str, keys: tuple[str, ...], metric: str = "bleu", systems: dict = systems) -> str:
            return f"{mean(systems['engine'], metric, *keys) - mean(systems[other], metric, *keys):+.2f}"

        lines.append(f"`{stage}`: ENGINE - start {gap('start', predicted)} BLEU / {gap('start', predicted, 'chrf')} "
                     f"chrF at the predicted lengths, {gap('start', reference)} / {gap('start', reference, 'chrf')} at "
                     f"the reference lengths; ENGINE - control {gap('control', predicted)} / "
                     f"{gap('control', predicted, 'chrf')} and {gap('control', reference)} / "
                     f"{gap('control', reference, 'chrf')}")
    gone = f" Seeds whose models were gone or unfinished: {'; '.join(data['gone'])}." if data["gone"] else ""
    sentences = data["rows"][0]["oracle_lengths"]["sentences"]
    return ("**Better tokens or better lengths?** (`lengths_targets`: the seeds of the targets table's curves and their "
            "starts, means over seeds; help test set, one pass. Recorded = the scores their stage recorded on the "
            "200 test sentences (length beam 3: the student's own choice among its three likeliest lengths); then, on "
            f"the {sentences} of those whose reference fits the student, one pass at the predicted lengths (length beam "
            "3 again) and one candidate at each reference's length (`oracle_length_scores`); length head = its "
            f"likeliest length minus the reference's, in tokens, and how often it is exact).{gone}\n\n"
            + table(["stage", "system", "seeds", "recorded: BLEU / chrF",
                     f"predicted lengths ({sentences}): BLEU / chrF / length ratio",
                     f"reference lengths ({sentences}): BLEU / chrF / length ratio", "reference - predicted, BLEU",
                     "length head: offset / exact"], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in lines) + "\n\n" + source(data))


def section_examples_targets(data: dict) -> str:
    """`examples_targets`: the targets table's students side by side, as `section_setup` lists `examples`."""
    recorded = data["recorded_bleu"]
    examples = []
    for row in data["examples"]:
        examples.append(f"- **source:** {row['source']}\n  - reference: {row['reference']}")
        examples += [f"  - {name}: {output}" for name, output in row.items() if name not in ("source", "reference")]
    return (f"**What the targets table's students write** (`examples_targets`: `{data['from_stage']}`'s seed "
            f"{data['seed']}, the median of seeds {', '.join(map(str, data['seeds']))} ranked by the one-pass BLEU their "
            f"stage recorded: ENGINE {recorded['engine']:.2f} after {data['engine_step']} energy steps, its start "
            f"{recorded['start']:.2f}, its CE control {recorded['control']:.2f} after {data['control_step']} steps; "
            "the six help test sources of `examples` above; the students at length beam 3):\n\n"
            + "\n".join(examples) + "\n\n" + source(data))


def section_still_rebuilt(data: dict, still_long_seeds: dict | None) -> str:
    """The still chain trained again: each rebuilt start against the recorded one, the pair from the rebuilt
    `cmlm_long_still`, and that pair pooled with `still_long_seeds`' pairs from the recorded start."""
    def cell(row: dict) -> str:
        return f"{row['bleu']:.2f} / {row['chrf']:.1f} / {row['teacher_energy']:.2f}"

    rows = [[name, f"`{row['recorded']['model_sha256'][:8]}`", cell(row["recorded"]), f"`{row['model_sha256'][:8]}`",
             cell(row), f"{row['bleu'] - row['recorded']['bleu']:+.2f} / {row['chrf'] - row['recorded']['chrf']:+.1f}"]
            for name, row in data["rebuilt"].items()]
    text = ("**A's still chain trained again** (`still_rebuilt`: `cmlm_kd_still`, then `cmlm_long_still` from it, "
            "same recipes, data and seeds, under runs/bench/rebuilt/; help test set, 1 iteration, length beam 3; "
            "BLEU / chrF / teacher energy, nats per token; the recorded scores are the starts of `still_seeds` and "
            "`still_long_seeds`):\n\n"
            + table(["start", "recorded digest", "recorded", "rebuilt digest", "rebuilt", "rebuilt - recorded (BLEU / chrF)"],
                    rows))
    recorded_seeds = {p["seed"] for p in (still_long_seeds or {}).get("points", [])}
    seeds = ", ".join(str(p["seed"]) for p in data["points"])
    how = ("also run from the recorded start in `still_long_seeds`" if {p["seed"] for p in data["points"]} <= recorded_seeds
           else "the seed `still_long_seeds` had not run then")
    text += "\n\n" + section_confirm(data, title=f"ENGINE from the rebuilt cmlm_long_still (seed {seeds}, {how})")
    if data["points"]:
        text += pooled_pairs((still_long_seeds or {}).get("points", []) + data["points"], "`still_long_seeds`")
    return text


def pooled_pairs(pooled: list[dict], with_what: str) -> str:
    """One line: ENGINE - control over the matched pairs of two stages run from different starts (one per start and
    seed), naming which seeds came from which start; empty for fewer than two pairs."""
    if len(pooled) < 2:
        return ""
    bleu = [p["engine_bleu"] - p["control_bleu"] for p in pooled]
    chrf = [p["engine_chrf"] - p["control_chrf"] for p in pooled]
    by_start = "; ".join(f"seed{'s' * (len(group) > 1)} {', '.join(str(p['seed']) for p in group)} from {start}"
                         for start in dict.fromkeys(p["start"] for p in pooled)
                         if (group := [p for p in pooled if p["start"] == start]))
    text = (f"\n\nPooled with {with_what} ({len(pooled)} pairs: {by_start}): ENGINE - control = "
            f"{statistics.mean(bleu):+.2f} BLEU (sd {statistics.stdev(bleu):.2f}), {statistics.mean(chrf):+.1f} chrF "
            f"at one pass; ENGINE above in BLEU in {sum(d > 0 for d in bleu)} of {len(pooled)}, in chrF in "
            f"{sum(d > 0 for d in chrf)} of {len(pooled)}")
    if all("engine_bleu_10" in p for p in pooled):
        bleu10 = [p["engine_bleu_10"] - p["control_bleu_10"] for p in pooled]
        chrf10 = [p["engine_chrf_10"] - p["control_chrf_10"] for p in pooled]
        text += f"; at 10 iterations {statistics.mean(bleu10):+.2f} BLEU, {statistics.mean(chrf10):+.1f} chrF"
    return text + "."


def section_output_chars(data: dict) -> str:
    """ENGINE's, its control's and its start's outputs counted in tokens, words and characters, with BLEU's n-gram
    precisions: where ENGINE's chrF goes."""
    def counted(words: list, sign: int) -> str:
        return ", ".join(f"`{word}` ({sign * n:+d})" for word, n in words[:8]) or "nothing"

    def label(pair: dict) -> str:
        return f"{pair['stage']}: {pair['start']}, seed {pair['seed']}"

    ref = data["reference"]
    rows, summary = [], []
    for pair in data["pairs"]:
        systems = pair["systems"]
        for who in ("start", "engine", "control"):
            row = systems[who]
            rows.append([label(pair), who, f"{row['bleu']:.2f}", f"{row['chrf']:.1f}",
                         " / ".join(f"{p:.1f}" for p in row["precisions"]), f"{row['brevity_penalty']:.3f}",
                         row["tokens"], row["words"], row["characters"],
                         f"{row['characters'] / ref['characters']:.3f}", f"{row['characters'] / row['tokens']:.2f}",
                         row["words_13a"], row["punctuation_13a"]])
        engine, control = systems["engine"], systems["control"]
        lower = sum(e < c for e, c in zip(engine["sentence_chrf"], control["sentence_chrf"], strict=True))
        higher = sum(e > c for e, c in zip(engine["sentence_chrf"], control["sentence_chrf"], strict=True))
        summary.append(
            f"{label(pair)}: ENGINE - control {engine['tokens'] - control['tokens']:+d} tokens "
            f"({engine['tokens'] / control['tokens'] - 1:+.1%}), {engine['words'] - control['words']:+d} words, "
            f"{engine['characters'] - control['characters']:+d} characters "
            f"({engine['characters'] / control['characters'] - 1:+.1%}); n-gram precisions "
            + " / ".join(f"{e - c:+.1f}" for e, c in zip(engine["precisions"], control["precisions"], strict=True))
            + f"; {engine['punctuation_13a'] - control['punctuation_13a']:+d} punctuation marks "
            f"({engine['punctuation_13a'] / control['punctuation_13a'] - 1:+.0%}); sentence chrF lower in {lower}, "
            f"higher in {higher} of {len(engine['sentence_chrf'])}; ENGINE writes more "
            f"{counted(pair['engine_more'], 1)}; less {counted(pair['engine_less'], -1)}")
    gone = f" Pairs whose models were gone: {'; '.join(data['gone'])}." if data["gone"] else ""
    stages = ", ".join(f"`{stage}`" for stage in data.get("stages", ("still_long_seeds", "still_rebuilt")))
    return (f"**Where ENGINE's chrF goes** (`output_chars`: the pairs of {stages} whose "
            f"models were on disk, decoded again as they were scored: help test set, {data['sentences']} sentences, "
            "1 iteration, length beam 3; BLEU's 1-4-gram precisions; tokens without specials; characters without "
            "spaces; 13a words as BLEU splits them, punctuation marks among them; the references have "
            f"{ref['words']} words, {ref['characters']} characters, {ref['words_13a']} 13a words and "
            f"{ref['punctuation_13a']} punctuation marks).{gone}\n\n"
            + table(["pair", "system", "BLEU", "chrF", "precisions 1-4", "BP", "tokens", "words", "characters",
                     "characters / reference", "characters / token", "13a words", "punctuation"], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def section_confirm(data: dict, title: str | None = None) -> str:
    """The sweep's best ENGINE setting on the test set, per start and seed, against its own matched control."""
    with_energy = all("engine_teacher_energy" in p for p in data["points"])
    refined = bool(data["points"]) and all("engine_bleu_10" in p for p in data["points"])

    def scores(point: dict, who: str) -> str:
        energy = f" / {point[f'{who}_teacher_energy']:.2f}" if with_energy else ""
        return f"{point[f'{who}_bleu']:.2f} / {point[f'{who}_chrf']:.1f} / {point[f'{who}_repetition']:.2f}{energy}"

    rows, summary = [], []
    for start, start_scores in data["starts"].items():
        points = sorted((p for p in data["points"] if p["start"] == start), key=lambda p: p["seed"])
        if not points:
            continue
        metrics = ("bleu", "chrf", "repetition") + (("teacher_energy",) if with_energy else ())
        start_row = {f"start_{m}": start_scores[m] for m in metrics}
        rows += [[start, p["seed"], scores(start_row, "start"), scores(p, "engine"), scores(p, "control"),
                  f"{p['engine_bleu'] - p['control_bleu']:+.2f} / {p['engine_chrf'] - p['control_chrf']:+.1f}"]
                 + ([refined_gap(p)] if refined else []) for p in points]
        bleu = [p["engine_bleu"] - p["control_bleu"] for p in points]
        chrf = [p["engine_chrf"] - p["control_chrf"] for p in points]
        above = sum(d > 0 for d in bleu)
        spread = f" (sd {statistics.stdev(bleu):.2f})" if len(bleu) > 1 else ""
        energy = ""
        if with_energy:
            lower = sum(p["engine_teacher_energy"] < p["control_teacher_energy"] for p in points)
            energy = (f"; teacher energy ENGINE - control {statistics.mean(p['engine_teacher_energy'] - p['control_teacher_energy'] for p in points):+.2f} "
                      f"nats/token, ENGINE lower in {lower} of {len(points)}")
        if refined:
            bleu10 = [p["engine_bleu_10"] - p["control_bleu_10"] for p in points]
            chrf10 = [p["engine_chrf_10"] - p["control_chrf_10"] for p in points]
            energy += (f"; at 10 iterations {statistics.mean(bleu10):+.2f} BLEU, {statistics.mean(chrf10):+.1f} chrF, "
                       f"ENGINE above in BLEU in {sum(d > 0 for d in bleu10)} of {len(points)}")
        summary.append(f"from {start}: ENGINE - control = {statistics.mean(bleu):+.2f} BLEU{spread}, "
                       f"{statistics.mean(chrf):+.1f} chrF on average over {len(points)} seed(s); ENGINE above the "
                       f"control in BLEU in {above} of {len(points)}, in chrF in {sum(d > 0 for d in chrf)} of "
                       f"{len(points)}{energy}")
    among = f" among {len(data['candidates'])} ENGINE settings" if "candidates" in data else ""
    title = title or ("Confirming the `engine` setting over seeds" if "no sweep" in data["selected_on"]
                      else "Confirming the sweep's best setting on the test set")
    return (f"**{title}** (`{data.get('stage', 'confirm')}`: {data['setting']}, chosen on "
            f"{data['selected_on']}{among}; {data['energy_steps']} energy steps per run; each run's control is CE at lr 1e-4 "
            f"for that run's wall time with the same seed; help test set, 1 iteration, length beam 3; "
            f"BLEU / chrF / repetition{' / teacher energy, nats per token' if with_energy else ''})"
            f"{partial_note(data)}:\n\n"
            + table(["start", "seed", "start CMLM", "ENGINE", "matched CE control", "ENGINE - control (BLEU / chrF)"]
                    + (["ENGINE - control, 10 it."] if refined else []), rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def section_descent(data: dict) -> str:
    """Gradient descent on the start CMLM's logits against the teacher energy: where the energy and operators lead."""
    steps = [str(step) for step in data["steps"]]
    rows = [[key, f"{row['seconds_per_sentence']:.2f}"]
            + [f"{row['steps'][s]['bleu']:.2f} / {row['steps'][s]['chrf']:.1f} / {row['steps'][s]['repetition']:.2f} / "
               f"{row['steps'][s]['teacher_energy']:.2f}" for s in steps]
            for key, row in data["rows"].items()]
    first, last = steps[0], steps[-1]
    summary = [f"{key}: teacher energy {row['steps'][first]['teacher_energy']:.2f} -> "
               f"{row['steps'][last]['teacher_energy']:.2f}, BLEU {row['steps'][first]['bleu']:.2f} -> "
               f"{row['steps'][last]['bleu']:.2f}, chrF {row['steps'][first]['chrf']:.1f} -> "
               f"{row['steps'][last]['chrf']:.1f} after {last} steps" for key, row in data["rows"].items()]
    return ("**Gradient descent on the energy, no network trained** (`descent`: the logits of "
            f"{data['initialised_from']} `{(data.get('model_sha256') or '')[:8]}` on the help test set, 1 iteration at "
            "the lengths its length beam of 3 picks, optimised per sentence by Adam (learning rate "
            f"{data['learning_rate']:g}) against the teacher energy with O2 = ST and the O1 of each row; "
            "`engine_hf.minimize_energy`; each cell scores the argmax output at that step: BLEU / chrF / repetition / "
            "teacher energy, nats per token; seconds per sentence for the whole search on 2 CPU threads)"
            f"{partial_note(data)}:\n\n"
            + table(["search", "s / sentence"] + [f"step {s}" for s in steps], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def short_digest(sha: str | None) -> str:
    return sha[:8] if sha else "not recorded"


def section_sharp(data: dict, beside: dict[str, dict | None], title: str | None = None) -> str:
    """A `sharp`-like stage (`sharp`, `sharper`, `stronger`) in `confirm`'s table, then beside each earlier stage in
    `beside` (its stage name -> its results) at the same start and seeds, where both started from the same build."""
    if "start" in data:  # written before sharp had a second start: one start, points without their start
        name = data["initialised_from"]
        data = {**data, "starts": {name: data["start"]}, "points": [{**p, "start": name} for p in data["points"]]}
    shaped = {"selected_on": "a first look at 64 dev labels, before any test run (`SHARP` in scripts/bench.py)",
              **data}  # sharp's first results did not record it
    text = section_confirm(shaped, title=title or f"ENGINE with a sharpened O1 (temperature "
                                                  f"{data['o1_temperature']:g}), over seeds")
    for stage, other in beside.items():
        earlier = {(p["start"], p["seed"]): p for p in (other or {}).get("points", [])}
        what = f"`{stage}`'s ENGINE (O1 temperature {(other or {}).get('o1_temperature', 1):g})"
        for name, start in data["starts"].items():
            same = [(point, earlier[name, point["seed"]]) for point in data["points"]
                    if point["start"] == name and (name, point["seed"]) in earlier]
            if not same:
                continue
            digest = other.get("starts", {}).get(name, {}).get("model_sha256")
            if digest != start.get("model_sha256"):
                text += (f"\n- from {name}: not set beside `{stage}`, whose runs started from another build of "
                         f"{name} (weights digest {short_digest(digest)}, here {short_digest(start.get('model_sha256'))})")
                continue
            bleu = [this["engine_bleu"] - that["engine_bleu"] for this, that in same]
            chrf = [this["engine_chrf"] - that["engine_chrf"] for this, that in same]
            energy = [this["engine_teacher_energy"] - that["engine_teacher_energy"] for this, that in same]
            text += (f"\n- from {name}, against {what} of the same seeds: {statistics.mean(bleu):+.2f} BLEU, "
                     f"{statistics.mean(chrf):+.1f} chrF, teacher energy {statistics.mean(energy):+.2f} nats/token on "
                     f"average over {len(same)} seed(s); higher BLEU in {sum(d > 0 for d in bleu)} of {len(same)}, "
                     f"higher chrF in {sum(d > 0 for d in chrf)} of {len(same)}")
            if all("train_seconds" in that and "control_bleu" in that for _, that in same):
                bleu = [this["engine_bleu"] - that["control_bleu"] for this, that in same]
                chrf = [this["engine_chrf"] - that["control_chrf"] for this, that in same]
                text += (f"\n- from {name}, wall time: these ENGINE runs took "
                         f"{statistics.mean(s['train_seconds'] for s, _ in same):.0f} s on average (their controls "
                         f"{statistics.mean(s['control_steps'] for s, _ in same):.0f} CE steps), `{stage}`'s "
                         f"{statistics.mean(p['train_seconds'] for _, p in same):.0f} s (controls "
                         f"{statistics.mean(p['control_steps'] for _, p in same):.0f} steps); against `{stage}`'s "
                         f"controls of the same seeds this ENGINE is {statistics.mean(bleu):+.2f} BLEU, "
                         f"{statistics.mean(chrf):+.1f} chrF, above in chrF in {sum(d > 0 for d in chrf)} of "
                         f"{len(same)}")
    return text


def section_stronger(distill_ui: dict | None, more: dict | None, stronger: dict,
                     stronger_sx: dict | None, slow: tuple[dict, ...] = ()) -> str:
    """`stronger` (the sharp setting from `cmlm_more`: more sources, more steps) and `stronger_sx` (the `engine`
    setting from there), with their further controls (`slow`)."""
    text = ""
    if distill_ui and more:
        text += (f"**A stronger start: more sources** (`distill_ui`, `cmlm_more`). LibreOffice's UI catalogs hold "
                 f"{distill_ui['ui_pairs']} EN-PT strings, {distill_ui['within_word_limit']} of them with at most 4 "
                 f"target words; {distill_ui['removed_as_help_sources']} of those are sources of the help corpus (any "
                 f"split) and are dropped, and the teacher's outputs for the other {distill_ui['sources']} join the "
                 f"{distill_ui['help_train_sources']} distilled help sources (their UI translations are never trained "
                 f"on). {trained_further(more, 'both')} (at length beam 3, beside its start, in the last table "
                 "below).\n\n")
    text += section_sharp(stronger, {}, title="The sharp setting from the stronger start, over seeds")
    if stronger_sx:
        text += "\n\n" + section_sharp(stronger_sx, {"stronger": stronger},
                                       title="The `engine` setting (O1 temperature 1) from the stronger start, over seeds")
    for control in slow:
        text += "\n\n" + section_slow_control(control, stronger, stronger_sx)
    return text


def trained_further(record: dict, corpus: str) -> str:
    """One line for a CMLM stage trained on from another (`train_further` in scripts/bench.py): recipe and scores."""
    one, ten = (record[f"{n}_iterations"]["libreoffice"] for n in (1, 10))
    return (f"`{record['stage']}` = {record['initialised_from']} + {record['steps']} CE steps on {corpus} (lr "
            f"{record['learning_rate']:g}, decaying; {record['train_seconds'] / 60:.0f} min; weights "
            f"`{short_digest(record.get('model_sha256'))}`): help test BLEU / chrF at length beam 5 "
            f"{one['bleu']:.2f} / {one['chrf']:.1f} at 1 iteration, {ten['bleu']:.2f} / {ten['chrf']:.1f} at 10")


def section_wide(distill_wide: dict | None, wide: dict | None, wide_sx: dict, decay: dict | None) -> str:
    """`wide_sx`: the `engine` setting from `cmlm_wide` (cmlm_more trained on the 5-8-word sources of
    `distill_wide` too), with its decaying control."""
    text = ""
    if distill_wide and wide:
        low, high = distill_wide["target_words"]
        text += (f"**A start stronger again: longer sources** (`distill_wide`, `cmlm_wide`). The help's training split "
                 f"holds {distill_wide['help_train_sources']} pairs with {low}-{high} target words; the UI catalogs "
                 f"{distill_wide['ui_within_word_limit']}, of which {distill_wide['ui_removed_as_help_sources']} are "
                 f"sources of the help corpus (any split, any length) and are dropped. The teacher's greedy outputs "
                 f"for the {distill_wide['help_train_sources'] + distill_wide['ui_sources']} new sources "
                 f"({distill_wide['seconds']:.0f} s) join distilled-more's {distill_wide['base_sources']}. The test "
                 f"slice keeps at most 4 words. {trained_further(wide, 'them')}.\n\n")
    text += section_sharp(wide_sx, {}, title="The `engine` setting (O1 temperature 1) from cmlm_wide, over seeds")
    if decay:
        text += "\n\n" + section_slow_control(decay, wide_sx)
    return text


def section_edge_by_start(stages: list[dict | None]) -> str:
    """Each setting's edge over its matched control, and over its start, at every start it ran from (labels:
    `confirm`, `sharp`, `stronger`, `stronger_sx`, `wide_sx`; A: the still-encoder pairs), weakest start first: does
    the edge grow with the start?"""
    by_start = []
    for stage in stages:
        for name, start in (stage or {}).get("starts", {}).items():
            points = [p for p in stage["points"] if p.get("start", name) == name]
            if points:
                by_start.append([f"{stage.get('o1_temperature', 1):g}", f"{name} (`{stage['stage']}`)",
                                 f"{start['bleu']:.2f} / {start['chrf']:.1f}",
                                 f"{statistics.mean(p['engine_bleu'] - p['control_bleu'] for p in points):+.2f} / "
                                 f"{statistics.mean(p['engine_chrf'] - p['control_chrf'] for p in points):+.1f}",
                                 f"{sum(p['engine_chrf'] > p['control_chrf'] for p in points)} of {len(points)}",
                                 f"{statistics.mean(p['engine_bleu'] - start['bleu'] for p in points):+.2f} / "
                                 f"{statistics.mean(p['engine_chrf'] - start['chrf'] for p in points):+.1f}"])
    by_start.sort(key=lambda row: (-float(row[0]), float(row[2].split(" / ")[0])))
    return ("**ENGINE's edge against the start** (help test set, 1 iteration, length beam 3, means over "
                   "seeds; each row's start as that stage scored it):\n\n"
                   + table(["O1 temperature", "start", "start BLEU / chrF", "ENGINE - control (BLEU / chrF)",
                            "ENGINE above in chrF", "ENGINE - start (BLEU / chrF)"], by_start))


def section_lengths_strong(data: dict) -> str:
    """`lengths_strong`: the strong starts' models at predicted and at reference lengths, means over seeds, then
    ENGINE - each control of the same start and seed under both: is the one-pass gap in the length head or the tokens?"""
    def mean(rows: list[dict], kind: str, metric: str) -> float:
        return statistics.mean(r[kind][metric] for r in rows)

    groups: dict[tuple[str, str], list[dict]] = {}
    for row in data["rows"]:
        groups.setdefault((row["stage"], row["system"]), []).append(row)
    start_of = {"stronger": "cmlm_more", "stronger_sx": "cmlm_more", "slow_control": "cmlm_more",
                "decay_control": "cmlm_more", "wide_sx": "cmlm_wide", "wide_decay_control": "cmlm_wide"}

    def against_start(stage: str, group: list[dict]) -> str:
        start = groups.get((start_of.get(stage, ""), "start"))
        if not start:
            return "-"
        return " ; ".join(f"{mean(group, kind, 'bleu') - mean(start, kind, 'bleu'):+.2f} / "
                          f"{mean(group, kind, 'chrf') - mean(start, kind, 'chrf'):+.1f}"
                          for kind in ("predicted_lengths", "oracle_lengths"))

    rows = [[f"`{stage}` {system}" if system != "start" else f"{stage} (start)", len(group),
             *(f"{mean(group, kind, 'bleu'):.2f} / {mean(group, kind, 'chrf'):.1f} / "
               f"{mean(group, kind, 'length_ratio'):.2f}" for kind in ("predicted_lengths", "oracle_lengths")),
             against_start(stage, group),
             f"{mean(group, 'oracle_lengths', 'length_head_offset'):+.2f} / "
             f"{100 * mean(group, 'oracle_lengths', 'length_head_exact'):.0f}%"
             if "length_head_offset" in group[0]["oracle_lengths"] else "-"]
            for (stage, system), group in groups.items()]
    by_key = {(r["stage"], r["system"], r["seed"]): r for r in data["rows"]}
    controls = {"stronger": ("stronger", "slow_control", "decay_control"),
                "stronger_sx": ("stronger_sx", "slow_control", "decay_control"),
                "wide_sx": ("wide_sx", "wide_decay_control")}
    lines = []
    for engine, names in controls.items():
        for control in names:
            pairs = [(r, by_key[control, "control", r["seed"]]) for (stage, system, _), r in by_key.items()
                     if stage == engine and system == "engine" and (control, "control", r["seed"]) in by_key]
            if not pairs:
                continue
            gap = {kind: (statistics.mean(e[kind]["bleu"] - c[kind]["bleu"] for e, c in pairs),
                          statistics.mean(e[kind]["chrf"] - c[kind]["chrf"] for e, c in pairs))
                   for kind in ("predicted_lengths", "oracle_lengths")}
            what = "its matched control (lr 1e-4)" if control == engine else f"`{control}`"
            lines.append(f"`{engine}` ENGINE - {what}, {len(pairs)} seed(s): "
                         f"{gap['predicted_lengths'][0]:+.2f} / {gap['predicted_lengths'][1]:+.1f} at predicted "
                         f"lengths, {gap['oracle_lengths'][0]:+.2f} / {gap['oracle_lengths'][1]:+.1f} at the "
                         "reference lengths")
    lines += [f"{r['stage']} (start) at 10 iterations, length beam 3: {r['refined']['bleu']:.2f} / "
              f"{r['refined']['chrf']:.1f} (its runs' 10-iteration scores are in their own tables)"
              for r in data["rows"] if "refined" in r]
    return ("**Length head or tokens, from the strong starts?** (`lengths_strong`: help test set, one pass; at the "
            "lengths each model predicts, length beam 3, and at the reference lengths; BLEU / chrF / length ratio "
            "in sacrebleu's 13a tokens; means over seeds)" + partial_note(data) + ":\n\n"
            + table(["model", "seeds", "predicted lengths", "reference lengths",
                     "- start, BLEU / chrF (predicted ; reference lengths)",
                     "length head: top length - reference (tokens) / exact"], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in lines))


def section_slow_control(slow: dict, *engines: dict | None) -> str:
    """A second CE control (`slow_control`: ENGINE's learning rate for each run's wall time; `decay_control`: a
    short decaying schedule of the first control's step count) beside the ENGINE runs of `engines` (same start and
    seed) and their usual controls (constant lr 1e-4)."""
    decaying = slow.get("lr_scheduler_type", "constant") != "constant"
    name = "decaying control" if decaying else "slow control"

    def cell(point: dict, who: str) -> str:
        return (f"{point[f'{who}_bleu']:.2f} / {point[f'{who}_chrf']:.1f} / {point[f'{who}_repetition']:.2f} / "
                f"{point[f'{who}_teacher_energy']:.2f}")

    rows, summary, usual = [], [], {stage.get("control_learning_rate", 1e-4) for stage in filter(None, engines)}
    for stage in filter(None, engines):
        points = {(p["start"], p["seed"]): p for p in stage["points"]}
        pairs = sorted(((points[p["start"], p["seed"]], p) for p in slow["points"] if (p["start"], p["seed"]) in points),
                       key=lambda pair: pair[1]["seed"])
        if not pairs:
            continue
        rows += [[f"`{stage['stage']}` (O1 temperature {stage['o1_temperature']:g})", s["seed"], cell(e, "engine"),
                  cell(e, "control"), cell(s, "control") + f" ({s['control_steps']} steps, {s['train_seconds']:.0f} s)",
                  f"{e['engine_bleu'] - s['control_bleu']:+.2f} / {e['engine_chrf'] - s['control_chrf']:+.1f}",
                  f"{e['engine_bleu_10'] - s['control_bleu_10']:+.2f} / {e['engine_chrf_10'] - s['control_chrf_10']:+.1f}"]
                 for e, s in pairs]
        chrf = [e["engine_chrf"] - s["control_chrf"] for e, s in pairs]
        summary.append(f"`{stage['stage']}`: ENGINE - {name} = "
                       f"{statistics.mean(e['engine_bleu'] - s['control_bleu'] for e, s in pairs):+.2f} BLEU, "
                       f"{statistics.mean(chrf):+.1f} chrF, ENGINE above in chrF in {sum(d > 0 for d in chrf)} of "
                       f"{len(pairs)}; at 10 iterations "
                       f"{statistics.mean(e['engine_bleu_10'] - s['control_bleu_10'] for e, s in pairs):+.2f} / "
                       f"{statistics.mean(e['engine_chrf_10'] - s['control_chrf_10'] for e, s in pairs):+.1f}"
                       + against_start(stage.get("starts", {}), [s for _, s in pairs], name))
    what = (f"**A control with a short decaying schedule** (`{slow['stage']}`: CE from lr {slow['learning_rate']:g} "
            "decaying linearly to 0 over as many steps as the run's first control took in ENGINE's wall time"
            if decaying else
            f"**A control at ENGINE's own learning rate** (`{slow['stage']}`: CE at a constant lr "
            f"{slow['learning_rate']:g} for each ENGINE run's wall time")
    return (f"{what}, from the same start, same seed; BLEU / chrF / repetition / teacher energy, help test set, "
            f"1 iteration, length beam 3){partial_note(slow)}:\n\n"
            + table(["ENGINE run", "seed", "ENGINE", "control, constant lr " + " or ".join(
                f"{lr:.0e}".replace("e-0", "e-") for lr in sorted(usual)), name, f"ENGINE - {name}",
                     f"ENGINE - {name}, 10 it."], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def first_checkpoint_pairs(data: dict, stage: str) -> dict:
    """A stage of seeded curves as a stage of matched pairs (`section_slow_control`'s `engines`): each seed's first
    checkpoint, ENGINE beside the control checkpointed at its wall time; a second control ran against those."""
    curves = seed_curves(data)
    some = next(iter(curves.values()), {})
    return {"stage": stage, "o1_temperature": some.get("o1_temperature"),
            "control_learning_rate": some.get("control_learning_rate"),
            "starts": {curve["initialised_from"]: curve["start"] for curve in curves.values()},
            "points": [{"start": curve["initialised_from"], "seed": seed, **curve["points"][0]}
                       for seed, curve in curves.items()]}


def against_start(starts: dict, controls: list[dict], name: str) -> str:
    """"; the {name} - its start = ..." at one pass, where the ENGINE stage scored its starts in both metrics: a
    control that ends below its start is partly a jolt, not a measure of what CE buys."""
    deltas = [(c["control_bleu"] - starts[c["start"]]["bleu"], c["control_chrf"] - starts[c["start"]]["chrf"])
              for c in controls if {"bleu", "chrf"} <= set(starts.get(c["start"], {}))]
    if not deltas or len(deltas) < len(controls):
        return ""
    return (f"; the {name} - its start, 1 it: {statistics.mean(b for b, _ in deltas):+.2f} / "
            f"{statistics.mean(c for _, c in deltas):+.1f}, above it in both in "
            f"{sum(b > 0 and c > 0 for b, c in deltas)} of {len(deltas)}")


def section_ranking(data: dict) -> str:
    """Does the teacher's energy rank outputs as the references do? Per-sentence comparisons of the ranking stage."""
    def percent(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    rows = [["reference", "-", "-", f"{data['reference_teacher_energy']:.2f}", "-"]]
    rows += [[name, f"{r['bleu']:.2f}", r["chrf"], f"{r['teacher_energy']:.2f}",
              f"{percent(r['reference_preferred'])} of {r['differs_from_reference']}"]
             for name, r in data["systems"].items()]
    rerank, oracle = data["energy_rerank"], data["chrf_oracle"]
    picked = ", ".join(f"{name} {count}" for name, count in rerank["picked"].items())
    rows += [[f"NAT outputs reranked by teacher energy (picked: {picked})", f"{rerank['bleu']:.2f}", rerank["chrf"],
              "-", "-"],
             ["NAT outputs, best sentence chrF (oracle)", f"{oracle['bleu']:.2f}", oracle["chrf"], "-", "-"]]
    rows += [[f"{name}, its length candidates reranked by teacher energy", f"{r['bleu']:.2f}", r["chrf"],
              f"{r['teacher_energy']:.2f}", "-"] for name, r in data.get("length_candidates_reranked", {}).items()]
    pairs = [[pair, a["compared"], percent(a["agreement"])] for pair, a in data["agreement"].items()]
    nat = data["agreement_nat"]
    return ("**Does the teacher's energy rank outputs as the references do?** (`ranking`: help test set, "
            f"{data['sentences']} sentences; NAT rows 1 iteration, length beam 3, from {data['initialised_from']}; "
            "teacher energy in nats per token, the reference scored like any output; \"teacher prefers the "
            "reference\" = share of the sentences whose output differs from the reference where the reference's "
            "energy is lower)\n\n"
            + table(["system", "BLEU", "chrF", "teacher energy", "teacher prefers the reference"], rows)
            + "\n\nWhich of two systems' outputs for the same source is better: how often the energy (lower) and "
            "sentence chrF (higher) agree, over the sources where the two outputs and their chrF differ (50% = a "
            f"coin). Pooled over the three NAT pairs: {percent(nat['agreement'])} of {nat['compared']}.\n\n"
            + table(["pair", "sources compared", "energy agrees with chrF"], pairs))

def section_rescoring(data: dict) -> str:
    """Each NAT model's length candidates chosen by itself and by the teacher, per iterations and length beam."""
    def cell(scores: dict) -> str:
        return f"{scores['bleu']:.2f} / {scores['chrf']:.1f}"

    grids = [row["scores"] for row in data["rows"].values()]
    beams = [beam for beam in (3, 5, 10) if all(f"1 it, length beam {beam}, teacher" in grid for grid in grids)]
    rows, gains = [], {(n, beam): [] for n in (1, 10) for beam in beams}
    for (system, row), grid in zip(data["rows"].items(), grids, strict=True):
        name = f"{system} `{row['model_sha256'][:8]}`" if row.get("model_sha256") else system
        for n in (1, 10):
            rows.append([name, n, cell(grid[f"{n} it, length beam 1, student"])]
                        + [cell(grid[f"{n} it, length beam {beam}, {who}"]) for beam in beams
                           for who in ("student", "teacher")])
            for beam in beams:
                own, teacher = grid[f"{n} it, length beam {beam}, student"], grid[f"{n} it, length beam {beam}, teacher"]
                gains[n, beam].append((teacher["bleu"] - own["bleu"], teacher["chrf"] - own["chrf"]))
    summary = [f"{n} iteration(s), length beam {beam}: teacher picks - student picks = "
               f"{statistics.mean(g[0] for g in points):+.2f} BLEU, {statistics.mean(g[1] for g in points):+.1f} chrF "
               f"on average over {len(points)} model{'s' if len(points) > 1 else ''}; higher BLEU for "
               f"{sum(g[0] > 0 for g in points)} of {len(points)}"
               for (n, beam), points in gains.items() if points]
    summary += rescored_pairs(data["rows"])
    title = ("**The teacher at inference instead of in training: rescoring the length candidates**"
             if data.get("stage", "rescoring") == "rescoring" else
             "**Rescoring the length candidates of the strongest starts**")
    return (f"{title} (`{data.get('stage', 'rescoring')}`: "
            "help test set; each model decodes its length beam's candidates in parallel, then outputs the one it "
            "scores best itself, by mean log-probability, or the one the teacher scores best, by energy, in one "
            "teacher-forced pass: `generate(rescoring_model=teacher)`; BLEU / chrF; the models are those on this "
            "machine when the stage ran, each named with the first digits of its weights' digest (`model_sha256`): "
            "a model rebuilt after the other tables were made is another draw of its recipe)"
            f"{partial_note(data)}:\n\n"
            + table(["system", "iterations", "length beam 1"]
                    + [f"beam {beam}, {who} picks" for beam in beams for who in ("student", "teacher")], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def section_length_choice(data: dict) -> str:
    """`length_choice`: per start, the start and its two refitted length heads at 1 and 10 iterations, and the head's
    top length against the reference's and the teacher's choice on the test set."""
    def cell(scores: dict) -> str:
        return f"{scores['bleu']:.2f} / {scores['chrf']:.1f} / {scores['length_ratio']:.2f}"

    rows, lines = [], []
    for start, row in data["rows"].items():
        systems = row["systems"]
        for system, result in systems.items():
            head = result["head_on_test"]
            agrees = head["teacher's choice exact"]
            fit = result.get("fit")
            rows.append([f"{start} `{row['model_sha256'][:8]}`" if system == "start" else
                         f"{start}, head refitted to the {system}",
                         cell(result["1 it, length beam 1"]), cell(result["1 it, length beam 3"]),
                         cell(result["10 it, length beam 3"]),
                         f"{100 * head['reference exact']:.0f}% / {head['reference offset']:+.2f}",
                         f"{100 * agrees:.0f}%",
                         "-" if fit is None else f"{100 * fit['agreement_before']:.0f}% -> {100 * fit['agreement_after']:.0f}%"])
        rescored, start_scores = row["start, 1 it, length beam 5, teacher rescoring"], systems["start"]
        for system in (name for name in systems if name != "start"):
            for setting in ("1 it, length beam 1", "1 it, length beam 3"):
                gain = (systems[system][setting]["bleu"] - start_scores[setting]["bleu"],
                        systems[system][setting]["chrf"] - start_scores[setting]["chrf"])
                lines.append(f"{start}, head refitted to the {system}, {setting}: {gain[0]:+.2f} BLEU / "
                             f"{gain[1]:+.1f} chrF against the start")
        lines.append(f"{start} with the teacher choosing among 5 length candidates at inference (the target of the "
                     f"teacher's-choice head): {cell(rescored)}; the teacher's choice equals the training target's "
                     f"length for {100 * row['training_choice_equals_target']:.0f}% of the "
                     f"{row['training_sources']:,} training sources")
    choice = data["setting"]["choice"]
    fit = data["setting"]["fit"]
    return ("**The teacher's choice of length, learnt by the length head** (`length_choice`: the teacher's pick among "
            f"the start's {choice['length_beam']} likeliest lengths after {choice['num_iterations']} iteration(s), on "
            "every training source, then only the length head refitted to it, encoder and decoder unchanged "
            f"({fit['epochs']} epochs of Adam, lr {fit['learning_rate']:g}); the control refits the same head the same "
            "way to the training targets' own lengths. Help test set, BLEU / chrF / length ratio; head: its top "
            "length exact against the reference / mean offset in tokens, exact against the teacher's choice on the "
            f"test sources, and on the training sources before -> after the fit){partial_note(data)}:\n\n"
            + table(["system", "1 it, length beam 1", "1 it, length beam 3", "10 it, length beam 3",
                     "head vs reference", "head = teacher's choice", "fit (train)"], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in lines))


STILL_PAIRS = (("cmlm_kd_still", "cmlm_kd"), ("cmlm_long_still", "cmlm_long"))


def section_still_encoder(data: dict) -> str:
    """`still_encoder`: the CMLMs trained with the frozen encoder in eval mode beside the same recipes trained with
    dropout in it, at each decoding and at the reference lengths, and the differences per recipe."""
    decodings = [key for key in next(iter(data["rows"].values())) if " it, length beam " in key]

    def cell(scores: dict) -> str:
        return f"{scores['bleu']:.2f} / {scores['chrf']:.1f} / {scores['repetition']:.2f}"

    rows = []
    for name, row in data["rows"].items():
        oracle = row["reference lengths"]
        seconds = row.get("train_seconds")
        rows.append([f"{name} `{row['model_sha256'][:8]}`", "no" if name.endswith("_still") else "yes",
                     "-" if seconds is None else f"{seconds / 60:.0f}",
                     *(cell(row[key]) for key in decodings), cell(oracle),
                     f"{100 * oracle['length_head_exact']:.0f}% / {oracle['length_head_offset']:+.2f}"])
    lines = []
    for still, noisy in STILL_PAIRS:
        if still in data["rows"] and noisy in data["rows"]:
            a, b = data["rows"][still], data["rows"][noisy]
            parts = [f"{key} {a[key]['bleu'] - b[key]['bleu']:+.2f} / {a[key]['chrf'] - b[key]['chrf']:+.1f}"
                     for key in [*decodings, "reference lengths"]]
            lines.append(f"{still} - {noisy} (BLEU / chrF): " + "; ".join(parts))
    for name, noise in data.get("dropout_noise", {}).items():
        lines.append(f"{name}: dropout {noise['dropout']:g} in the frozen encoder moves the length summary by "
                     f"{100 * noise['relative_change']:.0f}% of its norm on {noise['sources']:,} training sources "
                     f"(mean of {noise['draws']} draws); the length head is exact on {100 * noise['head_exact_clean']:.0f}% "
                     f"of them from clean summaries, {100 * noise['head_exact_noised']:.0f}% from noised ones")
    return ("**A still encoder: the frozen encoder without dropout while the student trains** (`still_encoder`: "
            "`cmlm_kd`'s and `cmlm_long`'s recipes again, same seed, data and steps, with the frozen teacher encoder "
            "kept in eval mode, beside the two trained with the student's dropout (0.1) on in it; help test set, "
            "BLEU / chrF / repetition; at the reference lengths one pass at the reference's number of tokens; head: "
            f"its top length exact against the reference / mean offset in tokens){partial_note(data)}:\n\n"
            + table(["model", "dropout in the frozen encoder", "train min", *decodings, "reference lengths",
                     "head vs reference"], rows)
            + ("\n\n" + "\n".join(f"- {line}" for line in lines) if lines else ""))


STILL_MAIN = {"cmlm_kd_still": ("CMLM (distilled)", "cmlm_kd"), "engine_still": ("ENGINE (SX/ST)", "engine"),
              "control_still": ("CMLM + matched-compute CE", "control")}
# `still_sharp`'s run, set in still_main's table as one more row.
STILL_SHARP_LABEL = "ENGINE (SX/ST, O1 temperature 0.25)"


def section_still_main(data: dict, teacher: dict | None, noisy: dict[str, dict | None],
                        sharp: dict | None = None) -> str:
    """`still_main`: benchmark A's main rows retrained with the frozen encoder in eval mode, the targets checked on
    them, and the differences from the main table's rows (trained with dropout in that encoder); `still_sharp`'s
    ENGINE run, when it has run, as one more row set against the same control."""
    rows, lines = [], []
    systems = {**data["rows"], **({"engine_sharp_still": sharp} if sharp else {})}
    for name, row in systems.items():
        label = (STILL_MAIN[name][0] if name in STILL_MAIN else STILL_SHARP_LABEL) + ", still encoder"
        for beam_key in (key for key in row if key.startswith("length beam ")):
            for iterations in ("1_iterations", "10_iterations"):
                rows.append([f"{label} `{row['model_sha256'][:8]}`", iterations.split("_")[0],
                             beam_key.removeprefix("length beam "), *cells(row[beam_key][iterations])])
    by_name = {name: row["length beam 3"] for name, row in systems.items() if "length beam 3" in row}

    def delta(a: dict, b: dict, corpus: str) -> str:
        return f"{a[corpus]['bleu'] - b[corpus]['bleu']:+.2f} / {a[corpus]['chrf'] - b[corpus]['chrf']:+.1f}"

    for other in ("control_still", "cmlm_kd_still"):
        if "engine_still" in by_name and other in by_name:
            parts = [f"{its.split('_')[0]} it: help {delta(by_name['engine_still'][its], by_name[other][its], 'libreoffice')}"
                     f", Bible {delta(by_name['engine_still'][its], by_name[other][its], 'bible')}"
                     for its in ("1_iterations", "10_iterations")]
            lines.append(f"ENGINE - {other} at length beam 3 (BLEU / chrF): " + "; ".join(parts))
    if sharp and sharp["start_sha256"] != data["rows"].get("cmlm_kd_still", {}).get("model_sha256"):
        lines.append(f"`still_sharp` started from another draw of cmlm_kd_still (`{sharp['start_sha256'][:8]}`), not "
                     "the one in this table: its differences below compare different starts")
    if sharp and "control_still" in by_name:
        for other in ("control_still", "engine_still", "cmlm_kd_still"):
            parts = [f"{its.split('_')[0]} it: help "
                     f"{delta(by_name['engine_sharp_still'][its], by_name[other][its], 'libreoffice')}, Bible "
                     f"{delta(by_name['engine_sharp_still'][its], by_name[other][its], 'bible')}"
                     for its in ("1_iterations", "10_iterations")]
            lines.append(f"ENGINE at O1 temperature 0.25 (`still_sharp`, one seed, {sharp['train_seconds']:.0f} s; "
                         f"the control had {data['rows']['control_still']['budget_seconds']:.0f} s) - {other} at "
                         "length beam 3 (BLEU / chrF): " + "; ".join(parts))
    for name, (_, old) in STILL_MAIN.items():
        if name in data["rows"] and noisy.get(old):
            beam = "length beam 5" if name == "cmlm_kd_still" else "length beam 3"
            mine = data["rows"][name][beam]
            parts = [f"{its.split('_')[0]} it: help {delta(mine[its], noisy[old][its], 'libreoffice')}, Bible "
                     f"{delta(mine[its], noisy[old][its], 'bible')}" for its in ("1_iterations", "10_iterations")]
            lines.append(f"{name} - the main table's {old} (dropout in the frozen encoder; {beam}): " + "; ".join(parts))
    if teacher and "engine_still" in by_name:
        engine, greedy = by_name["engine_still"]["1_iterations"]["libreoffice"]["bleu"], teacher["greedy"]["libreoffice"]["bleu"]
        lines.append(f"ENGINE at one pass reaches {100 * engine / greedy:.0f}% of teacher greedy's help BLEU "
                     f"({engine:.2f} vs {greedy:.2f}; the target is 95%)")
    header = ["system", "iterations", "length beam", "help BLEU", "help chrF", "help repetition", "help teacher energy",
              "Bible BLEU", "Bible chrF"]
    return ("**The main table again with a still encoder** (`still_main`: `cmlm_kd`, `engine` and `control` "
            "retrained with the frozen teacher encoder in eval mode, same data, seed, steps and schedules; ENGINE "
            f"and the control start from cmlm_kd_still){partial_note(data)}:\n\n" + table(header, rows)
            + ("\n\n" + "\n".join(f"- {line}" for line in lines) if lines else ""))


def section_still_long(data: dict, still_main: dict | None, noisy: dict | None) -> str:
    """`still_long`: cmlm_long's recipe from cmlm_kd_still with the still encoder, against its start
    (`still_main`'s cmlm_kd_still) and against `cmlm_long` (the same recipe with dropout in the frozen encoder)."""
    references = {"cmlm_kd_still (its start, `still_main`)": (still_main or {}).get("rows", {}).get(
        "cmlm_kd_still", {}).get("length beam 5"), "cmlm_long (dropout in the frozen encoder)": noisy}
    return section_trained_further(
        data, "cmlm_long_still", references,
        f"**A stronger still-encoder start** (`still_long`: cmlm_long's recipe, {data['steps']} more CE steps at lr "
        f"{data['learning_rate']:g} decaying, from cmlm_kd_still with the still encoder; "
        f"{data['train_seconds'] / 60:.0f} min)")


def section_still_more(data: dict, still_long: dict | None, distill_all: dict | None) -> str:
    """`still_more`: cmlm_long_still trained on with the same schedule on every training source (`distill_all`),
    against its start."""
    sources = (f"{distill_all['base_sources'] + distill_all['sources']:,} distilled sources, "
               f"{(distill_all['base_sources'] + distill_all['sources']) / distill_all['base_sources']:.1f}x the "
               f"{distill_all['base_sources']:,} it had seen; the {distill_all['sources']:,} new ones distilled in "
               f"{distill_all['seconds'] / 60:.0f} min" if distill_all else "`distilled-all`")
    references = {"cmlm_long_still (its start, `still_long`)": (still_long or {}).get("length beam 5")}
    return section_trained_further(
        data, "cmlm_more_still", references,
        f"**A start trained on every source** (`distill_all`, `still_more`: cmlm_long_still + {data['steps']} CE "
        f"steps at lr {data['learning_rate']:g} decaying, the still encoder, on {sources}; "
        f"{data['train_seconds'] / 60:.0f} min of training)")


def section_more_steps(data: dict, start: dict | None) -> str:
    """`still_most`, `still_max`: the start before trained the same schedule again on the same sources, against
    that start (`start`, its stage's results)."""
    name, before = Path(data["model"]).name, data["initialised_from"]
    return section_trained_further(
        data, name, {f"{before} (its start, `{(start or {}).get('stage')}`)": (start or {}).get("length beam 5")},
        f"**More steps on every source** (`{data['stage']}`: {before} + {data['steps']} CE steps at lr "
        f"{data['learning_rate']:g} decaying, the still encoder, on `distilled-all`; "
        f"{data['train_seconds'] / 60:.0f} min of training)")


def section_trained_further(data: dict, name: str, references: dict[str, dict | None], title: str) -> str:
    """A CMLM trained further, scored on both test corpora at length beams 5 and 3, with its help scores (length
    beam 5) against each of `references` (a results block with `1_iterations` and `10_iterations`) there is."""
    rows = [[f"{name} `{data['model_sha256'][:8]}`", iterations.split("_")[0], beam.removeprefix("length beam "),
             *cells(data[beam][iterations])]
            for beam in ("length beam 5", "length beam 3") for iterations in ("1_iterations", "10_iterations")]
    lines = []
    for label, other in references.items():
        if other:
            parts = [f"{its.split('_')[0]} it: help {data['length beam 5'][its]['libreoffice']['bleu'] - other[its]['libreoffice']['bleu']:+.2f}"
                     f" / {data['length beam 5'][its]['libreoffice']['chrf'] - other[its]['libreoffice']['chrf']:+.1f}"
                     for its in ("1_iterations", "10_iterations")]
            lines.append(f"{name} - {label}, length beam 5 (BLEU / chrF): " + "; ".join(parts))
    header = ["system", "iterations", "length beam", "help BLEU", "help chrF", "help repetition", "help teacher energy",
              "Bible BLEU", "Bible chrF"]
    return (f"{title}:\n\n" + table(header, rows) + ("\n\n" + "\n".join(f"- {line}" for line in lines) if lines else ""))


def rescored_pairs(rows: dict) -> list[str]:
    """ENGINE - control for confirm's pairs (same start and seed), with the student's and the teacher's picks."""
    pairs = [(system, "control" + system.removeprefix("ENGINE")) for system in rows
             if system.startswith("ENGINE (confirm") and "control" + system.removeprefix("ENGINE") in rows]
    if not pairs:
        return []
    lines = []
    for n, beam in ((1, 3), (10, 3), (1, 5)):
        parts = []
        for who in ("student", "teacher"):
            key = f"{n} it, length beam {beam}, {who}"
            bleu = [rows[e]["scores"][key]["bleu"] - rows[c]["scores"][key]["bleu"] for e, c in pairs]
            chrf = [rows[e]["scores"][key]["chrf"] - rows[c]["scores"][key]["chrf"] for e, c in pairs]
            parts.append(f"{who} picks {statistics.mean(bleu):+.2f} BLEU / {statistics.mean(chrf):+.1f} chrF, ENGINE "
                         f"above in BLEU in {sum(d > 0 for d in bleu)} of {len(pairs)}")
        lines.append(f"confirm's ENGINE - control (same start and seed), {n} iteration(s), length beam {beam}: "
                         + "; ".join(parts))
    return lines


def curve_scores(point: dict, who: str) -> str:
    """One side of a compute-curve point at one iteration: BLEU / chrF / repetition / teacher energy."""
    return (f"{point[f'{who}_bleu']:.2f} / {point[f'{who}_chrf']:.1f} / {point[f'{who}_repetition']:.2f} / "
            f"{point[f'{who}_teacher_energy']:.2f}")


def curve_gap(point: dict, suffix: str = "") -> str:
    """ENGINE - control at a compute-curve point, BLEU / chrF (`suffix` "_10": at ten iterations)."""
    return (f"{point[f'engine_bleu{suffix}'] - point[f'control_bleu{suffix}']:+.2f} / "
            f"{point[f'engine_chrf{suffix}'] - point[f'control_chrf{suffix}']:+.1f}")


def curve_refined(point: dict, who: str) -> str:
    """One side of a compute-curve point at ten iterations: BLEU / chrF."""
    return f"{point[f'{who}_bleu_10']:.2f} / {point[f'{who}_chrf_10']:.1f}"


def section_budget(data: dict, plot: str | None, stage: str = "budget", replica: dict | None = None,
                   control_replica: tuple[str, dict] | None = None,
                   title: str = "ENGINE against its control as compute grows") -> str:
    """ENGINE and its control at equal wall times along one longer run each: does the gap grow with compute?
    `replica` is the matched pair whose ENGINE the first checkpoint should repeat (same start, seed and steps);
    `control_replica` (its stage, its point) a control run of the same start, seed and lr for ENGINE's first wall
    time, which the control's first checkpoint should come close to (a wall-time stop is not step-exact). `plot`:
    the curve's figure under docs/, none for a single checkpoint."""
    if data.get("partial"):
        return f"**{title}** (`{stage}`): **unfinished**, the stage resumes where it stopped."
    scores, gap, refined = curve_scores, curve_gap, curve_refined
    start = {f"start_{m}": v for m, v in data["start"].items()}
    ten = all("engine_bleu_10" in p for p in data["points"])  # older results scored one iteration only
    rows = [[0, 0, scores(start, "start"), 0, scores(start, "start"), "-"]
            + ([refined(start, "start"), refined(start, "start"), "-"] if ten else [])]
    rows += [[p["engine_step"], f"{p['seconds']:.0f}", scores(p, "engine"), p["control_step"], scores(p, "control"),
              gap(p)] + ([refined(p, "engine"), refined(p, "control"), gap(p, "_10")] if ten else [])
             for p in data["points"]]
    setting = (f"O1 temperature {data['o1_temperature']:g}, " if data.get("o1_temperature", 1) != 1 else
               "the engine stage's settings, ")
    seed = f", seed {data['seed']}" if "seed" in data else ""
    text = (f"**{title}** (`{stage}`: {setting}lr "
            f"{data['learning_rate']:g}, `ce_weight` {data['ce_weight']:g}, {data['energy_steps']} energy steps from "
            f"{data['initialised_from']}{seed}, scored every {data['checkpoint_every']}; one control run (CE, lr "
            f"{data['control_learning_rate']:g}) checkpointed at the wall times ENGINE reached its checkpoints; help "
            "test set, 1 iteration, length beam 3; BLEU / chrF / repetition / teacher energy in nats per token"
            f"{'; the last three columns at 10 iterations, BLEU / chrF' if ten else ''}){partial_note(data)}:\n\n"
            + table(["energy steps", "wall time (s)", "ENGINE", "CE steps", "matched CE control",
                     "ENGINE - control (BLEU / chrF)"]
                    + (["ENGINE, 10 it.", "control, 10 it.", "ENGINE - control, 10 it."] if ten else []), rows))
    if all("engine_bleu_dev" in p for p in data["points"]) and "bleu_dev" in data["start"]:
        text += "\n\n" + dev_choice(data)
    if replica:
        first = data["points"][0]
        same = (first["engine_bleu"], first["engine_chrf"]) == (replica["engine_bleu"], replica["engine_chrf"])
        text += (f"\n\nThe {first['engine_step']}-step ENGINE checkpoint scores {first['engine_bleu']:.2f} / "
                 f"{first['engine_chrf']:.1f}; the matched pair of the same start and seed scored "
                 f"{replica['engine_bleu']:.2f} / {replica['engine_chrf']:.1f} "
                 f"({'the same run again' if same else 'not the same: the run did not repeat'}), and its control "
                 f"{replica['control_bleu']:.2f} / {replica['control_chrf']:.1f} after {replica['control_steps']} CE "
                 "steps.")
    if control_replica:
        control_stage, point = control_replica
        first = data["points"][0]
        text += (f" The control's first checkpoint ({first['control_step']} CE steps at lr "
                 f"{data['control_learning_rate']:g}) scores {first['control_bleu']:.2f} / {first['control_chrf']:.1f}; "
                 f"`{control_stage}`'s control of the same start, seed and lr scored {point['control_bleu']:.2f} / "
                 f"{point['control_chrf']:.1f} after {point['control_steps']} steps in its pair's wall time.")
    return text + (f"\n\n![{title}]({plot})" if plot else "")


def dev_picks(data: dict) -> dict[str, dict]:
    """Each side's point of a compute curve with the best dev BLEU, the start (step 0) competing too."""
    start = {f"{who}_{m}": v for who in ("engine", "control") for m, v in data["start"].items()}
    candidates = [{**start, "engine_step": 0, "control_step": 0}, *data["points"]]
    return {who: max(candidates, key=lambda p: p[f"{who}_bleu_dev"]) for who in ("engine", "control")}


def dev_choice(data: dict) -> str:
    """A compute curve's checkpoints as one would pick them without the test set: each side's best dev BLEU (help
    validation, 1 iteration; the start competes too), and the two picks' test scores side by side."""
    picks = dev_picks(data)

    def pick(who: str, unit: str) -> str:
        p = picks[who]
        at = "the start" if p[f"{who}_step"] == 0 else f"{p[f'{who}_step']} {unit}"
        return (f"{at} (dev {p[f'{who}_bleu_dev']:.2f}; test {p[f'{who}_bleu']:.2f} / {p[f'{who}_chrf']:.1f} at one "
                f"iteration, {p[f'{who}_bleu_10']:.2f} / {p[f'{who}_chrf_10']:.1f} at ten)")

    engine, control = picks["engine"], picks["control"]
    return (f"Chosen on dev BLEU instead (help validation, 1 iteration, length beam 3; the start competes too), ENGINE's "
            f"pick is {pick('engine', 'energy steps')} and the control's pick {pick('control', 'CE steps')}: ENGINE - "
            f"control {engine['engine_bleu'] - control['control_bleu']:+.2f} / "
            f"{engine['engine_chrf'] - control['control_chrf']:+.1f} at one iteration and "
            f"{engine['engine_bleu_10'] - control['control_bleu_10']:+.2f} / "
            f"{engine['engine_chrf_10'] - control['control_chrf_10']:+.1f} at ten.")


def mean_range(values: list[float], unit: str, digits: int = 2) -> str:
    """A mean over seeds with its range: "+1.00 BLEU (from +0.52 to +1.34)"; one value alone."""
    if len(values) == 1:
        return f"{values[0]:+.{digits}f} {unit}"
    return (f"{statistics.mean(values):+.{digits}f} {unit} (from {min(values):+.{digits}f} to "
            f"{max(values):+.{digits}f})")


def seeds(n: int) -> str:
    return f"{n} seed" + ("s" if n != 1 else "")


def seed_curves(data: dict) -> dict[int, dict]:
    """A stage's finished compute curves by seed: the `curves` layout of `seeded_curves` (`seed<N>`), or the older
    layout of one curve with its `seed`."""
    curves = data.get("curves") or ({f"seed{data['seed']}": data} if "points" in data else {})
    return {int(name.removeprefix("seed")): curve for name, curve in sorted(curves.items()) if not curve.get("partial")}


def seed_curves_table(curves: dict[int, dict]) -> str:
    """Each seed's checkpoints, ENGINE beside its control at one and at ten iterations."""
    rows = [[seed, p["engine_step"], f"{p['seconds']:.0f}", curve_scores(p, "engine"), p["control_step"],
             curve_scores(p, "control"), curve_gap(p), curve_refined(p, "engine"), curve_refined(p, "control"),
             curve_gap(p, "_10")] for seed, curve in sorted(curves.items()) for p in curve["points"]]
    return table(["seed", "energy steps", "wall time (s)", "ENGINE, 1 it.", "CE steps", "control, 1 it.",
                  "ENGINE - control, 1 it.", "ENGINE, 10 it.", "control, 10 it.", "ENGINE - control, 10 it."], rows)


def seed_curves_summary(curves: dict[int, dict]) -> list[str]:
    """Per checkpoint, the mean ENGINE - control and ENGINE - start over seeds; then each side chosen on dev."""
    some = next(iter(curves.values()))
    summary = []
    for i, p in enumerate(some["points"]):
        at = [curve["points"][i] for curve in curves.values()]
        one = mean_range([q["engine_bleu"] - q["control_bleu"] for q in at], "BLEU")
        ten = mean_range([q["engine_bleu_10"] - q["control_bleu_10"] for q in at], "BLEU")
        rise = mean_range([q["engine_bleu"] - curve["start"]["bleu"] for q, curve in zip(at, curves.values(),
                                                                                         strict=True)], "BLEU")
        summary.append(f"- {p['engine_step']} energy steps, {'mean over ' if len(at) > 1 else ''}{seeds(len(at))}: ENGINE - control {one} at one "
                       f"iteration and {ten} at ten; ENGINE - start {rise} at one iteration")
    picks = {seed: dev_picks(curve) for seed, curve in sorted(curves.items())}
    chosen = [p["engine"]["engine_bleu"] - p["control"]["control_bleu"] for p in picks.values()]
    chosen_10 = [p["engine"]["engine_bleu_10"] - p["control"]["control_bleu_10"] for p in picks.values()]
    summary.append("- chosen on dev BLEU (help validation, 1 iteration; the start and every checkpoint compete), ENGINE "
                   f"- control {mean_range(chosen, 'BLEU')} at one iteration and {mean_range(chosen_10, 'BLEU')} at "
                   "ten; picks (energy steps / CE steps): " + ", ".join(
                       f"seed {seed} {p['engine']['engine_step'] or 'the start'} / "
                       f"{p['control']['control_step'] or 'the start'}" for seed, p in picks.items()))
    return summary


def seed_curves_about(some: dict, steps: int | None = None) -> str:
    """The setting of a stage of seeded curves and its start's scores, for the table's heading."""
    start = some["start"]
    scored = (f"scored every {some['checkpoint_every']}" if some["energy_steps"] != some["checkpoint_every"] else
              "scored once")
    lengths = (f", the energy at the {some['energy_length']} lengths" if some.get("energy_length", "oracle") != "oracle"
               else "")
    return (f"O1 temperature {some['o1_temperature']:g}, lr {some['learning_rate']:g}, `ce_weight` "
            f"{some['ce_weight']:g}{lengths}, {steps or some['energy_steps']} energy steps from {some['initialised_from']}, "
            f"{scored}; each seed's control one CE run at lr {some['control_learning_rate']:g} checkpointed at the "
            "wall times its ENGINE reached; help test set, length beam 3; 1 iteration: BLEU / chrF / repetition / "
            "teacher energy, 10 iterations: BLEU / chrF; the start scores "
            f"{curve_scores({f'start_{m}': v for m, v in start.items()}, 'start')} at one iteration and "
            f"{start['bleu_10']:.2f} / {start['chrf_10']:.1f} at ten")


def section_budget_seeds(data: dict, seed_2: dict | None, sharp: dict | None, slow: dict | None,
                         stage: str = "still_most_budget_seeds", against: tuple[dict | None, str] | None = None) -> str:
    """A stage of 400-step compute curves over seeds (`still_most_budget_seeds`, `still_max_budget`). `seed_2`, where
    given, is `still_most_budget` (its first checkpoints are the same run as a shorter one: both learning rates are
    constant); `sharp` and `slow` the 200-step pairs and slow controls of the same start and seeds, which each curve's
    first checkpoint repeats (named after the start's line: `still_most_sharp` for `cmlm_most_still`). `against` is
    another curves stage of the same start and seeds with its name, in one setting other (`curves_against`): the
    mixed energy beside a pure-energy stage, a smaller lr beside a larger one."""
    curves = seed_curves(data)
    some = next(iter(curves.values()), {})
    start = some.get("initialised_from")
    line = {"cmlm_most_still": "still_most", "cmlm_max_still": "still_max", "cmlm_peak_still": "still_peak"}.get(start, "")
    what = ("Pure energy (`ce_weight` 0) with the sharp O1" if some.get("ce_weight") == 0 else "The sharp O1's edge") + (
        f" at lr {some['learning_rate']:g}" if "learning_rate" in some else "") + (
        f", at the {some['energy_length']} lengths" if some.get("energy_length", "oracle") != "oracle" else "")
    title = f"**{what} from {f'`{start}`' if start else 'its start'} at 200 and 400 steps, over seeds**"
    if not curves:
        return f"{title} (`{stage}`): **unfinished**, the stage resumes where it stopped."
    unfinished = (f" — **unfinished: {seeds(len(curves))} so far**, the stage resumes where it stopped"
                  if data.get("partial") else "")
    steps = len(some["points"])
    from_seed_2 = ""
    if seed_2 and not seed_2.get("partial") and 2 not in curves:
        curves[2] = {**seed_2, "points": seed_2["points"][:steps]}
        from_seed_2 = f"; seed 2 is `still_most_budget`'s first {steps} checkpoints"
    text = (f"{title} (`{stage}`: {seed_curves_about(some)}{from_seed_2}){unfinished}:\n\n" + seed_curves_table(curves)
            + "\n\n" + "\n".join(seed_curves_summary(curves)))
    checks = []
    for seed, curve in sorted(curves.items()):
        first = curve["points"][0]
        pair = next((q for q in (sharp or {}).get("points", []) if q["seed"] == seed), None)
        control = next((q for q in (slow or {}).get("points", []) if q["seed"] == seed), None)
        if pair:
            same = (first["engine_bleu"], first["engine_chrf"]) == (pair["engine_bleu"], pair["engine_chrf"])
            checks.append(f"seed {seed}: ENGINE {first['engine_bleu']:.2f} / {first['engine_chrf']:.1f} against "
                          f"`{line}_sharp`'s {pair['engine_bleu']:.2f} / {pair['engine_chrf']:.1f} "
                          f"({'the same run again' if same else 'not the same: the run did not repeat'})"
                          + (f", control {first['control_bleu']:.2f} / {first['control_chrf']:.1f} after "
                             f"{first['control_step']} steps against `{line}_slow`'s {control['control_bleu']:.2f} / "
                             f"{control['control_chrf']:.1f} after {control['control_steps']}" if control else ""))
    if checks:
        text += ("\n\nThe first checkpoints against the 200-step runs of the same start and seed (a wall-time stop is "
                 "not step-exact, so the controls come close rather than repeat): " + "; ".join(checks) + ".")
    if against and (beside := curves_against(curves, seed_curves(against[0] or {}), against[1])):
        text += "\n\n" + beside
    return text + "\n\n" + source(data)


def curves_against(ours: dict[int, dict], theirs: dict[int, dict], stage: str) -> str:
    """Each checkpoint of one curves stage against `stage`'s, over the seeds both ran from the same start, where the two
    differ in `ce_weight`, lr or the lengths the energy is taken at only: does dropping the CE term (or a larger step,
    or training at the predicted lengths) let ENGINE rise further, or hack the energy (lower energy, worse BLEU, more
    repetition)? The controls differ in steps only: pure steps are cheaper, so
    a pure stage's controls get fewer."""
    both = sorted(seed for seed in ours if seed in theirs
                  and ours[seed]["start_sha256"] == theirs[seed]["start_sha256"])
    if not both:
        return ""
    here, there = ours[both[0]], theirs[both[0]]
    differ = [f"{label} {there[key]:g} where this stage has {here[key]:g}"
              for key, label in (("learning_rate", "lr"), ("ce_weight", "`ce_weight`")) if here[key] != there[key]]
    lengths = [curve.get("energy_length", "oracle") for curve in (there, here)]
    if lengths[0] != lengths[1]:
        differ.append("the energy at the {} lengths where this stage takes it at the {} ones".format(
            *("reference" if length == "oracle" else length for length in lengths)))

    def against(at: list[tuple[dict, dict]], key: str, digits: int = 2) -> str:
        """The mean of `key` over the seeds' (ours, theirs) checkpoints, ours against theirs."""
        our_mean, their_mean = (statistics.mean(pair[side][key] for pair in at) for side in (0, 1))
        return f"{our_mean:.{digits}f} against {their_mean:.{digits}f}"

    lines = []
    for i, p in enumerate(here["points"]):
        at = [(ours[seed]["points"][i], theirs[seed]["points"][i]) for seed in both]
        if any(q["engine_step"] != m["engine_step"] for q, m in at):
            break
        lines.append(
            f"- {p['engine_step']} energy steps: this stage - `{stage}` "
            f"{mean_range([q['engine_bleu'] - m['engine_bleu'] for q, m in at], 'BLEU')} / "
            f"{mean_range([q['engine_chrf'] - m['engine_chrf'] for q, m in at], 'chrF', 1)} at one iteration, "
            f"{mean_range([q['engine_bleu_10'] - m['engine_bleu_10'] for q, m in at], 'BLEU')} at ten; teacher energy "
            f"{against(at, 'engine_teacher_energy')}, repetition {against(at, 'engine_repetition')}; the controls "
            f"reached {against(at, 'control_step', 0)} CE steps")
    return (f"Against `{stage}` (the same start, O1 and steps; {' and '.join(differ) or 'the same setting'}), mean "
            f"over {seeds(len(both))} ({', '.join(map(str, both))}):\n\n" + "\n".join(lines))


RISE_LINES = ("still_rebuilt", "still_long", "still_more", "still_most", "still_max", "still_peak")
RISE_CURVES = ("still_most_budget", "still_most_budget_seeds", "still_max_budget", "still_peak_budget")


def rise_stages(prefix: str, suffix: str) -> dict[str, dict | None]:
    """The results `rise_points` reads, by stage name, for one benchmark and scale."""
    return {stage: load(f"{prefix}{stage}{suffix}")
            for stage in (*(f"{line}_{kind}" for line in RISE_LINES for kind in ("sharp", "slow")), *RISE_CURVES)}


def rise_points(stages: dict[str, dict | None]) -> list[dict]:
    """The sharp O1 at lr 1e-5 from each still-encoder start of A, one point per start, seed and step count (200 or
    400): first the 200-step pairs of `<line>_sharp`, each beside `<line>_slow` (CE at ENGINE's lr 1e-5 for its
    wall time) where that ran, then the checkpoints of the seeded curves (each against its own CE run at lr 1e-5
    checkpointed at ENGINE's wall times) that no pair already gave: a curve's 200-step ENGINE repeats its seed's pair."""
    points: dict[tuple[str, int, int], dict] = {}
    for line in RISE_LINES:
        sharp = stages.get(f"{line}_sharp")
        slow = {q["seed"]: q for q in (stages.get(f"{line}_slow") or {}).get("points", [])}
        for q in (sharp or {}).get("points", []):
            start, fair = sharp["starts"][q["start"]], slow.get(q["seed"])
            points[q["start"], sharp["energy_steps"], q["seed"]] = {
                "start": q["start"], "start_bleu": start["bleu"], "start_chrf": start["chrf"],
                **{key: q[key] for key in ("engine_bleu", "engine_chrf", "engine_bleu_10")},
                **({key: fair[key] for key in ("control_bleu", "control_chrf", "control_bleu_10")} if fair else {}),
                "command": sharp["command"], "stage": f"{line}_sharp"}
    for stage in RISE_CURVES:
        for seed, curve in seed_curves(stages.get(stage) or {}).items():
            for q in curve["points"]:
                key = (curve["initialised_from"], q["engine_step"], seed)
                if q["engine_step"] <= 400 and key not in points:
                    points[key] = {"start": key[0], "start_bleu": curve["start"]["bleu"],
                                   "start_chrf": curve["start"]["chrf"],
                                   **{k: q[k] for k in ("engine_bleu", "engine_chrf", "engine_bleu_10", "control_bleu",
                                                        "control_chrf", "control_bleu_10")},
                                   "command": stages[stage]["command"], "stage": stage}
    return [{**point, "steps": steps, "seed": seed} for (_, steps, seed), point in points.items()]


def section_rise_by_start(points: list[dict], plot: str) -> str:
    """`rise_points` by start and step count, weakest start first: does the sharp O1's rise over its start, and its
    edge over CE at its own lr, grow with the start, and how far is it from the issue's +3?"""
    groups: dict[tuple[str, int], list[dict]] = {}
    for point in sorted(points, key=lambda q: (q["start_bleu"], q["steps"], q["seed"])):
        groups.setdefault((point["start"], point["steps"]), []).append(point)

    def gap(group: list[dict], metric: str, minus: str) -> list[float]:
        return [q[f"engine_{metric}"] - q[f"{minus}_{metric}"] for q in group if f"{minus}_{metric}" in q]

    def cell(group: list[dict], minus: str, ten: bool = False) -> str:
        bleu = gap(group, "bleu_10" if ten else "bleu", minus)
        if not bleu:
            return "-"
        chrf = "" if ten else f" / {statistics.mean(gap(group, 'chrf', minus)):+.1f}"
        spread = f"{min(bleu):+.2f} to {max(bleu):+.2f}, " if len(bleu) > 1 else ""
        return (f"{statistics.mean(bleu):+.2f}{chrf}"
                + (f" ({spread}{len(bleu)} of {len(group)} seeds)" if len(group) > 1 else ""))

    rows = [[start, f"{group[0]['start_bleu']:.2f} / {group[0]['start_chrf']:.1f}", steps,
             ", ".join(str(q["seed"]) for q in group),
             f"{statistics.mean(q['engine_bleu'] for q in group):.2f} / "
             f"{statistics.mean(q['engine_chrf'] for q in group):.1f}",
             cell(group, "start"), cell(group, "control"), cell(group, "control", ten=True)]
            for (start, steps), group in groups.items()]
    commands = sorted({q["command"] for q in points})
    return ("**The sharp O1's rise over its start, by start** (A, still encoder: O1 temperature 0.25, lr 1e-5, "
            "`ce_weight` 1; help test set, length beam 3; means over seeds with their range. 200 steps: the "
            "`<line>_sharp` pairs; 400 steps, and 200 from `cmlm_peak_still`: the seeded curves. CE at lr 1e-5 is the "
            "fair control, cross-entropy at ENGINE's own lr for ENGINE's wall time (`<line>_slow` at 200 steps, the "
            "curves' own controls at 400); - where none ran. The issue asks for +3 BLEU over the CMLM at one "
            "iteration):\n\n"
            + table(["start", "start BLEU / chrF (1 it.)", "energy steps", "seeds", "ENGINE, 1 it. (BLEU / chrF)",
                     "ENGINE - start, 1 it.", "ENGINE - CE at lr 1e-5, 1 it.", "ENGINE - CE at lr 1e-5, 10 it. (BLEU)"],
                    rows)
            + f"\n\n![The sharp O1's rise by start]({plot})\n\n"
            + f"*Commands: {', '.join(f'`{c}`' for c in commands)}.*")


def plot_rise_by_start(points: list[dict], name: str) -> None:
    """ENGINE - start and ENGINE - CE at lr 1e-5 (BLEU, one iteration) against the start's BLEU: each seed a small
    marker, the mean over seeds a large one, 200 and 400 energy steps apart; the issue's +3 as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for steps, style, color in ((200, "o", "C0"), (400, "s", "C1")):
        mine = [q for q in points if q["steps"] == steps]
        for ax, minus in zip(axes, ("start", "control"), strict=True):
            have = [q for q in mine if f"{minus}_bleu" in q]
            if not have:
                continue
            ax.plot([q["start_bleu"] for q in have], [q["engine_bleu"] - q[f"{minus}_bleu"] for q in have], style,
                    color=color, alpha=0.35, markersize=4)
            starts = sorted({q["start_bleu"] for q in have})
            means = [statistics.mean(q["engine_bleu"] - q[f"{minus}_bleu"] for q in have if q["start_bleu"] == b)
                     for b in starts]
            ax.plot(starts, means, style + "-", color=color, label=f"{steps} energy steps (mean over seeds)")
    axes[0].axhline(3, color="grey", ls="--", lw=0.8, label="the issue's +3")
    save_gain_axes(fig, axes, "starting CMLM BLEU (help test, 1 it.)",
                   ("ENGINE - start, BLEU", "ENGINE - CE at lr 1e-5, BLEU"), name)


def save_gain_axes(fig: object, axes: list, xlabel: str, ylabels: tuple[str, str], name: str) -> None:
    """The two-panel gain plots' common finish: a zero line, the labels, the legend on the left, saved under docs/."""
    for ax, ylabel in zip(axes, ylabels, strict=True):
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    DOCS.mkdir(exist_ok=True)
    fig.savefig(DOCS / name, dpi=120)


def section_fast(data: dict, slower: dict[int, dict], decay: dict | None) -> str:
    """`still_most_fast`: the sharp O1 at a larger learning rate, one checkpoint per seed against CE at that rate,
    beside the same seed's checkpoint of as many steps at lr 1e-5 (`slower`: seed -> its curve, from
    `still_most_budget_seeds` and `still_most_budget`) and the decaying-lr CE control of the same start and seed
    (`decay`: `still_most_decay`, CE at lr 1e-4 decaying to 0 over the lr-1e-5 pair's wall time)."""
    curves = seed_curves(data)
    some = next(iter(curves.values()), data)
    title = f"**The sharp O1 at lr {some.get('learning_rate', 0):g} from `cmlm_most_still`, over seeds**"
    if not curves:
        return f"{title} (`still_most_fast`): **unfinished**, the stage resumes where it stopped."
    unfinished = (f" — **unfinished: {seeds(len(curves))} so far**, the stage resumes where it stopped"
                  if data.get("partial") else "")
    text = (f"{title} (`still_most_fast`: {seed_curves_about(some)}){unfinished}:\n\n" + seed_curves_table(curves)
            + "\n\n" + "\n".join(seed_curves_summary(curves)))
    lines, faster, over_decay, over_decay_10 = [], [], [], []
    for seed, curve in sorted(curves.items()):
        fast = curve["points"][0]
        slow = next((p for p in slower.get(seed, {}).get("points", []) if p["engine_step"] == fast["engine_step"]), None)
        control = next((p for p in (decay or {}).get("points", []) if p["seed"] == seed), None)
        parts = []
        if slow:
            faster.append(fast["engine_bleu"] - slow["engine_bleu"])
            parts.append(f"at lr {slower[seed]['learning_rate']:g} the same seed's {slow['engine_step']}-step ENGINE "
                         f"scored {curve_scores(slow, 'engine')} at one iteration and "
                         f"{slow['engine_bleu_10']:.2f} / {slow['engine_chrf_10']:.1f} at ten (the larger step: "
                         f"{fast['engine_bleu'] - slow['engine_bleu']:+.2f} / "
                         f"{fast['engine_chrf'] - slow['engine_chrf']:+.1f} and "
                         f"{fast['engine_bleu_10'] - slow['engine_bleu_10']:+.2f} / "
                         f"{fast['engine_chrf_10'] - slow['engine_chrf_10']:+.1f}), its control "
                         f"{slow['control_bleu']:.2f} / {slow['control_chrf']:.1f} after {slow['control_step']} CE steps")
        if control:
            over_decay.append(fast["engine_bleu"] - control["control_bleu"])
            over_decay_10.append(fast["engine_bleu_10"] - control["control_bleu_10"])
            parts.append(f"the decaying-lr control (`still_most_decay`: {control['control_steps']} CE steps in "
                         f"{control['train_seconds']:.0f} s) scored {control['control_bleu']:.2f} / "
                         f"{control['control_chrf']:.1f} and {control['control_bleu_10']:.2f} / "
                         f"{control['control_chrf_10']:.1f}: ENGINE at lr {curve['learning_rate']:g} - it "
                         f"{fast['engine_bleu'] - control['control_bleu']:+.2f} / "
                         f"{fast['engine_chrf'] - control['control_chrf']:+.1f} at one iteration and "
                         f"{fast['engine_bleu_10'] - control['control_bleu_10']:+.2f} / "
                         f"{fast['engine_chrf_10'] - control['control_chrf_10']:+.1f} at ten")
        if parts:
            lines.append(f"- seed {seed}: " + "; ".join(parts))
    if faster:
        lines.append(f"- over {seeds(len(faster))} the larger step moves ENGINE by {mean_range(faster, 'BLEU')} at one "
                     "iteration" + (f"; ENGINE - the decaying-lr control {mean_range(over_decay, 'BLEU')} at one "
                                    f"iteration and {mean_range(over_decay_10, 'BLEU')} at ten" if over_decay else ""))
    if lines:
        text += ("\n\nBeside the same seeds at lr 1e-5 and the strongest CE use of the compute measured from this start "
                 "(CE at lr 1e-4 decaying to 0, for the wall time of the lr-1e-5 pair of the seed):\n\n"
                 + "\n".join(lines))
    return text + "\n\n" + source(data)


def plot_budget(data: dict, name: str) -> None:
    """BLEU, chrF and teacher energy of ENGINE and its control against wall time (the budget stage)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = [0.0] + [p["seconds"] for p in data["points"]]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(11, 3.2))
    for axis, metric, label in ((left, "bleu", "test BLEU (1 it.)"), (middle, "chrf", "test chrF (1 it.)"),
                                (right, "teacher_energy", "teacher energy")):
        for who, style, legend in (("engine", "o-", "ENGINE"), ("control", "s--", "matched-compute CE")):
            values = [data["start"][metric]] + [p[f"{who}_{metric}"] for p in data["points"]]
            axis.plot(seconds, values, style, label=legend)
        axis.set_xlabel("training wall time (s)")
        axis.set_ylabel(label)
    left.legend()
    fig.tight_layout()
    DOCS.mkdir(exist_ok=True)
    fig.savefig(DOCS / name, dpi=120)

def section_unfrozen(data: dict, engine: dict | None, control: dict | None) -> str:
    """ENGINE and its control with the whole student training, beside the frozen-encoder engine/control stages."""
    title = "**Frozen or not: ENGINE and its control with the whole student training**"
    if data.get("partial"):
        return f"{title} (`unfrozen`): **unfinished**, the stage resumes where it stopped."

    def scores(result: dict, iterations: int) -> str:
        s = result[f"{iterations}_iterations"]["libreoffice"]
        return f"{s['bleu']:.2f} / {s['chrf']:.1f} / {s['repetition']:.2f} / {s['teacher_energy']:.2f}"

    runs = []
    if engine and control:
        runs.append(("encoder + tied embeddings frozen (engine, control stages)", engine, engine["steps"], control,
                     control.get("steps")))  # the control stage records its steps since benchmark B
    runs.append(("nothing frozen (unfrozen stage)", data["engine"], data["steps"], data["control"],
                 data["control_steps"]))
    rows = [row for what, e, e_steps, c, c_steps in runs
            for row in ([what, f"ENGINE ({e_steps} energy steps)", scores(e, 1), scores(e, 10)],
                        [what, f"control ({c_steps} CE steps)" if c_steps else "control (CE, same wall time)",
                         scores(c, 1), scores(c, 10)])]
    frozen_time = f", the frozen ones {engine['train_seconds']:.0f} s" if engine and "train_seconds" in engine else ""
    return (f"{title} (`unfrozen`: the engine stage's settings from {data['initialised_from']}; each unfrozen run "
            f"{data['train_seconds']:.0f} s{frozen_time}; help test set, length beam 3; BLEU / chrF / repetition / "
            "teacher energy):\n\n" + table(["what trains", "system", "1 iteration", "10 iterations"], rows))

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


def partial_note(data: dict, expected: int | None = None) -> str:
    """Stages of many short runs write their results after each run; say so while they are unfinished."""
    if not data.get("partial"):
        return ""
    of = f" of {expected}" if expected else ""
    done = len(data.get("rows", data.get("points", [])))
    return f" — **unfinished: {done}{of} rows so far**, the stage resumes where it stopped"


def target_rows(help_bleu: dict[str, float], start: str, greedy: float) -> list[list[str]]:
    """The issue's BLEU targets for one set of students (help BLEU at one iteration by name: the start, cmlm_kd,
    engine, control), as [target, measured, met] rows."""
    def versus(other: str) -> str:  # two decimals and the margin: a 0.02 BLEU "win" must look like one
        return f"{help_bleu['engine']:.2f} vs {help_bleu[other]:.2f} ({help_bleu['engine'] - help_bleu[other]:+.2f})"

    rows = [[f"ENGINE >= CMLM ({start}) + 3 BLEU, 1 iteration", versus(start),
             verdict(help_bleu["engine"] >= help_bleu[start] + 3)]]
    if "cmlm_kd" in help_bleu:
        rows.append(["ENGINE above the distilled CMLM, 1 iteration", versus("cmlm_kd"),
                     verdict(help_bleu["engine"] > help_bleu["cmlm_kd"])])
    if "control" in help_bleu:
        rows.append(["ENGINE above the matched-compute CE control, 1 iteration", versus("control"),
                     verdict(help_bleu["engine"] > help_bleu["control"])])
    share = f" ({100 * help_bleu['engine'] / greedy:.0f}%)" if greedy > 0 else ""
    rows.append([">= 95% of teacher-greedy BLEU", f"{help_bleu['engine']:.1f} vs {greedy:.1f}{share}",
                 verdict(greedy > 0 and help_bleu["engine"] >= 0.95 * greedy)])
    return rows


def still_main_bleu(prefix: str, suffix: str) -> dict[str, float] | None:
    """Help BLEU at one iteration of A's `still_main` students under the main table's names, each at the main
    table's length beam (the CMLM at 5, ENGINE and the control at 3); None until that stage has finished."""
    data = load(f"{prefix}still_main{suffix}") if prefix == "bench_" else None
    if not data or data.get("partial"):
        return None
    beams = {"cmlm_kd": ("cmlm_kd_still", "length beam 5"), "engine": ("engine_still", "length beam 3"),
             "control": ("control_still", "length beam 3")}
    return {name: data["rows"][row][beam]["1_iterations"]["libreoffice"]["bleu"] for name, (row, beam) in beams.items()}


def strongest_rise(points: list[dict]) -> tuple[str, dict[str, float], int, str] | None:
    """The students the targets are also checked on: the sharp O1 from the strongest start that has three or more
    seeds with a fair control, at its most energy steps (`rise_points`), as (label, help BLEU by `target_rows`'s
    names, seeds, the stage that trained them). Chosen by the start and the steps, never by ENGINE's score."""
    groups: dict[tuple[float, int, str], list[dict]] = {}
    for point in points:
        groups.setdefault((point["start_bleu"], point["steps"], point["start"]), []).append(point)
    full = [(key, group) for key, group in groups.items()
            if len(group) >= 3 and all("control_bleu" in point for point in group)]
    if not full:
        return None
    (start_bleu, steps, start), group = max(full, key=lambda item: item[0])
    return (f"`{start}`, sharp O1, {steps} steps, mean of {len(group)} seeds",
            {"cmlm_kd": start_bleu, "engine": statistics.mean(point["engine_bleu"] for point in group),
             "control": statistics.mean(point["control_bleu"] for point in group)}, len(group), group[0]["stage"])


# The settings found after the fact: pure energy at lr 3e-5 from each start, then at the predicted lengths.
FOUND_STAGES = ("still_peak_pure_fast", "still_max_pure_fast", "still_peak_pure_predicted")


def best_found(data: dict | None, stage: str) -> tuple[str, dict[str, float], str, str, int, str] | None:
    """The students of `stage`, a finished curves stage of three or more seeds whose setting was chosen after the
    pre-registered one's results (an exploration, so labelled as one), at its last checkpoint, as `Students`' fields.
    The last checkpoint is fixed by the stage, not picked by test score."""
    curves = seed_curves(data or {})
    if (data or {}).get("partial") or len(curves) < 3:
        return None
    some = next(iter(curves.values()))
    last = [curve["points"][-1] for curve in curves.values()]
    what = "pure energy" if some["ce_weight"] == 0 else f"`ce_weight` {some['ce_weight']:g}"
    what += f" at the {some['energy_length']} lengths" if some.get("energy_length", "oracle") != "oracle" else ""
    return (f"setting found after the fact (`{stage}`: {what}, lr {some['learning_rate']:g}, sharp O1, "
            f"{last[0]['engine_step']} steps from `{some['initialised_from']}`, mean of {len(last)} seeds; its "
            f"control CE at lr {some['control_learning_rate']:g})",
            {"cmlm_kd": some["start"]["bleu"], "engine": statistics.mean(point["engine_bleu"] for point in last),
             "control": statistics.mean(point["control_bleu"] for point in last)}, "cmlm_kd", stage, len(last),
            some["initialised_from"])


class Students(NamedTuple):
    """One set of students the issue's targets are checked on: a targets-table column, a row of the README summary."""

    label: str  # the targets table's column heading
    bleu: dict[str, float]  # help BLEU at one iteration by `target_rows`'s names (the start, cmlm_kd, engine, control)
    start: str  # which of those names is the start
    stage: str  # the stage that trained ENGINE (its results JSON holds the command)
    seeds: int
    initialised_from: str  # the start's model name


def target_students(prefix: str, suffix: str) -> tuple[float, list[Students]] | None:
    """Teacher-greedy help BLEU and the students the issue's targets are checked on, in the targets table's order:
    the benchmark's `engine` stage; on A also `still_main`'s students (the frozen encoder in eval mode), the sharp O1
    from the strongest start (`strongest_rise`) and each setting found after the fact (`FOUND_STAGES`)."""
    teacher, engine = load(f"{prefix}teacher{suffix}"), load(f"{prefix}engine{suffix}")
    if not (teacher and engine):
        return None
    greedy = teacher["greedy"]["libreoffice"]["bleu"]
    help_bleu = {name: load(f"{prefix}{name}{suffix}")["1_iterations"]["libreoffice"]["bleu"]
                 for name in ("cmlm_ref", "cmlm_kd", "engine", "control") if load(f"{prefix}{name}{suffix}")}
    start = engine["initialised_from"]
    students = [Students("measured", help_bleu, start, "engine", 1, start)]
    still = still_main_bleu(prefix, suffix)
    if not (still and start == "cmlm_kd"):
        return greedy, students
    students.append(Students("still encoder (`still_main`)", still, start, "still_main", 1, f"{start}_still"))
    if strongest := strongest_rise(rise_points(rise_stages(prefix, suffix))):
        label, bleu, seeds, stage = strongest
        students.append(Students(f"strongest start ({label}; its start is the CMLM, its control CE at lr 1e-5)", bleu,
                                 "cmlm_kd", stage, seeds, label.split("`")[1]))
        # The setting found after the fact, from each start it was run from (never only the start where it did best).
        for stage in FOUND_STAGES:
            if found := best_found(load(f"{prefix}{stage}{suffix}"), stage):
                students.append(Students(*found))
    return greedy, students


def section_targets(prefix: str, suffix: str) -> str | None:
    """The issue's targets, checked against the numbers (never typed in), one column pair per `target_students`."""
    found = target_students(prefix, suffix)
    if not found:
        return None
    greedy, students = found
    header, rows = ["target"], []
    for students_ in students:
        header += [students_.label, "met"]
        more = target_rows(students_.bleu, students_.start, greedy)
        rows = [row + add[1:] for row, add in zip(rows, more, strict=True)] if rows else more
    # Each full benchmark's speed file measures its own student and teacher on its own test sentences.
    speed_file = {"bench_": "speed", "bench_b_": "speed_b", "bench_short_": "speed_short"}.get(prefix)
    speed = load(speed_file) if speed_file else None
    if speed and not suffix:
        ratio = batch1_ratio(speed)
        row = [">= 5x faster than teacher greedy at batch 1 (CPU)", f"{ratio:.2f}x", verdict(ratio >= 5)]
        if len(students) > 1:  # the still-encoder students are timed in `speed_still` (a newer generate(), another run)
            still_speed = load("speed_still") if prefix == "bench_" else None
            still_ratio = batch1_ratio(still_speed) if still_speed else None
            for _ in students[1:]:  # the strongest start's students have the same architecture too
                row += ([f"{still_ratio:.2f}x (`speed_still`)", verdict(still_ratio >= 5)] if still_ratio
                        else ["(same architecture)", "-"])
        rows.append(row)
    seeds_said = "one seed" + (", the strongest start's columns a mean over seeds" if len(students) > 2 else "")
    return f"**Targets (this benchmark's help test set; {seeds_said}):**\n\n" + table(header, rows)


def batch1_ratio(speed: dict) -> float:
    """A speed file's batch-1 ratio to teacher greedy for one parallel pass with one length candidate."""
    batch1 = speed["results"]["batch_1"]
    return batch1[next(k for k in batch1 if k.startswith("NAT 1 iteration, length beam 1") and "nn.Linear" not in k)][
        "speedup_vs_teacher_greedy"]


def verdict(met: bool) -> str:
    return "yes" if met else "**no**"


def section_setup(prefix: str, suffix: str) -> str | None:
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
            "embeddings, which the decoder input and output layer share). Seed 0 everywhere.")
    systems = [k for k in data["examples"][0] if k not in ("source", "reference")]
    examples = []
    for row in data["examples"]:
        examples.append(f"- **source:** {row['source']}\n  - reference: {row['reference']}")
        examples += [f"  - {name}: {row[name]}" for name in systems]
    return text + "\n\n**Example translations** (help test set):\n\n" + "\n".join(examples)


def plot_name(prefix: str, suffix: str, kind: str = "engine_gain") -> str:
    """docs/ file of a benchmark's plot: e.g. engine_gain.png (A), engine_gain_b.png (B), engine_gain_short.png,
    `_quick` for the slices."""
    benchmark = prefix.removeprefix("bench_").rstrip("_")
    return f"{kind}{'_' + benchmark if benchmark else ''}{suffix}.png"


def plot_teacher_curve(sessions: list[dict]) -> None:
    """docs/teacher_de_en_curve.png: the DE->EN teacher's test BLEU after each training session, against the aim."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = curve_points(sessions)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, label, style in (("greedy_bleu", "greedy", "o-"), ("beam4_bleu", "beam 4", "s--")):
        ax.plot([p["steps"] for p in points], [p[key] for p in points], style, label=label)
    ax.axhline(30, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("training steps")
    ax.set_ylabel("test BLEU (LibreOffice help)")
    ax.legend()
    fig.tight_layout()
    DOCS.mkdir(exist_ok=True)
    fig.savefig(DOCS / "teacher_de_en_curve.png", dpi=120)


def plot_gain(gain: dict, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(gain["points"], key=lambda p: p["start_bleu"])
    start = [p["start_bleu"] for p in points]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(start, [p["engine_bleu"] - p["start_bleu"] for p in points], "o-", label="ENGINE")
    ax.plot(start, [p["control_bleu"] - p["start_bleu"] for p in points], "s--", label="matched-compute CE")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("starting CMLM BLEU")
    ax.set_ylabel("BLEU change")
    ax.legend()
    fig.tight_layout()
    DOCS.mkdir(exist_ok=True)
    fig.savefig(DOCS / name, dpi=120)


# The benchmarks whose `gain` stage trains ENGINE and its control from CMLMs of several strengths, weakest first.
GAIN_BENCHMARKS = ("bench_", "bench_short_", "bench_labels_")
GAIN_NAMES = {"bench_": "A (all help segments)", "bench_short_": "short (<= 8 words)",
              "bench_labels_": "labels (<= 4 words)"}


STILL_NAMES = {"bench_": "A, still encoder", "bench_labels_": "labels, still encoder"}


def still_gain_points(prefix: str) -> tuple[list[dict], str] | None:
    """Gain points from students trained with the frozen encoder in eval mode (the flaw found late): A's
    `still_main` (one start, one seed) and labels' `still_confirm` (one start, a point per seed), in the shape of
    `gain`'s points, with the command that wrote them."""
    if prefix == "bench_" and (data := load("bench_still_main")) and not data.get("partial"):
        rows = data["rows"]
        start, engine, control = (rows[name]["length beam 3"] for name in ("cmlm_kd_still", "engine_still",
                                                                           "control_still"))
        point = {"checkpoint": "cmlm_kd_still"}
        for who, row in (("start", start), ("engine", engine), ("control", control)):
            for n, suffix in ((1, ""), (10, "_10")):
                for metric in ("bleu", "chrf"):
                    point[f"{who}_{metric}{suffix}"] = row[f"{n}_iterations"]["libreoffice"][metric]
        points, commands = [point], [data["command"]]
        for stage in ("still_seeds", "still_long_seeds", "still_rebuilt"):  # finished pairs, also of a stage running
            if more := load(f"bench_{stage}"):
                points += confirm_gain_points(more)
                commands.append(more["command"])
        return points, "; ".join(commands)
    if prefix == "bench_labels_" and (data := load("bench_labels_still_confirm")) and not data.get("partial"):
        return confirm_gain_points(data), data["command"]
    return None


def confirm_gain_points(data: dict) -> list[dict]:
    """A `matched_seeds` stage's pairs in the shape of `gain`'s points, one per start and seed."""
    return [{**p, "checkpoint": f"{p['start']}, seed {p['seed']}", "start_bleu": data["starts"][p["start"]]["bleu"],
             "start_chrf": data["starts"][p["start"]]["chrf"]} for p in data["points"]]


def gain_points_all() -> list[dict]:
    """Every full-budget gain point of every benchmark, with its benchmark's name, weakest start first; the
    still-encoder points under their own names."""
    points = []
    for prefix in GAIN_BENCHMARKS:
        teacher = load(f"{prefix}teacher")
        if not teacher:
            continue
        teacher_bleu = teacher["greedy"]["libreoffice"]["bleu"]
        found = []
        if gain := load(f"{prefix}gain"):
            found.append((GAIN_NAMES[prefix], gain["points"], gain["command"]))
        if still := still_gain_points(prefix):
            found.append((STILL_NAMES[prefix], *still))
        points += [{**p, "benchmark": name, "command": command, "start_share": p["start_bleu"] / teacher_bleu,
                    "teacher_bleu": teacher_bleu} for name, mine, command in found for p in mine]
    return sorted(points, key=lambda p: p["start_share"])


def refined_gap(point: dict) -> str:
    """ENGINE minus control at 10 iterations (BLEU / chrF) for a gain or confirm point that has those scores."""
    if "engine_bleu_10" not in point:
        return "-"
    return (f"{point['engine_bleu_10'] - point['control_bleu_10']:+.2f} / "
            f"{point['engine_chrf_10'] - point['control_chrf_10']:+.1f}")


def section_gain_all() -> str | None:
    """The issue's plot in one place: ENGINE minus its matched control against the start, over all benchmarks.

    Each benchmark scores its own test slice, and BLEU on segments of a few words is low for every system (few
    4-grams), so the start is put on one scale as a share of the teacher's greedy BLEU on the same slice: "how close
    to its teacher the student was when energy training began" (the paper's CMLM: 28.1 / 33.0 = 85%).
    """
    points = gain_points_all()
    if not points:
        return None
    rows = [[p["benchmark"], p["checkpoint"], f"{p['start_bleu']:.2f} / {p['start_chrf']:.1f}",
             f"{p['start_share']:.0%} of {p['teacher_bleu']:.1f}",
             f"{p['engine_bleu'] - p['start_bleu']:+.2f} / {p['engine_chrf'] - p['start_chrf']:+.1f}",
             f"{p['control_bleu'] - p['start_bleu']:+.2f} / {p['control_chrf'] - p['start_chrf']:+.1f}",
             f"**{p['engine_bleu'] - p['control_bleu']:+.2f} / {p['engine_chrf'] - p['control_chrf']:+.1f}**",
             refined_gap(p)]
            for p in points]
    commands = sorted({p["command"] for p in points})
    return ("### ENGINE gain against the starting CMLM, all benchmarks\n\n"
            "Each point: ENGINE (the `engine` stage's settings) and a control (cross-entropy for ENGINE's wall time) "
            "from the same CMLM checkpoint, scored on that benchmark's help test slice (1 iteration, length beam 3), "
            "weakest start first, the start measured against the teacher's greedy BLEU on the same slice (BLEU of "
            "segments of a few words is low for every system; the paper's CMLM started at 28.1 / 33.0 = 85%). "
            "Differences in BLEU / chrF; ENGINE - control is the gain the issue asks for. The last column is the same "
            "runs at 10 iterations (recorded since the labels benchmark; - where not). Rows named \"still encoder\" "
            "come from students trained with the frozen encoder in eval mode (A's `still_main` as seed 0, "
            "`still_seeds`, `still_long_seeds` and `still_rebuilt`; labels' `still_confirm`; a row per seed); the others from the earlier students, trained with dropout in it.\n\n"
            + table(["benchmark", "start CMLM", "start BLEU / chrF", "start / teacher greedy BLEU", "ENGINE - start",
                     "control - start",
                     "ENGINE - control", "ENGINE - control, 10 it."], rows)
            + "\n\n![ENGINE gain, all benchmarks](engine_gain_all.png)\n\n"
            + f"*Commands: {', '.join(f'`{c}`' for c in commands)}.*")


def plot_gain_all(points: list[dict]) -> None:
    """docs/engine_gain_all.png: ENGINE minus control (BLEU and chrF) against the start's share of the teacher's
    BLEU, one marker per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    styles = {**dict(zip(GAIN_NAMES.values(), ("o-", "s-", "^-"), strict=True)),
              **dict(zip(STILL_NAMES.values(), ("D", "v"), strict=True))}  # still-encoder points: no line, other starts
    for name, style in styles.items():
        mine = [p for p in points if p["benchmark"] == name]
        if not mine:
            continue
        for ax, metric in zip(axes, ("bleu", "chrf"), strict=True):
            ax.plot([100 * p["start_share"] for p in mine],
                    [p[f"engine_{metric}"] - p[f"control_{metric}"] for p in mine], style, label=name)
    save_gain_axes(fig, axes, "starting CMLM BLEU, % of teacher greedy BLEU",
                   ("ENGINE - control, BLEU", "ENGINE - control, chrF"), "engine_gain_all.png")


def section_speed(name: str = "speed", title: str = "Decoding speed (CPU)") -> str | None:
    data = load(name)
    if not data:
        return None
    rows = []
    for batch, systems in data["results"].items():
        for name, r in systems.items():
            rows.append([batch.replace("_", " "), name, f"{1000 * r['seconds_per_sentence']:.1f}",
                         f"{r['sentences_per_second']:.1f}", f"{r['speedup_vs_teacher_greedy']:.2f}x",
                         f"{r['mean_output_tokens']:.1f}" if "mean_output_tokens" in r else "-"])
    header = ["batch", "system", "ms/sentence", "sentences/s", "vs teacher greedy", "output tokens/sentence"]
    text = f"### {title}\n\n" + table(header, rows)
    if "batch1_components_ms" in data:
        parts = ", ".join(f"{name} {ms:.1f} ms" for name, ms in data["batch1_components_ms"].items())
        text += (f"\n\nBatch-1 parts: {parts}. The encoders are per sentence; a sentence pays one teacher step per "
                 "output token (plus `</s>`), and one parallel pass per iteration and length candidate.")
    if "batch1_shortlist" in data:
        shortlist = data["batch1_shortlist"]
        rows = [[name, f"{1000 * r['seconds_per_sentence']:.1f}", f"{r['speedup_vs_teacher_greedy']:.2f}x",
                 f"{r['unchanged_outputs']:.0%}"] for name, r in shortlist["results"].items()]
        text += (f"\n\nBatch 1 with both output layers restricted to a shortlist of {shortlist['shortlist_ids']} of "
                 f"{shortlist['vocabulary']} ids (those the systems emit on these sentences, a stand-in for a lexical "
                 "shortlist), same run:\n\n"
                 + table(["system", "ms/sentence", "vs teacher greedy (shortlisted)", "outputs unchanged"], rows))
    return text + "\n\n" + source(data)


def section_train_step() -> str | None:
    data = load("train_step")
    if not data:
        return None
    profiled = all("profile" in r for r in data["results"].values())
    rows = [[name, f"{r['seconds_per_step']:.2f}", f"{r['target_tokens_per_second']:.0f}", f"{r['peak_rss_mb_after']:.0f}",
             f"{100 * r['profile']['matmul_share']:.0f}%" if profiled else "-"]
            for name, r in data["results"].items()]
    text = ("### Training-step cost: energy vs cross-entropy\n\n"
            + table(["step", "s/step", "target tokens/s", "peak RSS after (MB)", "matrix products (profiled)"], rows)
            + f"\n\nEnergy step / cross-entropy step = **{data['energy_over_cross_entropy']:.2f}x** "
            f"(goal <= 2x; batch of {data['batch_sentences']} sentences, {data['batch_target_tokens']} target tokens).")
    if profiled:
        text += (f" The matrix products alone cost {data['matmul_energy_over_cross_entropy']:.2f}x: "
                 "a floor that only a change of method or of precision would lower.")
    return text + "\n\n" + source(data)


TIMED_KEYS = ("train_seconds", "control_train_seconds", "seconds", "control_seconds")


def recorded_seconds(data: dict) -> float:
    """The training and distillation wall time a stage's results JSON records (evaluation is never timed). A compute
    curve's checkpoint times are cumulative, so it counts ENGINE's last one and its control's total."""
    if "engine_seconds_at" in data:
        return max(map(float, data["engine_seconds_at"].values())) + data.get("control_seconds", 0.0)

    def timed(value) -> float:
        if isinstance(value, dict):
            return sum(v if k in TIMED_KEYS and isinstance(v, int | float) else timed(v) for k, v in value.items())
        return sum(timed(v) for v in value) if isinstance(value, list) else 0.0

    return timed(data)


def section_compute() -> str | None:
    """How long `make bench` has taken here, summed from what the results record."""
    benchmarks = {"bench_": "A", "bench_short_": "A on short segments", "bench_labels_": "A on labels", "bench_b_": "B"}
    seconds: dict[str, dict[str, float]] = {prefix: {} for prefix in benchmarks}
    for path in sorted(RESULTS.glob("bench_*.json")):
        if not path.stem.endswith("_quick"):
            prefix = max((p for p in benchmarks if path.stem.startswith(p)), key=len)
            seconds[prefix][path.stem.removeprefix(prefix)] = recorded_seconds(json.loads(path.read_text()))
    rows = []
    for prefix, name in benchmarks.items():
        still = [stage for stage in seconds[prefix] if stage.startswith("still_") or stage == "distill_all"]
        rest = [stage for stage in seconds[prefix] if stage not in still]
        groups = [(f"{name}, the still-encoder line (`still_*`, `distill_all`)", still), (f"{name}, the rest", rest)]
        for label, group in groups if still else [(name, rest)]:
            timed = [stage for stage in group if seconds[prefix][stage] > 0]
            if timed:
                longest = max(timed, key=seconds[prefix].get)
                rows.append([label, f"{len(timed)} of {len(group)}", f"{sum(seconds[prefix][s] for s in group) / 3600:.2f}",
                             f"`{longest}` ({seconds[prefix][longest] / 3600:.2f} h)"])
    if not rows:
        return None
    return ("### Recorded compute of `make bench`\n\n"
            + table(["benchmark", "stages that time their training", "hours recorded", "longest stage"], rows)
            + "\n\nSummed from `train_seconds`, `control_train_seconds`, `seconds` and `control_seconds` in "
            "`results/bench_*.json` (`--quick` slices left out): training and distillation wall time on the hardware "
            "each JSON names. Evaluation is not timed, nor are the stages that only score (`gain`, `table2`, "
            "`lengths`, `examples`, ...), so each total is a floor. B's teacher trained separately "
            "(`results/teacher_de_en.json`). Regenerated with `python scripts/make_tables.py`.")

def summary_rows(prefix: str, name: str) -> list[list[str]]:
    """One README summary row per `target_students` of a benchmark (full budget): ENGINE at one iteration against its
    start, the rise's 95% interval over the whole test split where `significance` measured it, the matched CE control
    and teacher greedy, and the command of the stage that trained it."""
    found = target_students(prefix, "")
    if not found:
        return []
    greedy, students = found
    significance = load(f"{prefix}significance") or {}
    rows = []
    for who in students:
        bleu, stage = who.bleu, load(f"{prefix}{who.stage}")
        rise = bleu["engine"] - bleu[who.start]
        whole = significance.get("means", {}).get(who.stage, {}).get("slices", {}).get("all")
        interval = whole["engine_vs_start"]["bleu"] if whole else None
        rows.append([f"{name}: `{who.stage}` from `{who.initialised_from}`", who.seeds, f"{bleu['engine']:.2f}",
                     f"{bleu[who.start]:.2f}", verdict(rise > 0), f"{rise:+.2f} ({verdict(rise >= 3)})",
                     f"{interval['difference']:+.2f} [{interval['low']:+.2f}, {interval['high']:+.2f}]" if interval
                     else "-", f"{bleu['engine'] - bleu['control']:+.2f}" if "control" in bleu else "-",
                     f"{100 * bleu['engine'] / greedy:.0f}% of {greedy:.2f} ({verdict(bleu['engine'] >= 0.95 * greedy)})",
                     f"`{stage['command']}`"])
    return rows


def render_summary() -> str:
    """The README's results summary: the issue's targets for every set of students the targets table checks, one
    row each, then the speed target; the full tables are docs/RESULTS.md's."""
    rows = summary_rows("bench_", "A") + summary_rows("bench_b_", "B")
    if not rows:
        return "(no results yet: run `make bench`, then `python scripts/make_tables.py`)"
    significance = load("bench_significance")
    whole = (f"rise over all {significance['sentences']['all']} test sentences, mean over seeds "
             "[95% interval] (`python scripts/bench.py --stages significance`)") if significance else "rise, whole split"
    text = ("**The issue's targets** (help test set, first 200 pairs; ENGINE and its control at one iteration, length "
            "beam 3; several seeds: their mean):\n\n"
            + table(["students", "seeds", "ENGINE BLEU", "start BLEU (a CMLM trained on distilled outputs)",
                     "ENGINE above its start", "rise (target >= +3)", whole,
                     "ENGINE - CE control at matched compute", "share of teacher greedy (target >= 95%)",
                     "command"], rows))
    speed = load("speed_still")
    if speed:
        ratio = batch1_ratio(speed)
        text += (f"\n\nSpeed (target: one parallel pass >= 5x faster than teacher greedy at batch 1 on CPU): "
                 f"**{ratio:.2f}x** ({verdict(ratio >= 5)}), A's still-encoder ENGINE against its teacher on the same "
                 f"sentences and threads, median of {speed['repeats']} repeats ({speed['hardware']}): "
                 f"`{speed['command']}`.")
    return text + "\n\nRegenerated from `results/*.json` by `python scripts/make_tables.py`."


def render() -> str:
    """docs/RESULTS.md's tables and plots, from results/*.json alone (no side effects)."""
    sections = [section_demo(), section_fidelity(), section_teacher_de_en(),
                section_bench("bench_", "", "Benchmark A: EN->PT, Firefox Translations teacher (full budget)"),
                section_bench("bench_", "_quick", "Benchmark A, `--quick` slice (pipeline check, not a result)"),
                section_bench("bench_short_", "", "Benchmark A on short segments: EN->PT help pairs whose reference "
                              "has at most 8 words (a stronger CMLM start; its own test slice)"),
                section_bench("bench_short_", "_quick", "Benchmark A on short segments, `--quick` slice (pipeline "
                              "check, not a result)"),
                section_bench("bench_labels_", "", "Benchmark A on labels: EN->PT help pairs whose reference has at "
                              "most 4 words (a stronger CMLM start still; its own test slice)"),
                section_bench("bench_labels_", "_quick", "Benchmark A on labels, `--quick` slice (pipeline check, not a "
                              "result)"),
                section_gain_all(),
                section_bench("bench_b_", "", "Benchmark B: DE->EN, the MarianMT teacher trained here (full budget)"),
                section_bench("bench_b_", "_quick", "Benchmark B, `--quick` slice (pipeline check, not a result)"),
                section_speed(),
                section_speed("speed_still", "Decoding speed, A's still-encoder ENGINE (CPU; `still_rebuilt`'s seed-2 "
                              "ENGINE, measured with the current `generate()`)"),
                section_speed("speed_b", "Decoding speed, benchmark B (CPU)"),
                section_speed("speed_short", "Decoding speed, short segments (CPU; the short benchmark's ENGINE and "
                              "teacher on its test slice)"),
                section_speed("speed_labels", "Decoding speed, labels (CPU; the labels benchmark's cmlm_long and "
                              "teacher on its test slice, with teacher rescoring)"),
                section_speed("speed_demo", "Decoding speed, help sentences with teacher rescoring (CPU; `make demo`'s "
                              "ENGINE and teacher, run after it)"), section_train_step(), section_compute()]
    body = "\n\n".join(s for s in sections if s)
    return contents(body) + "\n\n" + body if body else "(no results yet)"


def contents(body: str) -> str:
    """A linked list of `body`'s `###` sections, with the anchors GitHub gives their headings (lower case, spaces to
    hyphens, other punctuation dropped; a repeated heading gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    lines = []
    for heading in re.findall(r"^### (.+)$", body, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor = slug + (f"-{seen[slug]}" if seen.get(slug) else "")
        seen[slug] = seen.get(slug, 0) + 1
        lines.append(f"- [{heading}](#{anchor})")
    return "**Sections:**\n\n" + "\n".join(lines)


def region(text: str, name: str) -> str:
    """What stands between a document's `<!-- name:start -->` and `<!-- name:end -->` markers."""
    return re.search(rf"<!-- {name}:start -->\n(.*)\n<!-- {name}:end -->", text, flags=re.S).group(1)


def write_region(path: Path, name: str, body: str) -> None:
    """Replace what stands between `path`'s `name` markers with `body`; the hand-written text around it stays."""
    text = path.read_text(encoding="utf-8")
    if f"<!-- {name}:start -->" not in text:
        raise SystemExit(f"{path} has no `<!-- {name}:start -->` / `<!-- {name}:end -->` markers to write between")
    path.write_text(re.sub(rf"<!-- {name}:start -->.*<!-- {name}:end -->",
                           lambda _: f"<!-- {name}:start -->\n{body}\n<!-- {name}:end -->", text, flags=re.S),
                    encoding="utf-8")


def main() -> int:
    if gain_points_all():
        plot_gain_all(gain_points_all())
    for prefix in GAIN_BENCHMARKS + ("bench_b_",):
        for suffix in ("", "_quick"):
            gain = load(f"{prefix}gain{suffix}")
            if gain:
                plot_gain(gain, plot_name(prefix, suffix))
            for stage in ("budget", "still_budget", "still_most_budget", "still_most_fast_budget", "still_max_long",
                          "still_peak_pure_faster", "still_peak_pure_long"):
                budget = load(f"{prefix}{stage}{suffix}")
                if budget and not budget.get("partial"):
                    plot_budget(budget, plot_name(prefix, suffix, f"engine_{stage}"))
            if rise := rise_points(rise_stages(prefix, suffix)):
                plot_rise_by_start(rise, plot_name(prefix, suffix, "engine_rise_by_start"))
    teacher = load("teacher_de_en")
    if teacher and curve_points(teacher.get("training", {}).get("sessions", [])):
        plot_teacher_curve(teacher["training"]["sessions"])
    body = render()
    write_region(RESULTS_DOC, "results", body)
    write_region(README, "summary", render_summary())
    print(f"{RESULTS_DOC.relative_to(ROOT)}: {body.count('### ')} sections; README: the summary table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
